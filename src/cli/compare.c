/* attend compare: train several head counts and positional encodings with
 * everything else held fixed, and compare them (the heads experiment). */
#define _POSIX_C_SOURCE 200809L /* fileno, isatty */
#include "cli.h"
#include "viz/compare.h"
#include "viz/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CONFIGS 32

static void compare_usage(FILE *f, const attend_train_options *d) {
    const attend_model_config *m = &d->model;
    fprintf(f,
            "usage: attend compare --data FILE --heads LIST --out DIR [options]\n"
            "\n"
            "Trains one classifier per (heads, positional encoding, seed) with the same\n"
            "data split, d_model, layers, epochs and seeds, so that only the number of\n"
            "heads (at equal parameter count: d_model is fixed) and the encoding vary;\n"
            "prints a table of validation loss, accuracy and macro-F1 (mean +/- std over\n"
            "seeds), parameters and seconds, and writes DIR/results.csv, runs.csv,\n"
            "results.json, table.md and index.html (accuracy and loss against heads, one\n"
            "line per encoding, error bars; per-head entropy, distance and importance).\n"
            "\n"
            "  --data FILE          labelled text (same formats as train)\n"
            "  --heads LIST         head counts, e.g. 1,2,4,8 (each must divide --d-model)\n"
            "  --pos LIST           learned,sinusoidal,none (default learned)\n"
            "  --seeds N            seeds per configuration (default 3): --seed, --seed+1, ...\n"
            "  --seed N             first seed; also seeds the split (default %llu)\n"
            "  --out DIR            directory to write (created if missing)\n"
            "  --val FILE           validation data (default: a stratified split of --data,\n"
            "                       written as DIR/train.tsv and DIR/val.tsv)\n"
            "  --val-split FRAC     validation fraction (default %g)\n"
            "  --stats-examples N   validation examples for per-head statistics (default 1000)\n"
            "  --keep-models        keep every model as DIR/models/hH-POS-sS.safetensors\n"
            "training flags, the same for every run (as attend train):\n"
            "  --epochs N (%zu)  --batch N (%zu)  --lr X (%g)  --warmup FRAC (%g)\n"
            "  --weight-decay X (%g)  --clip X (%g)  --dropout P (%g)  --label-smoothing X (0)\n"
            "  --d-model N (%zu)  --layers N (%zu)  --d-ff N (%zu)  --max-len N (%zu)\n"
            "  --pool mean|cls|max (mean)  --activation relu|gelu (relu)  --norm-first\n"
            "  --min-freq N (%zu)  --max-vocab N (0)  --patience N (0)  --threads N (0 = all)\n"
            "  --precision fp32|bf16 (fp32)\n"
            "  --format NAME  --text-col NAME  --label-col NAME  --strict\n"
            "\n"
            "Example: attend compare --data data/wordnet-nouns.tsv --heads 1,2,4,8 --pos learned,sinusoidal --seeds 3 --epochs 3 --out compare\n",
            (unsigned long long)d->seed, d->val_split, d->epochs, d->batch, (double)d->lr, (double)d->warmup,
            (double)d->weight_decay, (double)d->clip, (double)m->dropout, m->d_model, m->num_layers,
            m->dim_feedforward, m->max_len, d->min_freq);
}

static int parse_heads(const char *v, size_t *heads, size_t *n) {
    *n = 0;
    if (!v || !*v) return -1;
    const char *p = v;
    while (*p) {
        char *end;
        unsigned long long x = strtoull(p, &end, 10);
        if (end == p || x < 1 || x > 16384 || *n == MAX_CONFIGS) return -1;
        for (size_t k = 0; k < *n; k++)
            if (heads[k] == x) return -1;
        heads[(*n)++] = (size_t)x;
        if (*end == ',') end++;
        else if (*end) return -1;
        p = end;
    }
    return 0;
}

