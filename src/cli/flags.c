/* The table-driven flag parser (see flags.h). */
#include "flags.h"
#include "cli.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

const char *const cli_pool_names[] = {"mean", "cls", "max", "pooler", NULL};
const char *const cli_activation_names[] = {"relu", "gelu", NULL};
const char *const cli_pos_names[] = {"learned", "sinusoidal", "none", NULL};

static const cli_opt *find(const cli_command *cmd, const char *arg) {
    for (size_t i = 0; i < cmd->n_opts; i++)
        if (cmd->opts[i].kind != CLI_HEADING && strcmp(cmd->opts[i].name, arg) == 0)
            return &cmd->opts[i];
    return NULL;
}

/* "a, b or c" */
static void choice_list(const char *const *c, char *out, size_t cap) {
    size_t n = 0, k = 0;
    while (c[n]) n++;
    out[0] = 0;
    for (size_t i = 0; i < n; i++)
        k += (size_t)snprintf(out + k, k < cap ? cap - k : 0, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                              c[i]);
}

int cli_given(const cli_command *cmd, int argc, char **argv, const char *name) {
    for (int i = 1; i < argc; i++) {
        const cli_opt *o = argv[i][0] == '-' && argv[i][1] ? find(cmd, argv[i]) : NULL;
        if (!o) continue;
        if (strcmp(o->name, name) == 0) return 1;
        if (o->kind != CLI_SWITCH) i++; /* its value */
    }
    return 0;
}

static int parse_value(const cli_command *cmd, const cli_opt *o, const char *v) {
    char *end;
    char why[256];
    errno = 0;
    switch (o->kind) {
    case CLI_SIZE:
    case CLI_U64: {
        unsigned long long x = v && *v && *v != '-' ? strtoull(v, &end, 10) : 0;
        if (!v || !*v || *v == '-' || errno || *end || (double)x < o->lo || (double)x > o->hi) {
            cli_usage_error(cmd->name, "%s %s: expected a whole number in [%.0f, %.0f]", o->name,
                            v ? v : "(missing)", o->lo, o->hi);
            return -1;
        }
        if (o->kind == CLI_SIZE) *(size_t *)o->dest = (size_t)x;
        else *(uint64_t *)o->dest = (uint64_t)x;
        return 0;
    }
    case CLI_FLOAT:
    case CLI_DOUBLE: {
        double x = v ? strtod(v, &end) : 0.0;
        if (!v || !*v || errno || *end || !(x >= o->lo && x <= o->hi)) {
            cli_usage_error(cmd->name, "%s %s: expected a number in [%g, %g]", o->name, v ? v : "(missing)",
                            o->lo, o->hi);
            return -1;
        }
        if (o->kind == CLI_FLOAT) *(float *)o->dest = (float)x;
        else *(double *)o->dest = x;
        return 0;
    }
    case CLI_STRING:
        if (!v || (!*v && !o->lo)) {
            cli_usage_error(cmd->name, "%s needs %s %s", o->name, o->meta && o->meta[0] == 'D' ? "a" : "a",
                            o->meta ? o->meta : "value");
            return -1;
        }
        *(const char **)o->dest = v;
        return 0;
    case CLI_CHOICE:
        for (size_t i = 0; v && o->choices[i]; i++)
            if (strcmp(v, o->choices[i]) == 0) {
                *(int *)o->dest = (int)i;
                return 0;
            }
        choice_list(o->choices, why, sizeof why);
        cli_usage_error(cmd->name, "%s expects %s", o->name, why);
        return -1;
    case CLI_FUNC:
        why[0] = 0;
        if (!v || o->set(o->dest, v, why, sizeof why)) {
            cli_usage_error(cmd->name, "%s %s", o->name, why[0] ? why : "needs a value");
            return -1;
        }
        return 0;
    default:
        return -1;
    }
}

int cli_parse(const cli_command *cmd, int argc, char **argv) {
    /* --help first: it shows the defaults, whatever else the line says */
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            cli_help(cmd, stdout);
            return 1;
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const cli_opt *o = a[0] == '-' && a[1] ? find(cmd, a) : NULL;
        if (!o) {
            if (a[0] == '-' && a[1]) {
                cli_usage_error(cmd->name, "unknown option '%s'", a);
                return -1;
            }
            if (!cmd->positional) {
                cli_usage_error(cmd->name, "unexpected argument '%s'", a);
                return -1;
            }
            if (*cmd->positional) {
                cli_usage_error(cmd->name, "one %s at most ('%s' and '%s')",
                                cmd->positional_name ? cmd->positional_name : "argument",
                                *cmd->positional, a);
                return -1;
            }
            *cmd->positional = a;
            continue;
        }
        if (o->kind == CLI_SWITCH) {
            *(int *)o->dest = 1;
            continue;
        }
        const char *v = i + 1 < argc ? argv[++i] : NULL;
        if (parse_value(cmd, o, v)) return -1;
    }
    return 0;
}

