/* Training loop and batched evaluation of the classifier.
 *
 * Determinism: every random choice (initial weights, validation split,
 * shuffling, dropout) is a pure function of the seed and a counter, and all
 * parallel loops give each output to one thread in a fixed order, so the same
 * seed and thread count give the same run. */
#define _POSIX_C_SOURCE 200809L /* sysconf */
#include "train/train.h"
#include "nn/optimizer.h"
#include "base/parallel.h"
#include "base/rng.h"
#include "base/buf.h"
#include "base/util.h"
#include "attention/sdpa.h"
#include "nn/layout.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Training keeps the attention weights for the backward while they take
 * less than this; beyond it (long texts, big batches) attention is fused:
 * O(T) memory per head, at the price of recomputing scores in the backward
 * (about 15% more time on WordNet's short glosses, hence not always). */
#define TRAIN_UNFUSED_MAX_BYTES ((double)(512u << 20))

/* Batches larger than this are refused (with the memory they would need). */
#define MAX_BATCH 4096

static void emit(void (*fn)(void *, const char *), void *ctx, const char *fmt, ...) {
    if (!fn) return;
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fn(ctx, buf);
}

/* ---- encoding ---- */

void attend_encoded_free(attend_encoded *e) {
    free(e->ids);
    free(e->off);
    free(e->len);
    free(e->labels);
    free(e->line);
    memset(e, 0, sizeof *e);
}

attend_status attend_encode_dataset(attend_encoded *e, const attend_model *m,
                                    const attend_dataset *ds, const int32_t *label_ids,
                                    const uint8_t *select, uint8_t want,
                                    void (*warn)(void *ctx, const char *msg), void *ctx,
                                    attend_error *err) {
    memset(e, 0, sizeof *e);
    const size_t T = m->cfg.max_len;
    void *tok = NULL;
    attend_status st = attend_tokenizer_scratch_new(m->tok, &tok, err);
    if (st != ATTEND_OK) return st;
    size_t n = 0;
    for (size_t i = 0; i < ds->count; i++) n += !select || select[i] == want;
    size_t cap = n * 16 + T;
    e->ids = malloc(cap * sizeof(int32_t));
    e->off = malloc((n ? n : 1) * sizeof(size_t));
    e->len = malloc((n ? n : 1) * sizeof(size_t));
    e->line = malloc((n ? n : 1) * sizeof(size_t));
    e->labels = label_ids ? malloc((n ? n : 1) * sizeof(int32_t)) : NULL;
    if (!e->ids || !e->off || !e->len || !e->line || (label_ids && !e->labels)) goto nomem;
    size_t used = 0;
    for (size_t i = 0; i < ds->count; i++) {
        if (select && select[i] != want) continue;
        if (cap - used < T) {
            size_t ncap = cap * 2;
            int32_t *ids = realloc(e->ids, ncap * sizeof(int32_t));
            if (!ids) goto nomem;
            e->ids = ids;
            cap = ncap;
        }
        const char *text = ds->records[i].text;
        size_t len = 0;
        st = attend_model_encode(m, tok, text, strlen(text), e->ids + used, &len, NULL, err);
        if (st != ATTEND_OK) {
            /* The data reader validated UTF-8 already; anything else is real.
             * The message is copied first: formatting err->msg into itself
             * is undefined (it came out as the prefix twice and no reason). */
            char why[sizeof err->msg];
            snprintf(why, sizeof why, "%s", err ? err->msg : "");
            attend_errorf(err, st, "%s:%zu: %s", ds->name, ds->records[i].line, why);
            goto fail;
        }
        if (len == 0) {
            e->n_empty++;
            emit(warn, ctx, "%s:%zu: text has no tokens after normalisation; skipped", ds->name,
                 ds->records[i].line);
            continue;
        }
        e->off[e->n] = used;
        e->len[e->n] = len;
        e->line[e->n] = ds->records[i].line;
        if (label_ids) e->labels[e->n] = label_ids[i];
        if (len > e->max_len) e->max_len = len;
        used += len;
        e->n++;
    }
    attend_tokenizer_scratch_free(m->tok, tok);
    return ATTEND_OK;
nomem:
    st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory encoding %s", ds->name);
fail:
    attend_tokenizer_scratch_free(m->tok, tok);
    attend_encoded_free(e);
    return st;
}

/* ---- batches ---- */

/* Fills tokens (B,T) and pad (B,T) for the examples idx[0..B), T = longest. */
static size_t fill_batch(const attend_encoded *e, const size_t *idx, size_t B, int32_t *tokens,
                         uint8_t *pad) {
    size_t T = 1;
    for (size_t b = 0; b < B; b++) T = e->len[idx[b]] > T ? e->len[idx[b]] : T;
    for (size_t b = 0; b < B; b++) {
        size_t i = idx[b], n = e->len[i];
        memcpy(tokens + b * T, e->ids + e->off[i], n * sizeof(int32_t));
        for (size_t t = 0; t < T; t++) pad[b * T + t] = t >= n;
        for (size_t t = n; t < T; t++) tokens[b * T + t] = ATTEND_VOCAB_PAD;
    }
    return T;
}

/* Sort helper: order indices by length, then by index (stable, total). */
static const attend_encoded *sort_enc_;
static int by_length(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    size_t li = sort_enc_->len[i], lj = sort_enc_->len[j];
    if (li != lj) return li < lj ? -1 : 1;
    return i < j ? -1 : i > j;
}
static void sort_by_length(const attend_encoded *e, size_t *idx, size_t n) {
    sort_enc_ = e;
    qsort(idx, n, sizeof *idx, by_length);
    sort_enc_ = NULL;
}

/* Seeded Fisher-Yates shuffle. */
static void shuffle(size_t *x, size_t n, uint64_t seed) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(attend_mix64(seed ^ attend_mix64(i)) % i);
        size_t t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}

