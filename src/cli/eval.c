/* attend eval: metrics of a model on labelled data. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_text(const attend_model *m, const attend_metrics *mt, const char *data) {
    const size_t K = mt->K;
    size_t w = 5;
    for (size_t k = 0; k < K; k++) {
        size_t l = strlen(attend_model_label(m, k));
        w = l > w ? l : w;
    }
    if (w > 40) w = 40;
    printf("data      %s\nN         %zu\nloss      %.4f\naccuracy  %.2f%%\nmacro-F1  %.4f\n\n", data,
           mt->n, mt->loss, 100.0 * mt->accuracy, mt->macro_f1);
    printf("%-*s  %9s  %9s  %9s  %9s\n", (int)w, "class", "precision", "recall", "F1", "support");
    for (size_t k = 0; k < K; k++)
        printf("%-*.*s  %9.4f  %9.4f  %9.4f  %9zu\n", (int)w, (int)w, attend_model_label(m, k),
               mt->precision[k], mt->recall[k], mt->f1[k], mt->support[k]);
    // confusion matrix: classes numbered to keep the table narrow
    printf("\nconfusion matrix (rows: true class, columns: predicted class, by number)\n");
    size_t cw = 3;
    for (size_t i = 0; i < K * K; i++) {
        char buf[32];
        size_t l = (size_t)snprintf(buf, sizeof buf, "%zu", mt->confusion[i]);
        cw = l > cw ? l : cw;
    }
    printf("%*s", 5, "");
    for (size_t k = 0; k < K; k++) printf(" %*zu", (int)cw, k + 1);
    printf("\n");
    for (size_t t = 0; t < K; t++) {
        printf("%4zu ", t + 1);
        for (size_t p = 0; p < K; p++) printf(" %*zu", (int)cw, mt->confusion[t * K + p]);
        printf("  %s\n", attend_model_label(m, t));
    }
}

/* Adds item to array a (key NULL) or object a; deletes item on failure. */
static int add_item(cJSON *a, const char *key, cJSON *item) {
    if (item && (key ? cJSON_AddItemToObject(a, key, item) : cJSON_AddItemToArray(a, item))) return 1;
    cJSON_Delete(item);
    return 0;
}

/* -1 when out of memory: every cJSON_Create* / Add* is checked, so a
 * document missing something is never printed. */
static int print_json(const attend_model *m, const attend_metrics *mt) {
    const size_t K = mt->K;
    cJSON *o = cJSON_CreateObject(), *labels = NULL, *per = NULL, *conf = NULL;
    int ok = o && cJSON_AddNumberToObject(o, "n", (double)mt->n) && cJSON_AddNumberToObject(o, "loss", mt->loss) &&
             cJSON_AddNumberToObject(o, "accuracy", mt->accuracy) &&
             cJSON_AddNumberToObject(o, "macro_f1", mt->macro_f1) && (labels = cJSON_AddArrayToObject(o, "labels")) &&
             (per = cJSON_AddObjectToObject(o, "per_class")) && (conf = cJSON_AddArrayToObject(o, "confusion"));
    for (size_t k = 0; ok && k < K; k++) {
        cJSON *c = NULL, *row = NULL;
        ok = add_item(labels, NULL, cJSON_CreateString(attend_model_label(m, k))) &&
             (c = cJSON_AddObjectToObject(per, attend_model_label(m, k))) &&
             cJSON_AddNumberToObject(c, "precision", mt->precision[k]) &&
             cJSON_AddNumberToObject(c, "recall", mt->recall[k]) && cJSON_AddNumberToObject(c, "f1", mt->f1[k]) &&
             cJSON_AddNumberToObject(c, "support", (double)mt->support[k]) && (row = cJSON_CreateArray());
        for (size_t p = 0; ok && p < K; p++)
            ok = add_item(row, NULL, cJSON_CreateNumber((double)mt->confusion[k * K + p]));
        if (row && !add_item(conf, NULL, row)) ok = 0; /* add_item deleted row */
    }
    return cli_print_json(o, ok);
}

int cli_eval(int argc, char **argv) {
    const char *model_path = NULL, *data_path = NULL;
    attend_data_options d = {0};
    size_t batch = 64, threads = 0;
    int json = 0;
    const cli_opt opts[] = {
        CLI_OPT(CLI_STRING, "--model", "FILE", &model_path, 0, 0, "model file from attend train"),
        CLI_OPT(CLI_STRING, "--data", "FILE", &data_path, 0, 0, "labelled data (same formats as train)"),
        CLI_OPTS_DATA(d),
        CLI_OPT_SWITCH("--json", &json,
                       "print one JSON object (n, loss, accuracy, macro_f1,\nlabels, per_class, confusion)"),
        CLI_OPT(CLI_SIZE, "--batch", "N", &batch, 1, 4096, "texts per forward pass"),
        CLI_OPTS_RUN(threads),
    };
    const cli_command cmd = {
        "eval", "attend eval --model MODEL --data FILE [--json] [options]",
        "Evaluates a classifier: N, loss, accuracy, macro-F1, per-class precision,\n"
        "recall, F1 and support, and the confusion matrix (rows: true, columns:\n"
        "predicted).\n",
        "attend eval --model wordnet.safetensors --data data/wordnet-nouns.tsv", opts, CLI_N(opts), NULL, NULL};
    int pr = cli_parse(&cmd, argc, argv);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    if (!model_path || !data_path) return cli_usage_error("eval", "eval needs --model and --data");
    cli_set_threads(threads);

    attend_error err = {0};
    attend_model *m = NULL;
    attend_metrics mt = {0};
    size_t n_malformed = 0, n_empty = 0;
    int rc = CLI_FAIL;
    d.on_warning = cli_print_warning;
    if (attend_model_load(&m, model_path, &err) ||
        attend_evaluate_file(m, data_path, &d, batch, &mt, &n_malformed, &n_empty, &err))
        goto fail;
    if (n_malformed || n_empty)
        fprintf(stderr, "attend: skipped %zu malformed record(s) and %zu text(s) without tokens\n",
                n_malformed, n_empty);
    if (json) {
        if (print_json(m, &mt)) {
            attend_errorf(&err, ATTEND_ERR_NOMEM, "out of memory");
            goto fail;
        }
    } else {
        print_text(m, &mt, data_path);
    }
    rc = CLI_OK;
fail:
    if (rc != CLI_OK) cli_fail(&err);
    attend_metrics_free(&mt);
    attend_model_free(m);
    return rc;
}
