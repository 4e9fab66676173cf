/* Transformer encoder layer, as nn.TransformerEncoderLayer(batch_first=True):
 *   post-norm (default):  x1 = norm1(x + drop1(SA(x)));    out = norm2(x1 + drop2(FF(x1)))
 *   pre-norm:             x1 = x + drop1(SA(norm1(x)));    out = x1 + drop2(FF(norm2(x1)))
 *   FF(y) = linear2(drop(act(linear1(y))))
 * and a stack of such layers (nn.TransformerEncoder without a final norm). */
#include "base/rng.h"
#include "kernels/kernels.h"
#include "nn/layout.h"

#include <stdio.h>
#include <string.h>

/* Dropout sites inside a layer; each gets its own seed derived from the layer's. */
enum { SITE_ATTN = 1, SITE_DROP1 = 2, SITE_FF = 3, SITE_DROP2 = 4 };

attend_status attend_encoder_config_check(const attend_encoder_config *cfg, attend_error *err) {
    attend_mha_config m = attend_encoder_mha_config(cfg);
    attend_status st = attend_mha_config_check(&m, err);
    if (st != ATTEND_OK) return st;
    if (cfg->dim_feedforward == 0)
        return attend_errorf(err, ATTEND_ERR_ARG, "dim_feedforward must be positive");
    if (cfg->activation != ATTEND_ACT_RELU && cfg->activation != ATTEND_ACT_GELU &&
        cfg->activation != ATTEND_ACT_GELU_TANH)
        return attend_errorf(err, ATTEND_ERR_ARG, "unknown activation %d", (int)cfg->activation);
    if (!(cfg->layer_norm_eps > 0.0f))
        return attend_errorf(err, ATTEND_ERR_ARG, "layer_norm_eps must be positive");
    if (cfg->bert_dropout && !(cfg->attn_dropout >= 0.0f && cfg->attn_dropout < 1.0f))
        return attend_errorf(err, ATTEND_ERR_ARG, "attention dropout %g is outside [0, 1)",
                             (double)cfg->attn_dropout);
    return ATTEND_OK;
}

attend_mha_config attend_encoder_mha_config(const attend_encoder_config *cfg) {
    attend_mha_config m = {cfg->d_model, cfg->nhead, 0, 0, 1,
                           cfg->bert_dropout ? cfg->attn_dropout : cfg->dropout};
    return m;
}

/* Dropout inside the feed-forward block (after the activation): PyTorch's
 * layer has it, BERT's has not. */
static float ff_dropout(const attend_encoder_config *cfg, int training) {
    return training && !cfg->bert_dropout ? cfg->dropout : 0.0f;
}

void attend_encoder_layer_layout(attend_layout *L, const char *prefix,
                                 const attend_encoder_config *cfg,
                                 attend_encoder_layer_params *p) {
    const size_t E = cfg->d_model, F = cfg->dim_feedforward;
    char sub[ATTEND_NAME_MAX];
    attend_encoder_layer_params v;
    memset(&v, 0, sizeof v);
    attend_mha_config m = attend_encoder_mha_config(cfg);
    snprintf(sub, sizeof sub, "%sself_attn.", prefix ? prefix : "");
    attend_mha_layout(L, sub, &m, &v.self_attn);
    v.linear1_weight = attend_layout_take(L, prefix, "linear1.weight", F, E, 0);
    v.linear1_bias = attend_layout_take(L, prefix, "linear1.bias", F, 0, 1);
    v.linear2_weight = attend_layout_take(L, prefix, "linear2.weight", E, F, 0);
    v.linear2_bias = attend_layout_take(L, prefix, "linear2.bias", E, 0, 1);
    v.norm1_weight = attend_layout_take(L, prefix, "norm1.weight", E, 0, 1);
    v.norm1_bias = attend_layout_take(L, prefix, "norm1.bias", E, 0, 1);
    v.norm2_weight = attend_layout_take(L, prefix, "norm2.weight", E, 0, 1);
    v.norm2_bias = attend_layout_take(L, prefix, "norm2.bias", E, 0, 1);
    if (p) *p = v;
}

