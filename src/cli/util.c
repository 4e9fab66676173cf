/* Helpers the subcommands share: messages, warnings, threads, JSON output,
 * the --text argument and the input of the line-per-text commands, and the
 * setters of options that are more than a number or a name. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

static size_t cli_warnings_ = 0;

void cli_print_warning(void *ctx, const char *msg) {
    (void)ctx;
    if (++cli_warnings_ <= 20) fprintf(stderr, "attend: warning: %s\n", msg);
    else if (cli_warnings_ == 21) fprintf(stderr, "attend: warning: (further warnings not shown)\n");
}

void cli_set_threads(size_t n) { attend_set_threads((int)n); }

void cli_json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

int cli_print_json(cJSON *o, int ok) {
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) return -1;
    printf("%s\n", s);
    cJSON_free(s);
    return 0;
}

/* Prints at most width columns of s (one column per code point), padded. */
void cli_put_cut(const char *s, size_t width) {
    size_t cols = 0;
    const char *p = s;
    while (*p && cols < width) {
        const char *q = p + 1;
        while ((*q & 0xC0) == 0x80) q++;
        fwrite(p, 1, (size_t)(q - p), stdout);
        p = q;
        cols++;
    }
    for (; cols < width; cols++) putchar(' ');
}

FILE *cli_open_input(const char *path, const char **name) {
    *name = "<stdin>";
    if (!path || strcmp(path, "-") == 0) return stdin;
    FILE *in = fopen(path, "rb");
    if (!in) {
        fprintf(stderr, "attend: cannot open %s for reading\n", path);
        return NULL;
    }
    *name = path;
    return in;
}

void cli_close_input(FILE *in) {
    if (in && in != stdin) fclose(in);
}

int cli_next_line(attend_line_reader *lr, const char *name, const char **line, size_t *len,
                  attend_error *err) {
    int too_long = 0;
    if (attend_line_reader_next(lr, line, len, &too_long, err)) return -1;
    if (!*line) return 0;
    if (too_long)
        fprintf(stderr, "attend: warning: %s:%zu: line longer than %zu bytes; using its start\n", name,
                lr->line_no, lr->max_bytes);
    return 1;
}

/* Reads all of stdin (the --text - case), without a final line break. */
static char *read_stdin(void) {
    size_t len = 0, cap = 4096;
    char *s = malloc(cap);
    size_t n;
    while (s && (n = fread(s + len, 1, cap - len - 1, stdin)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            char *t = realloc(s, cap * 2);
            if (!t) {
                free(s);
                return NULL;
            }
            s = t;
            cap *= 2;
        }
    }
    if (!s || ferror(stdin)) {
        free(s);
        return NULL;
    }
    while (len && (s[len - 1] == '\n' || s[len - 1] == '\r')) len--;
    s[len] = 0;
    return s;
}

int cli_set_format(void *dest, const char *v, char *why, size_t cap) {
    attend_error err = {0};
    if (attend_data_format_parse(v, dest, &err) == ATTEND_OK) return 0;
    (void)v;
    snprintf(why, cap, "expects tsv, csv, fasttext or jsonl");
    return -1;
}

int cli_set_precision(void *dest, const char *v, char *why, size_t cap) {
    (void)dest;
    if (!strcmp(v, "fp32")) {
        attend_set_matmul_precision(ATTEND_MATMUL_FP32);
        return 0;
    }
    if (!strcmp(v, "bf16")) {
        attend_set_matmul_precision(ATTEND_MATMUL_BF16);
        if (!attend_matmul_bf16_native())
            fprintf(stderr, "attend: note: no AVX512-BF16 kernel here (the CPU lacks the "
                            "instructions or attend was built without dispatch): --precision bf16 "
                            "gives bf16 results but no speed-up over fp32\n");
        return 0;
    }
    snprintf(why, cap, "expects fp32 or bf16");
    return -1;
}

/* "256,128" -> hidden sizes of the head; "none" or "0": no hidden layer. */
int cli_set_hidden(void *dest, const char *v, char *why, size_t cap) {
    attend_model_config *m = dest;
    m->n_hidden = 0;
    snprintf(why, cap, "expects up to %d sizes like 256,128", ATTEND_MAX_HEAD_HIDDEN);
    if (!*v) return -1;
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

int cli_set_class_weights(void *dest, const char *v, char *why, size_t cap) {
    if (!strcmp(v, "auto") || !strcmp(v, "none")) {
        *(int *)dest = v[0] == 'a';
        return 0;
    }
    snprintf(why, cap, "expects auto or none");
    return -1;
}

int cli_training_check(const char *cmd, const attend_train_options *o, size_t heads) {
    if (heads && o->model.d_model % heads != 0) {
        cli_usage_error(cmd, "--d-model %zu is not divisible by --heads %zu", o->model.d_model, heads);
        return -1;
    }
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

int cli_text_arg(const char *arg, char **owned, const char **text) {
    *owned = NULL;
    *text = arg;
    if (strcmp(arg, "-") != 0) return 0;
    if (!(*owned = read_stdin())) {
        fprintf(stderr, "attend: cannot read the text from standard input\n");
        return -1;
    }
    *text = *owned;
    return 0;
}

int cli_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcasecmp(s + n - k, suffix) == 0;
}
