/* The text classifier through the library: initialisation, model files,
 * every architecture option, gradients and hostile model files.
 *
 *   init       attend_model_init_weights on a 50,000-token, 64-wide model with
 *              several seeds: every parameter finite, embeddings ~ N(0,0.02^2),
 *              <pad>'s row 0 (NaN embeddings once came from log(1 + tiny)).
 *   roundtrip  attend_model_save / attend_model_load keep the config, labels,
 *              vocabulary, provenance and every weight bit for bit; the same
 *              probabilities come out of attend_classify before and after; they
 *              sum to 1; a text without tokens gives n_tokens 0 and zeros;
 *              invalid UTF-8 is ATTEND_ERR_FORMAT; truncation at max_len.
 *   variants   every pos x pool x head x norm_first combination: create, init,
 *              save, load, classify; the right tensors exist; padding in a batch
 *              does not change a text's logits; without positions, mean and max
 *              pooling cannot see word order, with positions they do.
 *   grad       central differences of mean cross-entropy against
 *              attend_model_forward/backward for every tensor of small models
 *              (V 20, E 8, H 2, F 12, K 3, B 3, T 5, padded), per pooling, with
 *              hidden head layers, pre- and post-norm, and with dropout in
 *              training mode (reproducible from the seed). Gradients must be
 *              finite and not all zero, exactly zero for unused embedding rows
 *              and padded positions, and a second backward must add.
 *   hostile    a good model file rewritten with one defect each: attend_model_load
 *              fails with a status and a message naming the problem, without a
 *              huge allocation (allocations are capped while these run) and
 *              without leaking (the suite runs under ASan with SANITIZE=1).
 *
 * Scratch files go to $ATTEND_TMP/model (default /tmp/attend_test_model). */
#define _POSIX_C_SOURCE 200809L
#include "model/model.h"
#include "test.h"
#include "test_tmp.h"
#include "base/util.h"
#include "nn/layout.h"

#define PE_A (0.02 * 1.4142135623730951) /* amplitude of the sin/cos table */

#include <errno.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef TEST_ASAN
/* Under ASan a huge allocation must come back as NULL (and so as a failed
 * check), not abort the run; nothing this test does legitimately needs 1 GiB. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "allocator_may_return_null=1:max_allocation_size_mb=1024";
}
#endif

static char tmp_dir[512];

static void tmp_path(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", tmp_dir, name);
}

static void make_tmp_dir(void) { test_tmp_dir(tmp_dir, sizeof tmp_dir, "model"); }

/* ------------------------------------------------------------------------ */
/* Models for the tests                                                     */
/* ------------------------------------------------------------------------ */

/* Word i: "w" then letters, so the tokenizer keeps it as one token. */
static void word(char *buf, size_t i) {
    char tmp[16];
    size_t n = 0;
    do {
        tmp[n++] = (char)('a' + i % 26);
        i /= 26;
    } while (i && n < sizeof tmp);
    buf[0] = 'w';
    for (size_t j = 0; j < n; j++) buf[1 + j] = tmp[n - 1 - j];
    buf[1 + n] = '\0';
}

/* A vocabulary of exactly V ids: the specials then words w(0).. with counts
 * falling with i, so id 3 + i is word(i). */
static int make_vocab(attend_vocab *v, size_t V) {
    attend_vocab_counter c;
    attend_error err = {0};
    if (attend_vocab_counter_init(&c, &err)) return -1;
    char w[32];
    for (size_t i = 0; i + ATTEND_VOCAB_NSPECIAL < V; i++) {
        word(w, i);
        size_t reps = i < 100 ? 100 - i : 1;
        for (size_t r = 0; r < reps; r++)
            if (attend_vocab_counter_add(&c, w, strlen(w), &err)) {
                attend_vocab_counter_free(&c);
                return -1;
            }
    }
    attend_status st = attend_vocab_build(v, &c, 1, 0, &err);
    attend_vocab_counter_free(&c);
    if (st) fprintf(stderr, "make_vocab: %s\n", err.msg);
    return st ? -1 : 0;
}

/* attend_classify with a context of its own (made and freed per call, so
 * that every call also checks a fresh context gives the same answer). */
static attend_status tclassify(const attend_model *m, const char *text, size_t len, float *probs,
                               size_t *n_tokens, attend_error *err) {
    attend_context *ctx = NULL;
    attend_status st = attend_context_new(&ctx, m, err);
    if (st) return st;
    st = attend_classify(m, ctx, text, len, probs, n_tokens, err);
    attend_context_free(ctx);
    return st;
}

static const char *label_names[] = {"ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen"};

/* cfg->vocab_size and cfg->num_classes (<= 8) must be set. */
static attend_model *new_model(const attend_model_config *cfg, uint64_t seed) {
    attend_vocab v;
    attend_error err = {0};
    if (make_vocab(&v, cfg->vocab_size)) return NULL;
    CHECK(attend_vocab_size(&v) == cfg->vocab_size, "vocabulary has %zu ids, wanted %zu",
          attend_vocab_size(&v), cfg->vocab_size);
    attend_model *m = NULL;
    attend_tokenizer *words = NULL;
    attend_status st = attend_tokenizer_words_new(&words, &v, &err);
    if (!st) st = attend_model_create(&m, cfg, words, (char *const *)label_names, &err);
    CHECK(st == ATTEND_OK, "attend_model_create: %s", err.msg);
    if (st) return NULL;
    attend_model_init_weights(m, seed);
    return m;
}

static void small_config(attend_model_config *c) {
    attend_model_config_default(c);
    c->vocab_size = 60;
    c->num_classes = 3;
    c->d_model = 8;
    c->nhead = 2;
    c->num_layers = 2;
    c->dim_feedforward = 16;
    c->max_len = 16;
}

static int params_finite(const attend_model *m, size_t *bad) {
    for (size_t i = 0; i < m->layout.total; i++)
        if (!isfinite(m->params[i])) {
            *bad = i;
            return 0;
        }
    return 1;
}

static double sum_f(const float *x, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s;
}

/* ------------------------------------------------------------------------ */
/* init                                                                     */
/* ------------------------------------------------------------------------ */

