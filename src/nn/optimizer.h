/* AdamW, gradient clipping and the learning-rate schedule. */
#ifndef ATTEND_OPTIMIZER_H
#define ATTEND_OPTIMIZER_H

#include <stddef.h>

/* Hyper-parameters of AdamW (PyTorch's defaults but weight_decay). */
typedef struct {
    float beta1, beta2, eps;
    float weight_decay; /* decoupled; applied only where decay is asked */
} attend_adamw_config;

/* One AdamW step (step counts from 1) on n values, as torch.optim.AdamW:
 *   p -= lr * wd * p (if decay);  m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) */
void attend_adamw_update(float *p, const float *g, float *m, float *v, size_t n,
                         const attend_adamw_config *c, float lr, size_t step, int decay);

/* attend_adamw_update on the calling thread only, for callers that
 * parallelise over many small tensors themselves. */
void attend_adamw_update_serial(float *p, const float *g, float *m, float *v, size_t n,
                                const attend_adamw_config *c, float lr, size_t step,
                                int decay);

/* Sum of squares of n values, accumulated in double in a fixed order (eight
 * running sums, so it vectorises and gives the same bits every run). */
double attend_sumsq(const float *x, size_t n);

/* Multiplies n values by s. */
void attend_scale(float *x, size_t n, float s);

/* Learning rate at step (0-based) of total: linear warmup over warmup steps
 * from lr/warmup to lr, then cosine decay to 0 at total. */
float attend_lr_at(size_t step, size_t total, size_t warmup, float lr);

#endif
