/* bf16 matrix multiply: C = alpha * op(A) @ op(B) + beta * C where every
 * value of op(A) and op(B) is first rounded to bfloat16 (8 significant bits,
 * round to nearest even) and the products are summed in fp32. A product of
 * two bf16 values is exact in fp32, so the only losses are the two input
 * roundings and the fp32 sums: the "mixed precision" of PyTorch's autocast
 * and of torch.set_float32_matmul_precision("medium").
 *
 * Two implementations with the same arithmetic:
 *  - AVX512-BF16 (vdpbf16ps: 32 bf16 products summed into 16 fp32 lanes per
 *    instruction, twice the multiply-adds of an fp32 FMA): the inputs are
 *    packed into bf16 pairs along K, GotoBLAS-style blocks, an 8 x 32 tile;
 *  - anywhere else: the inputs are rounded to bf16 into fp32 copies and the
 *    fp32 BLAS multiplies them (exact products, fp32 sums; only the order of
 *    the sums differs), so bf16 results mean the same on every CPU.
 *
 * The instruction treats bf16 subnormals (below 2^-126) as zero; the
 * portable path keeps them. Neither matters at the magnitudes of a model.
 *
 * Determinism: each element of C is a sum over K in fixed blocks of KC in a
 * fixed order, whatever the thread count (threads split C, never K).
 *
 * Packed layouts (uint32 = two bf16, low half the even k):
 *   A panel, MR rows:   ap[p * MR + r]  = (A(i0+r, 2p), A(i0+r, 2p+1))
 *   B panel, NR cols:   bp[p * NR + c]  = (B(2p, j0+c), B(2p+1, j0+c))
 * Rows and columns past the matrix and an odd K's last half are zero. */
#include "kernels/kernels.h"
#include <math.h>

#include <cblas.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(ATTEND_NO_DISPATCH)
#define BF16_NATIVE 1
#include <immintrin.h>
#define BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#else
#define BF16_NATIVE 0
#endif

enum {
    MR = 8,   /* rows of the register tile */
    NR = 32,  /* columns of the register tile (two 16-lane vectors) */
    KC = 256, /* K per block: an A micro-panel is 4 KiB, a B micro-panel 16 KiB (L1) */
    MC = 64,  /* rows of A packed at a time (32 KiB) */
    NC = 512  /* columns of B packed at a time (256 KiB, in L2) */
};
#define KP (KC / 2) /* bf16 pairs per K block */

/* fp32 -> bf16 bits, round to nearest even; NaN stays NaN (quiet). */
static inline uint32_t bf16_bits(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (u >> 16) | 0x40u;
    return (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
}

float attend_bf16_round(float x) {
    uint32_t u = bf16_bits(x) << 16;
    float r;
    memcpy(&r, &u, sizeof r);
    return r;
}

/* ---- the portable path: round copies, multiply in fp32 ---- */

/* C block of rows [0, M) as described, serial. Returns -1 when the copies
 * cannot be allocated (C untouched). */
static int gemm_rounded(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                        const float *A, size_t lda, const float *B, size_t ldb, float beta,
                        float *C, size_t ldc) {
    // op(A) (M,K) and op(B) (K,N), rounded, stored untransposed
    float *a = malloc((M * K + K * N) * sizeof(float));
    if (!a) return -1;
    float *b = a + M * K;
    for (size_t i = 0; i < M; i++)
        for (size_t k = 0; k < K; k++)
            a[i * K + k] = attend_bf16_round(trans_a ? A[k * lda + i] : A[i * lda + k]);
    for (size_t k = 0; k < K; k++)
        for (size_t j = 0; j < N; j++)
            b[k * N + j] = attend_bf16_round(trans_b ? B[j * ldb + k] : B[k * ldb + j]);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (blasint)M, (blasint)N, (blasint)K,
                alpha, a, (blasint)K, b, (blasint)N, beta, C, (blasint)ldc);
    free(a);
    return 0;
}

#if BF16_NATIVE
/* ---- the AVX512-BF16 path ---- */

/* Packs rows [i0, i0+mc) x K range [k0, k0+kc) of X (stored untransposed:
 * the pairs are adjacent in a row) into R-row panels, the A layout; the B
 * side uses it on op(B)^T. Rows at or past m are zero. 16 pairs of a row
 * convert in one instruction into tmp; the panel wants them column-wise. */
