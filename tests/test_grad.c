/* Finite-difference gradient checks for the backward of every op in attend.h,
 * plus behaviour checks for the masking and dropout bugs PyTorch had
 * (described in ../shared/ANCHORS.md beside the repository).
 *
 * Method: for a fixed random R, the scalar loss is L = sum(out * R) (summed in
 * double). The analytic gradient is backward(dout = R) into zeroed buffers;
 * the numeric one is the central difference (L(x+eps) - L(x-eps)) / (2 eps),
 * with the forward re-run in float32 and the step taken as the float values
 * actually stored. Error of one tensor: max|a - n| / max(max|n|, 1e-3) over
 * the checked entries (all, or a deterministic spread of at most 64). Every
 * analytic gradient must also be finite and not all zero, so a dead op
 * fails; where zero is the right answer (fully masked rows, keys no query may
 * see) it must be exactly zero. Every backward is also called a second time
 * to check that it adds into its buffers rather than overwriting them.
 * BERT's pieces (model/model.h: embeddings with token types and LayerNorm,
 * the tanh pooler) and a whole BERT model with its dropout sites are checked
 * the same way. */
#include "attend.h"
#include "model/model.h" /* BERT's pieces and model (internal) */
#include "text/wordpiece.h"
#include "test.h"

#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* Buffers: every allocation is tracked and freed at the end of each test.  */
/* ------------------------------------------------------------------------ */

#define MAX_ALLOCS 1024
static void *allocs_[MAX_ALLOCS];
static size_t n_allocs_ = 0;

static void *tracked_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size);
    if (!p || n_allocs_ == MAX_ALLOCS) {
        fprintf(stderr, "test_grad: out of memory or too many buffers\n");
        exit(2);
    }
    allocs_[n_allocs_++] = p;
    return p;
}
static void free_all(void) {
    for (size_t i = 0; i < n_allocs_; i++) free(allocs_[i]);
    n_allocs_ = 0;
}
static float *fzeros(size_t n) { return tracked_calloc(n, sizeof(float)); }
static uint8_t *bzeros(size_t n) { return tracked_calloc(n, 1); }
static float *frandn(size_t n, float scale) {
    float *p = fzeros(n);
    test_fill_randn(p, n, scale);
    return p;
}
static float *fcopy(const float *x, size_t n) {
    float *p = fzeros(n);
    memcpy(p, x, n * sizeof(float));
    return p;
}
static void fset(float *x, size_t n, float v) {
    for (size_t i = 0; i < n; i++) x[i] = v;
}
static int all_zero(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (x[i] != 0.0f) return 0;
    return 1;
}
static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}
static double max_abs(const float *x, size_t n) {
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        if (fabs((double)x[i]) > m) m = fabs((double)x[i]);
    return m;
}

/* ------------------------------------------------------------------------ */
/* Finite differences                                                        */
/* ------------------------------------------------------------------------ */

/* A forward pass that writes out (n_out); the loss is sum(out * R). */
typedef struct {
    void (*forward)(void *ctx);
    void *ctx;
    const float *out;
    const float *R;
    size_t n_out;
} fd_problem;

static double fd_loss(const fd_problem *pr) {
    pr->forward(pr->ctx);
    double s = 0.0;
    for (size_t i = 0; i < pr->n_out; i++) s += (double)pr->out[i] * (double)pr->R[i];
    return s;
}

/* Entry k of a deterministic spread of m entries out of n: one per bucket of
 * n/m consecutive entries, at a hashed offset inside the bucket. */
static size_t fd_pick(size_t n, size_t m, size_t k) {
    if (n <= m) return k;
    size_t lo = k * n / m, hi = (k + 1) * n / m;
    uint64_t h = (uint64_t)k * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ull;
    h ^= h >> 32;
    return lo + (size_t)(h % (uint64_t)(hi - lo));
}

/* Several tensors reported on one line. */
typedef struct {
    double max_err;
    size_t entries;
    size_t tensors;
} fd_stats;

#define FD_MAX_ENTRIES 64

/* Ops that are linear in the checked input (or piecewise linear away from
 * the kink) have no truncation error; only float32 rounding of the loss. */
#define TOL_LINEAR 1e-4

/* Checks the analytic gradient ana of x (n) against central differences.
 * Prints a line unless st is given (then it accumulates into st). */
static double fd_check(fd_stats *st, const char *name, const fd_problem *pr, float *x,
                       size_t n, const float *ana, float eps, double tol) {
    CHECK(!all_zero(ana, n), "%s: analytic gradient is all zero (dead backward)", name);
    CHECK(all_finite(ana, n), "%s: analytic gradient has NaN/Inf", name);
    size_t m = n < FD_MAX_ENTRIES ? n : FD_MAX_ENTRIES;
    double max_num = 0.0, max_diff = 0.0, worst_a = 0.0, worst_n = 0.0;
    size_t worst = 0;
    for (size_t k = 0; k < m; k++) {
        size_t i = fd_pick(n, m, k);
        float save = x[i];
        float xp = save + eps, xm = save - eps;
        x[i] = xp;
        double lp = fd_loss(pr);
        x[i] = xm;
        double lm = fd_loss(pr);
        x[i] = save;
        double num = (lp - lm) / ((double)xp - (double)xm);
        double diff = fabs((double)ana[i] - num);
        if (diff > tol * fmax(fabs(num), 1e-3)) {
            /* A ReLU kink (or another point where the loss bends sharply)
             * within eps of x[i] spoils the central difference; one a
             * quarter the size does not cross it. Both estimate the same
             * derivative where the loss is smooth, so taking the closer
             * one cannot pass a wrong gradient. */
            for (float e = eps / 4.0f; e >= eps / 16.0f; e /= 4.0f) {
                x[i] = save + e;
                const float xp4 = x[i];
                double lp4 = fd_loss(pr);
                x[i] = save - e;
                const float xm4 = x[i];
                double lm4 = fd_loss(pr);
                x[i] = save;
                double num4 = (lp4 - lm4) / ((double)xp4 - (double)xm4);
                if (fabs((double)ana[i] - num4) < diff) {
                    num = num4;
                    diff = fabs((double)ana[i] - num4);
                }
            }
        }
        if (fabs(num) > max_num) max_num = fabs(num);
        if (!(diff <= max_diff)) { /* also catches NaN */
            max_diff = diff;
            worst = i;
            worst_a = ana[i];
            worst_n = num;
        }
    }
    fd_loss(pr); /* leave the forward state at the unperturbed point */
    double err = max_diff / (max_num > 1e-3 ? max_num : 1e-3);
    CHECK(err <= tol, "%s: max rel err %.3g > tol %.3g (entry %zu: analytic %.7g, numeric %.7g)",
          name, err, tol, worst, worst_a, worst_n);
    if (st) {
        if (!(err <= st->max_err)) st->max_err = err;
        st->entries += m;
        st->tensors++;
    } else {
        printf("%s: max rel err %.1e over %zu entries\n", name, err, m);
    }
    return err;
}

static void fd_report(const char *name, const fd_stats *st) {
    printf("%s: max rel err %.1e over %zu entries (%zu tensors)\n", name, st->max_err,
           st->entries, st->tensors);
}

/* After a second backward call into buffers holding the first result g1,
 * the buffer must hold 2 * g1 (backward adds). */
static void check_doubled(const char *name, const float *g1, const float *now, size_t n) {
    double scale = max_abs(g1, n);
    double worst = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)now[i] - 2.0 * (double)g1[i]);
        if (!(d <= worst)) worst = d;
    }
    CHECK(worst <= 1e-5 * (scale > 1e-3 ? scale : 1e-3),
          "%s: a second backward did not add into the buffer (max |g2 - 2 g1| = %.3g)", name,
          worst);
}

/* ------------------------------------------------------------------------ */
/* Linear                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct {
    float *out;
    const float *inp, *w, *b;
    size_t N, IN, OUT;
} linear_ctx;

static void linear_fwd(void *c_) {
    linear_ctx *c = c_;
    attend_linear_forward(c->out, c->inp, c->w, c->b, c->N, c->IN, c->OUT);
}

static void test_linear(int with_bias) {
    const size_t N = 5, IN = 7, OUT = 6;
    float *inp = frandn(N * IN, 1.0f), *w = frandn(OUT * IN, 0.5f);
    float *b = with_bias ? frandn(OUT, 0.5f) : NULL;
    float *out = fzeros(N * OUT), *R = frandn(N * OUT, 1.0f);
    float *dinp = fzeros(N * IN), *dw = fzeros(OUT * IN), *db = fzeros(OUT);
    linear_ctx c = {out, inp, w, b, N, IN, OUT};
    fd_problem pr = {linear_fwd, &c, out, R, N * OUT};

    linear_fwd(&c);
    attend_linear_backward(dinp, dw, with_bias ? db : NULL, R, inp, w, N, IN, OUT);
    float *g_inp = fcopy(dinp, N * IN), *g_w = fcopy(dw, OUT * IN), *g_b = fcopy(db, OUT);
    attend_linear_backward(dinp, dw, with_bias ? db : NULL, R, inp, w, N, IN, OUT);
    check_doubled("linear dinp", g_inp, dinp, N * IN);
    check_doubled("linear dweight", g_w, dw, OUT * IN);
    if (with_bias) check_doubled("linear dbias", g_b, db, OUT);
    else CHECK(all_zero(db, OUT), "linear without bias wrote a bias gradient");
    /* NULL gradient pointers are skipped. */
    attend_linear_backward(NULL, NULL, NULL, R, inp, w, N, IN, OUT);

    const char *tag = with_bias ? "linear" : "linear no-bias";
    char name[128];
    snprintf(name, sizeof name, "%s dinp", tag);
    fd_check(NULL, name, &pr, inp, N * IN, g_inp, 1e-2f, TOL_LINEAR);
    snprintf(name, sizeof name, "%s dweight", tag);
    fd_check(NULL, name, &pr, w, OUT * IN, g_w, 1e-2f, TOL_LINEAR);
    if (with_bias) {
        snprintf(name, sizeof name, "%s dbias", tag);
        fd_check(NULL, name, &pr, b, OUT, g_b, 1e-2f, TOL_LINEAR);
    }
    free_all();
}

