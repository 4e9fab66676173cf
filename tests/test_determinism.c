/* A training step gives the same bits whatever the number of threads and
 * however a batch's pieces are shared among processes:
 * - the gradients of a batch (default model, with dropout) at 1, 2 and 3
 *   threads, at shapes whose GEMMs are cut into blocks (a block split that
 *   followed the thread count once gave other bits: OpenBLAS computes a
 *   small block with other kernels than the whole);
 * - the batch's gradient put together as the MPI reduce hook does (process
 *   0's sum of its pieces, then each later process adding its pieces one at
 *   a time in order) from 2, 3 and 4 simulated processes equals one
 *   process's, for pieces that do not divide the batch;
 * - three whole steps (update included) at 1 and 2 threads give the same
 *   weights. */
#include "test.h"
#include "train/train.h"
#include "base/rng.h"
#include "text/splitter.h"

#include <stdint.h>

static const char *labels[] = {"a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7"};

static attend_model *new_model(size_t vocab, uint64_t seed) {
    attend_error err = {0};
    attend_splitter sp;
    attend_vocab_counter c;
    attend_vocab v;
    if (attend_splitter_init(&sp, &err)) return NULL;
    if (attend_vocab_counter_init(&c, &err)) {
        attend_splitter_free(&sp);
        return NULL;
    }
    char w[32];
    for (size_t i = 0; i + ATTEND_VOCAB_NSPECIAL < vocab; i++) {
        snprintf(w, sizeof w, "w%zu", i);
        attend_vocab_counter_add_text(&c, &sp, w, strlen(w), &err);
    }
    attend_splitter_free(&sp);
    attend_status st = attend_vocab_build(&v, &c, 1, 0, &err);
    attend_vocab_counter_free(&c);
    attend_model_config cfg;
    attend_model_config_default(&cfg); /* d_model 64, 8 heads, 2 layers, d_ff 256, dropout 0.1 */
    cfg.vocab_size = st ? vocab : attend_vocab_size(&v);
    cfg.num_classes = 8;
    attend_tokenizer *words = NULL;
    attend_model *m = NULL;
    if (!st) st = attend_tokenizer_words_new(&words, &v, &err);
    if (!st) st = attend_model_create(&m, &cfg, words, (char *const *)labels, &err);
    CHECK(st == ATTEND_OK, "model: %s", err.msg);
    if (st) return NULL;
    attend_model_init_weights(m, seed);
    return m;
}

/* A batch (B,T) of random lengths (the first example T long), trailing
 * padding, random targets. */
static void make_batch(const attend_model *m, size_t B, size_t T, int32_t *tokens, uint8_t *pad,
                       int32_t *targets) {
    const size_t V = m->cfg.vocab_size;
    for (size_t b = 0; b < B; b++) {
        size_t len = b == 0 ? T : 1 + attend_mix64(b * 31 + T) % T;
        for (size_t t = 0; t < T; t++) {
            pad[b * T + t] = t >= len;
            tokens[b * T + t] = t >= len ? m->tok->pad_id
                                         : (int32_t)(ATTEND_VOCAB_NSPECIAL +
                                                     attend_mix64(b * T + t + 7) % (V - ATTEND_VOCAB_NSPECIAL));
        }
        targets[b] = (int32_t)(attend_mix64(b + 99) % m->cfg.num_classes);
    }
}

/* What process `rank` of `ranks` computes of one batch: process 0 the
 * packed sum of its pieces, the others each of their pieces packed; and the
 * per-example losses of its pieces. */
typedef struct {
    float *packed;  /* rank 0: its sum; others: NULL */
    float *held;    /* others: their pieces, packed */
    size_t n_held, n;
    double *loss;   /* (B) */
} share;

static int run_share(attend_model *m, size_t B, size_t T, size_t piece, size_t rank, size_t ranks,
                     int threads, const int32_t *tokens, const uint8_t *pad,
                     const int32_t *targets, share *out) {
    attend_error err = {0};
    attend_stepper s;
    attend_set_threads(threads);
    const size_t P = piece < B ? piece : B;
    if (attend_stepper_init(&s, m, B, piece, T, attend_train_acts_flags(&m->cfg, P, T), &err) ||
        attend_stepper_share(&s, rank, ranks, &err)) {
        CHECK(0, "stepper: %s", err.msg);
        return -1;
    }
    attend_step_gradients(&s, tokens, pad, targets, B, T, 12345);
    out->n = attend_step_packed_size(&s, s.n_rows);
    out->packed = NULL;
    out->held = NULL;
    out->n_held = s.hi - s.lo;
    out->loss = malloc(B * sizeof(double));
    memcpy(out->loss, s.ex_loss, B * sizeof(double));
    if (rank == 0) {
        out->packed = malloc(out->n * sizeof(float));
        attend_step_pack(&s, s.grads, out->packed);
    } else if (out->n_held) {
        out->held = malloc(out->n_held * out->n * sizeof(float));
        memcpy(out->held, s.held, out->n_held * out->n * sizeof(float));
    }
    attend_stepper_free(&s);
    return 0;
}

