/* The one matrix-multiply interface. Every GEMM in attend goes through
 * attend_gemm, so a faster backend (a hand-written small-matrix kernel,
 * oneDNN, a GPU) can replace CBLAS here without touching the layers.
 *
 * Threading: the BLAS runs single-threaded and attend splits C into row (or
 * column) blocks across its own OpenMP threads. The GEMMs here are small
 * (hundreds of rows, 64-256 columns); OpenBLAS's own threads spin and
 * contend with OpenMP on such sizes, while blocks of C are independent, so
 * each element is still computed by one sequential dot product. The blocks
 * depend on the GEMM's shape only, so the result does not depend on the
 * number of threads. */
#include "base/parallel.h"
#include "kernels/kernels.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>

static attend_matmul_precision precision_ = ATTEND_MATMUL_FP32;

void attend_set_matmul_precision(attend_matmul_precision p) {
    precision_ = p == ATTEND_MATMUL_BF16 ? ATTEND_MATMUL_BF16 : ATTEND_MATMUL_FP32;
}

attend_matmul_precision attend_get_matmul_precision(void) { return precision_; }

/* Below this many multiply-adds a GEMM is one call (one thread); blocks
 * have at least this many. */
#define GEMM_PARALLEL_MIN ((size_t)1 << 17)
/* At most this many blocks (threads beyond it share no GEMM). */
#define GEMM_MAX_BLOCKS ((size_t)16)

static void gemm_serial(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                        const float *A, size_t lda, const float *B, size_t ldb, float beta,
                        float *C, size_t ldc) {
    /* Sizes were validated against the model's limits before they got here,
     * so they fit BLAS's int. */
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, (blasint)M, (blasint)N, (blasint)K, alpha,
                A, (blasint)lda, B, (blasint)ldb, beta, C, (blasint)ldc);
}

/* The bf16 kernel's packing scratch (attend_gemm_bf16_scratch() words, 288
 * KiB): one per thread, made on the thread's first bf16 product and kept
 * until the thread exits, instead of one allocation of the threads' slices
 * for every product. NULL when it cannot be had (the portable path then
 * runs). */
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static int scratch_key_ok = 0;

static void scratch_key_init(void) { scratch_key_ok = pthread_key_create(&scratch_key, free) == 0; }

static uint32_t *bf16_scratch(void) {
    const size_t words = attend_gemm_bf16_scratch();
    if (!words || pthread_once(&scratch_once, scratch_key_init) != 0 || !scratch_key_ok) return NULL;
    uint32_t *s = pthread_getspecific(scratch_key);
    if (!s && (s = malloc(words * sizeof(uint32_t))) && pthread_setspecific(scratch_key, s) != 0) {
        free(s);
        s = NULL;
    }
    return s;
}

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;
static void pin_blas(void) { openblas_set_num_threads(1); }

/* One block of C on the calling thread, in the current precision. A bf16
 * block whose copies cannot be allocated runs in fp32 (more precise, never
 * wrong). */
static void gemm_block(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                       const float *A, size_t lda, const float *B, size_t ldb, float beta,
                       float *C, size_t ldc) {
    uint32_t *scratch = precision_ == ATTEND_MATMUL_BF16 ? bf16_scratch() : NULL;
    if (precision_ == ATTEND_MATMUL_BF16 &&
        attend_gemm_bf16(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                         scratch) == 0)
        return;
    gemm_serial(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

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
    /* the BLAS single-threaded, once, before any product (a plain flag was a
     * data race when threads of a server made their first products at once) */
    pthread_once(&blas_once, pin_blas);
    /* C is cut into blocks by its shape alone, never by the thread count:
     * OpenBLAS's value for an element can depend on the shape of the call
     * that computes it (its small-matrix and edge kernels), so the same
     * blocks are what makes any number of threads give the same bits. The
     * longer side is split into at most GEMM_MAX_BLOCKS blocks of a multiple
     * of 32 (the bf16 tile's width) and at least GEMM_PARALLEL_MIN
     * multiply-adds each; the threads share the blocks. */
    const int by_rows = M >= N;
    const size_t len = by_rows ? M : N, mnk = M * N * K;
    size_t nb = mnk / GEMM_PARALLEL_MIN;
    nb = nb < 1 ? 1 : nb > GEMM_MAX_BLOCKS ? GEMM_MAX_BLOCKS : nb;
    size_t blk = (len + nb - 1) / nb;
    blk = (blk + 31) / 32 * 32;
    const size_t nblk = (len + blk - 1) / blk;
    if (nblk == 1) {
        gemm_block(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    const int nt = attend_get_threads();
    (void)nt; /* without OpenMP */
    ATTEND_OMP(parallel for schedule(static) num_threads(nt) if (nt > 1))
    for (size_t b = 0; b < nblk; b++) {
        size_t s = b * blk, n = len - s < blk ? len - s : blk;
        if (by_rows) {
            // rows [s, s+n) of C come from rows of op(A)
            const float *Ab = trans_a ? A + s : A + s * lda;
            gemm_block(trans_a, trans_b, n, N, K, alpha, Ab, lda, B, ldb, beta, C + s * ldc, ldc);
        } else {
            // columns [s, s+n) of C come from columns of op(B)
            const float *Bb = trans_b ? B + s * ldb : B + s;
            gemm_block(trans_a, trans_b, M, n, K, alpha, A, lda, Bb, ldb, beta, C + s, ldc);
        }
    }
}