/* ------------------------------------------------------------------------ */
/* Layer norm                                                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    float *out, *mean, *rstd;
    const float *inp, *w, *b;
    size_t N, C;
    float eps;
} layernorm_ctx;

static void layernorm_fwd(void *c_) {
    layernorm_ctx *c = c_;
    attend_layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C, c->eps);
}

static void test_layernorm(void) {
    const size_t N = 6, C = 8;
    float *inp = frandn(N * C, 1.0f), *w = frandn(C, 0.2f), *b = frandn(C, 0.2f);
    for (size_t i = 0; i < C; i++) w[i] += 1.0f;
    for (size_t i = 0; i < C; i++) inp[C + i] += 3.0f; /* a row with a large mean */
    float *out = fzeros(N * C), *mean = fzeros(N), *rstd = fzeros(N), *R = frandn(N * C, 1.0f);
    float *dinp = fzeros(N * C), *dw = fzeros(C), *db = fzeros(C);
    layernorm_ctx c = {out, mean, rstd, inp, w, b, N, C, 1e-5f};
    fd_problem pr = {layernorm_fwd, &c, out, R, N * C};

    layernorm_fwd(&c);
    /* Forward sanity: row 0 of (out - b) / w has mean 0 and variance ~1. */
    double m0 = 0.0, v0 = 0.0;
    for (size_t i = 0; i < C; i++) m0 += (out[i] - b[i]) / w[i];
    m0 /= (double)C;
    for (size_t i = 0; i < C; i++) v0 += pow((out[i] - b[i]) / w[i] - m0, 2.0);
    v0 /= (double)C;
    CHECK(fabs(m0) < 1e-5 && fabs(v0 - 1.0) < 1e-3, "layernorm row mean %g var %g", m0, v0);

    attend_layernorm_backward(dinp, dw, db, R, inp, w, mean, rstd, N, C);
    float *g_inp = fcopy(dinp, N * C), *g_w = fcopy(dw, C), *g_b = fcopy(db, C);
    attend_layernorm_backward(dinp, dw, db, R, inp, w, mean, rstd, N, C);
    check_doubled("layernorm dinp", g_inp, dinp, N * C);
    check_doubled("layernorm dweight", g_w, dw, C);
    check_doubled("layernorm dbias", g_b, db, C);

    fd_check(NULL, "layernorm dinp", &pr, inp, N * C, g_inp, 1e-2f, 1e-3);
    fd_check(NULL, "layernorm dweight", &pr, w, C, g_w, 1e-2f, TOL_LINEAR);
    fd_check(NULL, "layernorm dbias", &pr, b, C, g_b, 1e-2f, TOL_LINEAR);
    free_all();
}

/* ------------------------------------------------------------------------ */
/* Elementwise: relu, gelu, dropout, residual                                */
/* ------------------------------------------------------------------------ */

typedef struct {
    int op; /* 0 relu, 1 gelu, 2 dropout, 3 residual, 4 gelu tanh form */
    float *out;
    const float *a, *b;
    size_t n;
    float p;
    uint64_t seed;
} elem_ctx;

static void elem_fwd(void *c_) {
    elem_ctx *c = c_;
    switch (c->op) {
    case 0: attend_relu_forward(c->out, c->a, c->n); break;
    case 1: attend_gelu_forward(c->out, c->a, c->n); break;
    case 2: attend_dropout_forward(c->out, c->a, c->n, c->p, c->seed); break;
    case 4: attend_gelu_tanh_forward(c->out, c->a, c->n); break;
    default: attend_residual_forward(c->out, c->a, c->b, c->n); break;
    }
}

static void test_elementwise(void) {
    const size_t n = 60;
    float *R = frandn(n, 1.0f), *out = fzeros(n);

    /* ReLU, inputs kept at least 0.05 away from the kink. */
    {
        float *x = frandn(n, 1.0f), *dx = fzeros(n);
        for (size_t i = 0; i < n; i++)
            if (fabsf(x[i]) < 0.05f) x[i] += x[i] < 0 ? -0.05f : 0.05f;
        elem_ctx c = {0, out, x, NULL, n, 0.0f, 0};
        fd_problem pr = {elem_fwd, &c, out, R, n};
        elem_fwd(&c);
        attend_relu_backward(dx, R, x, n);
        float *g = fcopy(dx, n);
        attend_relu_backward(dx, R, x, n);
        check_doubled("relu dinp", g, dx, n);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++)
            if (x[i] < 0 && g[i] != 0.0f) bad++;
        CHECK(bad == 0, "relu: %zu negative inputs got a nonzero gradient", bad);
        fd_check(NULL, "relu dinp", &pr, x, n, g, 1e-2f, TOL_LINEAR);
        /* In place. */
        float *y = fcopy(x, n);
        attend_relu_forward(y, y, n);
        CHECK(memcmp(y, out, n * sizeof(float)) == 0, "relu in place differs");
    }
    /* GELU, over a wide range of inputs. */
    {
        float *x = frandn(n, 2.0f), *dx = fzeros(n);
        elem_ctx c = {1, out, x, NULL, n, 0.0f, 0};
        fd_problem pr = {elem_fwd, &c, out, R, n};
        elem_fwd(&c);
        /* Exact erf form: GELU(1) = 0.8413447. */
        float one = 1.0f, g1 = 0.0f;
        attend_gelu_forward(&g1, &one, 1);
        CHECK_NEAR(g1, 0.841344746, 1e-6, "gelu(1) (exact erf form)");
        attend_gelu_backward(dx, R, x, n);
        float *g = fcopy(dx, n);
        attend_gelu_backward(dx, R, x, n);
        check_doubled("gelu dinp", g, dx, n);
        fd_check(NULL, "gelu dinp", &pr, x, n, g, 1e-2f, 5e-4);
        float *y = fcopy(x, n);
        attend_gelu_forward(y, y, n);
        CHECK(memcmp(y, out, n * sizeof(float)) == 0, "gelu in place differs");
    }
    /* GELU, tanh form (BERT's "gelu_new"). */
    {
        float *x = frandn(n, 2.0f), *dx = fzeros(n);
        elem_ctx c = {4, out, x, NULL, n, 0.0f, 0};
        fd_problem pr = {elem_fwd, &c, out, R, n};
        elem_fwd(&c);
        float one = 1.0f, g1 = 0.0f;
        attend_gelu_tanh_forward(&g1, &one, 1);
        CHECK_NEAR(g1, 0.841191990, 1e-6, "gelu_tanh(1) (tanh form)");
        attend_gelu_tanh_backward(dx, R, x, n);
        float *g = fcopy(dx, n);
        attend_gelu_tanh_backward(dx, R, x, n);
        check_doubled("gelu_tanh dinp", g, dx, n);
        fd_check(NULL, "gelu_tanh dinp", &pr, x, n, g, 1e-2f, 5e-4);
        float *y = fcopy(x, n);
        attend_gelu_tanh_forward(y, y, n);
        CHECK(memcmp(y, out, n * sizeof(float)) == 0, "gelu_tanh in place differs");
    }
    /* Dropout p = 0.3 with a fixed seed: the mask is a function of the seed. */
    {
        float *x = frandn(n, 1.0f), *dx = fzeros(n);
        elem_ctx c = {2, out, x, NULL, n, 0.3f, 0xC0FFEEull};
        fd_problem pr = {elem_fwd, &c, out, R, n};
        elem_fwd(&c);
        attend_dropout_backward(dx, R, n, 0.3f, 0xC0FFEEull);
        float *g = fcopy(dx, n);
        attend_dropout_backward(dx, R, n, 0.3f, 0xC0FFEEull);
        check_doubled("dropout dinp", g, dx, n);
        size_t dropped = 0, mismatch = 0;
        for (size_t i = 0; i < n; i++) {
            if (out[i] == 0.0f) dropped++;
            if ((out[i] == 0.0f) != (g[i] == 0.0f)) mismatch++;
        }
        CHECK(dropped > 0 && dropped < n, "dropout p=0.3 dropped %zu of %zu", dropped, n);
        CHECK(mismatch == 0, "dropout: %zu entries where forward and backward masks differ",
              mismatch);
        fd_check(NULL, "dropout p=0.3 dinp", &pr, x, n, g, 1e-2f, TOL_LINEAR);
    }
    /* Residual. */
    {
        float *a = frandn(n, 1.0f), *b = frandn(n, 1.0f), *da = fzeros(n), *db = fzeros(n);
        elem_ctx c = {3, out, a, b, n, 0.0f, 0};
        fd_problem pr = {elem_fwd, &c, out, R, n};
        elem_fwd(&c);
        attend_residual_backward(da, db, R, n);
        float *ga = fcopy(da, n), *gb = fcopy(db, n);
        attend_residual_backward(da, db, R, n);
        check_doubled("residual da", ga, da, n);
        check_doubled("residual db", gb, db, n);
        attend_residual_backward(NULL, db, R, n);
        fd_check(NULL, "residual da", &pr, a, n, ga, 1e-2f, TOL_LINEAR);
        fd_check(NULL, "residual db", &pr, b, n, gb, 1e-2f, TOL_LINEAR);
    }
    free_all();
}

/* ------------------------------------------------------------------------ */
/* Softmax and cross-entropy                                                 */
/* ------------------------------------------------------------------------ */

typedef struct {
    float *out;
    const float *inp;
    size_t N, C;
} softmax_ctx;

static void softmax_fwd(void *c_) {
    softmax_ctx *c = c_;
    attend_softmax_forward(c->out, c->inp, c->N, c->C);
}

static void test_softmax(void) {
    const size_t N = 4, C = 7;
    float *x = frandn(N * C, 1.5f), *out = fzeros(N * C), *R = frandn(N * C, 1.0f);
    float *dx = fzeros(N * C);
    x[2 * C + 1] = -INFINITY; /* a row with some masked entries */
    x[2 * C + 4] = -INFINITY;
    softmax_ctx c = {out, x, N, C};
    fd_problem pr = {softmax_fwd, &c, out, R, N * C};
    softmax_fwd(&c);
    for (size_t r = 0; r < N; r++) {
        double s = 0.0;
        for (size_t j = 0; j < C; j++) s += out[r * C + j];
        CHECK_NEAR(s, 1.0, 1e-6, "softmax row sum");
    }
    CHECK(out[2 * C + 1] == 0.0f && out[2 * C + 4] == 0.0f, "softmax of -inf is not 0");
    attend_softmax_backward(dx, R, out, N, C);
    float *g = fcopy(dx, N * C);
    attend_softmax_backward(dx, R, out, N, C);
    check_doubled("softmax dinp", g, dx, N * C);
    CHECK(g[2 * C + 1] == 0.0f && g[2 * C + 4] == 0.0f, "softmax grad at -inf entries not 0");
    fd_check(NULL, "softmax dinp", &pr, x, N * C, g, 1e-2f, 5e-4);
    free_all();
}