/* ---- evaluation ---- */

attend_status attend_evaluate(const attend_model *m, const attend_encoded *e, size_t batch,
                              attend_metrics *mt, float *probs, attend_error *err) {
    const attend_model_config *c = &m->cfg;
    const size_t K = c->num_classes;
    if (batch == 0) batch = 64;
    if (batch > MAX_BATCH) batch = MAX_BATCH;
    size_t T = e->max_len ? e->max_len : 1;
    size_t n_acts = attend_model_acts_size(c, batch, T, ATTEND_ACTS_FUSED);
    float *mem = malloc(n_acts * sizeof(float));
    float *p = malloc(batch * K * sizeof(float));
    int32_t *tokens = malloc(batch * T * sizeof(int32_t));
    uint8_t *pad = malloc(batch * T);
    size_t *idx = malloc((e->n ? e->n : 1) * sizeof(size_t));
    attend_status st = ATTEND_OK;
    if (!mem || !p || !tokens || !pad || !idx) {
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for evaluation (%zu MiB of activations)",
                           n_acts * sizeof(float) >> 20);
        goto done;
    }
    for (size_t i = 0; i < e->n; i++) idx[i] = i;
    sort_by_length(e, idx, e->n);
    if (mt) attend_metrics_reset(mt);
    for (size_t s = 0; s < e->n; s += batch) {
        size_t B = e->n - s < batch ? e->n - s : batch;
        size_t Tb = fill_batch(e, idx + s, B, tokens, pad);
        attend_model_acts a;
        attend_model_acts_bind(&a, c, B, Tb, ATTEND_ACTS_FUSED, mem);
        attend_model_forward(m, &a, tokens, pad, B, Tb, 0, 0);
        attend_softmax_forward(p, a.logits, B, K);
        for (size_t b = 0; b < B; b++) {
            const float *pb = p + b * K;
            size_t best = 0;
            for (size_t k = 1; k < K; k++) best = pb[k] > pb[best] ? k : best;
            if (probs) memcpy(probs + idx[s + b] * K, pb, K * sizeof(float));
            if (mt && e->labels) {
                int32_t y = e->labels[idx[s + b]];
                /* loss from logits (log-sum-exp) so a tiny probability stays finite */
                const float *lg = a.logits + b * K;
                double mx = lg[0], se = 0.0;
                for (size_t k = 1; k < K; k++) mx = lg[k] > mx ? lg[k] : mx;
                for (size_t k = 0; k < K; k++) se += exp(lg[k] - mx);
                attend_metrics_add(mt, y, (int32_t)best, mx + log(se) - lg[y]);
            }
        }
    }
    if (mt) attend_metrics_finish(mt);
done:
    free(mem);
    free(p);
    free(tokens);
    free(pad);
    free(idx);
    return st;
}

/* ---- training ---- */

void attend_train_options_default(attend_train_options *o) {
    memset(o, 0, sizeof *o);
    attend_model_config_default(&o->model);
    o->val_split = 0.1;
    o->min_freq = 1;
    o->epochs = 5;
    o->batch = 32;
    o->lr = 1e-3f;
    o->warmup = 0.05f;
    o->weight_decay = 0.01f;
    o->clip = 1.0f;
    o->seed = 1;
}

/* Everything a run owns; one cleanup path frees it all. */
typedef struct {
    attend_dataset train_ds, val_ds;
    attend_labels labels;
    int32_t *train_ids, *val_ids;
    uint8_t *is_val;
    attend_vocab_counter counter;
    int counter_ready;
    attend_vocab vocab;
    int vocab_ready;
    attend_model *model;
    attend_encoded tr, va;
    attend_stepper st;
    float *class_w;
    int32_t *tokens, *targets;
    uint8_t *pad;
    size_t *order, *batches;
    attend_metrics mt;
    char *prov, *training;
} train_run;

static void train_run_free(train_run *r) {
    attend_dataset_free(&r->train_ds);
    attend_dataset_free(&r->val_ds);
    attend_labels_free(&r->labels);
    free(r->train_ids);
    free(r->val_ids);
    free(r->is_val);
    if (r->counter_ready) attend_vocab_counter_free(&r->counter);
    if (r->vocab_ready) attend_vocab_free(&r->vocab);
    attend_model_free(r->model);
    attend_encoded_free(&r->tr);
    attend_encoded_free(&r->va);
    attend_stepper_free(&r->st);
    free(r->class_w);
    free(r->tokens);
    free(r->targets);
    free(r->pad);
    free(r->order);
    free(r->batches);
    attend_metrics_free(&r->mt);
    free(r->prov);
    free(r->training);
}

