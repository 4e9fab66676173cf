/* attend predict: one text per input line, one prediction line out. */
#define _POSIX_C_SOURCE 200809L /* fileno, isatty */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One input line's answer: the top k of K labels with their probabilities,
 * or an empty answer when the text has no tokens (n_tok == 0). */
static void print_prediction(const attend_model *m, const float *probs, size_t K, size_t k,
                             size_t n_tok, int json, size_t *order) {
    if (n_tok == 0) {
        fputs(json ? "{\"labels\":[],\"probs\":[]}\n" : "\n", stdout);
        return;
    }
    attend_top_labels(probs, K, k, order);
    if (json) {
        fputs("{\"labels\":[", stdout);
        for (size_t i = 0; i < k; i++) {
            if (i) fputc(',', stdout);
            cli_json_string(stdout, attend_model_label(m, order[i]));
        }
        fputs("],\"probs\":[", stdout);
        for (size_t i = 0; i < k; i++) printf("%s%.6g", i ? "," : "", (double)probs[order[i]]);
        fputs("]}\n", stdout);
    } else {
        for (size_t i = 0; i < k; i++)
            printf("%s%s %.4f", i ? " " : "", attend_model_label(m, order[i]), (double)probs[order[i]]);
        fputc('\n', stdout);
    }
}

/* Classifies each line of in and prints its answer, one output line per
 * input line. A line that cannot be classified gets a warning and an empty
 * answer, so that the output never shifts. Returns a CLI code (a read
 * error or no memory: CLI_FAIL with err filled). */
static int predict_lines(const attend_model *m, attend_context *ctx, FILE *in, const char *name,
                         size_t k, int json, attend_error *err) {
    const size_t K = attend_model_num_labels(m);
    const int interactive = isatty(fileno(in)) || isatty(fileno(stdout));
    float *probs = malloc(K * sizeof(float));
    size_t *order = malloc(K * sizeof(size_t));
    attend_line_reader lr;
    int rc = CLI_OK, got;
    if (!probs || !order) {
        attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
        rc = CLI_FAIL;
    } else if (attend_line_reader_init(&lr, in, name, 0, err)) {
        rc = CLI_FAIL;
    } else {
        const char *line;
        size_t len;
        while ((got = cli_next_line(&lr, name, &line, &len, err)) > 0) {
            size_t n_tok = 0;
            attend_error lerr = {0};
            if (memchr(line, 0, len)) {
                /* The data readers reject NUL bytes too; never glue words across one. */
                fprintf(stderr, "attend: warning: %s:%zu: line holds a NUL byte; no prediction\n", name,
                        lr.line_no);
            } else if (attend_classify(m, ctx, line, len, probs, &n_tok, &lerr) != ATTEND_OK) {
                fprintf(stderr, "attend: warning: %s:%zu: %s\n", name, lr.line_no, lerr.msg);
                n_tok = 0;
            }
            print_prediction(m, probs, K, k, n_tok, json, order);
            if (interactive) fflush(stdout);
        }
        if (got < 0) rc = CLI_FAIL;
        attend_line_reader_free(&lr);
    }
    free(probs);
    free(order);
    return rc;
}

int cli_predict(int argc, char **argv) {
    const char *model_path = NULL, *in_path = NULL;
    size_t k = 1, threads = 1;
    int json = 0;
    const cli_opt opts[] = {
        CLI_OPT(CLI_STRING, "--model", "FILE", &model_path, 0, 0, "model file from attend train"),
        CLI_OPT(CLI_SIZE, "-k", "K", &k, 1, 1000000, "labels per line"),
        CLI_OPT_SWITCH("--json", &json, "JSON lines"),
        CLI_OPT(CLI_SIZE, "--threads", "N", &threads, 0, 1024,
                "(default 1: one text at a time is fastest single-threaded)"),
        CLI_OPT_FUNC("--precision", "P", NULL, cli_set_precision,
                     "fp32 (default) or bf16 matmuls (see attend train --help)", ""),
    };
    const cli_command cmd = {
        "predict", "attend predict --model MODEL [-k K] [--json] [FILE|-]",
        "Classifies one text per line of FILE (default: standard input) and prints one\n"
        "line per input line, in order: the top K labels with their probabilities,\n"
        "\"label prob label prob ...\". An empty (or token-less) input line gives an\n"
        "empty output line. With --json each line is {\"labels\": [...], \"probs\": [...]}.\n",
        "echo 'a large cat with a mane' | attend predict --model wordnet.safetensors -k 3",
        opts, CLI_N(opts), &in_path, "input file"};
    int pr = cli_parse(&cmd, argc, argv);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    if (!model_path) return cli_usage_error("predict", "predict needs --model");
    cli_set_threads(threads);

    attend_error err = {0};
    attend_model *m = NULL;
    attend_context *ctx = NULL;
    if (attend_model_load(&m, model_path, &err) || attend_context_new(&ctx, m, &err)) {
        attend_model_free(m);
        return cli_fail(&err);
    }
    const size_t K = attend_model_num_labels(m);
    int rc = CLI_FAIL;
    const char *name;
    FILE *in = NULL;
    if (K == 0) {
        fprintf(stderr, "attend: %s is an encoder without a classification head: embed with it "
                        "(attend embed), or fine-tune it (attend train --init)\n", model_path);
    } else if ((in = cli_open_input(in_path, &name))) {
        rc = predict_lines(m, ctx, in, name, k < K ? k : K, json, &err);
        if (rc != CLI_OK) cli_fail(&err);
        cli_close_input(in);
        if (fflush(stdout) != 0 && rc == CLI_OK) {
            fprintf(stderr, "attend: error writing the predictions\n");
            rc = CLI_FAIL;
        }
    }
    attend_context_free(ctx);
    attend_model_free(m);
    return rc;
}