typedef struct {
    float *loss, *probs;
    const float *logits;
    const int32_t *targets;
    const float *weights;
    float smoothing;
    size_t N, K;
} ce_ctx;

static void ce_fwd(void *c_) {
    ce_ctx *c = c_;
    *c->loss = attend_crossentropy_forward(c->probs, c->logits, c->targets, c->weights,
                                           c->smoothing, c->N, c->K);
}

static void test_crossentropy(const char *name, int with_weights, float smoothing,
                              int with_ignored) {
    const size_t N = 6, K = 5;
    float *logits = frandn(N * K, 1.5f), *probs = fzeros(N * K), *dl = fzeros(N * K);
    int32_t targets[6] = {0, 3, 4, 1, 2, 3};
    if (with_ignored) {
        targets[2] = -100; /* PyTorch's ignore_index */
        targets[4] = (int32_t)K;
    }
    float *w = NULL;
    if (with_weights) {
        w = fzeros(K);
        for (size_t i = 0; i < K; i++) w[i] = 0.5f + 0.3f * (float)i;
    }
    float loss = 0.0f, dloss = 1.3f;
    ce_ctx c = {&loss, probs, logits, targets, w, smoothing, N, K};
    fd_problem pr = {ce_fwd, &c, &loss, &dloss, 1};
    ce_fwd(&c);
    CHECK(isfinite(loss) && loss > 0.0f, "%s: loss %g", name, loss);
    attend_crossentropy_backward(dl, probs, targets, w, smoothing, dloss, N, K);
    float *g = fcopy(dl, N * K);
    attend_crossentropy_backward(dl, probs, targets, w, smoothing, dloss, N, K);
    check_doubled(name, g, dl, N * K);
    if (with_ignored) {
        CHECK(all_zero(g + 2 * K, K) && all_zero(g + 4 * K, K),
              "%s: a row with an ignored target got a gradient", name);
    }
    fd_check(NULL, name, &pr, logits, N * K, g, 1e-2f, 1e-3);
    free_all();
}

/* ------------------------------------------------------------------------ */
/* Scaled dot-product attention                                              */
/* ------------------------------------------------------------------------ */

/* Reference masking rule of attend.h: may query l attend key s? */
static int ref_allowed(const attend_mask *m, size_t b, size_t h, size_t l, size_t s, size_t H,
                       size_t L, size_t S) {
    if (!m) return 1;
    size_t row = m->per_head ? ((b * H + h) * L + l) * S : l * S;
    if (m->key_padding && m->key_padding[b * S + s]) return 0;
    if (m->attn_bool && m->attn_bool[row + s]) return 0;
    if (m->attn_float && m->attn_float[row + s] == -INFINITY) return 0;
    if (m->causal && s > l) return 0;
    return 1;
}

typedef struct {
    float *out, *probs;
    const float *q, *k, *v;
    const attend_mask *mask;
    size_t B, H, L, S, D;
    float p;
    uint64_t seed;
} sdpa_ctx;

static void sdpa_fwd(void *c_) {
    sdpa_ctx *c = c_;
    attend_sdpa_forward(c->out, c->probs, c->q, c->k, c->v, c->mask, c->B, c->H, c->L, c->S,
                        c->D, c->p, c->seed);
}

enum {
    SD_PAD = 1, SD_CAUSAL = 2, SD_BOOL2 = 4, SD_BOOL3 = 8, SD_FLOAT2 = 16, SD_FLOAT3 = 32,
    SD_FULLROW = 64
};

static void test_sdpa(const char *name, unsigned flags, float dropout_p) {
    const size_t B = 2, H = 2, L = 5, S = 6, D = 4, E = H * D;
    const uint64_t seed = 0x5D9A5EEDull;
    float *q = frandn(B * L * E, 1.0f), *k = frandn(B * S * E, 1.0f), *v = frandn(B * S * E, 1.0f);
    float *out = fzeros(B * L * E), *probs = fzeros(B * H * L * S), *R = frandn(B * L * E, 1.0f);
    float *dq = fzeros(B * L * E), *dk = fzeros(B * S * E), *dv = fzeros(B * S * E);

    attend_mask m;
    memset(&m, 0, sizeof m);
    if (flags & SD_PAD) {
        uint8_t *kp = bzeros(B * S);
        kp[0 * S + 4] = 1;
        kp[1 * S + 1] = 1;
        kp[1 * S + 5] = 1;
        m.key_padding = kp;
    }
    if (flags & SD_CAUSAL) m.causal = 1;
    if (flags & (SD_BOOL2 | SD_BOOL3 | SD_FULLROW)) {
        int per = (flags & SD_BOOL3) != 0;
        size_t n = (per ? B * H : 1) * L * S;
        uint8_t *bm = bzeros(n);
        for (size_t i = 0; i < n; i++) bm[i] = ((i * 7 + i / 5) % 10) < 3;
        for (size_t r = 0; r < n / S; r++) bm[r * S + (r % L) % S] = 0; /* keep one key */
        if (per) {
            for (size_t l = 0; l < L; l++) bm[((0 * H + 1) * L + l) * S + 2] = 1; /* (b0,h1): key 2 */
            m.per_head = 1;
        }
        if (flags & SD_FULLROW)
            for (size_t s = 0; s < S; s++) bm[2 * S + s] = 1; /* query 2 sees nothing */
        m.attn_bool = bm;
    }
    if (flags & (SD_FLOAT2 | SD_FLOAT3)) {
        int per = (flags & SD_FLOAT3) != 0;
        size_t n = (per ? B * H : 1) * L * S;
        float *fm = frandn(n, 0.7f);
        for (size_t i = 0; i < n; i++)
            if ((i * 3 + i / 7) % 5 == 0) fm[i] = -INFINITY;
        for (size_t r = 0; r < n / S; r++) fm[r * S + (r + 1) % S] = 0.25f; /* keep one key */
        if (!(flags & SD_BOOL3) && !(flags & SD_BOOL2)) m.per_head = per;
        m.attn_float = fm;
    }
    const attend_mask *mp = flags ? &m : NULL;

    sdpa_ctx c = {out, probs, q, k, v, mp, B, H, L, S, D, dropout_p, seed};
    fd_problem pr = {sdpa_fwd, &c, out, R, B * L * E};
    sdpa_fwd(&c);

    /* Forward: masked weights exactly 0, rows sum to 1 or are all 0. */
    size_t bad_masked = 0, bad_sum = 0, bad_dead_out = 0, dead_rows = 0;
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++)
            for (size_t l = 0; l < L; l++) {
                const float *pr_row = probs + ((b * H + h) * L + l) * S;
                double sum = 0.0;
                size_t allowed = 0;
                for (size_t s = 0; s < S; s++) {
                    sum += pr_row[s];
                    if (ref_allowed(mp, b, h, l, s, H, L, S)) allowed++;
                    else if (pr_row[s] != 0.0f) bad_masked++;
                }
                if (allowed == 0) {
                    dead_rows++;
                    if (sum != 0.0) bad_sum++;
                    if (!all_zero(out + (b * L + l) * E + h * D, D)) bad_dead_out++;
                } else if (fabs(sum - 1.0) > 1e-5) {
                    bad_sum++;
                }
            }
    CHECK(bad_masked == 0, "%s: %zu masked weights are nonzero", name, bad_masked);
    CHECK(bad_sum == 0, "%s: %zu weight rows do not sum to 1 (or 0 when fully masked)", name,
          bad_sum);
    CHECK(bad_dead_out == 0, "%s: %zu fully masked queries have nonzero output", name,
          bad_dead_out);
    if (flags & SD_FULLROW) CHECK(dead_rows == B * H, "%s: %zu dead rows", name, dead_rows);

    attend_sdpa_backward(dq, dk, dv, R, q, k, v, probs, mp, B, H, L, S, D, dropout_p,
                         seed);
    float *g_q = fcopy(dq, B * L * E), *g_k = fcopy(dk, B * S * E), *g_v = fcopy(dv, B * S * E);
    attend_sdpa_backward(dq, dk, dv, R, q, k, v, probs, mp, B, H, L, S, D, dropout_p,
                         seed);
    char buf[160];
    snprintf(buf, sizeof buf, "%s dq", name);
    check_doubled(buf, g_q, dq, B * L * E);
    snprintf(buf, sizeof buf, "%s dk", name);
    check_doubled(buf, g_k, dk, B * S * E);
    snprintf(buf, sizeof buf, "%s dv", name);
    check_doubled(buf, g_v, dv, B * S * E);
    /* NULL gradients are skipped. */
    attend_sdpa_backward(NULL, dk, NULL, R, q, k, v, probs, mp, B, H, L, S, D,
                         dropout_p, seed);

    /* Exact zeros: dq of a query with no allowed key; dk and dv of a key no
     * query may attend to. */
    size_t bad_dq = 0, bad_dkv = 0, zero_keys = 0;
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++) {
            for (size_t l = 0; l < L; l++) {
                size_t allowed = 0;
                for (size_t s = 0; s < S; s++) allowed += (size_t)ref_allowed(mp, b, h, l, s, H, L, S);
                if (!allowed && !all_zero(g_q + (b * L + l) * E + h * D, D)) bad_dq++;
            }
            for (size_t s = 0; s < S; s++) {
                size_t seen = 0;
                for (size_t l = 0; l < L; l++) seen += (size_t)ref_allowed(mp, b, h, l, s, H, L, S);
                if (!seen) {
                    zero_keys++;
                    if (!all_zero(g_k + (b * S + s) * E + h * D, D) ||
                        !all_zero(g_v + (b * S + s) * E + h * D, D))
                        bad_dkv++;
                }
            }
        }
    CHECK(bad_dq == 0, "%s: %zu fully masked queries have nonzero dq", name, bad_dq);
    CHECK(bad_dkv == 0, "%s: %zu keys no query sees have nonzero dk/dv", name, bad_dkv);
    if (flags & (SD_PAD | SD_CAUSAL | SD_BOOL3))
        CHECK(zero_keys > 0, "%s: test setup has no fully masked key", name);

    snprintf(buf, sizeof buf, "%s dq", name);
    fd_check(NULL, buf, &pr, q, B * L * E, g_q, 1e-2f, 1e-3);
    snprintf(buf, sizeof buf, "%s dk", name);
    fd_check(NULL, buf, &pr, k, B * S * E, g_k, 1e-2f, 1e-3);
    snprintf(buf, sizeof buf, "%s dv", name);
    fd_check(NULL, buf, &pr, v, B * S * E, g_v, 1e-2f, 1e-3);
    free_all();
}