static void test_init_large_vocab(void) {
    attend_model_config c;
    attend_model_config_default(&c);
    c.vocab_size = 50000;
    c.num_classes = 2;
    c.d_model = 64;
    c.num_layers = 1;
    attend_vocab v;
    if (make_vocab(&v, c.vocab_size)) {
        CHECK(0, "could not build a 50000-token vocabulary");
        return;
    }
    attend_model *m = NULL;
    attend_error err = {0};
    attend_tokenizer *words = NULL;
    attend_status st = attend_tokenizer_words_new(&words, &v, &err);
    if (!st) st = attend_model_create(&m, &c, words, (char *const *)label_names, &err);
    CHECK(st == ATTEND_OK, "create: %s", err.msg);
    if (st) return;
    const uint64_t seeds[] = {0, 1, 2, 42, 12345, 0xdeadbeefull, UINT64_MAX};
    for (size_t s = 0; s < sizeof seeds / sizeof *seeds; s++) {
        attend_model_init_weights(m, seeds[s]);
        size_t bad = 0;
        int fin = params_finite(m, &bad);
        const char *where = "?";
        for (size_t i = 0; !fin && i < m->layout.count; i++)
            if (bad >= m->layout.items[i].offset &&
                bad < m->layout.items[i].offset + m->layout.items[i].numel)
                where = m->layout.items[i].name;
        CHECK(fin, "seed %llu: parameter %zu (in %s) is %g", (unsigned long long)seeds[s], bad,
              where, fin ? 0.0 : (double)m->params[bad]);
        // embeddings ~ N(0, 0.02^2): mean near 0, std near 0.02, row 0 (<pad>) zero
        const size_t E = c.d_model, n = (c.vocab_size - 1) * E;
        double mean = 0.0, var = 0.0, maxabs = 0.0;
        for (size_t i = E; i < c.vocab_size * E; i++) mean += m->p.tok_emb[i];
        mean /= (double)n;
        for (size_t i = E; i < c.vocab_size * E; i++) {
            double d = m->p.tok_emb[i] - mean;
            var += d * d;
            if (fabs(m->p.tok_emb[i]) > maxabs) maxabs = fabs(m->p.tok_emb[i]);
        }
        var /= (double)n;
        CHECK(fabs(mean) < 0.0002, "seed %llu: embedding mean %g", (unsigned long long)seeds[s], mean);
        CHECK(fabs(sqrt(var) - 0.02) < 0.0004, "seed %llu: embedding std %g", (unsigned long long)seeds[s], sqrt(var));
        CHECK(maxabs < 7.0 * 0.02, "seed %llu: embedding entry of size %g", (unsigned long long)seeds[s], maxabs);
        double pad = 0.0;
        for (size_t i = 0; i < E; i++) pad += fabs(m->p.tok_emb[i]);
        CHECK(pad == 0.0, "seed %llu: <pad> embedding not zero", (unsigned long long)seeds[s]);
        // norms start at ones/zeros
        CHECK(m->p.layers[0].norm1_weight[0] == 1.0f && m->p.layers[0].norm1_bias[0] == 0.0f,
              "seed %llu: norm1 not ones/zeros", (unsigned long long)seeds[s]);
    }
    // different seeds give different weights, the same seed the same
    float *a = malloc(m->layout.total * sizeof(float));
    if (a) {
        attend_model_init_weights(m, 7);
        memcpy(a, m->params, m->layout.total * sizeof(float));
        attend_model_init_weights(m, 7);
        CHECK(memcmp(a, m->params, m->layout.total * sizeof(float)) == 0, "same seed, different weights");
        attend_model_init_weights(m, 8);
        CHECK(memcmp(a, m->params, m->layout.total * sizeof(float)) != 0, "seeds 7 and 8 give the same weights");
        free(a);
    }
    attend_model_free(m);
}

/* ------------------------------------------------------------------------ */
/* Save / load                                                              */
/* ------------------------------------------------------------------------ */

static int config_equal(const attend_model_config *a, const attend_model_config *b) {
    if (a->vocab_size != b->vocab_size || a->num_classes != b->num_classes ||
        a->d_model != b->d_model || a->nhead != b->nhead || a->num_layers != b->num_layers ||
        a->dim_feedforward != b->dim_feedforward || a->max_len != b->max_len ||
        a->pos != b->pos || a->pool != b->pool || a->n_hidden != b->n_hidden ||
        a->activation != b->activation || a->norm_first != b->norm_first ||
        a->layer_norm_eps != b->layer_norm_eps || a->dropout != b->dropout)
        return 0;
    for (size_t j = 0; j < a->n_hidden; j++)
        if (a->hidden[j] != b->hidden[j]) return 0;
    return 1;
}

/* Everything two models hold is the same (weights bit for bit). */
static void check_same_model(const attend_model *a, const attend_model *b, const char *what) {
    CHECK(config_equal(&a->cfg, &b->cfg), "%s: config differs", what);
    CHECK(attend_model_num_labels(a) == attend_model_num_labels(b), "%s: label count differs", what);
    for (size_t k = 0; k < attend_model_num_labels(a) && k < attend_model_num_labels(b); k++)
        CHECK(strcmp(attend_model_label(a, k), attend_model_label(b, k)) == 0,
              "%s: label %zu '%s' vs '%s'", what, k, attend_model_label(a, k), attend_model_label(b, k));
    CHECK(attend_model_label(b, attend_model_num_labels(b)) == NULL, "%s: label past the end", what);
    size_t V = attend_model_vocab_size(a);
    CHECK(V == attend_model_vocab_size(b), "%s: vocabulary size %zu vs %zu", what, V,
          attend_model_vocab_size(b));
    size_t diff = 0;
    for (size_t i = 0; i < V && i < attend_model_vocab_size(b); i++)
        diff += strcmp(attend_model_token(a, (int32_t)i), attend_model_token(b, (int32_t)i)) != 0;
    CHECK(diff == 0, "%s: %zu vocabulary tokens differ", what, diff);
    CHECK(a->layout.count == b->layout.count && a->layout.total == b->layout.total,
          "%s: layout %zu tensors / %zu floats vs %zu / %zu", what, a->layout.count, a->layout.total,
          b->layout.count, b->layout.total);
    for (size_t i = 0; i < a->layout.count && i < b->layout.count; i++) {
        const attend_param_info *x = &a->layout.items[i], *y = &b->layout.items[i];
        CHECK(strcmp(x->name, y->name) == 0 && x->numel == y->numel && x->offset == y->offset &&
                  x->shape[0] == y->shape[0] && x->shape[1] == y->shape[1],
              "%s: tensor %zu '%s' vs '%s'", what, i, x->name, y->name);
    }
    size_t wdiff = 0;
    for (size_t i = 0; i < a->layout.count && i < b->layout.count; i++)
        if (a->layout.items[i].numel == b->layout.items[i].numel)
            wdiff += memcmp(attend_model_view(a, i), attend_model_view(b, i),
                            a->layout.items[i].numel * sizeof(float)) != 0;
    CHECK(wdiff == 0, "%s: weights of %zu tensors are not bit-identical", what, wdiff);
}

static const char *texts[] = {
    "wa wb wc",
    "WB, wd! wa wa wz",
    "wc",
    "wb unknownword wbb 42 ?",
    "\xc3\x89t\xc3\xa9 wa", /* "Été wa" */
    "wd wc wb wa wb wc wd wa wb wc wd",
};
#define N_TEXTS (sizeof texts / sizeof *texts)

