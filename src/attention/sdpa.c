/* Scaled dot-product attention with masks, forward and backward.
 *
 * Layout: q (B,L,H*D), k and v (B,S,H*D), out (B,L,H*D): head h of token l
 * is the column block [h*D, (h+1)*D) of row l, exactly what the input
 * projections produce, so no transpose is needed.
 *
 * One kernel per (batch, head), in blocks of QB query rows: the head's keys
 * and values are packed once (K^T, V and their transposes as needed), every
 * product (scores, weights x V, and the five of the backward) is a small
 * matrix product done by a register-tiled kernel (mm), and softmax, masks
 * and dropout are vectorised passes over a QB x S block of scores. Two modes:
 *   - with weights: probs (B,H,L,S) is written (attention maps, `attend op`)
 *     and the backward reads it;
 *   - fused: no (B,H,L,S) array at all. The forward saves each row's
 *     log-sum-exp (B,H,L); the backward recomputes the weights from it.
 *     Past KB keys both go through the keys KB at a time (online softmax:
 *     running maximum and sum, the output rescaled when the maximum grows),
 *     so the score block is QB x KB and memory is O(S*D) per thread.
 *
 * Masking rule (PyTorch nn.MultiheadAttention's convention): a key is masked
 * for a query when the key-padding byte is nonzero, the bool mask byte is
 * nonzero, the causal switch is on and s > l, or the float mask is -inf.
 * A masked key gets weight exactly 0 (its score is set to -inf before the
 * exp). A padded key is packed as zeros, so NaN or Inf stored there cannot
 * reach the output or any gradient through a 0 * NaN; a head with a
 * non-finite key or value that some query may see takes the per-key path,
 * which never touches a masked key. A query with no allowed key gets weights
 * 0 and output 0, and its gradients are 0 (PyTorch 1.13 gives NaN there). */
#include "base/parallel.h"
#include "base/rng.h"
#include "attention/sdpa.h"
#include "kernels/vmath.h"
#include <math.h>

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
    const float *out;           /* backward of the fused path: the forward's output, or NULL */
    int online;                 /* fused, S > KB (and out known in the backward): key blocks */
} sdpa_args;