/* Reads the data, builds labels, split and vocabulary, creates the model. */
static attend_status prepare(train_run *r, const attend_train_options *o,
                             attend_train_result *res, attend_error *err) {
    attend_status st;
    attend_data_options dopt = o->data;
    dopt.on_warning = o->on_warning;
    dopt.warning_ctx = o->ctx;
    if ((st = attend_dataset_read(&r->train_ds, o->data_path, &dopt, err))) return st;
    if ((st = attend_labels_from_dataset(&r->labels, &r->train_ds, err))) return st;
    if (r->labels.count < 2)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: every example has the label '%s'; a classifier needs at least 2 classes",
                             o->data_path, r->labels.names[0]);
    const size_t N = r->train_ds.count, K = r->labels.count;
    if (!(r->train_ids = malloc(N * sizeof(int32_t))) || !(r->is_val = calloc(N, 1)))
        return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    if ((st = attend_labels_map(&r->labels, &r->train_ds, r->train_ids, err))) return st;
    if (o->val_path) {
        if ((st = attend_dataset_read(&r->val_ds, o->val_path, &dopt, err))) return st;
        if (!(r->val_ids = malloc(r->val_ds.count * sizeof(int32_t))))
            return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
        if ((st = attend_labels_map(&r->labels, &r->val_ds, r->val_ids, err))) return st;
    } else if (o->val_split > 0.0) {
        if ((st = attend_split_stratified(r->train_ids, N, K, o->val_split,
                                          attend_seed_child(o->seed, 11), r->is_val, NULL, err)))
            return st;
    }

    // vocabulary from the training split only
    attend_splitter tok;
    if ((st = attend_splitter_init(&tok, err))) return st;
    if ((st = attend_vocab_counter_init(&r->counter, err))) {
        attend_splitter_free(&tok);
        return st;
    }
    r->counter_ready = 1;
    for (size_t i = 0; i < N && st == ATTEND_OK; i++) {
        if (r->is_val[i]) continue;
        const char *t = r->train_ds.records[i].text;
        st = attend_vocab_counter_add_text(&r->counter, &tok, t, strlen(t), err);
    }
    attend_splitter_free(&tok);
    if (st) return st;
    if ((st = attend_vocab_build(&r->vocab, &r->counter, o->min_freq, o->max_vocab, err))) return st;
    r->vocab_ready = 1;

    attend_model_config cfg = o->model;
    cfg.vocab_size = attend_vocab_size(&r->vocab);
    cfg.num_classes = K;
    attend_tokenizer *words = NULL;
    r->vocab_ready = 0; /* the tokenizer takes it, also on failure */
    if ((st = attend_tokenizer_words_new(&words, &r->vocab, err)) ||
        (st = attend_model_create(&r->model, &cfg, words, r->labels.names, err)))
        return st;
    attend_model_init_weights(r->model, attend_seed_child(o->seed, 12));
    if (o->on_init) o->on_init(o->ctx, r->model);

    if ((st = attend_encode_dataset(&r->tr, r->model, &r->train_ds, r->train_ids, r->is_val, 0,
                                    o->on_warning, o->ctx, err)))
        return st;
    if (o->val_path)
        st = attend_encode_dataset(&r->va, r->model, &r->val_ds, r->val_ids, NULL, 0,
                                   o->on_warning, o->ctx, err);
    else if (o->val_split > 0.0)
        st = attend_encode_dataset(&r->va, r->model, &r->train_ds, r->train_ids, r->is_val, 1,
                                   o->on_warning, o->ctx, err);
    if (st) return st;
    if (r->tr.n == 0)
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: no training example has a token", o->data_path);
    res->n_train = r->tr.n;
    res->n_val = r->va.n;
    res->vocab_size = cfg.vocab_size;
    res->num_classes = K;
    res->n_params = r->model->layout.total;
    return ATTEND_OK;
}

/* Writes the validation records as label<TAB>text (tabs and line breaks
 * inside fields become spaces), so the split can be evaluated later. */
