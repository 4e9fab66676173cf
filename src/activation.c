/* Elementwise layers: ReLU, GELU (exact erf form, as PyTorch's default) and
 * the residual add. Each is a dispatched chunk kernel run over chunks. */
#include "internal.h"

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

static void gelu_fwd(float *out, const float *inp, size_t n) {
    // gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * ATTEND_SQRT1_2));
    }
}

void attend_gelu_forward(float *out, const float *inp, size_t n) {
    ATTEND_FOR_CHUNKS(n, s, len, gelu_fwd(out + s, inp + s, len));
}

static void gelu_bwd(float *dinp, const float *dout, const float *inp, size_t n) {
    // gelu'(x) = Phi(x) + x * phi(x), phi the standard normal density
    const float inv_sqrt_2pi = 0.3989422804014327f;
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float cdf = 0.5f * (1.0f + erff(x * ATTEND_SQRT1_2));
        float pdf = inv_sqrt_2pi * expf(-0.5f * x * x);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

void attend_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    ATTEND_FOR_CHUNKS(n, s, len, gelu_bwd(dinp + s, dout + s, inp + s, len));
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
