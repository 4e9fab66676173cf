/* attend explain: attention worked step by step (attend_stepwise_compute,
 * the page it writes, and the numbers the CLI prints).
 *
 * The test has its own reference: the whole model's encoder recomputed
 * here in double from the weights alone (embedding + position, then every
 * layer over all tokens, with full (T,E) projections cut into heads by
 * columns, masked softmax, concatenation, projection, residuals, norms,
 * feed-forward). Every step the library reports is compared with it; the
 * reference itself is tied to attend_model_forward's layer outputs, so
 * neither can drift. Then `attend explain` is run (ATTEND_BIN, set by
 * ctest) and every vector, norm and softmax row it prints, and its --json,
 * is compared with the reference too.
 *
 * Models: post-norm ReLU with learned positions (mean pooling), pre-norm
 * GELU with sinusoidal positions (cls pooling), and one head without
 * positions; every weight, bias and norm parameter random, so a wrong
 * slice or offset cannot hide behind a zero bias or a unit norm. */
#define _POSIX_C_SOURCE 200809L /* popen */
#include "model/model.h"
#include "viz/explain.h"
#include "test.h"
#include "test_tmp.h"

#include <cjson/cJSON.h>
#include <stdint.h>

/* ---- models ---- */

static const char *words[] = {"alpha", "beta", "gamma", "delta", "eps", "zeta"};
static const char *labels[] = {"no", "yes"};

typedef struct {
    size_t E, H, F, L, max_len;
    int norm_first;
    attend_activation act;
    attend_pos_kind pos;
    attend_pool_kind pool;
} model_spec;

static attend_model *make_model(const model_spec *s, uint64_t seed) {
    attend_vocab_counter c;
    attend_vocab v;
    attend_error err = {0};
    if (attend_vocab_counter_init(&c, &err)) return NULL;
    for (size_t i = 0; i < 6; i++)
        for (size_t r = 0; r < 6 - i; r++) attend_vocab_counter_add(&c, words[i], strlen(words[i]), &err);
    attend_status st = attend_vocab_build(&v, &c, 1, 0, &err);
    attend_vocab_counter_free(&c);
    if (st) return NULL;
    attend_model_config cfg;
    attend_model_config_default(&cfg);
    cfg.vocab_size = attend_vocab_size(&v);
    cfg.num_classes = 2;
    cfg.d_model = s->E;
    cfg.nhead = s->H;
    cfg.num_layers = s->L;
    cfg.dim_feedforward = s->F;
    cfg.max_len = s->max_len;
    cfg.norm_first = s->norm_first;
    cfg.activation = s->act;
    cfg.pos = s->pos;
    cfg.pool = s->pool;
    attend_model *m = NULL;
    attend_tokenizer *tok = NULL;
    if (attend_tokenizer_words_new(&tok, &v, &err) ||
        attend_model_create(&m, &cfg, tok, (char *const *)labels, &err)) {
        fprintf(stderr, "model: %s\n", err.msg);
        return NULL;
    }
    // every parameter random: biases, norm weights and norm biases too
    test_rng_ = seed;
    test_fill_randn(m->params, m->layout.total, 0.5f);
    return m;
}

/* ---- the reference ---- */

/* One layer over all T tokens, in double. */
typedef struct {
    size_t T, E, H, D, F;
    double *x, *a;        /* (T,E) input, attention input */
    double *Q, *K, *V;    /* (T,E) all heads; head h = columns [h*D, (h+1)*D) */
    double *S, *P;        /* (H,T,T) raw scores q_i . k_j and softmax weights */
    double *ctx, *attn;   /* (T,E) concatenated head outputs, after W_o */
    double *r, *n;        /* (T,E) first residual, feed-forward input */
    double *pre, *hid;    /* (T,F) */
    double *f, *r2, *y;   /* (T,E) */
    double mean[2], sd[2]; /* norm1 / norm2 input statistics of token i */
} ref_layer;

static void ref_free(ref_layer *R) {
    free(R->x);
    memset(R, 0, sizeof *R);
}

static void ref_alloc(ref_layer *R, size_t T, size_t E, size_t H, size_t F) {
    R->T = T, R->E = E, R->H = H, R->D = E / H, R->F = F;
    const size_t TE = T * E;
    double *p = calloc(12 * TE + 2 * H * T * T + 2 * T * F, sizeof(double));
    R->x = p, p += TE;
    R->a = p, p += TE;
    R->Q = p, p += TE;
    R->K = p, p += TE;
    R->V = p, p += TE;
    R->ctx = p, p += TE;
    R->attn = p, p += TE;
    R->r = p, p += TE;
    R->n = p, p += TE;
    R->f = p, p += TE;
    R->r2 = p, p += TE;
    R->y = p, p += TE;
    R->S = p, p += H * T * T;
    R->P = p, p += H * T * T;
    R->pre = p, p += T * F;
    R->hid = p;
}

// Y (T,OUT) = X (T,IN) W^T + b
static void ref_matmul(double *Y, const double *X, const float *W, const float *b, size_t T, size_t IN,
                       size_t OUT) {
    for (size_t t = 0; t < T; t++)
        for (size_t o = 0; o < OUT; o++) {
            double s = b ? b[o] : 0;
            for (size_t k = 0; k < IN; k++) s += X[t * IN + k] * W[o * IN + k];
            Y[t * OUT + o] = s;
        }
}