/* ------------------------------------------------------------------------ */
/* Multi-head attention                                                      */
/* ------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    float *p, *g;
    size_t n;
} view;

static size_t mha_param_count(const attend_mha_config *cfg) {
    size_t E = cfg->embed_dim, kd = cfg->kdim ? cfg->kdim : E, vd = cfg->vdim ? cfg->vdim : E;
    return E * E + E * kd + E * vd + E * E + (cfg->bias ? 4 * E : 0);
}

/* Binds views into mem (mha_param_count floats). With kdim = vdim = E the
 * q/k/v weights are the consecutive blocks of one (3E,E) in_proj_weight. */
static void mha_bind(attend_mha_params *p, const attend_mha_config *cfg, float *mem) {
    size_t E = cfg->embed_dim, kd = cfg->kdim ? cfg->kdim : E, vd = cfg->vdim ? cfg->vdim : E;
    p->q_proj_weight = mem;
    mem += E * E;
    p->k_proj_weight = mem;
    mem += E * kd;
    p->v_proj_weight = mem;
    mem += E * vd;
    p->in_proj_bias = NULL;
    if (cfg->bias) {
        p->in_proj_bias = mem;
        mem += 3 * E;
    }
    p->out_proj_weight = mem;
    mem += E * E;
    p->out_proj_bias = cfg->bias ? mem : NULL;
}

/* Fills p with weights ~ N(0, 1/fan_in) and small random biases. */
static void mha_init(attend_mha_params *p, const attend_mha_config *cfg) {
    size_t E = cfg->embed_dim, kd = cfg->kdim ? cfg->kdim : E, vd = cfg->vdim ? cfg->vdim : E;
    test_fill_randn(p->q_proj_weight, E * E, 1.0f / sqrtf((float)E));
    test_fill_randn(p->k_proj_weight, E * kd, 1.0f / sqrtf((float)kd));
    test_fill_randn(p->v_proj_weight, E * vd, 1.0f / sqrtf((float)vd));
    test_fill_randn(p->out_proj_weight, E * E, 1.0f / sqrtf((float)E));
    if (p->in_proj_bias) test_fill_randn(p->in_proj_bias, 3 * E, 0.2f);
    if (p->out_proj_bias) test_fill_randn(p->out_proj_bias, E, 0.2f);
}

