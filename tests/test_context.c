/* One loaded model, many threads: each thread classifies its own texts with
 * its own attend_context, and every answer must equal the one-thread answer
 * bit for bit. Also: attend_classify_batch against attend_classify, a
 * context used with another model, contexts reused across lengths, and the
 * loaded model's weights lying in the mapped file (not copied), and
 * attend_top_labels' order (most probable first, ties by label index).
 * Built with ThreadSanitizer by `make test TSAN=1` (see README). */
#include "model/model.h"
#include "test.h"
#include "test_tmp.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_THREADS 8
#define N_TEXTS 96
#define K 3

static const char *words[] = {"river", "stone", "light", "cloud", "green", "metal", "sound",
                              "paper", "glass", "storm", "field", "night", "bread", "honey"};
static const char *labels[K] = {"alpha", "beta", "gamma"};

/* A small random model saved to path (so the test loads it mapped). */
static int make_model_file(const char *path, attend_pool_kind pool) {
    attend_error err = {0};
    attend_vocab_counter c;
    attend_vocab v;
    if (attend_vocab_counter_init(&c, &err)) return -1;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        attend_vocab_counter_add(&c, words[i], strlen(words[i]), &err);
    attend_status st = attend_vocab_build(&v, &c, 1, 0, &err);
    attend_vocab_counter_free(&c);
    if (st) return -1;
    attend_model_config cfg;
    attend_model_config_default(&cfg);
    cfg.vocab_size = attend_vocab_size(&v);
    cfg.num_classes = K;
    cfg.d_model = 16;
    cfg.nhead = 4;
    cfg.num_layers = 2;
    cfg.dim_feedforward = 24;
    cfg.max_len = 24;
    cfg.pool = pool;
    attend_tokenizer *tok = NULL;
    attend_model *m = NULL;
    if ((st = attend_tokenizer_words_new(&tok, &v, &err)) ||
        (st = attend_model_create(&m, &cfg, tok, (char *const *)labels, &err))) {
        fprintf(stderr, "model: %s\n", err.msg);
        return -1;
    }
    attend_model_init_weights(m, 17);
    st = attend_model_save(m, path, &err);
    attend_model_free(m);
    return st ? -1 : 0;
}

static char texts[N_TEXTS][256];
static float want[N_TEXTS][K];
static size_t want_n[N_TEXTS];

static void make_texts(void) {
    uint64_t x = 12345;
    for (size_t i = 0; i < N_TEXTS; i++) {
        size_t n = 1 + i % 30, k = 0; /* 1 to 30 words: some cut at max_len 24 */
        for (size_t j = 0; j < n; j++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            const char *w = (x >> 33) % 5 == 0 ? "unseen" : words[(x >> 40) % (sizeof words / sizeof *words)];
            k += (size_t)snprintf(texts[i] + k, sizeof texts[i] - k, "%s%s", j ? " " : "", w);
        }
    }
    snprintf(texts[7], sizeof texts[7], "   "); /* no tokens */
}

typedef struct {
    const attend_model *m;
    size_t first; /* each thread starts at another text and goes round twice */
    size_t mismatches, failures;
} worker;

static void *work(void *p) {
    worker *w = p;
    attend_error err = {0};
    attend_context *ctx = NULL;
    if (attend_context_new(&ctx, w->m, &err)) {
        w->failures++;
        return NULL;
    }
    for (size_t r = 0; r < 2 * N_TEXTS; r++) {
        size_t i = (w->first + r * 5) % N_TEXTS, n = 0;
        float probs[K];
        if (attend_classify(w->m, ctx, texts[i], strlen(texts[i]), probs, &n, &err)) {
            w->failures++;
            continue;
        }
        if (n != want_n[i] || memcmp(probs, want[i], sizeof probs) != 0) w->mismatches++;
    }
    attend_context_free(ctx);
    return NULL;
}

