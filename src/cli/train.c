/* attend train: fit a classifier on labelled text. */
#define _POSIX_C_SOURCE 200809L /* fileno, isatty */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
        char line[512];
        attend_train_log_line(r, line, sizeof line);
        fputs(line, ui->log);
        fflush(ui->log);
    }
}

static volatile sig_atomic_t stop_requested = 0;

/* The flag holds the signal: with several processes attend_train sets it
 * on each to the largest any of them received, so all exit alike. */
static void on_signal(int sig) { stop_requested = sig; }

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

/* A failure on this process before training starts: with several
 * processes the others cannot know of it, so the job ends here. */
static int fail_early(attend_world *world, int rc) {
    if (attend_world_size(world) > 1) {
        fflush(stdout);
        fprintf(stderr, "attend: process %d of %d stops the job\n", attend_world_rank(world),
                attend_world_size(world));
        attend_world_abort(world, rc);
    }
    return rc;
}

/* Before training: the checkpoint path (default OUT.ckpt, in ckpt), every
 * output file writable (found out now, not after an hour of training), the
 * report folder made and the validation split kept in it for the report
 * (in val_tsv), the --log file open. Process 0 checks and opens; returns
 * CLI_OK or CLI_FAIL (said on stderr). */
static int prepare_outputs(attend_train_options *o, const char *log_path, const char *report_dir,
                           int root, train_ui *ui, char ckpt[4096], char val_tsv[4096]) {
    if (!o->checkpoint_path) {
        snprintf(ckpt, 4096, "%s.ckpt", o->out_path);
        o->checkpoint_path = ckpt;
    }
    const char *outputs[4] = {o->out_path, o->checkpoint_path, o->val_out_path, log_path};
    for (int k = 0; k < 4 && root; k++)
        if (outputs[k] && probe_writable(outputs[k])) return CLI_FAIL;
    if (report_dir) {
        attend_error derr = {0};
        if (root && attend_mkdir(report_dir, &derr)) return cli_fail(&derr);
        // the report evaluates the validation split: keep it unless it is a file already
        if (!o->val_path && o->val_split > 0 && !o->val_out_path) {
            snprintf(val_tsv, 4096, "%s/val.tsv", report_dir);
            o->val_out_path = val_tsv;
        }
    }
    if (root && log_path && !(ui->log = fopen(log_path, "a"))) {
        fprintf(stderr, "attend: cannot open --log %s for appending\n", log_path);
        return CLI_FAIL;
    }
    return CLI_OK;
}

/* SIGINT/SIGTERM: finish the step, save a checkpoint, exit 130/143 (with
 * several processes, a signal to any one stops all of them). SIGXFSZ
 * ignored: a file-size limit then fails a write (and the save keeps the
 * previous file) instead of killing the process. */
static void catch_stop_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGXFSZ, SIG_IGN);
}

/* attend train --report: the report of the model just saved, evaluated on
 * the validation data (without any, on the training data, and it says so),
 * with the epochs and the initial positional table recorded in ui. */
static int report_training(const attend_train_options *o, const train_ui *ui,
                           const attend_train_result *res, const char *report_dir) {
    if (ui->nomem) fprintf(stderr, "attend: warning: out of memory keeping the epochs; the report may lack them\n");
    const char *data = o->val_path ? o->val_path : o->val_out_path ? o->val_out_path : o->data_path;
    const char *note = o->val_path ? "the validation file given to attend train --val"
                       : o->val_out_path ? "the validation split held out by attend train"
                                         : "the training data itself: there was no validation split, so these numbers are optimistic";
    attend_data_options dopt = o->data;
    if (!o->val_path && o->val_out_path) {
        // the split was written as TSV whatever the input format was
        memset(&dopt, 0, sizeof dopt);
        dopt.format = ATTEND_FORMAT_TSV;
    }
    attend_report_options ro;
    attend_report_options_default(&ro);
    ro.data_path = data;
    ro.data = dopt;
    ro.data_note = note;
    ro.epochs = ui->epochs;
    ro.n_epochs = ui->n_epochs;
    ro.pos_init = ui->pos_init;
    ro.train_seconds = res->seconds;
    return cli_write_report(o->out_path, &ro, report_dir);
}

