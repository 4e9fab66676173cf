/* One training step in named parts, as a data-parallel trainer reads:
 *
 *   attend_step_gradients   forward, loss, backward into the gradients
 *   attend_step_reduce      the reduce hook (all-reduce across processes)
 *   attend_step_grad_norm   the gradient norm over fixed pieces
 *   attend_step_update      clipping and AdamW
 *
 * attend_train and the benchmark both run attend_stepper_step, which calls
 * the four in order, so the benchmark times the step a run executes.
 *
 * The embedding table is most of the parameters but a batch touches a few
 * hundred of its rows. Gradients of the other rows are exactly zero, so
 * zeroing, the norm and clipping visit only the touched rows, and the
 * optimizer updates only them: a row's moments and weights move at the
 * steps where its token occurs (the lazy semantics of torch.optim.SparseAdam
 * for this table; embeddings get no weight decay). Everything else gets
 * dense AdamW. */
#include "train/train.h"
#include "attention/sdpa.h"
#include "base/parallel.h"
#include "base/rng.h"
#include "kernels/kernels.h"
#include "nn/optimizer.h"
#include "nn/layout.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Training keeps the attention weights for the backward while they take
 * less than this; beyond it (long texts, big batches) attention is fused:
 * O(T) memory per head, at the price of recomputing scores in the backward
 * (about 15% more time on WordNet's short glosses, hence not always). */
#define TRAIN_UNFUSED_MAX_BYTES ((double)(512u << 20))

/* The gradient norm's pieces: NORM_CHUNK values of the dense part each, and
 * one per touched embedding row. */
#define NORM_CHUNK 4096

attend_status attend_train_nomem(attend_error *err, const attend_model *m, size_t Bmax,
                                 size_t Tmax, int acts_flags) {
    const size_t n = attend_model_acts_size(&m->cfg, Bmax, Tmax, acts_flags) + 3 * m->layout.total;
    return attend_errorf(err, ATTEND_ERR_NOMEM,
                         "out of memory: training needs about %zu MiB (lower --piece, --batch or --max-len)",
                         n * sizeof(float) >> 20);
}

int attend_train_acts_flags(const attend_model_config *c, size_t Bmax, size_t Tmax) {
    /* Fused where attention's lane kernel recomputes the weights faster
     * than it could read them back (small head dims: d_model 64, 8 heads);
     * elsewhere the weights are kept unless they are too big. */
    if (c->nhead && attend_sdpa_lane_kernel(c->d_model / c->nhead))
        return ATTEND_ACTS_GRAD | ATTEND_ACTS_FUSED;
    return (double)attend_model_acts_size(c, Bmax, Tmax, ATTEND_ACTS_GRAD) * sizeof(float) >
                   TRAIN_UNFUSED_MAX_BYTES
               ? ATTEND_ACTS_GRAD | ATTEND_ACTS_FUSED
               : ATTEND_ACTS_GRAD;
}

attend_status attend_stepper_init(attend_stepper *s, attend_model *m, size_t Bmax, size_t piece,
                                  size_t Tmax, int acts_flags, attend_error *err) {
    memset(s, 0, sizeof *s);
    const attend_model_config *c = &m->cfg;
    const size_t P = m->layout.total;
    if (!m->params)
        return attend_errorf(err, ATTEND_ERR_ARG, "training needs a model with weights of its own (not a loaded file's)");
    /* the sparse part (touched rows only) is the token embedding table,
     * the layout's first tensor; everything after it is dense */
    if (m->p.tok_emb != m->params)
        return attend_errorf(err, ATTEND_ERR_ARG, "the stepper needs the token embedding table first in the parameter layout");
    s->m = m;
    s->acts_flags = acts_flags;
    s->Bmax = Bmax;
    s->Tmax = Tmax;
    s->piece = piece == 0 || piece > Bmax ? Bmax : piece;
    s->ranks = 1;
    s->clip = 1.0f;
    s->adam = (attend_adamw_config){0.9f, 0.999f, 1e-8f, 0.01f};
    const size_t Pc = s->piece;
    s->grads = calloc(P, sizeof(float));
    s->m1 = calloc(P, sizeof(float));
    s->m2 = calloc(P, sizeof(float));
    s->acts = malloc(attend_model_acts_size(c, Pc, Tmax, acts_flags) * sizeof(float));
    s->rows = malloc(Bmax * Tmax * sizeof(int32_t));
    s->norm_part = malloc(((P + NORM_CHUNK - 1) / NORM_CHUNK + Bmax * Tmax) * sizeof(double));
    s->touched = calloc(c->vocab_size, 1);
    s->ex_loss = malloc(Bmax * sizeof(double));
    s->ptok = malloc(Pc * Tmax * sizeof(int32_t));
    s->ppad = malloc(Pc * Tmax);
    /* a second gradient buffer only when a batch can have several pieces */
    if (Pc < Bmax) s->pgrads = calloc(P, sizeof(float));
    if (!s->grads || !s->m1 || !s->m2 || !s->acts || !s->rows || !s->norm_part || !s->touched ||
        !s->ex_loss || !s->ptok || !s->ppad || (Pc < Bmax && !s->pgrads)) {
        attend_stepper_free(s);
        return attend_train_nomem(err, m, Pc, Tmax, acts_flags);
    }
    attend_layout L = m->layout;
    L.items = NULL; /* bind only: the sizing list already exists in m->layout */
    L.base = s->grads;
    L.total = 0;
    attend_model_layout(&L, c, &s->g);
    if (s->pgrads) {
        L.base = s->pgrads;
        L.total = 0;
        attend_model_layout(&L, c, &s->pg);
    }
    return ATTEND_OK;
}

attend_status attend_stepper_share(attend_stepper *s, size_t rank, size_t ranks,
                                   attend_error *err) {
    if (ranks < 1 || rank >= ranks)
        return attend_errorf(err, ATTEND_ERR_ARG, "process %zu of %zu", rank, ranks);
    s->rank = rank;
    s->ranks = ranks;
    free(s->held);
    s->held = NULL;
    s->held_cap = 0;
    if (rank == 0) return ATTEND_OK; /* it starts the sum: no piece is held */
    const size_t pieces = (s->Bmax + s->piece - 1) / s->piece;
    const size_t mine = (pieces + ranks - 1) / ranks;
    const size_t V = s->m->cfg.vocab_size, BT = s->Bmax * s->Tmax;
    s->held_cap = attend_step_packed_size(s, BT < V ? BT : V);
    if (mine && !(s->held = malloc(mine * s->held_cap * sizeof(float))))
        return attend_errorf(err, ATTEND_ERR_NOMEM,
                             "out of memory: process %zu needs %zu MiB for its pieces' gradients (lower --batch or raise --piece)",
                             rank, mine * s->held_cap * sizeof(float) >> 20);
    return ATTEND_OK;
}

void attend_stepper_free(attend_stepper *s) {
    free(s->grads);
    free(s->m1);
    free(s->m2);
    free(s->acts);
    free(s->rows);
    free(s->norm_part);
    free(s->touched);
    free(s->ex_loss);
    free(s->ptok);
    free(s->ppad);
    free(s->pgrads);
    free(s->held);
    memset(s, 0, sizeof *s);
}

/* ---- packed gradients: the dense part, then the touched rows ---- */

/* The token embedding table is the layout's first tensor: [0, V*E); the
 * dense part is everything after it. */
static size_t table_end(const attend_stepper *s) {
    return s->m->cfg.vocab_size * s->m->cfg.d_model;
}

size_t attend_step_packed_size(const attend_stepper *s, size_t n_rows) {
    return s->m->layout.total - table_end(s) + n_rows * s->m->cfg.d_model;
}

void attend_step_pack(const attend_stepper *s, const float *grads, float *out) {
    const size_t E = s->m->cfg.d_model, emb = table_end(s), dense = s->m->layout.total - emb;
    memcpy(out, grads + emb, dense * sizeof(float));
    for (size_t q = 0; q < s->n_rows; q++)
        memcpy(out + dense + q * E, grads + (size_t)s->rows[q] * E, E * sizeof(float));
}

void attend_step_unpack(attend_stepper *s, const float *in) {
    const size_t E = s->m->cfg.d_model, emb = table_end(s), dense = s->m->layout.total - emb;
    memcpy(s->grads + emb, in, dense * sizeof(float));
    for (size_t q = 0; q < s->n_rows; q++)
        memcpy(s->grads + (size_t)s->rows[q] * E, in + dense + q * E, E * sizeof(float));
}

/* ---- 1. gradients ---- */

/* Zeroes the gradients a piece writes into g: the dense part and the rows
 * of the embedding table the batch touches. */
static void grads_zero(const attend_stepper *s, float *g) {
    const size_t E = s->m->cfg.d_model, emb = table_end(s);
    memset(g + emb, 0, (s->m->layout.total - emb) * sizeof(float));
    for (size_t q = 0; q < s->n_rows; q++)
        memset(g + (size_t)s->rows[q] * E, 0, E * sizeof(float));
}

/* acc += x over the dense part and the touched rows (a piece's gradient
 * added to the sum of the pieces before it). */
static void grads_fold(const attend_stepper *s, float *acc, const float *x) {
    const size_t E = s->m->cfg.d_model, emb = table_end(s);
    /* the residual backward's accumulation: acc += x, elementwise */
    attend_residual_backward(acc + emb, NULL, x + emb, s->m->layout.total - emb);
    for (size_t q = 0; q < s->n_rows; q++) {
        float *a = acc + (size_t)s->rows[q] * E;
        const float *b = x + (size_t)s->rows[q] * E;
        for (size_t i = 0; i < E; i++) a[i] += b[i];
    }
}

/* Collects the embedding rows the batch touches (first occurrence order). */
static void collect_rows(attend_stepper *s, const int32_t *tokens, const uint8_t *pad, size_t BT) {
    s->n_rows = 0;
    for (size_t q = 0; q < BT; q++) {
        int32_t id = tokens[q];
        if (!pad[q] && !s->touched[id]) {
            s->touched[id] = 1;
            s->rows[s->n_rows++] = id;
        }
    }
    for (size_t q = 0; q < s->n_rows; q++) s->touched[s->rows[q]] = 0;
}

/* Forward, per-example losses and backward of piece j (examples
 * [j*piece, ...) of the batch) into the gradient views g (zeroed here). The
 * piece is cut to its own longest text, so it is computed the same way
 * whichever process runs it and whatever else is in the batch. */
static void piece_gradients(attend_stepper *s, float *gbase, attend_model_params *g,
                            const int32_t *tokens, const uint8_t *pad, const int32_t *targets,
                            size_t B, size_t T, size_t j, float scale, uint64_t seed) {
    const attend_model *m = s->m;
    const attend_model_config *c = &m->cfg;
    const size_t K = c->num_classes, b0 = j * s->piece;
    const size_t Bp = B - b0 < s->piece ? B - b0 : s->piece;
    size_t Tp = 1;
    for (size_t b = b0; b < b0 + Bp; b++) {
        size_t n = 0;
        while (n < T && !pad[b * T + n]) n++;
        Tp = n > Tp ? n : Tp;
    }
    const int32_t *tok = tokens + b0 * T;
    const uint8_t *pd = pad + b0 * T;
    if (Tp != T) {
        for (size_t b = 0; b < Bp; b++) {
            memcpy(s->ptok + b * Tp, tok + b * T, Tp * sizeof(int32_t));
            memcpy(s->ppad + b * Tp, pd + b * T, Tp);
        }
        tok = s->ptok;
        pd = s->ppad;
    }
    /* piece 0 draws from the step's seed: a batch of one piece is computed
     * exactly as a whole batch always was */
    const uint64_t ps = j == 0 ? seed : attend_seed_child(seed, j);
    attend_model_acts a;
    attend_model_acts_bind(&a, c, Bp, Tp, s->acts_flags, s->acts);
    attend_model_forward(m, &a, tok, pd, Bp, Tp, 1, ps);
    attend_crossentropy_losses(s->ex_loss + b0, a.probs, a.logits, targets + b0, s->class_w,
                               s->label_smoothing, Bp, K);
    memset(a.dlogits, 0, Bp * K * sizeof(float));
    attend_crossentropy_backward_scaled(a.dlogits, a.probs, targets + b0, s->class_w,
                                        s->label_smoothing, scale, Bp, K);
    grads_zero(s, gbase);
    attend_model_backward(m, g, &a, tok, pd, Bp, Tp, 1, ps);
}

void attend_step_gradients(attend_stepper *s, const int32_t *tokens, const uint8_t *pad,
                           const int32_t *targets, size_t B, size_t T, uint64_t seed) {
    const size_t K = s->m->cfg.num_classes;
    collect_rows(s, tokens, pad, B * T);
    s->B = B;
    s->loss_norm = attend_crossentropy_norm(targets, s->class_w, B, K);
    const float scale = s->loss_norm > 0.0 ? (float)(1.0 / s->loss_norm) : 0.0f;
    // this process's pieces: runs of ceil(pieces / processes) from process
    // 0 on, so the last processes may have fewer or none
    s->n_pieces = (B + s->piece - 1) / s->piece;
    const size_t each = (s->n_pieces + s->ranks - 1) / s->ranks;
    s->lo = s->rank * each < s->n_pieces ? s->rank * each : s->n_pieces;
    s->hi = s->lo + each < s->n_pieces ? s->lo + each : s->n_pieces;
    memset(s->ex_loss, 0, B * sizeof(double));
    /* The batch's gradient is the sum of its pieces' gradients taken in
     * piece order: ((g0 + g1) + g2) + ... The first process adds its pieces
     * up as it goes; a later one cannot (the sum must reach it first), so
     * it keeps each piece packed for the reduce hook. */
    const size_t packed = attend_step_packed_size(s, s->n_rows);
    for (size_t j = s->lo; j < s->hi; j++) {
        if (j == 0) {
            piece_gradients(s, s->grads, &s->g, tokens, pad, targets, B, T, j, scale, seed);
            continue;
        }
        piece_gradients(s, s->pgrads, &s->pg, tokens, pad, targets, B, T, j, scale, seed);
        if (s->lo == 0) grads_fold(s, s->grads, s->pgrads);
        else attend_step_pack(s, s->pgrads, s->held + (j - s->lo) * packed);
    }
}

/* ---- 2. reduce ---- */

attend_status attend_step_reduce(attend_stepper *s, attend_error *err) {
    attend_status st = s->reduce ? s->reduce(s->reduce_ctx, s, err) : ATTEND_OK;
    if (st) return st;
    // the loss: per-example losses added in example order, over the norm
    double total = 0.0;
    for (size_t b = 0; b < s->B; b++) total += s->ex_loss[b];
    s->loss = s->loss_norm > 0.0 ? (float)(total / s->loss_norm) : 0.0f;
    return ATTEND_OK;
}

/* ---- 3. gradient norm ---- */

/* The sum of squares is cut into fixed pieces whose partial sums are added
 * in piece order: the threads share the work, and the result (hence
 * clipping) does not depend on how many there are. */
double attend_step_grad_norm(attend_stepper *s) {
    const attend_model *m = s->m;
    const size_t E = m->cfg.d_model, emb = m->cfg.vocab_size * E, dense = m->layout.total - emb;
    const size_t nc = (dense + NORM_CHUNK - 1) / NORM_CHUNK, n = nc + s->n_rows;
    double *part = s->norm_part;
    ATTEND_OMP(parallel for schedule(dynamic, 8) if (n > 64))
    for (size_t i = 0; i < n; i++) {
        if (i < nc) {
            const size_t o = i * NORM_CHUNK, len = dense - o < NORM_CHUNK ? dense - o : NORM_CHUNK;
            part[i] = attend_sumsq(s->grads + emb + o, len);
        } else {
            part[i] = attend_sumsq(s->grads + (size_t)s->rows[i - nc] * E, E);
        }
    }
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) sum += part[i];
    return sqrt(sum);
}

