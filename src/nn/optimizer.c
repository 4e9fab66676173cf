/* AdamW with decoupled weight decay, gradient clipping helpers and the
 * warmup + cosine learning-rate schedule. */
#include "nn/optimizer.h"
#include "base/parallel.h"
#include <math.h>

ATTEND_DISPATCH static void adamw_chunk(float *p, const float *g, float *m, float *v, size_t n,
                                        float b1, float b2, float eps, float shrink,
                                        float step_size, float inv_sqrt_bc2) {
    for (size_t i = 0; i < n; i++) {
        float gi = g[i];
        m[i] = b1 * m[i] + (1.0f - b1) * gi;
        v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
        float denom = sqrtf(v[i]) * inv_sqrt_bc2 + eps;
        p[i] = p[i] * shrink - step_size * m[i] / denom;
    }
}

/* The step's scalar factors, shared by both entry points. */
typedef struct {
    float b1, b2, eps, shrink, step_size, inv_sqrt_bc2;
} adamw_factors;

static adamw_factors adamw_factors_at(const attend_adamw_config *c, float lr, size_t step,
                                      int decay) {
    const float bc1 = 1.0f - powf(c->beta1, (float)step), bc2 = 1.0f - powf(c->beta2, (float)step);
    adamw_factors f = {c->beta1, c->beta2, c->eps, decay ? 1.0f - lr * c->weight_decay : 1.0f,
                       lr / bc1, 1.0f / sqrtf(bc2)};
    return f;
}

void attend_adamw_update(float *p, const float *g, float *m, float *v, size_t n,
                         const attend_adamw_config *c, float lr, size_t step, int decay) {
    const adamw_factors f = adamw_factors_at(c, lr, step, decay);
    ATTEND_FOR_CHUNKS(n, s, len,
                      adamw_chunk(p + s, g + s, m + s, v + s, len, f.b1, f.b2, f.eps, f.shrink,
                                  f.step_size, f.inv_sqrt_bc2));
}

void attend_adamw_update_serial(float *p, const float *g, float *m, float *v, size_t n,
                                const attend_adamw_config *c, float lr, size_t step,
                                int decay) {
    // elementwise: one call over all n gives the same bits as the chunked one
    const adamw_factors f = adamw_factors_at(c, lr, step, decay);
    adamw_chunk(p, g, m, v, n, f.b1, f.b2, f.eps, f.shrink, f.step_size, f.inv_sqrt_bc2);
}

ATTEND_DISPATCH double attend_sumsq(const float *x, size_t n) {
    double acc[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += (double)x[i + j] * x[i + j];
    double s = 0.0;
    for (; i < n; i++) s += (double)x[i] * x[i];
    for (int j = 0; j < 8; j++) s += acc[j];
    return s;
}

void attend_scale(float *x, size_t n, float s) {
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

float attend_lr_at(size_t step, size_t total, size_t warmup, float lr) {
    if (warmup > 0 && step < warmup) return lr * (float)(step + 1) / (float)warmup;
    if (total <= warmup) return lr;
    double progress = (double)(step - warmup) / (double)(total - warmup);
    if (progress > 1.0) progress = 1.0;
    return (float)(lr * 0.5 * (1.0 + cos(3.14159265358979323846 * progress)));
}