static void test_threads(const char *path) {
    attend_model *m = NULL;
    attend_context *ctx = NULL;
    attend_error err = {0};
    CHECK(attend_model_load(&m, path, &err) == ATTEND_OK, "load: %s", err.msg);
    if (!m) return;
    CHECK(m->params == NULL && m->file != NULL, "a loaded model's weights are the mapped file's");
    CHECK(attend_context_new(&ctx, m, &err) == ATTEND_OK, "context: %s", err.msg);
    for (size_t i = 0; i < N_TEXTS; i++)
        CHECK(attend_classify(m, ctx, texts[i], strlen(texts[i]), want[i], &want_n[i], &err) ==
                  ATTEND_OK, "classify %zu: %s", i, err.msg);
    CHECK(want_n[7] == 0 && want[7][0] == 0.0f, "a text without tokens gives 0 tokens and zeros");
    /* text 29 has 30 words */
    CHECK(want_n[29] == 24 - (m->cfg.pool == ATTEND_POOL_CLS), "a long text is cut at max_len (%zu)",
          want_n[29]);
    attend_context_free(ctx);

    pthread_t th[N_THREADS];
    worker w[N_THREADS];
    for (size_t t = 0; t < N_THREADS; t++) {
        w[t] = (worker){m, t * 11, 0, 0};
        CHECK(pthread_create(&th[t], NULL, work, &w[t]) == 0, "thread %zu started", t);
    }
    size_t mism = 0, fail = 0;
    for (size_t t = 0; t < N_THREADS; t++) {
        pthread_join(th[t], NULL);
        mism += w[t].mismatches;
        fail += w[t].failures;
    }
    CHECK(fail == 0 && mism == 0,
          "%d threads x %d texts on one model: %zu failures, %zu answers differing from one thread's",
          N_THREADS, 2 * N_TEXTS, fail, mism);
    printf("test_context: %d threads x %d classifications on one model, all equal to the one-thread answers\n",
           N_THREADS, 2 * N_TEXTS);
    attend_model_free(m);
}

