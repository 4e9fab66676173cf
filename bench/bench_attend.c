/* attend's side of `make bench` (bench/run.sh runs it beside bench/torch_bench.py).
 *
 *   attend_bench [--threads N] [--quick] [--only LIST] [--data FILE] [--tmp DIR]
 *
 * Workloads (LIST is a comma-separated subset, default all):
 *   sgemm    cblas_sgemm on 4096x64 @ 64x192, 1024^3 and a loop of 128 small
 *            128x8 @ 8x128 products: the machine's BLAS figure for comparison
 *   train    one training step of the seed-002 classifier (d_model 64, 8 heads,
 *            2 layers, T 128, batch 32, learned positions, mean pooling,
 *            4 classes, vocabulary 23311) with d_ff 256 and with d_ff 2048:
 *            forward, cross-entropy, backward, gradient norm and clipping,
 *            AdamW, exactly as src/train.c does a step (and with the attention
 *            path it would pick: unfused while the activations fit 512 MiB)
 *   infer    forward of a batch of 32 texts of 128 tokens (no gradients)
 *   latency  attend_classify on one ~20-word text, many times: p50 and p99
 *   wordnet  attend_train on data/wordnet-nouns.tsv, 1 epoch, no validation,
 *            default settings, end to end (read, vocabulary, encode, train, save)
 *   attn     the attention op alone (batch 1, 8 heads, head dim 64) at
 *            T = 128, 512, 2048, 8192, forward and forward + backward: time and
 *            peak memory, each in a fresh child process; impl "attend" is the
 *            fused kernel (attend_sdpa_forward_fused / _backward_fused),
 *            "attend_unfused" attend_sdpa_forward / _backward with the (H,T,T)
 *            weights
 *
 * Data is synthetic from a fixed seed (except wordnet). Every measurement
 * prints one tab-separated line:
 *   BENCH <workload> attend <threads> <time_ms> <gflops> <extra>
 * time_ms is the median over the repetitions ("-" when skipped), gflops the
 * analytic FLOP count (matrix products only) divided by that time ("-" when
 * not meaningful), extra key=value notes. --quick shrinks every size so the
 * whole run takes a second or two (the CI smoke test). */
#define _POSIX_C_SOURCE 200809L
#include "base/rng.h"
#include "kernels/kernels.h"
#include "attention/sdpa.h"
#include <math.h>
#include "model/model.h"
#include "nn/optimizer.h"
#include "train/train.h"
#include "base/util.h"

#include <cblas.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ------------------------------------------------------------------------ */
/* Options and helpers                                                      */
/* ------------------------------------------------------------------------ */

typedef struct {
    int threads;
    int quick;
    const char *only;
    const char *data;
    const char *tmp;
    const char *self; /* path of this executable, for the attention children */
    int bf16;         /* --precision bf16: matmuls in bf16, workload names end in _bf16 */
} bench_opts;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* q-quantile (0..1) of n sorted values, nearest rank. */
static double quantile(const double *sorted, size_t n, double q) {
    if (n == 0) return 0.0;
    size_t i = (size_t)(q * (double)n + 0.999999);
    if (i == 0) i = 1;
    if (i > n) i = n;
    return sorted[i - 1];
}

static void emit(const char *workload, int threads, double ms, double gflops,
                 const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static void emit(const char *workload, int threads, double ms, double gflops,
                 const char *fmt, ...) {
    char extra[512] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(extra, sizeof extra, fmt, ap);
        va_end(ap);
    }
    char tbuf[32] = "-", gbuf[32] = "-";
    if (ms >= 0) snprintf(tbuf, sizeof tbuf, "%.4f", ms);
    if (gflops >= 0) snprintf(gbuf, sizeof gbuf, "%.2f", gflops);
    printf("BENCH\t%s%s\tattend\t%d\t%s\t%s\t%s\n", workload,
           attend_get_matmul_precision() == ATTEND_MATMUL_BF16 ? "_bf16" : "", threads, tbuf, gbuf,
           extra[0] ? extra : "-");
    fflush(stdout);
}

