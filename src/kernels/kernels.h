/* Kernel pieces the library shares but does not export: the one GEMM
 * interface, bf16 rounding, and fused layer pieces. */
#ifndef ATTEND_KERNELS_H
#define ATTEND_KERNELS_H

#include "attend.h"

#include <stddef.h>
#include <stdint.h>


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

/* ---- cross-entropy in parts (crossentropy.c), for a batch computed in
 * pieces: attend_crossentropy_forward's loss is the sum of the per-example
 * losses in example order over attend_crossentropy_norm, and its backward
 * is attend_crossentropy_backward_scaled with scale = dloss / norm. */
/* The loss normaliser: sum over examples of the target's class weight. */
double attend_crossentropy_norm(const int32_t *targets, const float *class_weights, size_t N,
                                size_t K);
/* probs (N,K) = softmax(logits); loss (N) per example, unnormalised (0 for
 * an ignored target). */
void attend_crossentropy_losses(double *loss, float *probs, const float *logits,
                                const int32_t *targets, const float *class_weights,
                                float label_smoothing, size_t N, size_t K);
/* Adds scale * d(sum of per-example losses)/d(logits) into dlogits (N,K). */
void attend_crossentropy_backward_scaled(float *dlogits, const float *probs,
                                         const int32_t *targets, const float *class_weights,
                                         float label_smoothing, float scale, size_t N, size_t K);

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

#endif