static attend_status write_val_tsv(const train_run *r, const attend_train_options *o,
                                   attend_error *err) {
    FILE *f = fopen(o->val_out_path, "wb");
    if (!f) return attend_errorf(err, ATTEND_ERR_IO, "cannot create %s", o->val_out_path);
    const attend_dataset *ds = o->val_path ? &r->val_ds : &r->train_ds;
    for (size_t i = 0; i < ds->count; i++) {
        if (!o->val_path && !r->is_val[i]) continue;
        const char *fields[2] = {ds->records[i].label, ds->records[i].text};
        for (int k = 0; k < 2; k++) {
            for (const char *p = fields[k]; *p; p++)
                fputc(*p == '\t' || *p == '\n' || *p == '\r' ? ' ' : *p, f);
            fputc(k == 0 ? '\t' : '\n', f);
        }
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return attend_errorf(err, ATTEND_ERR_IO, "error writing %s", o->val_out_path);
    return ATTEND_OK;
}

/* Provenance and training summary stored in the model file. */
static attend_status describe(train_run *r, const attend_train_options *o,
                              const attend_train_result *res, attend_error *err) {
    char buf[4096];
    free(r->prov);
    free(r->training);
    r->prov = r->training = NULL;
    attend_buf pb;
    attend_buf_init(&pb);
    attend_buf_puts(&pb, "{\"data\":");
    attend_buf_json_string(&pb, o->data_path);
    attend_buf_printf(&pb, ",\"data_fnv1a64\":\"%s\",\"data_format\":\"%s\",\"val\":",
                      r->train_ds.hash_hex, attend_data_format_name(r->train_ds.format));
    attend_buf_json_string(&pb, o->val_path ? o->val_path : "");
    attend_buf_printf(&pb,
                      ",\"val_fnv1a64\":\"%s\",\"val_split\":%g,\"seed\":%llu,\"threads\":%d,"
                      "\"matmul_precision\":\"%s\",\"attend_version\":\"%s\"}",
                      o->val_path ? r->val_ds.hash_hex : "", o->val_path ? 0.0 : o->val_split,
                      (unsigned long long)o->seed, attend_get_threads(),
                      attend_get_matmul_precision() == ATTEND_MATMUL_BF16 ? "bf16" : "fp32",
                      ATTEND_VERSION);
    if (!pb.failed) r->prov = attend_strdup(pb.s);
    attend_buf_free(&pb);
    snprintf(buf, sizeof buf,
             "{\"epochs\":%zu,\"epochs_run\":%zu,\"best_epoch\":%zu,\"batch\":%zu,\"lr\":%g,"
             "\"warmup\":%g,\"weight_decay\":%g,\"clip\":%g,\"label_smoothing\":%g,"
             "\"class_weights\":\"%s\",\"min_freq\":%zu,\"max_vocab\":%zu,\"n_train\":%zu,"
             "\"n_val\":%zu,\"best_val_loss\":%.6g,\"best_val_accuracy\":%.6g,"
             "\"best_val_macro_f1\":%.6g}",
             o->epochs, res->epochs_run, res->best_epoch, o->batch, (double)o->lr,
             (double)o->warmup, (double)o->weight_decay, (double)o->clip,
             (double)o->label_smoothing, o->class_weights_auto ? "auto" : "none", o->min_freq,
             o->max_vocab, res->n_train, res->n_val, res->best_val_loss,
             res->best_val_accuracy, res->best_val_macro_f1);
    r->training = attend_strdup(buf);
    if (!r->prov || !r->training) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    r->model->meta_provenance = r->prov;
    r->model->meta_training = r->training;
    return ATTEND_OK;
}

static attend_status save_model(train_run *r, const attend_train_options *o,
                                const attend_train_result *res, attend_error *err) {
    attend_status st = describe(r, o, res, err);
    if (st == ATTEND_OK) st = attend_model_save(r->model, o->out_path, err);
    /* The strings belong to the run; the model only borrows them here. */
    r->model->meta_provenance = NULL;
    r->model->meta_training = NULL;
    return st;
}

/* The embedding table is most of the parameters but a batch touches a few
 * hundred of its rows. Gradients of the other rows are exactly zero, so
 * zeroing, the norm and clipping visit only the touched rows, and the
 * optimizer updates only them: a row's moments and weights move at the
 * steps where its token occurs (the lazy semantics of torch.optim.SparseAdam
 * for this table; embeddings get no weight decay). Everything else gets
 * dense AdamW. */
static void grads_zero(attend_stepper *r, size_t n_rows) {
    const attend_model *m = r->m;
    const size_t E = m->cfg.d_model, emb = m->cfg.vocab_size * E;
    memset(r->grads + emb, 0, (m->layout.total - emb) * sizeof(float));
    for (size_t q = 0; q < n_rows; q++) memset(r->grads + (size_t)r->rows[q] * E, 0, E * sizeof(float));
}

/* The gradient's norm over the dense tensors and the touched embedding
 * rows. The sum of squares is cut into fixed pieces (NORM_CHUNK values of the
 * dense part, one piece per touched row) whose partial sums are added in
 * piece order: the threads share the work, and the result (hence clipping)
 * does not depend on how many there are. */
#define NORM_CHUNK 4096
static double grads_norm(attend_stepper *r, size_t n_rows) {
    const attend_model *m = r->m;
    const size_t E = m->cfg.d_model, emb = m->cfg.vocab_size * E, dense = m->layout.total - emb;
    const size_t nc = (dense + NORM_CHUNK - 1) / NORM_CHUNK, n = nc + n_rows;
    double *part = r->norm_part;
    ATTEND_OMP(parallel for schedule(dynamic, 8) if (n > 64))
    for (size_t i = 0; i < n; i++) {
        if (i < nc) {
            const size_t s = i * NORM_CHUNK, len = dense - s < NORM_CHUNK ? dense - s : NORM_CHUNK;
            part[i] = attend_sumsq(r->grads + emb + s, len);
        } else {
            part[i] = attend_sumsq(r->grads + (size_t)r->rows[i - nc] * E, E);
        }
    }
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += part[i];
    return sqrt(s);
}

/* One AdamW step; the gradients are first multiplied by clip_f (clipping;
 * 1: none), each work item by the thread that updates it. */
static void optimizer_step(attend_stepper *r, size_t n_rows, float lr, size_t step,
                           float clip_f) {
    attend_model *m = r->m;
    /* Work items: every tensor but the embedding, then the touched embedding
     * rows. Most are small (biases, norms, 64-wide rows), so they are spread
     * over the threads as items rather than each split in chunks; the
     * update is elementwise, so the split never changes a bit. */
    const attend_adamw_config *adam = &r->adam;
    const size_t E = m->cfg.d_model, nt = m->layout.count, n_items = nt + n_rows;
    ATTEND_OMP(parallel for schedule(dynamic, 4) if (n_items > 8))
    for (size_t i = 0; i < n_items; i++) {
        if (i >= nt) {
            size_t o = (size_t)(m->p.tok_emb - m->params) + (size_t)r->rows[i - nt] * E;
            if (clip_f != 1.0f) attend_scale(r->grads + o, E, clip_f);
            attend_adamw_update_serial(m->params + o, r->grads + o, r->m1 + o, r->m2 + o, E, adam,
                                       lr, step, 0);
            continue;
        }
        const attend_param_info *it = &m->layout.items[i];
        if (m->params + it->offset == m->p.tok_emb) continue; /* only its touched rows */
        if (clip_f != 1.0f) attend_scale(r->grads + it->offset, it->numel, clip_f);
        attend_adamw_update_serial(m->params + it->offset, r->grads + it->offset,
                                   r->m1 + it->offset, r->m2 + it->offset, it->numel, adam, lr,
                                   step, !it->no_decay);
    }
}

/* Out of memory for training's buffers: what the run would need (the
 * activations, weights, gradients and two moments, to the MiB). */
static attend_status train_nomem(attend_error *err, const attend_model *m, size_t Bmax,
                                 size_t Tmax, int acts_flags) {
    const size_t n = attend_model_acts_size(&m->cfg, Bmax, Tmax, acts_flags) + 3 * m->layout.total;
    return attend_errorf(err, ATTEND_ERR_NOMEM,
                         "out of memory: training needs about %zu MiB (lower --batch or --max-len)",
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

attend_status attend_stepper_init(attend_stepper *s, attend_model *m, size_t Bmax, size_t Tmax,
                                  int acts_flags, attend_error *err) {
    memset(s, 0, sizeof *s);
    const attend_model_config *c = &m->cfg;
    const size_t P = m->layout.total;
    s->m = m;
    s->acts_flags = acts_flags;
    s->Bmax = Bmax;
    s->Tmax = Tmax;
    s->clip = 1.0f;
    s->adam = (attend_adamw_config){0.9f, 0.999f, 1e-8f, 0.01f};
    s->grads = calloc(P, sizeof(float));
    s->m1 = calloc(P, sizeof(float));
    s->m2 = calloc(P, sizeof(float));
    s->acts = malloc(attend_model_acts_size(c, Bmax, Tmax, acts_flags) * sizeof(float));
    s->rows = malloc(Bmax * Tmax * sizeof(int32_t));
    s->norm_part = malloc(((P + NORM_CHUNK - 1) / NORM_CHUNK + Bmax * Tmax) * sizeof(double));
    s->touched = calloc(c->vocab_size, 1);
    if (!s->grads || !s->m1 || !s->m2 || !s->acts || !s->rows || !s->norm_part || !s->touched) {
        attend_stepper_free(s);
        return train_nomem(err, m, Bmax, Tmax, acts_flags);
    }
    attend_layout L = m->layout;
    L.items = NULL; /* bind only: the sizing list already exists in m->layout */
    L.base = s->grads;
    L.total = 0;
    attend_model_layout(&L, c, &s->g);
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
    memset(s, 0, sizeof *s);
}

int attend_stepper_step(attend_stepper *s, const int32_t *tokens, const uint8_t *pad,
                        const int32_t *targets, size_t B, size_t T, float lr, size_t step,
                        uint64_t seed, float *loss_out, double *gnorm_out) {
    attend_model *m = s->m;
    const attend_model_config *c = &m->cfg;
    const size_t K = c->num_classes;
    // embedding rows this batch touches: only they get gradients
    size_t n_rows = 0;
    for (size_t q = 0; q < B * T; q++) {
        int32_t id = tokens[q];
        if (!pad[q] && !s->touched[id]) {
            s->touched[id] = 1;
            s->rows[n_rows++] = id;
        }
    }
    attend_model_acts a;
    attend_model_acts_bind(&a, c, B, T, s->acts_flags, s->acts);
    attend_model_forward(m, &a, tokens, pad, B, T, 1, seed);
    float loss = attend_crossentropy_forward(a.probs, a.logits, targets, s->class_w,
                                             s->label_smoothing, B, K);
    memset(a.dlogits, 0, B * K * sizeof(float));
    attend_crossentropy_backward(a.dlogits, a.probs, targets, s->class_w, s->label_smoothing,
                                 1.0f, B, K);
    grads_zero(s, n_rows);
    attend_model_backward(m, &s->g, &a, tokens, pad, B, T, 1, seed);
    double gnorm = grads_norm(s, n_rows);
    for (size_t q = 0; q < n_rows; q++) s->touched[s->rows[q]] = 0;
    *loss_out = loss;
    *gnorm_out = gnorm;
    /* Diverged: nothing of this batch is applied. */
    if (!isfinite(loss) || !isfinite(gnorm)) return 1;
    const float clip_f = s->clip > 0.0f && gnorm > s->clip ? (float)(s->clip / gnorm) : 1.0f;
    optimizer_step(s, n_rows, lr, step, clip_f);
    return 0;
}

/* Where a run stands: everything that changes from step to step besides the
 * weights and the optimizer moments. All randomness is a function of (seed,
 * epoch, step), so this plus the tensors is an exact resume point. */
typedef struct {
    size_t epoch;        /* epoch being run, from 1 */
    size_t batch;        /* next batch of that epoch */
    size_t step;         /* optimizer steps done */
    double loss_sum;     /* the epoch's running train loss */
    size_t loss_n, tokens_seen;
    double best;         /* best validation loss so far (or -epoch) */
    size_t since_best;
} train_state;

#define CHECKPOINT_FORMAT "attend.checkpoint.v1"

/* The settings a resumed run must share with the one that wrote the
 * checkpoint, as one string (compared byte for byte). */
static char *run_settings(const train_run *r, const attend_train_options *o) {
    char *cfg = attend_model_config_to_json(&r->model->cfg);
    if (!cfg) return NULL;
    char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"data_fnv1a64\":\"%s\",\"val_fnv1a64\":\"%s\",\"val_split\":%.17g,\"seed\":%llu,"
             "\"epochs\":%zu,\"batch\":%zu,\"lr\":%.9g,\"warmup\":%.9g,\"weight_decay\":%.9g,"
             "\"clip\":%.9g,\"label_smoothing\":%.9g,\"class_weights\":%d,\"min_freq\":%zu,"
             "\"max_vocab\":%zu,\"model\":%s}",
             r->train_ds.hash_hex, o->val_path ? r->val_ds.hash_hex : "",
             o->val_path ? 0.0 : o->val_split, (unsigned long long)o->seed, o->epochs, o->batch,
             (double)o->lr, (double)o->warmup, (double)o->weight_decay, (double)o->clip,
             (double)o->label_smoothing, o->class_weights_auto, o->min_freq, o->max_vocab, cfg);
    free(cfg);
    return attend_strdup(buf);
}

static attend_status checkpoint_save(train_run *r, const attend_train_options *o,
                                     const train_state *ts, const attend_train_result *res,
                                     attend_error *err) {
    const attend_model *m = r->model;
    attend_st_writer *w = attend_st_writer_new();
    char *settings = run_settings(r, o), *vocab = NULL, *labels = NULL;
    char state[1024], (*names)[ATTEND_NAME_MAX + 24] = NULL;
    attend_status st = ATTEND_OK;
    if (!w || !settings || !(names = malloc(2 * m->layout.count * sizeof *names))) {
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory writing a checkpoint");
        goto done;
    }
    snprintf(state, sizeof state,
             "{\"epoch\":%zu,\"batch\":%zu,\"step\":%zu,\"loss_sum\":\"%.17g\",\"loss_n\":%zu,"
             "\"tokens_seen\":%zu,\"best\":\"%.17g\",\"since_best\":%zu,\"best_epoch\":%zu,"
             "\"best_val_loss\":\"%.17g\",\"best_val_accuracy\":\"%.17g\","
             "\"best_val_macro_f1\":\"%.17g\",\"epochs_run\":%zu}",
             ts->epoch, ts->batch, ts->step, ts->loss_sum, ts->loss_n, ts->tokens_seen, ts->best,
             ts->since_best, res->best_epoch, res->best_val_loss, res->best_val_accuracy,
             res->best_val_macro_f1, res->epochs_run);
    for (size_t i = 0; i < m->layout.count && st == ATTEND_OK; i++) {
        const attend_param_info *it = &m->layout.items[i];
        snprintf(names[2 * i], sizeof names[0], "optim.exp_avg.%s", it->name);
        snprintf(names[2 * i + 1], sizeof names[0], "optim.exp_avg_sq.%s", it->name);
        if ((st = attend_st_writer_add(w, it->name, ATTEND_DTYPE_F32, it->ndim, it->shape,
                                       m->params + it->offset, err)) ||
            (st = attend_st_writer_add(w, names[2 * i], ATTEND_DTYPE_F32, it->ndim, it->shape,
                                       r->st.m1 + it->offset, err)) ||
            (st = attend_st_writer_add(w, names[2 * i + 1], ATTEND_DTYPE_F32, it->ndim, it->shape,
                                       r->st.m2 + it->offset, err)))
            break;
    }
    if (st == ATTEND_OK && !(st = m->tok->ops->vocab_json(m->tok, &vocab, err)) &&
        !(st = attend_labels_to_json(&m->labels, &labels, err)) &&
        !(st = attend_st_writer_meta(w, "format", CHECKPOINT_FORMAT, err)) &&
        !(st = attend_st_writer_meta(w, "attend_version", ATTEND_VERSION, err)) &&
        !(st = attend_st_writer_meta(w, "settings", settings, err)) &&
        !(st = attend_st_writer_meta(w, "state", state, err)) &&
        !(st = attend_st_writer_meta(w, "vocab", vocab, err)) &&
        !(st = attend_st_writer_meta(w, "labels", labels, err)))
        st = attend_st_writer_save(w, o->checkpoint_path, err);
done:
    attend_st_writer_free(w);
    free(settings);
    free(vocab);
    free(labels);
    free(names);
    return st;
}

/* A number of the state object (numbers and "%.17g" strings both). */
static int state_num(const char *json, const char *key, double *out) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(json, pat);
    if (!p) return -1;
    p += strlen(pat);
    if (*p == '"') p++;
    char *end;
    *out = strtod(p, &end);
    return end == p ? -1 : 0;
}

static attend_status checkpoint_load(train_run *r, const attend_train_options *o,
                                     train_state *ts, attend_train_result *res,
                                     attend_error *err) {
    attend_model *m = r->model;
    attend_st_file *f = NULL;
    char *settings = run_settings(r, o), *vocab = NULL;
    attend_status st = attend_st_open(&f, o->resume_path, err);
    if (st) goto done;
    const char *path = o->resume_path, *fmt = attend_st_meta(f, "format");
    const char *was = attend_st_meta(f, "settings"), *state = attend_st_meta(f, "state"),
               *jv = attend_st_meta(f, "vocab");
    if (!fmt || strcmp(fmt, CHECKPOINT_FORMAT) != 0 || !was || !state || !jv) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: not an attend training checkpoint", path);
        goto done;
    }
    if (!settings || (st = m->tok->ops->vocab_json(m->tok, &vocab, err))) {
        if (!st) st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
        goto done;
    }
    if (strcmp(was, settings) != 0) {
        st = attend_errorf(err, ATTEND_ERR_ARG,
                           "%s was written by a run with other data or settings; resume with the same --data, --val, --seed and training flags.\n  checkpoint: %.900s\n  this run:   %.900s",
                           path, was, settings);
        goto done;
    }
    if (strcmp(jv, vocab) != 0) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: vocabulary differs from the one built from the data", path);
        goto done;
    }
    for (size_t i = 0; i < m->layout.count; i++) {
        const attend_param_info *it = &m->layout.items[i];
        char name[ATTEND_NAME_MAX + 24];
        const float *d;
        float *dst[3] = {m->params, r->st.m1, r->st.m2};
        for (int k = 0; k < 3; k++) {
            snprintf(name, sizeof name, "%s%s", k == 0 ? "" : k == 1 ? "optim.exp_avg." : "optim.exp_avg_sq.",
                     it->name);
            if ((st = attend_st_get_f32(f, name, it->ndim, it->shape, &d, err))) goto done;
            memcpy(dst[k] + it->offset, d, it->numel * sizeof(float));
        }
    }
    double v[13];
    static const char *keys[13] = {"epoch", "batch", "step", "loss_sum", "loss_n", "tokens_seen",
                                   "best", "since_best", "best_epoch", "best_val_loss",
                                   "best_val_accuracy", "best_val_macro_f1", "epochs_run"};
    for (int k = 0; k < 13; k++)
        if (state_num(state, keys[k], &v[k])) {
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: state lacks '%s'", path, keys[k]);
            goto done;
        }
    const size_t n_batches = (r->tr.n + o->batch - 1) / o->batch;
    if (!(v[0] >= 1 && v[0] <= (double)o->epochs + 1 && v[1] >= 0 && v[1] <= (double)n_batches)) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: epoch %g / batch %g out of range", path, v[0], v[1]);
        goto done;
    }
    ts->epoch = (size_t)v[0];
    ts->batch = (size_t)v[1];
    ts->step = (size_t)v[2];
    ts->loss_sum = v[3];
    ts->loss_n = (size_t)v[4];
    ts->tokens_seen = (size_t)v[5];
    ts->best = v[6];
    ts->since_best = (size_t)v[7];
    res->best_epoch = (size_t)v[8];
    res->best_val_loss = v[9];
    res->best_val_accuracy = v[10];
    res->best_val_macro_f1 = v[11];
    res->epochs_run = (size_t)v[12];
