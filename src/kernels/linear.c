/* Linear layer, weights (OUT,IN) as nn.Linear: out = inp @ weight^T + bias. */
#include "base/parallel.h"
#include "kernels/kernels.h"

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
    attend_linear_backward_ex(dinp, 1, dweight, dbias, dout, inp, weight, N, IN, OUT);
}

void attend_linear_backward_ex(float *dinp, int dinp_add, float *dweight, float *dbias,
                               const float *dout, const float *inp, const float *weight,
                               size_t N, size_t IN, size_t OUT) {
    // dout (N,OUT); dinp (N,IN) (+)= dout @ weight
    if (dinp)
        attend_gemm(0, 0, N, IN, OUT, 1.0f, dout, OUT, weight, IN, dinp_add ? 1.0f : 0.0f, dinp,
                    IN);
    // dweight (OUT,IN) += dout^T @ inp
    if (dweight) attend_gemm(1, 0, OUT, IN, N, 1.0f, dout, OUT, inp, IN, 1.0f, dweight, IN);
    // dbias (OUT) += column sums of dout
    // Columns are summed in blocks of 64 that walk the rows in order, so the
    // reads are contiguous and each sum still adds its rows in the order
    // n = 0, 1, ... (the same bits as a plain column loop).
    if (dbias) {
        enum { CB = 64 };
        const size_t nblk = (OUT + CB - 1) / CB;
        ATTEND_OMP(parallel for if (N * OUT > 65536 && nblk > 1))
        for (size_t blk = 0; blk < nblk; blk++) {
            const size_t o0 = blk * CB, w = OUT - o0 < CB ? OUT - o0 : CB;
            float acc[CB] = {0};
            for (size_t n = 0; n < N; n++) {
                const float *row = dout + n * OUT + o0;
                for (size_t j = 0; j < w; j++) acc[j] += row[j];
            }
            for (size_t j = 0; j < w; j++) dbias[o0 + j] += acc[j];
        }
    }
}
