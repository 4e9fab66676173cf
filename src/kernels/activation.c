/* Elementwise layers: ReLU, GELU (exact erf form, as PyTorch's default, and
 * the tanh form BERT's "gelu_new" uses) and the residual add. Each is a dispatched chunk kernel run over chunks. */
#include "base/parallel.h"
#include "base/rng.h"
#include "kernels/kernels.h"
#include "kernels/vmath.h"
#include <math.h>

ATTEND_DISPATCH static void relu_fwd(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void attend_relu_forward(float *out, const float *inp, size_t n) {
    ATTEND_FOR_CHUNKS(n, s, len, relu_fwd(out + s, inp + s, len));
}

ATTEND_DISPATCH static void relu_bwd(float *dinp, const float *dout, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) dinp[i] += inp[i] > 0.0f ? dout[i] : 0.0f;
}

void attend_relu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    ATTEND_FOR_CHUNKS(n, s, len, relu_bwd(dinp + s, dout + s, inp + s, len));
}

ATTEND_DISPATCH static void gelu_fwd(float *out, const float *inp, size_t n) {
    // gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
    for (size_t i = 0; i < n; i++) out[i] = inp[i] * attend_vnormal_cdf(inp[i]);
}

void attend_gelu_forward(float *out, const float *inp, size_t n) {
    ATTEND_FOR_CHUNKS(n, s, len, gelu_fwd(out + s, inp + s, len));
}

/* gelu'(x) = Phi(x) + x * phi(x), phi the standard normal density */
static ATTEND_INLINE float gelu_grad(float x) {
    return attend_vnormal_cdf(x) + x * attend_vnormal_pdf(x);
}

ATTEND_DISPATCH static void gelu_bwd(float *dinp, const float *dout, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * gelu_grad(inp[i]);
}

void attend_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    ATTEND_FOR_CHUNKS(n, s, len, gelu_bwd(dinp + s, dout + s, inp + s, len));
}

/* sqrt(2/pi) and the cubic coefficient of the tanh form */
#define GELU_TANH_K 0.7978845608028654f
#define GELU_TANH_C 0.044715f

static void gelu_tanh_fwd(float *out, const float *inp, size_t n) {
    // gelu_tanh(x) = 0.5 x (1 + tanh(k (x + c x^3)))
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanhf(GELU_TANH_K * (x + GELU_TANH_C * x * x * x)));
    }
}

void attend_gelu_tanh_forward(float *out, const float *inp, size_t n) {
    ATTEND_FOR_CHUNKS(n, s, len, gelu_tanh_fwd(out + s, inp + s, len));
}

/* d/dx gelu_tanh = 0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2), t = tanh(k (x + c x^3)) */
static inline float gelu_tanh_grad(float x) {
    const float t = tanhf(GELU_TANH_K * (x + GELU_TANH_C * x * x * x));
    return 0.5f * (1.0f + t) +
           0.5f * x * (1.0f - t * t) * GELU_TANH_K * (1.0f + 3.0f * GELU_TANH_C * x * x);
}

static void gelu_tanh_bwd(float *dinp, const float *dout, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) dinp[i] += dout[i] * gelu_tanh_grad(inp[i]);
}

void attend_gelu_tanh_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    ATTEND_FOR_CHUNKS(n, s, len, gelu_tanh_bwd(dinp + s, dout + s, inp + s, len));
}

ATTEND_DISPATCH static void add2(float *out, const float *a, const float *b, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

ATTEND_DISPATCH static void acc(float *d, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] += x[i];
}

void attend_residual_forward(float *out, const float *a, const float *b, size_t n) {
    ATTEND_FOR_CHUNKS(n, s, len, add2(out + s, a + s, b + s, len));
}

void attend_residual_backward(float *da, float *db, const float *dout, size_t n) {
    if (da) ATTEND_FOR_CHUNKS(n, s, len, acc(da + s, dout + s, len));
    if (db) ATTEND_FOR_CHUNKS(n, s, len, acc(db + s, dout + s, len));
}

/* ---- the feed-forward block's activation and dropout, fused ----
 * One pass over the (B*T, d_ff) tensor instead of three or four: at
 * d_ff 2048 each pass is 32 MiB of memory traffic per layer. The
 * arithmetic is the same as the separate layers' (same bits). */

ATTEND_DISPATCH static void relu_drop_fwd(float *out, const float *h, size_t n, size_t first,
                                          float p, float scale, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        const float r = h[i] > 0.0f ? h[i] : 0.0f;
        out[i] = attend_dropout_apply(r, seed, first + i, p, scale);
    }
}

ATTEND_DISPATCH static void relu_drop_bwd(float *dh, const float *da, const float *h, size_t n,
                                          size_t first, float p, float scale, uint64_t seed) {
    // forward: a = m * relu(h)  ->  dh = (h > 0) m da   (0 + x as the adding layers do)
    if (p <= 0.0f) {
        for (size_t i = 0; i < n; i++) dh[i] = 0.0f + (h[i] > 0.0f ? da[i] : 0.0f);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const float d = attend_dropout_apply(da[i], seed, first + i, p, scale);
        dh[i] = 0.0f + (h[i] > 0.0f ? d : 0.0f);
    }
}

ATTEND_DISPATCH static void gelu_drop_bwd(float *dh, const float *da, const float *h, size_t n,
                                          size_t first, float p, float scale, uint64_t seed) {
    for (size_t i = 0; i < n; i++) { /* p = 0 keeps every element: d = da * 1 */
        const float d = attend_dropout_apply(da[i], seed, first + i, p, scale);
        dh[i] = 0.0f + d * gelu_grad(h[i]);
    }
}

static void gelu_tanh_drop_bwd(float *dh, const float *da, const float *h, size_t n,
                               size_t first, float p, float scale, uint64_t seed) {
    for (size_t i = 0; i < n; i++) {
        const float d = p > 0.0f ? attend_dropout_apply(da[i], seed, first + i, p, scale) : da[i];
        dh[i] = 0.0f + d * gelu_tanh_grad(h[i]);
    }
}

void attend_act_dropout_forward(float *a, const float *h, size_t n, attend_activation act,
                                float p, uint64_t seed) {
    if (act != ATTEND_ACT_RELU || p <= 0.0f) { /* GELU, or nothing to fuse */
        if (act == ATTEND_ACT_GELU) attend_gelu_forward(a, h, n);
        else if (act == ATTEND_ACT_GELU_TANH) attend_gelu_tanh_forward(a, h, n);
        else attend_relu_forward(a, h, n);
        attend_dropout_forward(a, a, n, p, seed);
        return;
    }
    const float scale = 1.0f / (1.0f - p);
    ATTEND_FOR_CHUNKS(n, s, len, relu_drop_fwd(a + s, h + s, len, s, p, scale, seed));
}

void attend_act_dropout_backward(float *dh, const float *da, const float *h, size_t n,
                                 attend_activation act, float p, uint64_t seed) {
    const float scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
    if (act == ATTEND_ACT_GELU)
        ATTEND_FOR_CHUNKS(n, s, len, gelu_drop_bwd(dh + s, da + s, h + s, len, s, p, scale, seed));
    else if (act == ATTEND_ACT_GELU_TANH)
        ATTEND_FOR_CHUNKS(n, s, len, gelu_tanh_drop_bwd(dh + s, da + s, h + s, len, s, p, scale, seed));
    else
        ATTEND_FOR_CHUNKS(n, s, len, relu_drop_bwd(dh + s, da + s, h + s, len, s, p, scale, seed));
}