static void test_roundtrip(void) {
    attend_model_config c;
    small_config(&c);
    c.vocab_size = 200;
    c.num_classes = 4;
    c.d_model = 16;
    c.nhead = 4;
    c.max_len = 12;
    c.n_hidden = 1;
    c.hidden[0] = 12;
    c.dropout = 0.25f;
    c.layer_norm_eps = 1e-6f;
    attend_model *m = new_model(&c, 3);
    if (!m) return;
    m->meta_provenance = attend_strdup("{\"data\":\"x.tsv\",\"seed\":3}");
    m->meta_training = attend_strdup("{\"epochs\":1}");
    char path[600];
    tmp_path(path, sizeof path, "roundtrip.safetensors");
    attend_error err = {0};
    attend_status st = attend_model_save(m, path, &err);
    CHECK(st == ATTEND_OK, "save: %s", err.msg);
    attend_model *m2 = NULL;
    st = attend_model_load(&m2, path, &err);
    CHECK(st == ATTEND_OK, "load: %s", err.msg);
    if (!m2) {
        attend_model_free(m);
        return;
    }
    check_same_model(m, m2, "roundtrip");
    CHECK(m2->meta_provenance && strcmp(m2->meta_provenance, m->meta_provenance) == 0,
          "provenance not kept: %s", m2->meta_provenance ? m2->meta_provenance : "(none)");
    CHECK(m2->meta_training && strcmp(m2->meta_training, m->meta_training) == 0,
          "training summary not kept");
    CHECK(attend_model_get_config(m2)->d_model == 16, "attend_model_get_config");

    // a second save of the loaded model gives the same bytes
    char path2[600];
    tmp_path(path2, sizeof path2, "roundtrip2.safetensors");
    st = attend_model_save(m2, path2, &err);
    CHECK(st == ATTEND_OK, "save again: %s", err.msg);
    FILE *f1 = fopen(path, "rb"), *f2 = fopen(path2, "rb");
    if (f1 && f2) {
        int same = 1, c1, c2;
        do {
            c1 = fgetc(f1);
            c2 = fgetc(f2);
            if (c1 != c2) same = 0;
        } while (same && c1 != EOF);
        CHECK(same, "saving a loaded model does not reproduce the file");
    }
    if (f1) fclose(f1);
    if (f2) fclose(f2);

    // classification: identical before and after, probabilities sum to 1
    float p1[8], p2[8];
    for (size_t i = 0; i < N_TEXTS; i++) {
        size_t n1 = 99, n2 = 99;
        attend_status s1 = tclassify(m, texts[i], strlen(texts[i]), p1, &n1, &err);
        attend_status s2 = tclassify(m2, texts[i], strlen(texts[i]), p2, &n2, &err);
        CHECK(s1 == ATTEND_OK && s2 == ATTEND_OK, "classify '%s': %s", texts[i], err.msg);
        CHECK(n1 == n2 && n1 > 0, "'%s': %zu vs %zu tokens", texts[i], n1, n2);
        CHECK(memcmp(p1, p2, 4 * sizeof(float)) == 0, "'%s': probabilities differ after load", texts[i]);
        CHECK_NEAR(sum_f(p1, 4), 1.0, 1e-5, "sum of probabilities");
        for (size_t k = 0; k < 4; k++)
            CHECK(p1[k] > 0.0f && p1[k] < 1.0f, "'%s': probability %zu = %g", texts[i], k, (double)p1[k]);
    }
    // token counts and truncation at max_len (12)
    size_t n = 0;
    tclassify(m2, texts[0], strlen(texts[0]), p2, &n, &err);
    CHECK(n == 3, "'%s' gave %zu tokens, expected 3", texts[0], n);
    tclassify(m2, texts[5], strlen(texts[5]), p2, &n, &err);
    CHECK(n == 11, "11 words gave %zu tokens", n);
    const char *longer = "wa wb wc wd wa wb wc wd wa wb wc wd wa wb wc wd wa wb wc wd";
    tclassify(m2, longer, strlen(longer), p2, &n, &err);
    CHECK(n == 12, "20 words gave %zu tokens, expected the max_len 12", n);
    CHECK_NEAR(sum_f(p2, 4), 1.0, 1e-5, "sum of probabilities (truncated)");
    // the workspace of a long text does not leak into a short one
    float p3[8];
    tclassify(m2, texts[2], strlen(texts[2]), p2, &n, &err);
    attend_model *m3 = NULL;
    if (attend_model_load(&m3, path, &err) == ATTEND_OK) {
        tclassify(m3, texts[2], strlen(texts[2]), p3, &n, &err);
        CHECK(memcmp(p2, p3, 4 * sizeof(float)) == 0, "a short text after a long one classifies differently");
        attend_model_free(m3);
    }
    // NULL n_tokens is allowed
    CHECK(tclassify(m2, texts[1], strlen(texts[1]), p2, NULL, &err) == ATTEND_OK, "NULL n_tokens");
    // len is honoured: only the first word
    tclassify(m2, "wa wb wc", 2, p2, &n, &err);
    CHECK(n == 1, "len 2 of 'wa wb wc' gave %zu tokens", n);

    // no tokens: n_tokens 0, all-zero probabilities, not an error
    const char *empties[] = {"   ", "", "\t \r\n", "\xc2\xad" /* soft hyphen */};
    for (size_t i = 0; i < sizeof empties / sizeof *empties; i++) {
        for (size_t k = 0; k < 4; k++) p2[k] = 0.5f;
        n = 99;
        st = tclassify(m2, empties[i], strlen(empties[i]), p2, &n, &err);
        CHECK(st == ATTEND_OK, "empty text %zu: %s", i, err.msg);
        CHECK(n == 0, "empty text %zu: %zu tokens", i, n);
        CHECK(p2[0] == 0.0f && p2[1] == 0.0f && p2[2] == 0.0f && p2[3] == 0.0f,
              "empty text %zu: probabilities not zero", i);
    }
    // invalid UTF-8: a format error
    const char *bad[] = {"\xff", "wa \xc3\x28 wb", "\xed\xa0\x80", "\xc0\xaf", "wa \xf4\x90\x80\x80"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err.msg[0] = '\0';
        st = tclassify(m2, bad[i], strlen(bad[i]), p2, &n, &err);
        CHECK(st == ATTEND_ERR_FORMAT, "invalid UTF-8 %zu: status %d", i, (int)st);
        CHECK(err.msg[0] != '\0', "invalid UTF-8 %zu: no message", i);
    }
    // and the model still works afterwards
    CHECK(tclassify(m2, texts[0], strlen(texts[0]), p2, &n, &err) == ATTEND_OK && n == 3,
          "classify after an error");

    // the stored dropout is the config's, but inference ignores it: repeated calls agree
    tclassify(m2, texts[3], strlen(texts[3]), p2, &n, &err);
    tclassify(m2, texts[3], strlen(texts[3]), p3, &n, &err);
    CHECK(memcmp(p2, p3, 4 * sizeof(float)) == 0, "two calls on the same text disagree");

    attend_model_free(m);
    attend_model_free(m2);
    remove(path);
    remove(path2);
}

/* ------------------------------------------------------------------------ */
/* Every architecture option                                                */
/* ------------------------------------------------------------------------ */

/* logits of one text through attend_model_forward in a padded batch of 2
 * (the text first, a longer one second) must equal attend_classify's. */