/* Dropout factor of weight (b,h,l,s): 0 when dropped, else 1/(1-p). */
static inline float keep_factor(const sdpa_args *a, size_t idx) {
    if (a->dropout_p <= 0.0f) return 1.0f;
    return attend_dropout_uniform(a->seed, idx) < a->dropout_p ? 0.0f : a->keep_scale;
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

/* ---- the blocked path ----
 * One (batch, head) pair is processed QB query rows at a time. Every product
 * in the forward and backward is a small matrix product on packed copies of
 * the head's keys and values, done by the register-tiled kernel mm() below;
 * softmax, masks and dropout are elementwise passes over a block of scores
 * (QB x S, or QB x KB in the fused path's key blocks) that stays in cache.
 * Nothing T x T exists in fused mode: memory is O(D * S) per thread. */

#define QB 32 /* query rows per block */


/* Register tile: C[R][W] (=|+=) sum_k A[r*ars + k*aks] * B[k*ldb + w], W = 16
 * or 8 floats held in GCC vector types (one AVX-512 register for 16, two
 * AVX2 ones; the portable clone splits them into SSE registers), A's entries
 * broadcast. Unaligned loads and stores go through memcpy. */
typedef float v16f __attribute__((vector_size(64)));
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v16i __attribute__((vector_size(64)));

/* Lane-wise m ? x : y for a vector comparison's result m (-1 or 0 lanes);
 * a macro, as a function returning a vector would change the ABI of the
 * portable clone. */
#define VSEL(m, x, y) ((v16f)(((v16i)(x) & (m)) | ((v16i)(y) & ~(m))))

#define ATTEND_TILE(R, W)                                                                    \
    static ATTEND_INLINE void tile_##R##x##W(float *C, size_t ldc, const float *A, size_t ars, \
                                             size_t aks, const float *B, size_t ldb, size_t K, \
                                             int acc) {                                     \
        v##W##f c[R];                                                                        \
        for (int r = 0; r < R; r++) {                                                        \
            if (acc) memcpy(&c[r], C + r * ldc, sizeof c[r]);                                \
            else c[r] = (v##W##f){0};                                                        \
        }                                                                                    \
        for (size_t k = 0; k < K; k++) {                                                     \
            v##W##f b;                                                                       \
            memcpy(&b, B + k * ldb, sizeof b);                                               \
            const float *ak = A + k * aks;                                                   \
            for (int r = 0; r < R; r++) c[r] += ak[r * ars] * b;                             \
        }                                                                                    \
        for (int r = 0; r < R; r++) memcpy(C + r * ldc, &c[r], sizeof c[r]);                 \
    }
ATTEND_TILE(4, 16)
ATTEND_TILE(1, 16)
ATTEND_TILE(8, 8)
ATTEND_TILE(1, 8)

/* C (M,N) (=|+=) A (M,K) @ B (K,N): A(i,k) = A[i*ars + k*aks] (so a
 * transposed operand is just other strides), B and C row-major. */
static ATTEND_INLINE void mm(float *C, size_t ldc, const float *A, size_t ars, size_t aks,
                             const float *B, size_t ldb, size_t M, size_t N, size_t K,
                             int acc) {
    size_t j = 0;
    for (; j + 16 <= N; j += 16) {
        size_t i = 0;
        for (; i + 4 <= M; i += 4)
            tile_4x16(C + i * ldc + j, ldc, A + i * ars, ars, aks, B + j, ldb, K, acc);
        for (; i < M; i++)
            tile_1x16(C + i * ldc + j, ldc, A + i * ars, ars, aks, B + j, ldb, K, acc);
    }
    for (; j + 8 <= N; j += 8) {
        size_t i = 0;
        for (; i + 8 <= M; i += 8)
            tile_8x8(C + i * ldc + j, ldc, A + i * ars, ars, aks, B + j, ldb, K, acc);
        for (; i < M; i++)
            tile_1x8(C + i * ldc + j, ldc, A + i * ars, ars, aks, B + j, ldb, K, acc);
    }
    for (; j < N; j++)
        for (size_t i = 0; i < M; i++) {
            float s = acc ? C[i * ldc + j] : 0.0f;
            for (size_t k = 0; k < K; k++) s += A[i * ars + k * aks] * B[k * ldb + j];
            C[i * ldc + j] = s;
        }
}


/* Row stride of the transposed packs K^T, V^T (D rows of S keys): S rounded
 * up to 16 plus 16, never a multiple of 4 KiB, so walking down a column (as
 * the tiles do) does not map every row to the same cache set. */
static inline size_t pack_ld(size_t S) { return (S + 15) / 16 * 16 + 16; }

/* n rounded up to a multiple of 16. The products and row passes run over
 * whole 16-key groups: the packs hold zeros for keys [S, round16(S)) and
 * their scores are set to -inf, so the extra columns add exact zeros and no
 * scalar tail loop is needed (short texts, S ~ 10-30, spent most of their
 * time in those tails). */
static inline size_t round16(size_t n) { return (n + 15) / 16 * 16; }

/* Packs head h of batch b: kt (D,ld) = K^T and, when wanted, kr (S16,D) = K,
 * vt (D,ld) = V^T, vr (S16,D) = V (any may be NULL), ld = pack_ld(S),
 * S16 = round16(S); keys [S, S16) are packed as zeros. A padded
 * key (key_padding set) is packed as zeros: it is masked for every query, so its stored
 * values must not matter, and zeros keep a NaN there out of the products
 * (a masked weight is 0, and 0 * NaN would be NaN). Returns 0 when a key
 * that some query may see holds NaN or Inf: the caller then takes the
 * per-key path. */
static int pack_head(float *kt, float *kr, float *vt, float *vr, const sdpa_args *a, size_t b,
                     size_t h) {
    const size_t S = a->S, D = a->D, E = a->H * D, ld = pack_ld(S);
    const uint8_t *pad = a->mask && a->mask->key_padding ? a->mask->key_padding + b * S : NULL;
    for (size_t s = 0; s < S; s++) {
        const float *ks = a->k + (b * S + s) * E + h * D, *vs = a->v + (b * S + s) * E + h * D;
        /* x * 0 is 0 for finite x and NaN for NaN or Inf: one branch-free,
         * vectorisable sum tells whether the key's row is finite */
        float z = 0.0f;
        for (size_t d = 0; d < D; d++) z += ks[d] * 0.0f + vs[d] * 0.0f;
        const int finite = z == 0.0f;
        const int zero = pad && pad[s];
        if (!finite && !zero) return 0;
        for (size_t d = 0; d < D; d++) {
            if (kt) kt[d * ld + s] = zero ? 0.0f : ks[d];
            if (vt) vt[d * ld + s] = zero ? 0.0f : vs[d];
            if (kr) kr[s * D + d] = zero ? 0.0f : ks[d];
            if (vr) vr[s * D + d] = zero ? 0.0f : vs[d];
        }
    }
    const size_t S16 = round16(S);
    for (size_t d = 0; d < D; d++)
        for (size_t s = S; s < S16; s++) {
            if (kt) kt[d * ld + s] = 0.0f;
            if (vt) vt[d * ld + s] = 0.0f;
        }
    if (kr) memset(kr + S * D, 0, (S16 - S) * D * sizeof(float));
    if (vr) memset(vr + S * D, 0, (S16 - S) * D * sizeof(float));
    return 1;
}

/* Maximum and sum of 16 partial results, in index order (the same bits
 * every run). A pairwise tree through the array measured slower here:
 * the compiler keeps this chain in registers. The maxima are never NaN
 * (see row_mask_range). */
static ATTEND_INLINE float hmax16(float *m) {
    float mx = -INFINITY;
    for (int j = 0; j < 16; j++) mx = m[j] > mx ? m[j] : mx;
    return mx;
}
static ATTEND_INLINE float hsum16(float *x) {
    float s = 0.0f;
    for (int j = 0; j < 16; j++) s += x[j];
    return s;
}

/* Keys a block of rows [l0, l0+nr) can reach: S, or fewer under causal. */
static inline size_t block_keys(const sdpa_args *a, size_t l0, size_t nr) {
    if (a->mask && a->mask->causal && l0 + nr < a->S) return l0 + nr;
    return a->S;
}

/* Turns the raw dot products p[0..kn) of row l with keys [k0, k0+kn) into
 * scores: times scale, plus the float mask, -inf where masked (overwriting
 * whatever was computed there). Returns their maximum (-inf: no allowed
 * key). Each mask is one select pass, so the loops vectorise. */
static ATTEND_INLINE float row_mask_range(float *p, const sdpa_args *a, size_t b, size_t h,
                                          size_t l, size_t k0, size_t kn) {
    mask_row r = mask_row_at(a->mask, b, h, l, a->H, a->L, a->S);
    const float scale = a->scale;
    const size_t stop = r.s_end < k0 + kn ? r.s_end : k0 + kn;
    const size_t end = stop > k0 ? stop - k0 : 0;
    const float *fm = r.fmask ? r.fmask + k0 : NULL;
    const uint8_t *pad = r.pad ? r.pad + k0 : NULL, *bm = r.bmask ? r.bmask + k0 : NULL;
    if (fm) {
        for (size_t s = 0; s < end; s++)
            p[s] = fm[s] == -INFINITY ? -INFINITY : p[s] * scale + fm[s];
        if (pad)
            for (size_t s = 0; s < end; s++) p[s] = pad[s] ? -INFINITY : p[s];
    } else if (pad) {
        for (size_t s = 0; s < end; s++) p[s] = pad[s] ? -INFINITY : p[s] * scale;
    } else {
        for (size_t s = 0; s < end; s++) p[s] *= scale;
    }
    if (bm)
        for (size_t s = 0; s < end; s++) p[s] = bm[s] ? -INFINITY : p[s];
    for (size_t s = end; s < kn; s++) p[s] = -INFINITY;
    /* 16 running maxima: vectorisable without fast-math (NaN is skipped,
     * as a plain loop with this comparison would) */
    float m16[16];
    for (int j = 0; j < 16; j++) m16[j] = -INFINITY;
    size_t s = 0;
    for (; s + 16 <= end; s += 16)
        for (int j = 0; j < 16; j++) m16[j] = p[s + j] > m16[j] ? p[s + j] : m16[j];
    float mx = hmax16(m16);
    for (; s < end; s++) mx = p[s] > mx ? p[s] : mx;
    return mx;
}

/* p[s] = exp(p[s] - shift) for s < n; returns the sum (16 partial sums in a
 * fixed order, so it vectorises and gives the same bits every run). */
static ATTEND_INLINE float row_exp(float *p, float shift, size_t n) {
    float acc[16] = {0};
    size_t s = 0;
    for (; s + 16 <= n; s += 16)
        for (int j = 0; j < 16; j++) {
            p[s + j] = attend_vexpf(p[s + j] - shift);
            acc[j] += p[s + j];
        }
    float tail = 0.0f;
    for (; s < n; s++) {
        p[s] = attend_vexpf(p[s] - shift);
        tail += p[s];
    }
    return hsum16(acc) + tail;
}

/* sum_s x[s] y[s] with 16 partial sums. */
static ATTEND_INLINE float dot16(const float *x, const float *y, size_t n) {
    float acc[16] = {0};
    size_t s = 0;
    for (; s + 16 <= n; s += 16)
        for (int j = 0; j < 16; j++) acc[j] += x[s + j] * y[s + j];
    float tail = 0.0f;
    for (; s < n; s++) tail += x[s] * y[s];
    return hsum16(acc) + tail;
}

/* Dropout of row l over keys [k0, k0+kn): w[s] = p[s] * keep factor. */
static ATTEND_INLINE void row_dropout(float *w, const float *p, const sdpa_args *a, size_t b,
                                      size_t h, size_t l, size_t k0, size_t kn) {
    const size_t base = prob_index(b, h, l, k0, a->H, a->L, a->S);
    const float keep = a->keep_scale, drop = a->dropout_p;
    for (size_t s = 0; s < kn; s++) w[s] = attend_dropout_apply(p[s], a->seed, base + s, drop, keep);
}

/* Long sequences in the fused path go through the keys KB at a time (online
 * softmax), so a block of scores is QB x KB whatever S is and stays in
 * cache. Up to KB keys there is one block and both paths are the same code. */
#define KB 512

static inline int online_path(const sdpa_args *a) { return a->online; }

/* Row stride of the score blocks. */
static inline size_t block_ld(const sdpa_args *a) {
    return online_path(a) ? pack_ld(KB) : pack_ld(a->S);
}

/* Forward of query rows [l0, l0+nr), all keys at once: the rows' weights are
 * complete before they multiply V, and go to probs when asked. */
static ATTEND_INLINE void forward_rows(float *out, const sdpa_args *a, size_t b, size_t h,
                                       size_t l0, size_t nr, const float *kt, size_t ld,
                                       const float *vr, float *sc, float *wbuf, size_t bs,
                                       float *rinv) {
    const size_t L = a->L, S = a->S, D = a->D, H = a->H, E = H * D;
    const size_t n = round16(block_keys(a, l0, nr));
    const float *qb = a->q + (b * L + l0) * E + h * D;
    // the weights are made in place in the probs rows (unfused, stride S)
    // when the 16-key groups fit there, else in the scratch block and copied
    float *probs = a->probs ? a->probs + prob_index(b, h, l0, 0, H, L, S) : NULL;
    const int direct = probs && n <= S;
    float *p = direct ? probs : sc;
    const size_t ps = direct ? S : bs;
    // raw scores (nr,n) = Q (nr,D) @ K^T (D,n)
    mm(p, ps, qb, E, 1, kt, ld, nr, n, D, 0);
    for (size_t i = 0; i < nr; i++) {
        const size_t l = l0 + i;
        float *pr = p + i * ps;
        const float mx = row_mask_range(pr, a, b, h, l, 0, n);
        if (mx == -INFINITY) {
            /* no allowed key: weights 0, output 0 */
            for (size_t s = 0; s < n; s++) pr[s] = 0.0f;
            if (a->dropout_p > 0.0f) memset(wbuf + i * bs, 0, n * sizeof(float));
            if (a->lse) a->lse[(b * H + h) * L + l] = INFINITY;
            rinv[i] = 0.0f;
        } else {
            const float sum = row_exp(pr, mx, n);
            if (a->lse) a->lse[(b * H + h) * L + l] = mx + logf(sum);
            const float inv = 1.0f / sum;
            /* without a weights array the division is left to the output
             * row: D products instead of n */
            rinv[i] = inv;
            if (probs)
                for (size_t s = 0; s < n; s++) pr[s] *= inv;
            if (a->dropout_p > 0.0f) row_dropout(wbuf + i * bs, pr, a, b, h, l, 0, n);
        }
        if (probs) { /* the whole row of S weights: zeros past the block's keys */
            float *dst = probs + i * S;
            if (!direct) memcpy(dst, pr, S * sizeof(float));
            else for (size_t s = n; s < S; s++) dst[s] = 0.0f;
        }
    }
    // out (nr,D) = dropout(P) (nr,n) @ V (n,D); without probs the rows of P are
    // still exp(S - max), and rinv (1/sum per row) goes on the output
    const int drop = a->dropout_p > 0.0f;
    float *ob = out + (b * L + l0) * E + h * D;
    mm(ob, E, drop ? wbuf : p, drop ? bs : ps, 1, vr, D, nr, D, n, 0);
    if (!probs)
        for (size_t i = 0; i < nr; i++)
            for (size_t d = 0; d < D; d++) ob[i * E + d] *= rinv[i];
}

/* Forward of query rows [l0, l0+nr) with the keys in blocks of KB (online
 * softmax): per row a running maximum m and sum z; when a block raises m,
 * the sum and the output row so far are scaled by exp(m_old - m_new). The
 * output accumulates unnormalised and is divided by z at the end. */
static ATTEND_INLINE void forward_rows_online(float *out, const sdpa_args *a, size_t b,
                                              size_t h, size_t l0, size_t nr, const float *kt,
                                              size_t ld, const float *vr, float *sc,
                                              float *wbuf, size_t bs, float *mrow,
                                              float *zrow) {
    const size_t L = a->L, D = a->D, H = a->H, E = H * D, n = block_keys(a, l0, nr);
    const float *qb = a->q + (b * L + l0) * E + h * D;
    float *ob = out + (b * L + l0) * E + h * D;
    const int drop = a->dropout_p > 0.0f;
    for (size_t i = 0; i < nr; i++) {
        mrow[i] = -INFINITY;
        zrow[i] = 0.0f;
        memset(ob + i * E, 0, D * sizeof(float));
    }
    for (size_t k0 = 0; k0 < n; k0 += KB) {
        const size_t kn = round16(n - k0 < KB ? n - k0 : KB);
        mm(sc, bs, qb, E, 1, kt + k0, ld, nr, kn, D, 0);
        for (size_t i = 0; i < nr; i++) {
            float *pr = sc + i * bs;
            const float bmax = row_mask_range(pr, a, b, h, l0 + i, k0, kn);
            const float mnew = bmax > mrow[i] ? bmax : mrow[i];
            if (mnew == -INFINITY) { /* nothing allowed so far */
                memset(pr, 0, kn * sizeof(float));
                if (drop) memset(wbuf + i * bs, 0, kn * sizeof(float));
                continue;
            }
            const float corr = attend_vexpf(mrow[i] - mnew); /* 0 when m was -inf */
            zrow[i] = zrow[i] * corr + row_exp(pr, mnew, kn);
            if (corr != 1.0f)
                for (size_t d = 0; d < D; d++) ob[i * E + d] *= corr;
            mrow[i] = mnew;
            if (drop) row_dropout(wbuf + i * bs, pr, a, b, h, l0 + i, k0, kn);
        }
        // out (nr,D) += dropout(exp(S - m)) (nr,kn) @ V[k0..k0+kn) (kn,D)
        mm(ob, E, drop ? wbuf : sc, bs, 1, vr + k0 * D, D, nr, D, kn, 1);
    }
    for (size_t i = 0; i < nr; i++) {
        float *lse = a->lse ? &a->lse[(b * H + h) * L + l0 + i] : NULL;
        if (mrow[i] == -INFINITY) { /* no allowed key: output 0 */
            if (lse) *lse = INFINITY;
            continue;
        }
        const float inv = 1.0f / zrow[i];
        for (size_t d = 0; d < D; d++) ob[i * E + d] *= inv;
        if (lse) *lse = mrow[i] + logf(zrow[i]);
    }
}

/* ---- small head dims: 16 queries across the vector lanes ----
 * At head dim 8 (the models attend trains: d_model 64, 8 heads) a score is
 * an 8-term dot product, and a kernel with the keys across the lanes spends
 * most of its time in per-row horizontal maxima and sums and in products
 * with 8 outputs per row. With the 16 queries of a block across the lanes
 * instead, a key's 16 scores are D multiply-adds of q^T columns (held in
 * registers) by broadcast key entries, and the softmax's maxima and sums
 * and the weights x V product are lane-wise: no horizontal reduction at
 * all. The block's scores live in sc (n keys x 16 lanes); the weights
 * array (when asked for) gets them transposed. Used when D <= 16, no
 * per-query mask array (attn_bool / attn_float) and one block of keys;
 * the masks left (key padding, causal) are per key or a compare. */
#define QV 16

int attend_sdpa_lane_kernel(size_t head_dim) { return head_dim <= QV; }

static inline int qv_path(const sdpa_args *a) {
    /* (key and query indices are compared as floats: exact below 2^24) */
    return attend_sdpa_lane_kernel(a->D) && !online_path(a) && a->S < ((size_t)1 << 24) &&
           a->L < ((size_t)1 << 24) && !(a->mask && (a->mask->attn_bool || a->mask->attn_float));
}

/* t (D,16) = the transpose of rows (nq,D) of stride E (a head's block of
 * q or dout): lane j holds row j, zeros past nq. */
static ATTEND_INLINE void lanes_t(v16f *t, const float *rows, size_t E, const size_t D,
                                  size_t nq) {
    for (size_t d = 0; d < D; d++)
        for (int j = 0; j < QV; j++) t[d][j] = (size_t)j < nq ? rows[(size_t)j * E + d] : 0.0f;
}

/* Scores of a 16-query block against keys [0, n): dst (n,16) = K q^T *
 * scale, -inf for a padded key and, under causal, for a key past the lane's
 * query (lane: the lanes' query indices). vmx (may be NULL) gets the lane
 * maxima, NaN skipped as in row_mask_range. */
static ATTEND_INLINE void scores_qv(float *dst, const v16f *qt, const float *kr, const size_t D,
                                    size_t n, const sdpa_args *a, size_t b, const v16f *lane,
                                    v16f *vmx) {
    const uint8_t *pad =
        a->mask && a->mask->key_padding ? a->mask->key_padding + b * a->S : NULL;
    const int causal = a->mask && a->mask->causal;
    const float scale = a->scale;
    const v16f ninf = (v16f){0} - INFINITY;
    v16f m = ninf;
    for (size_t s = 0; s < n; s++) {
        v16f x = ninf;
        if (!(pad && pad[s])) {
            v16f acc = {0};
            for (size_t d = 0; d < D; d++) acc += qt[d] * kr[s * D + d];
            x = acc * scale;
            if (causal) x = VSEL((v16f){0} + (float)s > *lane, ninf, x);
        }
        memcpy(dst + s * QV, &x, sizeof x);
        m = VSEL(x > m, x, m);
    }
    if (vmx) *vmx = m;
}

/* Dropout of a 16-query block's weights (n keys x 16 lanes): w = p * keep,
 * or 0 when dropped. Lane j's counter prob_index(b,h,l0+j,s) = c_j + s is
 * kept as 32-bit halves (the low half's carry goes to the high one) so the
 * hash runs 16 lanes wide; the same stream as attend_dropout_apply. */
static ATTEND_INLINE void dropout_qv(float *w, const float *p, const sdpa_args *a, size_t b,
                                     size_t h, size_t l0, size_t n) {
    const size_t base = prob_index(b, h, l0, 0, a->H, a->L, a->S), S = a->S;
    const float keep = a->keep_scale, drop = a->dropout_p;
    const uint32_t seed32 = (uint32_t)(a->seed ^ (a->seed >> 32));
    uint32_t clo[QV], chi[QV];
    for (int j = 0; j < QV; j++) {
        const uint64_t c = (uint64_t)base + (uint64_t)j * S;
        clo[j] = (uint32_t)c;
        chi[j] = (uint32_t)(c >> 32);
    }
    for (size_t s = 0; s < n; s++)
        for (int j = 0; j < QV; j++) {
            const uint32_t lo = clo[j] + (uint32_t)s, hi = chi[j] + (lo < clo[j]);
            const float u = attend_dropout_uniform32(seed32, lo, hi);
            w[s * QV + j] = u >= drop ? p[s * QV + j] * keep : 0.0f;
        }
}

/* Forward of queries [l0, l0+nq), nq <= 16, of (b,h): kr, vr (S16,D) packed
 * keys and values (padded keys zero), sc and w (S x 16) scratch. The same
 * arithmetic as forward_rows, lane by lane: scores q.k * scale, -inf where
 * masked, exp(score - max), weights normalised before probs and dropout,
 * else 1/sum on the output row. */
static ATTEND_INLINE void forward_qv(float *out, const sdpa_args *a, const size_t D, size_t b,
                                     size_t h, size_t l0, size_t nq, const float *kr,
                                     const float *vr, float *sc, float *w) {
    const size_t L = a->L, S = a->S, H = a->H, E = H * D;
    const size_t n = block_keys(a, l0, nq);
    // q^T (D,16): lane j is query l0+j (zeros past nq)
    v16f qt[QV];
    lanes_t(qt, a->q + (b * L + l0) * E + h * D, E, D, nq);
    v16f lane, vmx; /* lane: query index of each lane, for the causal compare */
    for (int j = 0; j < QV; j++) lane[j] = (float)(l0 + (size_t)j);
    // scores (n,16) = K (n,D) @ q^T (D,16), scaled and masked; lane maxima
    scores_qv(sc, qt, kr, D, n, a, b, &lane, &vmx);
    float mx[QV];
    memcpy(mx, &vmx, sizeof mx);
    // exp(score - max) and lane sums; a lane with no allowed key keeps
    // weights 0 (its shift is 0, so exp(-inf) = 0)
    float shift[QV], sum[QV], inv[QV];
    for (int j = 0; j < QV; j++) {
        shift[j] = mx[j] == -INFINITY ? 0.0f : mx[j];
        sum[j] = 0.0f;
    }
    for (size_t s = 0; s < n; s++) {
        float *p = sc + s * QV;
        for (int j = 0; j < QV; j++) {
            p[j] = attend_vexpf(p[j] - shift[j]);
            sum[j] += p[j];
        }
    }
    for (int j = 0; j < QV; j++) inv[j] = mx[j] == -INFINITY ? 0.0f : 1.0f / sum[j];
    if (a->lse)
        for (size_t j = 0; j < nq; j++)
            a->lse[(b * H + h) * L + l0 + j] = mx[j] == -INFINITY ? INFINITY : mx[j] + logf(sum[j]);
    if (a->probs) {
        /* normalised, and written transposed 16 keys at a time through a
         * 16 x 16 tile, so each row gets whole 64-byte pieces */
        for (size_t s = 0; s < n; s++)
            for (int j = 0; j < QV; j++) sc[s * QV + j] *= inv[j];
        float *row = a->probs + prob_index(b, h, l0, 0, H, L, S);
        float tile[QV][QV];
        size_t s0 = 0;
        for (; s0 + QV <= n; s0 += QV) {
            for (int t = 0; t < QV; t++)
                for (int j = 0; j < QV; j++) tile[j][t] = sc[(s0 + (size_t)t) * QV + (size_t)j];
            for (size_t j = 0; j < nq; j++) memcpy(row + j * S + s0, tile[j], sizeof tile[j]);
        }
        for (size_t j = 0; j < nq; j++) {
            for (size_t s = s0; s < n; s++) row[j * S + s] = sc[s * QV + j];
            for (size_t s = n; s < S; s++) row[j * S + s] = 0.0f;
        }
    }
    const float *pw = sc;
    if (a->dropout_p > 0.0f) {
        dropout_qv(w, sc, a, b, h, l0, n);
        pw = w;
    }
    // out^T (D,16) = V^T (D,n) @ weights (n,16)
    v16f o[QV];
    for (size_t d = 0; d < D; d++) o[d] = (v16f){0};
    for (size_t s = 0; s < n; s++) {
        v16f p;
        memcpy(&p, pw + s * QV, sizeof p);
        for (size_t d = 0; d < D; d++) o[d] += p * vr[s * D + d];
    }
    const int norm = !a->probs; /* with probs the weights were normalised */
    for (size_t j = 0; j < nq; j++) {
        float *orow = out + (b * L + l0 + j) * E + h * D;
        for (size_t d = 0; d < D; d++) orow[d] = norm ? o[d][j] * inv[j] : o[d][j];
    }
}

/* Forward of one (b,h). Scratch: kt (D,ld), vr (S16,D), sc and w (QB,bs),
 * row maxima and sums (QB each). */
ATTEND_DISPATCH static void sdpa_head_forward(float *out, const sdpa_args *a, size_t b,
                                              size_t h, float *scratch) {
    const size_t L = a->L, S = a->S, D = a->D, ld = pack_ld(S), bs = block_ld(a);
    float *kt = scratch, *vr = kt + D * ld, *sc = vr + round16(S) * D, *wbuf = sc + QB * bs;
    float *mrow = wbuf + QB * bs, *zrow = mrow + QB;
    if (qv_path(a)) {
        /* kr in kt's place (S16 * D <= D * ld floats), sc and w (S x 16) in the
         * score blocks (QB * bs >= 16 * S) */
        if (!pack_head(NULL, kt, NULL, vr, a, b, h)) {
            sdpa_head_forward_simple(out, a, b, h);
            return;
        }
        for (size_t l0 = 0; l0 < L; l0 += QV) {
            const size_t nq = L - l0 < QV ? L - l0 : QV;
            /* D = 8 is compiled on its own: the loops over D unroll */
            if (D == 8) forward_qv(out, a, 8, b, h, l0, nq, kt, vr, sc, wbuf);
            else forward_qv(out, a, D, b, h, l0, nq, kt, vr, sc, wbuf);
        }
        return;
    }
    if (!pack_head(kt, NULL, NULL, vr, a, b, h)) {
        /* A NaN or Inf among this head's keys/values: take the per-key path,
         * which never touches a masked key. */
        sdpa_head_forward_simple(out, a, b, h);
        return;
    }
    for (size_t l0 = 0; l0 < L; l0 += QB) {
        const size_t nr = L - l0 < QB ? L - l0 : QB;
        if (online_path(a))
            forward_rows_online(out, a, b, h, l0, nr, kt, ld, vr, sc, wbuf, bs, mrow, zrow);
        else
            forward_rows(out, a, b, h, l0, nr, kt, ld, vr, sc, wbuf, bs, zrow);
    }
}

/* Backward of query rows [l0, l0+nr) against keys [k0, k0+kn). rowdot[i]
 * is sum_s P_s dP_s over all of row i's keys (computed here when the block
 * holds them all, rowdot == NULL). p: the weights (probs rows, stride ps) or
 * NULL to recompute them from lse into pbuf. */
static ATTEND_INLINE void backward_block(float *dq, float *dkt, float *dvt, const float *dout,
                                         const sdpa_args *a, size_t b, size_t h, size_t l0,
                                         size_t nr, size_t k0, size_t kn, const float *p,
                                         size_t ps, const float *rowdot, const float *kt,
                                         const float *vt, size_t ld, const float *kr,
                                         float *pbuf, float *dpb, float *wbuf, size_t bs) {
    const size_t L = a->L, D = a->D, H = a->H, E = H * D;
    const float *qb = a->q + (b * L + l0) * E + h * D;
    const float *dob = dout + (b * L + l0) * E + h * D;
    const int drop = a->dropout_p > 0.0f;
    kn = round16(kn); /* whole 16-key groups (see round16) */
    if (p && k0 + kn > a->S) {
        /* weights from probs, whose rows end at S: copy them with zeros
         * for the extra keys */
        for (size_t i = 0; i < nr; i++) {
            memcpy(pbuf + i * bs, p + i * ps, (a->S - k0) * sizeof(float));
            for (size_t s = a->S - k0; s < kn; s++) pbuf[i * bs + s] = 0.0f;
        }
        p = pbuf;
        ps = bs;
    }
    if (!p) {
        // fused: the weights again, from the scores and the saved log-sum-exp
        mm(pbuf, bs, qb, E, 1, kt + k0, ld, nr, kn, D, 0);
        for (size_t i = 0; i < nr; i++) {
            float *pr = pbuf + i * bs;
            row_mask_range(pr, a, b, h, l0 + i, k0, kn);
            row_exp(pr, a->lse[(b * H + h) * L + l0 + i], kn);
        }
        p = pbuf;
        ps = bs;
    }
    // forward: out = W V with W = dropout(P) (W = P without dropout)
    //   dW (nr,kn) = dout (nr,D) @ V^T (D,kn);   dV (kn,D) += W^T (kn,nr) @ dout (nr,D),
    mm(dpb, bs, dob, E, 1, vt + k0, ld, nr, kn, D, 0);
    if (drop)
        for (size_t i = 0; i < nr; i++) row_dropout(wbuf + i * bs, p + i * ps, a, b, h, l0 + i, k0, kn);
    //   computed transposed, dV^T (D,kn) += dout^T (D,nr) @ W (nr,kn), so the
    //   vectors run along 16 keys whatever D is (D = 8: twice the width)
    mm(dvt + k0, ld, dob, 1, E, drop ? wbuf : p, drop ? bs : ps, D, kn, nr, 1);
    // (scale and keep in locals: the stores below could alias *a for the compiler)
    const float scale = a->scale, keep = a->keep_scale;
    // forward: W = P * m (m: keep / (1-p) or 0)  ->  dP = dW * m
    // forward: P = softmax(scores): dscore = P (dP - sum_j P_j dP_j)
    // forward: score = scale q.k  ->  dq += scale dscore K, dk += scale dscore^T q
    //   (dk as dK^T, like dV)
    for (size_t i = 0; i < nr; i++) {
        const float *pr = p + i * ps;
        float *dp = dpb + i * bs;
        if (drop) {
            const float *wr = wbuf + i * bs;
            /* m = w / p where p != 0; dropped (w = 0) or masked (p = 0) give 0 */
            for (size_t s = 0; s < kn; s++) dp[s] = wr[s] == 0.0f ? 0.0f : dp[s] * keep;
        }
        const float rd = rowdot ? rowdot[i] : dot16(pr, dp, kn);
        for (size_t s = 0; s < kn; s++) dp[s] = pr[s] * (dp[s] - rd) * scale;
    }
    if (dq) mm(dq + (b * L + l0) * E + h * D, E, dpb, bs, 1, kr + k0 * D, D, nr, D, kn, 1);
    mm(dkt + k0, ld, qb, 1, E, dpb, bs, D, kn, nr, 1); /* dK^T (D,kn) += q^T (D,nr) @ dscore */
}

/* Backward of queries [l0, l0+nq), nq <= 16, of (b,h), queries across the
 * lanes (see forward_qv): the weights P (n keys x 16) come from probs
 * (through 16 x 16 tiles) or are recomputed from the scores and the saved
 * log-sum-exp; then, key by key, dW = dout . v, dP = dW * keep mask,
 * sum_s P dP per lane, dscore = P (dP - sum) scale and dq += dscore k, all
 * lane-wise. dK (n,D) += dscore^T @ q and dV (n,D) += W^T @ dout go into
 * dkr, dvr (S,D). Scratch pb, dpb, wb: n x 16 each. */
static ATTEND_INLINE void backward_qv(float *dq, float *dkr, float *dvr, const float *dout,
                                      const sdpa_args *a, const size_t D, size_t b, size_t h,
                                      size_t l0, size_t nq, const float *kr, const float *vr,
                                      float *pb, float *dpb, float *wb) {
    const size_t L = a->L, S = a->S, H = a->H, E = H * D;
    const size_t n = block_keys(a, l0, nq);
    const float *qb = a->q + (b * L + l0) * E + h * D;
    const float *dob = dout + (b * L + l0) * E + h * D;
    const float scale = a->scale;
    const int drop = a->dropout_p > 0.0f;
    // dout^T (D,16), lanes past nq zero
    v16f got[QV];
    lanes_t(got, dob, E, D, nq);
    // the weights P (n,16)
    if (a->probs) {
        const float *row = a->probs + prob_index(b, h, l0, 0, H, L, S);
        float tile[QV][QV];
        memset(tile, 0, sizeof tile);
        size_t s0 = 0;
        for (; s0 + QV <= n; s0 += QV) {
            for (size_t j = 0; j < nq; j++) memcpy(tile[j], row + j * S + s0, sizeof tile[j]);
            for (int t = 0; t < QV; t++)
                for (int j = 0; j < QV; j++) pb[(s0 + (size_t)t) * QV + (size_t)j] = tile[j][t];
        }
        for (size_t s = s0; s < n; s++)
            for (size_t j = 0; j < QV; j++) pb[s * QV + j] = j < nq ? row[j * S + s] : 0.0f;
    } else {
        v16f qt[QV], lane;
        float lse[QV];
        lanes_t(qt, qb, E, D, nq);
        for (int j = 0; j < QV; j++) {
            lane[j] = (float)(l0 + (size_t)j);
            /* past nq: +inf, so the lane's weights are exp(-inf) = 0 */
            lse[j] = (size_t)j < nq ? a->lse[(b * H + h) * L + l0 + (size_t)j] : INFINITY;
        }
        scores_qv(pb, qt, kr, D, n, a, b, &lane, NULL);
        /* P = exp(score - lse), the exps in a pass of their own (independent,
         * so they pipeline) */
        for (size_t s = 0; s < n; s++)
            for (int j = 0; j < QV; j++) pb[s * QV + j] = attend_vexpf(pb[s * QV + j] - lse[j]);
    }
    // W = dropout(P); dW = dout . v_s; dP = dW * mask; rowdot = sum_s P dP
    if (drop) dropout_qv(wb, pb, a, b, h, l0, n);
    const float *w = drop ? wb : pb;
    const float keep = a->keep_scale;
    v16f rd = {0};
    for (size_t s = 0; s < n; s++) {
        v16f dw = {0};
        for (size_t d = 0; d < D; d++) dw += got[d] * vr[s * D + d];
        if (drop) {
            /* m = w / p where p != 0; dropped (w = 0) or masked (p = 0) give 0 */
            v16f ws;
            memcpy(&ws, w + s * QV, sizeof ws);
            dw = VSEL(ws == 0.0f, (v16f){0}, dw * keep);
        }
        v16f p;
        memcpy(&p, pb + s * QV, sizeof p);
        memcpy(dpb + s * QV, &dw, sizeof dw);
        rd += p * dw;
    }
    // dscore = P (dP - rowdot) scale; dq^T (D,16) += K^T (D,n) @ dscore (n,16)
    v16f dqt[QV];
    for (size_t d = 0; d < D; d++) dqt[d] = (v16f){0};
    for (size_t s = 0; s < n; s++) {
        v16f p, dp;
        memcpy(&p, pb + s * QV, sizeof p);
        memcpy(&dp, dpb + s * QV, sizeof dp);
        const v16f ds = p * (dp - rd) * scale;
        memcpy(dpb + s * QV, &ds, sizeof ds);
        for (size_t d = 0; d < D; d++) dqt[d] += ds * kr[s * D + d];
    }
    if (dq)
        for (size_t j = 0; j < nq; j++) {
            float *r = dq + (b * L + l0 + j) * E + h * D;
            for (size_t d = 0; d < D; d++) r[d] += dqt[d][j];
        }
    // dV (n,D) += W^T (n,nq) @ dout (nq,D);  dK (n,D) += dscore^T (n,nq) @ q (nq,D)
    mm(dvr, D, w, QV, 1, dob, E, n, D, nq, 1);
    mm(dkr, D, dpb, QV, 1, qb, E, n, D, nq, 1);
}

/* Backward of one (b,h). Scratch: kt, vt, dkt, dvt (D,ld), kr (S16,D), three
 * blocks (QB,bs): p (recomputed weights in fused mode), dp, w; and QB row
 * dot products. */
ATTEND_DISPATCH static void sdpa_head_backward(float *dq, float *dk, float *dv,
                                               const float *dout, const sdpa_args *a,
                                               size_t b, size_t h, float *scratch) {
    const size_t L = a->L, S = a->S, D = a->D, H = a->H, E = H * D, S16 = round16(S);
    const size_t ld = pack_ld(S), bs = block_ld(a);
    float *kt = scratch, *vt = kt + D * ld, *dkt = vt + D * ld, *dvt = dkt + D * ld,
          *kr = dvt + D * ld, *pbuf = kr + S16 * D, *dpb = pbuf + QB * bs,
          *wbuf = dpb + QB * bs, *rowdot = wbuf + QB * bs;
    if (qv_path(a)) {
        /* K, V and their gradients as (S16,D) rows in the four (D,ld) slots;
         * the three score blocks hold n x 16 each (QB * bs >= 16 * S) */
        float *kq = kt, *vq = vt, *dkq = dkt, *dvq = dvt;
        if (!pack_head(NULL, kq, NULL, vq, a, b, h)) {
            sdpa_head_backward_simple(dq, dk, dv, dout, a, b, h);
            return;
        }
        memset(dkq, 0, S * D * sizeof(float));
        memset(dvq, 0, S * D * sizeof(float));
        for (size_t l0 = 0; l0 < L; l0 += QV) {
            const size_t nq = L - l0 < QV ? L - l0 : QV;
            if (D == 8)
                backward_qv(dq, dkq, dvq, dout, a, 8, b, h, l0, nq, kq, vq, pbuf, dpb, wbuf);
            else
                backward_qv(dq, dkq, dvq, dout, a, D, b, h, l0, nq, kq, vq, pbuf, dpb, wbuf);
        }
        /* into (B,S,E), one contiguous row of D per key */
        for (size_t s = 0; dk && s < S; s++) {
            float *r = dk + (b * S + s) * E + h * D;
            for (size_t d = 0; d < D; d++) r[d] += dkq[s * D + d];
        }
        for (size_t s = 0; dv && s < S; s++) {
            float *r = dv + (b * S + s) * E + h * D;
            for (size_t d = 0; d < D; d++) r[d] += dvq[s * D + d];
        }
        return;
    }
    if (!pack_head(kt, kr, vt, NULL, a, b, h)) {
        sdpa_head_backward_simple(dq, dk, dv, dout, a, b, h);
        return;
    }
    memset(dkt, 0, 2 * D * ld * sizeof(float));
    for (size_t l0 = 0; l0 < L; l0 += QB) {
        const size_t nr = L - l0 < QB ? L - l0 : QB, n = block_keys(a, l0, nr);
        if (!online_path(a)) {
            const float *p = a->probs ? a->probs + prob_index(b, h, l0, 0, H, L, S) : NULL;
            backward_block(dq, dkt, dvt, dout, a, b, h, l0, nr, 0, n, p, S, NULL, kt, vt, ld, kr,
                           pbuf, dpb, wbuf, bs);
            continue;
        }
        // sum_s P_s dP_s = dout_l . out_l (out = sum_s W_s v_s, dP_s = m_s dout_l . v_s)
        for (size_t i = 0; i < nr; i++) {
            const float *o = a->out + (b * L + l0 + i) * E + h * D;
            const float *g = dout + (b * L + l0 + i) * E + h * D;
            rowdot[i] = dot16(o, g, D);
        }
        for (size_t k0 = 0; k0 < n; k0 += KB)
            backward_block(dq, dkt, dvt, dout, a, b, h, l0, nr, k0, n - k0 < KB ? n - k0 : KB,
                           NULL, 0, rowdot, kt, vt, ld, kr, pbuf, dpb, wbuf, bs);
    }
    // add the key/value gradients (transposed) into (B,S,E)
    for (size_t s = 0; s < S; s++)
        for (size_t d = 0; d < D; d++) {
            if (dk) dk[(b * S + s) * E + h * D + d] += dkt[d * ld + s];
            if (dv) dv[(b * S + s) * E + h * D + d] += dvt[d * ld + s];
        }
}

/* Per-thread scratch, in floats. */
static size_t fwd_scratch(const sdpa_args *a) {
    return a->D * pack_ld(a->S) + a->D * round16(a->S) + 2 * (size_t)QB * block_ld(a) +
           2 * (size_t)QB;
}
static size_t bwd_scratch(const sdpa_args *a) {
    return 4 * a->D * pack_ld(a->S) + a->D * round16(a->S) + 3 * (size_t)QB * block_ld(a) + QB;
}

/* Attention of small inputs (one short text) runs on the calling thread:
 * waking the others costs more than the heads take. */
#define SDPA_PARALLEL_MIN ((size_t)1 << 18) /* multiply-adds of q k^T and w v */
static int sdpa_parallel(const sdpa_args *a) {
    return a->B * a->H > 1 && 2 * a->B * a->H * a->L * a->S * a->D >= SDPA_PARALLEL_MIN;
}

static void sdpa_forward_all(float *out, const sdpa_args *a) {
    const size_t B = a->B, H = a->H;
    ATTEND_OMP(parallel if (sdpa_parallel(a))) {
        float *scratch = malloc(fwd_scratch(a) * sizeof(float) + 1);
        ATTEND_OMP(for collapse(2) schedule(static))
        for (size_t b = 0; b < B; b++)
            for (size_t h = 0; h < H; h++) {
                if (scratch) sdpa_head_forward(out, a, b, h, scratch);
                else sdpa_head_forward_simple(out, a, b, h);
            }
        free(scratch);
    }
}

static void sdpa_backward_all(float *dq, float *dk, float *dv, const float *dout,
                              const sdpa_args *a) {
    const size_t B = a->B, H = a->H;
    /* Parallel over (b,h): each pair owns disjoint column blocks of dq, dk, dv. */
    ATTEND_OMP(parallel if (sdpa_parallel(a))) {
        float *scratch = malloc(bwd_scratch(a) * sizeof(float) + 1);
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
                   dropout_p > 0.0f ? 1.0f / (1.0f - dropout_p) : 1.0f, seed, NULL, NULL, NULL, 0};
    return a;
}

void attend_sdpa_forward(float *out, float *probs, const float *q, const float *k,
                         const float *v, const attend_mask *mask, size_t B, size_t H,
                         size_t L, size_t S, size_t D, float dropout_p, uint64_t seed) {
    sdpa_args a = make_args(q, k, v, mask, B, H, L, S, D, dropout_p, seed);
    a.probs = probs;
    sdpa_forward_all(out, &a);
}

void attend_sdpa_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                          const float *v, const float *probs, const attend_mask *mask,
                          size_t B, size_t H, size_t L, size_t S, size_t D,
                          float dropout_p, uint64_t seed) {
    sdpa_args a = make_args(q, k, v, mask, B, H, L, S, D, dropout_p, seed);
    a.probs = (float *)probs; /* read only in the backward */
    sdpa_backward_all(dq, dk, dv, dout, &a);
}