size_t attend_encoder_acts_size(const attend_encoder_config *cfg, size_t B, size_t T,
                                int flags) {
    attend_mha_config m = attend_encoder_mha_config(cfg);
    const size_t BT = B * T, E = cfg->d_model, F = cfg->dim_feedforward;
    /* ln1 r1 ln2 r2 (E each), h a (F each), mean/rstd x2 */
    return attend_mha_acts_size(&m, B, T, T, flags) + 4 * BT * E + 2 * BT * F + 4 * BT;
}

void attend_encoder_acts_bind(attend_encoder_acts *a, const attend_encoder_config *cfg,
                              size_t B, size_t T, int flags, float *mem) {
    attend_mha_config m = attend_encoder_mha_config(cfg);
    const size_t BT = B * T, E = cfg->d_model, F = cfg->dim_feedforward;
    memset(a, 0, sizeof *a);
    attend_mha_acts_bind(&a->attn, &m, B, T, T, flags, mem);
    mem += attend_mha_acts_size(&m, B, T, T, flags);
    a->ln1 = mem; mem += BT * E;
    a->r1 = mem; mem += BT * E;
    a->ln2 = mem; mem += BT * E;
    a->r2 = mem; mem += BT * E;
    a->h = mem; mem += BT * F;
    a->a = mem; mem += BT * F;
    a->mean1 = mem; mem += BT;
    a->rstd1 = mem; mem += BT;
    a->mean2 = mem; mem += BT;
    a->rstd2 = mem;
}

size_t attend_encoder_scratch_size(const attend_encoder_config *cfg, size_t B, size_t T) {
    return 3 * B * T * cfg->d_model + 2 * B * T * cfg->dim_feedforward;
}

void attend_encoder_scratch_bind(attend_encoder_scratch *s, const attend_encoder_config *cfg,
                                 size_t B, size_t T, float *mem) {
    const size_t BTE = B * T * cfg->d_model, BTF = B * T * cfg->dim_feedforward;
    s->d1 = mem; mem += BTE;
    s->d2 = mem; mem += BTE;
    s->d3 = mem; mem += BTE;
    s->dh = mem; mem += BTF;
    s->dh2 = mem;
}

/* y = drop(act(h)) in place into a (BT*F values). */
void attend_encoder_layer_forward(float *out, attend_encoder_acts *a,
                                  const attend_encoder_config *cfg,
                                  const attend_encoder_layer_params *p, const float *x,
                                  const uint8_t *key_padding, size_t B, size_t T,
                                  int training, uint64_t seed) {
    // x (B,T,E) -> out (B,T,E)
    const size_t E = cfg->d_model, F = cfg->dim_feedforward, BT = B * T;
    const size_t n = BT * E;
    const float eps = cfg->layer_norm_eps, p_drop = training ? cfg->dropout : 0.0f;
    attend_mha_config m = attend_encoder_mha_config(cfg);
    attend_mask mask = {key_padding, NULL, NULL, 0, 0};
    const uint64_t s_attn = attend_seed_child(seed, SITE_ATTN);
    const uint64_t s_d1 = attend_seed_child(seed, SITE_DROP1);
    const uint64_t s_ff = attend_seed_child(seed, SITE_FF);
    const uint64_t s_d2 = attend_seed_child(seed, SITE_DROP2);

    if (!cfg->norm_first) {
        // r1 = x + drop1(SA(x)); ln1 = norm1(r1)
        attend_mha_forward(a->r1, &a->attn, &m, &p->self_attn, x, x, x, &mask, B, T, T,
                           training, s_attn);
        attend_dropout_forward(a->r1, a->r1, n, p_drop, s_d1);
        attend_residual_forward(a->r1, a->r1, x, n);
        attend_layernorm_forward(a->ln1, a->mean1, a->rstd1, a->r1, p->norm1_weight,
                                 p->norm1_bias, BT, E, eps);
        // r2 = ln1 + drop2(FF(ln1)); out = norm2(r2)
        attend_linear_forward(a->h, a->ln1, p->linear1_weight, p->linear1_bias, BT, E, F);
        attend_act_dropout_forward(a->a, a->h, BT * F, cfg->activation, ff_dropout(cfg, training), s_ff);
        attend_linear_forward(a->r2, a->a, p->linear2_weight, p->linear2_bias, BT, F, E);
        attend_dropout_forward(a->r2, a->r2, n, p_drop, s_d2);
        attend_residual_forward(a->r2, a->r2, a->ln1, n);
        attend_layernorm_forward(out, a->mean2, a->rstd2, a->r2, p->norm2_weight,
                                 p->norm2_bias, BT, E, eps);
    } else {
        // ln1 = norm1(x); r1 = x + drop1(SA(ln1))
        attend_layernorm_forward(a->ln1, a->mean1, a->rstd1, x, p->norm1_weight,
                                 p->norm1_bias, BT, E, eps);
        attend_mha_forward(a->r1, &a->attn, &m, &p->self_attn, a->ln1, a->ln1, a->ln1, &mask,
                           B, T, T, training, s_attn);
        attend_dropout_forward(a->r1, a->r1, n, p_drop, s_d1);
        attend_residual_forward(a->r1, a->r1, x, n);
        // ln2 = norm2(r1); out = r1 + drop2(FF(ln2))
        attend_layernorm_forward(a->ln2, a->mean2, a->rstd2, a->r1, p->norm2_weight,
                                 p->norm2_bias, BT, E, eps);
        attend_linear_forward(a->h, a->ln2, p->linear1_weight, p->linear1_bias, BT, E, F);
        attend_act_dropout_forward(a->a, a->h, BT * F, cfg->activation, ff_dropout(cfg, training), s_ff);
        attend_linear_forward(out, a->a, p->linear2_weight, p->linear2_bias, BT, F, E);
        attend_dropout_forward(out, out, n, p_drop, s_d2);
        attend_residual_forward(out, out, a->r1, n);
    }
}