/* ---- 4. update ---- */

void attend_step_update(attend_stepper *s, float lr, size_t step, double gnorm) {
    attend_model *m = s->m;
    /* clipping: the gradients are multiplied by clip_f (1: none), each work
     * item by the thread that updates it */
    const float clip_f = s->clip > 0.0f && gnorm > s->clip ? (float)(s->clip / gnorm) : 1.0f;
    /* Work items: every tensor but the embedding, then the touched embedding
     * rows. Most are small (biases, norms, 64-wide rows), so they are spread
     * over the threads as items rather than each split in chunks; the
     * update is elementwise, so the split never changes a bit. */
    const attend_adamw_config *adam = &s->adam;
    const size_t E = m->cfg.d_model, nt = m->layout.count, n_items = nt + s->n_rows;
    ATTEND_OMP(parallel for schedule(dynamic, 4) if (n_items > 8))
    for (size_t i = 0; i < n_items; i++) {
        if (i >= nt) {
            size_t o = (size_t)(m->p.tok_emb - m->params) + (size_t)s->rows[i - nt] * E;
            if (clip_f != 1.0f) attend_scale(s->grads + o, E, clip_f);
            attend_adamw_update_serial(m->params + o, s->grads + o, s->m1 + o, s->m2 + o, E, adam,
                                       lr, step, 0);
            continue;
        }
        const attend_param_info *it = &m->layout.items[i];
        if (m->params + it->offset == m->p.tok_emb) continue; /* only its touched rows */
        if (clip_f != 1.0f) attend_scale(s->grads + it->offset, it->numel, clip_f);
        attend_adamw_update_serial(m->params + it->offset, s->grads + it->offset,
                                   s->m1 + it->offset, s->m2 + it->offset, it->numel, adam, lr,
                                   step, !it->no_decay);
    }
}

/* ---- the whole step ---- */

attend_status attend_stepper_step(attend_stepper *s, const int32_t *tokens, const uint8_t *pad,
                                  const int32_t *targets, size_t B, size_t T, float lr,
                                  size_t step, uint64_t seed, float *loss, double *gnorm,
                                  attend_error *err) {
    attend_step_gradients(s, tokens, pad, targets, B, T, seed);
    attend_status st = attend_step_reduce(s, err);
    if (st) return st;
    *loss = s->loss;
    *gnorm = attend_step_grad_norm(s);
    /* Diverged: nothing of this batch is applied. */
    if (!isfinite(*loss) || !isfinite(*gnorm))
        return attend_errorf(err, ATTEND_ERR_NUMERIC, "loss %g, gradient norm %g", (double)*loss,
                             *gnorm);
    attend_step_update(s, lr, step, *gnorm);
    return ATTEND_OK;
}
