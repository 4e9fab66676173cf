/* Attention worked step by step: one layer, one head, one query token i,
 * computed the way the textbooks write it, with plain loops in double:
 *   a   = x (post-norm) or norm1(x) (pre-norm)                 (T,E)
 *   q   = a_i W_q^T + b_q;  k_j = a_j W_k^T + b_k;  v_j alike  (D), (T,D)
 *   w_j = softmax_j(q . k_j / sqrt(D)), masked keys at -inf    (T)
 *   o   = sum_j w_j v_j                                        (D)
 *   c   = the H heads' o side by side;  attn = c W_o^T + b_o   (E)
 *   then the residual, the two norms and the feed-forward, to the layer's
 *   output for token i.
 * None of the optimised kernels take part. The forward pass (which does use
 * them) runs once, for the layer's input and for what each step is checked
 * against; the point is that this slow, readable arithmetic reproduces it.
 * The layer is read through its attend_encoder_layer_params and the
 * encoder configuration, so any architecture whose layers have the shape
 * of nn.TransformerEncoderLayer is worked the same way. */
#include "model/model.h"
#include "viz/explain.h"
#include "base/util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void attend_stepwise_free(attend_stepwise *sw) {
    if (sw->tokens)
        for (size_t t = 0; t < sw->T; t++) free(sw->tokens[t]);
    free(sw->tokens);
    free(sw->ids);
    free(sw->masked);
    free(sw->x); /* the start of the one block every double view is carved from */
    free(sw->model_out);
    memset(sw, 0, sizeof *sw);
}

int attend_stepwise_matches(const attend_stepwise *sw) {
    int ok = sw->n_checks > 0;
    for (size_t c = 0; c < sw->n_checks; c++) ok &= sw->checks[c].ok;
    return ok;
}

/* ---- plain arithmetic ---- */

// out (OUT) = in (IN) W^T + b; W (OUT,IN) as nn.Linear, b (OUT) or NULL
static void plain_linear(double *out, const double *in, const float *W, const float *b, size_t IN,
                         size_t OUT) {
    for (size_t o = 0; o < OUT; o++) {
        double s = b ? (double)b[o] : 0.0;
        for (size_t i = 0; i < IN; i++) s += in[i] * (double)W[o * IN + i];
        out[o] = s;
    }
}

// out (E) = (in - mean) / sqrt(var + eps) * w + b, var the biased variance
static void plain_layernorm(double *out, double *mean, double *sd, const double *in,
                            const float *w, const float *b, size_t E, double eps) {
    double m = 0, v = 0;
    for (size_t e = 0; e < E; e++) m += in[e];
    m /= (double)E;
    for (size_t e = 0; e < E; e++) v += (in[e] - m) * (in[e] - m);
    v /= (double)E;
    const double s = sqrt(v + eps);
    for (size_t e = 0; e < E; e++) out[e] = (in[e] - m) / s * (double)w[e] + (double)b[e];
    if (mean) *mean = m;
    if (sd) *sd = s;
}

static double plain_activation(double x, attend_activation act) {
    if (act == ATTEND_ACT_GELU) return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    return x > 0 ? x : 0.0;
}

/* What one head computes for query token i. */
typedef struct {
    double *q, *k, *v, *score, *scaled, *weights, *out; /* (D) (T,D) (T,D) (T) (T) (T) (D) */
} head_views;

/* Head g for query sw->token, from sw->a: its rows [g*D, (g+1)*D) of the
 * projections are its own D-wide slice of the model. */