static int parse_pos(const char *v, attend_pos_kind *pos, size_t *n) {
    *n = 0;
    if (!v || !*v) return -1;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        attend_pos_kind k;
        if (!strcmp(tok, "learned")) k = ATTEND_POS_LEARNED;
        else if (!strcmp(tok, "sinusoidal")) k = ATTEND_POS_SINUSOIDAL;
        else if (!strcmp(tok, "none")) k = ATTEND_POS_NONE;
        else return -1;
        for (size_t i = 0; i < *n; i++)
            if (pos[i] == k) return -1;
        if (*n == 3) return -1;
        pos[(*n)++] = k;
    }
    return *n ? 0 : -1;
}

typedef struct {
    int tty;
} compare_ui;

static void on_epoch(void *ctx, const attend_epoch_report *r) {
    compare_ui *ui = ctx;
    if (!ui->tty) return;
    fprintf(stderr, "\r    epoch %zu/%zu  train loss %.4f  val loss %.4f  val acc %.2f%%   ", r->epoch, r->epochs,
            r->train_loss, r->val_loss, 100.0 * r->val_accuracy);
}

static void on_quiet(void *ctx, const char *msg) {
    (void)ctx;
    (void)msg;
}

/* The command line as one string, for the page. */
static void join_args(char *out, size_t cap, int argc, char **argv) {
    size_t k = (size_t)snprintf(out, cap, "attend");
    for (int i = 0; i < argc && k < cap; i++) {
        int quote = strchr(argv[i], ' ') != NULL;
        k += (size_t)snprintf(out + k, cap - k, quote ? " \"%s\"" : " %s", argv[i]);
    }
}

