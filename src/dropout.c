/* Inverted dropout whose mask is a pure function of (seed, index): the same
 * seed gives the same mask on any thread count, and the backward recomputes
 * it instead of storing it. */
#include "internal.h"

#include <string.h>

void attend_dropout_forward(float *out, const float *inp, size_t n, float p, uint64_t seed) {
    if (p <= 0.0f) {
        if (out != inp) memmove(out, inp, n * sizeof(float));
        return;
    }
    const float scale = 1.0f / (1.0f - p);
    ATTEND_OMP(parallel for if (n > 65536))
    for (size_t i = 0; i < n; i++)
        out[i] = attend_hash_uniform(seed, i) >= p ? inp[i] * scale : 0.0f;
}

void attend_dropout_backward(float *dinp, const float *dout, size_t n, float p, uint64_t seed) {
    if (p <= 0.0f) {
        for (size_t i = 0; i < n; i++) dinp[i] += dout[i];
        return;
    }
    const float scale = 1.0f / (1.0f - p);
    ATTEND_OMP(parallel for if (n > 65536))
    for (size_t i = 0; i < n; i++)
        if (attend_hash_uniform(seed, i) >= p) dinp[i] += dout[i] * scale;
}
