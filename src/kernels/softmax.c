/* Row-wise softmax. A row whose entries are all -inf has no mass to spread:
 * it gives zeros rather than NaN (PyTorch's later "safe softmax"). */
#include "attend.h"
#include "base/parallel.h"
#include <math.h>

void attend_softmax_forward(float *out, const float *inp, size_t N, size_t C) {
    // inp (N,C) -> out (N,C)
    ATTEND_OMP(parallel for if (N * C > 32768))
    for (size_t n = 0; n < N; n++) {
        const float *x = inp + n * C;
        float *y = out + n * C;
        float mx = -INFINITY;
        for (size_t c = 0; c < C; c++) mx = x[c] > mx ? x[c] : mx;
        if (mx == -INFINITY) {
            for (size_t c = 0; c < C; c++) y[c] = 0.0f;
            continue;
        }
        float sum = 0.0f;
        for (size_t c = 0; c < C; c++) {
            y[c] = expf(x[c] - mx);
            sum += y[c];
        }
        float inv = 1.0f / sum;
        for (size_t c = 0; c < C; c++) y[c] *= inv;
    }
}

void attend_softmax_backward(float *dinp, const float *dout, const float *out,
                             size_t N, size_t C) {
    // dx_c = y_c * (dy_c - sum_j y_j dy_j)
    ATTEND_OMP(parallel for if (N * C > 32768))
    for (size_t n = 0; n < N; n++) {
        const float *y = out + n * C, *dy = dout + n * C;
        float dot = 0.0f;
        for (size_t c = 0; c < C; c++) dot += y[c] * dy[c];
        for (size_t c = 0; c < C; c++) dinp[n * C + c] += y[c] * (dy[c] - dot);
    }
}
