/* attend embed: one sentence embedding out per line in, streamed. Lines are
 * read in chunks; attend_embed_batch runs each chunk in batches of similar
 * length (no padding waste) and the vectors are written in input order, so
 * memory stays bounded by the chunk whatever the input's size. */
#define _POSIX_C_SOURCE 200809L /* fileno, isatty */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A chunk of input lines: their bytes one after another, NUL-separated. */
typedef struct {
    char *bytes;
    size_t used, cap;
    size_t *off, *len;
    const char **texts;
    int *bad;        /* 1: no vector for this line (warned) */
    size_t *n_tok;
    float *out;      /* (count, dim) */
    size_t count, cap_lines;
} chunk;

static int chunk_init(chunk *c, size_t lines, size_t dim) {
    memset(c, 0, sizeof *c);
    c->cap_lines = lines;
    c->off = malloc(lines * sizeof *c->off);
    c->len = malloc(lines * sizeof *c->len);
    c->texts = malloc(lines * sizeof *c->texts);
    c->bad = malloc(lines * sizeof *c->bad);
    c->n_tok = malloc(lines * sizeof *c->n_tok);
    c->out = malloc(lines * dim * sizeof *c->out);
    return c->off && c->len && c->texts && c->bad && c->n_tok && c->out;
}

static void chunk_free(chunk *c) {
    free(c->bytes);
    free(c->off);
    free(c->len);
    free(c->texts);
    free(c->bad);
    free(c->n_tok);
    free(c->out);
}

/* Appends a line (copied). 0 when out of memory. */
static int chunk_add(chunk *c, const char *line, size_t len, int bad) {
    if (c->used + len + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 1 << 16;
        while (cap < c->used + len + 1) cap *= 2;
        char *b = realloc(c->bytes, cap);
        if (!b) return 0;
        c->bytes = b;
        c->cap = cap;
    }
    memcpy(c->bytes + c->used, line, len);
    c->bytes[c->used + len] = 0;
    c->off[c->count] = c->used;
    c->len[c->count] = len;
    c->bad[c->count] = bad;
    c->used += len + 1;
    c->count++;
    return 1;
}

/* Embeds the chunk: one batch call; if a line fails (invalid UTF-8), line by
 * line so that only that line goes without a vector. */
static attend_status chunk_embed(chunk *c, const attend_model *m, attend_context *ctx,
                                 int normalize, const char *name, size_t first_line,
                                 attend_error *err) {
    const size_t dim = attend_model_embed_dim(m);
    size_t k = 0;
    for (size_t i = 0; i < c->count; i++) c->texts[i] = c->bytes + c->off[i];
    /* the good lines, packed in front (bad ones get no vector anyway) */
    const char **texts = malloc(c->count * sizeof *texts);
    size_t *lens = malloc(c->count * sizeof *lens), *idx = malloc(c->count * sizeof *idx);
    attend_status st = ATTEND_OK;
    if (!texts || !lens || !idx) {
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < c->count; i++)
        if (!c->bad[i]) texts[k] = c->texts[i], lens[k] = c->len[i], idx[k++] = i;
    attend_error berr = {0};
    if (attend_embed_batch(m, ctx, texts, lens, k, normalize, c->out, c->n_tok, &berr) == ATTEND_OK) {
        /* spread the packed rows back to their lines, last first */
        for (size_t j = k; j-- > 0;) {
            if (idx[j] != j) memcpy(c->out + idx[j] * dim, c->out + j * dim, dim * sizeof(float));
            c->n_tok[idx[j]] = c->n_tok[j];
        }
        goto done;
    }
    if (berr.status != ATTEND_ERR_FORMAT) {
        *err = berr;
        st = berr.status;
        goto done;
    }
    for (size_t j = 0; j < k; j++) {
        attend_error lerr = {0};
        size_t i = idx[j];
        if (attend_embed(m, ctx, c->texts[i], c->len[i], normalize, c->out + i * dim, &c->n_tok[i],
                         &lerr) == ATTEND_OK)
            continue;
        if (lerr.status != ATTEND_ERR_FORMAT) {
            *err = lerr;
            st = lerr.status;
            goto done;
        }
        fprintf(stderr, "attend: warning: %s:%zu: %s\n", name, first_line + i, lerr.msg);
        c->bad[i] = 1;
    }
done:
    free(texts);
    free(lens);
    free(idx);
    return st;
}

static void chunk_print(const chunk *c, size_t dim, int json) {
    for (size_t i = 0; i < c->count; i++) {
        const float *v = c->out + i * dim;
        if (json) fputs("{\"embedding\":[", stdout);
        for (size_t d = 0; !c->bad[i] && d < dim; d++)
            printf(d ? (json ? ",%.9g" : " %.9g") : "%.9g", (double)v[d]);
        if (json) printf("],\"n_tokens\":%zu}", c->bad[i] ? 0 : c->n_tok[i]);
        fputc('\n', stdout);
    }
}