static void ref_norm(double *y, const double *x, const float *w, const float *b, size_t E, double eps,
                     double *mean, double *sd) {
    double m = 0, v = 0;
    for (size_t e = 0; e < E; e++) m += x[e] / (double)E;
    for (size_t e = 0; e < E; e++) v += (x[e] - m) * (x[e] - m) / (double)E;
    for (size_t e = 0; e < E; e++) y[e] = (x[e] - m) / sqrt(v + eps) * w[e] + b[e];
    if (mean) *mean = m;
    if (sd) *sd = sqrt(v + eps);
}

/* Layer p on R->x (already set); keys j >= n_real are padding. i: the
 * token whose norm statistics are kept. */
static void ref_layer_run(ref_layer *R, const attend_encoder_layer_params *p, const attend_encoder_config *c,
                          size_t n_real, size_t i) {
    const size_t T = R->T, E = R->E, H = R->H, D = R->D, F = R->F;
    const double eps = c->layer_norm_eps;
    const attend_mha_params *sa = &p->self_attn;
    for (size_t t = 0; t < T; t++) {
        if (c->norm_first)
            ref_norm(R->a + t * E, R->x + t * E, p->norm1_weight, p->norm1_bias, E, eps, t == i ? &R->mean[0] : NULL,
                     t == i ? &R->sd[0] : NULL);
        else
            memcpy(R->a + t * E, R->x + t * E, E * sizeof(double));
    }
    // the (3E,E) in_proj: q rows [0,E), k rows [E,2E), v rows [2E,3E)
    const float *bias = sa->in_proj_bias;
    ref_matmul(R->Q, R->a, sa->q_proj_weight, bias, T, E, E);
    ref_matmul(R->K, R->a, sa->k_proj_weight, bias + E, T, E, E);
    ref_matmul(R->V, R->a, sa->v_proj_weight, bias + 2 * E, T, E, E);
    for (size_t h = 0; h < H; h++)
        for (size_t q = 0; q < T; q++) {
            double *S = R->S + (h * T + q) * T, *P = R->P + (h * T + q) * T, z = 0, top = -1e300;
            for (size_t j = 0; j < T; j++) {
                S[j] = 0;
                for (size_t d = 0; d < D; d++) S[j] += R->Q[q * E + h * D + d] * R->K[j * E + h * D + d];
                if (j < n_real && S[j] > top) top = S[j];
            }
            for (size_t j = 0; j < T; j++) z += j < n_real ? exp((S[j] - top) / sqrt((double)D)) : 0;
            for (size_t j = 0; j < T; j++) P[j] = j < n_real ? exp((S[j] - top) / sqrt((double)D)) / z : 0;
            for (size_t d = 0; d < D; d++) {
                double s = 0;
                for (size_t j = 0; j < n_real; j++) s += P[j] * R->V[j * E + h * D + d];
                R->ctx[q * E + h * D + d] = s;
            }
        }
    ref_matmul(R->attn, R->ctx, sa->out_proj_weight, sa->out_proj_bias, T, E, E);
    for (size_t k = 0; k < T * E; k++) R->r[k] = R->x[k] + R->attn[k];
    for (size_t t = 0; t < T; t++) {
        const int nf = c->norm_first;
        ref_norm(R->n + t * E, R->r + t * E, nf ? p->norm2_weight : p->norm1_weight,
                 nf ? p->norm2_bias : p->norm1_bias, E, eps, t == i ? &R->mean[nf] : NULL, t == i ? &R->sd[nf] : NULL);
    }
    ref_matmul(R->pre, R->n, p->linear1_weight, p->linear1_bias, T, E, F);
    for (size_t k = 0; k < T * F; k++) {
        double x = R->pre[k];
        R->hid[k] = c->activation == ATTEND_ACT_GELU ? 0.5 * x * (1 + erf(x / sqrt(2.0))) : (x > 0 ? x : 0);
    }
    ref_matmul(R->f, R->hid, p->linear2_weight, p->linear2_bias, T, F, E);
    for (size_t t = 0; t < T; t++) {
        for (size_t e = 0; e < E; e++)
            R->r2[t * E + e] = (c->norm_first ? R->r[t * E + e] : R->n[t * E + e]) + R->f[t * E + e];
        if (c->norm_first) memcpy(R->y + t * E, R->r2 + t * E, E * sizeof(double));
        else ref_norm(R->y + t * E, R->r2 + t * E, p->norm2_weight, p->norm2_bias, E, eps, t == i ? &R->mean[1] : NULL,
                      t == i ? &R->sd[1] : NULL);
    }
}

/* The reference up to layer `layer` for ids (T of them, n_real real). */
static void ref_model(ref_layer *R, const attend_model *m, const int32_t *ids, size_t T, size_t n_real,
                      size_t layer, size_t i) {
    const attend_model_config *c = &m->cfg;
    const size_t E = c->d_model;
    ref_alloc(R, T, E, c->nhead, c->dim_feedforward);
    const float *pos = attend_model_pos_table(m);
    for (size_t t = 0; t < T; t++)
        for (size_t e = 0; e < E; e++)
            R->x[t * E + e] = (double)m->p.tok_emb[(size_t)ids[t] * E + e] + (pos ? pos[t * E + e] : 0.0);
    for (size_t l = 0; l <= layer; l++) {
        ref_layer_run(R, &m->p.layers[l], &m->enc, n_real, i);
        if (l < layer) memcpy(R->x, R->y, T * E * sizeof(double));
    }
}

