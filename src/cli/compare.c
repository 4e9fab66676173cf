/* attend compare: train several head counts and positional encodings with
 * everything else held fixed, and compare them (the heads experiment; the
 * runs themselves are attend_compare, src/viz/compare_run.c). */
#define _POSIX_C_SOURCE 200809L /* fileno, isatty */
#include "cli.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --heads 1,2,4,8 into an attend_compare_options */
static int set_heads(void *dest, const char *v, char *why, size_t cap) {
    attend_compare_options *o = dest;
    snprintf(why, cap, "expects distinct head counts like 1,2,4,8 (at most %d)",
             ATTEND_COMPARE_MAX_CONFIGS);
    o->n_heads = 0;
    const char *p = v;
    if (!*p) return -1;
    while (*p) {
        char *end;
        unsigned long long x = strtoull(p, &end, 10);
        if (end == p || x < 1 || x > 16384 || o->n_heads == ATTEND_COMPARE_MAX_CONFIGS) return -1;
        for (size_t k = 0; k < o->n_heads; k++)
            if (o->heads[k] == x) return -1;
        o->heads[o->n_heads++] = (size_t)x;
        if (*end == ',') end++;
        else if (*end) return -1;
        p = end;
    }
    return 0;
}

/* --pos learned,sinusoidal into an attend_compare_options */
static int set_pos(void *dest, const char *v, char *why, size_t cap) {
    attend_compare_options *o = dest;
    snprintf(why, cap, "expects a list of learned, sinusoidal, none");
    o->n_pos = 0;
    const char *p = v;
    while (*p) {
        size_t len = strcspn(p, ",");
        int k = -1;
        for (int i = 0; cli_pos_names[i]; i++)
            if (strlen(cli_pos_names[i]) == len && !strncmp(p, cli_pos_names[i], len)) k = i;
        if (k < 0 || o->n_pos == 3) return -1;
        for (size_t i = 0; i < o->n_pos; i++)
            if ((int)o->pos[i] == k) return -1;
        o->pos[o->n_pos++] = (attend_pos_kind)k;
        p += len + (p[len] == ',');
    }
    return o->n_pos ? 0 : -1;
}

/* --data FILE adds a data set; --val FILE and --name NAME belong to the
 * --data before them (given before any --data: to the first). */
static int set_data(void *dest, const char *v, char *why, size_t cap) {
    attend_compare_options *o = dest;
    snprintf(why, cap, "takes at most %d data sets", ATTEND_COMPARE_MAX_DATA);
    if (o->n_data == ATTEND_COMPARE_MAX_DATA) return -1;
    o->data[o->n_data++].data_path = v;
    return 0;
}

static int set_val_or_name(attend_compare_options *o, const char *v, int name, char *why, size_t cap) {
    attend_compare_data *d = &o->data[o->n_data ? o->n_data - 1 : 0];
    const char **slot = name ? &d->name : &d->val_path;
    snprintf(why, cap, "was given twice for the same --data (it belongs to the --data before it)");
    if (*slot) return -1;
    const char *ok = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
    snprintf(why, cap, "expects 1 to 48 letters, digits, '.', '_' or '-', not starting with '.'");
    if (name && (!*v || strlen(v) > 48 || v[strspn(v, ok)] || *v == '.')) return -1;
    *slot = v;
    return 0;
}

static int set_val(void *dest, const char *v, char *why, size_t cap) { return set_val_or_name(dest, v, 0, why, cap); }
static int set_name(void *dest, const char *v, char *why, size_t cap) { return set_val_or_name(dest, v, 1, why, cap); }

static int tty_;

static void on_epoch(void *ctx, const attend_epoch_report *r) {
    (void)ctx;
    if (!tty_) return;
    fprintf(stderr, "\r    epoch %zu/%zu  train loss %.4f  val loss %.4f  val acc %.2f%%   ", r->epoch, r->epochs,
            r->train_loss, r->val_loss, 100.0 * r->val_accuracy);
}

static void on_message(void *ctx, const char *msg) {
    (void)ctx;
    printf("%s\n", msg);
    fflush(stdout);
}

