/* Scaled dot-product attention with masks, forward and backward.
 *
 * Layout: q (B,L,H*D), k and v (B,S,H*D), out (B,L,H*D): head h of token l
 * is the column block [h*D, (h+1)*D) of row l, exactly what the input
 * projections produce, so no transpose is needed.
 *
 * Two modes share one kernel per (batch, head):
 *   - with weights: probs (B,H,L,S) is written (attention maps, `attend op`)
 *     and the backward reads it;
 *   - fused: no (B,H,L,S) array at all. The forward keeps one row of scores
 *     per thread and saves the row's log-sum-exp (B,H,L); the backward
 *     recomputes each row's weights from it. Memory is O(T) per head
 *     instead of O(T^2), and nothing T x T goes through main memory.
 *
 * Masking rule (PyTorch nn.MultiheadAttention's convention): a key is masked
 * for a query when the key-padding byte is nonzero, the bool mask byte is
 * nonzero, the causal switch is on and s > l, or the float mask is -inf.
 * Masked keys are skipped everywhere — never scored, never multiplied by a
 * zero weight — so NaN or Inf stored at a masked key cannot reach the
 * output or any gradient. A query with no allowed key gets weights 0 and
 * output 0, and its gradients are 0 (PyTorch 1.13 gives NaN there). */
#include "internal.h"

#include <stdlib.h>
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

/* Dot product with 16 partial sums in a fixed order: vectorisable without
 * reassociating, so every dispatch path gives the same bits. */
