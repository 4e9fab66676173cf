/* attend predict: one text per input line, one prediction line out. */
#define _POSIX_C_SOURCE 200809L /* fileno, isatty */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    if (K == 0) {
        fprintf(stderr, "attend: %s is an encoder without a classification head: embed with it "
                        "(attend embed), or fine-tune it (attend train --init)\n", model_path);
        attend_context_free(ctx);
        attend_model_free(m);
        return CLI_FAIL;
    }
    if (k > K) k = K;

    FILE *in = stdin;
    const char *name = "<stdin>";
    if (in_path && strcmp(in_path, "-") != 0) {
        if (!(in = fopen(in_path, "rb"))) {
            fprintf(stderr, "attend: cannot open %s for reading\n", in_path);
            attend_model_free(m);
            return CLI_FAIL;
        }
        name = in_path;
    }
    const int interactive = isatty(fileno(in)) || isatty(fileno(stdout));
    float *probs = malloc(K * sizeof(float));
    size_t *order = malloc(K * sizeof(size_t));
    attend_line_reader lr;
    int rc = CLI_OK, lr_ready = 0;
    if (!probs || !order) {
        attend_errorf(&err, ATTEND_ERR_NOMEM, "out of memory");
        rc = CLI_FAIL;
        goto done;
    }
    if (attend_line_reader_init(&lr, in, name, 0, &err)) {
        rc = CLI_FAIL;
        goto done;
    }
    lr_ready = 1;
    for (;;) {
        const char *line;
        size_t len;
        int too_long = 0;
        if (attend_line_reader_next(&lr, &line, &len, &too_long, &err)) {
            rc = CLI_FAIL;
            goto done;
        }
        if (!line) break;
        if (too_long)
            fprintf(stderr, "attend: warning: %s:%zu: line longer than %zu bytes; using its start\n",
                    name, lr.line_no, lr.max_bytes);
        size_t n_tok = 0;
        attend_error lerr = {0};
        if (memchr(line, 0, len)) {
            /* The data readers reject NUL bytes too; never glue words across one. */
            fprintf(stderr, "attend: warning: %s:%zu: line holds a NUL byte; no prediction\n", name,
                    lr.line_no);
        } else if (attend_classify(m, ctx, line, len, probs, &n_tok, &lerr) != ATTEND_OK) {
            /* A bad line must not shift the output: warn and print an empty line. */
            fprintf(stderr, "attend: warning: %s:%zu: %s\n", name, lr.line_no, lerr.msg);
            n_tok = 0;
        }
        if (n_tok == 0) {
            fputs(json ? "{\"labels\":[],\"probs\":[]}\n" : "\n", stdout);
        } else {
            // top k by probability, ties by label order
            for (size_t i = 0; i < K; i++) order[i] = i;
            for (size_t i = 0; i < k; i++) {
                size_t best = i;
                for (size_t j = i + 1; j < K; j++)
                    if (probs[order[j]] > probs[order[best]]) best = j;
                size_t t = order[i];
                order[i] = order[best];
                order[best] = t;
            }
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
                    printf("%s%s %.4f", i ? " " : "", attend_model_label(m, order[i]),
                           (double)probs[order[i]]);
                fputc('\n', stdout);
            }
        }
        if (interactive) fflush(stdout);
    }
done:
    if (rc != CLI_OK) cli_fail(&err);
    if (lr_ready) attend_line_reader_free(&lr);
    if (in != stdin) fclose(in);
    free(probs);
    free(order);
    attend_context_free(ctx);
    attend_model_free(m);
    if (fflush(stdout) != 0 && rc == CLI_OK) {
        fprintf(stderr, "attend: error writing the predictions\n");
        rc = CLI_FAIL;
    }
    return rc;
}