static void test_batch(const char *path) {
    attend_model *m = NULL, *other = NULL;
    attend_context *ctx = NULL, *octx = NULL;
    attend_error err = {0};
    if (attend_model_load(&m, path, &err) || attend_model_load(&other, path, &err) ||
        attend_context_new(&ctx, m, &err) || attend_context_new(&octx, other, &err)) {
        CHECK(0, "setup: %s", err.msg);
        goto done;
    }
    const char *ptrs[N_TEXTS];
    size_t lens[N_TEXTS], n[N_TEXTS];
    for (size_t i = 0; i < N_TEXTS; i++) {
        ptrs[i] = texts[i];
        lens[i] = strlen(texts[i]);
    }
    static float probs[N_TEXTS][K];
    CHECK(attend_classify_batch(m, ctx, ptrs, lens, N_TEXTS, &probs[0][0], n, &err) == ATTEND_OK,
          "batch: %s", err.msg);
    double worst = 0;
    size_t nbad = 0;
    for (size_t i = 0; i < N_TEXTS; i++) {
        nbad += n[i] != want_n[i];
        for (size_t k = 0; k < K; k++) worst = fmax(worst, fabs((double)probs[i][k] - want[i][k]));
    }
    CHECK(nbad == 0, "batch token counts differ for %zu texts", nbad);
    /* Padded batches run other matrix shapes than one text alone; the
     * answers agree to rounding. */
    CHECK(worst < 1e-6, "batch against one at a time: worst difference %g", worst);
    printf("test_context: classify_batch of %d texts vs one at a time: worst difference %.2g\n",
           N_TEXTS, worst);

    float p[K];
    CHECK(attend_classify(m, octx, "river", 5, p, NULL, &err) == ATTEND_ERR_ARG &&
              strstr(err.msg, "another model"),
          "a context made for another model is refused: %s", err.msg);
    CHECK(attend_classify(m, NULL, "river", 5, p, NULL, &err) == ATTEND_ERR_ARG, "a NULL context is refused");
    const char *bad[2] = {"river", "a\xff"};
    size_t bl[2] = {5, 2};
    float bp[2 * K];
    CHECK(attend_classify_batch(m, ctx, bad, bl, 2, bp, NULL, &err) == ATTEND_ERR_FORMAT &&
              strstr(err.msg, "text 1"),
          "invalid UTF-8 in a batch names the text: %s", err.msg);
    CHECK(attend_classify_batch(m, ctx, NULL, NULL, 0, NULL, NULL, &err) == ATTEND_OK, "an empty batch");

    /* embeddings: one at a time = batch; normalised ones have length 1 */
    const size_t E = attend_model_embed_dim(m);
    CHECK(E == m->cfg.d_model, "embedding width %zu", E);
    float *eb = malloc(N_TEXTS * E * sizeof(float)), *e1 = malloc(E * sizeof(float));
    size_t nb[N_TEXTS];
    CHECK(eb && e1 && attend_embed_batch(m, ctx, ptrs, lens, N_TEXTS, 1, eb, nb, &err) == ATTEND_OK,
          "embed batch: %s", err.msg);
    size_t emism = 0, ebad = 0;
    for (size_t i = 0; eb && e1 && i < N_TEXTS; i++) {
        size_t n1 = 0;
        if (attend_embed(m, ctx, texts[i], lens[i], 1, e1, &n1, &err) || n1 != nb[i] || n1 != want_n[i]) ebad++;
        if (memcmp(e1, eb + i * E, E * sizeof(float))) emism++;
        double ss = 0;
        for (size_t k = 0; k < E; k++) ss += (double)e1[k] * e1[k];
        if (n1 ? fabs(ss - 1.0) > 1e-5 : ss != 0.0) ebad++;
    }
    CHECK(emism == 0 && ebad == 0, "embed vs embed_batch: %zu differ, %zu with a wrong count or norm", emism, ebad);
    float raw[64];
    CHECK(E <= 64 && attend_embed(m, ctx, texts[3], lens[3], 0, raw, NULL, &err) == ATTEND_OK, "raw embedding");
    double rs = 0;
    for (size_t k = 0; k < E && k < 64; k++) rs += (double)raw[k] * raw[k];
    CHECK(fabs(rs - 1.0) > 1e-3, "without normalize the embedding keeps its length (%g)", rs);
    free(eb);
    free(e1);

    /* tokenize: the ids the model reads, specials included */
    int32_t ids[64];
    size_t nt = 0, total = 0;
    CHECK(attend_tokenize(m, ctx, texts[29], lens[29], ids, 64, &nt, &total, &err) == ATTEND_OK &&
              nt == 24 && total == 30 + (m->cfg.pool == ATTEND_POOL_CLS),
          "tokenize a cut text: %zu ids of %zu", nt, total);
    CHECK(m->cfg.pool != ATTEND_POOL_CLS || ids[0] == m->tok->cls_id, "cls pooling puts <cls> first");
    CHECK(attend_tokenize(m, ctx, texts[29], lens[29], ids, 5, &nt, NULL, &err) == ATTEND_OK && nt == 5,
          "tokenize into 5 slots");
done:
    attend_context_free(ctx);
    attend_context_free(octx);
    attend_model_free(m);
    attend_model_free(other);
}

/* The order predict and serve print labels in. */
static void test_top_labels(void) {
    const float p[6] = {0.1f, 0.3f, 0.05f, 0.3f, 0.2f, 0.05f};
    size_t order[6];
    attend_top_labels(p, 6, 6, order);
    const size_t expect[6] = {1, 3, 4, 0, 2, 5};
    int same = 1;
    for (size_t i = 0; i < 6; i++) same &= order[i] == expect[i];
    CHECK(same, "top labels: all 6 by probability, ties by index (got %zu %zu %zu %zu %zu %zu)", order[0],
          order[1], order[2], order[3], order[4], order[5]);
    attend_top_labels(p, 6, 2, order);
    CHECK(order[0] == 1 && order[1] == 3, "top 2 labels: 1 3 (got %zu %zu)", order[0], order[1]);
    attend_top_labels(p, 6, 0, order);
    CHECK(order[0] == 0 && order[5] == 5, "top 0 labels: order left as the identity");
}

int main(void) {
    char dir[2048], path[4096];
    test_top_labels();
    test_tmp_dir(dir, sizeof dir, "context");
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    make_texts();
    attend_pool_kind pools[2] = {ATTEND_POOL_MEAN, ATTEND_POOL_CLS};
    for (int k = 0; k < 2; k++) {
        if (make_model_file(path, pools[k])) {
            fprintf(stderr, "test_context: cannot make the model\n");
            return 1;
        }
        test_threads(path);
        test_batch(path);
    }
    remove(path);
    return test_summary("test_context");
}
