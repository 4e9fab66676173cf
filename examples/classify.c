/* Classifies each line of standard input with a model from `attend train` and
 * prints the most likely label and its probability ("label 0.9876"), or an
 * empty line for a line without tokens. Uses only the public API.
 * Usage: classify_example MODEL.safetensors < texts.txt */
#include "attend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s MODEL.safetensors < texts.txt\n", argv[0]);
        return 2;
    }
    attend_error err;
    attend_model *m = NULL;      /* the weights: shared, read-only */
    attend_context *ctx = NULL;  /* what one thread writes while classifying */
    if (attend_model_load(&m, argv[1], &err) != ATTEND_OK ||
        attend_context_new(&ctx, m, &err) != ATTEND_OK) {
        fprintf(stderr, "%s: %s\n", argv[0], err.msg);
        attend_model_free(m);
        return 1;
    }
    size_t K = attend_model_num_labels(m);
    float *probs = malloc(K * sizeof *probs);
    static char line[1 << 16]; /* lines up to 64 KiB */
    if (!probs) return 1;
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strcspn(line, "\r\n"), n_tokens = 0, best = 0;
        if (attend_classify(m, ctx, line, len, probs, &n_tokens, &err) != ATTEND_OK)
            fprintf(stderr, "%s: %s\n", argv[0], err.msg);
        else if (n_tokens > 0) {
            for (size_t k = 1; k < K; k++)
                if (probs[k] > probs[best]) best = k;
            printf("%s %.4f", attend_model_label(m, best), (double)probs[best]);
        }
        putchar('\n');
    }
    free(probs);
    attend_context_free(ctx);
    attend_model_free(m);
    return 0;
}
