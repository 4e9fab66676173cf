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
