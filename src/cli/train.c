/* attend train: fit a classifier on labelled text. */
#define _POSIX_C_SOURCE 200809L /* fileno, isatty */
#include "cli.h"
#include "viz/explain.h"
#include "viz/report.h"
#include "train/train.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void train_usage(FILE *f, const attend_train_options *d) {
    const attend_model_config *m = &d->model;
    fprintf(f,
            "usage: attend train --data FILE --out MODEL.safetensors [options]\n"
            "\n"
            "Trains a transformer-encoder text classifier and saves the best model (by\n"
            "validation loss) to --out. One line per epoch on stdout; a progress bar on\n"
            "stderr when it is a terminal.\n"
            "\n"
            "data:\n"
            "  --data FILE          labelled text: .tsv (label<TAB>text), .csv (header),\n"
            "                       .txt/.ft (fastText __label__X text), .jsonl\n"
            "  --format NAME        tsv | csv | fasttext | jsonl (default: by extension)\n"
            "  --text-col NAME      CSV column / JSONL key of the text (default text)\n"
            "  --label-col NAME     CSV column / JSONL key of the label (default label)\n"
            "  --strict             stop at the first malformed record (default: skip it)\n"
            "  --val FILE           validation data (default: split it off --data)\n"
            "  --val-split FRAC     stratified validation fraction (default %g; 0 = none)\n"
            "  --val-out FILE       write the validation examples as TSV (for attend eval)\n"
            "  --min-freq N         keep tokens seen at least N times (default %zu)\n"
            "  --max-vocab N        keep at most N tokens (default 0 = all)\n"
            "model:\n"
            "  --d-model N          embedding width (default %zu)\n"
            "  --heads N            attention heads (default %zu)\n"
            "  --layers N           encoder layers (default %zu)\n"
            "  --d-ff N             feed-forward width (default %zu)\n"
            "  --max-len N          tokens per text, longer texts are cut (default %zu)\n"
            "  --pos KIND           learned | sinusoidal | none (default learned)\n"
            "  --pool KIND          mean | cls | max (default mean)\n"
            "  --head-hidden LIST   hidden layers before the output, e.g. 256,128 (default none)\n"
            "  --activation NAME    relu | gelu (default relu)\n"
            "  --norm-first         pre-norm layers (default post-norm)\n"
            "  --dropout P          (default %g)\n"
            "training:\n"
            "  --epochs N           (default %zu)\n"
            "  --batch N            (default %zu)\n"
            "  --lr X               peak learning rate of AdamW (default %g)\n"
            "  --warmup FRAC        linear warmup over this fraction of steps, then cosine\n"
            "                       decay (default %g)\n"
            "  --weight-decay X     AdamW decay; never on biases, norms, embeddings (default %g)\n"
            "  --clip X             gradient-norm clipping (default %g; 0 = off)\n"
            "  --label-smoothing X  (default 0)\n"
            "  --class-weights KIND none | auto (inverse frequency) (default none)\n"
            "  --patience N         stop after N epochs without a better val loss (default 0 = off)\n"
            "  --seed N             (default %llu); same seed and threads = same run\n"
            "  --threads N          (default 0 = all cores)\n"
            "  --precision P        fp32 (default) or bf16: the projection and feed-forward\n"
            "                       matmuls round their inputs to bfloat16 and sum in fp32;\n"
            "                       about 2x their speed on CPUs with AVX512-BF16, weights\n"
            "                       and optimizer stay fp32; recorded in the provenance\n"
            "  --log FILE           append one JSON object per epoch\n"
            "  --report DIR         when done, write DIR/index.html: curves, positional\n"
            "                       encodings, confusion matrix, attention maps, per-head\n"
            "                       diagnostics (validation data: --val, else the split,\n"
            "                       saved as DIR/val.tsv unless --val-out is given)\n"
            "  --checkpoint FILE    resumable state, written after every epoch and on\n"
            "                       SIGINT/SIGTERM (default MODEL.ckpt, removed on success)\n"
            "  --checkpoint-every N also every N steps (default 0 = epochs only)\n"
            "  --resume FILE        continue from a checkpoint: same data and flags give\n"
            "                       the same result as a run that was never stopped\n"
            "\n"
            "Example: attend train --data data/wordnet-nouns.tsv --val-split 0.2 --out wordnet.safetensors\n",
            d->val_split, d->min_freq, m->d_model, m->nhead, m->num_layers, m->dim_feedforward,
            m->max_len, (double)m->dropout, d->epochs, d->batch, (double)d->lr,
            (double)d->warmup, (double)d->weight_decay, (double)d->clip,
            (unsigned long long)d->seed);
}

