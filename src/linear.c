/* Linear layer, weights (OUT,IN) as nn.Linear: out = inp @ weight^T + bias. */
#include "internal.h"

#include <string.h>

void attend_linear_forward(float *out, const float *inp, const float *weight,
                           const float *bias, size_t N, size_t IN, size_t OUT) {
    // inp (N,IN), weight (OUT,IN), bias (OUT), out (N,OUT)
    if (bias) {
        ATTEND_OMP(parallel for if (N * OUT > 65536))
        for (size_t n = 0; n < N; n++) memcpy(out + n * OUT, bias, OUT * sizeof(float));
    }
    attend_gemm(0, 1, N, OUT, IN, 1.0f, inp, IN, weight, IN, bias ? 1.0f : 0.0f, out, OUT);
}

void attend_linear_backward(float *dinp, float *dweight, float *dbias,
                            const float *dout, const float *inp, const float *weight,
                            size_t N, size_t IN, size_t OUT) {
    // dout (N,OUT); dinp (N,IN) += dout @ weight
    if (dinp) attend_gemm(0, 0, N, IN, OUT, 1.0f, dout, OUT, weight, IN, 1.0f, dinp, IN);
    // dweight (OUT,IN) += dout^T @ inp
    if (dweight) attend_gemm(1, 0, OUT, IN, N, 1.0f, dout, OUT, inp, IN, 1.0f, dweight, IN);
    // dbias (OUT) += column sums of dout
    if (dbias) {
        ATTEND_OMP(parallel for if (N * OUT > 65536))
        for (size_t o = 0; o < OUT; o++) {
            float s = 0.0f;
            for (size_t n = 0; n < N; n++) s += dout[n * OUT + o];
            dbias[o] += s;
        }
    }
}
