/* Internal helpers shared by the library's source files (not installed). */
#ifndef ATTEND_INTERNAL_H
#define ATTEND_INTERNAL_H

#include "attend.h"
#include <math.h>
#include <stdint.h>
#include <stddef.h>

#define ATTEND_SQRT1_2 0.70710678118654752f /* 1/sqrt(2); M_SQRT1_2 is not C11 */

/* Runtime CPU dispatch for the hot loops: GCC compiles a function marked
 * ATTEND_DISPATCH three times (AVX-512, AVX2, portable x86-64) and picks one
 * at load time from the CPU's flags. Build with -DATTEND_NO_DISPATCH (cmake
 * -DATTEND_DISPATCH=OFF) to get only the portable code; CI tests both. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(ATTEND_NO_DISPATCH)
#define ATTEND_DISPATCH __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ATTEND_DISPATCH
#endif

/* Elementwise work is cut into chunks of this many values; each chunk is one
 * call of a dispatched kernel (OpenMP's outlined loop bodies would not be
 * multi-versioned themselves). */
#define ATTEND_CHUNK ((size_t)8192)
#define ATTEND_FOR_CHUNKS(n, s, len, body)                                               \
    do {                                                                                \
        const size_t n_ = (n), nc_ = (n_ + ATTEND_CHUNK - 1) / ATTEND_CHUNK;              \
        ATTEND_OMP(parallel for schedule(static) if (nc_ > 1))                          \
        for (size_t c_ = 0; c_ < nc_; c_++) {                                           \
            const size_t s = c_ * ATTEND_CHUNK;                                         \
            const size_t len = n_ - s < ATTEND_CHUNK ? n_ - s : ATTEND_CHUNK;           \
            body;                                                                       \
        }                                                                               \
    } while (0)

#if ATTEND_HAVE_OPENMP
#include <omp.h>
#define ATTEND_PRAGMA(x) _Pragma(#x)
#define ATTEND_OMP(x) ATTEND_PRAGMA(omp x)
#else
#define ATTEND_OMP(x)
#endif

/* ---- matmul: the one interface every GEMM goes through (matmul.c) ----
 * C (M,N) = alpha * op(A) @ op(B) + beta * C, row-major, where op(A) is (M,K)
 * and op(B) is (K,N); trans_a / trans_b say A is stored (K,M) / B is (N,K).
 * lda/ldb/ldc are row strides in floats. Backed by CBLAS so that a faster
 * backend can replace it in one place; in ATTEND_MATMUL_BF16 precision the
 * inputs are rounded to bf16 (matmul_bf16.c). */
void attend_gemm(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                 const float *A, size_t lda, const float *B, size_t ldb, float beta,
                 float *C, size_t ldc);

/* ---- bf16 matmul (matmul_bf16.c) ----
 * x rounded to the nearest bfloat16 (ties to even), as an fp32 value. */
float attend_bf16_round(float x);
/* uint32 words of scratch one thread's attend_gemm_bf16 call wants (0 when
 * it needs none). */
size_t attend_gemm_bf16_scratch(void);
/* attend_gemm's contract with op(A), op(B) rounded to bf16 and fp32 sums,
 * serial. scratch: attend_gemm_bf16_scratch() words, or NULL for the
 * portable path. Returns -1 (C untouched) when the portable path could not
 * allocate its copies. */
int attend_gemm_bf16(int trans_a, int trans_b, size_t M, size_t N, size_t K, float alpha,
                     const float *A, size_t lda, const float *B, size_t ldb, float beta,
                     float *C, size_t ldc, uint32_t *scratch);

/* ---- fused layer pieces (linear.c, activation.c) ----
 * attend_linear_backward, except that dinp is overwritten (not added to)
 * when dinp_add is 0, which saves zeroing it first. */
void attend_linear_backward_ex(float *dinp, int dinp_add, float *dweight, float *dbias,
                               const float *dout, const float *inp, const float *weight,
                               size_t N, size_t IN, size_t OUT);
/* a = dropout(act(h)) in one pass; the same bits as the two layers. */
void attend_act_dropout_forward(float *a, const float *h, size_t n, attend_activation act,
                                float p, uint64_t seed);
/* dh (overwritten) = act'(h) * the dropout backward of da, in one pass. */
void attend_act_dropout_backward(float *dh, const float *da, const float *h, size_t n,
                                 attend_activation act, float p, uint64_t seed);

/* ---- attention (attention.c) ----
 * attend_sdpa_backward_fused given also the forward's output out (B,L,H*D):
 * then sum_s P_s dP_s = dout . out, and long rows are done in key blocks
 * (O(QB * KB) scratch) instead of whole (O(QB * S)). out NULL: as
 * attend_sdpa_backward_fused. */
void attend_sdpa_backward_fused_out(float *dq, float *dk, float *dv, const float *dout,
                                    const float *out, const float *q, const float *k,
                                    const float *v, const float *lse, const attend_mask *mask,
                                    size_t B, size_t H, size_t L, size_t S, size_t D,
                                    float dropout_p, uint64_t seed);