static void check_padding_invariance(attend_model *m, const char *name) {
    const attend_model_config *c = &m->cfg;
    const size_t K = c->num_classes;
    int32_t e1[64], e2[64], ids[128]; /* attend_model_encode writes up to max_len (16) */
    uint8_t pad[128];
    size_t n1 = 0, n2 = 0;
    void *tok = NULL;
    attend_error err = {0};
    if (attend_tokenizer_scratch_new(m->tok, &tok, &err)) return;
    attend_model_encode(m, tok, "wb wa", 5, e1, &n1, NULL, &err);
    attend_model_encode(m, tok, "wc wd wa wb wc wd", 17, e2, &n2, NULL, &err);
    attend_tokenizer_scratch_free(m->tok, tok);
    const size_t T = n2;
    CHECK(n1 < n2 && n2 <= 7, "%s: encoded lengths %zu, %zu", name, n1, n2);
    if (!(n1 < n2 && n2 <= 7)) return;
    for (size_t t = 0; t < T; t++) {
        ids[t] = t < n1 ? e1[t] : m->tok->pad_id;
        pad[t] = t >= n1;
        ids[T + t] = e2[t];
        pad[T + t] = 0;
    }
    size_t sz = attend_model_acts_size(c, 2, T, 0);
    float *mem = calloc(sz, sizeof(float));
    if (!mem) return;
    attend_model_acts a;
    attend_model_acts_bind(&a, c, 2, T, 0, mem);
    attend_model_forward(m, &a, ids, pad, 2, T, 0, 0);
    float pb[8], pc[8];
    attend_softmax_forward(pb, a.logits, 1, K);
    size_t n = 0;
    tclassify(m, "wb wa", 5, pc, &n, &err);
    double d = 0.0;
    for (size_t k = 0; k < K; k++) d = fmax(d, fabs((double)pb[k] - pc[k]));
    CHECK(d < 1e-5, "%s: padding changes the probabilities by %g", name, d);
    free(mem);
}

static void test_variants(void) {
    static const char *pos_name[] = {"learned", "sinusoidal", "none"};
    static const char *pool_name[] = {"mean", "cls", "max"};
    int idx = 0;
    for (int pos = 0; pos < 3; pos++)
        for (int pool = 0; pool < 3; pool++)
            for (int hidden = 0; hidden < 2; hidden++)
                for (int nf = 0; nf < 2; nf++, idx++) {
                    attend_model_config c;
                    small_config(&c);
                    c.pos = (attend_pos_kind)pos;
                    c.pool = (attend_pool_kind)pool;
                    c.norm_first = nf;
                    c.activation = idx % 3 == 0 ? ATTEND_ACT_GELU : ATTEND_ACT_RELU;
                    c.num_layers = idx % 5 == 4 ? 0 : 1 + (size_t)(idx % 2);
                    if (hidden) {
                        c.n_hidden = 1 + (size_t)(idx % 3 == 1);
                        c.hidden[0] = 10;
                        c.hidden[1] = 5;
                    }
                    char name[96];
                    snprintf(name, sizeof name, "pos %s, pool %s, hidden %zu, %s, %zu layers",
                             pos_name[pos], pool_name[pool], c.n_hidden,
                             nf ? "pre-norm" : "post-norm", c.num_layers);
                    attend_error err = {0};
                    CHECK(attend_model_config_check(&c, &err) == ATTEND_OK, "%s: %s", name, err.msg);
                    attend_model *m = new_model(&c, 100 + (uint64_t)idx);
                    if (!m) continue;
                    // the tensors the options imply, and only those
                    CHECK((attend_layout_find(&m->layout, "pos_embedding.weight") >= 0) ==
                              (pos == ATTEND_POS_LEARNED), "%s: pos_embedding presence", name);
                    CHECK((attend_layout_find(&m->layout, "encoder.norm.weight") >= 0) == nf &&
                              (attend_layout_find(&m->layout, "encoder.norm.bias") >= 0) == nf,
                          "%s: encoder.norm presence", name);
                    CHECK((attend_layout_find(&m->layout, "head.fc1.weight") >= 0) == hidden &&
                              (attend_layout_find(&m->layout, "head.fc2.weight") >= 0) == (c.n_hidden == 2),
                          "%s: head.fcN presence", name);
                    CHECK(attend_layout_find(&m->layout, "head.out.weight") >= 0 &&
                              attend_layout_find(&m->layout, "embedding.weight") >= 0,
                          "%s: embedding / head.out missing", name);
                    CHECK((attend_layout_find(&m->layout, "encoder.layers.0.linear1.weight") >= 0) ==
                              (c.num_layers > 0), "%s: encoder layer presence", name);
                    long ho = attend_layout_find(&m->layout, "head.out.weight");
                    if (ho >= 0)
                        CHECK(m->layout.items[ho].shape[0] == 3 &&
                                  m->layout.items[ho].shape[1] == (hidden ? c.hidden[c.n_hidden - 1] : 8),
                              "%s: head.out.weight shape", name);
                    if (pos == ATTEND_POS_SINUSOIDAL) {
                        // pe[t, 2i] = a sin(t / 10000^(2i/E)), pe[t, 2i+1] = a cos(...),
                        // a = 0.02 sqrt 2 (the learned table's initial RMS)
                        CHECK(m->sinusoid != NULL, "%s: no sinusoid table", name);
                        if (m->sinusoid) {
                            CHECK_NEAR(m->sinusoid[3 * 8 + 0], PE_A * sin(3.0), 1e-6, "pe[3,0]");
                            CHECK_NEAR(m->sinusoid[3 * 8 + 1], PE_A * cos(3.0), 1e-6, "pe[3,1]");
                            CHECK_NEAR(m->sinusoid[5 * 8 + 4], PE_A * sin(5.0 / pow(10000.0, 4.0 / 8.0)), 1e-6, "pe[5,4]");
                            CHECK_NEAR(m->sinusoid[5 * 8 + 7], PE_A * cos(5.0 / pow(10000.0, 6.0 / 8.0)), 1e-6, "pe[5,7]");
                        }
                    }
                    size_t bad = 0;
                    CHECK(params_finite(m, &bad), "%s: parameter %zu not finite", name, bad);

                    char path[600];
                    tmp_path(path, sizeof path, "variant.safetensors");
                    attend_status st = attend_model_save(m, path, &err);
                    CHECK(st == ATTEND_OK, "%s: save: %s", name, err.msg);
                    attend_model *m2 = NULL;
                    st = attend_model_load(&m2, path, &err);
                    CHECK(st == ATTEND_OK, "%s: load: %s", name, err.msg);
                    if (m2) {
                        check_same_model(m, m2, name);
                        float p1[3], p2[3];
                        for (size_t i = 0; i < N_TEXTS; i++) {
                            size_t n1 = 0, n2 = 0;
                            attend_status s1 = tclassify(m, texts[i], strlen(texts[i]), p1, &n1, &err);
                            attend_status s2 = tclassify(m2, texts[i], strlen(texts[i]), p2, &n2, &err);
                            CHECK(s1 == ATTEND_OK && s2 == ATTEND_OK && n1 == n2 && n1 > 0,
                                  "%s: classify '%s'", name, texts[i]);
                            CHECK(memcmp(p1, p2, sizeof p1) == 0, "%s: '%s' differs after load", name, texts[i]);
                            CHECK_NEAR(sum_f(p2, 3), 1.0, 1e-5, name);
                        }
                        size_t n = 99;
                        float pz[3] = {1, 1, 1};
                        tclassify(m2, "  ", 2, pz, &n, &err);
                        CHECK(n == 0 && pz[0] == 0.0f && pz[1] == 0.0f && pz[2] == 0.0f,
                              "%s: empty text gave %zu tokens", name, n);
                        // cls pooling counts real tokens only
                        tclassify(m2, "wa wb", 5, pz, &n, &err);
                        CHECK(n == 2, "%s: 'wa wb' gave %zu tokens", name, n);
                        check_padding_invariance(m2, name);
                        // word order: invisible without positions under mean/max
                        // pooling, visible with them
                        float pa[3], pr[3];
                        tclassify(m2, "wa wb wc wd", 11, pa, &n, &err);
                        tclassify(m2, "wd wc wb wa", 11, pr, &n, &err);
                        double d = 0.0;
                        for (size_t k = 0; k < 3; k++) d = fmax(d, fabs((double)pa[k] - pr[k]));
                        if (pos == ATTEND_POS_NONE && pool != ATTEND_POOL_CLS)
                            CHECK(d < 1e-5, "%s: word order changes the output by %g", name, d);
                        else if (pos != ATTEND_POS_NONE && c.num_layers > 0)
                            /* small at initialisation (0.02-scale position tables) but present */
                            CHECK(d > 1e-8, "%s: word order makes no difference (%g)", name, d);
                        attend_model_free(m2);
                    }
                    attend_model_free(m);
                    remove(path);
                }
}