void attend_encoder_layer_backward(float *dx, attend_encoder_layer_params *g,
                                   attend_encoder_acts *a, attend_encoder_scratch *s,
                                   const float *dout, const attend_encoder_config *cfg,
                                   const attend_encoder_layer_params *p, const float *x,
                                   const uint8_t *key_padding, size_t B, size_t T,
                                   int training, uint64_t seed) {
    const size_t E = cfg->d_model, F = cfg->dim_feedforward, BT = B * T;
    const size_t n = BT * E, nf = BT * F;
    const float p_drop = training ? cfg->dropout : 0.0f;
    attend_mha_config m = attend_encoder_mha_config(cfg);
    attend_mask mask = {key_padding, NULL, NULL, 0, 0};
    const uint64_t s_attn = attend_seed_child(seed, SITE_ATTN);
    const uint64_t s_d1 = attend_seed_child(seed, SITE_DROP1);
    const uint64_t s_ff = attend_seed_child(seed, SITE_FF);
    const uint64_t s_d2 = attend_seed_child(seed, SITE_DROP2);
    attend_mha_params *gsa = g ? &g->self_attn : NULL;
#define G(field) (g ? g->field : NULL)

    if (!cfg->norm_first) {
        // out = norm2(r2): d1 = dr2
        memset(s->d1, 0, n * sizeof(float));
        attend_layernorm_backward(s->d1, G(norm2_weight), G(norm2_bias), dout, a->r2,
                                  p->norm2_weight, a->mean2, a->rstd2, BT, E);
        // r2 = ln1 + drop2(ff): d3 = dln1 (so far), d2 = dff
        memcpy(s->d3, s->d1, n * sizeof(float));
        memset(s->d2, 0, n * sizeof(float));
        attend_dropout_backward(s->d2, s->d1, n, p_drop, s_d2);
        // ff = linear2(a): dh = da
        attend_linear_backward_ex(s->dh, 0, G(linear2_weight), G(linear2_bias), s->d2, a->a,
                               p->linear2_weight, BT, F, E);
        // a = drop(act(h)): dh2 = dh_pre
        attend_act_dropout_backward(s->dh2, s->dh, a->h, nf, cfg->activation, ff_dropout(cfg, training), s_ff);
        // h = linear1(ln1): d3 += dln1
        attend_linear_backward(s->d3, G(linear1_weight), G(linear1_bias), s->dh2, a->ln1,
                               p->linear1_weight, BT, E, F);
        // ln1 = norm1(r1): d1 = dr1
        memset(s->d1, 0, n * sizeof(float));
        attend_layernorm_backward(s->d1, G(norm1_weight), G(norm1_bias), s->d3, a->r1,
                                  p->norm1_weight, a->mean1, a->rstd1, BT, E);
        // r1 = x + drop1(SA(x)): dx += dr1; d2 = dSA
        attend_residual_backward(dx, NULL, s->d1, n);
        memset(s->d2, 0, n * sizeof(float));
        attend_dropout_backward(s->d2, s->d1, n, p_drop, s_d1);
        attend_mha_backward(dx, dx, dx, gsa, &a->attn, s->d2, &m, &p->self_attn, x, x, x,
                            &mask, B, T, T, training, s_attn);
    } else {
        // out = r1 + drop2(ff): d1 = dr1 (so far), d2 = dff
        memcpy(s->d1, dout, n * sizeof(float));
        memset(s->d2, 0, n * sizeof(float));
        attend_dropout_backward(s->d2, dout, n, p_drop, s_d2);
        // ff = linear2(a)
        attend_linear_backward_ex(s->dh, 0, G(linear2_weight), G(linear2_bias), s->d2, a->a,
                               p->linear2_weight, BT, F, E);
        attend_act_dropout_backward(s->dh2, s->dh, a->h, nf, cfg->activation, ff_dropout(cfg, training), s_ff);
        // h = linear1(ln2): d3 = dln2
        attend_linear_backward_ex(s->d3, 0, G(linear1_weight), G(linear1_bias), s->dh2, a->ln2,
                               p->linear1_weight, BT, E, F);
        // ln2 = norm2(r1): d1 += dr1
        attend_layernorm_backward(s->d1, G(norm2_weight), G(norm2_bias), s->d3, a->r1,
                                  p->norm2_weight, a->mean2, a->rstd2, BT, E);
        // r1 = x + drop1(SA(ln1)): dx += dr1; d2 = dSA
        attend_residual_backward(dx, NULL, s->d1, n);
        memset(s->d2, 0, n * sizeof(float));
        attend_dropout_backward(s->d2, s->d1, n, p_drop, s_d1);
        // SA(ln1): d3 = dln1
        memset(s->d3, 0, n * sizeof(float));
        attend_mha_backward(s->d3, s->d3, s->d3, gsa, &a->attn, s->d2, &m, &p->self_attn,
                            a->ln1, a->ln1, a->ln1, &mask, B, T, T, training, s_attn);
        // ln1 = norm1(x): dx += ...
        attend_layernorm_backward(dx, G(norm1_weight), G(norm1_bias), s->d3, x,
                                  p->norm1_weight, a->mean1, a->rstd1, BT, E);
    }
#undef G
}