/* The current value of o as text, for "(default ...)"; "" when none. */
static void current(const cli_opt *o, char *out, size_t cap) {
    out[0] = 0;
    if (o->def) {
        snprintf(out, cap, "%s", o->def);
        return;
    }
    switch (o->kind) {
    case CLI_SIZE: snprintf(out, cap, "%zu", *(const size_t *)o->dest); break;
    case CLI_U64: snprintf(out, cap, "%llu", (unsigned long long)*(const uint64_t *)o->dest); break;
    case CLI_FLOAT: snprintf(out, cap, "%g", (double)*(const float *)o->dest); break;
    case CLI_DOUBLE: snprintf(out, cap, "%g", *(const double *)o->dest); break;
    case CLI_STRING:
        if (*(const char *const *)o->dest) snprintf(out, cap, "%s", *(const char *const *)o->dest);
        break;
    case CLI_CHOICE: snprintf(out, cap, "%s", o->choices[*(const int *)o->dest]); break;
    default: break;
    }
}

int cli_help_roff = 0;

/* s with roff's special characters escaped (backslash, and a leading dot or
 * quote that would read as a request). */
static void roff_text(FILE *f, const char *s) {
    int bol = 1;
    for (; *s; s++) {
        if (bol && (*s == '.' || *s == '\'')) fputs("\\&", f);
        if (*s == '\\') fputs("\\e", f);
        else if (*s == '-') fputs("\\-", f);
        else fputc(*s, f);
        bol = *s == '\n';
    }
}

/* The command as a section of attend(1). */
static void help_roff(const cli_command *cmd, FILE *f) {
    fprintf(f, ".SS %s\n.B ", cmd->name);
    roff_text(f, cmd->usage);
    fputs("\n.PP\n", f);
    if (cmd->about) roff_text(f, cmd->about);
    for (size_t i = 0; i < cmd->n_opts; i++) {
        const cli_opt *o = &cmd->opts[i];
        if (o->kind == CLI_HEADING) {
            fputs(".PP\n", f);
            roff_text(f, o->help);
            fputs(":\n", f);
            continue;
        }
        char def[160];
        current(o, def, sizeof def);
        fputs(".TP\n.B ", f);
        roff_text(f, o->name);
        if (o->meta) {
            fputs(" \\fI", f);
            roff_text(f, o->meta);
            fputs("\\fR", f);
        }
        fputc('\n', f);
        const char *help = o->help ? o->help : "";
        roff_text(f, help);
        int has_default = strstr(help, "(default") != NULL || (o->def && !o->def[0]) ||
                          o->kind == CLI_SWITCH || !def[0];
        if (!has_default) {
            fputs(help[0] ? " (default " : "(default ", f);
            roff_text(f, def);
            fputc(')', f);
        }
        fputc('\n', f);
    }
    if (cmd->example) {
        fputs(".PP\nExample:\n.EX\n", f);
        roff_text(f, cmd->example);
        fputs("\n.EE\n", f);
    }
}

void cli_help(const cli_command *cmd, FILE *f) {
    if (cli_help_roff) {
        help_roff(cmd, f);
        return;
    }
    fprintf(f, "usage: %s\n", cmd->usage);
    if (cmd->about) fprintf(f, "\n%s", cmd->about);
    fputc('\n', f);
    for (size_t i = 0; i < cmd->n_opts; i++) {
        const cli_opt *o = &cmd->opts[i];
        if (o->kind == CLI_HEADING) {
            fprintf(f, "%s:\n", o->help);
            continue;
        }
        char left[64], def[160], choices[128] = "";
        if (o->kind == CLI_CHOICE && !o->meta) choice_list(o->choices, choices, sizeof choices);
        snprintf(left, sizeof left, "%s%s%s", o->name, o->meta ? " " : "", o->meta ? o->meta : "");
        current(o, def, sizeof def);
        const char *help = o->help ? o->help : "";
        int has_default = strstr(help, "(default") != NULL || (o->def && !o->def[0]) ||
                          o->kind == CLI_SWITCH || !def[0];
        /* long option names get their own line */
        if (strlen(left) > 19) fprintf(f, "  %s\n  %-19s  ", left, "");
        else fprintf(f, "  %-19s  ", left);
        for (const char *h = help; *h; h++) {
            fputc(*h, f);
            if (*h == '\n') fprintf(f, "  %-19s  ", "");
        }
        if (!has_default) fprintf(f, "%s(default %s)", help[0] ? " " : "", def);
        fputc('\n', f);
    }
    if (cmd->example) fprintf(f, "\nExample: %s\n", cmd->example);
}
