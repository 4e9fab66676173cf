/* Elementwise layers: ReLU, GELU (exact erf form, as PyTorch's default) and
 * the residual add. */
#include "internal.h"

#define ATTEND_ELEMWISE_THRESHOLD 65536

void attend_relu_forward(float *out, const float *inp, size_t n) {
    ATTEND_OMP(parallel for if (n > ATTEND_ELEMWISE_THRESHOLD))
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
}

void attend_relu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    ATTEND_OMP(parallel for if (n > ATTEND_ELEMWISE_THRESHOLD))
    for (size_t i = 0; i < n; i++)
        if (inp[i] > 0.0f) dinp[i] += dout[i];
}

void attend_gelu_forward(float *out, const float *inp, size_t n) {
    // gelu(x) = x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
    ATTEND_OMP(parallel for if (n > ATTEND_ELEMWISE_THRESHOLD))
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + erff(x * ATTEND_SQRT1_2));
    }
}

void attend_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    // gelu'(x) = Phi(x) + x * phi(x), phi the standard normal density
    const float inv_sqrt_2pi = 0.3989422804014327f;
    ATTEND_OMP(parallel for if (n > ATTEND_ELEMWISE_THRESHOLD))
    for (size_t i = 0; i < n; i++) {
        float x = inp[i];
        float cdf = 0.5f * (1.0f + erff(x * ATTEND_SQRT1_2));
        float pdf = inv_sqrt_2pi * expf(-0.5f * x * x);
        dinp[i] += dout[i] * (cdf + x * pdf);
    }
}

void attend_residual_forward(float *out, const float *a, const float *b, size_t n) {
    ATTEND_OMP(parallel for if (n > ATTEND_ELEMWISE_THRESHOLD))
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void attend_residual_backward(float *da, float *db, const float *dout, size_t n) {
    ATTEND_OMP(parallel for if (n > ATTEND_ELEMWISE_THRESHOLD))
    for (size_t i = 0; i < n; i++) {
        if (da) da[i] += dout[i];
        if (db) db[i] += dout[i];
    }
}