done:
    attend_st_close(f);
    free(settings);
    free(vocab);
    return st;
}

attend_status attend_train(const attend_train_options *o, attend_train_result *res,
                           attend_error *err) {
    train_run r;
    memset(&r, 0, sizeof r);
    memset(res, 0, sizeof *res);
    attend_status st = ATTEND_OK;
    const double t_start = attend_now_s();
    if (o->batch < 1 || o->batch > MAX_BATCH)
        return attend_errorf(err, ATTEND_ERR_ARG, "batch %zu is outside [1, %d]", o->batch, MAX_BATCH);
    /* Check the architecture before reading any data: fail fast. */
    attend_model_config probe = o->model;
    probe.vocab_size = ATTEND_VOCAB_NSPECIAL;
    probe.num_classes = 2;
    if ((st = attend_model_config_check(&probe, err))) return st;
    if ((st = prepare(&r, o, res, err))) goto done;
    if (o->val_out_path && (st = write_val_tsv(&r, o, err))) goto done;

    attend_model *m = r.model;
    const attend_model_config *c = &m->cfg;
    const size_t K = c->num_classes, P = m->layout.total, Bmax = o->batch;
    const size_t Tmax = r.tr.max_len > r.va.max_len ? r.tr.max_len : r.va.max_len;
    const int acts_flags = attend_train_acts_flags(c, Bmax, Tmax);
    const size_t n_acts = attend_model_acts_size(c, Bmax, Tmax, acts_flags);
    emit(o->on_info, o->ctx,
         "data: %zu train, %zu validation examples, %zu classes, vocabulary %zu, longest %zu tokens; model: %zu parameters; activations %zu MiB%s",
         r.tr.n, r.va.n, K, c->vocab_size, Tmax, P, n_acts * sizeof(float) >> 20,
         acts_flags & ATTEND_ACTS_FUSED ? " (fused attention)" : "");
    {
        /* Refuse what cannot fit rather than trying: activations for the
         * longest batch, weights, gradients and two moments. */
        double need = ((double)n_acts + 4.0 * (double)P) * sizeof(float);
        double have = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
        if (have > 0 && need > have) {
            st = attend_errorf(err, ATTEND_ERR_NOMEM,
                               "training would need %.1f GiB of memory (this machine has %.1f GiB): lower --batch (%zu) or --max-len (%zu), or shorten the texts",
                               need / 1073741824.0, have / 1073741824.0, Bmax, c->max_len);
            goto done;
        }
    }
    if ((st = attend_stepper_init(&r.st, m, Bmax, Tmax, acts_flags, err))) goto done;
    r.tokens = malloc(Bmax * Tmax * sizeof(int32_t));
    r.targets = malloc(Bmax * sizeof(int32_t));
    r.pad = malloc(Bmax * Tmax);
    r.order = malloc(r.tr.n * sizeof(size_t));
    r.batches = malloc(r.tr.n * sizeof(size_t));
    if (!r.tokens || !r.targets || !r.pad || !r.order || !r.batches ||
        attend_metrics_init(&r.mt, K)) {
        st = train_nomem(err, m, Bmax, Tmax, acts_flags);
        goto done;
    }
    if (o->class_weights_auto) {
        if (!(r.class_w = calloc(K, sizeof(float)))) {
            st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
            goto done;
        }
        size_t *count = calloc(K, sizeof(size_t));
        if (!count) {
            st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < r.tr.n; i++) count[r.tr.labels[i]]++;
        // w_k = N / (K * n_k): the inverse frequency, 1 on average
        for (size_t k = 0; k < K; k++)
            r.class_w[k] = count[k] ? (float)r.tr.n / ((float)K * (float)count[k]) : 0.0f;
        free(count);
    }

    r.st.class_w = r.class_w;
    r.st.label_smoothing = o->label_smoothing;
    r.st.clip = o->clip;
    r.st.adam.weight_decay = o->weight_decay;
    const size_t n_batches = (r.tr.n + Bmax - 1) / Bmax;
    const size_t total_steps = n_batches * o->epochs;
    const size_t warmup = (size_t)((double)o->warmup * (double)total_steps);
    const int has_val = r.va.n > 0;
    train_state ts = {1, 0, 0, 0.0, 0, 0, INFINITY, 0};
    if (o->resume_path) {
        if ((st = checkpoint_load(&r, o, &ts, res, err))) goto done;
        emit(o->on_info, o->ctx, "resuming from %s: epoch %zu, batch %zu of %zu, step %zu",
             o->resume_path, ts.epoch, ts.batch, n_batches, ts.step);
    }

    for (; ts.epoch <= o->epochs; ts.epoch++, ts.batch = 0) {
        const size_t epoch = ts.epoch;
        const double t0 = attend_now_s();
        const size_t first_batch = ts.batch;
        // shuffle, bucket by length within chunks, shuffle the batch order:
        // a pure function of (seed, epoch), so a resumed run sees the same order
        for (size_t i = 0; i < r.tr.n; i++) r.order[i] = i;
        uint64_t es = attend_seed_child(o->seed, 1000 + epoch);
        shuffle(r.order, r.tr.n, es);
        const size_t chunk = 50 * Bmax;
        for (size_t s = 0; s < r.tr.n; s += chunk)
            sort_by_length(&r.tr, r.order + s, r.tr.n - s < chunk ? r.tr.n - s : chunk);
        size_t *bstart = r.batches;
        for (size_t b = 0; b < n_batches; b++) bstart[b] = b * Bmax;
        shuffle(bstart, n_batches, attend_seed_child(es, 1));

        for (; ts.batch < n_batches; ts.batch++, ts.step++) {
            const size_t bi = ts.batch, step = ts.step;
            const size_t s0 = bstart[bi], B = r.tr.n - s0 < Bmax ? r.tr.n - s0 : Bmax;
            const size_t *idx = r.order + s0;
            const size_t T = fill_batch(&r.tr, idx, B, r.tokens, r.pad);
            for (size_t b = 0; b < B; b++) {
                r.targets[b] = r.tr.labels[idx[b]];
                ts.tokens_seen += r.tr.len[idx[b]];
            }
            const float lr = attend_lr_at(step, total_steps, warmup, o->lr);
            float loss;
            double gnorm;
            if (attend_stepper_step(&r.st, r.tokens, r.pad, r.targets, B, T, lr, step + 1,
                                    attend_seed_child(o->seed, 1000000 + step), &loss, &gnorm)) {
                /* The weights are still those of the last good step: nothing
                 * of this batch has been applied. */
                st = attend_errorf(err, ATTEND_ERR_NUMERIC,
                                   "training diverged at epoch %zu, step %zu (loss %g, gradient norm %g); %s; try a lower --lr (now %g)",
                                   epoch, step + 1, (double)loss, gnorm,
                                   res->best_epoch ? "the last good model is kept in the output file"
                                                   : "no model was saved",
                                   (double)o->lr);
                goto done;
            }
            ts.loss_sum += loss;
            ts.loss_n++;
            if (o->on_progress) {
                double el = attend_now_s() - t0;
                size_t done_here = bi + 1 - first_batch;
                o->on_progress(o->ctx, bi + 1, n_batches, el > 0 ? ts.tokens_seen / el : 0.0,
                               el / (double)done_here * (double)(n_batches - bi - 1));
            }
            const int stop = o->stop && *o->stop;
            const int periodic = o->checkpoint_every && (step + 1) % o->checkpoint_every == 0 &&
                                 bi + 1 < n_batches;
            if (stop || periodic) {
                /* The state after this step: the next one is batch bi + 1. */
                train_state next = ts;
                next.batch++;
                next.step++;
                if ((st = checkpoint_save(&r, o, &next, res, err))) goto done;
                if (stop) {
                    st = attend_errorf(err, ATTEND_ERR_INTERRUPTED,
                                       "interrupted at epoch %zu, step %zu; resume with --resume %s",
                                       epoch, step + 1, o->checkpoint_path);
                    goto done;
                }
            }
        }

        attend_epoch_report rep = {0};
        rep.epoch = epoch;
        rep.epochs = o->epochs;
        rep.step = ts.step;
        rep.train_loss = ts.loss_n ? ts.loss_sum / (double)ts.loss_n : 0.0;
        rep.lr = attend_lr_at(ts.step ? ts.step - 1 : 0, total_steps, warmup, o->lr);
        rep.has_val = has_val;
        double train_s = attend_now_s() - t0;
        rep.tokens_per_s = train_s > 0 ? ts.tokens_seen / train_s : 0.0;
        if (has_val) {
            if ((st = attend_evaluate(m, &r.va, 64, &r.mt, NULL, err))) goto done;
            rep.val_loss = r.mt.loss;
            rep.val_accuracy = r.mt.accuracy;
            rep.val_macro_f1 = r.mt.macro_f1;
        }
        res->epochs_run = epoch;
        // keep the best model by validation loss (the last one without validation)
        double key = has_val ? rep.val_loss : (double)epoch * -1.0;
        if (key < ts.best) {
            ts.best = key;
            ts.since_best = 0;
            rep.improved = 1;
            res->best_epoch = epoch;
            res->best_val_loss = rep.val_loss;
            res->best_val_accuracy = rep.val_accuracy;
            res->best_val_macro_f1 = rep.val_macro_f1;
            if ((st = save_model(&r, o, res, err))) goto done;
        } else {
            ts.since_best++;
        }
        ts.loss_sum = 0.0;
        ts.loss_n = ts.tokens_seen = 0;
        if (o->checkpoint_path) {
            train_state next = ts;
            next.epoch++;
            next.batch = 0;
            if ((st = checkpoint_save(&r, o, &next, res, err))) goto done;
        }
        rep.seconds = attend_now_s() - t0;
        if (o->on_epoch) o->on_epoch(o->ctx, &rep);
        if (o->patience && ts.since_best >= o->patience) {
            emit(o->on_info, o->ctx, "early stop: validation loss has not improved for %zu epochs",
                 o->patience);
            break;
        }
    }
done:
    res->seconds = attend_now_s() - t_start;
    train_run_free(&r);
    return st;
}
