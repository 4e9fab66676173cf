/* `attend op`: one module run on tensors from safetensors files, with the
 * parameter names PyTorch uses, so attend can be checked against PyTorch or
 * any other implementation without writing code. */
#include "attend.h"
#include "base/util.h"
#include "nn/layout.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* Refuse activations larger than this rather than trying to allocate them. */
#define OP_MAX_FLOATS ((size_t)1 << 31) /* 8 GiB */

/* Everything one op run owns; released by op_ctx_free on every path. */
typedef struct {
    attend_st_file *w, *x;
    attend_layout layout;
    float *params, *grads, *acts, *bufs;
    uint8_t *kpm, *amask_b;
    attend_st_writer *out;
} op_ctx;

static void op_ctx_free(op_ctx *c) {
    attend_st_close(c->w);
    attend_st_close(c->x);
    attend_layout_free(&c->layout);
    free(c->params);
    free(c->grads);
    free(c->acts);
    free(c->bufs);
    free(c->kpm);
    free(c->amask_b);
    attend_st_writer_free(c->out);
}

/* n floats, zeroed; refuses absurd sizes with a message instead of trying. */
static attend_status alloc_floats(float **out, size_t n, const char *what, attend_error *err) {
    if (n > OP_MAX_FLOATS)
        return attend_errorf(err, ATTEND_ERR_NOMEM,
                             "%s would need %zu MiB; refusing (limit %zu MiB)", what,
                             n / (1024 * 1024 / sizeof(float)),
                             OP_MAX_FLOATS / (1024 * 1024 / sizeof(float)));
    *out = calloc(n ? n : 1, sizeof(float));
    if (!*out) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory allocating %s", what);
    return ATTEND_OK;
}

/* a*b*c... with overflow mapped to SIZE_MAX (then refused by alloc_floats). */
static size_t mul_sizes(size_t a, size_t b) {
    size_t r;
    return attend_mul_overflow(a, b, &r) ? SIZE_MAX : r;
}

