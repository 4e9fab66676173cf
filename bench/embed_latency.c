/* Latency of one embedding: the C API call a program makes for one text.
 *
 *   embed_latency MODEL TEXT_FILE [--threads N] [--precision fp32|bf16]
 *                 [--calls N] [--tool NAME]
 *
 * MODEL is anything attend_model_load takes (a Hugging Face folder such as
 * all-MiniLM-L6-v2, or an attend model file). The first line of TEXT_FILE
 * is embedded (normalised, as the model's pipeline says) --calls times
 * (default 200) after 10 warm-up calls; prints, in the peers' format
 * (bench/embed_peers.py),
 *
 *     latency_p50 <TAB> TOOL <TAB> N <TAB> ms <TAB> ms
 *     latency_p99 <TAB> TOOL <TAB> N <TAB> ms <TAB> ms
 *
 * (nearest-rank percentiles of the per-call wall time, tokenization
 * included, loading not). TOOL defaults to "attend" or "attend-bf16".
 * Uses only the public header: this is what a C program calling attend
 * gets. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "attend.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* q-th percentile (1..100) of n sorted values, nearest rank. */
static double nearest_rank(const double *sorted, size_t n, int q) {
    size_t rank = ((size_t)q * n + 99) / 100;
    return sorted[rank > 0 ? rank - 1 : 0];
}

/* The first line of path (without its newline) into buf; 0 on success. */
static int first_line(const char *path, char *buf, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    int ok = fgets(buf, (int)cap, f) != NULL;
    fclose(f);
    if (!ok) {
        fprintf(stderr, "embed_latency: %s: empty, expected one text on its first line\n", path);
        return -1;
    }
    buf[strcspn(buf, "\r\n")] = '\0';
    return 0;
}

static int usage(void) {
    fprintf(stderr, "usage: embed_latency MODEL TEXT_FILE [--threads N] [--precision fp32|bf16]"
                    " [--calls N] [--tool NAME]\n");
    return 2;
}

int main(int argc, char **argv) {
    if (argc < 3) return usage();
    const char *model_path = argv[1], *text_path = argv[2], *tool = NULL;
    int threads = 1, calls = 200, bf16 = 0;
    for (int i = 3; i < argc; i++) {
        if (i + 1 >= argc) return usage();
        const char *a = argv[i], *v = argv[++i];
        if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--calls")) calls = atoi(v);
        else if (!strcmp(a, "--tool")) tool = v;
        else if (!strcmp(a, "--precision") && (!strcmp(v, "fp32") || !strcmp(v, "bf16")))
            bf16 = !strcmp(v, "bf16");
        else return usage();
    }
    if (threads < 1 || calls < 1) return usage();
    if (!tool) tool = bf16 ? "attend-bf16" : "attend";

    char text[4096];
    if (first_line(text_path, text, sizeof text)) return 1;
    attend_set_threads(threads);
    attend_set_matmul_precision(bf16 ? ATTEND_MATMUL_BF16 : ATTEND_MATMUL_FP32);

    attend_error err = {0};
    attend_model *m = NULL;
    attend_context *ctx = NULL;
    if (attend_model_load(&m, model_path, &err) || attend_context_new(&ctx, m, &err)) {
        fprintf(stderr, "embed_latency: %s\n", err.msg);
        attend_model_free(m);
        return 1;
    }
    size_t dim = attend_model_embed_dim(m), len = strlen(text);
    int normalize = attend_model_embed_normalize(m);
    float *vec = malloc(dim * sizeof *vec);
    double *ms = malloc((size_t)calls * sizeof *ms);
    int rc = vec && ms ? 0 : 1;
    for (int i = 0; !rc && i < 10 + calls; i++) {
        double t0 = now_ms();
        if (attend_embed(m, ctx, text, len, normalize, vec, NULL, &err)) {
            fprintf(stderr, "embed_latency: %s\n", err.msg);
            rc = 1;
        } else if (i >= 10) {
            ms[i - 10] = now_ms() - t0;
        }
    }
    if (!rc) {
        qsort(ms, (size_t)calls, sizeof *ms, cmp_double);
        printf("latency_p50\t%s\t%d\t%.4g\tms\n", tool, threads, nearest_rank(ms, (size_t)calls, 50));
        printf("latency_p99\t%s\t%d\t%.4g\tms\n", tool, threads, nearest_rank(ms, (size_t)calls, 99));
    }
    free(ms);
    free(vec);
    attend_context_free(ctx);
    attend_model_free(m);
    return rc;
}