/* ------------------------------------------------------------------------ */
/* Gradients by central differences                                         */
/* ------------------------------------------------------------------------ */

enum { GB = 3, GT = 5 };

typedef struct {
    attend_model *m;
    attend_model_acts a;
    float *mem;
    int32_t tokens[GB * GT];
    uint8_t pad[GB * GT];
    int32_t targets[GB];
    int training;
    uint64_t seed;
} grad_case;

/* Mean cross-entropy of the current logits, in double. */
static double gc_loss(grad_case *g) {
    const size_t K = g->m->cfg.num_classes;
    attend_model_forward(g->m, &g->a, g->tokens, g->pad, GB, GT, g->training, g->seed);
    double L = 0.0;
    for (size_t b = 0; b < GB; b++) {
        const float *z = g->a.logits + b * K;
        double mx = z[0], s = 0.0;
        for (size_t k = 1; k < K; k++) mx = fmax(mx, z[k]);
        for (size_t k = 0; k < K; k++) s += exp((double)z[k] - mx);
        L += mx + log(s) - (double)z[g->targets[b]];
    }
    return L / GB;
}

typedef struct {
    const char *name;
    attend_pool_kind pool;
    attend_pos_kind pos;
    int norm_first;
    size_t layers;
    size_t n_hidden;
    attend_activation act;
    int training;
    float dropout;
} grad_spec;

static void grad_check(const grad_spec *sp) {
    attend_model_config c;
    attend_model_config_default(&c);
    c.vocab_size = 20;
    c.num_classes = 3;
    c.d_model = 8;
    c.nhead = 2;
    c.num_layers = sp->layers;
    c.dim_feedforward = 12;
    c.max_len = 8;
    c.pos = sp->pos;
    c.pool = sp->pool;
    c.norm_first = sp->norm_first;
    c.activation = sp->act;
    c.dropout = sp->dropout;
    c.n_hidden = sp->n_hidden;
    c.hidden[0] = 7;
    c.hidden[1] = 6;
    grad_case g;
    memset(&g, 0, sizeof g);
    g.m = new_model(&c, 77);
    if (!g.m) return;
    attend_model *m = g.m;
    const size_t P = m->layout.total, E = c.d_model;
    // the biases start at 0 and the norms at 1/0: move them so that their
    // gradients are generic
    for (size_t i = 0; i < P; i++) m->params[i] += 0.1f * test_randn();
    g.training = sp->training;
    g.seed = 991;
    // lengths 5, 3, 2 (T = 5): real tokens from 3.., token 5 repeated, then <pad>;
    // cls pooling puts <cls> first. Tokens 17..19 are never used.
    const size_t lens[GB] = {5, 3, 2};
    const int32_t toks[GB][GT] = {{5, 7, 5, 9, 11}, {4, 5, 12, 0, 0}, {13, 3, 0, 0, 0}};
    for (size_t b = 0; b < GB; b++)
        for (size_t t = 0; t < GT; t++) {
            int32_t id = toks[b][t];
            if (c.pool == ATTEND_POOL_CLS) id = t == 0 ? ATTEND_VOCAB_CLS : toks[b][t - 1];
            g.tokens[b * GT + t] = t < lens[b] ? id : ATTEND_VOCAB_PAD;
            g.pad[b * GT + t] = t >= lens[b];
        }
    g.targets[0] = 2;
    g.targets[1] = 0;
    g.targets[2] = 1;
    size_t sz = attend_model_acts_size(&c, GB, GT, 1);
    g.mem = calloc(sz, sizeof(float));
    float *grads = calloc(P, sizeof(float)), *grads2 = calloc(P, sizeof(float));
    float *probs = calloc(GB * c.num_classes, sizeof(float));
    if (!g.mem || !grads || !grads2 || !probs) {
        CHECK(0, "%s: out of memory", sp->name);
        goto done;
    }
    attend_model_acts_bind(&g.a, &c, GB, GT, 1, g.mem);
    attend_layout L;
    memset(&L, 0, sizeof L);
    L.base = grads;
    attend_model_params gp;
    attend_model_layout(&L, &c, &gp);

    // analytic: forward, cross-entropy, backward (twice: it must add)
    double L0 = gc_loss(&g);
    float ce = attend_crossentropy_forward(probs, g.a.logits, g.targets, NULL, 0.0f, GB, c.num_classes);
    CHECK_NEAR(ce, L0, 1e-5, "library cross-entropy vs double");
    memset(g.a.dlogits, 0, GB * c.num_classes * sizeof(float));
    attend_crossentropy_backward(g.a.dlogits, probs, g.targets, NULL, 0.0f, 1.0f, GB, c.num_classes);
    attend_model_backward(m, &gp, &g.a, g.tokens, g.pad, GB, GT, g.training, g.seed);
    memcpy(grads2, grads, P * sizeof(float));
    attend_model_backward(m, &gp, &g.a, g.tokens, g.pad, GB, GT, g.training, g.seed);
    double add_err = 0.0;
    for (size_t i = 0; i < P; i++) {
        add_err = fmax(add_err, fabs((double)grads[i] - 2.0 * grads2[i]));
        grads[i] = grads2[i];
    }
    CHECK(add_err < 1e-6, "%s: a second backward does not add (max diff %g)", sp->name, add_err);

    // the forward is a pure function of (weights, seed): dropout reproducible
    double L1 = gc_loss(&g);
    CHECK(L1 == L0, "%s: the same forward twice gives %.9g and %.9g", sp->name, L0, L1);
    if (sp->training && sp->dropout > 0.0f) {
        g.training = 0;
        double Le = gc_loss(&g);
        g.training = 1;
        CHECK(Le != L0, "%s: dropout in training mode changes nothing", sp->name);
    }

    // numeric, tensor by tensor
    const float eps = 1e-3f;
    double worst = 0.0;
    const char *worst_name = "";
    size_t n_checked = 0;
    for (size_t ti = 0; ti < m->layout.count; ti++) {
        const attend_param_info *it = &m->layout.items[ti];
        const float *ga = grads + it->offset;
        int finite = 1;
        for (size_t j = 0; j < it->numel; j++) finite &= isfinite(ga[j]) != 0;
        CHECK(finite, "%s: %s has a non-finite gradient", sp->name, it->name);
        // which entries matter: embedding rows of used tokens, position rows < T
        int is_emb = strcmp(it->name, "embedding.weight") == 0;
        int is_pos = strcmp(it->name, "pos_embedding.weight") == 0;
        size_t cand[4096], nc = 0;
        double zero_err = 0.0;
        for (size_t j = 0; j < it->numel && nc < 4096; j++) {
            size_t row = j / E;
            int live = 1;
            if (is_emb) {
                live = 0;
                for (size_t bt = 0; bt < GB * GT; bt++)
                    if (!g.pad[bt] && (size_t)g.tokens[bt] == row) live = 1;
            } else if (is_pos) {
                live = row < GT;
            }
            if (live) cand[nc++] = j;
            else zero_err = fmax(zero_err, fabs(ga[j]));
        }
        CHECK(zero_err == 0.0, "%s: %s: rows that no real token uses have gradient %g", sp->name,
              it->name, zero_err);
        double maxa = 0.0;
        for (size_t q = 0; q < nc; q++) maxa = fmax(maxa, fabs(ga[cand[q]]));
        CHECK(maxa > 0.0, "%s: %s: gradient is all zero", sp->name, it->name);
        // a spread of at most 24 entries
        const size_t nq = nc < 24 ? nc : 24;
        double maxn = 0.0, maxd = 0.0;
        for (size_t q = 0; q < nq; q++) {
            size_t j = cand[(q * nc) / nq];
            float *w = m->params + it->offset + j;
            const float w0 = *w;
            *w = w0 + eps;
            const float wp = *w;
            double Lp = gc_loss(&g);
            *w = w0 - eps;
            const float wm = *w;
            double Lm = gc_loss(&g);
            *w = w0;
            double num = (Lp - Lm) / ((double)wp - (double)wm);
            maxn = fmax(maxn, fabs(num));
            maxd = fmax(maxd, fabs(num - (double)ga[j]));
            n_checked++;
        }
        double rel = maxd / fmax(maxn, 1e-3);
        CHECK(rel < 2e-2, "%s: %s: analytic vs numeric gradient max diff %g (relative %g)",
              sp->name, it->name, maxd, rel);
        if (rel > worst) {
            worst = rel;
            worst_name = it->name;
        }
    }
    printf("grad %-44s %3zu tensors, %4zu entries, worst relative error %.2e (%s)\n", sp->name,
           m->layout.count, n_checked, worst, worst_name);
done:
    free(g.mem);
    free(grads);
    free(grads2);
    free(probs);
    attend_model_free(m);
}

