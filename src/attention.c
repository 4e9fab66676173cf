/* Scaled dot-product attention with masks, forward and backward.
 *
 * Layout: q (B,L,H*D), k and v (B,S,H*D), out (B,L,H*D): head h of token l
 * is the column block [h*D, (h+1)*D) of row l, exactly what the input
 * projections produce, so no transpose is needed. probs (B,H,L,S).
 *
 * Masking rule (PyTorch nn.MultiheadAttention's convention): a key is masked
 * for a query when the key-padding byte is nonzero, the bool mask byte is
 * nonzero, the causal switch is on and s > l, or the float mask is -inf.
 * Masked keys are skipped everywhere — never scored, never multiplied by a
 * zero weight — so NaN or Inf stored at a masked key cannot reach the
 * output or any gradient. A query with no allowed key gets weights 0 and
 * output 0, and its gradients are 0 (PyTorch 1.13 gives NaN there). */
#include "internal.h"

#include <string.h>

/* Mask rows for one (b, h, l): pointers to the S entries that apply, and the
 * number of leading keys that the causal switch leaves (S when off). */
typedef struct {
    const uint8_t *pad;   /* (S) or NULL */
    const uint8_t *bmask; /* (S) or NULL */
    const float *fmask;   /* (S) or NULL */
    size_t s_end;
} mask_row;

static inline mask_row mask_row_at(const attend_mask *m, size_t b, size_t h, size_t l,
                                   size_t H, size_t L, size_t S) {
    mask_row r = {NULL, NULL, NULL, S};
    if (!m) return r;
    size_t row = m->per_head ? ((b * H + h) * L + l) * S : l * S;
    if (m->key_padding) r.pad = m->key_padding + b * S;
    if (m->attn_bool) r.bmask = m->attn_bool + row;
    if (m->attn_float) r.fmask = m->attn_float + row;
    if (m->causal && l + 1 < S) r.s_end = l + 1;
    return r;
}

static inline int key_allowed(const mask_row *r, size_t s) {
    if (r->pad && r->pad[s]) return 0;
    if (r->bmask && r->bmask[s]) return 0;
    if (r->fmask && r->fmask[s] == -INFINITY) return 0;
    return 1;
}