static void work_head(head_views *hv, const attend_stepwise *sw, const attend_mha_params *p,
                      size_t g) {
    const size_t T = sw->T, E = sw->E, D = sw->D, i = sw->token;
    const float *bias = p->in_proj_bias;
    plain_linear(hv->q, sw->a + i * E, p->q_proj_weight + g * D * E, bias ? bias + g * D : NULL,
                 E, D);
    for (size_t j = 0; j < T; j++) {
        plain_linear(hv->k + j * D, sw->a + j * E, p->k_proj_weight + g * D * E,
                     bias ? bias + E + g * D : NULL, E, D);
        plain_linear(hv->v + j * D, sw->a + j * E, p->v_proj_weight + g * D * E,
                     bias ? bias + 2 * E + g * D : NULL, E, D);
    }
    // score_j = q . k_j; scaled by 1/sqrt(D); a masked key gets -inf
    double top = -INFINITY;
    for (size_t j = 0; j < T; j++) {
        double s = 0;
        for (size_t d = 0; d < D; d++) s += hv->q[d] * hv->k[j * D + d];
        hv->score[j] = s;
        hv->scaled[j] = sw->masked[j] ? -INFINITY : s * sw->scale;
        if (hv->scaled[j] > top) top = hv->scaled[j];
    }
    // softmax: exp(s_j - max) / sum; the query token itself is never masked,
    // so the sum has at least the term exp(0) = 1
    double sum = 0;
    for (size_t j = 0; j < T; j++) {
        hv->weights[j] = sw->masked[j] ? 0.0 : exp(hv->scaled[j] - top);
        sum += hv->weights[j];
    }
    for (size_t j = 0; j < T; j++) hv->weights[j] /= sum;
    // o = sum_j w_j v_j over the keys not masked
    for (size_t d = 0; d < D; d++) hv->out[d] = 0;
    for (size_t j = 0; j < T; j++)
        if (!sw->masked[j])
            for (size_t d = 0; d < D; d++) hv->out[d] += hv->weights[j] * hv->v[j * D + d];
}

/* Every head for token i: the chosen one into sw's views, the others into
 * scratch; their outputs side by side make sw->concat. */
static attend_status work_heads(attend_stepwise *sw, const attend_mha_params *p,
                                attend_error *err) {
    const size_t T = sw->T, D = sw->D;
    double *scr = malloc((2 * D + 2 * T * D + 3 * T) * sizeof(double));
    if (!scr) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory working the heads");
    head_views other = {scr, scr + D, scr + D + T * D, scr + D + 2 * T * D,
                        scr + D + 2 * T * D + T, scr + D + 2 * T * D + 2 * T,
                        scr + D + 2 * T * D + 3 * T};
    for (size_t g = 0; g < sw->H; g++) {
        head_views mine = {sw->q, sw->k, sw->v, sw->score, sw->scaled, sw->weights, sw->head_out};
        head_views *hv = g == sw->head ? &mine : &other;
        work_head(hv, sw, p, g);
        memcpy(sw->all_weights + g * T, hv->weights, T * sizeof(double));
        memcpy(sw->concat + g * D, hv->out, D * sizeof(double));
    }
    free(scr);
    return ATTEND_OK;
}

/* The output projection, then the rest of the layer for token i:
 *   post-norm: r = x_i + attn; n = norm1(r); out = norm2(n + FF(n))
 *   pre-norm:  r = x_i + attn; n = norm2(r); out = r + FF(n)
 * with FF(n) = act(n W_1^T + b_1) W_2^T + b_2. */
static void work_rest(attend_stepwise *sw, const attend_encoder_layer_params *p) {
    const size_t E = sw->E, F = sw->F, i = sw->token;
    plain_linear(sw->attn_out, sw->concat, p->self_attn.out_proj_weight, p->self_attn.out_proj_bias,
                 E, E);
    for (size_t e = 0; e < E; e++) sw->resid1[e] = sw->x[i * E + e] + sw->attn_out[e];
    if (!sw->norm_first)
        plain_layernorm(sw->ff_in, &sw->norm_mean[0], &sw->norm_sd[0], sw->resid1, p->norm1_weight,
                        p->norm1_bias, E, sw->eps);
    else
        plain_layernorm(sw->ff_in, &sw->norm_mean[1], &sw->norm_sd[1], sw->resid1, p->norm2_weight,
                        p->norm2_bias, E, sw->eps);
    plain_linear(sw->ff_pre, sw->ff_in, p->linear1_weight, p->linear1_bias, E, F);
    for (size_t f = 0; f < F; f++) sw->ff_hidden[f] = plain_activation(sw->ff_pre[f], sw->activation);
    plain_linear(sw->ff_out, sw->ff_hidden, p->linear2_weight, p->linear2_bias, F, E);
    if (!sw->norm_first) {
        for (size_t e = 0; e < E; e++) sw->resid2[e] = sw->ff_in[e] + sw->ff_out[e];
        plain_layernorm(sw->out, &sw->norm_mean[1], &sw->norm_sd[1], sw->resid2, p->norm2_weight,
                        p->norm2_bias, E, sw->eps);
    } else {
        for (size_t e = 0; e < E; e++) sw->resid2[e] = sw->resid1[e] + sw->ff_out[e];
        memcpy(sw->out, sw->resid2, E * sizeof(double));
    }
}