static void share_free(share *x) {
    free(x->packed);
    free(x->held);
    free(x->loss);
}

static size_t n_differ(const float *a, const float *b, size_t n) {
    size_t d = 0;
    for (size_t i = 0; i < n; i++) d += memcmp(a + i, b + i, sizeof(float)) != 0;
    return d;
}

static void test_shape(attend_model *m, size_t B, size_t T, size_t piece) {
    int32_t *tokens = malloc(B * T * sizeof(int32_t)), *targets = malloc(B * sizeof(int32_t));
    uint8_t *pad = malloc(B * T);
    make_batch(m, B, T, tokens, pad, targets);
    share ref;
    if (run_share(m, B, T, piece, 0, 1, 1, tokens, pad, targets, &ref)) return;
    // threads
    for (int th = 2; th <= 3; th++) {
        share x;
        if (run_share(m, B, T, piece, 0, 1, th, tokens, pad, targets, &x)) return;
        CHECK(x.n == ref.n && n_differ(x.packed, ref.packed, ref.n) == 0,
              "B=%zu T=%zu piece %zu: %d threads: %zu of %zu gradient values differ from 1 thread's",
              B, T, piece, th, n_differ(x.packed, ref.packed, ref.n), ref.n);
        share_free(&x);
    }
    // simulated processes: the reduce hook's sum
    for (size_t ranks = 2; ranks <= 4; ranks++) {
        float *acc = NULL;
        double *loss = calloc(B, sizeof(double));
        size_t n = 0;
        for (size_t r = 0; r < ranks; r++) {
            share x;
            if (run_share(m, B, T, piece, r, ranks, 1 + (int)(r % 2), tokens, pad, targets, &x))
                return;
            n = x.n;
            if (r == 0) {
                acc = x.packed;
                x.packed = NULL;
            }
            for (size_t k = 0; r > 0 && k < x.n_held; k++)
                for (size_t i = 0; i < n; i++) acc[i] += x.held[k * n + i];
            for (size_t b = 0; b < B; b++) loss[b] += x.loss[b];
            share_free(&x);
        }
        CHECK(n == ref.n && n_differ(acc, ref.packed, ref.n) == 0,
              "B=%zu T=%zu piece %zu: %zu processes: %zu of %zu gradient values differ from one process's",
              B, T, piece, ranks, n_differ(acc, ref.packed, ref.n), ref.n);
        CHECK(memcmp(loss, ref.loss, B * sizeof(double)) == 0,
              "B=%zu T=%zu piece %zu: %zu processes: per-example losses differ", B, T, piece, ranks);
        free(acc);
        free(loss);
    }
    share_free(&ref);
    free(tokens);
    free(targets);
    free(pad);
}

/* Three steps at 1 and 2 threads: the same weights. */
static void test_steps(void) {
    const size_t B = 13, T = 40;
    float *w[2] = {NULL, NULL};
    size_t P = 0;
    for (int th = 1; th <= 2; th++) {
        attend_model *m = new_model(300, 9);
        if (!m) return;
        attend_set_threads(th);
        attend_stepper s;
        attend_error err = {0};
        if (attend_stepper_init(&s, m, B, 4, T, attend_train_acts_flags(&m->cfg, 4, T), &err)) {
            CHECK(0, "stepper: %s", err.msg);
            return;
        }
        int32_t *tokens = malloc(B * T * sizeof(int32_t)), targets[13];
        uint8_t *pad = malloc(B * T);
        make_batch(m, B, T, tokens, pad, targets);
        for (size_t step = 1; step <= 3; step++) {
            float loss;
            double gnorm;
            CHECK(attend_stepper_step(&s, tokens, pad, targets, B, T, 1e-3f, step, step, &loss,
                                      &gnorm, &err) == ATTEND_OK,
                  "step: %s", err.msg);
        }
        P = m->layout.total;
        w[th - 1] = malloc(P * sizeof(float));
        memcpy(w[th - 1], m->params, P * sizeof(float));
        attend_stepper_free(&s);
        attend_model_free(m);
        free(tokens);
        free(pad);
    }
    CHECK(n_differ(w[0], w[1], P) == 0, "3 steps: %zu of %zu weights differ between 1 and 2 threads",
          n_differ(w[0], w[1], P), P);
    free(w[0]);
    free(w[1]);
}

int main(void) {
    attend_model *m = new_model(500, 3);
    if (!m) return test_summary("test_determinism");
    /* (B, T, piece): (5, 16) and (5, 80) differed at 2 threads when the
     * GEMM blocks followed the thread count */
    const size_t shapes[][3] = {{5, 16, 8}, {5, 80, 2}, {32, 24, 8}, {13, 57, 3}, {7, 111, 1}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        test_shape(m, shapes[i][0], shapes[i][1], shapes[i][2]);
    attend_model_free(m);
    test_steps();
    return test_summary("test_determinism");
}
