/* attend report: the report page (training curves, positional encodings,
 * confusion matrix, attention maps, per-head diagnostics, model card) for a
 * trained model; also what attend train --report calls when it is done. */
#define _POSIX_C_SOURCE 200809L /* fileno, isatty */
#include "cli.h"
#include "viz/report.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *report_usage =
    "usage: attend report --model MODEL --data FILE --out DIR [options]\n"
    "\n"
    "Writes DIR/index.html, one self-contained page (no network, no scripts) about\n"
    "a trained classifier, and every picture of it as DIR/figures/*.svg:\n"
    "training curves (with --log), the positional encoding at initialisation and\n"
    "after training with the cosine similarity of positions, the confusion matrix\n"
    "and per-class metrics on --data, attention maps of a few texts classified\n"
    "right and wrong, per-head entropy, distance and importance, and a model card.\n"
    "attend train --report DIR writes the same page at the end of training.\n"
    "\n"
    "  --model FILE           model file from attend train\n"
    "  --data FILE            labelled data to evaluate, e.g. the split from\n"
    "                         attend train --val-out (same formats as train)\n"
    "  --out DIR              directory to write (created if missing)\n"
    "  --log FILE             per-epoch log from attend train --log, for the curves\n"
    "                         (the last run in the file is used)\n"
    "  --examples N           attention examples of each kind, right and wrong (default 3)\n"
    "  --stats-examples N     examples for the per-head statistics (default 2000; 0 = all)\n"
    "  --format NAME          tsv | csv | fasttext | jsonl (default: by extension)\n"
    "  --text-col NAME        CSV column / JSONL key of the text (default text)\n"
    "  --label-col NAME       CSV column / JSONL key of the label (default label)\n"
    "  --threads N            (default 0 = all cores)\n"
    "  --precision P          fp32 (default) or bf16 matmuls (see attend train --help)\n"
    "\n"
    "Example: attend report --model wordnet.safetensors --data val.tsv --log train.jsonl --out report\n";

static void on_info(void *ctx, const char *msg) {
    (void)ctx;
    fprintf(stderr, "attend: %s\n", msg);
}

/* Reads the last run of an attend train --log file (epochs restart at 1). */
static int read_log(const char *path, attend_epoch_report **out, size_t *n, attend_error *err) {
    *out = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        attend_errorf(err, ATTEND_ERR_IO, "cannot open --log %s", path);
        return -1;
    }
    attend_line_reader lr;
    if (attend_line_reader_init(&lr, f, path, 0, err)) {
        fclose(f);
        return -1;
    }
    size_t cap = 0;
    int rc = 0;
    for (;;) {
        const char *line;
        size_t len;
        int too_long;
        if (attend_line_reader_next(&lr, &line, &len, &too_long, err)) {
            rc = -1;
            break;
        }
        if (!line) break;
        if (len == 0) continue;
        cJSON *o = cJSON_ParseWithLength(line, len);
        const cJSON *ep = cJSON_GetObjectItemCaseSensitive(o, "epoch");
        if (!cJSON_IsNumber(ep)) {
            cJSON_Delete(o);
            attend_errorf(err, ATTEND_ERR_FORMAT, "%s:%zu: not a line of attend train --log (no \"epoch\")", path,
                          lr.line_no);
            rc = -1;
            break;
        }
        attend_epoch_report r = {0};
        r.epoch = (size_t)ep->valuedouble;
        if (*n && r.epoch <= (*out)[*n - 1].epoch) *n = 0; /* a new run starts */
#define NUM(key, field)                                                   \
    do {                                                                  \
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);        \
        if (cJSON_IsNumber(x)) field = x->valuedouble;                    \
    } while (0)
        double step = 0;
        NUM("train_loss", r.train_loss);
        NUM("lr", r.lr);
        NUM("seconds", r.seconds);
        NUM("tokens_per_s", r.tokens_per_s);
        NUM("step", step);
        r.step = (size_t)step;
        const cJSON *vl = cJSON_GetObjectItemCaseSensitive(o, "val_loss");
        if (cJSON_IsNumber(vl)) {
            r.has_val = 1;
            NUM("val_loss", r.val_loss);
            NUM("val_accuracy", r.val_accuracy);
            NUM("val_macro_f1", r.val_macro_f1);
        }
