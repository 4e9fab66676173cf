/* attend_gemm in both precisions against a double-precision reference:
 * every transpose combination, edge sizes around the bf16 kernel's tiles and
 * blocks (8 x 32 tiles, K blocks of 256, column blocks of 512), alpha/beta,
 * row strides wider than the matrix, thread-count independence, and the
 * bf16 rounding itself. */
#include "kernels/kernels.h"
#include <math.h>
#include "test.h"

#include <stdint.h>

static float bits_to_float(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static void test_round(void) {
    CHECK(attend_bf16_round(1.0f) == 1.0f, "1 is a bf16");
    /* 1 + 2^-8 is half-way between 1 and 1 + 2^-7: ties go to the even (1) */
    CHECK(attend_bf16_round(1.0f + 0x1p-8f) == 1.0f, "tie to even, down");
    /* 1 + 3 * 2^-8 is half-way between 1 + 2^-7 and 1 + 2^-6: even is 1 + 2^-6 */
    CHECK(attend_bf16_round(1.0f + 3 * 0x1p-8f) == 1.0f + 0x1p-6f, "tie to even, up");
    CHECK(attend_bf16_round(1.0f + 0x1p-8f + 0x1p-20f) == 1.0f + 0x1p-7f, "above half rounds up");
    CHECK(attend_bf16_round(-2.5f) == -2.5f, "exact negative");
    CHECK(attend_bf16_round(INFINITY) == INFINITY, "inf");
    CHECK(isnan(attend_bf16_round(NAN)), "NaN stays NaN");
    /* a NaN whose payload lives only in the low 16 bits must not become inf */
    CHECK(isnan(attend_bf16_round(bits_to_float(0x7F800001u))), "low-payload NaN");
    CHECK(attend_bf16_round(bits_to_float(0x7F7FFFFFu)) == INFINITY, "FLT_MAX rounds to inf");
    float x = 0.1f;
    float r = attend_bf16_round(x);
    CHECK(fabsf(r - x) <= x * 0x1p-9f && r != x, "0.1 within half an ulp of bf16: %g", r);
}

/* op(X)(i, k) */
static double at(const float *X, size_t ld, int trans, size_t i, size_t k, int round) {
    float v = trans ? X[k * ld + i] : X[i * ld + k];
    return round ? attend_bf16_round(v) : v;
}

typedef struct {
    int ta, tb;
    size_t M, N, K;
    float alpha, beta;
    size_t pad; /* extra floats at the end of every row (ld > width) */
} gemm_case;

/* Runs one case in the current precision and checks it element by element:
 * |C - ref| <= tol * sum |alpha a b| + |beta c| terms, with ref over inputs
 * rounded to bf16 when bf16. Returns the largest error against the
 * reference over unrounded inputs, in the same units. */
static double check_case(const gemm_case *c, int bf16, const char *what) {
    const size_t rows_a = c->ta ? c->K : c->M, cols_a = c->ta ? c->M : c->K;
    const size_t rows_b = c->tb ? c->N : c->K, cols_b = c->tb ? c->K : c->N;
    const size_t lda = cols_a + c->pad, ldb = cols_b + c->pad, ldc = c->N + c->pad;
    float *A = malloc(rows_a * lda * sizeof(float)), *B = malloc(rows_b * ldb * sizeof(float));
    float *C = malloc(c->M * ldc * sizeof(float)), *C0 = malloc(c->M * ldc * sizeof(float));
    if (!A || !B || !C || !C0) {
        CHECK(0, "out of memory");
        free(A), free(B), free(C), free(C0);
        return 0;
    }
    test_fill_randn(A, rows_a * lda, 1.0f);
    test_fill_randn(B, rows_b * ldb, 1.0f);
    test_fill_randn(C0, c->M * ldc, 1.0f);
    if (c->beta == 0.0f) /* beta 0 must not read C: poison it */
        for (size_t i = 0; i < c->M * ldc; i++) C0[i] = NAN;
    memcpy(C, C0, c->M * ldc * sizeof(float));
    attend_gemm(c->ta, c->tb, c->M, c->N, c->K, c->alpha, A, lda, B, ldb, c->beta, C, ldc);
    double worst = 0, worst_unrounded = 0;
    int bad_pad = 0;
    for (size_t i = 0; i < c->M; i++) {
        for (size_t j = 0; j < c->N; j++) {
            double s = 0, mag = 0, su = 0;
            for (size_t k = 0; k < c->K; k++) {
                double p = at(A, lda, c->ta, i, k, bf16) * at(B, ldb, !c->tb, j, k, bf16);
                s += p, mag += fabs(p);
                su += at(A, lda, c->ta, i, k, 0) * at(B, ldb, !c->tb, j, k, 0);
            }
            double bc = c->beta == 0.0f ? 0.0 : (double)c->beta * C0[i * ldc + j];
            double ref = c->alpha * s + bc, refu = c->alpha * su + bc;
            double scale = fabs(c->alpha) * mag + fabs(bc) + 1e-30;
            double e = fabs(C[i * ldc + j] - ref) / scale;
            double eu = fabs(C[i * ldc + j] - refu) / scale;
            if (!(e <= worst)) worst = isnan(e) ? INFINITY : e;
            if (eu > worst_unrounded) worst_unrounded = eu;
        }
        for (size_t j = c->N; j < ldc; j++) /* the padding of C is not written */
            if (memcmp(&C[i * ldc + j], &C0[i * ldc + j], sizeof(float))) bad_pad = 1;
    }
    /* fp32 sums of K terms: a few K * 2^-24 relative to sum |terms| */
    const double tol = 4e-7 * (double)(c->K + 8);
    CHECK(worst <= tol, "%s ta=%d tb=%d M=%zu N=%zu K=%zu alpha=%g beta=%g pad=%zu: error %.3g > %.3g",
          what, c->ta, c->tb, c->M, c->N, c->K, c->alpha, c->beta, c->pad, worst, tol);
    CHECK(!bad_pad, "%s M=%zu N=%zu K=%zu: wrote past N into the row padding", what, c->M, c->N,
          c->K);
    free(A), free(B), free(C), free(C0);
    return worst_unrounded;
}

static const gemm_case cases[] = {
    {0, 1, 64, 64, 64, 1.0f, 0.0f, 0},     /* the model's projections: y = x W^T */
    {0, 0, 64, 64, 64, 1.0f, 1.0f, 0},     /* dx += dy W */
    {1, 0, 64, 64, 64, 1.0f, 1.0f, 0},     /* dW += dy^T x */
    {1, 1, 40, 24, 16, 0.5f, 0.0f, 0},
    {0, 1, 37, 45, 77, 1.0f, 0.0f, 3},     /* nothing a multiple of a tile */
    {0, 0, 9, 33, 1, 2.0f, 0.5f, 1},       /* K = 1: one half-empty pair */
    {1, 0, 13, 70, 33, 1.0f, 0.25f, 2},    /* odd K */
    {0, 1, 130, 7, 600, -1.0f, 1.0f, 0},   /* K over two 256-blocks, odd remainder */
    {1, 0, 17, 530, 301, 1.0f, 0.0f, 5},   /* N over a 512-column block */
    {0, 0, 200, 96, 513, 1.0f, 2.0f, 0},   /* M over the 64-row blocks, K = 2 * 256 + 1 */
    {1, 1, 3, 1, 5, 1.0f, 0.0f, 0},
    {0, 1, 512, 192, 64, 1.0f, 0.0f, 0},   /* big enough to be split across threads */
    {1, 0, 64, 256, 700, 1.0f, 1.0f, 0},
};
#define N_CASES (sizeof cases / sizeof cases[0])

/* C from both thread counts must be the same bits. */
static void test_threads(attend_matmul_precision prec) {
    const size_t M = 300, N = 200, K = 333;
    float *A = malloc(M * K * sizeof(float)), *B = malloc(N * K * sizeof(float));
    float *C1 = malloc(M * N * sizeof(float)), *C2 = malloc(M * N * sizeof(float));
    float *D1 = malloc(N * N * sizeof(float)), *D2 = malloc(N * N * sizeof(float));
    if (!A || !B || !C1 || !C2 || !D1 || !D2) {
        CHECK(0, "out of memory");
    } else {
        test_fill_randn(A, M * K, 1.0f);
        test_fill_randn(B, N * K, 1.0f);
        attend_set_matmul_precision(prec);
        attend_set_threads(1);
        attend_gemm(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C1, N);
        attend_gemm(1, 0, N, N, M, 1.0f, C1, N, C1, N, 0.0f, D1, N); /* split by rows */
        attend_set_threads(3);
        attend_gemm(0, 1, M, N, K, 1.0f, A, K, B, K, 0.0f, C2, N);
        attend_gemm(1, 0, N, N, M, 1.0f, C1, N, C1, N, 0.0f, D2, N);
        CHECK(!memcmp(C1, C2, M * N * sizeof(float)), "precision %d: 1 and 3 threads differ (NT)",
              (int)prec);
        CHECK(!memcmp(D1, D2, N * N * sizeof(float)), "precision %d: 1 and 3 threads differ (TN)",
              (int)prec);
        attend_set_threads(1);
    }
    free(A), free(B), free(C1), free(C2), free(D1), free(D2);
}

/* The portable bf16 path (rounded copies on the fp32 BLAS) against the
 * native kernel: the same products, sums in another order. */
static void test_portable_matches_native(void) {
    const size_t M = 45, N = 70, K = 301;
    float *A = malloc(M * K * sizeof(float)), *B = malloc(K * N * sizeof(float));
    float *C1 = malloc(M * N * sizeof(float)), *C2 = malloc(M * N * sizeof(float));
    uint32_t *scratch = NULL;
    size_t words = attend_gemm_bf16_scratch();
    if (words) scratch = malloc(words * sizeof(uint32_t));
    if (!A || !B || !C1 || !C2 || (words && !scratch)) {
        CHECK(0, "out of memory");
    } else {
        test_fill_randn(A, M * K, 1.0f);
        test_fill_randn(B, K * N, 1.0f);
        CHECK(attend_gemm_bf16(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C1, N, NULL) == 0,
              "portable path ran");
        CHECK(attend_gemm_bf16(0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C2, N, scratch) == 0,
              "native path ran");
        double worst = 0;
        for (size_t i = 0; i < M * N; i++) {
            double d = fabs(C1[i] - C2[i]) / (1.0 + fabs(C1[i]));
            if (d > worst) worst = d;
        }
        CHECK(worst < 1e-4, "portable and native bf16 differ by %.3g", worst);
    }
    free(A), free(B), free(C1), free(C2), free(scratch);
}

int main(void) {
    attend_set_threads(1);
    test_round();
    printf("bf16 kernel: %s\n", attend_matmul_bf16_native() ? "AVX512-BF16" : "portable (rounded copies)");

    attend_set_matmul_precision(ATTEND_MATMUL_FP32);
    CHECK(attend_get_matmul_precision() == ATTEND_MATMUL_FP32, "precision reads back");
    for (size_t i = 0; i < N_CASES; i++) check_case(&cases[i], 0, "fp32");

    attend_set_matmul_precision(ATTEND_MATMUL_BF16);
    CHECK(attend_get_matmul_precision() == ATTEND_MATMUL_BF16, "precision reads back");
    double rounding_seen = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        double eu = check_case(&cases[i], 1, "bf16");
        if (eu > rounding_seen) rounding_seen = eu;
    }
    /* bf16 mode must actually round: against unrounded inputs the error is of
     * the order of bf16's 2^-9, far above fp32's sums. */
    CHECK(rounding_seen > 1e-4, "bf16 results match unrounded inputs too closely (%.3g)",
          rounding_seen);
    /* a value that is not a precision falls back to fp32 */
    attend_set_matmul_precision((attend_matmul_precision)7);
    CHECK(attend_get_matmul_precision() == ATTEND_MATMUL_FP32, "unknown precision -> fp32");

    test_portable_matches_native();
    test_threads(ATTEND_MATMUL_FP32);
    test_threads(ATTEND_MATMUL_BF16);
    attend_set_matmul_precision(ATTEND_MATMUL_FP32);
    return test_summary("test_matmul");
}