static size_t mha_views(view *vs, const char *prefix, attend_mha_params *p,
                        attend_mha_params *g, const attend_mha_config *cfg) {
    static char names[64][96];
    static size_t next = 0;
    size_t E = cfg->embed_dim, kd = cfg->kdim ? cfg->kdim : E, vd = cfg->vdim ? cfg->vdim : E;
    size_t n = 0;
#define MHA_VIEW(field, count)                                                        \
    do {                                                                              \
        if (p->field) {                                                               \
            char *nm = names[next++ % 64];                                            \
            snprintf(nm, 96, "%s" #field, prefix);                                    \
            vs[n++] = (view){nm, p->field, g->field, (count)};                         \
        }                                                                             \
    } while (0)
    MHA_VIEW(q_proj_weight, E * E);
    MHA_VIEW(k_proj_weight, E * kd);
    MHA_VIEW(v_proj_weight, E * vd);
    MHA_VIEW(in_proj_bias, 3 * E);
    MHA_VIEW(out_proj_weight, E * E);
    MHA_VIEW(out_proj_bias, E);
#undef MHA_VIEW
    return n;
}

typedef struct {
    float *out;
    attend_mha_acts *acts;
    const attend_mha_config *cfg;
    const attend_mha_params *p;
    const float *query, *key, *value;
    const attend_mask *mask;
    size_t B, L, S;
    int training;
    uint64_t seed;
} mha_ctx;

static void mha_fwd(void *c_) {
    mha_ctx *c = c_;
    attend_mha_forward(c->out, c->acts, c->cfg, c->p, c->query, c->key, c->value, c->mask, c->B,
                       c->L, c->S, c->training, c->seed);
}

typedef struct {
    const char *name;
    int self;         /* query = key = value (S = L, kdim = vdim = E) */
    size_t kdim, vdim; /* cross only (0 = E) */
    size_t L, S;
    int bias, key_padding, causal, training;
    float dropout;
} mha_case;

static void test_mha(const mha_case *tc) {
    const size_t B = 2, E = 8, H = 2;
    const uint64_t seed = 0xA77E4Dull;
    attend_mha_config cfg = {E, H, tc->self ? 0 : tc->kdim, tc->self ? 0 : tc->vdim, tc->bias,
                             tc->dropout};
    attend_error err;
    CHECK(attend_mha_config_check(&cfg, &err) == ATTEND_OK, "%s: config rejected: %s", tc->name,
          err.msg);
    const size_t L = tc->L, S = tc->self ? tc->L : tc->S;
    const size_t kd = cfg.kdim ? cfg.kdim : E, vd = cfg.vdim ? cfg.vdim : E;

    size_t np = mha_param_count(&cfg);
    float *pmem = fzeros(np), *gmem = fzeros(np);
    attend_mha_params p, g;
    mha_bind(&p, &cfg, pmem);
    mha_bind(&g, &cfg, gmem);
    mha_init(&p, &cfg);

    attend_mha_acts acts;
    float *amem = fzeros(attend_mha_acts_size(&cfg, B, L, S, 1));
    attend_mha_acts_bind(&acts, &cfg, B, L, S, 1, amem);

    float *query = frandn(B * L * E, 1.0f);
    float *key = tc->self ? query : frandn(B * S * kd, 1.0f);
    float *value = tc->self ? query : frandn(B * S * vd, 1.0f);
    float *dquery = fzeros(B * L * E);
    float *dkey = tc->self ? dquery : fzeros(B * S * kd);
    float *dvalue = tc->self ? dquery : fzeros(B * S * vd);
    float *out = fzeros(B * L * E), *R = frandn(B * L * E, 1.0f);

    attend_mask m;
    memset(&m, 0, sizeof m);
    uint8_t *kp = NULL;
    if (tc->key_padding) {
        kp = bzeros(B * S);
        kp[0 * S + S - 1] = 1;
        kp[1 * S + 1] = 1;
        m.key_padding = kp;
    }
    m.causal = tc->causal;
    const attend_mask *mp = (tc->key_padding || tc->causal) ? &m : NULL;

    mha_ctx c = {out, &acts, &cfg, &p, query, key, value, mp, B, L, S, tc->training, seed};
    fd_problem pr = {mha_fwd, &c, out, R, B * L * E};
    mha_fwd(&c);
    CHECK(all_finite(out, B * L * E), "%s: output not finite", tc->name);

    attend_mha_backward(dquery, dkey, dvalue, &g, &acts, R, &cfg, &p, query, key, value, mp, B,
                        L, S, tc->training, seed);
    float *g1 = fcopy(gmem, np);
    float *gq = fcopy(dquery, B * L * E);
    float *gk = tc->self ? NULL : fcopy(dkey, B * S * kd);
    float *gv = tc->self ? NULL : fcopy(dvalue, B * S * vd);
    attend_mha_backward(dquery, dkey, dvalue, &g, &acts, R, &cfg, &p, query, key, value, mp, B,
                        L, S, tc->training, seed);
    char buf[160];
    snprintf(buf, sizeof buf, "%s params", tc->name);
    check_doubled(buf, g1, gmem, np);
    snprintf(buf, sizeof buf, "%s dquery", tc->name);
    check_doubled(buf, gq, dquery, B * L * E);
    if (!tc->self) {
        snprintf(buf, sizeof buf, "%s dkey", tc->name);
        check_doubled(buf, gk, dkey, B * S * kd);
        snprintf(buf, sizeof buf, "%s dvalue", tc->name);
        check_doubled(buf, gv, dvalue, B * S * vd);
    }
    /* The gradient views now hold 2 g1; put g1 back for the comparisons. */
    memcpy(gmem, g1, np * sizeof(float));
    /* Inputs only (NULL parameter gradients are not part of the contract,
     * but NULL input gradients are). */
    {
        float *scratch = fzeros(np);
        attend_mha_params g2;
        mha_bind(&g2, &cfg, scratch);
        attend_mha_backward(NULL, NULL, NULL, &g2, &acts, R, &cfg, &p, query, key, value, mp, B,
                            L, S, tc->training, seed);
        CHECK(memcmp(scratch, g1, np * sizeof(float)) == 0,
              "%s: parameter gradients differ when input gradients are NULL", tc->name);
    }

    if (kp && !tc->self) {
        size_t bad = 0;
        for (size_t b = 0; b < B; b++)
            for (size_t s = 0; s < S; s++)
                if (kp[b * S + s] &&
                    (!all_zero(gk + (b * S + s) * kd, kd) || !all_zero(gv + (b * S + s) * vd, vd)))
                    bad++;
        CHECK(bad == 0, "%s: %zu padded keys got a key/value gradient", tc->name, bad);
    }

    const float eps = 1e-2f;
    const double tol = 2e-3;
    snprintf(buf, sizeof buf, "%s %s", tc->name, tc->self ? "dx (dquery=dkey=dvalue)" : "dquery");
    fd_check(NULL, buf, &pr, query, B * L * E, gq, eps, tol);
    if (!tc->self) {
        snprintf(buf, sizeof buf, "%s dkey", tc->name);
        fd_check(NULL, buf, &pr, key, B * S * kd, gk, eps, tol);
        snprintf(buf, sizeof buf, "%s dvalue", tc->name);
        fd_check(NULL, buf, &pr, value, B * S * vd, gv, eps, tol);
    }
    view vs[8];
    size_t nv = mha_views(vs, "", &p, &g, &cfg);
    CHECK(nv == (tc->bias ? 6u : 4u), "%s: %zu parameter views", tc->name, nv);
    for (size_t i = 0; i < nv; i++) {
        snprintf(buf, sizeof buf, "%s %s", tc->name, vs[i].name);
        fd_check(NULL, buf, &pr, vs[i].p, vs[i].n, vs[i].g, eps, tol);
    }
    free_all();
}

/* ------------------------------------------------------------------------ */
/* Encoder layer and stack                                                   */
/* ------------------------------------------------------------------------ */

static size_t enc_param_count(size_t E, size_t F) {
    return 3 * E * E + 3 * E + E * E + E + F * E + F + E * F + E + 4 * E;
}

static void enc_bind(attend_encoder_layer_params *p, size_t E, size_t F, float *mem) {
    p->self_attn.q_proj_weight = mem;
    p->self_attn.k_proj_weight = mem + E * E;
    p->self_attn.v_proj_weight = mem + 2 * E * E;
    mem += 3 * E * E;
    p->self_attn.in_proj_bias = mem;
    mem += 3 * E;
    p->self_attn.out_proj_weight = mem;
    mem += E * E;
    p->self_attn.out_proj_bias = mem;
    mem += E;
    p->linear1_weight = mem;
    mem += F * E;
    p->linear1_bias = mem;
    mem += F;
    p->linear2_weight = mem;
    mem += E * F;
    p->linear2_bias = mem;
    mem += E;
    p->norm1_weight = mem;
    p->norm1_bias = mem + E;
    p->norm2_weight = mem + 2 * E;
    p->norm2_bias = mem + 3 * E;
}

static void enc_init(attend_encoder_layer_params *p, const attend_encoder_config *cfg) {
    size_t E = cfg->d_model, F = cfg->dim_feedforward;
    attend_mha_config mc = attend_encoder_mha_config(cfg);
    mha_init(&p->self_attn, &mc);
    test_fill_randn(p->linear1_weight, F * E, 1.0f / sqrtf((float)E));
    test_fill_randn(p->linear1_bias, F, 0.2f);
    test_fill_randn(p->linear2_weight, E * F, 1.0f / sqrtf((float)F));
    test_fill_randn(p->linear2_bias, E, 0.2f);
    test_fill_randn(p->norm1_weight, E, 0.2f);
    test_fill_randn(p->norm1_bias, E, 0.2f);
    test_fill_randn(p->norm2_weight, E, 0.2f);
    test_fill_randn(p->norm2_bias, E, 0.2f);
    for (size_t i = 0; i < E; i++) {
        p->norm1_weight[i] += 1.0f;
        p->norm2_weight[i] += 1.0f;
    }
}

static size_t enc_views(view *vs, const char *prefix, attend_encoder_layer_params *p,
                        attend_encoder_layer_params *g, const attend_encoder_config *cfg) {
    static char names[128][96];
    static size_t next = 0;
    size_t E = cfg->d_model, F = cfg->dim_feedforward;
    attend_mha_config mc = attend_encoder_mha_config(cfg);
    char pre[96];
    snprintf(pre, sizeof pre, "%sself_attn.", prefix);
    size_t n = mha_views(vs, pre, &p->self_attn, &g->self_attn, &mc);
#define ENC_VIEW(field, count)                                                        \
    do {                                                                              \
        char *nm = names[next++ % 128];                                               \
        snprintf(nm, 96, "%s" #field, prefix);                                        \
        vs[n++] = (view){nm, p->field, g->field, (count)};                             \
    } while (0)
    ENC_VIEW(linear1_weight, F * E);
    ENC_VIEW(linear1_bias, F);
    ENC_VIEW(linear2_weight, E * F);
    ENC_VIEW(linear2_bias, E);
    ENC_VIEW(norm1_weight, E);
    ENC_VIEW(norm1_bias, E);
    ENC_VIEW(norm2_weight, E);
    ENC_VIEW(norm2_bias, E);
#undef ENC_VIEW
    return n;
}

#define MAX_LAYERS 2

typedef struct {
    float **outs; /* n_layers outputs; the loss reads the last */
    attend_encoder_acts *acts;
    const attend_encoder_config *cfg;
    const attend_encoder_layer_params *p;
    size_t n_layers;
    const float *x;
    const uint8_t *kp;
    size_t B, T;
    int training;
    uint64_t seed;
} enc_ctx;

static void enc_fwd(void *c_) {
    enc_ctx *c = c_;
    if (c->n_layers == 1)
        attend_encoder_layer_forward(c->outs[0], c->acts, c->cfg, c->p, c->x, c->kp, c->B, c->T,
                                     c->training, c->seed);
    else
        attend_encoder_forward(c->outs, c->acts, c->cfg, c->p, c->n_layers, c->x, c->kp, c->B,
                               c->T, c->training, c->seed);
}

typedef struct {
    const char *name;
    attend_activation act;
    int norm_first, key_padding, training;
    float dropout;
    size_t n_layers; /* 1: the layer API; 2: the stack API */
    int bert;        /* BERT's dropout sites, attention-weight rate 0.2 */
} enc_case;

static void test_encoder(const enc_case *tc) {
    const size_t B = 2, T = 5, E = 8, H = 2, F = 12, NL = tc->n_layers;
    const uint64_t seed = 0xE4C0DE5ull;
    attend_encoder_config cfg = {E, H, F, tc->act, tc->norm_first, 1e-5f, tc->dropout,
                                 tc->bert, tc->bert ? 0.2f : 0.0f};
    attend_error err;
    CHECK(attend_encoder_config_check(&cfg, &err) == ATTEND_OK, "%s: config rejected: %s",
          tc->name, err.msg);

    size_t np = enc_param_count(E, F);
    float *pmem = fzeros(NL * np), *gmem = fzeros(NL * np);
    attend_encoder_layer_params p[MAX_LAYERS], g[MAX_LAYERS];
    attend_encoder_acts acts[MAX_LAYERS];
    float *outs[MAX_LAYERS];
    size_t na = attend_encoder_acts_size(&cfg, B, T, 1);
    for (size_t i = 0; i < NL; i++) {
        enc_bind(&p[i], E, F, pmem + i * np);
        enc_bind(&g[i], E, F, gmem + i * np);
        enc_init(&p[i], &cfg);
        attend_encoder_acts_bind(&acts[i], &cfg, B, T, 1, fzeros(na));
        outs[i] = fzeros(B * T * E);
    }
    attend_encoder_scratch s;
    attend_encoder_scratch_bind(&s, &cfg, B, T, fzeros(attend_encoder_scratch_size(&cfg, B, T)));
    float *dbuf0 = fzeros(B * T * E), *dbuf1 = fzeros(B * T * E);

    float *x = frandn(B * T * E, 1.0f), *dx = fzeros(B * T * E), *R = frandn(B * T * E, 1.0f);
    uint8_t *kp = NULL;
    if (tc->key_padding) {
        kp = bzeros(B * T);
        kp[0 * T + T - 1] = 1;
        kp[1 * T + 1] = 1;
        kp[1 * T + 2] = 1;
    }

    enc_ctx c = {outs, acts, &cfg, p, NL, x, kp, B, T, tc->training, seed};
    fd_problem pr = {enc_fwd, &c, outs[NL - 1], R, B * T * E};
    enc_fwd(&c);
    CHECK(all_finite(outs[NL - 1], B * T * E), "%s: output not finite", tc->name);
    if (tc->bert) {
        /* BERT's layer has no dropout inside the feed-forward block: its
         * activation output is exactly act(h) even while training. */
        float *ah = fzeros(B * T * F);
        attend_gelu_forward(ah, acts[0].h, B * T * F);
        CHECK(memcmp(ah, acts[0].a, B * T * F * sizeof(float)) == 0,
              "%s: the feed-forward activation was dropped out", tc->name);
    }

    if (NL == 1)
        attend_encoder_layer_backward(dx, g, acts, &s, R, &cfg, p, x, kp, B, T, tc->training,
                                      seed);
    else
        attend_encoder_backward(dx, g, acts, &s, dbuf0, dbuf1, R, &cfg, p, NL, outs, x, kp, B, T,
                                tc->training, seed);
    float *gx = fcopy(dx, B * T * E), *g1 = fcopy(gmem, NL * np);
    if (NL == 1)
        attend_encoder_layer_backward(dx, g, acts, &s, R, &cfg, p, x, kp, B, T, tc->training,
                                      seed);
    else
        attend_encoder_backward(dx, g, acts, &s, dbuf0, dbuf1, R, &cfg, p, NL, outs, x, kp, B, T,
                                tc->training, seed);
    char buf[200];
    snprintf(buf, sizeof buf, "%s dx", tc->name);
    check_doubled(buf, gx, dx, B * T * E);
    snprintf(buf, sizeof buf, "%s params", tc->name);
    check_doubled(buf, g1, gmem, NL * np);
    memcpy(gmem, g1, NL * np * sizeof(float));

    /* ReLU kinks: a larger step risks crossing one; GELU is smooth. */
    const float eps = tc->act == ATTEND_ACT_RELU ? 2e-3f : 1e-2f;
    const double tol = tc->act == ATTEND_ACT_RELU ? 1e-2 : 3e-3;
    snprintf(buf, sizeof buf, "%s dx", tc->name);
    fd_check(NULL, buf, &pr, x, B * T * E, gx, eps, tol);
    for (size_t i = 0; i < NL; i++) {
        view vs[16];
        char pre[32];
        snprintf(pre, sizeof pre, "layers.%zu.", i);
        size_t nv = enc_views(vs, pre, &p[i], &g[i], &cfg);
        fd_stats st = {0.0, 0, 0};
        for (size_t j = 0; j < nv; j++) {
            snprintf(buf, sizeof buf, "%s %s", tc->name, vs[j].name);
            fd_check(&st, buf, &pr, vs[j].p, vs[j].n, vs[j].g, eps, tol);
        }
        snprintf(buf, sizeof buf, "%s layers.%zu params", tc->name, i);
        fd_report(buf, &st);
    }
    free_all();
}

/* ------------------------------------------------------------------------ */
/* Behaviour checks (PyTorch's known failures, ANCHORS.md)                   */
/* ------------------------------------------------------------------------ */

/* (1) A query with no allowed key: output 0, weights 0, finite gradients;
 * in MHA its output row is exactly out_proj.bias. */
static void behave_fully_masked_row(void) {
    const size_t B = 2, H = 2, L = 4, S = 5, D = 3, E = H * D;
    float *q = frandn(B * L * E, 1.0f), *k = frandn(B * S * E, 1.0f), *v = frandn(B * S * E, 1.0f);
    float *out = fzeros(B * L * E), *probs = fzeros(B * H * L * S), *R = frandn(B * L * E, 1.0f);
    float *dq = fzeros(B * L * E), *dk = fzeros(B * S * E), *dv = fzeros(B * S * E);
    uint8_t *bm = bzeros(L * S);
    for (size_t s = 0; s < S; s++) bm[1 * S + s] = 1; /* query 1 masked everywhere */
    float *fm = fzeros(L * S);
    for (size_t s = 0; s < S; s++) fm[3 * S + s] = -INFINITY; /* query 3 too, by -inf */
    attend_mask m;
    memset(&m, 0, sizeof m);
    m.attn_bool = bm;
    m.attn_float = fm;
    fset(out, B * L * E, 7.0f); /* the forward must overwrite, not skip */
    fset(probs, B * H * L * S, 7.0f);
    attend_sdpa_forward(out, probs, q, k, v, &m, B, H, L, S, D, 0.0f, 0);
    attend_sdpa_backward(dq, dk, dv, R, q, k, v, probs, &m, B, H, L, S, D, 0.0f, 0);
    size_t bad_out = 0, bad_w = 0;
    for (size_t b = 0; b < B; b++)
        for (size_t l = 1; l < L; l += 2) {
            if (!all_zero(out + (b * L + l) * E, E)) bad_out++;
            for (size_t h = 0; h < H; h++)
                if (!all_zero(probs + ((b * H + h) * L + l) * S, S)) bad_w++;
        }
    CHECK(bad_out == 0, "sdpa: %zu fully masked query rows have nonzero output", bad_out);
    CHECK(bad_w == 0, "sdpa: %zu fully masked weight rows are nonzero", bad_w);
    CHECK(all_finite(out, B * L * E) && all_finite(probs, B * H * L * S), "sdpa: output not finite");
    CHECK(all_finite(dq, B * L * E) && all_finite(dk, B * S * E) && all_finite(dv, B * S * E),
          "sdpa: gradients not finite with a fully masked row");
    CHECK(all_zero(dq + 1 * E, E) && all_zero(dq + 3 * E, E), "sdpa: dq of masked row not 0");
    printf("behaviour: fully masked query row gives output 0, weights 0, finite gradients\n");

    /* MHA: the row is exactly out_proj.bias, gradients finite. */
    attend_mha_config cfg = {E, H, 0, 0, 1, 0.0f};
    size_t np = mha_param_count(&cfg);
    attend_mha_params p, g;
    float *gmem = fzeros(np);
    mha_bind(&p, &cfg, fzeros(np));
    mha_bind(&g, &cfg, gmem);
    mha_init(&p, &cfg);
    attend_mha_acts acts;
    attend_mha_acts_bind(&acts, &cfg, B, L, L, 1, fzeros(attend_mha_acts_size(&cfg, B, L, L, 1)));
    float *x = frandn(B * L * E, 1.0f), *mout = fzeros(B * L * E), *dx = fzeros(B * L * E);
    uint8_t *bm2 = bzeros(L * L);
    for (size_t s = 0; s < L; s++) bm2[2 * L + s] = 1;
    attend_mask m2;
    memset(&m2, 0, sizeof m2);
    m2.attn_bool = bm2;
    attend_mha_forward(mout, &acts, &cfg, &p, x, x, x, &m2, B, L, L, 0, 0);
    for (size_t b = 0; b < B; b++)
        CHECK(memcmp(mout + (b * L + 2) * E, p.out_proj_bias, E * sizeof(float)) == 0,
              "mha: fully masked row of batch %zu is not exactly out_proj.bias", b);
    attend_mha_backward(dx, dx, dx, &g, &acts, R, &cfg, &p, x, x, x, &m2, B, L, L, 0, 0);
    CHECK(all_finite(mout, B * L * E) && all_finite(dx, B * L * E) && all_finite(gmem, np),
          "mha: non-finite output or gradient with a fully masked row");
    /* Every key of batch 1 padded: the whole batch is out_proj.bias, and
     * batch 0 is unaffected by it. */
    uint8_t *kp = bzeros(B * L);
    for (size_t s = 0; s < L; s++) kp[1 * L + s] = 1;
    attend_mask m3;
    memset(&m3, 0, sizeof m3);
    m3.key_padding = kp;
    float *ref = fzeros(B * L * E);
    attend_mha_forward(ref, &acts, &cfg, &p, x, x, x, NULL, B, L, L, 0, 0);
    attend_mha_forward(mout, &acts, &cfg, &p, x, x, x, &m3, B, L, L, 0, 0);
    CHECK(memcmp(mout, ref, L * E * sizeof(float)) == 0, "mha: padding batch 1 changed batch 0");
    for (size_t l = 0; l < L; l++)
        CHECK(memcmp(mout + (1 * L + l) * E, p.out_proj_bias, E * sizeof(float)) == 0,
              "mha: all-padded batch row %zu is not exactly out_proj.bias", l);
    fset(gmem, np, 0.0f);
    fset(dx, B * L * E, 0.0f);
    attend_mha_backward(dx, dx, dx, &g, &acts, R, &cfg, &p, x, x, x, &m3, B, L, L, 0, 0);
    CHECK(all_finite(dx, B * L * E) && all_finite(gmem, np),
          "mha: non-finite gradient with an all-padded batch");
    printf("behaviour: mha fully masked row equals out_proj.bias exactly\n");
    free_all();
}

/* (2) NaN in k and v at a key-padded position never reaches the output or a
 * gradient, and the results equal those with that position set to 0. */
static void behave_nan_masked_key(void) {
    const size_t B = 2, H = 2, L = 4, S = 5, D = 3, E = H * D;
    float *q = frandn(B * L * E, 1.0f), *k = frandn(B * S * E, 1.0f), *v = frandn(B * S * E, 1.0f);
    float *R = frandn(B * L * E, 1.0f);
    uint8_t *kp = bzeros(B * S);
    kp[0 * S + 2] = 1;
    kp[1 * S + 4] = 1;
    attend_mask m;
    memset(&m, 0, sizeof m);
    m.key_padding = kp;
    m.causal = 0;

    float *res[2][5]; /* [zero, nan][out, probs, dq, dk, dv] */
    for (int variant = 0; variant < 2; variant++) {
        float fill = variant ? NAN : 0.0f;
        for (size_t b = 0; b < B; b++)
            for (size_t s = 0; s < S; s++)
                if (kp[b * S + s]) {
                    fset(k + (b * S + s) * E, E, fill);
                    fset(v + (b * S + s) * E, E, fill);
                }
        float *out = fzeros(B * L * E), *probs = fzeros(B * H * L * S);
        float *dq = fzeros(B * L * E), *dk = fzeros(B * S * E), *dv = fzeros(B * S * E);
            attend_sdpa_forward(out, probs, q, k, v, &m, B, H, L, S, D, 0.0f, 0);
        attend_sdpa_backward(dq, dk, dv, R, q, k, v, probs, &m, B, H, L, S, D, 0.0f, 0);
        res[variant][0] = out;
        res[variant][1] = probs;
        res[variant][2] = dq;
        res[variant][3] = dk;
        res[variant][4] = dv;
    }
    static const char *what[5] = {"out", "probs", "dq", "dk", "dv"};
    size_t sizes[5] = {B * L * E, B * H * L * S, B * L * E, B * S * E, B * S * E};
    for (int i = 0; i < 5; i++) {
        CHECK(all_finite(res[1][i], sizes[i]), "sdpa: NaN at a padded key reached %s", what[i]);
        CHECK(memcmp(res[0][i], res[1][i], sizes[i] * sizeof(float)) == 0,
              "sdpa: %s with NaN at a padded key differs from with 0 there", what[i]);
    }

    /* MHA cross-attention: NaN rows in key and value inputs at padded
     * positions. Output and dquery must be finite and match the zero case. */
    attend_mha_config cfg = {E, H, 4, 5, 1, 0.0f};
    size_t np = mha_param_count(&cfg);
    attend_mha_params p;
    mha_bind(&p, &cfg, fzeros(np));
    mha_init(&p, &cfg);
    attend_mha_acts acts;
    attend_mha_acts_bind(&acts, &cfg, B, L, S, 1, fzeros(attend_mha_acts_size(&cfg, B, L, S, 1)));
    float *query = frandn(B * L * E, 1.0f), *key = frandn(B * S * 4, 1.0f);
    float *value = frandn(B * S * 5, 1.0f);
    float *mres[2][5];
    for (int variant = 0; variant < 2; variant++) {
        float fill = variant ? NAN : 0.0f;
        for (size_t b = 0; b < B; b++)
            for (size_t s = 0; s < S; s++)
                if (kp[b * S + s]) {
                    fset(key + (b * S + s) * 4, 4, fill);
                    fset(value + (b * S + s) * 5, 5, fill);
                }
        float *out = fzeros(B * L * E), *dquery = fzeros(B * L * E);
        float *dkey = fzeros(B * S * 4), *dvalue = fzeros(B * S * 5);
        attend_mha_params g;
        mha_bind(&g, &cfg, fzeros(np));
        attend_mha_forward(out, &acts, &cfg, &p, query, key, value, &m, B, L, S, 0, 0);
        attend_mha_backward(dquery, dkey, dvalue, &g, &acts, R, &cfg, &p, query, key, value, &m,
                            B, L, S, 0, 0);
        mres[variant][0] = out;
        mres[variant][1] = dquery;
        mres[variant][2] = g.q_proj_weight; /* depends only on dq and query */
        mres[variant][3] = g.k_proj_weight;
        mres[variant][4] = g.v_proj_weight;
        if (variant)
            CHECK(all_finite(dkey, B * S * 4) && all_finite(dvalue, B * S * 5),
                  "mha: NaN at a padded key reached dkey or dvalue");
    }
    static const char *mwhat[3] = {"out", "dquery", "dq_proj_weight"};
    size_t msizes[3] = {B * L * E, B * L * E, E * E};
    for (int i = 0; i < 3; i++) {
        CHECK(all_finite(mres[1][i], msizes[i]), "mha: NaN at a padded key reached %s", mwhat[i]);
        CHECK(memcmp(mres[0][i], mres[1][i], msizes[i] * sizeof(float)) == 0,
              "mha: %s with NaN at a padded key differs from with 0 there", mwhat[i]);
    }
    /* dk_proj_weight = dk^T key would multiply the padded (zero-gradient)
     * rows by the NaN inputs; mha.c skips those rows so the weights stay
     * finite (a NaN there would reach every weight at the next step). */
    CHECK(all_finite(mres[1][3], E * 4) && all_finite(mres[1][4], E * 5),
          "mha: NaN at a padded key reached the k/v projection weight gradients");
    printf("behaviour: NaN in padded keys/values reaches no output or gradient\n");
    free_all();
}

/* (3) Dropout is reproducible from its seed, drops about p, p = 0 copies. */
static void behave_dropout(void) {
    const size_t n = 100000;
    const float p = 0.3f;
    float *x = frandn(n, 1.0f), *a = fzeros(n), *b = fzeros(n), *c = fzeros(n);
    for (size_t i = 0; i < n; i++)
        if (x[i] == 0.0f) x[i] = 1.0f;
    attend_dropout_forward(a, x, n, p, 42);
    attend_dropout_forward(b, x, n, p, 42);
    attend_dropout_forward(c, x, n, p, 43);
    CHECK(memcmp(a, b, n * sizeof(float)) == 0, "dropout: same seed gave different outputs");
    size_t dropped = 0, differ = 0, bad_scale = 0;
    for (size_t i = 0; i < n; i++) {
        if (a[i] == 0.0f) dropped++;
        else if (fabsf(a[i] - x[i] / (1.0f - p)) > 1e-6f * fabsf(x[i])) bad_scale++;
        if ((a[i] == 0.0f) != (c[i] == 0.0f)) differ++;
    }
    double frac = (double)dropped / (double)n;
    /* Binomial sd is sqrt(p(1-p)/n) = 0.0014; allow 0.01 (7 sd). */
    CHECK(fabs(frac - p) < 0.01, "dropout: dropped fraction %.4f, expected ~%.2f", frac, p);
    CHECK(bad_scale == 0, "dropout: %zu kept values not scaled by 1/(1-p)", bad_scale);
    /* Two independent masks differ in 2 p (1-p) = 42% of places. */
    CHECK(differ > n / 4, "dropout: seeds 42 and 43 gave masks differing in only %zu places",
          differ);
    attend_dropout_forward(c, x, n, 0.0f, 42);
    CHECK(memcmp(c, x, n * sizeof(float)) == 0, "dropout: p=0 is not an exact copy");
    memcpy(c, x, n * sizeof(float));
    attend_dropout_forward(c, c, n, 0.0f, 42);
    CHECK(memcmp(c, x, n * sizeof(float)) == 0, "dropout: p=0 in place is not an exact copy");
    printf("behaviour: dropout p=0.3 dropped %.4f of %zu, reproducible, seed-dependent\n", frac, n);
    free_all();
}

/* (4) Softmax of an all -inf row gives 0s (and a finite, zero gradient). */
static void behave_softmax_all_masked(void) {
    const size_t N = 2, C = 5;
    float x[10], out[10], dout[10], dx[10] = {0};
    for (size_t i = 0; i < N * C; i++) {
        x[i] = i < C ? -INFINITY : (float)i * 0.1f;
        out[i] = 7.0f;
        dout[i] = 1.0f + (float)i;
    }
    attend_softmax_forward(out, x, N, C);
    CHECK(all_zero(out, C), "softmax: all -inf row is not all 0");
    CHECK(all_finite(out, N * C), "softmax: non-finite output");
    attend_softmax_backward(dx, dout, out, N, C);
    CHECK(all_zero(dx, C) && all_finite(dx, N * C), "softmax: all -inf row gradient not 0");
    printf("behaviour: softmax of an all -inf row is 0\n");
}

/* (5) Configuration checks. */
static void behave_config_check(void) {
    attend_error err;
    memset(&err, 0, sizeof err);
    attend_mha_config bad = {10, 3, 0, 0, 1, 0.0f};
    CHECK(attend_mha_config_check(&bad, &err) != ATTEND_OK, "mha config E=10 H=3 accepted");
    CHECK(err.status != ATTEND_OK, "mha config check did not fill err.status");
    CHECK(strstr(err.msg, "divisible") != NULL, "mha config message lacks 'divisible': %s", err.msg);
    attend_mha_config zero_heads = {8, 0, 0, 0, 1, 0.0f};
    CHECK(attend_mha_config_check(&zero_heads, &err) != ATTEND_OK, "mha config H=0 accepted");
    attend_mha_config zero_e = {0, 2, 0, 0, 1, 0.0f};
    CHECK(attend_mha_config_check(&zero_e, &err) != ATTEND_OK, "mha config E=0 accepted");
    CHECK(attend_mha_config_check(&bad, NULL) != ATTEND_OK, "mha config check with err=NULL");
    attend_mha_config good = {8, 2, 3, 5, 0, 0.1f};
    CHECK(attend_mha_config_check(&good, &err) == ATTEND_OK, "valid mha config rejected: %s",
          err.msg);
    attend_encoder_config ebad = {10, 4, 16, ATTEND_ACT_RELU, 0, 1e-5f, 0.1f, 0, 0.0f};
    CHECK(attend_encoder_config_check(&ebad, &err) != ATTEND_OK, "encoder E=10 H=4 accepted");
    attend_encoder_config ezero = {8, 0, 16, ATTEND_ACT_RELU, 0, 1e-5f, 0.1f, 0, 0.0f};
    CHECK(attend_encoder_config_check(&ezero, &err) != ATTEND_OK, "encoder H=0 accepted");
    attend_encoder_config egood = {8, 2, 12, ATTEND_ACT_GELU, 1, 1e-5f, 0.1f, 0, 0.0f};
    CHECK(attend_encoder_config_check(&egood, &err) == ATTEND_OK, "valid encoder config rejected: %s",
          err.msg);
    printf("behaviour: config checks reject E %% H != 0 and zero heads\n");
}


/* ------------------------------------------------------------------------ */
/* BERT: embeddings with token types and LayerNorm, the pooler, a model     */
/* ------------------------------------------------------------------------ */

typedef struct {
    float *x, *emb, *mean, *rstd;
    const int32_t *tok, *types;
    const attend_model_params *p;
    size_t B, T, E;
    float p_drop;
} bemb_ctx;

static void bemb_fwd(void *c_) {
    bemb_ctx *c = c_;
    attend_bert_embeddings_forward(c->x, c->emb, c->mean, c->rstd, c->tok, c->types, c->p, c->B,
                                   c->T, c->E, 1e-5f, c->p_drop, 0xBE57ull);
}

static void test_bert_embeddings(float p_drop) {
    const size_t B = 2, T = 5, E = 8, V = 11, P = 7, NT = 3, BT = B * T;
    attend_model_params p, g;
    memset(&p, 0, sizeof p);
    memset(&g, 0, sizeof g);
    p.tok_emb = frandn(V * E, 1.0f), p.pos_emb = frandn(P * E, 1.0f), p.type_emb = frandn(NT * E, 1.0f);
    p.emb_norm_w = frandn(E, 1.0f), p.emb_norm_b = frandn(E, 1.0f);
    g.tok_emb = fzeros(V * E), g.pos_emb = fzeros(P * E), g.type_emb = fzeros(NT * E);
    g.emb_norm_w = fzeros(E), g.emb_norm_b = fzeros(E);
    int32_t tok[10] = {3, 7, 7, 1, 0, 10, 2, 5, 0, 0}, types[10] = {0, 0, 1, 1, 2, 0, 2, 2, 1, 0};
    uint8_t *pad = bzeros(BT);
    pad[4] = pad[8] = pad[9] = 1;
    /* the model's loss never reads a padded position (its gradient is 0 there) */
    float *R = frandn(BT * E, 1.0f);
    for (size_t i = 0; i < BT; i++)
        if (pad[i]) memset(R + i * E, 0, E * sizeof(float));
    bemb_ctx c = {fzeros(BT * E), fzeros(BT * E), fzeros(BT), fzeros(BT), tok, types, &p, B, T, E, p_drop};
    fd_problem pr = {bemb_fwd, &c, c.x, R, BT * E};
    bemb_fwd(&c);
    float *dx = fcopy(R, BT * E), *demb = fzeros(BT * E);
    attend_bert_embeddings_backward(&g, dx, demb, tok, types, pad, &p, c.emb, c.mean, c.rstd, B, T,
                                    E, p_drop, 0xBE57ull);
    float *g1 = fcopy(g.tok_emb, V * E);
    memcpy(dx, R, BT * E * sizeof(float));
    attend_bert_embeddings_backward(&g, dx, demb, tok, types, pad, &p, c.emb, c.mean, c.rstd, B, T,
                                    E, p_drop, 0xBE57ull);
    check_doubled("bert embeddings dword", g1, g.tok_emb, V * E);
    for (size_t i = 0; i < V * E; i++) g.tok_emb[i] = g1[i];
    memset(g.pos_emb, 0, P * E * sizeof(float));
    memset(g.type_emb, 0, NT * E * sizeof(float));
    memset(g.emb_norm_w, 0, E * sizeof(float));
    memset(g.emb_norm_b, 0, E * sizeof(float));
    memcpy(dx, R, BT * E * sizeof(float));
    memset(g.tok_emb, 0, V * E * sizeof(float));
    attend_bert_embeddings_backward(&g, dx, demb, tok, types, pad, &p, c.emb, c.mean, c.rstd, B, T,
                                    E, p_drop, 0xBE57ull);
    char name[80];
    const char *what[5] = {"word", "position", "token type", "LayerNorm weight", "LayerNorm bias"};
    float *pv[5] = {p.tok_emb, p.pos_emb, p.type_emb, p.emb_norm_w, p.emb_norm_b};
    float *gv[5] = {g.tok_emb, g.pos_emb, g.type_emb, g.emb_norm_w, g.emb_norm_b};
    size_t nv[5] = {V * E, P * E, NT * E, E, E};
    for (int k = 0; k < 5; k++) {
        snprintf(name, sizeof name, "bert embeddings d%s (dropout %g)", what[k], (double)p_drop);
        fd_check(NULL, name, &pr, pv[k], nv[k], gv[k], 1e-2f, 2e-3);
    }
    /* the padding id (0) is only read at padded positions: no gradient */
    CHECK(all_zero(g.tok_emb, E) && all_zero(g.pos_emb + 4 * E, E),
          "bert embeddings: a padded position got a gradient");
    free_all();
}

typedef struct {
    float *u;
    const float *h, *w, *b;
    size_t B, T, E;
} pooler_ctx;

static void pooler_fwd(void *c_) {
    pooler_ctx *c = c_;
    attend_pooler_forward(c->u, c->h, c->w, c->b, c->B, c->T, c->E);
}

static void test_pooler(void) {
    const size_t B = 3, T = 4, E = 6;
    float *h = frandn(B * T * E, 1.0f), *w = frandn(E * E, 0.5f), *b = frandn(E, 0.5f);
    float *R = frandn(B * E, 1.0f), *dh = fzeros(B * T * E), *dw = fzeros(E * E), *db = fzeros(E);
    pooler_ctx c = {fzeros(B * E), h, w, b, B, T, E};
    fd_problem pr = {pooler_fwd, &c, c.u, R, B * E};
    pooler_fwd(&c);
    float *du = fcopy(R, B * E);
    attend_pooler_backward(dh, dw, db, du, h, c.u, w, B, T, E);
    fd_check(NULL, "pooler dh", &pr, h, B * T * E, dh, 1e-2f, 2e-3);
    fd_check(NULL, "pooler dw", &pr, w, E * E, dw, 1e-2f, 2e-3);
    fd_check(NULL, "pooler dbias", &pr, b, E, db, 1e-2f, 2e-3);
    size_t off_first = 0;
    for (size_t bi = 0; bi < B; bi++)
        for (size_t t = 1; t < T; t++) off_first += !all_zero(dh + (bi * T + t) * E, E);
    CHECK(off_first == 0, "pooler: a token other than the first got a gradient");
    free_all();
}

/* A small random BERT classifier (WordPiece over a tiny vocabulary). */
static attend_model *small_bert(attend_pool_kind pool, attend_activation act) {
    static const char vocab[] = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\ncat\nsat\non\nmat\n##s\ndog\n";
    attend_wordpiece *wp = NULL;
    attend_tokenizer *tok = NULL;
    attend_model *m = NULL;
    attend_error err = {0};
    attend_model_config c;
    attend_model_config_default(&c);
    c.arch = ATTEND_ARCH_BERT;
    c.vocab_size = 11;
    c.num_classes = 3;
    c.d_model = 8;
    c.nhead = 2;
    c.num_layers = 2;
    c.dim_feedforward = 12;
    c.max_len = c.max_positions = 9;
    c.type_vocab_size = 2;
    c.pooler = 1;
    c.pool = pool;
    c.activation = act;
    c.dropout = c.attn_dropout = 0.1f;
    char *const labels[3] = {"a", "b", "c"};
    CHECK(attend_wordpiece_load_memory(&wp, vocab, sizeof vocab - 1, "vocab", NULL, &err) == ATTEND_OK &&
              attend_tokenizer_wordpiece_new(&tok, wp, 0, &err) == ATTEND_OK &&
              attend_model_create(&m, &c, tok, labels, &err) == ATTEND_OK,
          "small BERT: %s", err.msg);
    if (!m) return NULL;
    /* weights of order 1 (BERT's 0.02 would leave the gradients tiny) */
    for (size_t i = 0; i < m->layout.total; i++) m->params[i] = 0.3f * test_randn();
    return m;
}

typedef struct {
    const attend_model *m;
    attend_model_acts *a;
    const int32_t *tok;
    const uint8_t *pad;
    size_t B, T;
} bert_ctx;

static void bert_fwd(void *c_) {
    bert_ctx *c = c_;
    attend_bert_forward(c->m, c->a, c->tok, NULL, c->pad, c->B, c->T, 1, 0x5EEDull);
}

static void test_bert_model(attend_pool_kind pool, attend_activation act, int fused) {
    const size_t B = 2, T = 6;
    attend_model *m = small_bert(pool, act);
    if (!m) return;
    int32_t tok[12] = {2, 4, 5, 9, 6, 3, 2, 10, 7, 8, 3, 0};
    uint8_t *pad = bzeros(B * T);
    pad[11] = 1;
    const int flags = ATTEND_ACTS_GRAD | (fused ? ATTEND_ACTS_FUSED : 0);
    attend_model_acts a;
    attend_model_acts_bind(&a, &m->cfg, B, T, flags, fzeros(attend_model_acts_size(&m->cfg, B, T, flags)));
    float *gmem = fzeros(m->layout.total);
    attend_model_params g;
    attend_layout bind = m->layout;
    bind.base = gmem;
    bind.total = 0;
    attend_model_layout(&bind, &m->cfg, &g);
    const size_t K = m->cfg.num_classes;
    float *R = frandn(B * K, 1.0f);
    bert_ctx c = {m, &a, tok, pad, B, T};
    fd_problem pr = {bert_fwd, &c, a.logits, R, B * K};
    bert_fwd(&c);
    memcpy(a.dlogits, R, B * K * sizeof(float));
    attend_bert_backward(m, &g, &a, tok, NULL, pad, B, T, 1, 0x5EEDull);
    static const char *const names[] = {"embeddings.word_embeddings.weight", "embeddings.LayerNorm.weight",
                                        "encoder.layer.0.attention.self.value.weight",
                                        "encoder.layer.0.attention.output.dense.weight",
                                        "encoder.layer.1.attention.self.value.bias",
                                        "encoder.layer.1.intermediate.dense.weight", "pooler.dense.weight",
                                        "classifier.weight"};
    static const char *const pools[] = {"mean", "cls", "max", "pooler"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        long i = attend_layout_find(&m->layout, names[k]);
        if (i < 0 || (pool != ATTEND_POOL_POOLER && strncmp(names[k], "pooler", 6) == 0)) continue;
        const attend_param_info *it = &m->layout.items[i];
        char name[160];
        snprintf(name, sizeof name, "bert %s pooling%s%s, dropout 0.1: %s", pools[pool],
                 act == ATTEND_ACT_GELU_TANH ? ", gelu_tanh" : "", fused ? ", fused" : "", names[k]);
        fd_check(NULL, name, &pr, m->params + it->offset, it->numel, gmem + it->offset, 1e-2f, 5e-3);
    }
    attend_model_free(m);
    free_all();
}

int main(void) {
    attend_set_threads(3); /* odd, oversubscribed: the threaded paths must be right too */

    test_linear(1);
    test_linear(0);
    test_layernorm();
    test_elementwise();
    test_softmax();
    test_crossentropy("crossentropy", 0, 0.0f, 0);
    test_crossentropy("crossentropy class weights", 1, 0.0f, 0);
    test_crossentropy("crossentropy label smoothing 0.1", 0, 0.1f, 0);
    test_crossentropy("crossentropy weights + smoothing", 1, 0.1f, 0);
    test_crossentropy("crossentropy weights + smoothing + ignored", 1, 0.1f, 1);

    test_sdpa("sdpa no mask", 0, 0.0f);
    test_sdpa("sdpa key padding", SD_PAD, 0.0f);
    test_sdpa("sdpa causal", SD_CAUSAL, 0.0f);
    test_sdpa("sdpa bool 2-D mask", SD_BOOL2, 0.0f);
    test_sdpa("sdpa bool per-head 3-D mask", SD_BOOL3, 0.0f);
    test_sdpa("sdpa float mask (-inf)", SD_FLOAT2, 0.0f);
    test_sdpa("sdpa float per-head mask", SD_FLOAT3, 0.0f);
    test_sdpa("sdpa fully masked query row", SD_FULLROW | SD_PAD, 0.0f);
    test_sdpa("sdpa dropout 0.2", 0, 0.2f);
    test_sdpa("sdpa all masks + dropout", SD_PAD | SD_CAUSAL | SD_BOOL3 | SD_FLOAT3, 0.2f);

    static const mha_case mha_cases[] = {
        {"mha self", 1, 0, 0, 5, 5, 1, 0, 0, 0, 0.0f},
        {"mha cross kdim=6 vdim=5 L=4 S=6", 0, 6, 5, 4, 6, 1, 0, 0, 0, 0.0f},
        {"mha cross kdim=vdim=E L=4 S=6", 0, 0, 0, 4, 6, 1, 0, 0, 0, 0.0f},
        {"mha self no-bias", 1, 0, 0, 5, 5, 0, 0, 0, 0, 0.0f},
        {"mha self key padding", 1, 0, 0, 5, 5, 1, 1, 0, 0, 0.0f},
        {"mha cross no-bias key padding", 0, 6, 5, 4, 6, 0, 1, 0, 0, 0.0f},
        {"mha self causal dropout 0.2", 1, 0, 0, 5, 5, 1, 0, 1, 1, 0.2f},
    };
    for (size_t i = 0; i < sizeof mha_cases / sizeof mha_cases[0]; i++) test_mha(&mha_cases[i]);

    static const enc_case enc_cases[] = {
        {"encoder post-norm relu", ATTEND_ACT_RELU, 0, 0, 0, 0.1f, 1, 0},
        {"encoder pre-norm gelu", ATTEND_ACT_GELU, 1, 0, 0, 0.1f, 1, 0},
        {"encoder post-norm relu key padding", ATTEND_ACT_RELU, 0, 1, 0, 0.1f, 1, 0},
        {"encoder pre-norm gelu key padding", ATTEND_ACT_GELU, 1, 1, 0, 0.1f, 1, 0},
        {"encoder post-norm gelu training dropout 0.1", ATTEND_ACT_GELU, 0, 1, 1, 0.1f, 1, 0},
        {"encoder pre-norm relu training dropout 0.1", ATTEND_ACT_RELU, 1, 0, 1, 0.1f, 1, 0},
        {"encoder stack x2 post-norm relu key padding", ATTEND_ACT_RELU, 0, 1, 0, 0.1f, 2, 0},
        {"encoder stack x2 pre-norm gelu training", ATTEND_ACT_GELU, 1, 1, 1, 0.1f, 2, 0},
        {"encoder post-norm gelu_tanh key padding", ATTEND_ACT_GELU_TANH, 0, 1, 0, 0.1f, 1, 0},
        {"encoder stack x2 post-norm gelu BERT dropout training", ATTEND_ACT_GELU, 0, 1, 1, 0.1f, 2, 1},
    };
    for (size_t i = 0; i < sizeof enc_cases / sizeof enc_cases[0]; i++) test_encoder(&enc_cases[i]);

    test_bert_embeddings(0.0f);
    test_bert_embeddings(0.2f);
    test_pooler();
    test_bert_model(ATTEND_POOL_POOLER, ATTEND_ACT_GELU, 0);
    test_bert_model(ATTEND_POOL_MEAN, ATTEND_ACT_GELU_TANH, 1);
    test_bert_model(ATTEND_POOL_MAX, ATTEND_ACT_GELU, 1);

    behave_fully_masked_row();
    behave_nan_masked_key();
    behave_dropout();
    behave_softmax_all_masked();
    behave_config_check();

    return test_summary("test_grad");
}
