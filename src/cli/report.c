/* attend report: the report page (training curves, positional encodings,
 * confusion matrix, attention maps, per-head diagnostics, model card) for a
 * trained model; also what attend train --report calls when it is done. */
#define _POSIX_C_SOURCE 200809L /* fileno, isatty */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_info(void *ctx, const char *msg) {
    (void)ctx;
    fprintf(stderr, "attend: %s\n", msg);
}

int cli_write_report(const char *model_path, const attend_report_options *ro, const char *dir) {
    attend_error err = {0};
    attend_model *m = NULL;
    if (attend_model_load(&m, model_path, &err)) return cli_fail(&err);
    attend_report_options o = *ro;
    o.model_path = model_path;
    o.data.on_warning = cli_print_warning;
    o.on_info = on_info;
    attend_report_result res;
    attend_status st = attend_report_write(m, &o, dir, &res, &err);
    attend_model_free(m);
    if (st) return cli_fail(&err);
    printf("report: %s/index.html (%zu heatmaps, %zu plots, %zu attention examples; accuracy %.2f%% on %s)\n",
           dir, res.n_heatmaps, res.n_plots, res.n_examples, 100.0 * res.accuracy, o.data_path);
    return CLI_OK;
}

int cli_report(int argc, char **argv) {
    const char *model_path = NULL, *dir = NULL, *log_path = NULL;
    attend_report_options ro;
    attend_report_options_default(&ro);
    size_t threads = 0;
    const cli_opt opts[] = {
        CLI_OPT(CLI_STRING, "--model", "FILE", &model_path, 0, 0, "model file from attend train"),
        CLI_OPT(CLI_STRING, "--data", "FILE", &ro.data_path, 0, 0,
                "labelled data to evaluate, e.g. the split from\n"
                "attend train --val-out (same formats as train)"),
        CLI_OPT(CLI_STRING, "--out", "DIR", &dir, 0, 0, "directory to write (created if missing)"),
        CLI_OPT(CLI_STRING, "--log", "FILE", &log_path, 0, 0,
                "per-epoch log from attend train --log, for the curves\n"
                "(the last run in the file is used)"),
        CLI_OPT(CLI_SIZE, "--examples", "N", &ro.n_examples, 0, 50,
                "attention examples of each kind, right and wrong"),
        CLI_OPT(CLI_SIZE, "--stats-examples", "N", &ro.max_stats_examples, 0, 100000000,
                "examples for the per-head statistics (0 = all)"),
        CLI_OPTS_DATA(ro.data),
        CLI_OPTS_RUN(threads),
    };
    const cli_command cmd = {
        "report", "attend report --model MODEL --data FILE --out DIR [options]",
        "Writes DIR/index.html, one self-contained page (no network, no scripts) about\n"
        "a trained classifier, and every picture of it as DIR/figures/*.svg:\n"
        "training curves (with --log), the positional encoding at initialisation and\n"
        "after training with the cosine similarity of positions, the confusion matrix\n"
        "and per-class metrics on --data, attention maps of a few texts classified\n"
        "right and wrong, per-head entropy, distance and importance, and a model card.\n"
        "attend train --report DIR writes the same page at the end of training.\n",
        "attend report --model wordnet.safetensors --data val.tsv --log train.jsonl --out report", opts,
        CLI_N(opts), NULL, NULL};
    int pr = cli_parse(&cmd, argc, argv);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    if (!model_path || !ro.data_path || !dir)
        return cli_usage_error("report", "report needs --model MODEL, --data FILE and --out DIR");
    cli_set_threads(threads);
    attend_epoch_report *epochs = NULL;
    size_t n_epochs = 0;
    attend_error err = {0};
    if (log_path && attend_train_log_read(log_path, &epochs, &n_epochs, &err)) {
        free(epochs);
        return cli_fail(&err);
    }
    ro.epochs = epochs;
    ro.n_epochs = n_epochs;
    int rc = cli_write_report(model_path, &ro, dir);
    free(epochs);
    return rc;
}
