/* Small helpers for argument parsing and error reporting in the CLI. */
#include "cli.h"
#include "train/train.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("attend: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nattend: run 'attend %s --help' for usage\n", cmd);
    return CLI_USAGE;
}

int cli_fail(const attend_error *err) {
    fprintf(stderr, "attend: %s\n", err->msg[0] ? err->msg : attend_status_name(err->status));
    return CLI_FAIL;
}

int cli_parse_size(const char *cmd, const char *flag, const char *val, size_t min, size_t max,
                   size_t *out) {
    char *end;
    errno = 0;
    if (!val || !*val || *val == '-') {
        cli_usage_error(cmd, "%s expects a whole number in [%zu, %zu]", flag, min, max);
        return -1;
    }
    unsigned long long v = strtoull(val, &end, 10);
    if (errno || *end || v < min || v > max) {
        cli_usage_error(cmd, "%s %s: expected a whole number in [%zu, %zu]", flag, val, min, max);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

int cli_parse_float(const char *cmd, const char *flag, const char *val, double min, double max,
                    float *out) {
    char *end;
    errno = 0;
    double v = val ? strtod(val, &end) : 0.0;
    if (!val || !*val || errno || *end || !(v >= min && v <= max)) {
        cli_usage_error(cmd, "%s %s: expected a number in [%g, %g]", flag, val ? val : "(missing)",
                        min, max);
        return -1;
    }
    *out = (float)v;
    return 0;
}

int cli_flag(int argc, char **argv, int *i, const char *flag, const char **val) {
    if (strcmp(argv[*i], flag) != 0) return 0;
    *val = *i + 1 < argc ? argv[++*i] : NULL;
    return 1;
}

int cli_data_flag(const char *cmd, int argc, char **argv, int *i, attend_data_options *d) {
    const char *v = NULL;
    attend_error err = {0};
    if (cli_flag(argc, argv, i, "--format", &v)) {
        if (!v || attend_data_format_parse(v, &d->format, &err) != ATTEND_OK) {
            cli_usage_error(cmd, "--format expects tsv, csv, fasttext or jsonl");
            return -1;
        }
        return 1;
    }
    if (cli_flag(argc, argv, i, "--text-col", &v)) {
        if (!v || !*v) { cli_usage_error(cmd, "--text-col needs a column name"); return -1; }
        d->text_col = v;
        return 1;
    }
    if (cli_flag(argc, argv, i, "--label-col", &v)) {
        if (!v || !*v) { cli_usage_error(cmd, "--label-col needs a column name"); return -1; }
        d->label_col = v;
        return 1;
    }
    if (strcmp(argv[*i], "--strict") == 0) {
        d->strict = 1;
        return 1;
    }
    return 0;
}

static size_t cli_warnings_ = 0;

void cli_print_warning(void *ctx, const char *msg) {
    (void)ctx;
    if (++cli_warnings_ <= 20) fprintf(stderr, "attend: warning: %s\n", msg);
    else if (cli_warnings_ == 21) fprintf(stderr, "attend: warning: (further warnings not shown)\n");
}

void cli_set_threads(size_t n) { attend_set_threads((int)n); }

int cli_precision_flag(const char *cmd, int argc, char **argv, int *i) {
    const char *v = NULL;
    if (!cli_flag(argc, argv, i, "--precision", &v)) return 0;
    if (v && !strcmp(v, "fp32")) attend_set_matmul_precision(ATTEND_MATMUL_FP32);
    else if (v && !strcmp(v, "bf16")) {
        attend_set_matmul_precision(ATTEND_MATMUL_BF16);
        if (!attend_matmul_bf16_native())
            fprintf(stderr, "attend: note: no AVX512-BF16 kernel here (the CPU lacks the "
                            "instructions or attend was built without dispatch): --precision bf16 "
                            "gives bf16 results but no speed-up over fp32\n");
    }
    else return cli_usage_error(cmd, "--precision expects fp32 or bf16"), -1;
    return 1;
}

/* "256,128" -> hidden sizes of the head. */
static int parse_hidden(const char *v, attend_model_config *m) {
    m->n_hidden = 0;
    if (!v || !*v) return -1;
    if (strcmp(v, "none") == 0 || strcmp(v, "0") == 0) return 0;
    const char *p = v;
    while (*p) {
        char *end;
        unsigned long long x = strtoull(p, &end, 10);
        if (end == p || x < 1 || x > 16384 || m->n_hidden == ATTEND_MAX_HEAD_HIDDEN) return -1;
        m->hidden[m->n_hidden++] = (size_t)x;
        if (*end == ',') end++;
        else if (*end) return -1;
        p = end;
    }
    return 0;
}

int cli_training_flag(const char *cmd, int argc, char **argv, int *i, attend_train_options *o,
                      size_t *threads) {
    attend_model_config *m = &o->model;
    const char *v = NULL;
    const char *a = argv[*i];
#define SIZE_FLAG(name, field, lo, hi)                                                   \
    if (cli_flag(argc, argv, i, name, &v))                                               \
        return cli_parse_size(cmd, name, v, lo, hi, &(field)) ? -1 : 1;
#define FLOAT_FLAG(name, field, lo, hi)                                                  \
    if (cli_flag(argc, argv, i, name, &v))                                               \
        return cli_parse_float(cmd, name, v, lo, hi, &(field)) ? -1 : 1;
    SIZE_FLAG("--min-freq", o->min_freq, 1, 1000000000)
    SIZE_FLAG("--max-vocab", o->max_vocab, 0, 16777216)
    SIZE_FLAG("--d-model", m->d_model, 1, 16384)
    SIZE_FLAG("--layers", m->num_layers, 0, ATTEND_MAX_LAYERS)
    SIZE_FLAG("--d-ff", m->dim_feedforward, 1, 16384)
    SIZE_FLAG("--max-len", m->max_len, 1, 16384)
    FLOAT_FLAG("--dropout", m->dropout, 0.0, 0.95)
    SIZE_FLAG("--epochs", o->epochs, 1, 100000)
    SIZE_FLAG("--batch", o->batch, 1, 4096)
    FLOAT_FLAG("--lr", o->lr, 1e-9, 10.0)
    FLOAT_FLAG("--warmup", o->warmup, 0.0, 1.0)
    FLOAT_FLAG("--weight-decay", o->weight_decay, 0.0, 10.0)
    FLOAT_FLAG("--clip", o->clip, 0.0, 1e6)
    FLOAT_FLAG("--label-smoothing", o->label_smoothing, 0.0, 0.99)
    SIZE_FLAG("--patience", o->patience, 0, 100000)
    SIZE_FLAG("--threads", *threads, 0, 1024)
#undef SIZE_FLAG
#undef FLOAT_FLAG
    int pr = cli_precision_flag(cmd, argc, argv, i);
    if (pr) return pr;
    if (cli_flag(argc, argv, i, "--seed", &v)) {
        size_t s;
        if (cli_parse_size(cmd, "--seed", v, 0, SIZE_MAX, &s)) return -1;
        o->seed = s;
        return 1;
    }
    if (cli_flag(argc, argv, i, "--pool", &v)) {
        if (v && !strcmp(v, "mean")) m->pool = ATTEND_POOL_MEAN;
        else if (v && !strcmp(v, "cls")) m->pool = ATTEND_POOL_CLS;
        else if (v && !strcmp(v, "max")) m->pool = ATTEND_POOL_MAX;
        else return cli_usage_error(cmd, "--pool expects mean, cls or max"), -1;
        return 1;
    }
    if (cli_flag(argc, argv, i, "--activation", &v)) {
        if (v && !strcmp(v, "relu")) m->activation = ATTEND_ACT_RELU;
        else if (v && !strcmp(v, "gelu")) m->activation = ATTEND_ACT_GELU;
        else return cli_usage_error(cmd, "--activation expects relu or gelu"), -1;
        return 1;
    }
    if (cli_flag(argc, argv, i, "--head-hidden", &v)) {
        if (parse_hidden(v, m))
            return cli_usage_error(cmd, "--head-hidden expects up to %d sizes like 256,128",
                                   ATTEND_MAX_HEAD_HIDDEN), -1;
        return 1;
    }
    if (cli_flag(argc, argv, i, "--class-weights", &v)) {
        if (v && !strcmp(v, "auto")) o->class_weights_auto = 1;
        else if (v && !strcmp(v, "none")) o->class_weights_auto = 0;
        else return cli_usage_error(cmd, "--class-weights expects auto or none"), -1;
        return 1;
    }
    if (strcmp(a, "--norm-first") == 0) {
        m->norm_first = 1;
        return 1;
    }
    return 0;
}

int cli_training_check(const char *cmd, const attend_train_options *o) {
    if (o->max_vocab >= 1 && o->max_vocab <= 3) {
        cli_usage_error(cmd, "--max-vocab %zu leaves no room beside <pad> <unk> <cls>; use 0 (no limit) or more than 3",
                        o->max_vocab);
        return -1;
    }
    if (o->model.pool == ATTEND_POOL_CLS && o->model.max_len < 2) {
        cli_usage_error(cmd, "--pool cls needs --max-len of at least 2");
        return -1;
    }
    return 0;
}
