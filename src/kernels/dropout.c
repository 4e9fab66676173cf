/* Inverted dropout whose mask is a pure function of (seed, index): the same
 * seed gives the same mask on any thread count, and the backward recomputes
 * it instead of storing it. */
#include "attend.h"
#include "base/parallel.h"
#include "base/rng.h"

#include <string.h>

/* Chunk kernel: elements [first, first + n) of the whole tensor. */
ATTEND_DISPATCH static void drop_fwd(float *out, const float *inp, size_t n, size_t first,
                                     float p, float scale, uint64_t seed) {
    for (size_t i = 0; i < n; i++)
        out[i] = attend_dropout_apply(inp[i], seed, first + i, p, scale);
}

ATTEND_DISPATCH static void drop_bwd(float *dinp, const float *dout, size_t n, size_t first,
                                     float p, float scale, uint64_t seed) {
    for (size_t i = 0; i < n; i++)
        dinp[i] += attend_dropout_apply(dout[i], seed, first + i, p, scale);
}

void attend_dropout_forward(float *out, const float *inp, size_t n, float p, uint64_t seed) {
    if (p <= 0.0f) {
        if (out != inp) memmove(out, inp, n * sizeof(float));
        return;
    }
    const float scale = 1.0f / (1.0f - p);
    ATTEND_FOR_CHUNKS(n, s, len, drop_fwd(out + s, inp + s, len, s, p, scale, seed));
}

void attend_dropout_backward(float *dinp, const float *dout, size_t n, float p, uint64_t seed) {
    const float scale = p > 0.0f ? 1.0f / (1.0f - p) : 1.0f;
    if (p <= 0.0f) p = -1.0f; /* keep everything */
    ATTEND_FOR_CHUNKS(n, s, len, drop_bwd(dinp + s, dout + s, len, s, p, scale, seed));
}
