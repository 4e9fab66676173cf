/* Multi-head attention, as nn.MultiheadAttention(batch_first=True):
 *   q = query Wq^T + bq,  k = key Wk^T + bk,  v = value Wv^T + bv
 *   ctx = concat_h softmax(q_h k_h^T / sqrt(D) + mask) v_h
 *   out = ctx Wo^T + bo
 * Heads are column blocks of q/k/v, so splitting and concatenating heads is
 * free: attention.c reads them in place. */
#include "kernels/kernels.h"
#include "attention/sdpa.h"
#include "nn/layout.h"
#include <math.h>

#include <string.h>

static size_t mha_kdim(const attend_mha_config *c) { return c->kdim ? c->kdim : c->embed_dim; }
static size_t mha_vdim(const attend_mha_config *c) { return c->vdim ? c->vdim : c->embed_dim; }

/* Backward of a key/value projection. The gradient of a masked key row is
 * exactly 0, but if that row of the input holds NaN or Inf the weight GEMM
 * would still form 0 * NaN. So when the input is not all finite, rows whose
 * gradient is all zero are skipped instead of multiplied. */
static void proj_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                          const float *inp, const float *weight, size_t N, size_t IN,
                          size_t OUT) {
    int finite = 1;
    for (size_t i = 0; i < N * IN && finite; i++) finite = isfinite(inp[i]);
    if (finite || !dweight) {
        attend_linear_backward(dinp, dweight, dbias, dout, inp, weight, N, IN, OUT);
        return;
    }
    attend_linear_backward(dinp, NULL, dbias, dout, inp, weight, N, IN, OUT);
    for (size_t n = 0; n < N; n++) {
        const float *d = dout + n * OUT, *x = inp + n * IN;
        int zero = 1;
        for (size_t o = 0; o < OUT && zero; o++) zero = d[o] == 0.0f;
        if (zero) continue;
        for (size_t o = 0; o < OUT; o++)
            for (size_t i = 0; i < IN; i++) dweight[o * IN + i] += d[o] * x[i];
    }
}

attend_status attend_mha_config_check(const attend_mha_config *cfg, attend_error *err) {
    if (cfg->embed_dim == 0)
        return attend_errorf(err, ATTEND_ERR_ARG, "embed_dim must be positive");
    if (cfg->num_heads == 0)
        return attend_errorf(err, ATTEND_ERR_ARG, "num_heads must be positive");
    if (cfg->embed_dim % cfg->num_heads != 0)
        return attend_errorf(err, ATTEND_ERR_ARG,
                             "embed_dim %zu is not divisible by num_heads %zu (head_dim = E / H must be whole)",
                             cfg->embed_dim, cfg->num_heads);
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return attend_errorf(err, ATTEND_ERR_ARG, "attention dropout %g is outside [0, 1)",
                             (double)cfg->dropout);
    return ATTEND_OK;
}

void attend_mha_layout(attend_layout *L, const char *prefix, const attend_mha_config *cfg,
                       attend_mha_params *p) {
    const size_t E = cfg->embed_dim, kd = mha_kdim(cfg), vd = mha_vdim(cfg);
    attend_mha_params v = {0};
    if (kd == E && vd == E) {
        /* PyTorch packs q, k, v into one (3E,E) tensor when the dims agree. */
        float *w = attend_layout_take(L, prefix, "in_proj_weight", 3 * E, E, 0);
        if (w) {
            v.q_proj_weight = w;
            v.k_proj_weight = w + E * E;
            v.v_proj_weight = w + 2 * E * E;
        }
    } else {
        v.q_proj_weight = attend_layout_take(L, prefix, "q_proj_weight", E, E, 0);
        v.k_proj_weight = attend_layout_take(L, prefix, "k_proj_weight", E, kd, 0);
        v.v_proj_weight = attend_layout_take(L, prefix, "v_proj_weight", E, vd, 0);
    }
    if (cfg->bias) v.in_proj_bias = attend_layout_take(L, prefix, "in_proj_bias", 3 * E, 0, 1);
    v.out_proj_weight = attend_layout_take(L, prefix, "out_proj.weight", E, E, 0);
    if (cfg->bias) v.out_proj_bias = attend_layout_take(L, prefix, "out_proj.bias", E, 0, 1);
    if (p) *p = v;
}

size_t attend_mha_acts_size(const attend_mha_config *cfg, size_t B, size_t L, size_t S,
                            int flags) {
    const size_t E = cfg->embed_dim, H = cfg->num_heads;
    const size_t rows = 2 * B * L * E + 2 * B * S * E;                /* q ctx | k v */
    const size_t w = (flags & ATTEND_ACTS_FUSED) ? B * H * L : B * H * L * S; /* lse | probs */
    size_t n = rows + w;
    if (flags & ATTEND_ACTS_GRAD) n += rows;
    return n;
}