/* ---- the library against the reference ---- */

#define TOL 2e-5 /* relative to max(1, |value|): the forward's float rounding, a few layers deep */

/* Largest |a[k * sa] - b[k * sb]| / max(1, |b|) over n values. */
static double worst(const double *a, size_t sa, const double *b, size_t sb, size_t n) {
    double w = 0;
    for (size_t k = 0; k < n; k++) {
        double x = a[k * sa], y = b[k * sb], s = fabs(y) > 1 ? fabs(y) : 1;
        double d = (isinf(x) && isinf(y) && (x > 0) == (y > 0)) ? 0 : fabs(x - y) / s;
        if (!(d <= w)) w = isnan(d) ? INFINITY : d;
    }
    return w;
}

#define CHECK_STEP(name, a, sa, b, sb, n)                                                        \
    do {                                                                                     \
        double w_ = worst(a, sa, b, sb, n);                                                  \
        CHECK(w_ <= TOL, "%s: step %s differs from the reference by %g", where, name, w_);   \
    } while (0)

/* The ids the model reads for text, padded to pad_to with the pad id. */
static size_t ids_of(const attend_model *m, const char *text, size_t pad_to, int32_t *ids, size_t *n_real) {
    attend_context *ctx = NULL;
    attend_error err = {0};
    size_t n = 0;
    if (attend_context_new(&ctx, m, &err) ||
        attend_tokenize(m, ctx, text, strlen(text), ids, m->cfg.max_len, &n, NULL, &err))
        fprintf(stderr, "tokenize: %s\n", err.msg);
    attend_context_free(ctx);
    *n_real = n;
    for (size_t t = n; t < pad_to; t++) ids[t] = m->tok->pad_id;
    return pad_to > n ? pad_to : n;
}

/* Compares sw's every step with the reference R for (layer, head h, token i). */
static void compare_steps(const char *where, const attend_stepwise *sw, const ref_layer *R, const attend_model *m) {
    const size_t T = R->T, E = R->E, D = R->D, H = R->H, F = R->F, i = sw->token, h = sw->head;
    CHECK(sw->T == T && sw->E == E && sw->D == D && sw->H == H && sw->F == F, "%s: sizes", where);
    if (sw->T != T || sw->E != E || sw->D != D || sw->H != H || sw->F != F) return;
    CHECK_STEP("input x", sw->x, 1, R->x, 1, T * E);
    CHECK_STEP("attention input a", sw->a, 1, R->a, 1, T * E);
    CHECK_STEP("q", sw->q, 1, R->Q + i * E + h * D, 1, D);
    for (size_t j = 0; j < T; j++) {
        CHECK_STEP("k_j", sw->k + j * D, 1, R->K + j * E + h * D, 1, D);
        CHECK_STEP("v_j", sw->v + j * D, 1, R->V + j * E + h * D, 1, D);
    }
    const double *S = R->S + (h * T + i) * T, *P = R->P + (h * T + i) * T;
    CHECK_STEP("score q . k_j", sw->score, 1, S, 1, T);
    double sum = 0;
    for (size_t j = 0; j < T; j++) {
        double want = j < sw->n_real ? S[j] / sqrt((double)D) : -INFINITY;
        CHECK_STEP("scaled score", sw->scaled + j, 1, &want, 1, 1);
        CHECK(sw->masked[j] == (j >= sw->n_real), "%s: key %zu masked = %d", where, j, sw->masked[j]);
        sum += sw->weights[j];
    }
    CHECK(fabs(sum - 1) < 1e-12, "%s: the weights sum to %.15f", where, sum);
    CHECK(fabs(sw->scale - 1 / sqrt((double)D)) < 1e-15, "%s: scale %g", where, sw->scale);
    CHECK_STEP("softmax weights", sw->weights, 1, P, 1, T);
    for (size_t g = 0; g < H; g++)
        CHECK_STEP("every head's weights", sw->all_weights + g * T, 1, R->P + (g * T + i) * T, 1, T);
    CHECK_STEP("head output", sw->head_out, 1, R->ctx + i * E + h * D, 1, D);
    CHECK_STEP("concat", sw->concat, 1, R->ctx + i * E, 1, E);
    CHECK_STEP("output projection", sw->attn_out, 1, R->attn + i * E, 1, E);
    CHECK_STEP("residual", sw->resid1, 1, R->r + i * E, 1, E);
    CHECK_STEP("feed-forward input", sw->ff_in, 1, R->n + i * E, 1, E);
    CHECK_STEP("feed-forward pre-activation", sw->ff_pre, 1, R->pre + i * F, 1, F);
    CHECK_STEP("feed-forward hidden", sw->ff_hidden, 1, R->hid + i * F, 1, F);
    CHECK_STEP("feed-forward output", sw->ff_out, 1, R->f + i * E, 1, E);
    CHECK_STEP("second residual", sw->resid2, 1, R->r2 + i * E, 1, E);
    CHECK_STEP("layer output", sw->out, 1, R->y + i * E, 1, E);
    CHECK_STEP("norm means", sw->norm_mean, 1, R->mean, 1, 2);
    CHECK_STEP("norm sds", sw->norm_sd, 1, R->sd, 1, 2);
    // the weight views are the head's rows of the model's
    const attend_mha_params *sa = &m->p.layers[sw->layer].self_attn;
    CHECK(sw->w_q == sa->q_proj_weight + h * D * E && sw->w_k == sa->k_proj_weight + h * D * E &&
              sw->w_v == sa->v_proj_weight + h * D * E && sw->b_q == sa->in_proj_bias + h * D &&
              sw->b_k == sa->in_proj_bias + E + h * D && sw->b_v == sa->in_proj_bias + 2 * E + h * D &&
              sw->w_o == sa->out_proj_weight && sw->b_o == sa->out_proj_bias,
          "%s: weight views", where);
    if (sw->layer == 0) {
        CHECK(sw->tok_row == m->p.tok_emb + (size_t)sw->ids[i] * E, "%s: the token's embedding row", where);
        const float *pos = attend_model_pos_table(m);
        CHECK(sw->pos_row == (pos ? pos + i * E : NULL), "%s: the position's row", where);
    } else {
        CHECK(sw->tok_row == NULL && sw->pos_row == NULL, "%s: no embedding rows past layer 1", where);
    }
}