/* ---- checks against the forward pass ---- */

/* rows x n values: mine[r * sm + c] against the forward's model[r * sf + c]. */
static void add_check(attend_stepwise *sw, const char *what, const double *mine, size_t sm,
                      const float *model, size_t sf, size_t rows, size_t n) {
    attend_stepwise_check *c = &sw->checks[sw->n_checks++];
    c->what = what;
    c->max_diff = 0;
    c->max_abs = 0;
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < n; k++) {
            double f = (double)model[r * sf + k], d = fabs(mine[r * sm + k] - f);
            // a NaN anywhere must fail the check, never slip past a comparison
            if (!(d <= c->max_diff)) c->max_diff = isnan(d) ? INFINITY : d;
            if (fabs(f) > c->max_abs) c->max_abs = fabs(f);
        }
    c->ok = c->max_diff <= ATTEND_STEPWISE_TOL * (c->max_abs > 1 ? c->max_abs : 1);
}

static void add_checks(attend_stepwise *sw, const attend_model_acts *a, const double *emb) {
    const size_t T = sw->T, E = sw->E, D = sw->D, i = sw->token, h = sw->head;
    const attend_mha_acts *at = &a->layers[sw->layer].attn;
    if (emb) add_check(sw, "input", emb, 0, a->x0 + i * E, 0, 1, E);
    add_check(sw, "q", sw->q, 0, at->q + i * E + h * D, 0, 1, D);
    add_check(sw, "k", sw->k, D, at->k + h * D, E, T, D);
    add_check(sw, "v", sw->v, D, at->v + h * D, E, T, D);
    add_check(sw, "weights", sw->weights, 0, at->probs + (h * T + i) * T, 0, 1, T);
    add_check(sw, "concat", sw->concat, 0, at->ctx + i * E, 0, 1, E);
    add_check(sw, "residual", sw->resid1, 0, a->layers[sw->layer].r1 + i * E, 0, 1, E);
    add_check(sw, "layer output", sw->out, 0, a->outs[sw->layer] + i * E, 0, 1, E);
}

/* ---- setting up ---- */

static attend_status check_ranges(const attend_model *m, const attend_stepwise_options *o,
                                  attend_error *err) {
    const attend_model_config *c = &m->cfg;
    if (c->num_layers == 0)
        return attend_errorf(err, ATTEND_ERR_ARG, "the model has no encoder layers: no attention to work through");
    if (o->layer >= c->num_layers)
        return attend_errorf(err, ATTEND_ERR_ARG, "layer index %zu is out of range: the model has %zu layer%s (0 to %zu)",
                             o->layer, c->num_layers, c->num_layers == 1 ? "" : "s", c->num_layers - 1);
    if (o->head >= c->nhead)
        return attend_errorf(err, ATTEND_ERR_ARG, "head index %zu is out of range: the model has %zu head%s (0 to %zu)",
                             o->head, c->nhead, c->nhead == 1 ? "" : "s", c->nhead - 1);
    if (o->pad_to > c->max_len)
        return attend_errorf(err, ATTEND_ERR_ARG, "pad_to %zu is past the model's max_len %zu", o->pad_to, c->max_len);
    return ATTEND_OK;
}