void attend_mha_acts_bind(attend_mha_acts *a, const attend_mha_config *cfg, size_t B,
                          size_t L, size_t S, int flags, float *mem) {
    const size_t E = cfg->embed_dim, H = cfg->num_heads;
    memset(a, 0, sizeof *a);
    a->q = mem; mem += B * L * E;
    a->ctx = mem; mem += B * L * E;
    a->k = mem; mem += B * S * E;
    a->v = mem; mem += B * S * E;
    if (flags & ATTEND_ACTS_FUSED) { a->lse = mem; mem += B * H * L; }
    else { a->probs = mem; mem += B * H * L * S; }
    if (!(flags & ATTEND_ACTS_GRAD)) return;
    a->dq = mem; mem += B * L * E;
    a->dctx = mem; mem += B * L * E;
    a->dk = mem; mem += B * S * E;
    a->dv = mem;
}

void attend_mha_forward(float *out, attend_mha_acts *a, const attend_mha_config *cfg,
                        const attend_mha_params *p, const float *query, const float *key,
                        const float *value, const attend_mask *mask, size_t B, size_t L,
                        size_t S, int training, uint64_t seed) {
    // query (B,L,E), key (B,S,kdim), value (B,S,vdim) -> out (B,L,E)
    const size_t E = cfg->embed_dim, H = cfg->num_heads, D = E / H;
    const float *bias = p->in_proj_bias;
    attend_linear_forward(a->q, query, p->q_proj_weight, bias, B * L, E, E);
    attend_linear_forward(a->k, key, p->k_proj_weight, bias ? bias + E : NULL, B * S,
                          mha_kdim(cfg), E);
    attend_linear_forward(a->v, value, p->v_proj_weight, bias ? bias + 2 * E : NULL, B * S,
                          mha_vdim(cfg), E);
    float drop = training ? cfg->dropout : 0.0f;
    if (a->probs)
        attend_sdpa_forward(a->ctx, a->probs, a->q, a->k, a->v, mask, B, H, L, S, D, drop, seed);
    else
        /* the row log-sum-exps only matter to a backward (acts with gradients) */
        attend_sdpa_forward_fused(a->ctx, a->dq ? a->lse : NULL, a->q, a->k, a->v, mask, B, H, L,
                                  S, D, drop, seed);
    attend_linear_forward(out, a->ctx, p->out_proj_weight, p->out_proj_bias, B * L, E, E);
}

void attend_mha_backward(float *dquery, float *dkey, float *dvalue, attend_mha_params *g,
                         attend_mha_acts *a, const float *dout,
                         const attend_mha_config *cfg, const attend_mha_params *p,
                         const float *query, const float *key, const float *value,
                         const attend_mask *mask, size_t B, size_t L, size_t S,
                         int training, uint64_t seed) {
    const size_t E = cfg->embed_dim, H = cfg->num_heads, D = E / H;
    float *gb = g ? g->in_proj_bias : NULL;
    // forward: out = ctx Wo^T + bo
    attend_linear_backward_ex(a->dctx, 0, g ? g->out_proj_weight : NULL, g ? g->out_proj_bias : NULL,
                           dout, a->ctx, p->out_proj_weight, B * L, E, E);
    // forward: ctx = sdpa(q, k, v)
    memset(a->dq, 0, B * L * E * sizeof(float));
    memset(a->dk, 0, B * S * E * sizeof(float));
    memset(a->dv, 0, B * S * E * sizeof(float));
    float drop = training ? cfg->dropout : 0.0f;
    if (a->probs)
        attend_sdpa_backward(a->dq, a->dk, a->dv, a->dctx, a->q, a->k, a->v, a->probs,
                             mask, B, H, L, S, D, drop, seed);
    else
        attend_sdpa_backward_fused_out(a->dq, a->dk, a->dv, a->dctx, a->ctx, a->q, a->k, a->v, a->lse, mask,
                                   B, H, L, S, D, drop, seed);
    // forward: q, k, v = input projections (dquery/dkey/dvalue may alias: they add)
    attend_linear_backward(dquery, g ? g->q_proj_weight : NULL, gb, a->dq, query,
                           p->q_proj_weight, B * L, E, E);
    proj_backward(dkey, g ? g->k_proj_weight : NULL, gb ? gb + E : NULL, a->dk, key,
                  p->k_proj_weight, B * S, mha_kdim(cfg), E);
    proj_backward(dvalue, g ? g->v_proj_weight : NULL, gb ? gb + 2 * E : NULL, a->dv, value,
                  p->v_proj_weight, B * S, mha_vdim(cfg), E);
}