static void test_gradients(void) {
    const grad_spec specs[] = {
        {"mean, post-norm, 1 layer, hidden 7", ATTEND_POOL_MEAN, ATTEND_POS_LEARNED, 0, 1, 1,
         ATTEND_ACT_RELU, 0, 0.0f},
        {"mean, pre-norm, 2 layers, hidden 7,6, gelu", ATTEND_POOL_MEAN, ATTEND_POS_LEARNED, 1, 2, 2,
         ATTEND_ACT_GELU, 0, 0.0f},
        {"cls, pre-norm, 2 layers, hidden 7", ATTEND_POOL_CLS, ATTEND_POS_LEARNED, 1, 2, 1,
         ATTEND_ACT_RELU, 0, 0.0f},
        {"cls, post-norm, 1 layer, sinusoidal", ATTEND_POOL_CLS, ATTEND_POS_SINUSOIDAL, 0, 1, 0,
         ATTEND_ACT_GELU, 0, 0.0f},
        {"max, pre-norm, 1 layer, hidden 7", ATTEND_POOL_MAX, ATTEND_POS_LEARNED, 1, 1, 1,
         ATTEND_ACT_GELU, 0, 0.0f},
        {"max, post-norm, 2 layers, no positions", ATTEND_POOL_MAX, ATTEND_POS_NONE, 0, 2, 0,
         ATTEND_ACT_RELU, 0, 0.0f},
        {"mean, 0 layers, hidden 7", ATTEND_POOL_MEAN, ATTEND_POS_LEARNED, 0, 0, 1,
         ATTEND_ACT_RELU, 0, 0.0f},
        {"mean, pre-norm, hidden 7, training, dropout 0.1", ATTEND_POOL_MEAN, ATTEND_POS_LEARNED, 1,
         2, 1, ATTEND_ACT_GELU, 1, 0.1f},
        {"cls, post-norm, hidden 7,6, training, dropout 0.1", ATTEND_POOL_CLS, ATTEND_POS_LEARNED, 0,
         1, 2, ATTEND_ACT_RELU, 1, 0.1f},
    };
    for (size_t i = 0; i < sizeof specs / sizeof *specs; i++) grad_check(&specs[i]);
}

/* ------------------------------------------------------------------------ */
/* Hostile model files                                                      */
/* ------------------------------------------------------------------------ */

/* One defect to write into a copy of a good model file. */
typedef struct {
    const char *what;
    const char *meta_key;    /* set (or, with meta_val NULL, drop) this metadata entry */
    const char *meta_val;
    const char *find, *repl; /* or: replace find by repl in meta_key's current value */
    const char *drop;        /* leave this tensor out */
    const char *transpose;   /* write this tensor with its shape reversed (or (1,n)) */
    const char *extra;       /* add a tensor of 8 floats under this name */
    const char *nan;         /* put a NaN (or, with inf set, an Inf) into this tensor */
    int inf;
    const char *f16;         /* write this tensor as F16 */
    attend_status want;      /* expected status; ATTEND_OK = any failure */
    const char *keyword;     /* the message must contain this (or one of a|b|c) */
} defect;

static char *replace_str(const char *s, const char *find, const char *repl) {
    const char *at = strstr(s, find);
    if (!at) return NULL;
    size_t n = strlen(s) - strlen(find) + strlen(repl);
    char *out = malloc(n + 1);
    if (!out) return NULL;
    size_t pre = (size_t)(at - s);
    memcpy(out, s, pre);
    strcpy(out + pre, repl);
    strcat(out, at + strlen(find));
    return out;
}