int cli_compare(int argc, char **argv) {
    attend_train_options o;
    attend_train_options_default(&o);
    attend_model_config *m = &o.model;
    const char *dir = NULL, *v = NULL;
    size_t heads[MAX_CONFIGS], n_heads = 0, n_pos = 1, n_seeds = 3, threads = 0, stats = 1000;
    attend_pos_kind pos[3] = {ATTEND_POS_LEARNED};
    int keep = 0;
    for (int i = 1; i < argc; i++) {
        int r = cli_data_flag("compare", argc, argv, &i, &o.data);
        if (r == 0) r = cli_training_flag("compare", argc, argv, &i, &o, &threads);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            compare_usage(stdout, &o);
            return CLI_OK;
        }
#define SIZE_FLAG(name, field, lo, hi)                                               \
    else if (cli_flag(argc, argv, &i, name, &v)) {                                   \
        if (cli_parse_size("compare", name, v, lo, hi, &(field))) return CLI_USAGE;  \
    }
        if (cli_flag(argc, argv, &i, "--data", &v)) {
            if (!(o.data_path = v)) return cli_usage_error("compare", "--data needs a file");
        } else if (cli_flag(argc, argv, &i, "--val", &v)) {
            if (!(o.val_path = v)) return cli_usage_error("compare", "--val needs a file");
        } else if (cli_flag(argc, argv, &i, "--out", &v)) {
            if (!(dir = v)) return cli_usage_error("compare", "--out needs a directory");
        } else if (cli_flag(argc, argv, &i, "--heads", &v)) {
            if (parse_heads(v, heads, &n_heads))
                return cli_usage_error("compare", "--heads expects distinct head counts like 1,2,4,8 (at most %d)",
                                       MAX_CONFIGS);
        } else if (cli_flag(argc, argv, &i, "--pos", &v)) {
            if (parse_pos(v, pos, &n_pos))
                return cli_usage_error("compare", "--pos expects a list of learned, sinusoidal, none");
        } else if (cli_flag(argc, argv, &i, "--val-split", &v)) {
            float f;
            if (cli_parse_float("compare", "--val-split", v, 0.01, 0.9, &f)) return CLI_USAGE;
            o.val_split = f;
        } else if (strcmp(argv[i], "--keep-models") == 0) {
            keep = 1;
        }
        SIZE_FLAG("--seeds", n_seeds, 1, 100)
        SIZE_FLAG("--stats-examples", stats, 0, 100000000)
        else {
            return cli_usage_error("compare", "unknown option '%s'", argv[i]);
        }
#undef SIZE_FLAG
    }
    if (!o.data_path || !n_heads || !dir)
        return cli_usage_error("compare", "compare needs --data FILE, --heads LIST and --out DIR");
    for (size_t k = 0; k < n_heads; k++)
        if (m->d_model % heads[k])
            return cli_usage_error("compare", "--d-model %zu is not divisible by %zu heads; pick a d_model that "
                                   "every head count divides (e.g. 64 for 1,2,4,8)", m->d_model, heads[k]);
    if (cli_training_check("compare", &o)) return CLI_USAGE;
    cli_set_threads(threads);

    attend_error err = {0};
    if (attend_mkdir(dir, &err)) return cli_fail(&err);
    char train_tsv[4096], val_tsv[4096], models[4000], command[2048];
    join_args(command, sizeof command, argc, argv);
    attend_compare_setup setup = {0};
    setup.data_path = o.data_path;
    setup.command = command;
    o.data.on_warning = cli_print_warning;
    if (o.val_path) {
        setup.train_path = o.data_path;
        setup.val_path = o.val_path;
    } else {
        // one split for every run, seeded by --seed, written out so it can be checked
        snprintf(train_tsv, sizeof train_tsv, "%s/train.tsv", dir);
        snprintf(val_tsv, sizeof val_tsv, "%s/val.tsv", dir);
        size_t ntr = 0, nva = 0;
        if (attend_compare_split(o.data_path, &o.data, o.val_split, o.seed, train_tsv, val_tsv, &ntr, &nva, &err))
            return cli_fail(&err);
        printf("split %s: %zu training, %zu validation examples -> %s, %s\n", o.data_path, ntr, nva, train_tsv,
               val_tsv);
        o.data_path = train_tsv;
        o.val_path = val_tsv;
        memset(&o.data, 0, sizeof o.data);
        o.data.format = ATTEND_FORMAT_TSV;
        o.data.on_warning = cli_print_warning;
        setup.train_path = train_tsv;
        setup.val_path = val_tsv;
    }
    snprintf(models, sizeof models, "%s/models", dir);
    if (keep && attend_mkdir(models, &err)) return cli_fail(&err);

    const size_t n_runs = n_heads * n_pos * n_seeds;
    attend_compare_run *runs = calloc(n_runs, sizeof *runs);
    if (!runs) {
        attend_errorf(&err, ATTEND_ERR_NOMEM, "out of memory");
        return cli_fail(&err);
    }
    compare_ui ui = {isatty(fileno(stderr))};
    o.on_info = on_quiet;
    o.on_warning = NULL; /* the split was read once already; its warnings were shown */
    o.on_epoch = on_epoch;
    o.ctx = &ui;
    const uint64_t first_seed = o.seed;
    setup.d_model = m->d_model;
    setup.layers = m->num_layers;
    setup.d_ff = m->dim_feedforward;
    setup.max_len = m->max_len;
    setup.epochs = o.epochs;
    setup.batch = o.batch;
    setup.n_seeds = n_seeds;
    setup.first_seed = first_seed;
    setup.lr = o.lr;
    setup.dropout = m->dropout;
    printf("%zu runs: heads", n_runs);
    for (size_t k = 0; k < n_heads; k++) printf("%s%zu", k ? "," : " ", heads[k]);
    printf(" x pos");
    for (size_t k = 0; k < n_pos; k++) printf("%s%s", k ? "," : " ", attend_pos_name(pos[k]));
    printf(" x %zu seed%s; d_model %zu, %zu layer%s, %zu epoch%s\n", n_seeds, n_seeds == 1 ? "" : "s", m->d_model,
           m->num_layers, m->num_layers == 1 ? "" : "s", o.epochs, o.epochs == 1 ? "" : "s");
    fflush(stdout);

    int rc = CLI_OK;
    size_t done = 0;
    attend_model *model = NULL;
    attend_dataset vds = {0};
    attend_encoded venc = {0};
    int32_t *vids = NULL;
    for (size_t pi = 0; pi < n_pos && rc == CLI_OK; pi++)
        for (size_t hi = 0; hi < n_heads && rc == CLI_OK; hi++)
            for (size_t si = 0; si < n_seeds && rc == CLI_OK; si++) {
                attend_compare_run *run = &runs[done];
                run->heads = heads[hi];
                run->pos = pos[pi];
                run->seed = first_seed + si;
                char model_path[4200];
                if (keep)
                    snprintf(model_path, sizeof model_path, "%s/h%zu-%s-s%llu.safetensors", models, run->heads,
                             attend_pos_name(run->pos), (unsigned long long)run->seed);
                else
                    snprintf(model_path, sizeof model_path, "%s/.run.safetensors", dir);
                attend_train_options ro = o;
                ro.model.nhead = run->heads;
                ro.model.pos = run->pos;
                ro.seed = run->seed;
                ro.out_path = model_path;
                printf("[%zu/%zu] heads %zu, pos %s, seed %llu: ", done + 1, n_runs, run->heads,
                       attend_pos_name(run->pos), (unsigned long long)run->seed);
                fflush(stdout);
                attend_train_result res;
                if (attend_train(&ro, &res, &err)) {
                    if (ui.tty) fputc('\n', stderr);
                    printf("failed\n");
                    rc = cli_fail(&err);
                    break;
                }
                if (ui.tty) fprintf(stderr, "\r%*s\r", 78, "");
                run->val_loss = res.best_val_loss;
                run->val_accuracy = res.best_val_accuracy;
                run->val_macro_f1 = res.best_val_macro_f1;
                run->seconds = res.seconds;
                run->params = res.n_params;
                run->epochs_run = res.epochs_run;
                run->best_epoch = res.best_epoch;
                // per-head diagnostics of the saved (best) model on the validation data
                if (attend_model_load(&model, model_path, &err) ||
                    (!vds.records && attend_dataset_read(&vds, o.val_path, &o.data, &err))) {
                    rc = cli_fail(&err);
                    break;
                }
                free(vids);
                attend_encoded_free(&venc);
                if (!(vids = malloc((vds.count ? vds.count : 1) * sizeof(int32_t))) ||
                    attend_labels_map(&model->labels, &vds, vids, &err) ||
                    attend_encode_dataset(&venc, model, &vds, vids, NULL, 0, NULL, NULL, &err) ||
                    (model->cfg.num_layers &&
                     attend_head_stats_compute(model, &venc, stats, 1, &run->stats, &err))) {
                    if (!vids) attend_errorf(&err, ATTEND_ERR_NOMEM, "out of memory");
                    rc = cli_fail(&err);
                    break;
                }
                attend_model_free(model);
                model = NULL;
                if (!keep) remove(model_path);
                done++;
                printf("val loss %.4f, acc %.2f%%, macro-F1 %.4f, %zu params, %.1f s\n", run->val_loss,
                       100.0 * run->val_accuracy, run->val_macro_f1, run->params, run->seconds);
                fflush(stdout);
                setup.n_train = res.n_train;
                setup.n_val = res.n_val;
                setup.num_classes = res.num_classes;
                // rewrite the outputs after every run, so a long experiment shows progress
                if (attend_compare_write(dir, &setup, runs, done, NULL, NULL, &err)) {
                    rc = cli_fail(&err);
                    break;
                }
            }
    attend_model_free(model);
    attend_encoded_free(&venc);
    attend_dataset_free(&vds);
    free(vids);
    if (rc == CLI_OK) {
        attend_compare_row *rows = NULL;
        size_t n_rows = 0;
        if (attend_compare_summarise(runs, done, &rows, &n_rows, &err)) {
            rc = cli_fail(&err);
        } else {
            attend_buf md;
            attend_buf_init(&md);
            attend_compare_markdown(&md, rows, n_rows);
            printf("\n%s\n", md.failed ? "" : md.s);
            attend_buf_free(&md);
            free(rows);
            printf("compare: %s/index.html (also results.csv, runs.csv, results.json, table.md)\n", dir);
        }
    }
    for (size_t i = 0; i < n_runs; i++) attend_head_stats_free(&runs[i].stats);
    free(runs);
    return rc;
}