static void on_run(void *ctx, size_t i, size_t n, size_t heads, attend_pos_kind pos, uint64_t seed,
                   const attend_train_result *res) {
    (void)ctx;
    if (!res) {
        printf("[%zu/%zu] heads %zu, pos %s, seed %llu: ", i + 1, n, heads, attend_pos_name(pos),
               (unsigned long long)seed);
    } else {
        if (tty_) fprintf(stderr, "\r%*s\r", 78, "");
        printf("val loss %.4f, acc %.2f%%, macro-F1 %.4f, %zu params, %.1f s\n", res->best_val_loss,
               100.0 * res->best_val_accuracy, res->best_val_macro_f1, res->n_params, res->seconds);
    }
    fflush(stdout);
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
    attend_compare_options co;
    attend_compare_options_default(&co);
    attend_train_options *o = &co.train;
    size_t threads = 0;
    const cli_opt opts[] = {
        CLI_OPT_FUNC("--data", "FILE", &co, set_data,
                     "labelled text (same formats as train); repeat it to run the\n"
                     "same comparison on several data sets, side by side", ""),
        CLI_OPT_FUNC("--heads", "LIST", &co, set_heads, "head counts, e.g. 1,2,4,8 (each must divide --d-model)", ""),
        CLI_OPT_FUNC("--pos", "LIST", &co, set_pos, "learned,sinusoidal,none", "learned"),
        CLI_OPT(CLI_SIZE, "--seeds", "N", &co.n_seeds, 1, 100, "seeds per configuration: --seed, --seed+1, ..."),
        CLI_OPT(CLI_STRING, "--out", "DIR", &co.out_dir, 0, 0, "directory to write (created if missing)"),
        CLI_OPT_FUNC("--val", "FILE", &co, set_val,
                     "validation data of the --data before it (default: a\n"
                     "stratified --val-split of that --data)", ""),
        CLI_OPT_FUNC("--name", "NAME", &co, set_name,
                     "name of the --data before it, on the page and as its\n"
                     "directory DIR/NAME/ (letters, digits, . _ -)", "the file name"),
        CLI_OPT(CLI_STRING, "--note", "FILE", &co.note_path, 0, 0,
                "text for the page's summary in plain words (paragraphs\n"
                "split at blank lines), above the sentences made from the numbers"),
        CLI_OPT(CLI_SIZE, "--examples", "N", &co.n_examples, 0, 16,
                "validation texts on which the page shows where each head\n"
                "of the best multi-head model looks"),
        CLI_OPT(CLI_DOUBLE, "--val-split", "FRAC", &o->val_split, 0.01, 0.9, "validation fraction"),
        CLI_OPT(CLI_SIZE, "--stats-examples", "N", &co.stats_examples, 0, 100000000,
                "validation examples for per-head statistics"),
        CLI_OPT_SWITCH("--keep-models", &co.keep_models, "keep every model as DIR/models/hH-POS-sS.safetensors"),
        CLI_OPTS_DATA(o->data),
        CLI_OPT_HEADING("model and training flags, the same for every run (as attend train)"),
        CLI_OPTS_MODEL(*o),
        CLI_OPTS_TRAINING(*o),
        CLI_OPTS_RUN(threads),
    };
    const cli_command cmd = {
        "compare", "attend compare --data FILE --heads LIST --out DIR [options]",
        "Trains one classifier per (heads, positional encoding, seed) with the same\n"
        "data split, d_model, layers, epochs and seeds, so that only the number of\n"
        "heads (at equal parameter count: d_model is fixed) and the encoding vary;\n"
        "prints a table of validation loss, accuracy and macro-F1 (mean +/- std over\n"
        "seeds), parameters and seconds, and writes DIR/results.csv, runs.csv,\n"
        "results.json, table.md and index.html (accuracy and loss against heads, one\n"
        "line per encoding, error bars; learning curves; per-head entropy, distance\n"
        "and importance; the accuracy lost when each head of the best multi-head\n"
        "model is masked and its attention on a few validation texts).\n"
        "The seed (--seed) also seeds the split. With several --data, each data set\n"
        "gets these files in DIR/NAME/, and DIR/index.html puts them side by side\n"
        "(DIR/results.csv with a data column, DIR/table.md heads x data set).\n",
        "attend compare --data data/heads-task-train.tsv --val data/heads-task-val.tsv --name task --data data/wordnet-nouns.tsv --heads 1,2,4,8 --seeds 3 --out compare",
        opts, CLI_N(opts), NULL, NULL};
    int pr = cli_parse(&cmd, argc, argv);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    if (!co.data[0].data_path || !co.n_heads || !co.out_dir)
        return cli_usage_error("compare", "compare needs --data FILE, --heads LIST and --out DIR");
    for (size_t k = 0; k < co.n_heads; k++)
        if (o->model.d_model % co.heads[k])
            return cli_usage_error("compare", "--d-model %zu is not divisible by %zu heads; pick a d_model that "
                                   "every head count divides (e.g. 64 for 1,2,4,8)", o->model.d_model, co.heads[k]);
    if (cli_training_check("compare", o, 0)) return CLI_USAGE;
    cli_set_threads(threads);

    char command[2048];
    join_args(command, sizeof command, argc, argv);
    tty_ = isatty(fileno(stderr));
    co.command = command;
    co.on_message = on_message;
    co.on_run = on_run;
    o->data.on_warning = cli_print_warning;
    o->on_epoch = on_epoch;
    attend_error err = {0};
    char *md = NULL;
    if (attend_compare(&co, &md, &err)) {
        if (tty_) fputc('\n', stderr);
        return cli_fail(&err);
    }
    if (co.n_data > 1)
        printf("\n%s\ncompare: %s/index.html (also results.csv, table.md; each data set's own page and files "
               "in %s/NAME/)\n", md, co.out_dir, co.out_dir);
    else
        printf("\n%s\ncompare: %s/index.html (also results.csv, runs.csv, curves.csv, results.json, table.md)\n",
               md, co.out_dir);
    free(md);
    return CLI_OK;
}