/* Tokenizes the text into sw (ids, tokens, masked, padding up to pad_to)
 * and checks the token index against the real tokens. */
static attend_status setup_tokens(attend_stepwise *sw, const attend_model *m, const char *text,
                                  size_t len, const attend_stepwise_options *o, attend_error *err) {
    const size_t max_len = m->cfg.max_len;
    sw->tokens = calloc(max_len, sizeof(char *));
    sw->ids = malloc(max_len * sizeof(int32_t));
    uint8_t *unknown = malloc(max_len);
    sw->masked = calloc(max_len, 1);
    if (!sw->tokens || !sw->ids || !unknown || !sw->masked) {
        free(unknown);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for the tokens");
    }
    size_t n = 0, n_text = 0;
    attend_status st = attend_explain_tokens(m, text, len, sw->ids, &n, &n_text, sw->tokens, unknown, err);
    free(unknown);
    if (st) return st;
    sw->n_real = sw->T = n;
    if (o->pad_to && o->pad_to < n)
        return attend_errorf(err, ATTEND_ERR_ARG, "pad_to %zu is shorter than the text's %zu tokens", o->pad_to, n);
    if (o->token >= n)
        return attend_errorf(err, ATTEND_ERR_ARG, "token index %zu is out of range: the text has %zu token%s (0 to %zu)",
                             o->token, n, n == 1 ? "" : "s", n - 1);
    if (o->pad_to) sw->T = o->pad_to; /* the padding's strings stay NULL until set below */
    const int32_t pad_id = m->tok->pad_id >= 0 ? m->tok->pad_id : 0;
    const char *pad_s = attend_tokenizer_token(m->tok, pad_id);
    for (size_t t = n; t < sw->T; t++) {
        sw->ids[t] = pad_id;
        sw->masked[t] = 1;
        if (!(sw->tokens[t] = attend_strdup(pad_s ? pad_s : "<pad>")))
            return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for the tokens");
    }
    return ATTEND_OK;
}

/* Carves every double view of sw from one block (sw->x is its start). */
static attend_status setup_views(attend_stepwise *sw, attend_error *err) {
    const size_t T = sw->T, E = sw->E, D = sw->D, F = sw->F, H = sw->H;
    const size_t n = 2 * T * E + D + 2 * T * D + 3 * T + D + H * T + 8 * E + 2 * F;
    double *p = malloc(n * sizeof(double));
    sw->model_out = malloc(E * sizeof(float));
    if (!p || !sw->model_out) {
        free(p);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for the steps");
    }
#define VIEW(field, count) (sw->field = p, p += (count))
    VIEW(x, T * E);
    VIEW(a, T * E);
    VIEW(q, D);
    VIEW(k, T * D);
    VIEW(v, T * D);
    VIEW(score, T);
    VIEW(scaled, T);
    VIEW(weights, T);
    VIEW(head_out, D);
    VIEW(all_weights, H * T);
    VIEW(concat, E);
    VIEW(attn_out, E);
    VIEW(resid1, E);
    VIEW(ff_in, E);
    VIEW(ff_pre, F);
    VIEW(ff_hidden, F);
    VIEW(ff_out, E);
    VIEW(resid2, E);
    VIEW(out, E);
#undef VIEW
    return ATTEND_OK;
}

/* The layer's input and the attention input a, the weights' views and, for
 * layer 0 of a classifier, embedding + position of token i (into emb). */