/* Reads, embeds and prints chunk after chunk. */
static int run(const attend_model *m, attend_context *ctx, FILE *in, const char *name,
               size_t batch, int normalize, int json, attend_error *err) {
    const size_t dim = attend_model_embed_dim(m);
    const int interactive = isatty(fileno(in)) || isatty(fileno(stdout));
    attend_line_reader lr;
    chunk c;
    int ok = chunk_init(&c, batch, dim);
    if (!ok) {
        chunk_free(&c);
        attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for a chunk of %zu lines", batch);
        return CLI_FAIL;
    }
    if (attend_line_reader_init(&lr, in, name, 0, err)) {
        chunk_free(&c);
        return CLI_FAIL;
    }
    int rc = CLI_OK, eof = 0;
    while (!eof && rc == CLI_OK) {
        size_t first = lr.line_no + 1;
        c.count = c.used = 0;
        /* interactive: one line at a time, so each answer comes at once */
        while (c.count < (interactive ? 1 : batch)) {
            const char *line;
            size_t len;
            int got = cli_next_line(&lr, name, &line, &len, err);
            if (got < 0) {
                rc = CLI_FAIL;
                break;
            }
            if (got == 0) {
                eof = 1;
                break;
            }
            int nul = memchr(line, 0, len) != NULL;
            if (nul)
                fprintf(stderr, "attend: warning: %s:%zu: line holds a NUL byte; no embedding\n", name,
                        lr.line_no);
            if (!chunk_add(&c, line, len, nul)) {
                attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory reading %s", name);
                rc = CLI_FAIL;
            }
        }
        if (rc == CLI_OK && c.count && chunk_embed(&c, m, ctx, normalize, name, first, err))
            rc = CLI_FAIL;
        if (rc == CLI_OK) chunk_print(&c, dim, json);
        if (interactive) fflush(stdout);
    }
    attend_line_reader_free(&lr);
    chunk_free(&c);
    return rc;
}

int cli_embed(int argc, char **argv) {
    const char *model_path = NULL, *in_path = NULL;
    size_t max_len = 0, batch = 256, threads = 0;
    int json = 0, norm_on = 0, norm_off = 0, pool = -1;
    const cli_opt opts[] = {
        CLI_OPT(CLI_STRING, "--model", "PATH", &model_path, 0, 0,
                "a Hugging Face model folder (BERT family), or a model file"),
        {CLI_CHOICE, "--pooling", "KIND", &pool,
         "mean | cls | max | pooler (default: the folder's\n"
         "sentence-transformers pooling, else mean)", 0, 0, cli_pool_names, NULL, ""},
        CLI_OPT_SWITCH("--normalize", &norm_on, "unit-length vectors (default: when the folder's\n"
                                                "pipeline has a Normalize module)"),
        CLI_OPT_SWITCH("--no-normalize", &norm_off, "the pooled vectors as they are"),
        CLI_OPT_DEF(CLI_SIZE, "--max-len", "N", &max_len, 0, 65536,
                    "tokens per text, [CLS] and [SEP] included", "the folder's max_seq_length"),
        CLI_OPT(CLI_SIZE, "--batch", "N", &batch, 1, 1 << 20,
                "lines read at a time; each chunk runs in batches of\nsimilar length"),
        CLI_OPT_SWITCH("--json", &json, "JSON lines: {\"embedding\": [...], \"n_tokens\": N}"),
        CLI_OPTS_RUN(threads),
    };
    const cli_command cmd = {
        "embed",
        "attend embed --model PATH [--pooling KIND] [--normalize|--no-normalize] [--max-len N]\n"
        "                    [--batch N] [--threads N] [--json] [FILE|-]",
        "Prints one sentence embedding per line of FILE (default: standard input), in\n"
        "order: the vector's values separated by spaces (9 significant digits). The\n"
        "defaults come from the model folder: sentence-transformers' pooling, Normalize\n"
        "module and max_seq_length (all-MiniLM-L6-v2: mean, normalised, 256 tokens).\n"
        "The input is streamed: a chunk of --batch lines at a time. A line that cannot\n"
        "be read (invalid UTF-8, a NUL byte) gives an empty line and a warning.\n",
        "attend embed --model all-MiniLM-L6-v2 sentences.txt > vectors.txt",
        opts, CLI_N(opts), &in_path, "input file"};
    int pr = cli_parse(&cmd, argc, argv);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    if (!model_path) return cli_usage_error("embed", "embed needs --model");
    if (norm_on && norm_off) return cli_usage_error("embed", "--normalize and --no-normalize contradict");
    cli_set_threads(threads);

    attend_error err = {0};
    attend_model *m = NULL;
    attend_context *ctx = NULL;
    if (attend_model_load(&m, model_path, &err)) return cli_fail(&err);
    int rc = CLI_OK;
    if ((max_len && attend_model_set_max_len(m, max_len, &err)) ||
        (pool >= 0 && attend_model_set_embed_pool(m, (attend_pool_kind)pool, &err))) {
        rc = cli_usage_error("embed", "%s", err.msg);
        goto done;
    }
    if (attend_context_new(&ctx, m, &err)) {
        rc = cli_fail(&err);
        goto done;
    }
    const int normalize = norm_on ? 1 : norm_off ? 0 : attend_model_embed_normalize(m);
    const char *name;
    FILE *in = cli_open_input(in_path, &name);
    if (!in) {
        rc = CLI_FAIL;
        goto done;
    }
    rc = run(m, ctx, in, name, batch, normalize, json, &err);
    if (rc != CLI_OK) cli_fail(&err);
    cli_close_input(in);
    if (fflush(stdout) != 0 && rc == CLI_OK) {
        fprintf(stderr, "attend: error writing the embeddings\n");
        rc = CLI_FAIL;
    }
done:
    attend_context_free(ctx);
    attend_model_free(m);
    return rc;
}