static int wanted(const bench_opts *o, const char *name) {
    if (!o->only || !*o->only) return 1;
    size_t n = strlen(name);
    for (const char *p = o->only; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len == n && strncmp(p, name, n) == 0) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

/* Repeats fn: `warmup` untimed calls, then timed calls until at least
 * min_reps and budget_s seconds (or max_reps) are reached. Fills times
 * (sorted, ms) and returns their count. */
typedef void (*bench_fn)(void *ctx);
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
/* CPU time over wall time x threads of the last repeat(): how much of the
 * cores asked for the process got (spinning OpenMP threads count as busy). */
static double last_cpu_share = 0.0;
static int bench_threads = 1;
static size_t repeat(bench_fn fn, void *ctx, size_t warmup, size_t min_reps, size_t max_reps,
                     double budget_s, double *times) {
    for (size_t i = 0; i < warmup; i++) fn(ctx);
    size_t n = 0;
    double start = attend_now_s(), c0 = cpu_s();
    while (n < max_reps && (n < min_reps || attend_now_s() - start < budget_s)) {
        double t0 = attend_now_s();
        fn(ctx);
        times[n++] = (attend_now_s() - t0) * 1e3;
    }
    double wall = attend_now_s() - start;
    last_cpu_share = wall > 0 ? (cpu_s() - c0) / (wall * bench_threads) : 0.0;
    qsort(times, n, sizeof *times, cmp_double);
    return n;
}

#define MAX_REPS 100000

static void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "attend_bench: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* Deterministic synthetic numbers (splitmix64, as torch_bench.py does). */
static uint64_t synth_u64(uint64_t seed, uint64_t i) {
    return attend_mix64(seed + i * 0x9E3779B97F4A7C15ull);
}
static void fill_uniform(float *x, size_t n, uint64_t seed) {
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(synth_u64(seed, i) >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

/* Synthetic word i: i + 676 in base 26 with letters a..z (3+ letters, all
 * distinct), so the tokenizer keeps each as one token. */
static void synth_word(size_t i, char *buf) {
    char tmp[24];
    size_t x = i + 676, n = 0;
    while (x) {
        tmp[n++] = (char)('a' + x % 26);
        x /= 26;
    }
    for (size_t j = 0; j < n; j++) buf[j] = tmp[n - 1 - j];
    buf[n] = 0;
}

/* Reads a number from a "Key:   123 kB" line of /proc/self/status or
 * /proc/meminfo; -1 when unavailable. */
static long proc_kb(const char *file, const char *key) {
    FILE *f = fopen(file, "r");
    if (!f) return -1;
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
            v = strtol(line + kl + 1, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* ------------------------------------------------------------------------ */
/* sgemm: the machine's BLAS figure                                         */
/* ------------------------------------------------------------------------ */

typedef struct {
    int M, N, K, count; /* count products of (M,K) @ (K,N) */
    float *A, *B, *C;
} gemm_ctx;

/* In bf16 the product goes through attend's own matmul (src/matmul_bf16.c). */
static void gemm_bf16_run(void *p) {
    gemm_ctx *g = p;
    attend_gemm(0, 0, (size_t)g->M, (size_t)g->N, (size_t)g->K, 1.0f, g->A, (size_t)g->K, g->B,
                (size_t)g->N, 0.0f, g->C, (size_t)g->N);
}

static void gemm_run(void *p) {
    gemm_ctx *g = p;
    for (int i = 0; i < g->count; i++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, g->M, g->N, g->K, 1.0f,
                    g->A + (size_t)i * g->M * g->K, g->K, g->B + (size_t)i * g->K * g->N, g->N,
                    0.0f, g->C + (size_t)i * g->M * g->N, g->N);
}

static void bench_sgemm(const bench_opts *o, double *times) {
    struct { const char *name; int M, N, K, count; } cases[] = {
        {"sgemm_4096x64x192", 4096, 192, 64, 1},
        {"sgemm_1024x1024x1024", 1024, 1024, 1024, 1},
        {"sgemm_128x(128x8x128)", 128, 128, 8, 128},
    };
    if (o->quick) {
        cases[0].M = 512;
        cases[1].M = cases[1].N = cases[1].K = 128;
        cases[2].count = 16;
    }
    /* OpenBLAS's own threads here (attend keeps them at 1 and splits GEMMs
     * itself); restored below. */
    openblas_set_num_threads(o->threads);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        if (o->bf16 && cases[c].count > 1) continue; /* attention's products stay fp32 */
        gemm_ctx g = {cases[c].M, cases[c].N, cases[c].K, cases[c].count, NULL, NULL, NULL};
        size_t na = (size_t)g.M * g.K * g.count, nb = (size_t)g.K * g.N * g.count,
               nc = (size_t)g.M * g.N * g.count;
        g.A = xmalloc(na * sizeof(float));
        g.B = xmalloc(nb * sizeof(float));
        g.C = xmalloc(nc * sizeof(float));
        fill_uniform(g.A, na, 11);
        fill_uniform(g.B, nb, 12);
        size_t n = repeat(o->bf16 ? gemm_bf16_run : gemm_run, &g, 3, 5, MAX_REPS,
                          o->quick ? 0.05 : 0.5, times);
        double ms = quantile(times, n, 0.5);
        double flops = 2.0 * g.M * g.N * g.K * g.count;
        emit(cases[c].name, o->threads, ms, flops / (ms * 1e6), "min_ms=%.4f reps=%zu cpu=%.2f",
             times[0], n, last_cpu_share);
        free(g.A);
        free(g.B);
        free(g.C);
    }
    openblas_set_num_threads(1);
}

/* ------------------------------------------------------------------------ */
/* The seed-002 classifier on synthetic data                                */
/* ------------------------------------------------------------------------ */

static const char *const LABELS[4] = {"a", "b", "c", "d"};

/* A model with a vocabulary of V synthetic words, weights from seed 1. */
static attend_model *make_model(size_t V, size_t F, size_t T) {
    attend_error err = {0};
    attend_vocab_counter cnt;
    attend_vocab vocab;
    if (attend_vocab_counter_init(&cnt, &err)) goto fail;
    char w[24];
    for (size_t i = 0; i + ATTEND_VOCAB_NSPECIAL < V; i++) {
        synth_word(i, w);
        if (attend_vocab_counter_add(&cnt, w, strlen(w), &err)) goto fail;
    }
    if (attend_vocab_build(&vocab, &cnt, 1, 0, &err)) goto fail;
    attend_vocab_counter_free(&cnt);
    attend_model_config cfg;
    attend_model_config_default(&cfg);
    cfg.vocab_size = attend_vocab_size(&vocab);
    cfg.num_classes = 4;
    cfg.d_model = 64;
    cfg.nhead = 8;
    cfg.num_layers = 2;
    cfg.dim_feedforward = F;
    cfg.max_len = T;
    cfg.pos = ATTEND_POS_LEARNED;
    cfg.pool = ATTEND_POOL_MEAN;
    attend_model *m = NULL;
    attend_tokenizer *tok = NULL;
    if (attend_tokenizer_words_new(&tok, &vocab, &err) ||
        attend_model_create(&m, &cfg, tok, (char *const *)LABELS, &err))
        goto fail;
    attend_model_init_weights(m, 1);
    return m;
fail:
    fprintf(stderr, "attend_bench: cannot build the model: %s\n", err.msg);
    exit(1);
}

/* Matrix-product FLOPs of one forward of the classifier over (B,T). */
static double model_forward_flops(const attend_model_config *c, size_t B, size_t T) {
    const double E = (double)c->d_model, F = (double)c->dim_feedforward, BT = (double)(B * T);
    double layer = 2 * BT * E * 3 * E      /* q, k, v projections */
                   + 4 * (double)B * T * T * E /* scores and weights @ v, all heads */
                   + 2 * BT * E * E        /* out projection */
                   + 4 * BT * E * F;       /* linear1, linear2 */
    return (double)c->num_layers * layer + 2.0 * (double)B * E * (double)c->num_classes;
}

/* Everything one training step touches, allocated once (as attend_train). */
/* The activation layout is attend_train's (attend_train_acts_flags, which
 * says when the attention weights are kept and when they are recomputed);
 * ATTEND_BENCH_FUSED=0/1 forces one. */

typedef struct {
    attend_stepper s;
    size_t B, T, piece, step, total_steps, warmup, n_batches;
    int32_t *tokens, *targets;
    uint8_t *pad;
} train_ctx;

#define SYNTH_BATCHES 8

static void train_setup(train_ctx *t, size_t V, size_t F, size_t B, size_t T) {
    memset(t, 0, sizeof *t);
    attend_model *m = make_model(V, F, T);
    const attend_model_config *c = &m->cfg;
    t->B = B;
    t->T = T;
    /* attend_train's pieces; ATTEND_BENCH_PIECE=N times another size (0: the
     * whole batch as one piece) */
    const char *pe = getenv("ATTEND_BENCH_PIECE");
    t->piece = pe && *pe ? (size_t)strtoull(pe, NULL, 10) : ATTEND_TRAIN_PIECE;
    if (t->piece == 0 || t->piece > B) t->piece = B;
    int flags = attend_train_acts_flags(c, t->piece, T);
    const char *force = getenv("ATTEND_BENCH_FUSED");
    if (force && *force) flags = ATTEND_ACTS_GRAD | (atoi(force) ? ATTEND_ACTS_FUSED : 0);
    attend_error err = {0};
    // attend_train's defaults: clip 1.0, AdamW (0.9, 0.999, 1e-8), decay 0.01
    if (attend_stepper_init(&t->s, m, B, t->piece, T, flags, &err)) {
        fprintf(stderr, "attend_bench: %s\n", err.msg);
        exit(1);
    }
    // SYNTH_BATCHES batches of uniform random tokens (no padding), cycled
    t->tokens = xmalloc(SYNTH_BATCHES * B * T * sizeof(int32_t));
    t->targets = xmalloc(SYNTH_BATCHES * B * sizeof(int32_t));
    t->pad = calloc(B * T, 1);
    if (!t->pad) exit(1);
    const size_t Vr = c->vocab_size - ATTEND_VOCAB_NSPECIAL;
    for (size_t i = 0; i < SYNTH_BATCHES * B * T; i++)
        t->tokens[i] = (int32_t)(ATTEND_VOCAB_NSPECIAL + synth_u64(2, i) % Vr);
    for (size_t i = 0; i < SYNTH_BATCHES * B; i++) t->targets[i] = (int32_t)(synth_u64(3, i) % 4);
    // the schedule of a 10-epoch WordNet run; only the learning rate depends on it
    t->n_batches = 2300;
    t->total_steps = 10 * t->n_batches;
    t->warmup = (size_t)(0.05 * (double)t->total_steps);
}

static void train_free(train_ctx *t) {
    attend_model *m = t->s.m;
    attend_stepper_free(&t->s);
    attend_model_free(m);
    free(t->tokens);
    free(t->targets);
    free(t->pad);
}

/* One step: attend_stepper_step, the function attend_train's inner loop
 * calls (src/train/train.c), on the next synthetic batch. */
static void train_step(void *p) {
    train_ctx *t = p;
    const size_t B = t->B, T = t->T, which = t->step % SYNTH_BATCHES;
    const float lr = attend_lr_at(t->step, t->total_steps, t->warmup, 1e-3f);
    float loss;
    double gnorm;
    attend_error err;
    if (attend_stepper_step(&t->s, t->tokens + which * B * T, t->pad, t->targets + which * B, B,
                            T, lr, t->step + 1, attend_seed_child(1, 1000000 + t->step), &loss,
                            &gnorm, &err)) {
        fprintf(stderr, "attend_bench: training step: %s\n", err.msg);
        exit(1);
    }
    t->step++;
}

static size_t bench_V(const bench_opts *o) { return o->quick ? 1000 : 23311; }
static size_t bench_B(const bench_opts *o) { return o->quick ? 4 : 32; }
static size_t bench_T(const bench_opts *o) { return o->quick ? 16 : 128; }

static void bench_train(const bench_opts *o, double *times) {
    size_t ffs[2] = {256, 2048}, n_ff = 2;
    /* ATTEND_BENCH_TRAIN_FF=256 times one of the two (for profiling). */
    const char *e = getenv("ATTEND_BENCH_TRAIN_FF");
    if (e && *e) {
        ffs[0] = (size_t)strtoull(e, NULL, 10);
        n_ff = ffs[0] ? 1 : 2;
        if (!ffs[0]) ffs[0] = 256;
    }
    const size_t B = bench_B(o), T = bench_T(o);
    for (size_t i = 0; i < n_ff; i++) {
        train_ctx t;
        train_setup(&t, bench_V(o), ffs[i], B, T);
        size_t n = repeat(train_step, &t, 2, 5, MAX_REPS, o->quick ? 0.05 : 4.0, times);
        double ms = quantile(times, n, 0.5);
        double flops = 3.0 * model_forward_flops(&t.s.m->cfg, B, T);
        char name[64];
        snprintf(name, sizeof name, "train_step_ff%zu", ffs[i]);
        emit(name, o->threads, ms, flops / (ms * 1e6),
             "B=%zu piece=%zu T=%zu V=%zu params=%zu attention=%s min_ms=%.3f reps=%zu cpu=%.2f", B, t.piece, T,
             t.s.m->cfg.vocab_size, t.s.m->layout.total, t.s.acts_flags & ATTEND_ACTS_FUSED ? "fused" : "unfused", times[0], n,
             last_cpu_share);
        train_free(&t);
    }
}

/* ------------------------------------------------------------------------ */
/* Inference: a batch, and one text at a time                               */
/* ------------------------------------------------------------------------ */

typedef struct {
    attend_model *m;
    size_t B, T;
    float *acts, *probs;
    int32_t *tokens;
    uint8_t *pad;
} infer_ctx;

static void infer_run(void *p) {
    infer_ctx *c = p;
    attend_model_acts a;
    attend_model_acts_bind(&a, &c->m->cfg, c->B, c->T, ATTEND_ACTS_FUSED, c->acts);
    attend_model_forward(c->m, &a, c->tokens, c->pad, c->B, c->T, 0, 0);
    attend_softmax_forward(c->probs, a.logits, c->B, c->m->cfg.num_classes);
}

static void bench_infer(const bench_opts *o, double *times) {
    infer_ctx c;
    c.B = bench_B(o);
    c.T = bench_T(o);
    c.m = make_model(bench_V(o), 256, c.T);
    const size_t Vr = c.m->cfg.vocab_size - ATTEND_VOCAB_NSPECIAL;
    /* as attend_evaluate: fused attention, no (B,H,T,T) weights */
    c.acts = xmalloc(attend_model_acts_size(&c.m->cfg, c.B, c.T, ATTEND_ACTS_FUSED) * sizeof(float));
    c.probs = xmalloc(c.B * c.m->cfg.num_classes * sizeof(float));
    c.tokens = xmalloc(c.B * c.T * sizeof(int32_t));
    c.pad = calloc(c.B * c.T, 1);
    if (!c.pad) exit(1);
    for (size_t i = 0; i < c.B * c.T; i++)
        c.tokens[i] = (int32_t)(ATTEND_VOCAB_NSPECIAL + synth_u64(2, i) % Vr);
    size_t n = repeat(infer_run, &c, 2, 5, MAX_REPS, o->quick ? 0.05 : 3.0, times);
    double ms = quantile(times, n, 0.5);
    char name[64];
    snprintf(name, sizeof name, "infer_batch%zu_ff256", c.B);
    emit(name, o->threads, ms, model_forward_flops(&c.m->cfg, c.B, c.T) / (ms * 1e6),
         "B=%zu T=%zu texts_per_s=%.0f min_ms=%.3f reps=%zu cpu=%.2f", c.B, c.T,
         (double)c.B / (ms * 1e-3), times[0], n, last_cpu_share);
    free(c.acts);
    free(c.probs);
    free(c.tokens);
    free(c.pad);
    attend_model_free(c.m);
}

typedef struct {
    attend_model *m;
    attend_context *ctx;
    const char *text;
    size_t len, n_tokens;
    float probs[4];
} classify_ctx;

static void classify_run(void *p) {
    classify_ctx *c = p;
    attend_error err;
    if (attend_classify(c->m, c->ctx, c->text, c->len, c->probs, &c->n_tokens, &err) != ATTEND_OK) {
        fprintf(stderr, "attend_bench: attend_classify: %s\n", err.msg);
        exit(1);
    }
}

/* The ~20-word text of the latency workload (torch_bench.py builds the same). */
static void latency_text(char *buf, size_t cap, size_t V) {
    size_t k = 0;
    char w[24];
    for (size_t j = 0; j < 20; j++) {
        synth_word((size_t)(synth_u64(5, j) % (V - ATTEND_VOCAB_NSPECIAL)), w);
        k += (size_t)snprintf(buf + k, cap - k, "%s%s", j ? " " : "", w);
    }
    snprintf(buf + k, cap - k, ".");
}

static void bench_latency(const bench_opts *o, double *times) {
    classify_ctx c;
    attend_error err;
    c.m = make_model(bench_V(o), 256, 128);
    if (attend_context_new(&c.ctx, c.m, &err)) {
        fprintf(stderr, "attend_bench: %s\n", err.msg);
        exit(1);
    }
    char text[512];
    latency_text(text, sizeof text, c.m->cfg.vocab_size);
    c.text = text;
    c.len = strlen(text);
    size_t reps = o->quick ? 200 : 5000;
    size_t n = repeat(classify_run, &c, 20, reps, reps, 0.0, times);
    double p50 = quantile(times, n, 0.5), p99 = quantile(times, n, 0.99);
    double flops = model_forward_flops(&c.m->cfg, 1, c.n_tokens);
    emit("latency_p50_ff256", o->threads, p50, flops / (p50 * 1e6),
         "tokens=%zu reps=%zu min_ms=%.4f cpu=%.2f", c.n_tokens, n, times[0], last_cpu_share);
    emit("latency_p99_ff256", o->threads, p99, -1, "tokens=%zu reps=%zu max_ms=%.4f", c.n_tokens, n,
         times[n - 1]);
    attend_context_free(c.ctx);
    attend_model_free(c.m);
}

/* ------------------------------------------------------------------------ */
/* One WordNet epoch, end to end                                            */
/* ------------------------------------------------------------------------ */

static void epoch_cb(void *ctx, const attend_epoch_report *r) {
    *(attend_epoch_report *)ctx = *r;
}

/* Copies the first n lines of src to dst (the --quick data). */
static int head_lines(const char *src, const char *dst, size_t n) {
    FILE *in = fopen(src, "rb");
    if (!in) return -1;
    FILE *out = fopen(dst, "wb");
    if (!out) {
        fclose(in);
        return -1;
    }
    int ch;
    size_t lines = 0;
    while (lines < n && (ch = fgetc(in)) != EOF) {
        fputc(ch, out);
        lines += ch == '\n';
    }
    fclose(in);
    return fclose(out);
}

static void bench_wordnet(const bench_opts *o) {
    char model_path[1024], data_path[1024];
    snprintf(model_path, sizeof model_path, "%s/attend_bench_wordnet.%ld.safetensors", o->tmp,
             (long)getpid());
    const char *data = o->data;
    if (o->quick) {
        snprintf(data_path, sizeof data_path, "%s/attend_bench_wordnet.%ld.tsv", o->tmp, (long)getpid());
        if (head_lines(o->data, data_path, 400) != 0) {
            emit("wordnet_epoch", o->threads, -1, -1, "skipped: cannot read %s or write %s", o->data,
                 data_path);
            return;
        }
        data = data_path;
    }
    attend_train_options opt;
    attend_train_options_default(&opt);
    opt.data_path = data;
    opt.out_path = model_path;
    opt.epochs = 1;
    opt.val_split = 0.0;
    attend_epoch_report rep;
    memset(&rep, 0, sizeof rep);
    opt.on_epoch = epoch_cb;
    opt.ctx = &rep;
    attend_train_result res;
    attend_error err = {0};
    double t0 = attend_now_s(), c0 = cpu_s();
    attend_status st = attend_train(&opt, &res, &err);
    double ms = (attend_now_s() - t0) * 1e3;
    double share = (cpu_s() - c0) / ((attend_now_s() - t0) * o->threads);
    if (st != ATTEND_OK)
        emit("wordnet_epoch", o->threads, -1, -1, "failed: %s", err.msg);
    else
        emit("wordnet_epoch", o->threads, ms, -1,
             "examples=%zu vocab=%zu train_loss=%.4f train_s=%.2f tokens_per_s=%.0f cpu=%.2f",
             res.n_train, res.vocab_size, rep.train_loss, rep.seconds, rep.tokens_per_s, share);
    remove(model_path);
    if (o->quick) remove(data_path);
}

/* ------------------------------------------------------------------------ */
/* The attention op alone                                                   */
/* ------------------------------------------------------------------------ */

enum { ATT_H = 8, ATT_D = 64 };

/* Two implementations of the op:
 *   fused    attend_sdpa_forward_fused / attend_sdpa_backward_fused_out (what
 *            multi-head attention runs for inference and long inputs): no
 *            (H,T,T) array; the forward saves the row log-sum-exp (H,T), the
 *            backward reads it and the output; past 512 keys both go
 *            through the keys in blocks (online softmax)
 *   unfused  attend_sdpa_forward / _backward: the (H,T,T) weights
 * Bytes each needs: q, k, v, out (+ dout, dq, dk, dv) plus the above. */
static double attn_bytes(size_t T, int backward, int fused) {
    double td = (double)T * ATT_H * ATT_D, tt = (double)ATT_H * (double)T * (double)T;
    double io = backward ? 8 * td : 4 * td;
    if (fused) return 4.0 * (io + (backward ? (double)ATT_H * (double)T : 0.0));
    return 4.0 * (io + tt);
}

static double attn_flops(size_t T, int backward) {
    double f = 4.0 * ATT_H * (double)T * (double)T * ATT_D; /* q k^T and p v */
    return backward ? 3.0 * f : f;                            /* + dv, dp, dq, dk */
}

typedef struct {
    size_t T;
    int backward, fused;
    float *q, *k, *v, *out, *probs, *lse, *dout, *dq, *dk, *dv;
} attn_ctx;

static void attn_run(void *p) {
    attn_ctx *a = p;
    const size_t T = a->T, E = ATT_H * ATT_D;
    if (a->fused)
        attend_sdpa_forward_fused(a->out, a->backward ? a->lse : NULL, a->q, a->k, a->v, NULL, 1,
                                  ATT_H, T, T, ATT_D, 0.0f, 0);
    else
        attend_sdpa_forward(a->out, a->probs, a->q, a->k, a->v, NULL, 1, ATT_H, T, T, ATT_D, 0.0f, 0);
    if (!a->backward) return;
    memset(a->dq, 0, T * E * sizeof(float));
    memset(a->dk, 0, T * E * sizeof(float));
    memset(a->dv, 0, T * E * sizeof(float));
    if (a->fused)
        attend_sdpa_backward_fused_out(a->dq, a->dk, a->dv, a->dout, a->out, a->q, a->k, a->v,
                                       a->lse, NULL, 1, ATT_H, T, T, ATT_D, 0.0f, 0);
    else
        attend_sdpa_backward(a->dq, a->dk, a->dv, a->dout, a->q, a->k, a->v, a->probs,
                             NULL, 1, ATT_H, T, T, ATT_D, 0.0f, 0);
}

static const char *attn_impl(int fused) { return fused ? "attend" : "attend_unfused"; }

/* In a fresh process (attend_bench --attn-child T MODE IMPL): one size, one
 * mode, one implementation. Peak memory is the growth of the resident
 * high-water mark over the run. */
static int attn_child(const bench_opts *o, size_t T, int backward, int fused, double *times) {
    long rss0 = proc_kb("/proc/self/status", "VmRSS");
    /* Reset the high-water mark to the current RSS (Linux >= 4.0). */
    FILE *cr = fopen("/proc/self/clear_refs", "w");
    if (cr) {
        fputs("5", cr);
        fclose(cr);
    }
    const size_t E = ATT_H * ATT_D, n = T * E, tt = (size_t)ATT_H * T * T;
    attn_ctx a;
    memset(&a, 0, sizeof a);
    a.T = T;
    a.backward = backward;
    a.fused = fused;
    a.q = xmalloc(n * sizeof(float));
    a.k = xmalloc(n * sizeof(float));
    a.v = xmalloc(n * sizeof(float));
    a.out = xmalloc(n * sizeof(float));
    if (!fused) a.probs = xmalloc(tt * sizeof(float));
    fill_uniform(a.q, n, 21);
    fill_uniform(a.k, n, 22);
    fill_uniform(a.v, n, 23);
    if (backward) {
        a.dout = xmalloc(n * sizeof(float));
        a.dq = xmalloc(n * sizeof(float));
        a.dk = xmalloc(n * sizeof(float));
        a.dv = xmalloc(n * sizeof(float));
        if (fused) a.lse = xmalloc((size_t)ATT_H * T * sizeof(float));
        fill_uniform(a.dout, n, 24);
    }
    /* One timed run first; it decides the repetitions (about 2 s in all,
     * 0.1 s with --quick; at least 1). */
    double t0 = attend_now_s(), c0 = cpu_s();
    attn_run(&a);
    double first = attend_now_s() - t0;
    double budget = o->quick ? 0.1 : 2.0;
    size_t n_t;
    if (first > budget / 2) {
        times[0] = first * 1e3;
        n_t = 1;
        last_cpu_share = (cpu_s() - c0) / (first * o->threads);
    } else {
        n_t = repeat(attn_run, &a, 0, 3, MAX_REPS, budget, times);
    }
    double ms = quantile(times, n_t, 0.5);
    long hwm = proc_kb("/proc/self/status", "VmHWM");
    double peak_mib = hwm >= 0 && rss0 >= 0 ? (double)(hwm - rss0) / 1024.0 : -1.0;
    char name[64];
    snprintf(name, sizeof name, "attn_%s_T%zu", backward ? "fwdbwd" : "fwd", T);
    char tbuf[32], gbuf[32];
    snprintf(tbuf, sizeof tbuf, "%.4f", ms);
    snprintf(gbuf, sizeof gbuf, "%.2f", attn_flops(T, backward) / (ms * 1e6));
    printf("BENCH\t%s\t%s\t%d\t%s\t%s\tpeak_mib=%.1f api_mib=%.1f min_ms=%.3f reps=%zu cpu=%.2f\n",
           name, attn_impl(fused), o->threads, tbuf, gbuf, peak_mib,
           attn_bytes(T, backward, fused) / 1048576.0, times[0], n_t, last_cpu_share);
    fflush(stdout);
    free(a.q);
    free(a.k);
    free(a.v);
    free(a.out);
    free(a.probs);
    free(a.lse);
    free(a.dout);
    free(a.dq);
    free(a.dk);
    free(a.dv);
    return 0;
}

/* A line for a measurement that did not run. */
static void attn_skip(const char *name, int fused, int threads, const char *why) {
    printf("BENCH\t%s\t%s\t%d\t-\t-\t%s\n", name, attn_impl(fused), threads, why);
    fflush(stdout);
}

static void bench_attn(const bench_opts *o) {
    size_t full[] = {128, 512, 2048, 8192}, quick[] = {32, 64};
    const size_t *Ts = o->quick ? quick : full;
    size_t nT = o->quick ? 2 : 4;
    /* ATTEND_BENCH_ATTN_T="128 512" overrides the sizes. */
    size_t env_T[16];
    const char *s = getenv("ATTEND_BENCH_ATTN_T");
    if (s && *s) {
        nT = 0;
        char *end;
        while (*s && nT < 16) {
            unsigned long long v = strtoull(s, &end, 10);
            if (end == s) break;
            if (v > 0) env_T[nT++] = (size_t)v;
            s = end;
            while (*s == ' ' || *s == ',') s++;
        }
        Ts = env_T;
    }
    /* ATTEND_BENCH_UNFUSED=0 leaves out the unfused path (slow at T = 8192). */
    const char *u = getenv("ATTEND_BENCH_UNFUSED");
    const int with_unfused = !(u && *u && atoi(u) == 0);
    double avail = (double)proc_kb("/proc/meminfo", "MemAvailable") * 1024.0;
    for (size_t i = 0; i < nT; i++) {
        for (int bwd = 0; bwd <= 1; bwd++) {
            for (int fused = 1; fused >= (with_unfused ? 0 : 1); fused--) {
                char name[64];
                snprintf(name, sizeof name, "attn_%s_T%zu", bwd ? "fwdbwd" : "fwd", Ts[i]);
                double need = attn_bytes(Ts[i], bwd, fused);
                char why[160];
                if (avail > 0 && need > 0.5 * avail) {
                    snprintf(why, sizeof why, "skipped: needs %.1f GiB (%.1f GiB available)",
                             need / 1073741824.0, avail / 1073741824.0);
                    attn_skip(name, fused, o->threads, why);
                    continue;
                }
                /* fork + exec: a fresh process (OpenMP is not fork-safe). */
                char targ[32], thr[16];
                snprintf(targ, sizeof targ, "%zu", Ts[i]);
                snprintf(thr, sizeof thr, "%d", o->threads);
                fflush(stdout);
                pid_t pid = fork();
                if (pid < 0) {
                    snprintf(why, sizeof why, "failed: fork: %s", strerror(errno));
                    attn_skip(name, fused, o->threads, why);
                    continue;
                }
                if (pid == 0) {
                    char *argv[] = {(char *)o->self, "--attn-child", targ, bwd ? "fwdbwd" : "fwd",
                                    fused ? "fused" : "unfused", "--threads", thr,
                                    o->quick ? "--quick" : NULL, NULL};
                    execv(o->self, argv);
                    _exit(127);
                }
                int status = 0;
                while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
                if (WIFSIGNALED(status)) {
                    snprintf(why, sizeof why, "failed: killed by signal %d (out of memory?)", WTERMSIG(status));
                    attn_skip(name, fused, o->threads, why);
                } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                    snprintf(why, sizeof why, "failed: exit status %d", WEXITSTATUS(status));
                    attn_skip(name, fused, o->threads, why);
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------ */

static void usage(void) {
    fprintf(stderr,
            "usage: attend_bench [--threads N] [--quick] [--only sgemm,train,infer,latency,wordnet,attn]\n"
            "                    [--data data/wordnet-nouns.tsv] [--tmp DIR] [--precision fp32|bf16]\n"
            "--precision bf16: the matmuls in bf16 (attend_set_matmul_precision), rows named\n"
            "*_bf16; the attention workloads are fp32 only and are skipped\n");
}

int main(int argc, char **argv) {
    bench_opts o = {1, 0, NULL, "data/wordnet-nouns.tsv", NULL, NULL, 0};
    const char *tmp = getenv("ATTEND_TMP");
    if (!tmp || !*tmp) tmp = getenv("TMPDIR");
    o.tmp = tmp && *tmp ? tmp : "/tmp";
    o.self = access("/proc/self/exe", X_OK) == 0 ? "/proc/self/exe" : argv[0];
    size_t child_T = 0;
    int child_bwd = -1, child_fused = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) o.threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) o.quick = 1;
        else if (!strcmp(argv[i], "--only") && i + 1 < argc) o.only = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) o.data = argv[++i];
        else if (!strcmp(argv[i], "--tmp") && i + 1 < argc) o.tmp = argv[++i];
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc &&
                 (!strcmp(argv[i + 1], "bf16") || !strcmp(argv[i + 1], "fp32")))
            o.bf16 = !strcmp(argv[++i], "bf16");
        else if (!strcmp(argv[i], "--attn-child") && i + 3 < argc) {
            child_T = (size_t)strtoull(argv[++i], NULL, 10);
            child_bwd = !strcmp(argv[++i], "fwdbwd");
            child_fused = !strcmp(argv[++i], "fused");
        } else {
            usage();
            return 2;
        }
    }
    if (o.threads < 1) o.threads = 1;
    attend_set_threads(o.threads);
    attend_set_matmul_precision(o.bf16 ? ATTEND_MATMUL_BF16 : ATTEND_MATMUL_FP32);
    bench_threads = o.threads;
    double *times = xmalloc(MAX_REPS * sizeof(double));
    if (child_T) {
        int rc = attn_child(&o, child_T, child_bwd, child_fused, times);
        free(times);
        return rc;
    }
    printf("MACHINE\tattend\t%s\t%s\n", attend_build_info(), openblas_get_corename());
    fflush(stdout);
    if (wanted(&o, "sgemm")) bench_sgemm(&o, times);
    if (wanted(&o, "train")) bench_train(&o, times);
    if (wanted(&o, "infer")) bench_infer(&o, times);
    if (wanted(&o, "latency")) bench_latency(&o, times);
    if (wanted(&o, "wordnet")) bench_wordnet(&o);
    if (wanted(&o, "attn") && !o.bf16) bench_attn(&o);
    free(times);
    return 0;
}
