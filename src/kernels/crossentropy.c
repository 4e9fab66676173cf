/* Cross-entropy over logits, matching F.cross_entropy(logits, targets,
 * weight=w, label_smoothing=eps, reduction='mean'):
 *   loss_n = w[y_n] * (1 - eps) * -log p[n,y_n] + (eps / K) * sum_k w[k] * -log p[n,k]
 *   loss   = sum_n loss_n / sum_n w[y_n]
 * Targets outside [0,K) are ignored (they add nothing to either sum). */
#include "kernels/kernels.h"
#include <math.h>

double attend_crossentropy_norm(const int32_t *targets, const float *w, size_t N, size_t K) {
    double s = 0.0;
    for (size_t n = 0; n < N; n++) {
        int32_t y = targets[n];
        if (y < 0 || (size_t)y >= K) continue;
        s += w ? w[y] : 1.0f;
    }
    return s;
}

/* Example n's loss (0 when its target is ignored). */
static double ce_loss_one(const float *x, int32_t y, const float *w, float eps, size_t K) {
    if (y < 0 || (size_t)y >= K) return 0.0;
    /* log p computed from logits (log-sum-exp), not log(probs), so that a
     * tiny probability does not become -inf. */
    double mx = x[0];
    for (size_t k = 1; k < K; k++) mx = x[k] > mx ? x[k] : mx;
    double se = 0.0;
    for (size_t k = 0; k < K; k++) se += exp(x[k] - mx);
    double lse = mx + log(se);
    double wy = w ? w[y] : 1.0;
    double loss = wy * (1.0 - eps) * (lse - x[y]);
    if (eps > 0.0f) {
        double s = 0.0;
        for (size_t k = 0; k < K; k++) s += (w ? w[k] : 1.0) * (lse - x[k]);
        loss += eps / (double)K * s;
    }
    return loss;
}

float attend_crossentropy_forward(float *probs, const float *logits, const int32_t *targets,
                                  const float *class_weights, float label_smoothing,
                                  size_t N, size_t K) {
    // logits (N,K), targets (N) -> probs (N,K), returns the mean loss
    attend_softmax_forward(probs, logits, N, K);
    double total = 0.0;
    for (size_t n = 0; n < N; n++)
        total += ce_loss_one(logits + n * K, targets[n], class_weights, label_smoothing, K);
    double wsum = attend_crossentropy_norm(targets, class_weights, N, K);
    return wsum > 0.0 ? (float)(total / wsum) : 0.0f;
}

void attend_crossentropy_losses(double *loss, float *probs, const float *logits,
                                const int32_t *targets, const float *class_weights,
                                float label_smoothing, size_t N, size_t K) {
    // logits (N,K), targets (N) -> probs (N,K), loss (N)
    attend_softmax_forward(probs, logits, N, K);
    for (size_t n = 0; n < N; n++)
        loss[n] = ce_loss_one(logits + n * K, targets[n], class_weights, label_smoothing, K);
}

void attend_crossentropy_backward(float *dlogits, const float *probs, const int32_t *targets,
                                  const float *class_weights, float label_smoothing,
                                  float dloss, size_t N, size_t K) {
    double wsum = attend_crossentropy_norm(targets, class_weights, N, K);
    if (wsum <= 0.0) return;
    attend_crossentropy_backward_scaled(dlogits, probs, targets, class_weights, label_smoothing,
                                        (float)(dloss / wsum), N, K);
}

void attend_crossentropy_backward_scaled(float *dlogits, const float *probs,
                                         const int32_t *targets, const float *class_weights,
                                         float label_smoothing, float scale, size_t N, size_t K) {
    // d loss_n / d x_k = w[y](1-eps)(p_k - [k=y]) + (eps/K) (W p_k - w[k]),  W = sum_j w[j]
    float wtot = 0.0f;
    for (size_t k = 0; k < K; k++) wtot += class_weights ? class_weights[k] : 1.0f;
    float eps = label_smoothing;
    for (size_t n = 0; n < N; n++) {
        int32_t y = targets[n];
        if (y < 0 || (size_t)y >= K) continue;
        const float *p = probs + n * K;
        float *d = dlogits + n * K;
        float wy = class_weights ? class_weights[y] : 1.0f;
        for (size_t k = 0; k < K; k++) {
            float wk = class_weights ? class_weights[k] : 1.0f;
            float g = wy * (1.0f - eps) * (p[k] - (k == (size_t)y ? 1.0f : 0.0f));
            if (eps > 0.0f) g += eps / (float)K * (wtot * p[k] - wk);
            d[k] += scale * g;
        }
    }
}
