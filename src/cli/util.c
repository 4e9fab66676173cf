/* Small helpers for argument parsing and error reporting in the CLI. */
#include "cli.h"

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