/* Trains (on every process), then prints the summary and writes the report
 * (process 0). */
static int train_and_report(attend_train_options *po, int explicit_ckpt, const char *log_path,
                            const char *report_dir, attend_world *world) {
    attend_train_options o = *po;
    const int root = attend_world_rank(world) == 0;
    char ckpt_buf[4096], val_tsv[4096];
    train_ui ui = {NULL, root && isatty(fileno(stderr)), 0, report_dir != NULL, NULL, 0, 0, NULL, 0};
    int rc = prepare_outputs(&o, log_path, report_dir, root, &ui, ckpt_buf, val_tsv);
    if (rc != CLI_OK) return fail_early(world, rc);
    o.on_info = on_info;
    o.on_warning = cli_print_warning;
    o.on_epoch = on_epoch;
    o.on_init = on_init;
    o.on_progress = on_progress;
    o.ctx = &ui;
    o.world = world;
    catch_stop_signals();
    o.stop = &stop_requested;

    attend_error err = {0};
    attend_train_result res;
    attend_status st = attend_train(&o, &res, &err);
    if (ui.log) fclose(ui.log);
    /* Every process has the same outcome (attend_train agrees on it);
     * process 0 says what it is. */
    if (st == ATTEND_ERR_INTERRUPTED) {
        if (ui.bar_shown) fputc('\n', stderr);
        if (root) fprintf(stderr, "attend: %s\n", err.msg);
        rc = stop_requested == SIGTERM ? 143 : 130;
    } else if (st != ATTEND_OK) {
        rc = root ? cli_fail(&err) : CLI_FAIL;
    } else if (root) {
        if (!explicit_ckpt) remove(o.checkpoint_path); /* the run finished: nothing to resume */
        if (res.n_val)
            printf("best epoch %zu: val loss %.4f, val acc %.2f%%, macro-F1 %.4f; model saved to %s (%.1f s)\n",
                   res.best_epoch, res.best_val_loss, 100.0 * res.best_val_accuracy,
                   res.best_val_macro_f1, o.out_path, res.seconds);
        else
            printf("model saved to %s (%.1f s)\n", o.out_path, res.seconds);
        if (report_dir) rc = report_training(&o, &ui, &res, report_dir);
    }
    free(ui.epochs);
    free(ui.pos_init);
    return rc;
}