/* The forward pass's layer output, and that sw reports it and matches. */
static void compare_forward(const char *where, const attend_stepwise *sw, const ref_layer *R, const attend_model *m) {
    const size_t T = sw->T, E = sw->E, i = sw->token;
    float *mem = malloc(attend_model_acts_size(&m->cfg, 1, T, 0) * sizeof(float));
    attend_model_acts a;
    attend_model_acts_bind(&a, &m->cfg, 1, T, 0, mem);
    attend_model_forward(m, &a, sw->ids, sw->masked, 1, T, 0, 0);
    double fw[256];
    for (size_t e = 0; e < E; e++) fw[e] = a.outs[sw->layer][i * E + e];
    double w = worst(fw, 1, R->y + i * E, 1, E);
    CHECK(w <= TOL, "%s: the reference reproduces attend_model_forward's layer output (worst %g)", where, w);
    CHECK(memcmp(sw->model_out, a.outs[sw->layer] + i * E, E * sizeof(float)) == 0,
          "%s: model_out is the forward pass's row", where);
    CHECK(attend_stepwise_matches(sw), "%s: every check passes", where);
    CHECK(sw->n_checks == (sw->tok_row ? 8u : 7u), "%s: %zu checks", where, sw->n_checks);
    for (size_t c = 0; c < sw->n_checks; c++)
        CHECK(sw->checks[c].ok && sw->checks[c].max_diff < 1e-5, "%s: check %s: %g", where, sw->checks[c].what,
              sw->checks[c].max_diff);
    free(mem);
}

static const char *text_of = "alpha beta zeta gamma alpha delta";

static void test_library(const attend_model *m, const char *name) {
    const attend_model_config *c = &m->cfg;
    int32_t ids[64];
    size_t n_real = 0;
    for (size_t l = 0; l < c->num_layers; l++)
        for (size_t h = 0; h < c->nhead; h++)
            for (size_t pad = 0; pad <= 1; pad++) {
                size_t T0 = ids_of(m, text_of, 0, ids, &n_real);
                size_t pad_to = pad ? T0 + 2 : 0;
                size_t T = ids_of(m, text_of, pad_to, ids, &n_real);
                for (size_t i = 0; i < n_real; i += (l + h) % 2 + 1) {
                    char where[160];
                    snprintf(where, sizeof where, "%s layer %zu head %zu token %zu pad_to %zu", name, l, h, i, pad_to);
                    attend_stepwise_options o = {l, h, i, pad_to};
                    attend_stepwise sw;
                    attend_error err = {0};
                    attend_status st = attend_stepwise_compute(m, text_of, strlen(text_of), &o, &sw, &err);
                    CHECK(st == ATTEND_OK, "%s: %s", where, err.msg);
                    if (st) continue;
                    CHECK(sw.n_real == n_real && sw.T == T && memcmp(sw.ids, ids, T * sizeof(int32_t)) == 0,
                          "%s: the model's ids", where);
                    ref_layer R;
                    ref_model(&R, m, ids, T, n_real, l, i);
                    compare_steps(where, &sw, &R, m);
                    compare_forward(where, &sw, &R, m);
                    ref_free(&R);
                    attend_stepwise_free(&sw);
                }
            }
}

static void test_errors(const attend_model *m) {
    const attend_model_config *c = &m->cfg;
    attend_stepwise sw;
    attend_error err = {0};
    const char *t = "alpha beta gamma"; /* 3 words, 4 tokens with cls pooling */
    size_t n = 3 + (c->pool == ATTEND_POOL_CLS);
    struct {
        attend_stepwise_options o;
        const char *text, *says;
        attend_status st;
    } cases[] = {
        {{c->num_layers, 0, 0, 0}, t, "0 to", ATTEND_ERR_ARG},
        {{0, c->nhead, 0, 0}, t, "head", ATTEND_ERR_ARG},
        {{0, 0, n, 0}, t, "token", ATTEND_ERR_ARG},
        {{0, 0, 0, n - 1}, t, "shorter", ATTEND_ERR_ARG},
        {{0, 0, 0, c->max_len + 1}, t, "max_len", ATTEND_ERR_ARG},
        {{0, 0, 0, 0}, "  ...  ", NULL, ATTEND_OK},           /* punctuation: tokens of their own */
        {{0, 0, 0, 0}, "", "no tokens", ATTEND_ERR_ARG},
        {{0, 0, 0, 0}, "alpha \xff", NULL, ATTEND_ERR_FORMAT},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        memset(&err, 0, sizeof err);
        attend_status st = attend_stepwise_compute(m, cases[k].text, strlen(cases[k].text), &cases[k].o, &sw, &err);
        CHECK(st == cases[k].st, "error case %zu: status %d (%s), expected %d", k, (int)st, err.msg, (int)cases[k].st);
        if (cases[k].says) CHECK(strstr(err.msg, cases[k].says) != NULL, "error case %zu names it: %s", k, err.msg);
        if (st) CHECK(sw.x == NULL && sw.tokens == NULL, "error case %zu leaves nothing allocated", k);
        attend_stepwise_free(&sw);
    }
    // the range is named in the message
    attend_stepwise_options o = {0, 0, n, 0};
    attend_stepwise_compute(m, t, strlen(t), &o, &sw, &err);
    char want[64];
    snprintf(want, sizeof want, "(0 to %zu)", n - 1);
    CHECK(strstr(err.msg, want) != NULL, "token range named: %s", err.msg);
    attend_stepwise_free(&sw);
}