void attend_encoder_forward(float **outs, attend_encoder_acts *acts,
                            const attend_encoder_config *cfg,
                            const attend_encoder_layer_params *p, size_t n_layers,
                            const float *x, const uint8_t *key_padding, size_t B, size_t T,
                            int training, uint64_t seed) {
    for (size_t i = 0; i < n_layers; i++) {
        const float *in = i == 0 ? x : outs[i - 1];
        attend_encoder_layer_forward(outs[i], &acts[i], cfg, &p[i], in, key_padding, B, T,
                                     training, attend_seed_child(seed, 100 + i));
    }
}

void attend_encoder_backward(float *dx, attend_encoder_layer_params *g,
                             attend_encoder_acts *acts, attend_encoder_scratch *s,
                             float *dbuf0, float *dbuf1, const float *dout,
                             const attend_encoder_config *cfg,
                             const attend_encoder_layer_params *p, size_t n_layers,
                             float *const *outs, const float *x,
                             const uint8_t *key_padding, size_t B, size_t T, int training,
                             uint64_t seed) {
    const size_t n = B * T * cfg->d_model;
    float *dbuf[2] = {dbuf0, dbuf1};
    const float *dcur = dout;
    for (size_t i = n_layers; i-- > 0;) {
        const float *in = i == 0 ? x : outs[i - 1];
        float *dprev = dx;
        if (i > 0) {
            dprev = dbuf[i % 2];
            memset(dprev, 0, n * sizeof(float));
        }
        attend_encoder_layer_backward(dprev, g ? &g[i] : NULL, &acts[i], s, dcur, cfg, &p[i],
                                      in, key_padding, B, T, training,
                                      attend_seed_child(seed, 100 + i));
        dcur = dprev;
    }
}