void attend_sdpa_forward_fused(float *out, float *lse, const float *q, const float *k,
                               const float *v, const attend_mask *mask, size_t B, size_t H,
                               size_t L, size_t S, size_t D, float dropout_p, uint64_t seed) {
    sdpa_args a = make_args(q, k, v, mask, B, H, L, S, D, dropout_p, seed);
    a.lse = lse;
    a.online = S > KB;
    sdpa_forward_all(out, &a);
}

void attend_sdpa_backward_fused(float *dq, float *dk, float *dv, const float *dout,
                                const float *q, const float *k, const float *v,
                                const float *lse, const attend_mask *mask, size_t B, size_t H,
                                size_t L, size_t S, size_t D, float dropout_p, uint64_t seed) {
    attend_sdpa_backward_fused_out(dq, dk, dv, dout, NULL, q, k, v, lse, mask, B, H, L, S, D,
                                   dropout_p, seed);
}

void attend_sdpa_backward_fused_out(float *dq, float *dk, float *dv, const float *dout,
                                    const float *out, const float *q, const float *k,
                                    const float *v, const float *lse, const attend_mask *mask,
                                    size_t B, size_t H, size_t L, size_t S, size_t D,
                                    float dropout_p, uint64_t seed) {
    sdpa_args a = make_args(q, k, v, mask, B, H, L, S, D, dropout_p, seed);
    a.lse = (float *)lse; /* read only in the backward */
    a.out = out;
    a.online = out && S > KB;
    sdpa_backward_all(dq, dk, dv, dout, &a);
}