/* ---- the page ---- */

static size_t count_of(const char *s, const char *needle) {
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

static void test_page(const attend_model *m, const char *dir) {
    attend_stepwise_options o = {1, 1, 2, 9};
    attend_stepwise sw;
    attend_error err = {0};
    const char *text = "alpha <beta> & gamma";
    CHECK(attend_stepwise_compute(m, text, strlen(text), &o, &sw, &err) == ATTEND_OK, "compute: %s", err.msg);
    char path[600];
    snprintf(path, sizeof path, "%s/page.html", dir);
    CHECK(attend_stepwise_write_html(path, &sw, text, &err) == ATTEND_OK, "page written: %s", err.msg);
    char *s = read_all(path);
    CHECK(s != NULL, "page read back");
    if (s) {
        char shape[64];
        // input, A (pre-norm), W_q W_k W_v, q, K, V, scores, scaled, weights,
        // head output, all weights, all outputs, c, W_o, attn, layer vectors, h
        size_t want = 18 + (size_t)sw.norm_first;
        CHECK(count_of(s, "class=\"attend-heatmap attend-step\"") == want, "%zu heatmaps, expected %zu",
              count_of(s, "class=\"attend-heatmap attend-step\""), want);
        snprintf(shape, sizeof shape, "K: T x D = %zu x %zu", sw.T, sw.D);
        CHECK(strstr(s, shape) != NULL, "the shape of K beside it: %s", shape);
        snprintf(shape, sizeof shape, "D x E = %zu x %zu", sw.D, sw.E);
        CHECK(count_of(s, shape) >= 3, "the shapes of the weight slices: %s", shape);
        snprintf(shape, sizeof shape, "H x T = %zu x %zu", sw.H, sw.T);
        CHECK(strstr(s, shape) != NULL, "the shape of every head's weights: %s", shape);
        CHECK(strstr(s, "&lt;beta&gt; &amp; gamma") && !strstr(s, "<beta>"), "the text is escaped");
        CHECK(!strstr(s, "<script") && count_of(s, "http") == count_of(s, "http://www.w3.org/2000/svg"),
              "self-contained: no scripts, nothing fetched");
        CHECK(strstr(s, "padding keys are masked") != NULL, "the page says the padding is masked");
        CHECK(strstr(s, "reproduces it") != NULL, "the page says the forward pass is reproduced");
        char row[96];
        snprintf(row, sizeof row, "<td class=\"r\">%.6f</td>", sw.weights[0]);
        CHECK(strstr(s, row) != NULL, "the softmax table holds the weights: %s", row);
        free(s);
    }
    attend_stepwise_free(&sw);
    snprintf(path, sizeof path, "%s/no-such-dir/page.html", dir);
    CHECK(attend_stepwise_compute(m, text, strlen(text), &o, &sw, &err) == ATTEND_OK, "compute again");
    CHECK(attend_stepwise_write_html(path, &sw, text, &err) == ATTEND_ERR_IO, "a page into a missing folder is an IO error");
    attend_stepwise_free(&sw);
}

/* ---- the numbers attend explain prints ---- */

/* A reference vector: n values v[k * stride]. */
typedef struct {
    const double *v;
    size_t n;
} vec_ref;

typedef struct {
    const ref_layer *R;
    const attend_stepwise_options *o;
    const double *emb, *pos, *fw; /* (E) the token's embedding row, position row, forward output */
    size_t n_real;                /* real tokens: keys past them are padding */
} cli_ctx;

/* The reference vector a printed label names ({NULL, 0} when unknown). */
static vec_ref label_ref(const char *label, const cli_ctx *c) {
    const ref_layer *R = c->R;
    const size_t E = R->E, D = R->D, F = R->F, i = c->o->token, h = c->o->head;
    size_t k = 0;
    char tail;
    vec_ref none = {NULL, 0};
    if (!strcmp(label, "e")) return (vec_ref){c->emb, E};
    if (!strcmp(label, "p")) return (vec_ref){c->pos, E};
    if (!strcmp(label, "q")) return (vec_ref){R->Q + i * E + h * D, D};
    if (!strcmp(label, "c")) return (vec_ref){R->ctx + i * E, E};
    if (!strcmp(label, "attn")) return (vec_ref){R->attn + i * E, E};
    if (!strcmp(label, "r")) return (vec_ref){R->r + i * E, E};
    if (!strcmp(label, "n")) return (vec_ref){R->n + i * E, E};
    if (!strcmp(label, "h")) return (vec_ref){R->hid + i * F, F};
    if (!strcmp(label, "f")) return (vec_ref){R->f + i * E, E};
    if (!strcmp(label, "y")) return (vec_ref){R->y + i * E, E};
    if (!strcmp(label, "y_forward")) return (vec_ref){c->fw, E};
    if (sscanf(label + 1, "_%zu%c", &k, &tail) != 1 || k == 0) return none;
    switch (label[0]) {
    case 'x': return k == i + 1 ? (vec_ref){R->x + i * E, E} : none;
    case 'a': return k == i + 1 ? (vec_ref){R->a + i * E, E} : none;
    case 'k': return k <= R->T ? (vec_ref){R->K + (k - 1) * E + h * D, D} : none;
    case 'v': return k <= R->T ? (vec_ref){R->V + (k - 1) * E + h * D, D} : none;
    case 'o': return k <= R->H ? (vec_ref){R->ctx + i * E + (k - 1) * D, D} : none;
    default: return none;
    }
}

/* How far a printed number may be from the exact one: 4 decimals, or 4
 * significant digits in scientific form, plus the float rounding of the
 * forward pass that a deeper layer's input carries. */
static double printed_tol(double exact) {
    double a = fabs(exact);
    return (a >= 1e4 ? 5e-4 * a : 5e-5) + TOL * (a > 1 ? a : 1);
}

/* One "LABEL = [v, v, ..., ]  |LABEL| = N (n values)" line against the
 * reference; 1 when the line was one. */
static int check_vec_line(const char *line, const cli_ctx *c, const char *where) {
    const char *eq = strstr(line, " = [");
    if (!eq) return 0;
    const char *b = eq;
    while (b > line && b[-1] != ' ') b--;
    char label[32];
    snprintf(label, sizeof label, "%.*s", (int)(eq - b) < 31 ? (int)(eq - b) : 31, b);
    vec_ref ref = label_ref(label, c);
    CHECK(ref.v != NULL, "%s: printed vector %s is not a step of the reference: %s", where, label, line);
    if (!ref.v) return 1;
    const char *p = eq + 4;
    size_t nv = 0;
    int cut = 0;
    for (;;) {
        while (*p == ' ') p++;
        if (!strncmp(p, "...", 3)) {
            cut = 1;
            break;
        }
        char *end;
        double x = strtod(p, &end);
        CHECK(end != p, "%s: %s: a number at '%.12s'", where, label, p);
        if (end == p) return 1;
        if (nv < ref.n)
            CHECK(fabs(x - ref.v[nv]) <= printed_tol(ref.v[nv]), "%s: %s[%zu] printed %.6g, the reference says %.8g",
                  where, label, nv, x, ref.v[nv]);
        nv++;
        p = end;
        if (*p == ',') p++;
        else break;
    }
    char bar[48];
    snprintf(bar, sizeof bar, "|%s| = ", label);
    const char *nb = strstr(p, bar);
    CHECK(nb != NULL, "%s: %s: its length is printed", where, label);
    if (!nb) return 1;
    char *end;
    double norm = strtod(nb + strlen(bar), &end), want = 0;
    size_t n = (size_t)strtoul(end + 2, NULL, 10);
    for (size_t k = 0; k < ref.n; k++) want += ref.v[k] * ref.v[k];
    want = sqrt(want);
    CHECK(fabs(norm - want) <= printed_tol(want), "%s: |%s| printed %.6g, the reference says %.8g", where, label, norm, want);
    CHECK(n == ref.n && nv >= 1 && nv <= n && (cut || nv == n), "%s: %s: %zu of %zu values shown (%zu in the reference)",
          where, label, nv, n, ref.n);
    return 1;
}

/* A row of the softmax table: j token score scaled masked weight. */
static int check_table_row(const char *line, const cli_ctx *c, const char *where) {
    char f[16][64];
    size_t nf = 0;
    for (const char *p = line; *p && nf < 16;) {
        while (*p == ' ') p++;
        if (!*p || *p == '\n') break;
        size_t k = 0;
        while (*p && *p != ' ' && *p != '\n') {
            if (k < 63) f[nf][k++] = *p;
            p++;
        }
        f[nf++][k] = 0;
    }
    char *end;
    size_t j = (size_t)strtoul(f[0], &end, 10);
    if (nf < 6 || *end || j == 0 || j > c->R->T) return 0;
    const ref_layer *R = c->R;
    const size_t T = R->T, h = c->o->head, i = c->o->token;
    const double s = R->S[(h * T + i) * T + j - 1], w = R->P[(h * T + i) * T + j - 1];
    const int masked = !strcmp(f[nf - 2], "yes");
    double got_s = strtod(f[nf - 4], NULL), got_w = strtod(f[nf - 1], NULL);
    CHECK(fabs(got_s - s) <= printed_tol(s), "%s: score of key %zu printed %g, the reference says %.8g", where, j, got_s, s);
    if (masked) CHECK(!strcmp(f[nf - 3], "-inf"), "%s: key %zu masked, scaled score -inf: %s", where, j, f[nf - 3]);
    else {
        double want = s / sqrt((double)R->D), got = strtod(f[nf - 3], NULL);
        CHECK(fabs(got - want) <= printed_tol(want), "%s: scaled score of key %zu printed %g, the reference says %.8g",
              where, j, got, want);
    }
    CHECK(fabs(got_w - w) <= printed_tol(w), "%s: weight of key %zu printed %g, the reference says %.8g", where, j, got_w, w);
    CHECK(masked == (j > c->n_real), "%s: key %zu printed as %smasked", where, j, masked ? "" : "not ");
    return 1;
}

static size_t columns(const char *s) {
    size_t n = 0;
    for (; *s && *s != '\n'; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Runs cmd and checks every line it prints; returns its exit status. */
static int check_cli_text(const char *cmd, const cli_ctx *c, const attend_model *m, const char *where) {
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL, "%s: run %s", where, cmd);
    if (!p) return -1;
    char line[4096];
    size_t n_vec = 0, n_rows = 0, widest = 0;
    int in_table = 0, sum_ok = 0, matches = 0;
    while (fgets(line, sizeof line, p)) {
        size_t w = columns(line);
        widest = w > widest ? w : widest;
        if (strstr(line, "4. Scores")) in_table = 1;
        if (strstr(line, "5. The head")) in_table = 0;
        n_vec += (size_t)check_vec_line(line, c, where);
        if (in_table) n_rows += (size_t)check_table_row(line, c, where);
        const char *s = strstr(line, "The weights sum to ");
        if (s) sum_ok = fabs(strtod(s + 19, NULL) - 1) < 1e-6;
        matches |= strstr(line, "matches the model's forward pass: max |difference| = ") != NULL;
    }
    int rc = pclose(p);
    const ref_layer *R = c->R;
    const attend_model_config *mc = &m->cfg;
    // e [p] x [a] q, k_j v_j, o_h, every o_g, c, attn, r n h f y, y_forward
    size_t want = (c->o->layer == 0 ? 1 + (attend_model_pos_table(m) != NULL) : 0) + 1 + (size_t)mc->norm_first + 1 +
                  2 * R->T + 1 + R->H + 1 + 1 + 5 + 1;
    CHECK(n_vec == want, "%s: %zu vectors printed, expected %zu", where, n_vec, want);
    CHECK(n_rows == R->T, "%s: %zu rows in the softmax table, expected %zu", where, n_rows, R->T);
    CHECK(sum_ok, "%s: the weights are said to sum to 1", where);
    CHECK(matches, "%s: says it matches the forward pass", where);
    CHECK(widest <= 100, "%s: the widest line has %zu columns", where, widest);
    return rc;
}

/* A JSON array (of numbers, null for -inf) against n reference values. */
static void check_json_vec(const cJSON *o, const char *name, const double *ref, size_t n, const char *where) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, name);
    CHECK(cJSON_IsArray(a) && (size_t)cJSON_GetArraySize(a) == n, "%s: JSON %s has %zu values", where, name, n);
    if (!cJSON_IsArray(a) || (size_t)cJSON_GetArraySize(a) != n) return;
    double *got = malloc(n * sizeof(double));
    size_t k = 0;
    for (const cJSON *x = a->child; x; x = x->next) got[k++] = cJSON_IsNumber(x) ? x->valuedouble : -INFINITY;
    double w = worst(got, 1, ref, 1, n);
    CHECK(w <= TOL, "%s: JSON %s differs from the reference by %g", where, name, w);
    free(got);
}

