/* attend tokenize: the token ids a model reads, one line out per line in. */
#define _POSIX_C_SOURCE 200809L /* fileno, isatty */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One output line for ids[0..n) (n_total: the whole text's). */
static void print_ids(const attend_model *m, const int32_t *ids, size_t n, size_t n_total,
                      int json) {
    if (!json) {
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", (int)ids[i]);
        fputc('\n', stdout);
        return;
    }
    fputs("{\"ids\":[", stdout);
    for (size_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", (int)ids[i]);
    fputs("],\"tokens\":[", stdout);
    for (size_t i = 0; i < n; i++) {
        if (i) fputc(',', stdout);
        const char *t = attend_model_token(m, ids[i]);
        cli_json_string(stdout, t ? t : "");
    }
    printf("],\"n_total\":%zu}\n", n_total);
}

int cli_tokenize(int argc, char **argv) {
    const char *model_path = NULL, *in_path = NULL;
    size_t max_len = 0;
    int json = 0;
    const cli_opt opts[] = {
        CLI_OPT(CLI_STRING, "--model", "PATH", &model_path, 0, 0,
                "model file, or a Hugging Face model folder (BERT family)"),
        CLI_OPT_DEF(CLI_SIZE, "--max-len", "N", &max_len, 0, 65536,
                    "tokens per text, special tokens included (BERT models)", "the model's"),
        CLI_OPT_SWITCH("--json", &json, "JSON lines: ids, tokens and n_total (the uncut count)"),
    };
    const cli_command cmd = {
        "tokenize", "attend tokenize --model PATH [--max-len N] [--json] [FILE|-]",
        "Prints, for each line of FILE (default: standard input), the token ids the\n"
        "model reads for it, separated by spaces: special tokens included ([CLS] ...\n"
        "[SEP] for BERT models) and cut at the model's maximum length (a folder's\n"
        "max_seq_length, else max_position_embeddings). A line that cannot be\n"
        "tokenized (invalid UTF-8) gives an empty line and a warning.\n",
        "echo 'Hello, world!' | attend tokenize --model all-MiniLM-L6-v2",
        opts, CLI_N(opts), &in_path, "input file"};
    int pr = cli_parse(&cmd, argc, argv);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    if (!model_path) return cli_usage_error("tokenize", "tokenize needs --model");

    attend_error err = {0};
    attend_model *m = NULL;
    attend_context *ctx = NULL;
    if (attend_model_load(&m, model_path, &err)) return cli_fail(&err);
    if (max_len && attend_model_set_max_len(m, max_len, &err)) {
        attend_model_free(m);
        return cli_usage_error("tokenize", "--max-len: %s", err.msg);
    }
    if (attend_context_new(&ctx, m, &err)) {
        attend_model_free(m);
        return cli_fail(&err);
    }
    const char *name;
    FILE *in = cli_open_input(in_path, &name);
    if (!in) {
        attend_context_free(ctx);
        attend_model_free(m);
        return CLI_FAIL;
    }
    const int interactive = isatty(fileno(in)) || isatty(fileno(stdout));
    const size_t cap = attend_model_max_len(m);
    int32_t *ids = malloc(cap * sizeof *ids);
    attend_line_reader lr;
    int rc = CLI_OK, lr_ready = 0;
    if (!ids) {
        attend_errorf(&err, ATTEND_ERR_NOMEM, "out of memory");
        rc = CLI_FAIL;
    } else if (attend_line_reader_init(&lr, in, name, 0, &err)) {
        rc = CLI_FAIL;
    } else {
        lr_ready = 1;
    }
    while (rc == CLI_OK) {
        const char *line;
        size_t len, n = 0, n_total = 0;
        int got = cli_next_line(&lr, name, &line, &len, &err);
        if (got <= 0) {
            if (got < 0) rc = CLI_FAIL;
            break;
        }
        attend_error lerr = {0};
        if (memchr(line, 0, len)) {
            fprintf(stderr, "attend: warning: %s:%zu: line holds a NUL byte; no ids\n", name, lr.line_no);
            n = 0;
        } else if (attend_tokenize(m, ctx, line, len, ids, cap, &n, &n_total, &lerr)) {
            /* a bad line must not shift the output: warn, print an empty line */
            fprintf(stderr, "attend: warning: %s:%zu: %s\n", name, lr.line_no, lerr.msg);
            n = n_total = 0;
        }
        print_ids(m, ids, n, n_total, json);
        if (interactive) fflush(stdout);
    }
    if (rc != CLI_OK) cli_fail(&err);
    if (lr_ready) attend_line_reader_free(&lr);
    cli_close_input(in);
    free(ids);
    attend_context_free(ctx);
    attend_model_free(m);
    if (fflush(stdout) != 0 && rc == CLI_OK) {
        fprintf(stderr, "attend: error writing the ids\n");
        rc = CLI_FAIL;
    }
    return rc;
}