BF16_TARGET static void pack_pairs(uint32_t *dst, size_t R, const float *X, size_t ldx,
                                   size_t i0, size_t mc, size_t m, size_t k0, size_t kc) {
    const size_t kp = (kc + 1) / 2;
    uint32_t tmp[NR][16];
    for (size_t pr = 0; pr < mc; pr += R) {
        uint32_t *out = dst + pr * kp; /* panel pr/R: kp * R words */
        size_t rows = 0;               /* valid rows in this panel */
        if (i0 + pr < m) rows = m - i0 - pr < R ? m - i0 - pr : R;
        size_t p = 0;
        for (; 2 * p + 32 <= kc; p += 16) {
            for (size_t r = 0; r < rows; r++) {
                const float *x = X + (i0 + pr + r) * ldx + k0 + 2 * p;
                __m512bh h = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(x + 16), _mm512_loadu_ps(x));
                _mm512_storeu_si512(tmp[r], (__m512i)h);
            }
            for (size_t r = rows; r < R; r++) memset(tmp[r], 0, sizeof tmp[r]);
            for (size_t t = 0; t < 16; t++)
                for (size_t r = 0; r < R; r++) out[(p + t) * R + r] = tmp[r][t];
        }
        for (; p < kp; p++)
            for (size_t r = 0; r < R; r++) {
                uint32_t w = 0;
                if (r < rows) {
                    const float *x = X + (i0 + pr + r) * ldx + k0 + 2 * p;
                    w = bf16_bits(x[0]) | (2 * p + 1 < kc ? bf16_bits(x[1]) << 16 : 0u);
                }
                out[p * R + r] = w;
            }
    }
}

/* The same panels from X stored transposed (X(i, k) at X[k * ldx + i]):
 * rows k and k+1 of the storage, columns [i, i+16), give 16 pairs at once.
 * R is a multiple of 8. */
BF16_TARGET static void pack_rows(uint32_t *dst, size_t R, const float *X, size_t ldx,
                                  size_t i0, size_t mc, size_t m, size_t k0, size_t kc) {
    const size_t kp = (kc + 1) / 2;
    /* interleave: element 2t <- t (row k), 2t+1 <- 16 + t (row k+1) */
    uint16_t idx[32];
    for (int t = 0; t < 16; t++) idx[2 * t] = (uint16_t)t, idx[2 * t + 1] = (uint16_t)(16 + t);
    const __m512i inter = _mm512_loadu_si512(idx);
    const size_t w = R < 16 ? R : 16; /* strip width */
    for (size_t pr = 0; pr < mc; pr += R) {
        uint32_t *out = dst + pr * kp;
        for (size_t c = 0; c < R; c += w) {
            const size_t i = i0 + pr + c;
            size_t n = 0; /* valid columns in this strip */
            if (i < m) n = m - i < w ? m - i : w;
            const __mmask16 ld = (__mmask16)((1u << n) - 1u), st = (__mmask16)((1u << w) - 1u);
            for (size_t p = 0; p < kp; p++) {
                const float *x = X + (k0 + 2 * p) * ldx + i;
                __m512 x0 = _mm512_maskz_loadu_ps(ld, x);
                __m512 x1 = 2 * p + 1 < kc ? _mm512_maskz_loadu_ps(ld, x + ldx)
                                           : _mm512_setzero_ps();
                // [bf16(x0) | bf16(x1)] -> pairs (x0[t], x1[t])
                __m512i h = (__m512i)_mm512_cvtne2ps_pbh(x1, x0);
                _mm512_mask_storeu_epi32(out + p * R + c, st, _mm512_permutexvar_epi16(inter, h));
            }
        }
    }
}

/* C tile (mr <= MR rows, nr <= NR cols) = alpha * sum_p a_p b_p + beta * C,
 * or += when acc_c (a later K block). beta == 0 never reads C. */
