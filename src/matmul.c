/* The one matrix-multiply interface. Every GEMM in attend goes through
 * attend_gemm, so a faster backend (a hand-written small-matrix kernel,
 * oneDNN, a GPU) can replace CBLAS here without touching the layers. */
#include "internal.h"

#include <cblas.h>

void attend_gemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                 const float *A, size_t lda, const float *B, size_t ldb, float beta,
                 float *C, size_t ldc) {
    if (M == 0 || N == 0) return;
    if (K == 0) {
        /* BLAS leaves C untouched only when beta is 1; make K = 0 mean C *= beta. */
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return;
    }
    /* Sizes were validated against the model's limits before they got here,
     * so they fit BLAS's int. */
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N, (blasint)K, alpha,
                A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}