/* 1 when attention at this head dim runs the kernel with queries across the
 * vector lanes (attention.c), whose fused backward recomputes the weights
 * faster than they could be read back: training then runs fused. */
int attend_sdpa_lane_kernel(size_t head_dim);

/* ---- reproducible randomness (dropout.c) ----
 * A uniform float in [0,1) that is a pure function of (seed, i). */
static inline uint64_t attend_mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}
static inline float attend_hash_uniform(uint64_t seed, uint64_t i) {
    /* splitmix64's output function on the counter stream seed + i * gamma */
    return (float)(attend_mix64(seed + i * 0x9E3779B97F4A7C15ull) >> 40) * (1.0f / 16777216.0f);
}
/* The dropout stream: a uniform float in [0,1) from (seed, i) with 32-bit
 * arithmetic only (murmur3's finaliser on the Weyl sequence
 * seed32 + i * golden), so the loops over it run 16 lanes wide; the 64-bit
 * splitmix above cost as much as the rest of a dropout layer. The high
 * half of i is folded in, so counters past 2^32 do not repeat the low ones.
 * attend_dropout_uniform32 takes the seed folded to 32 bits and i's halves,
 * for loops that keep the counter as two 32-bit lanes. */
static inline float attend_dropout_uniform32(uint32_t seed32, uint32_t ilo, uint32_t ihi) {
    uint32_t x = seed32 + ilo * 0x9E3779B9u + ihi * 0x7F4A7C15u;
    x ^= x >> 16;
    x *= 0x85EBCA6Bu;
    x ^= x >> 13;
    x *= 0xC2B2AE35u;
    x ^= x >> 16;
    return (float)(x >> 8) * (1.0f / 16777216.0f);
}
static inline float attend_dropout_uniform(uint64_t seed, uint64_t i) {
    return attend_dropout_uniform32((uint32_t)(seed ^ (seed >> 32)), (uint32_t)i,
                                    (uint32_t)(i >> 32));
}
/* Inverted dropout of element i: x * scale, or 0 when dropped (uniform < p).
 * The one decision every dropout site (layers, attention weights) makes. */
static inline float attend_dropout_apply(float x, uint64_t seed, uint64_t i, float p,
                                         float scale) {
    return attend_dropout_uniform(seed, i) >= p ? x * scale : 0.0f;
}
/* Derives an independent seed for a sub-site (layer, dropout site, ...). */
static inline uint64_t attend_seed_child(uint64_t seed, uint64_t site) {
    return attend_mix64(seed * 0x100000001B3ull + site);
}

/* ---- overflow-safe size arithmetic ---- */
static inline int attend_mul_overflow(size_t a, size_t b, size_t *out) {
    return __builtin_mul_overflow(a, b, out);
}
static inline int attend_add_overflow(size_t a, size_t b, size_t *out) {
    return __builtin_add_overflow(a, b, out);
}

/* Crash-safe file writing (safetensors.c): the pieces piece(ctx, 0..) (NULL
 * ends them) go to a temporary file beside path, fsynced and renamed over
 * it; a reader sees the old file or the new one, never a part. */
attend_status attend_write_atomic(const char *path,
                                  const void *(*piece)(void *ctx, size_t i, size_t *len),
                                  void *ctx, attend_error *err);

/* strdup is POSIX, not C11. NULL when out of memory. */
char *attend_strdup(const char *s);

/* ---- parameter layout (layout.c) ----
 * A list of named tensors carved from one float block. Layout functions are
 * called twice: once with base == NULL to collect names, shapes and the
 * total size, then with base set to bind the views. */
#define ATTEND_NAME_MAX 128
typedef struct {
    char name[ATTEND_NAME_MAX];
    size_t ndim;
    size_t shape[2];
    size_t offset; /* in floats from base */
    size_t numel;
    int no_decay;  /* biases, norms, embeddings: no weight decay */
} attend_param_info;

typedef struct {
    attend_param_info *items;
    size_t count, cap;
    size_t total;   /* floats so far */
    float *base;    /* NULL while sizing */
    int failed;     /* an allocation of the list failed */
} attend_layout;

/* Registers prefix+name with shape (d0) or (d0,d1) (d1 = 0 for 1-D) and
 * returns its view (NULL while sizing). */
float *attend_layout_take(attend_layout *L, const char *prefix, const char *name,
                          size_t d0, size_t d1, int no_decay);
/* Frees the list. */
void attend_layout_free(attend_layout *L);
/* Index of a name, or -1. */
long attend_layout_find(const attend_layout *L, const char *name);

/* Parameter layouts of the modules, PyTorch names under prefix. */
void attend_mha_layout(attend_layout *L, const char *prefix, const attend_mha_config *cfg,
                       attend_mha_params *p);
void attend_encoder_layer_layout(attend_layout *L, const char *prefix,
                                 const attend_encoder_config *cfg,
                                 attend_encoder_layer_params *p);

#endif