/* Rows x n (row r of the reference at ref + r * rs). */
static void check_json_mat(const cJSON *o, const char *name, const double *ref, size_t rs, size_t rows, size_t n,
                           const char *where) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, name);
    CHECK(cJSON_IsArray(a) && (size_t)cJSON_GetArraySize(a) == rows, "%s: JSON %s has %zu rows", where, name, rows);
    if (!cJSON_IsArray(a)) return;
    cJSON *holder = cJSON_CreateObject();
    size_t r = 0;
    for (cJSON *x = a->child; x && r < rows; x = x->next, r++) {
        char row[64];
        snprintf(row, sizeof row, "%s[%zu]", name, r);
        cJSON *dup = cJSON_Duplicate(x, 1);
        cJSON_AddItemToObject(holder, row, dup);
        check_json_vec(holder, row, ref + r * rs, n, where);
    }
    cJSON_Delete(holder);
}

static void check_cli_json(const char *cmd, const cli_ctx *c, const char *where) {
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL, "%s: run %s", where, cmd);
    if (!p) return;
    size_t cap = 1 << 20, len = 0, got;
    char *s = malloc(cap);
    while ((got = fread(s + len, 1, cap - 1 - len, p)) > 0) len += got;
    s[len] = 0;
    CHECK(pclose(p) == 0, "%s: --json exits 0", where);
    cJSON *o = cJSON_Parse(s);
    CHECK(o != NULL, "%s: --json prints JSON", where);
    free(s);
    if (!o) return;
    const ref_layer *R = c->R;
    const size_t T = R->T, E = R->E, D = R->D, H = R->H, F = R->F, i = c->o->token, h = c->o->head;
    double scaled[256];
    for (size_t j = 0; j < T; j++)
        scaled[j] = j < c->n_real ? R->S[(h * T + i) * T + j] / sqrt((double)D) : -INFINITY;
    double pw[1024];
    for (size_t g = 0; g < H; g++)
        for (size_t j = 0; j < T; j++) pw[g * T + j] = R->P[(g * T + i) * T + j];
    check_json_vec(o, "x", R->x + i * E, E, where);
    check_json_vec(o, "a", R->a + i * E, E, where);
    check_json_vec(o, "q", R->Q + i * E + h * D, D, where);
    check_json_mat(o, "k", R->K + h * D, E, T, D, where);
    check_json_mat(o, "v", R->V + h * D, E, T, D, where);
    check_json_vec(o, "score", R->S + (h * T + i) * T, T, where);
    check_json_vec(o, "scaled", scaled, T, where);
    check_json_vec(o, "weights", R->P + (h * T + i) * T, T, where);
    check_json_mat(o, "all_weights", pw, T, H, T, where);
    check_json_vec(o, "head_out", R->ctx + i * E + h * D, D, where);
    check_json_vec(o, "concat", R->ctx + i * E, E, where);
    check_json_vec(o, "attn", R->attn + i * E, E, where);
    check_json_vec(o, "r", R->r + i * E, E, where);
    check_json_vec(o, "n", R->n + i * E, E, where);
    check_json_vec(o, "h", R->hid + i * F, F, where);
    check_json_vec(o, "f", R->f + i * E, E, where);
    check_json_vec(o, "y", R->y + i * E, E, where);
    check_json_vec(o, "y_forward", c->fw, E, where);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "matches")), "%s: JSON says it matches", where);
    cJSON_Delete(o);
}