static inline float dot16(const float *a, const float *b, size_t n) {
    float acc[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (size_t j = 0; j < 16; j++) acc[j] += a[i + j] * b[i + j];
    float s = 0.0f;
    for (size_t j = 0; j < 16; j++) s += acc[j];
    for (; i < n; i++) s += a[i] * b[i];
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

/* Everything one (batch, head) pair of a call needs. */
typedef struct {
    const float *q, *k, *v;     /* (B,L,E), (B,S,E), (B,S,E) */
    const attend_mask *mask;
    size_t B, H, L, S, D;
    float scale, dropout_p, keep_scale;
    uint64_t seed;
    float *probs;               /* (B,H,L,S) or NULL (fused) */
    float *lse;                 /* (B,H,L) row log-sum-exp, or NULL */
    float *dprobs;              /* (B,H,L,S) backward scratch, or NULL */
} sdpa_args;

/* Dropout factor of weight (b,h,l,s): 0 when dropped, else 1/(1-p). */
static inline float keep_factor(const sdpa_args *a, size_t idx) {
    if (a->dropout_p <= 0.0f) return 1.0f;
    return attend_hash_uniform(a->seed, idx) < a->dropout_p ? 0.0f : a->keep_scale;
}

/* Score of an allowed key, computed the same way everywhere. */
static inline float score_at(const sdpa_args *a, const mask_row *r, const float *ql,
                             size_t b, size_t h, size_t s) {
    const size_t E = a->H * a->D;
    float sc = dot(ql, a->k + (b * a->S + s) * E + h * a->D, a->D) * a->scale;
    return r->fmask ? sc + r->fmask[s] : sc;
}

/* ---- the plain per-key path: no scratch, never touches a masked key ----
 * Used for heads whose keys or values hold NaN/Inf (and when scratch memory
 * cannot be had). Scores are recomputed instead of stored. */

static void sdpa_head_forward_simple(float *out, const sdpa_args *a, size_t b, size_t h) {
    const size_t H = a->H, L = a->L, S = a->S, D = a->D, E = H * D;
    for (size_t l = 0; l < L; l++) {
        const float *ql = a->q + (b * L + l) * E + h * D;
        float *ol = out + (b * L + l) * E + h * D;
        float *p = a->probs ? a->probs + prob_index(b, h, l, 0, H, L, S) : NULL;
        mask_row r = mask_row_at(a->mask, b, h, l, H, L, S);
        if (p) memset(p, 0, S * sizeof(float));
        memset(ol, 0, D * sizeof(float));
        float mx = -INFINITY, sum = 0.0f;
        for (size_t s = 0; s < r.s_end; s++)
            if (key_allowed(&r, s)) {
                float sc = score_at(a, &r, ql, b, h, s);
                mx = sc > mx ? sc : mx;
            }
        if (a->lse) a->lse[(b * H + h) * L + l] = INFINITY;
        if (mx == -INFINITY) continue; /* no allowed key: weights 0, output 0 */
        for (size_t s = 0; s < r.s_end; s++)
            if (key_allowed(&r, s)) sum += expf(score_at(a, &r, ql, b, h, s) - mx);
        if (a->lse) a->lse[(b * H + h) * L + l] = mx + logf(sum);
        for (size_t s = 0; s < r.s_end; s++) {
            if (!key_allowed(&r, s)) continue;
            float w = expf(score_at(a, &r, ql, b, h, s) - mx) / sum;
            if (p) p[s] = w;
            w *= keep_factor(a, prob_index(b, h, l, s, H, L, S));
            if (w != 0.0f) axpy(ol, w, a->v + (b * S + s) * E + h * D, D);
        }
    }
}

static void sdpa_head_backward_simple(float *dq, float *dk, float *dv, const float *dout,
                                      const sdpa_args *a, size_t b, size_t h) {
    const size_t L = a->L, S = a->S, D = a->D, H = a->H, E = H * D;
    for (size_t l = 0; l < L; l++) {
        const float *ql = a->q + (b * L + l) * E + h * D;
        const float *dol = dout + (b * L + l) * E + h * D;
        const float *pr = a->probs ? a->probs + prob_index(b, h, l, 0, H, L, S) : NULL;
        const float lse = a->lse ? a->lse[(b * H + h) * L + l] : 0.0f;
        mask_row r = mask_row_at(a->mask, b, h, l, H, L, S);
        float *dql = dq ? dq + (b * L + l) * E + h * D : NULL;
        // forward: out_l = sum_s m_s p_s v_s  ->  dp_s = m_s (dout_l . v_s), dv_s += m_s p_s dout_l
        float rowdot = 0.0f;
        for (size_t s = 0; s < r.s_end; s++) {
            if (!key_allowed(&r, s)) continue;
            float p = pr ? pr[s] : expf(score_at(a, &r, ql, b, h, s) - lse);
            float m = keep_factor(a, prob_index(b, h, l, s, H, L, S));
            if (p == 0.0f || m == 0.0f) continue;
            const float *vs = a->v + (b * S + s) * E + h * D;
            if (dv) axpy(dv + (b * S + s) * E + h * D, m * p, dol, D);
            rowdot += p * m * dot(dol, vs, D);
        }
        // p = softmax(scores): dscore_s = p_s (dp_s - sum_j p_j dp_j); score = q.k * scale
        for (size_t s = 0; s < r.s_end; s++) {
            if (!key_allowed(&r, s)) continue;
            float p = pr ? pr[s] : expf(score_at(a, &r, ql, b, h, s) - lse);
            if (p == 0.0f) continue;
            float m = keep_factor(a, prob_index(b, h, l, s, H, L, S));
            float dp = m == 0.0f ? 0.0f : m * dot(dol, a->v + (b * S + s) * E + h * D, D);
            float ds = p * (dp - rowdot) * a->scale;
            if (dql) axpy(dql, ds, a->k + (b * S + s) * E + h * D, D);
            if (dk) axpy(dk + (b * S + s) * E + h * D, ds, ql, D);
        }
    }
}

/* Packs head h of batch b transposed: kt[d*S + s] = k[b, s, h*D + d] (and
 * the same for v), so that loops over keys run over contiguous memory.
 * Returns 1 when every packed value is finite. */
static int pack_head(float *kt, float *vt, const sdpa_args *a, size_t b, size_t h) {
    const size_t S = a->S, D = a->D, E = a->H * D;
    int finite = 1;
    for (size_t s = 0; s < S; s++) {
        const float *ks = a->k + (b * S + s) * E + h * D, *vs = a->v + (b * S + s) * E + h * D;
        for (size_t d = 0; d < D; d++) {
            kt[d * S + s] = ks[d];
            vt[d * S + s] = vs[d];
            finite &= isfinite(ks[d]) && isfinite(vs[d]);
        }
    }
    return finite;
}

/* Scores of row l for keys [0, n): p_s = (q_l / sqrt D) . k_s (+ float mask),
 * -inf for masked keys (overwriting whatever a NaN key produced). Returns
 * the row maximum. Vectorised over s through the packed kt. */
static inline float row_scores(float *p, const float *ql, const float *kt, const mask_row *r,
                               size_t n, size_t S, size_t D, float scale) {
    for (size_t s = 0; s < n; s++) p[s] = 0.0f;
    for (size_t d = 0; d < D; d++) {
        const float qd = ql[d] * scale, *row = kt + d * S;
        for (size_t s = 0; s < n; s++) p[s] += qd * row[s];
    }
    float mx = -INFINITY;
    for (size_t s = 0; s < n; s++) {
        float sc = key_allowed(r, s) ? p[s] + (r->fmask ? r->fmask[s] : 0.0f) : -INFINITY;
        p[s] = sc;
        mx = sc > mx ? sc : mx;
    }
    return mx;
}

/* Forward of one (b,h). Scratch: kt, vt (D,S) and row (S). */
ATTEND_DISPATCH static void sdpa_head_forward(float *out, const sdpa_args *a, size_t b,
                                              size_t h, float *kt, float *vt, float *row) {
    const size_t L = a->L, S = a->S, D = a->D, H = a->H, E = H * D;
    const int finite = pack_head(kt, vt, a, b, h);
    for (size_t l = 0; l < L; l++) {
        const float *ql = a->q + (b * L + l) * E + h * D;
        float *ol = out + (b * L + l) * E + h * D;
        float *p = a->probs ? a->probs + prob_index(b, h, l, 0, H, L, S) : row;
        mask_row r = mask_row_at(a->mask, b, h, l, H, L, S);
        const size_t n = r.s_end;

        const float mx = row_scores(p, ql, kt, &r, n, S, D, a->scale);
        for (size_t s = n; s < S; s++) p[s] = 0.0f;
        for (size_t d = 0; d < D; d++) ol[d] = 0.0f;
        if (mx == -INFINITY) {
            for (size_t s = 0; s < n; s++) p[s] = 0.0f; /* no allowed key: weights 0, output 0 */
            if (a->lse) a->lse[(b * H + h) * L + l] = INFINITY;
            continue;
        }
        // softmax over the allowed keys (exp(-inf) = 0 for the masked ones)
        float sum = 0.0f;
        for (size_t s = 0; s < n; s++) {
            p[s] = expf(p[s] - mx);
            sum += p[s];
        }
        if (a->lse) a->lse[(b * H + h) * L + l] = mx + logf(sum);
        const float inv = 1.0f / sum;
        for (size_t s = 0; s < n; s++) p[s] *= inv;

        // out_l = sum_s dropout(p_s) v_s
        if (a->dropout_p > 0.0f || !finite) {
            /* per key, skipping zero (masked or dropped) weights: a NaN in a
             * masked value is never multiplied */
            for (size_t s = 0; s < n; s++) {
                float w = p[s] == 0.0f ? 0.0f : p[s] * keep_factor(a, prob_index(b, h, l, s, H, L, S));
                if (w != 0.0f) axpy(ol, w, a->v + (b * S + s) * E + h * D, D);
            }
        } else {
            for (size_t d = 0; d < D; d++) ol[d] = dot16(p, vt + d * S, n);
        }
    }
}

/* Backward of one (b,h). Scratch: kt, vt, dkt, dvt (D,S each) and three
 * rows of S: p (recomputed weights in fused mode), dp, w. */
ATTEND_DISPATCH static void sdpa_head_backward(float *dq, float *dk, float *dv,
                                               const float *dout, const sdpa_args *a,
                                               size_t b, size_t h, float *scratch) {
    const size_t L = a->L, S = a->S, D = a->D, H = a->H, E = H * D;
    float *kt = scratch, *vt = kt + D * S, *dkt = vt + D * S, *dvt = dkt + D * S;
    float *prow = dvt + D * S, *dprow = prow + S, *w = dprow + S;
    if (!pack_head(kt, vt, a, b, h)) {
        /* A NaN or Inf among this head's keys/values: take the per-key path,
         * which never touches a masked key. */
        sdpa_head_backward_simple(dq, dk, dv, dout, a, b, h);
        return;
    }
    for (size_t i = 0; i < D * S; i++) dkt[i] = dvt[i] = 0.0f;
    for (size_t l = 0; l < L; l++) {
        const float *ql = a->q + (b * L + l) * E + h * D;
        const float *dol = dout + (b * L + l) * E + h * D;
        mask_row r = mask_row_at(a->mask, b, h, l, H, L, S);
        const size_t n = r.s_end;
        const float *p;
        if (a->probs) {
            p = a->probs + prob_index(b, h, l, 0, H, L, S);
        } else {
            // fused: the weights again, from the scores and the saved log-sum-exp
            const float lse = a->lse[(b * H + h) * L + l];
            row_scores(prow, ql, kt, &r, n, S, D, a->scale);
            for (size_t s = 0; s < n; s++) prow[s] = expf(prow[s] - lse);
            p = prow;
        }
        float *dp = a->dprobs ? a->dprobs + prob_index(b, h, l, 0, H, L, S) : dprow;

        // forward: out_l = sum_s m_s p_s v_s  (m_s: dropout keep * scale, else 1)
        //   dp_s = m_s (dout_l . v_s);   dv_s += m_s p_s dout_l
        for (size_t s = 0; s < n; s++) dp[s] = 0.0f;
        for (size_t d = 0; d < D; d++) {
            const float g = dol[d], *row = vt + d * S;
            for (size_t s = 0; s < n; s++) dp[s] += g * row[s];
        }
        float rowdot = 0.0f;
        for (size_t s = 0; s < n; s++) {
            float m = p[s] != 0.0f ? keep_factor(a, prob_index(b, h, l, s, H, L, S)) : 0.0f;
            dp[s] *= m;
            w[s] = m * p[s];
            rowdot += p[s] * dp[s];
        }
        for (size_t d = 0; d < D; d++) {
            const float g = dol[d];
            float *row = dvt + d * S;
            for (size_t s = 0; s < n; s++) row[s] += w[s] * g;
        }
        // forward: p = softmax(scores): dscore_s = p_s (dp_s - sum_j p_j dp_j)
        // forward: score_s = q_l . k_s * scale:
        //   dq_l += scale sum_s dscore_s k_s;  dk_s += scale dscore_s q_l
        for (size_t s = 0; s < n; s++) dp[s] = p[s] * (dp[s] - rowdot) * a->scale;
        float *dql = dq ? dq + (b * L + l) * E + h * D : NULL;
        for (size_t d = 0; d < D; d++) {
            if (dql) dql[d] += dot16(dp, kt + d * S, n);
            const float qd = ql[d];
            float *row = dkt + d * S;
            for (size_t s = 0; s < n; s++) row[s] += dp[s] * qd;
        }
    }
    // scatter the packed key/value gradients back to (B,S,E)
    for (size_t s = 0; s < S; s++)
        for (size_t d = 0; d < D; d++) {
            if (dk) dk[(b * S + s) * E + h * D + d] += dkt[d * S + s];
            if (dv) dv[(b * S + s) * E + h * D + d] += dvt[d * S + s];
        }
}

static void sdpa_forward_all(float *out, const sdpa_args *a) {
    const size_t B = a->B, H = a->H, S = a->S, D = a->D;
    ATTEND_OMP(parallel) {
        /* One scratch per thread: the packed keys and values of a head and a
         * row of scores, O(S D) whatever the mode. */
        float *kt = malloc((2 * D + 1) * S * sizeof(float) + 1);
        ATTEND_OMP(for collapse(2) schedule(static))
        for (size_t b = 0; b < B; b++)
            for (size_t h = 0; h < H; h++) {
                if (kt) sdpa_head_forward(out, a, b, h, kt, kt + D * S, kt + 2 * D * S);
                else sdpa_head_forward_simple(out, a, b, h);
            }
        free(kt);
    }
}

static void sdpa_backward_all(float *dq, float *dk, float *dv, const float *dout,
                              const sdpa_args *a) {
    const size_t B = a->B, H = a->H, S = a->S, D = a->D;
    /* Parallel over (b,h): each pair owns disjoint column blocks of dq, dk, dv. */
    ATTEND_OMP(parallel) {
        float *scratch = malloc((4 * D + 3) * S * sizeof(float) + 1);
        ATTEND_OMP(for collapse(2) schedule(static))
        for (size_t b = 0; b < B; b++)
            for (size_t h = 0; h < H; h++) {
                if (scratch) sdpa_head_backward(dq, dk, dv, dout, a, b, h, scratch);
                else sdpa_head_backward_simple(dq, dk, dv, dout, a, b, h);
            }
        free(scratch);
    }
}

static sdpa_args make_args(const float *q, const float *k, const float *v,
                           const attend_mask *mask, size_t B, size_t H, size_t L, size_t S,
                           size_t D, float dropout_p, uint64_t seed) {
    sdpa_args a = {q, k, v, mask, B, H, L, S, D, 1.0f / sqrtf((float)D), dropout_p,
                   dropout_p > 0.0f ? 1.0f / (1.0f - dropout_p) : 1.0f, seed, NULL, NULL, NULL};
    return a;
}

void attend_sdpa_forward(float *out, float *probs, const float *q, const float *k,
                         const float *v, const attend_mask *mask, size_t B, size_t H,
                         size_t L, size_t S, size_t D, float dropout_p, uint64_t seed) {
    sdpa_args a = make_args(q, k, v, mask, B, H, L, S, D, dropout_p, seed);
    a.probs = probs;
    sdpa_forward_all(out, &a);
}

void attend_sdpa_backward(float *dq, float *dk, float *dv, float *dprobs,
                          const float *dout, const float *q, const float *k,
                          const float *v, const float *probs, const attend_mask *mask,
                          size_t B, size_t H, size_t L, size_t S, size_t D,
                          float dropout_p, uint64_t seed) {
    sdpa_args a = make_args(q, k, v, mask, B, H, L, S, D, dropout_p, seed);
    a.probs = (float *)probs; /* read only in the backward */
    a.dprobs = dprobs;
    sdpa_backward_all(dq, dk, dv, dout, &a);
}

void attend_sdpa_forward_fused(float *out, float *lse, const float *q, const float *k,
                               const float *v, const attend_mask *mask, size_t B, size_t H,
                               size_t L, size_t S, size_t D, float dropout_p, uint64_t seed) {
    sdpa_args a = make_args(q, k, v, mask, B, H, L, S, D, dropout_p, seed);
    a.lse = lse;
    sdpa_forward_all(out, &a);
}

void attend_sdpa_backward_fused(float *dq, float *dk, float *dv, const float *dout,
                                const float *q, const float *k, const float *v,
                                const float *lse, const attend_mask *mask, size_t B, size_t H,
                                size_t L, size_t S, size_t D, float dropout_p, uint64_t seed) {
    sdpa_args a = make_args(q, k, v, mask, B, H, L, S, D, dropout_p, seed);
    a.lse = (float *)lse; /* read only in the backward */
    sdpa_backward_all(dq, dk, dv, dout, &a);
}