typedef struct {
    FILE *log;
    int tty;
    int bar_shown;
    /* --report: every epoch's metrics and the positional table at init */
    int report;
    attend_epoch_report *epochs;
    size_t n_epochs, cap_epochs;
    float *pos_init;
    int nomem;
} train_ui;

static void on_init(void *ctx, const attend_model *m) {
    train_ui *ui = ctx;
    const attend_model_config *c = attend_model_get_config(m);
    const float *pos = attend_model_pos_table(m);
    if (!ui->report || c->pos != ATTEND_POS_LEARNED || !pos) return;
    if (!(ui->pos_init = malloc(c->max_len * c->d_model * sizeof(float)))) {
        ui->nomem = 1;
        return;
    }
    memcpy(ui->pos_init, pos, c->max_len * c->d_model * sizeof(float));
}

static void on_info(void *ctx, const char *msg) {
    (void)ctx;
    fprintf(stderr, "attend: %s\n", msg);
}

static void on_progress(void *ctx, size_t done, size_t total, double tps, double eta) {
    train_ui *ui = ctx;
    if (!ui->tty) return;
    int width = 30, filled = (int)((double)width * (double)done / (double)total);
    fprintf(stderr, "\r  [%.*s%*s] %zu/%zu batches  %.0f tok/s  ETA %.0f s ", filled,
            "##############################", width - filled, "", done, total, tps, eta);
    ui->bar_shown = 1;
}

static void on_epoch(void *ctx, const attend_epoch_report *r) {
    train_ui *ui = ctx;
    if (ui->report) {
        if (ui->n_epochs == ui->cap_epochs) {
            size_t cap = ui->cap_epochs ? 2 * ui->cap_epochs : 16;
            attend_epoch_report *p = realloc(ui->epochs, cap * sizeof *p);
            if (p) {
                ui->epochs = p;
                ui->cap_epochs = cap;
            }
        }
        if (ui->n_epochs < ui->cap_epochs) ui->epochs[ui->n_epochs++] = *r;
        else ui->nomem = 1;
    }
    if (ui->bar_shown) {
        fprintf(stderr, "\r%*s\r", 100, "");
        ui->bar_shown = 0;
    }
    if (r->has_val)
        printf("epoch %zu/%zu  train loss %.4f  val loss %.4f  val acc %.2f%%  macro-F1 %.4f  %.1f s%s\n",
               r->epoch, r->epochs, r->train_loss, r->val_loss, 100.0 * r->val_accuracy,
               r->val_macro_f1, r->seconds, r->improved ? "  (saved)" : "");
    else
        printf("epoch %zu/%zu  train loss %.4f  %.1f s  (saved)\n", r->epoch, r->epochs,
               r->train_loss, r->seconds);
    fflush(stdout);
    if (ui->log) {
        char val[160] = "\"val_loss\":null,\"val_accuracy\":null,\"val_macro_f1\":null";
        if (r->has_val)
            snprintf(val, sizeof val, "\"val_loss\":%.6g,\"val_accuracy\":%.6g,\"val_macro_f1\":%.6g",
                     r->val_loss, r->val_accuracy, r->val_macro_f1);
        fprintf(ui->log,
                "{\"epoch\":%zu,\"step\":%zu,\"train_loss\":%.6g,%s,\"lr\":%.6g,\"seconds\":%.3f,"
                "\"tokens_per_s\":%.1f,\"saved\":%s}\n",
                r->epoch, r->step, r->train_loss, val, r->lr, r->seconds, r->tokens_per_s,
                r->improved ? "true" : "false");
        fflush(ui->log);
    }
}