/* Copies the model file src to dst with the defect d. 0 on success. */
static int write_defect(const char *src, const char *dst, const defect *d) {
    attend_st_file *f = NULL;
    attend_error err = {0};
    if (attend_st_open(&f, src, &err)) {
        fprintf(stderr, "write_defect: %s\n", err.msg);
        return -1;
    }
    attend_st_writer *w = attend_st_writer_new();
    char *edited = NULL;
    void *bufs[4] = {NULL, NULL, NULL, NULL};
    int nb = 0, rc = -1;
    static const float extra_data[8] = {0};
    if (!w) goto done;
    for (size_t i = 0; i < attend_st_count(f); i++) {
        const attend_st_tensor *t = attend_st_at(f, i);
        if (d->drop && strcmp(t->name, d->drop) == 0) continue;
        size_t shape[ATTEND_ST_MAX_DIMS], ndim = t->ndim;
        memcpy(shape, t->shape, sizeof shape);
        const void *data = t->data;
        attend_dtype dt = t->dtype;
        if (d->transpose && strcmp(t->name, d->transpose) == 0) {
            if (ndim == 2) {
                shape[0] = t->shape[1];
                shape[1] = t->shape[0];
            } else {
                ndim = 2;
                shape[0] = 1;
                shape[1] = t->shape[0];
            }
        }
        if (d->nan && strcmp(t->name, d->nan) == 0) {
            float *c = malloc(t->nbytes);
            if (!c) goto done;
            memcpy(c, t->data, t->nbytes);
            c[t->numel / 2] = d->inf ? -INFINITY : NAN;
            data = bufs[nb++] = c;
        }
        if (d->f16 && strcmp(t->name, d->f16) == 0) {
            uint16_t *h = calloc(t->numel, 2);
            if (!h) goto done;
            for (size_t j = 0; j < t->numel; j++) h[j] = 0x3c00; /* 1.0 */
            data = bufs[nb++] = h;
            dt = ATTEND_DTYPE_F16;
        }
        if (attend_st_writer_add(w, t->name, dt, ndim, shape, data, &err)) goto done;
    }
    if (d->extra) {
        size_t shape[1] = {8};
        if (attend_st_writer_add(w, d->extra, ATTEND_DTYPE_F32, 1, shape, extra_data, &err)) goto done;
    }
    int meta_done = 0;
    for (size_t i = 0; i < attend_st_meta_count(f); i++) {
        const char *k, *v;
        attend_st_meta_at(f, i, &k, &v);
        if (d->meta_key && strcmp(k, d->meta_key) == 0) {
            meta_done = 1;
            if (d->find) {
                if (!(edited = replace_str(v, d->find, d->repl))) {
                    fprintf(stderr, "write_defect: '%s' not in metadata '%s'\n", d->find, k);
                    goto done;
                }
                v = edited;
            } else {
                v = d->meta_val;
            }
            if (!v) continue;
        }
        if (attend_st_writer_meta(w, k, v, &err)) goto done;
    }
    if (d->meta_key && !meta_done && d->meta_val &&
        attend_st_writer_meta(w, d->meta_key, d->meta_val, &err))
        goto done;
    if (attend_st_writer_save(w, dst, &err)) goto done;
    rc = 0;
done:
    if (rc) fprintf(stderr, "write_defect (%s): %s\n", d->what, err.msg);
    attend_st_writer_free(w);
    free(edited);
    for (int i = 0; i < nb; i++) free(bufs[i]);
    attend_st_close(f);
    return rc;
}

/* msg contains one of the '|'-separated words of keys. */
static int mentions(const char *msg, const char *keys) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", keys);
    for (char *k = buf, *e; k; k = e) {
        if ((e = strchr(k, '|'))) *e++ = '\0';
        if (strstr(msg, k)) return 1;
    }
    return 0;
}

#ifndef TEST_ASAN
/* Current virtual size of this process in bytes (Linux), or 0. */
static size_t vm_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;
    if (!f) return 0;
    if (fscanf(f, "%lu", &pages) != 1) pages = 0;
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return (size_t)pages * (size_t)(page > 0 ? page : 4096);
}
#endif

