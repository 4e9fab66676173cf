/* AdamW with decoupled weight decay, gradient clipping helpers and the
 * warmup + cosine learning-rate schedule. */
#include "optimizer.h"
#include "internal.h"

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

void attend_adamw_update(float *p, const float *g, float *m, float *v, size_t n,
                         const attend_adamw_config *c, float lr, size_t step, int decay) {
    const float b1 = c->beta1, b2 = c->beta2;
    const float bc1 = 1.0f - powf(b1, (float)step), bc2 = 1.0f - powf(b2, (float)step);
    const float shrink = decay ? 1.0f - lr * c->weight_decay : 1.0f;
    const float step_size = lr / bc1, inv_sqrt_bc2 = 1.0f / sqrtf(bc2);
    ATTEND_FOR_CHUNKS(n, s, len,
                      adamw_chunk(p + s, g + s, m + s, v + s, len, b1, b2, c->eps, shrink,
                                  step_size, inv_sqrt_bc2));
}

void attend_adamw_update_serial(float *p, const float *g, float *m, float *v, size_t n,
                                const attend_adamw_config *c, float lr, size_t step,
                                int decay) {
    // the same arithmetic as attend_adamw_update (elementwise: same bits)
    const float b1 = c->beta1, b2 = c->beta2;
    const float bc1 = 1.0f - powf(b1, (float)step), bc2 = 1.0f - powf(b2, (float)step);
    const float shrink = decay ? 1.0f - lr * c->weight_decay : 1.0f;
    const float step_size = lr / bc1, inv_sqrt_bc2 = 1.0f / sqrtf(bc2);
    adamw_chunk(p, g, m, v, n, b1, b2, c->eps, shrink, step_size, inv_sqrt_bc2);
}

double attend_l2_norm(const float *x, size_t n) {
    double s = 0.0;
    /* Serial on purpose: the sum's rounding must not depend on the thread
     * count, or clipping would make runs differ across --threads. */
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s);
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