static volatile sig_atomic_t stop_requested = 0, stop_signal = 0;

static void on_signal(int sig) {
    stop_signal = sig;
    stop_requested = 1;
}

/* Can a file be created beside path? (Saving writes a temp file there and
 * renames it.) Prints the reason and returns -1 when not. */
static int probe_writable(const char *path) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.attend-probe.%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        fprintf(stderr, "attend: cannot write %s: directory %s: %s\n", path, dir, strerror(errno));
        return -1;
    }
    close(fd);
    unlink(probe);
    return 0;
}

int cli_train(int argc, char **argv) {
    attend_train_options o;
    attend_train_options_default(&o);
    const char *log_path = NULL, *report_dir = NULL, *v = NULL;
    size_t threads = 0;
    int explicit_ckpt = 0;
    attend_model_config *m = &o.model;
    for (int i = 1; i < argc; i++) {
        int r = cli_data_flag("train", argc, argv, &i, &o.data);
        if (r == 0) r = cli_training_flag("train", argc, argv, &i, &o, &threads);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            train_usage(stdout, &o);
            return CLI_OK;
        }
        if (cli_flag(argc, argv, &i, "--data", &v)) {
            if (!(o.data_path = v)) return cli_usage_error("train", "--data needs a file");
        } else if (cli_flag(argc, argv, &i, "--val", &v)) {
            if (!(o.val_path = v)) return cli_usage_error("train", "--val needs a file");
        } else if (cli_flag(argc, argv, &i, "--out", &v)) {
            if (!(o.out_path = v)) return cli_usage_error("train", "--out needs a file");
        } else if (cli_flag(argc, argv, &i, "--val-out", &v)) {
            if (!(o.val_out_path = v)) return cli_usage_error("train", "--val-out needs a file");
        } else if (cli_flag(argc, argv, &i, "--checkpoint", &v)) {
            if (!(o.checkpoint_path = v)) return cli_usage_error("train", "--checkpoint needs a file");
            explicit_ckpt = 1;
        } else if (cli_flag(argc, argv, &i, "--resume", &v)) {
            if (!(o.resume_path = v)) return cli_usage_error("train", "--resume needs a file");
        } else if (cli_flag(argc, argv, &i, "--log", &v)) {
            if (!(log_path = v)) return cli_usage_error("train", "--log needs a file");
        } else if (cli_flag(argc, argv, &i, "--report", &v)) {
            if (!(report_dir = v)) return cli_usage_error("train", "--report needs a directory");
        } else if (cli_flag(argc, argv, &i, "--val-split", &v)) {
            float f;
            if (cli_parse_float("train", "--val-split", v, 0.0, 0.9, &f)) return CLI_USAGE;
            o.val_split = f;
        } else if (cli_flag(argc, argv, &i, "--heads", &v)) {
            if (cli_parse_size("train", "--heads", v, 1, 16384, &m->nhead)) return CLI_USAGE;
        } else if (cli_flag(argc, argv, &i, "--checkpoint-every", &v)) {
            if (cli_parse_size("train", "--checkpoint-every", v, 0, SIZE_MAX, &o.checkpoint_every))
                return CLI_USAGE;
        } else if (cli_flag(argc, argv, &i, "--pos", &v)) {
            if (v && !strcmp(v, "learned")) m->pos = ATTEND_POS_LEARNED;
            else if (v && !strcmp(v, "sinusoidal")) m->pos = ATTEND_POS_SINUSOIDAL;
            else if (v && !strcmp(v, "none")) m->pos = ATTEND_POS_NONE;
            else return cli_usage_error("train", "--pos expects learned, sinusoidal or none");
        } else {
            return cli_usage_error("train", "unknown option '%s'", argv[i]);
        }
    }
    if (!o.data_path || !o.out_path)
        return cli_usage_error("train", "train needs --data FILE and --out MODEL");
    if (m->d_model % m->nhead != 0)
        return cli_usage_error("train", "--d-model %zu is not divisible by --heads %zu", m->d_model,
                               m->nhead);
    if (cli_training_check("train", &o)) return CLI_USAGE;

    char ckpt_buf[4096];
    if (!o.checkpoint_path) {
        snprintf(ckpt_buf, sizeof ckpt_buf, "%s.ckpt", o.out_path);
        o.checkpoint_path = ckpt_buf;
    }
    /* Find out now, not after an hour of training, that a file cannot be written. */
    const char *outputs[4] = {o.out_path, o.checkpoint_path, o.val_out_path, log_path};
    for (int k = 0; k < 4; k++)
        if (outputs[k] && probe_writable(outputs[k])) return CLI_FAIL;

    train_ui ui = {NULL, isatty(fileno(stderr)), 0, report_dir != NULL, NULL, 0, 0, NULL, 0};
    char val_tsv[4096];
    if (report_dir) {
        attend_error derr = {0};
        if (attend_mkdir(report_dir, &derr)) return cli_fail(&derr);
        // the report evaluates the validation split: keep it unless it is a file already
        if (!o.val_path && o.val_split > 0 && !o.val_out_path) {
            snprintf(val_tsv, sizeof val_tsv, "%s/val.tsv", report_dir);
            o.val_out_path = val_tsv;
        }
    }
    if (log_path && !(ui.log = fopen(log_path, "a"))) {
        fprintf(stderr, "attend: cannot open --log %s for appending\n", log_path);
        return CLI_FAIL;
    }
    cli_set_threads(threads);
    o.on_info = on_info;
    o.on_warning = cli_print_warning;
    o.on_epoch = on_epoch;
    o.on_init = on_init;
    o.on_progress = on_progress;
    o.ctx = &ui;

    /* SIGINT/SIGTERM: finish the step, save a checkpoint, exit 130/143.
     * SIGXFSZ ignored: a file-size limit then fails a write (and the save
     * keeps the previous file) instead of killing the process. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);
    o.stop = &stop_requested;

    attend_error err = {0};
    attend_train_result res;
    attend_status st = attend_train(&o, &res, &err);
    if (ui.log) fclose(ui.log);
    if (st == ATTEND_ERR_INTERRUPTED) {
        if (ui.bar_shown) fputc('\n', stderr);
        fprintf(stderr, "attend: %s\n", err.msg);
        free(ui.epochs);
        free(ui.pos_init);
        return stop_signal == SIGTERM ? 143 : 130;
    }
    if (st != ATTEND_OK) {
        free(ui.epochs);
        free(ui.pos_init);
        return cli_fail(&err);
    }
    if (!explicit_ckpt) remove(o.checkpoint_path); /* the run finished: nothing to resume */
    if (res.n_val)
        printf("best epoch %zu: val loss %.4f, val acc %.2f%%, macro-F1 %.4f; model saved to %s (%.1f s)\n",
               res.best_epoch, res.best_val_loss, 100.0 * res.best_val_accuracy,
               res.best_val_macro_f1, o.out_path, res.seconds);
    else
        printf("model saved to %s (%.1f s)\n", o.out_path, res.seconds);
    int rc = CLI_OK;
    if (report_dir) {
        if (ui.nomem) fprintf(stderr, "attend: warning: out of memory keeping the epochs; the report may lack them\n");
        // evaluate the validation data; without any, the training data (and say so)
        const char *data = o.val_path ? o.val_path : o.val_out_path ? o.val_out_path : o.data_path;
        const char *note = o.val_path ? "the validation file given to attend train --val"
                           : o.val_out_path ? "the validation split held out by attend train"
                                            : "the training data itself: there was no validation split, so these numbers are optimistic";
        attend_data_options dopt = o.data;
        if (!o.val_path && o.val_out_path) {
            // the split was written as TSV whatever the input format was
            memset(&dopt, 0, sizeof dopt);
            dopt.format = ATTEND_FORMAT_TSV;
        }
        rc = cli_write_report(o.out_path, data, &dopt, note, ui.epochs, ui.n_epochs, ui.pos_init, res.seconds, 3,
                              2000, report_dir);
    }
    free(ui.epochs);
    free(ui.pos_init);
    return rc;
}