static void test_hostile(void) {
    attend_model_config c;
    small_config(&c);
    c.vocab_size = 30;
    c.num_layers = 1;
    c.n_hidden = 1;
    c.hidden[0] = 6;
    attend_model *m = new_model(&c, 5);
    if (!m) return;
    m->meta_provenance = attend_strdup("{\"data\":\"x.tsv\"}");
    char good[600], bad[600];
    tmp_path(good, sizeof good, "good.safetensors");
    tmp_path(bad, sizeof bad, "bad.safetensors");
    attend_error err = {0};
    CHECK(attend_model_save(m, good, &err) == ATTEND_OK, "save: %s", err.msg);
    attend_model_free(m);
    m = NULL;
    CHECK(attend_model_load(&m, good, &err) == ATTEND_OK, "the good file does not load: %s", err.msg);
    attend_model_free(m);

    const char *config_huge =
        "{\"vocab_size\":30,\"num_classes\":3,\"d_model\":16384,\"nhead\":1,\"num_layers\":64,"
        "\"dim_feedforward\":16384,\"max_len\":16384,\"pos\":\"sinusoidal\",\"pool\":\"mean\","
        "\"head_hidden\":[16384,16384,16384,16384],\"activation\":\"relu\",\"norm_first\":false,"
        "\"layer_norm_eps\":1e-05,\"dropout\":0.1}";
    const defect defects[] = {
        {.what = "format missing", .meta_key = "format", .keyword = "format"},
        {.what = "format wrong", .meta_key = "format", .meta_val = "attend.classifier.v9",
         .want = ATTEND_ERR_FORMAT, .keyword = "format"},
        {.what = "config missing", .meta_key = "config", .keyword = "config"},
        {.what = "vocab missing", .meta_key = "vocab", .keyword = "vocab"},
        {.what = "labels missing", .meta_key = "labels", .keyword = "labels"},
        {.what = "config not JSON", .meta_key = "config", .meta_val = "{\"d_model\": 8,",
         .keyword = "config"},
        {.what = "config an array", .meta_key = "config", .meta_val = "[1,2,3]", .keyword = "config"},
        {.what = "d_model not divisible by nhead", .meta_key = "config", .find = "\"nhead\":2",
         .repl = "\"nhead\":3", .keyword = "divisible"},
        {.what = "vocab_size 1e12", .meta_key = "config", .find = "\"vocab_size\":30",
         .repl = "\"vocab_size\":1000000000000", .keyword = "vocab_size"},
        {.what = "max_len 1e9", .meta_key = "config", .find = "\"max_len\":16",
         .repl = "\"max_len\":1000000000", .keyword = "max_len"},
        {.what = "d_model 1e18", .meta_key = "config", .find = "\"d_model\":8",
         .repl = "\"d_model\":1e18", .keyword = "d_model"},
        {.what = "num_layers 1e6", .meta_key = "config", .find = "\"num_layers\":1",
         .repl = "\"num_layers\":1000000", .keyword = "num_layers"},
        {.what = "d_model negative", .meta_key = "config", .find = "\"d_model\":8",
         .repl = "\"d_model\":-8", .keyword = "d_model"},
        {.what = "d_model fractional", .meta_key = "config", .find = "\"d_model\":8",
         .repl = "\"d_model\":8.5", .keyword = "d_model"},
        {.what = "d_model a string", .meta_key = "config", .find = "\"d_model\":8",
         .repl = "\"d_model\":\"8\"", .keyword = "d_model"},
        {.what = "unknown pooling", .meta_key = "config", .find = "\"pool\":\"mean\"",
         .repl = "\"pool\":\"median\"", .keyword = "pool"},
        {.what = "head_hidden not an array", .meta_key = "config", .find = "\"head_hidden\":[6]",
         .repl = "\"head_hidden\":6", .keyword = "head_hidden"},
        {.what = "head_hidden zero", .meta_key = "config", .find = "\"head_hidden\":[6]",
         .repl = "\"head_hidden\":[0]", .keyword = "head_hidden"},
        {.what = "dropout 1.5", .meta_key = "config", .find = "\"dropout\":0.1",
         .repl = "\"dropout\":1.5", .keyword = "dropout"},
        {.what = "norm_first missing", .meta_key = "config", .find = "\"norm_first\":false,",
         .repl = "", .keyword = "norm_first"},
        /* Every size within its own limit, together 100+ GiB of weights the
         * file does not hold: the tensors must be checked before allocating. */
        {.what = "config sizes far beyond the tensors", .meta_key = "config", .meta_val = config_huge,
         .keyword = "embedding.weight|tensor"},
        {.what = "vocab size != config", .meta_key = "config", .find = "\"vocab_size\":30",
         .repl = "\"vocab_size\":31", .want = ATTEND_ERR_FORMAT, .keyword = "vocab"},
        {.what = "vocab not JSON", .meta_key = "vocab", .meta_val = "[\"<pad>\",", .keyword = "vocab"},
        {.what = "vocab with a duplicate", .meta_key = "vocab", .find = "\"wb\"", .repl = "\"wa\"",
         .keyword = "vocab"},
        {.what = "vocab without <unk>", .meta_key = "vocab", .find = "\"<unk>\"", .repl = "\"unk\"",
         .keyword = "vocab"},
        {.what = "labels count != config", .meta_key = "labels", .meta_val = "[\"ant\",\"bee\"]",
         .want = ATTEND_ERR_FORMAT, .keyword = "labels"},
        {.what = "labels unsorted", .meta_key = "labels", .meta_val = "[\"bee\",\"ant\",\"cat\"]",
         .want = ATTEND_ERR_FORMAT, .keyword = "sorted"},
        {.what = "labels duplicate", .meta_key = "labels", .meta_val = "[\"ant\",\"ant\",\"cat\"]",
         .want = ATTEND_ERR_FORMAT, .keyword = "duplicate"},
        {.what = "label empty", .meta_key = "labels", .meta_val = "[\"\",\"ant\",\"cat\"]",
         .want = ATTEND_ERR_FORMAT, .keyword = "labels"},
        {.what = "labels not strings", .meta_key = "labels", .meta_val = "[1,2,3]",
         .want = ATTEND_ERR_FORMAT, .keyword = "labels"},
        {.what = "missing tensor", .drop = "encoder.layers.0.linear2.weight",
         .keyword = "encoder.layers.0.linear2.weight"},
        {.what = "missing embedding", .drop = "embedding.weight", .keyword = "embedding.weight"},
        {.what = "wrong shape (transposed)", .transpose = "head.fc1.weight", .want = ATTEND_ERR_SHAPE,
         .keyword = "head.fc1.weight"},
        {.what = "wrong shape (bias 2-D)", .transpose = "head.out.bias", .want = ATTEND_ERR_SHAPE,
         .keyword = "head.out.bias"},
        {.what = "wrong dtype", .f16 = "embedding.weight", .want = ATTEND_ERR_SHAPE,
         .keyword = "F16"},
        {.what = "extra tensor", .extra = "encoder.norm.weight", .want = ATTEND_ERR_FORMAT,
         .keyword = "encoder.norm.weight"},
        {.what = "extra unrelated tensor", .extra = "optimizer.step", .want = ATTEND_ERR_FORMAT,
         .keyword = "optimizer.step"},
        {.what = "NaN weight", .nan = "encoder.layers.0.self_attn.in_proj_weight",
         .want = ATTEND_ERR_NUMERIC, .keyword = "in_proj_weight"},
        {.what = "Inf weight", .nan = "head.out.bias", .inf = 1, .want = ATTEND_ERR_NUMERIC,
         .keyword = "head.out.bias"},
    };

    /* Cap the address space (or, under ASan, the largest allocation) so that
     * an attempt to allocate what a hostile config asks for fails visibly. */
    struct rlimit old;
    int limited = 0;
#ifndef TEST_ASAN
    size_t vm = vm_bytes();
    if (vm && getrlimit(RLIMIT_AS, &old) == 0) {
        struct rlimit lim = old;
        lim.rlim_cur = (rlim_t)(vm + ((size_t)2 << 30));
        if (old.rlim_max == RLIM_INFINITY || lim.rlim_cur <= old.rlim_max)
            limited = setrlimit(RLIMIT_AS, &lim) == 0;
    }
#endif
    for (size_t i = 0; i < sizeof defects / sizeof *defects; i++) {
        const defect *d = &defects[i];
        remove(bad);
        if (write_defect(good, bad, d)) {
            CHECK(0, "%s: could not write the damaged file", d->what);
            continue;
        }
        attend_model *mb = (attend_model *)&err; /* must be reset to NULL */
        memset(&err, 0, sizeof err);
        attend_status st = attend_model_load(&mb, bad, &err);
        CHECK(st != ATTEND_OK, "%s: loaded", d->what);
        CHECK(mb == NULL, "%s: *out not NULL after a failure", d->what);
        if (st == ATTEND_OK) attend_model_free(mb);
        if (d->want != ATTEND_OK)
            CHECK(st == d->want, "%s: status %s, expected %s (%s)", d->what, attend_status_name(st),
                  attend_status_name(d->want), err.msg);
        CHECK(err.status == st, "%s: err.status %d, returned %d", d->what, (int)err.status, (int)st);
        CHECK(mentions(err.msg, d->keyword), "%s: message does not mention '%s': %s", d->what,
              d->keyword, err.msg);
        CHECK(strstr(err.msg, "bad.safetensors") != NULL, "%s: message does not name the file: %s",
              d->what, err.msg);
    }
    if (limited) setrlimit(RLIMIT_AS, &old);

    // a file cut short, an empty file, a missing file, not safetensors at all
    FILE *src = fopen(good, "rb");
    size_t n = 0;
    char *bytes = NULL;
    if (src) {
        fseek(src, 0, SEEK_END);
        n = (size_t)ftell(src);
        fseek(src, 0, SEEK_SET);
        bytes = malloc(n);
        if (bytes && fread(bytes, 1, n, src) != n) n = 0;
        fclose(src);
    }
    const size_t cuts[] = {0, 4, 8, 100, n / 2, n - 1};
    for (size_t i = 0; bytes && n > 200 && i < sizeof cuts / sizeof *cuts; i++) {
        FILE *o = fopen(bad, "wb");
        if (!o) break;
        fwrite(bytes, 1, cuts[i], o);
        fclose(o);
        attend_model *mb = NULL;
        memset(&err, 0, sizeof err);
        attend_status st = attend_model_load(&mb, bad, &err);
        CHECK(st != ATTEND_OK && mb == NULL, "file cut to %zu of %zu bytes loads", cuts[i], n);
        CHECK(strstr(err.msg, "bad.safetensors") != NULL, "cut to %zu: message does not name the file: %s",
              cuts[i], err.msg);
        attend_model_free(mb);
    }
    free(bytes);
    attend_model *mb = NULL;
    tmp_path(bad, sizeof bad, "no-such-model.safetensors");
    attend_status st = attend_model_load(&mb, bad, &err);
    CHECK(st == ATTEND_ERR_IO && mb == NULL, "a missing file: status %s", attend_status_name(st));
    CHECK(strstr(err.msg, "no-such-model.safetensors") != NULL, "missing file not named: %s", err.msg);
    st = attend_model_load(&mb, "tests/fixtures/mha_self/weights.safetensors", &err);
    CHECK(st == ATTEND_ERR_FORMAT && mb == NULL, "a non-model safetensors file: status %s",
          attend_status_name(st));
    CHECK(strstr(err.msg, "not an attend classifier") != NULL, "non-model file: %s", err.msg);
    tmp_path(bad, sizeof bad, "bad.safetensors");
    remove(bad);
    remove(good);
}

int main(void) {
    make_tmp_dir();
    attend_set_threads(1);
    test_init_large_vocab();
    test_roundtrip();
    test_variants();
    test_gradients();
    test_hostile();
    return test_summary("test_model");
}