static void setup_inputs(attend_stepwise *sw, const attend_model *m, const attend_model_acts *acts,
                         double *emb) {
    const size_t T = sw->T, E = sw->E, D = sw->D, i = sw->token, h = sw->head;
    const attend_encoder_layer_params *p = &m->p.layers[sw->layer];
    const float *x = sw->layer == 0 ? acts->x0 : acts->outs[sw->layer - 1];
    for (size_t k = 0; k < T * E; k++) sw->x[k] = (double)x[k];
    for (size_t t = 0; t < T; t++) {
        if (!sw->norm_first) memcpy(sw->a + t * E, sw->x + t * E, E * sizeof(double));
        else
            plain_layernorm(sw->a + t * E, t == i ? &sw->norm_mean[0] : NULL, t == i ? &sw->norm_sd[0] : NULL,
                            sw->x + t * E, p->norm1_weight, p->norm1_bias, E, sw->eps);
    }
    const attend_mha_params *sa = &p->self_attn;
    sw->w_q = sa->q_proj_weight + h * D * E;
    sw->w_k = sa->k_proj_weight + h * D * E;
    sw->w_v = sa->v_proj_weight + h * D * E;
    sw->b_q = sa->in_proj_bias ? sa->in_proj_bias + h * D : NULL;
    sw->b_k = sa->in_proj_bias ? sa->in_proj_bias + E + h * D : NULL;
    sw->b_v = sa->in_proj_bias ? sa->in_proj_bias + 2 * E + h * D : NULL;
    sw->w_o = sa->out_proj_weight;
    sw->b_o = sa->out_proj_bias;
    if (sw->layer == 0 && m->cfg.arch == ATTEND_ARCH_CLASSIFIER) {
        // x0 = embedding[id] + pos[t] (dropout is off outside training)
        sw->tok_row = m->p.tok_emb + (size_t)sw->ids[i] * E;
        const float *pos = attend_model_pos_table(m);
        sw->pos_row = pos ? pos + i * E : NULL;
        for (size_t e = 0; e < E; e++)
            emb[e] = (double)sw->tok_row[e] + (sw->pos_row ? (double)sw->pos_row[e] : 0.0);
    }
}

attend_status attend_stepwise_compute(const attend_model *m, const char *text, size_t len,
                                      const attend_stepwise_options *o, attend_stepwise *sw,
                                      attend_error *err) {
    memset(sw, 0, sizeof *sw);
    attend_status st = check_ranges(m, o, err);
    if (st) return st;
    const attend_encoder_config *enc = &m->enc;
    sw->E = enc->d_model;
    sw->H = enc->nhead;
    sw->D = sw->E / sw->H;
    sw->F = enc->dim_feedforward;
    sw->L = m->cfg.num_layers;
    sw->layer = o->layer;
    sw->head = o->head;
    sw->token = o->token;
    sw->activation = enc->activation;
    sw->norm_first = enc->norm_first;
    sw->eps = (double)enc->layer_norm_eps;
    sw->scale = 1.0 / sqrt((double)sw->D);
    if ((st = setup_tokens(sw, m, text, len, o, err)) || (st = setup_views(sw, err))) goto fail;
    // the forward pass, on the optimised kernels, keeping the attention weights
    const size_t T = sw->T, n_acts = attend_model_acts_size(&m->cfg, 1, T, 0);
    float *mem = n_acts ? malloc(n_acts * sizeof(float)) : NULL;
    double *emb = malloc(sw->E * sizeof(double));
    if (!mem || !emb) {
        free(mem);
        free(emb);
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for the forward pass");
        goto fail;
    }
    attend_model_acts acts;
    attend_model_acts_bind(&acts, &m->cfg, 1, T, 0, mem);
    attend_model_forward(m, &acts, sw->ids, sw->masked, 1, T, 0, 0);
    setup_inputs(sw, m, &acts, emb);
    st = work_heads(sw, &m->p.layers[sw->layer].self_attn, err);
    if (st == ATTEND_OK) {
        work_rest(sw, &m->p.layers[sw->layer]);
        add_checks(sw, &acts, sw->tok_row ? emb : NULL);
        memcpy(sw->model_out, acts.outs[sw->layer] + sw->token * sw->E, sw->E * sizeof(float));
    }
    free(mem);
    free(emb);
    if (st == ATTEND_OK) return ATTEND_OK;
fail:
    attend_stepwise_free(sw);
    return st;
}