static inline float dot(const float *a, const float *b, size_t n) {
    float s = 0.0f;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static inline void axpy(float *y, float a, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += a * x[i];
}

/* Index of weight (b,h,l,s) in probs; also the dropout counter. */
static inline size_t prob_index(size_t b, size_t h, size_t l, size_t s, size_t H, size_t L,
                                 size_t S) {
    return ((b * H + h) * L + l) * S + s;
}

void attend_sdpa_forward(float *out, float *probs, const float *q, const float *k,
                         const float *v, const attend_mask *mask, size_t B, size_t H,
                         size_t L, size_t S, size_t D, float dropout_p, uint64_t seed) {
    const size_t E = H * D;
    const float scale = 1.0f / sqrtf((float)D);
    const float keep_scale = dropout_p > 0.0f ? 1.0f / (1.0f - dropout_p) : 1.0f;
    ATTEND_OMP(parallel for collapse(2) schedule(static))
    for (size_t b = 0; b < B; b++) {
        for (size_t h = 0; h < H; h++) {
            for (size_t l = 0; l < L; l++) {
                const float *ql = q + (b * L + l) * E + h * D;
                float *ol = out + (b * L + l) * E + h * D;
                float *p = probs + prob_index(b, h, l, 0, H, L, S);
                mask_row r = mask_row_at(mask, b, h, l, H, L, S);
                memset(p, 0, S * sizeof(float));
                memset(ol, 0, D * sizeof(float));

                // scores p_s = q_l . k_s / sqrt(D) + fmask_s over allowed keys
                float mx = -INFINITY;
                for (size_t s = 0; s < r.s_end; s++) {
                    if (!key_allowed(&r, s)) continue;
                    float sc = dot(ql, k + (b * S + s) * E + h * D, D) * scale;
                    if (r.fmask) sc += r.fmask[s];
                    p[s] = sc;
                    mx = sc > mx ? sc : mx;
                }
                if (mx == -INFINITY) continue; /* no allowed key: weights 0, output 0 */

                // softmax over the allowed keys only
                float sum = 0.0f;
                for (size_t s = 0; s < r.s_end; s++) {
                    if (!key_allowed(&r, s)) continue;
                    p[s] = expf(p[s] - mx);
                    sum += p[s];
                }
                float inv = 1.0f / sum;
                for (size_t s = 0; s < r.s_end; s++) p[s] *= inv;

                // out_l = sum_s dropout(p_s) v_s, skipping masked (and dropped) keys
                for (size_t s = 0; s < r.s_end; s++) {
                    if (!key_allowed(&r, s)) continue;
                    float w = p[s];
                    if (dropout_p > 0.0f) {
                        if (attend_hash_uniform(seed, prob_index(b, h, l, s, H, L, S)) < dropout_p)
                            continue;
                        w *= keep_scale;
                    }
                    axpy(ol, w, v + (b * S + s) * E + h * D, D);
                }
            }
        }
    }
}

void attend_sdpa_backward(float *dq, float *dk, float *dv, float *dprobs,
                          const float *dout, const float *q, const float *k,
                          const float *v, const float *probs, const attend_mask *mask,
                          size_t B, size_t H, size_t L, size_t S, size_t D,
                          float dropout_p, uint64_t seed) {
    const size_t E = H * D;
    const float scale = 1.0f / sqrtf((float)D);
    const float keep_scale = dropout_p > 0.0f ? 1.0f / (1.0f - dropout_p) : 1.0f;
    /* Parallel over (b,h): each pair owns disjoint column blocks of dq, dk, dv. */
    ATTEND_OMP(parallel for collapse(2) schedule(static))
    for (size_t b = 0; b < B; b++) {
        for (size_t h = 0; h < H; h++) {
            for (size_t l = 0; l < L; l++) {
                const float *ql = q + (b * L + l) * E + h * D;
                const float *dol = dout + (b * L + l) * E + h * D;
                const float *p = probs + prob_index(b, h, l, 0, H, L, S);
                float *dp = dprobs + prob_index(b, h, l, 0, H, L, S);
                mask_row r = mask_row_at(mask, b, h, l, H, L, S);

                // forward: out_l = sum_s m_s p_s v_s  (m_s = dropout keep * scale)
                //   dv_s += m_s p_s dout_l;  dp_s = m_s (dout_l . v_s)
                float rowdot = 0.0f;
                for (size_t s = 0; s < S; s++) {
                    dp[s] = 0.0f;
                    if (s >= r.s_end || !key_allowed(&r, s) || p[s] == 0.0f) continue;
                    float m = 1.0f;
                    if (dropout_p > 0.0f) {
                        if (attend_hash_uniform(seed, prob_index(b, h, l, s, H, L, S)) < dropout_p)
                            continue;
                        m = keep_scale;
                    }
                    const float *vs = v + (b * S + s) * E + h * D;
                    if (dv) axpy(dv + (b * S + s) * E + h * D, m * p[s], dol, D);
                    dp[s] = m * dot(dol, vs, D);
                    rowdot += p[s] * dp[s];
                }
                // forward: p = softmax(scores) -> dscore_s = p_s (dp_s - sum_j p_j dp_j)
                // forward: score_s = q_l . k_s * scale -> dq_l += scale dscore_s k_s,
                //                                          dk_s += scale dscore_s q_l
                float *dql = dq ? dq + (b * L + l) * E + h * D : NULL;
                for (size_t s = 0; s < r.s_end; s++) {
                    if (!key_allowed(&r, s) || p[s] == 0.0f) continue;
                    float ds = p[s] * (dp[s] - rowdot) * scale;
                    if (dql) axpy(dql, ds, k + (b * S + s) * E + h * D, D);
                    if (dk) axpy(dk + (b * S + s) * E + h * D, ds, ql, D);
                }
            }
        }
    }
}