BF16_TARGET static void tile_8x32(size_t kp, const uint32_t *a, const uint32_t *b, float *C,
                                  size_t ldc, size_t mr, size_t nr, float alpha, float beta,
                                  int acc_c) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00,
           c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00,
           c61 = c00, c70 = c00, c71 = c00;
    for (size_t p = 0; p < kp; p++) {
        const __m512bh b0 = (__m512bh)_mm512_loadu_si512(b + p * NR);
        const __m512bh b1 = (__m512bh)_mm512_loadu_si512(b + p * NR + 16);
        const uint32_t *ap = a + p * MR;
#define ROW(r, x0, x1)                                                          \
    {                                                                           \
        const __m512bh av = (__m512bh)_mm512_set1_epi32((int)ap[r]);            \
        x0 = _mm512_dpbf16_ps(x0, av, b0);                                      \
        x1 = _mm512_dpbf16_ps(x1, av, b1);                                      \
    }
        ROW(0, c00, c01) ROW(1, c10, c11) ROW(2, c20, c21) ROW(3, c30, c31)
        ROW(4, c40, c41) ROW(5, c50, c51) ROW(6, c60, c61) ROW(7, c70, c71)
#undef ROW
    }
    __m512 acc[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31},
                         {c40, c41}, {c50, c51}, {c60, c61}, {c70, c71}};
    const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(acc_c ? 1.0f : beta);
    const int read_c = acc_c || beta != 0.0f;
    const __mmask16 m0 = (__mmask16)(nr >= 16 ? 0xFFFFu : (1u << nr) - 1u);
    const __mmask16 m1 = (__mmask16)(nr >= 32 ? 0xFFFFu : nr > 16 ? (1u << (nr - 16)) - 1u : 0u);
    for (size_t r = 0; r < mr; r++) {
        float *c = C + r * ldc;
        __m512 y0 = _mm512_mul_ps(va, acc[r][0]), y1 = _mm512_mul_ps(va, acc[r][1]);
        if (read_c) {
            y0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, c), y0);
            y1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, c + 16), y1);
        }
        _mm512_mask_storeu_ps(c, m0, y0);
        _mm512_mask_storeu_ps(c + 16, m1, y1);
    }
}

/* Scratch words one thread needs. */
#define BF16_SCRATCH ((size_t)KP * (MC + NC))

/* The block algorithm over all of C, on one thread, with scratch of
 * BF16_SCRATCH words. */
BF16_TARGET static void gemm_packed(int trans_a, int trans_b, size_t M, size_t N, size_t K,
                                    float alpha, const float *A, size_t lda, const float *B,
                                    size_t ldb, float beta, float *C, size_t ldc,
                                    uint32_t *scratch) {
    uint32_t *ap = scratch, *bp = scratch + (size_t)KP * MC;
    for (size_t jc = 0; jc < N; jc += NC) {
        const size_t nc = N - jc < NC ? N - jc : NC;
        for (size_t pc = 0; pc < K; pc += KC) {
            const size_t kc = K - pc < KC ? K - pc : KC, kp = (kc + 1) / 2;
            // op(B) (K,N) columns [jc, jc+nc): as rows of op(B)^T, whose
            // storage is B with the transpose flag flipped
            if (trans_b)
                pack_pairs(bp, NR, B, ldb, jc, nc, N, pc, kc);
            else
                pack_rows(bp, NR, B, ldb, jc, nc, N, pc, kc);
            for (size_t ic = 0; ic < M; ic += MC) {
                const size_t mc = M - ic < MC ? M - ic : MC;
                if (trans_a)
                    pack_rows(ap, MR, A, lda, ic, mc, M, pc, kc);
                else
                    pack_pairs(ap, MR, A, lda, ic, mc, M, pc, kc);
                for (size_t jr = 0; jr < nc; jr += NR)
                    for (size_t ir = 0; ir < mc; ir += MR)
                        tile_8x32(kp, ap + ir * kp, bp + jr * kp, C + (ic + ir) * ldc + jc + jr,
                                  ldc, mc - ir < MR ? mc - ir : MR, nc - jr < NR ? nc - jr : NR,
                                  alpha, beta, pc > 0);
            }
        }
    }
}
#endif /* BF16_NATIVE */

#if BF16_NATIVE
static int bf16_have;
static pthread_once_t bf16_once = PTHREAD_ONCE_INIT;
static void bf16_probe(void) {
    __builtin_cpu_init();
    bf16_have = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw") &&
                __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
}
#endif

int attend_matmul_bf16_native(void) {
#if BF16_NATIVE
    /* probed once (threads may ask at the same time) */
    pthread_once(&bf16_once, bf16_probe);
    return bf16_have;
#else
    return 0;
#endif
}

size_t attend_gemm_bf16_scratch(void) {
#if BF16_NATIVE
    return attend_matmul_bf16_native() ? BF16_SCRATCH : 0;
#else
    return 0;
#endif
}

int attend_gemm_bf16(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                     const float *A, size_t lda, const float *B, size_t ldb, float beta,
                     float *C, size_t ldc, uint32_t *scratch) {
#if BF16_NATIVE
    if (scratch && attend_matmul_bf16_native()) {
        gemm_packed(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, scratch);
        return 0;
    }
#else
    (void)scratch;
#endif
    return gemm_rounded(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