#undef NUM
        cJSON_Delete(o);
        if (*n == cap) {
            cap = cap ? 2 * cap : 64;
            attend_epoch_report *p = realloc(*out, cap * sizeof *p);
            if (!p) {
                attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
                rc = -1;
                break;
            }
            *out = p;
        }
        (*out)[(*n)++] = r;
    }
    attend_line_reader_free(&lr);
    fclose(f);
    for (size_t i = 0; i < *n; i++) (*out)[i].epochs = *n;
    return rc;
}

int cli_write_report(const char *model_path, const char *data_path, const attend_data_options *data,
                     const char *note, const attend_epoch_report *epochs, size_t n_epochs,
                     const float *pos_init, double train_seconds, size_t n_examples,
                     size_t stats_examples, const char *dir) {
    attend_error err = {0};
    attend_model *m = NULL;
    if (attend_model_load(&m, model_path, &err)) return cli_fail(&err);
    attend_report_options o;
    attend_report_options_default(&o);
    o.model_path = model_path;
    o.data_path = data_path;
    if (data) o.data = *data;
    o.data.on_warning = cli_print_warning;
    o.data_note = note;
    o.epochs = epochs;
    o.n_epochs = n_epochs;
    o.pos_init = pos_init;
    o.train_seconds = train_seconds;
    o.n_examples = n_examples;
    o.max_stats_examples = stats_examples;
    o.on_info = on_info;
    attend_report_result res;
    attend_status st = attend_report_write(m, &o, dir, &res, &err);
    attend_model_free(m);
    if (st) return cli_fail(&err);
    printf("report: %s/index.html (%zu heatmaps, %zu plots, %zu attention examples; accuracy %.2f%% on %s)\n",
           dir, res.n_heatmaps, res.n_plots, res.n_examples, 100.0 * res.accuracy, data_path);
    return CLI_OK;
}

int cli_report(int argc, char **argv) {
    const char *model_path = NULL, *data_path = NULL, *dir = NULL, *log_path = NULL, *v = NULL;
    attend_data_options d = {0};
    size_t n_examples = 3, stats = 2000, threads = 0;
    int pr;
    for (int i = 1; i < argc; i++) {
        int r = cli_data_flag("report", argc, argv, &i, &d);
        if (r < 0) return CLI_USAGE;
        if (r > 0) continue;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(report_usage, stdout);
            return CLI_OK;
        } else if (cli_flag(argc, argv, &i, "--model", &v)) {
            if (!(model_path = v)) return cli_usage_error("report", "--model needs a file");
        } else if (cli_flag(argc, argv, &i, "--data", &v)) {
            if (!(data_path = v)) return cli_usage_error("report", "--data needs a file");
        } else if (cli_flag(argc, argv, &i, "--out", &v)) {
            if (!(dir = v)) return cli_usage_error("report", "--out needs a directory");
        } else if (cli_flag(argc, argv, &i, "--log", &v)) {
            if (!(log_path = v)) return cli_usage_error("report", "--log needs a file");
        } else if (cli_flag(argc, argv, &i, "--examples", &v)) {
            if (cli_parse_size("report", "--examples", v, 0, 50, &n_examples)) return CLI_USAGE;
        } else if (cli_flag(argc, argv, &i, "--stats-examples", &v)) {
            if (cli_parse_size("report", "--stats-examples", v, 0, 100000000, &stats)) return CLI_USAGE;
        } else if (cli_flag(argc, argv, &i, "--threads", &v)) {
            if (cli_parse_size("report", "--threads", v, 0, 1024, &threads)) return CLI_USAGE;
        } else if ((pr = cli_precision_flag("report", argc, argv, &i)) != 0) {
            if (pr < 0) return CLI_USAGE;
        } else {
            return cli_usage_error("report", "unknown option '%s'", argv[i]);
        }
    }
    if (!model_path || !data_path || !dir)
        return cli_usage_error("report", "report needs --model MODEL, --data FILE and --out DIR");
    cli_set_threads(threads);
    attend_epoch_report *epochs = NULL;
    size_t n_epochs = 0;
    attend_error err = {0};
    if (log_path && read_log(log_path, &epochs, &n_epochs, &err)) {
        free(epochs);
        return cli_fail(&err);
    }
    int rc = cli_write_report(model_path, data_path, &d, NULL, epochs, n_epochs, NULL, 0, n_examples, stats, dir);
    free(epochs);
    return rc;
}