int cli_train(int argc, char **argv) {
    attend_train_options o;
    attend_train_options_default(&o);
    const char *log_path = NULL, *report_dir = NULL;
    size_t threads = 0;
    attend_model_config *m = &o.model;
    const cli_opt opts[] = {
        CLI_OPT_HEADING("data"),
        CLI_OPT(CLI_STRING, "--data", "FILE", &o.data_path, 0, 0,
                "labelled text: .tsv (label<TAB>text), .csv (header),\n"
                ".txt/.ft (fastText __label__X text), .jsonl"),
        CLI_OPTS_DATA(o.data),
        CLI_OPT_DEF(CLI_STRING, "--val", "FILE", &o.val_path, 0, 0, "validation data",
                    "split it off --data"),
        CLI_OPT(CLI_DOUBLE, "--val-split", "FRAC", &o.val_split, 0.0, 0.9,
                "stratified validation fraction (0 = none)"),
        CLI_OPT(CLI_STRING, "--val-out", "FILE", &o.val_out_path, 0, 0,
                "write the validation examples as TSV (for attend eval)"),
        CLI_OPT_HEADING("model"),
        CLI_OPT(CLI_STRING, "--init", "DIR", &o.init_path, 0, 0,
                "fine-tune a pretrained BERT-family encoder (a Hugging\n"
                "Face folder such as all-MiniLM-L6-v2, or a model saved\n"
                "by attend train --init) with a new head: every weight\n"
                "trains; architecture and vocabulary are the folder's.\n"
                "Then --lr 5e-5, --epochs 3, --warmup 0.06, --bucket 8,\n"
                "and --max-len (0), --dropout (-1) and --pool default to\n"
                "the folder's (its sentence-transformers pooling, else\n"
                "the pooler)"),
        CLI_OPT(CLI_SIZE, "--heads", "N", &m->nhead, 1, 16384, "attention heads"),
        CLI_OPT_CHOICE("--pos", "KIND", &m->pos, cli_pos_names, "learned | sinusoidal | none"),
        CLI_OPTS_MODEL(o),
        CLI_OPT_HEADING("training"),
        CLI_OPTS_TRAINING(o),
        CLI_OPTS_RUN(threads),
        CLI_OPT(CLI_STRING, "--out", "FILE", &o.out_path, 0, 0,
                "the model file (the best epoch by validation loss)"),
        CLI_OPT(CLI_STRING, "--log", "FILE", &log_path, 0, 0, "append one JSON object per epoch"),
        CLI_OPT(CLI_STRING, "--report", "DIR", &report_dir, 0, 0,
                "when done, write DIR/index.html: curves, positional\n"
                "encodings, confusion matrix, attention maps, per-head\n"
                "diagnostics (validation data: --val, else the split,\n"
                "saved as DIR/val.tsv unless --val-out is given)"),
        CLI_OPT_DEF(CLI_STRING, "--checkpoint", "FILE", &o.checkpoint_path, 0, 0,
                    "resumable state, written after every epoch and on\n"
                    "SIGINT/SIGTERM, removed when the run finishes",
                    "MODEL.ckpt"),
        CLI_OPT(CLI_SIZE, "--checkpoint-every", "N", &o.checkpoint_every, 0, (double)SIZE_MAX,
                "also every N steps (default 0 = epochs only)"),
        CLI_OPT(CLI_STRING, "--resume", "FILE", &o.resume_path, 0, 0,
                "continue from a checkpoint (or the model file beside\n"
                "it): same data and flags give the same result as a run\n"
                "that was never stopped"),
    };
    const cli_command cmd = {
        "train", "attend train --data FILE --out MODEL.safetensors [options]",
        "Trains a transformer-encoder text classifier and saves the best model (by\n"
        "validation loss) to --out. One line per epoch on stdout; a progress bar on\n"
        "stderr when it is a terminal. Under mpirun (a build with make MPI=1) the\n"
        "processes train one model together: mpirun -np 4 attend train ... gives the\n"
        "same model as one process.\n",
        "attend train --data data/wordnet-nouns.tsv --val-split 0.2 --out wordnet.safetensors", opts,
        CLI_N(opts), NULL, NULL};
    /* fine-tuning has defaults of its own (shown by --help after --init) */
    if (cli_given(&cmd, argc, argv, "--init")) {
        o.lr = 5e-5f;
        o.epochs = 3;
        o.bucket = 8;
        o.warmup = 0.06f;
        m->max_len = 0;    /* the folder's */
        m->dropout = -1.0f; /* the folder's */
    }
    int pr = cli_parse(&cmd, argc, argv);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    const int explicit_ckpt = o.checkpoint_path != NULL;
    if (!o.data_path || !o.out_path)
        return cli_usage_error("train", "train needs --data FILE and --out MODEL");
    if (o.init_path) {
        static const char *const fixed[] = {"--d-model", "--heads", "--layers", "--d-ff", "--pos",
                                            "--head-hidden", "--activation", "--norm-first",
                                            "--min-freq", "--max-vocab"};
        for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++)
            if (cli_given(&cmd, argc, argv, fixed[k]))
                return cli_usage_error("train", "%s does not apply with --init: the architecture and the vocabulary are the pretrained model's",
                                       fixed[k]);
        o.init_pool = cli_given(&cmd, argc, argv, "--pool") ? (int)m->pool : -1;
    } else if (m->pool == ATTEND_POOL_POOLER) {
        return cli_usage_error("train", "--pool pooler is BERT's pooler: it needs --init");
    } else if (cli_training_check("train", &o, m->nhead)) {
        return CLI_USAGE;
    }

    /* Under mpirun (a build with MPI) this process is one of several that
     * train together; process 0 alone writes files and prints. */
    attend_world *world = NULL;
    attend_error werr = {0};
    if (attend_world_init(&world, &werr)) return cli_fail(&werr);
    cli_set_threads(threads);
    int rc = train_and_report(&o, explicit_ckpt, log_path, report_dir, world);
    attend_world_free(world);
    return rc;
}