/* Shape of a tensor as text, for messages. */
static void shape_str(char *buf, size_t cap, const attend_st_tensor *t) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (size_t i = 0; i < t->ndim && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%zu", i ? ", " : "", t->shape[i]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

/* An F32 tensor of rank ndim whose dims we learn from the file. */
static attend_status get_f32_rank(const attend_st_file *f, const char *file, const char *name,
                                  size_t ndim, const attend_st_tensor **t, attend_error *err) {
    *t = attend_st_find(f, name);
    if (!*t) return attend_errorf(err, ATTEND_ERR_SHAPE, "%s: missing tensor '%s'", file, name);
    if ((*t)->dtype != ATTEND_DTYPE_F32)
        return attend_errorf(err, ATTEND_ERR_SHAPE, "%s: tensor '%s' has dtype %s, expected F32",
                             file, name, attend_dtype_name((*t)->dtype));
    if ((*t)->ndim != ndim) {
        char s[128];
        shape_str(s, sizeof s, *t);
        return attend_errorf(err, ATTEND_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %zu dims",
                             file, name, s, ndim);
    }
    return ATTEND_OK;
}

/* The last dim of an input must be the module's width. */
static attend_status check_last_dim(const attend_st_tensor *t, const char *file, size_t want,
                                    const char *why, attend_error *err) {
    if (t->shape[t->ndim - 1] == want) return ATTEND_OK;
    char s[128];
    shape_str(s, sizeof s, t);
    return attend_errorf(err, ATTEND_ERR_SHAPE, "%s: tensor '%s' has shape %s, but its last dim must be %zu (%s)",
                         file, t->name, s, want, why);
}

/* An optional byte mask (BOOL or U8) of the given shape, copied as 0/1. */
static attend_status get_mask_u8(const attend_st_tensor *t, const char *file, size_t ndim,
                                 const size_t *shape, uint8_t **out, attend_error *err) {
    if (t->ndim != ndim || memcmp(t->shape, shape, ndim * sizeof(size_t)) != 0) {
        char s[128];
        shape_str(s, sizeof s, t);
        return attend_errorf(err, ATTEND_ERR_SHAPE, "%s: tensor '%s' has shape %s, which does not fit the query/key sizes",
                             file, t->name, s);
    }
    *out = malloc(t->numel ? t->numel : 1);
    if (!*out) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory reading '%s'", t->name);
    const uint8_t *d = t->data;
    for (size_t i = 0; i < t->numel; i++) (*out)[i] = d[i] != 0;
    return ATTEND_OK;
}

/* Copies every tensor of the layout from the weights file, checking shapes,
 * and rejects tensors the module does not have (a misspelt name would
 * otherwise be silently ignored). */
static attend_status load_params(op_ctx *c, const char *file, attend_error *err) {
    for (size_t i = 0; i < c->layout.count; i++) {
        const attend_param_info *it = &c->layout.items[i];
        const float *data;
        attend_status st = attend_st_get_f32(c->w, it->name, it->ndim, it->shape, &data, err);
        if (st != ATTEND_OK) return st;
        memcpy(c->params + it->offset, data, it->numel * sizeof(float));
    }
    for (size_t i = 0; i < attend_st_count(c->w); i++) {
        const attend_st_tensor *t = attend_st_at(c->w, i);
        if (attend_layout_find(&c->layout, t->name) < 0)
            return attend_errorf(err, ATTEND_ERR_SHAPE,
                                 "%s: unexpected tensor '%s': not a parameter of this module (misspelt, or another module's)",
                                 file, t->name);
    }
    return ATTEND_OK;
}

/* Adds grad.NAME for every parameter of the layout to the output. */
static attend_status add_param_grads(op_ctx *c, attend_error *err) {
    for (size_t i = 0; i < c->layout.count; i++) {
        const attend_param_info *it = &c->layout.items[i];
        char name[ATTEND_NAME_MAX + 8];
        snprintf(name, sizeof name, "grad.%s", it->name);
        attend_status st = attend_st_writer_add(c->out, name, ATTEND_DTYPE_F32, it->ndim,
                                                it->shape, c->grads + it->offset, err);
        if (st != ATTEND_OK) return st;
    }
    return ATTEND_OK;
}

static attend_status add_f32(op_ctx *c, const char *name, const float *data, size_t d0,
                             size_t d1, size_t d2, size_t d3, attend_error *err) {
    size_t shape[4] = {d0, d1, d2, d3};
    size_t ndim = d3 ? 4 : 3;
    return attend_st_writer_add(c->out, name, ATTEND_DTYPE_F32, ndim, shape, data, err);
}

static attend_status open_files(op_ctx *c, const char *wpath, const char *xpath,
                                attend_error *err) {
    attend_status st = attend_st_open(&c->w, wpath, err);
    if (st == ATTEND_OK) st = attend_st_open(&c->x, xpath, err);
    if (st == ATTEND_OK && !(c->out = attend_st_writer_new()))
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    return st;
}

/* Builds the layout for a module (sizing pass), allocates params (and grads). */
static attend_status alloc_params(op_ctx *c, int with_grad, attend_error *err) {
    if (c->layout.failed) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    attend_status st = alloc_floats(&c->params, c->layout.total, "parameters", err);
    if (st == ATTEND_OK && with_grad)
        st = alloc_floats(&c->grads, c->layout.total, "parameter gradients", err);
    return st;
}

/* An optional key padding mask (BOOL or U8, (B,S)) named name, copied into
 * c->kpm as 0/1; c->kpm stays NULL without one. */
static attend_status read_key_padding(op_ctx *c, const char *xpath, const char *name, size_t B,
                                      size_t S, attend_error *err) {
    const attend_st_tensor *t = attend_st_find(c->x, name);
    if (!t) return ATTEND_OK;
    size_t shp[2] = {B, S};
    if (t->dtype != ATTEND_DTYPE_BOOL && t->dtype != ATTEND_DTYPE_U8)
        return attend_errorf(err, ATTEND_ERR_SHAPE, "%s: tensor '%s' has dtype %s, expected BOOL or U8",
                             xpath, name, attend_dtype_name(t->dtype));
    return get_mask_u8(t, xpath, 2, shp, &c->kpm, err);
}

/* The optional grad_output (B,T,E) asks for the backward pass: NULL
 * without one; its shape must be the output's. */
static attend_status read_grad_output(op_ctx *c, const char *xpath, size_t B, size_t T, size_t E,
                                      const attend_st_tensor **tg, attend_error *err) {
    *tg = attend_st_find(c->x, "grad_output");
    if (!*tg) return ATTEND_OK;
    size_t shp[3] = {B, T, E};
    const float *d;
    return attend_st_get_f32(c->x, "grad_output", 3, shp, &d, err);
}

/* What an mha run reads: query (B,L,E) and, for cross-attention, key
 * (B,S,kdim) and value (B,S,vdim); E comes from the weights
 * (out_proj.weight (E,E)) and the inputs must agree. */
typedef struct {
    const attend_st_tensor *query, *key, *value; // key, value NULL for self-attention
    size_t B, L, S, E, kdim, vdim;
} mha_inputs;

static attend_status mha_read_inputs(op_ctx *c, const char *wpath, const char *xpath, mha_inputs *in,
                                     attend_error *err) {
    const attend_st_tensor *to;
    attend_status st;
    memset(in, 0, sizeof *in);
    if (!attend_st_find(c->w, "out_proj.weight") && attend_st_find(c->w, "self_attn.out_proj.weight"))
        return attend_errorf(err, ATTEND_ERR_SHAPE,
                             "%s: missing tensor 'out_proj.weight' (nor in_proj_weight): the file holds nn.TransformerEncoderLayer names (self_attn.*); use 'attend op encoder-layer'",
                             wpath);
    if ((st = get_f32_rank(c->w, wpath, "out_proj.weight", 2, &to, err))) return st;
    if ((st = get_f32_rank(c->x, xpath, "query", 3, &in->query, err))) return st;
    const size_t B = in->query->shape[0], L = in->query->shape[1], E = to->shape[0];
    if ((st = check_last_dim(in->query, xpath, E, "embed_dim from out_proj.weight", err))) return st;
    in->B = B, in->L = L, in->E = E, in->S = L, in->kdim = E, in->vdim = E;
    if (!attend_st_find(c->x, "key") && !attend_st_find(c->x, "value")) return ATTEND_OK;
    const attend_st_tensor *tk, *tv;
    if ((st = get_f32_rank(c->x, xpath, "key", 3, &tk, err))) return st;
    if ((st = get_f32_rank(c->x, xpath, "value", 3, &tv, err))) return st;
    in->key = tk, in->value = tv;
    in->S = tk->shape[1];
    in->kdim = tk->shape[2];
    in->vdim = tv->shape[2];
    if (tk->shape[0] != B || tv->shape[0] != B || tv->shape[1] != in->S)
        return attend_errorf(err, ATTEND_ERR_SHAPE,
                             "%s: key (%zu,%zu,%zu) and value (%zu,%zu,%zu) must share batch %zu and length", xpath,
                             tk->shape[0], tk->shape[1], tk->shape[2], tv->shape[0],
                             tv->shape[1], tv->shape[2], B);
    return ATTEND_OK;
}

/* The optional attn_mask: (L,S), or (B*heads,L,S) per head; BOOL/U8
 * (copied into c->amask_b) or F32 (added to the scores, used in place). */
static attend_status mha_read_attn_mask(op_ctx *c, const char *xpath, const mha_inputs *in,
                                        size_t heads, attend_mask *mask, attend_error *err) {
    const attend_st_tensor *t = attend_st_find(c->x, "attn_mask");
    if (!t) return ATTEND_OK;
    size_t shp2[2] = {in->L, in->S}, shp3[3] = {in->B * heads, in->L, in->S};
    mask->per_head = t->ndim == 3;
    const size_t *shp = mask->per_head ? shp3 : shp2;
    attend_status st;
    if (t->dtype == ATTEND_DTYPE_BOOL || t->dtype == ATTEND_DTYPE_U8) {
        if ((st = get_mask_u8(t, xpath, t->ndim == 3 ? 3 : 2, shp, &c->amask_b, err))) return st;
        mask->attn_bool = c->amask_b;
    } else {
        const float *d;
        if ((st = attend_st_get_f32(c->x, "attn_mask", mask->per_head ? 3 : 2, shp, &d, err))) return st;
        mask->attn_float = d;
    }
    return ATTEND_OK;
}

/* Forward (and, given grad_output, backward) of one mha module; writes
 * output, attn_weights and the gradients into c->out. */
static attend_status mha_compute(op_ctx *c, const mha_inputs *in, const attend_mha_config *cfg,
                                 const attend_mha_params *p, attend_mha_params *g,
                                 const attend_mask *mask, const attend_st_tensor *tg, attend_error *err) {
    const size_t B = in->B, L = in->L, S = in->S, E = in->E, H = cfg->num_heads;
    const int cross = in->key != NULL;
    // buffers: out (B,L,E), and for the backward dquery (B,L,E), dkey, dvalue
    const float *query = in->query->data, *key = cross ? in->key->data : query,
                *value = cross ? in->value->data : query;
    size_t n_out = mul_sizes(mul_sizes(B, L), E);
    size_t n_dk = cross ? mul_sizes(mul_sizes(B, S), in->kdim) : 0;
    size_t n_dv = cross ? mul_sizes(mul_sizes(B, S), in->vdim) : 0;
    size_t n_probs = mul_sizes(mul_sizes(mul_sizes(B, H), L), S);
    if (n_probs == SIZE_MAX || mul_sizes(n_probs, 4) == SIZE_MAX)
        return attend_errorf(err, ATTEND_ERR_NOMEM, "attention weights of %zu x %zu x %zu x %zu overflow", B, H, L, S);
    size_t n_acts = attend_mha_acts_size(cfg, B, L, S, tg != NULL);
    attend_status st;
    if ((st = alloc_floats(&c->acts, n_acts, "activations", err))) return st;
    if ((st = alloc_floats(&c->bufs, 2 * n_out + n_dk + n_dv, "outputs", err))) return st;
    float *out = c->bufs, *dquery = out + n_out, *dkey = dquery + n_out, *dvalue = dkey + n_dk;
    attend_mha_acts acts;
    attend_mha_acts_bind(&acts, cfg, B, L, S, tg != NULL, c->acts);

    attend_mha_forward(out, &acts, cfg, p, query, key, value, mask, B, L, S, 0, 0);
    if ((st = add_f32(c, "output", out, B, L, E, 0, err))) return st;
    if ((st = add_f32(c, "attn_weights", acts.probs, B, H, L, S, err))) return st;
    if (!tg) return ATTEND_OK;
    attend_mha_backward(dquery, cross ? dkey : dquery, cross ? dvalue : dquery, g, &acts,
                        tg->data, cfg, p, query, key, value, mask, B, L, S, 0, 0);
    if ((st = add_f32(c, "grad_query", dquery, B, L, E, 0, err))) return st;
    if (cross) {
        if ((st = add_f32(c, "grad_key", dkey, B, S, in->kdim, 0, err))) return st;
        if ((st = add_f32(c, "grad_value", dvalue, B, S, in->vdim, 0, err))) return st;
    }
    return add_param_grads(c, err);
}

static attend_status run_mha(op_ctx *c, const char *wpath, const char *xpath,
                             const char *opath, const attend_op_options *opt,
                             attend_error *err) {
    attend_status st = open_files(c, wpath, xpath, err);
    if (st != ATTEND_OK) return st;
    mha_inputs in;
    if ((st = mha_read_inputs(c, wpath, xpath, &in, err))) return st;
    const size_t E = in.E;
    attend_mha_config cfg = {E, opt->heads, in.kdim, in.vdim, 0, 0.0f};
    cfg.bias = attend_st_find(c->w, "in_proj_bias") != NULL;
    if ((st = attend_mha_config_check(&cfg, err))) return st;
    if (in.kdim == E && in.vdim == E && !attend_st_find(c->w, "in_proj_weight"))
        return attend_errorf(err, ATTEND_ERR_SHAPE,
                             "%s: missing tensor 'in_proj_weight' (PyTorch packs q, k, v into it when kdim = vdim = embed_dim)",
                             wpath);
    attend_mha_params p, g;
    attend_mha_layout(&c->layout, "", &cfg, NULL);
    const int backward = attend_st_find(c->x, "grad_output") != NULL;
    if ((st = alloc_params(c, backward, err))) return st;
    c->layout.base = c->params;
    c->layout.total = 0;
    attend_mha_layout(&c->layout, "", &cfg, &p);
    if (c->grads) {
        c->layout.base = c->grads;
        c->layout.total = 0;
        attend_mha_layout(&c->layout, "", &cfg, &g);
    }
    if ((st = load_params(c, wpath, err))) return st;

    attend_mask mask = {0};
    mask.causal = opt->causal;
    const attend_st_tensor *tg;
    if ((st = read_key_padding(c, xpath, "key_padding_mask", in.B, in.S, err))) return st;
    mask.key_padding = c->kpm;
    if ((st = mha_read_attn_mask(c, xpath, &in, opt->heads, &mask, err))) return st;
    if ((st = read_grad_output(c, xpath, in.B, in.L, E, &tg, err))) return st;
    if ((st = mha_compute(c, &in, &cfg, &p, &g, &mask, tg, err))) return st;
    attend_st_writer_meta(c->out, "producer", "attend " ATTEND_VERSION " op mha", NULL);
    return attend_st_writer_save(c->out, opath, err);
}

attend_status attend_op_mha(const char *weights_path, const char *input_path,
                            const char *out_path, const attend_op_options *opt,
                            attend_error *err) {
    op_ctx c;
    memset(&c, 0, sizeof c);
    attend_status st = run_mha(&c, weights_path, input_path, out_path, opt, err);
    op_ctx_free(&c);
    return st;
}

static attend_status run_encoder(op_ctx *c, const char *wpath, const char *xpath,
                                 const char *opath, const attend_op_options *opt,
                                 attend_error *err) {
    attend_status st = open_files(c, wpath, xpath, err);
    if (st != ATTEND_OK) return st;

    // src (B,T,E); F from linear1.weight (F,E)
    const attend_st_tensor *ts, *tw, *tg;
    if ((st = get_f32_rank(c->w, wpath, "linear1.weight", 2, &tw, err))) return st;
    if ((st = get_f32_rank(c->x, xpath, "src", 3, &ts, err))) return st;
    const size_t B = ts->shape[0], T = ts->shape[1], E = tw->shape[1];
    if ((st = check_last_dim(ts, xpath, E, "d_model from linear1.weight", err))) return st;
    attend_encoder_config cfg = {E, opt->heads, tw->shape[0], opt->activation, opt->norm_first,
                                 opt->layer_norm_eps > 0 ? opt->layer_norm_eps : 1e-5f, 0.0f, 0, 0.0f};
    if ((st = attend_encoder_config_check(&cfg, err))) return st;
    tg = attend_st_find(c->x, "grad_output");

    attend_encoder_layer_params p, g;
    attend_encoder_layer_layout(&c->layout, "", &cfg, NULL);
    if ((st = alloc_params(c, tg != NULL, err))) return st;
    c->layout.base = c->params;
    c->layout.total = 0;
    attend_encoder_layer_layout(&c->layout, "", &cfg, &p);
    if (c->grads) {
        c->layout.base = c->grads;
        c->layout.total = 0;
        attend_encoder_layer_layout(&c->layout, "", &cfg, &g);
    }
    if ((st = load_params(c, wpath, err))) return st;

    if ((st = read_key_padding(c, xpath, "src_key_padding_mask", B, T, err))) return st;
    if ((st = read_grad_output(c, xpath, B, T, E, &tg, err))) return st;

    size_t n_out = mul_sizes(mul_sizes(B, T), E);
    size_t n_acts = attend_encoder_acts_size(&cfg, B, T, tg != NULL);
    size_t n_scr = tg ? attend_encoder_scratch_size(&cfg, B, T) : 0;
    if (mul_sizes(mul_sizes(mul_sizes(B, opt->heads), T), T) == SIZE_MAX)
        return attend_errorf(err, ATTEND_ERR_NOMEM, "attention weights of %zu x %zu x %zu x %zu overflow", B, opt->heads, T, T);
    if ((st = alloc_floats(&c->acts, n_acts + n_scr, "activations", err))) return st;
    if ((st = alloc_floats(&c->bufs, 2 * n_out, "outputs", err))) return st;
    float *out = c->bufs, *dsrc = out + n_out;
    attend_encoder_acts acts;
    attend_encoder_scratch scr;
    attend_encoder_acts_bind(&acts, &cfg, B, T, tg != NULL, c->acts);
    if (tg) attend_encoder_scratch_bind(&scr, &cfg, B, T, c->acts + n_acts);

    attend_encoder_layer_forward(out, &acts, &cfg, &p, ts->data, c->kpm, B, T, 0, 0);
    if ((st = add_f32(c, "output", out, B, T, E, 0, err))) return st;
    if (tg) {
        attend_encoder_layer_backward(dsrc, &g, &acts, &scr, tg->data, &cfg, &p, ts->data,
                                      c->kpm, B, T, 0, 0);
        if ((st = add_f32(c, "grad_src", dsrc, B, T, E, 0, err))) return st;
        if ((st = add_param_grads(c, err))) return st;
    }
    attend_st_writer_meta(c->out, "producer", "attend " ATTEND_VERSION " op encoder-layer", NULL);
    return attend_st_writer_save(c->out, opath, err);
}

attend_status attend_op_encoder_layer(const char *weights_path, const char *input_path,
                                      const char *out_path, const attend_op_options *opt,
                                      attend_error *err) {
    op_ctx c;
    memset(&c, 0, sizeof c);
    attend_status st = run_encoder(&c, weights_path, input_path, out_path, opt, err);
    op_ctx_free(&c);
    return st;
}