/* Saves m, runs attend explain on it for a few (layer, head, token, pad)
 * and checks what it prints against the reference. */
static void test_cli(const attend_model *m, const char *name, const char *dir) {
    const char *bin = getenv("ATTEND_BIN");
    if (!bin || !*bin) {
        printf("SKIP: ATTEND_BIN is not set (ctest sets it); the CLI's printed numbers are not checked\n");
        return;
    }
    char path[600];
    attend_error err = {0};
    snprintf(path, sizeof path, "%s/%s.safetensors", dir, name);
    CHECK(attend_model_save(m, path, &err) == ATTEND_OK, "save: %s", err.msg);
    const attend_model_config *mc = &m->cfg;
    const size_t E = mc->d_model;
    for (size_t run = 0; run < 3; run++) {
        int32_t ids[64];
        size_t n_real = 0;
        size_t T0 = ids_of(m, text_of, 0, ids, &n_real);
        attend_stepwise_options o = {run % mc->num_layers, (run * 2 + 1) % mc->nhead, (run * 3 + 1) % T0,
                                     run == 1 ? T0 + 3 : 0};
        size_t T = ids_of(m, text_of, o.pad_to, ids, &n_real);
        ref_layer R;
        ref_model(&R, m, ids, T, n_real, o.layer, o.token);
        // the forward pass's output of that layer, and the embedding rows
        float *mem = malloc(attend_model_acts_size(mc, 1, T, 0) * sizeof(float));
        uint8_t pad[64] = {0};
        for (size_t t = n_real; t < T; t++) pad[t] = 1;
        attend_model_acts a;
        attend_model_acts_bind(&a, mc, 1, T, 0, mem);
        attend_model_forward(m, &a, ids, pad, 1, T, 0, 0);
        double fw[256], emb[256], pos[256];
        const float *pt = attend_model_pos_table(m);
        for (size_t e = 0; e < E; e++) {
            fw[e] = a.outs[o.layer][o.token * E + e];
            emb[e] = m->p.tok_emb[(size_t)ids[o.token] * E + e];
            pos[e] = pt ? pt[o.token * E + e] : 0;
        }
        free(mem);
        cli_ctx c = {&R, &o, emb, pos, fw, n_real};
        char cmd[1600], where[200];
        snprintf(where, sizeof where, "%s: attend explain --layer %zu --head %zu --token %zu --pad-to %zu", name,
                 o.layer + 1, o.head + 1, o.token + 1, o.pad_to);
        snprintf(cmd, sizeof cmd, "'%s' explain --model '%s' --text '%s' --layer %zu --head %zu --token %zu --pad-to %zu",
                 bin, path, text_of, o.layer + 1, o.head + 1, o.token + 1, o.pad_to);
        CHECK(check_cli_text(cmd, &c, m, where) == 0, "%s: exits 0", where);
        strcat(cmd, " --json");
        check_cli_json(cmd, &c, where);
        ref_free(&R);
    }
}

int main(void) {
    char dir[512];
    test_tmp_dir(dir, sizeof dir, "explain");
    const model_spec specs[3] = {
        {8, 2, 16, 2, 12, 0, ATTEND_ACT_RELU, ATTEND_POS_LEARNED, ATTEND_POOL_MEAN},
        {12, 3, 20, 3, 12, 1, ATTEND_ACT_GELU, ATTEND_POS_SINUSOIDAL, ATTEND_POOL_CLS},
        {6, 1, 10, 1, 12, 0, ATTEND_ACT_GELU, ATTEND_POS_NONE, ATTEND_POOL_MEAN},
    };
    const char *names[3] = {"post-norm relu learned", "pre-norm gelu sinusoidal cls", "one head no positions"};
    const char *files[3] = {"post", "pre", "one"};
    for (size_t k = 0; k < 3; k++) {
        attend_model *m = make_model(&specs[k], 1000 + k);
        CHECK(m != NULL, "model %s", names[k]);
        if (!m) continue;
        test_library(m, names[k]);
        test_errors(m);
        if (k == 1) test_page(m, dir);
        test_cli(m, files[k], dir);
        attend_model_free(m);
    }
    return test_summary("test_explain");
}
