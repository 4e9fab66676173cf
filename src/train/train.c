/* Training the classifier, as a short list of named steps:
 *
 *   prepare     read the data, labels, validation split, vocabulary, model
 *   plan        memory, the stepper (stepper.c), batch buffers, schedule
 *   per epoch:  order the batches, run the steps (attend_stepper_step),
 *               evaluate, keep the best model, checkpoint (checkpoint.c)
 *
 * Determinism: every random choice (initial weights, validation split,
 * shuffling, dropout) is a pure function of the seed and a counter, all
 * parallel loops give each output to one thread in a fixed order, and a
 * batch's gradient is summed over fixed pieces in a fixed order, so the same
 * seed gives the same model at any thread count and any number of processes.
 *
 * Several processes (o->world, mpirun): each reads the data and builds the
 * run itself, then they check they built the same one; each computes its
 * share of every batch's pieces and the reduce hook (dist/mpi.c) completes
 * the gradient on all of them, so all apply the same update. Process 0
 * alone reports and writes files; evaluation is shared. Wherever one
 * process may fail alone (reading a file, saving), all of them agree on the
 * outcome before going on (attend_dist_agree), so none is left waiting. */
#define _POSIX_C_SOURCE 200809L /* sysconf */
#include "train/run.h"
#include "base/buf.h"
#include "base/rng.h"
#include "base/util.h"
#include "dist/dist.h"
#include "nn/layout.h"
#include "nn/optimizer.h"
#include "text/splitter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Process 0 of the run's processes (the one that writes files)? */
static int is_root(const attend_train_options *o) { return attend_world_rank(o->world) == 0; }

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
    o->init_pool = -1;
    o->piece = ATTEND_TRAIN_PIECE;
    o->bucket = 50;
}

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
    free(r->init_prov);
    free(r->threads);
}

/* ---- plan: data, labels, split, vocabulary, model, buffers, schedule ---- */

/* From scratch: the vocabulary of the training split, a model with the
 * configuration asked for, initialised from the seed. */
static attend_status model_from_scratch(train_run *r, const attend_train_options *o, size_t K,
                                        attend_error *err) {
    attend_splitter tok;
    attend_status st;
    if ((st = attend_splitter_init(&tok, err))) return st;
    if ((st = attend_vocab_counter_init(&r->counter, err))) {
        attend_splitter_free(&tok);
        return st;
    }
    r->counter_ready = 1;
    for (size_t i = 0; i < r->train_ds.count && st == ATTEND_OK; i++) {
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
    return ATTEND_OK;
}

/* The pooling of a head on the pretrained encoder src: asked for, else the
 * folder's sentence-transformers pooling, else what src's own head read,
 * else BERT's pooler on [CLS] (as BertForSequenceClassification). */
static attend_pool_kind init_pool(const attend_model *src, const attend_train_options *o) {
    if (o->init_pool >= 0) return (attend_pool_kind)o->init_pool;
    if (src->embed_pool_given) return src->embed_pool;
    if (src->cfg.num_classes) return src->cfg.pool;
    return src->cfg.pooler ? ATTEND_POOL_POOLER : ATTEND_POOL_CLS;
}

/* Fine-tuning: src's configuration, tokenizer and every encoder weight,
 * copied into a model of the run's own (the stepper writes its weights),
 * with a new head initialised as BERT initialises one. */
static attend_status model_from_init(train_run *r, const attend_train_options *o, size_t K,
                                     attend_error *err) {
    attend_model *src = NULL;
    attend_status st = attend_model_load(&src, o->init_path, err);
    if (st) return st;
    if (src->cfg.arch != ATTEND_ARCH_BERT) {
        attend_model_free(src);
        return attend_errorf(err, ATTEND_ERR_ARG,
                             "--init %s: an attend classifier; --init takes a BERT-family encoder (a Hugging Face folder, or a model attend train --init saved)",
                             o->init_path);
    }
    attend_model_config cfg = src->cfg;
    cfg.num_classes = K;
    cfg.pool = init_pool(src, o);
    if (o->model.max_len) cfg.max_len = o->model.max_len;
    if (o->model.dropout >= 0.0f) cfg.dropout = cfg.attn_dropout = o->model.dropout;
    attend_tokenizer *tok = src->tok;
    src->tok = NULL; /* the new model takes the tokenizer */
    if (src->meta_provenance && !(r->init_prov = attend_strdup(src->meta_provenance))) {
        attend_tokenizer_free(tok);
        attend_model_free(src);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    }
    if ((st = attend_model_create(&r->model, &cfg, tok, r->labels.names, err))) {
        attend_model_free(src);
        return st;
    }
    /* each tensor from the folder; the rest (the new head) initialised as
     * attend_model_init_weights would (the same values: a seed per tensor) */
    attend_model *m = r->model;
    for (size_t i = 0; i < m->layout.count; i++) {
        const attend_param_info *it = &m->layout.items[i];
        long j = attend_layout_find(&src->layout, it->name);
        if (j >= 0 && src->layout.items[j].numel == it->numel)
            memcpy(m->params + it->offset, attend_model_view(src, (size_t)j), it->numel * sizeof(float));
        else
            attend_bert_init_tensor(m, i, attend_seed_child(o->seed, 12));
    }
    m->embed_pool = src->embed_pool;
    m->embed_normalize = src->embed_normalize;
    attend_model_free(src);
    return ATTEND_OK;
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

    if ((st = o->init_path ? model_from_init(r, o, K, err) : model_from_scratch(r, o, K, err)))
        return st;
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
    res->vocab_size = r->model->cfg.vocab_size;
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
    attend_buf_printf(&pb, ",\"data_fnv1a64\":\"%s\",\"data_format\":\"%s\",",
                      r->train_ds.hash_hex, attend_data_format_name(r->train_ds.format));
    if (o->init_path) {
        /* fine-tuned: the pretrained model it started from, and that one's record */
        attend_buf_puts(&pb, "\"init\":");
        attend_buf_json_string(&pb, o->init_path);
        attend_buf_printf(&pb, ",\"init_provenance\":%s,", r->init_prov ? r->init_prov : "null");
    }
    attend_buf_puts(&pb, "\"val\":");
    attend_buf_json_string(&pb, o->val_path ? o->val_path : "");
    attend_buf_printf(&pb,
                      ",\"val_fnv1a64\":\"%s\",\"val_split\":%g,\"seed\":%llu,\"threads\":%d,"
                      "\"processes\":%d,\"process_threads\":%s,"
                      "\"matmul_precision\":\"%s\",\"attend_version\":\"%s\"}",
                      o->val_path ? r->val_ds.hash_hex : "", o->val_path ? 0.0 : o->val_split,
                      (unsigned long long)o->seed, attend_get_threads(),
                      attend_world_size(o->world), r->threads ? r->threads : "[]",
                      attend_get_matmul_precision() == ATTEND_MATMUL_BF16 ? "bf16" : "fp32",
                      ATTEND_VERSION);
    if (!pb.failed) r->prov = attend_strdup(pb.s);
    attend_buf_free(&pb);
    snprintf(buf, sizeof buf,
             "{\"epochs\":%zu,\"epochs_run\":%zu,\"best_epoch\":%zu,\"batch\":%zu,\"piece\":%zu,\"bucket\":%zu,\"lr\":%g,"
             "\"warmup\":%g,\"weight_decay\":%g,\"clip\":%g,\"label_smoothing\":%g,"
             "\"class_weights\":\"%s\",\"min_freq\":%zu,\"max_vocab\":%zu,\"n_train\":%zu,"
             "\"n_val\":%zu,\"best_val_loss\":%.6g,\"best_val_accuracy\":%.6g,"
             "\"best_val_macro_f1\":%.6g}",
             o->epochs, res->epochs_run, res->best_epoch, o->batch, r->st.piece, o->bucket,
             (double)o->lr,
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

/* The memory a run needs, refused before trying when the machine lacks it;
 * then the stepper, the batch buffers, class weights and the schedule. */
static attend_status plan(train_run *r, const attend_train_options *o, attend_error *err) {
    attend_model *m = r->model;
    const attend_model_config *c = &m->cfg;
    const size_t K = c->num_classes, P = m->layout.total, Bmax = o->batch;
    /* activations are needed for one piece at a time */
    const size_t piece = o->piece && o->piece < Bmax ? o->piece : Bmax;
    const size_t Tmax = r->tr.max_len > r->va.max_len ? r->tr.max_len : r->va.max_len;
    const int acts_flags = attend_train_acts_flags(c, piece, Tmax);
    const size_t n_acts = attend_model_acts_size(c, piece, Tmax, acts_flags);
    attend_emitf(o->on_info, o->ctx,
         "data: %zu train, %zu validation examples, %zu classes, vocabulary %zu, longest %zu tokens; model: %zu parameters; activations %zu MiB%s",
         r->tr.n, r->va.n, K, c->vocab_size, Tmax, P, n_acts * sizeof(float) >> 20,
         acts_flags & ATTEND_ACTS_FUSED ? " (fused attention)" : "");
    /* activations for the longest piece, weights, gradients and two
     * moments, and a piece's gradient when a batch has several */
    double need = ((double)n_acts + (piece < Bmax ? 5.0 : 4.0) * (double)P) * sizeof(float);
    double have = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGE_SIZE);
    if (have > 0 && need > have)
        return attend_errorf(err, ATTEND_ERR_NOMEM,
                             "training would need %.1f GiB of memory (this machine has %.1f GiB): lower --piece (%zu) or --max-len (%zu), or shorten the texts",
                             need / 1073741824.0, have / 1073741824.0, piece, c->max_len);
    attend_status st = attend_stepper_init(&r->st, m, Bmax, piece, Tmax, acts_flags, err);
    if (st) return st;
    r->tokens = malloc(Bmax * Tmax * sizeof(int32_t));
    r->targets = malloc(Bmax * sizeof(int32_t));
    r->pad = malloc(Bmax * Tmax);
    r->order = malloc(r->tr.n * sizeof(size_t));
    r->batches = malloc(r->tr.n * sizeof(size_t));
    if (!r->tokens || !r->targets || !r->pad || !r->order || !r->batches ||
        attend_metrics_init(&r->mt, K))
        return attend_train_nomem(err, m, piece, Tmax, acts_flags);
    if (o->class_weights_auto) {
        size_t *count = calloc(K, sizeof(size_t));
        if (!count || !(r->class_w = calloc(K, sizeof(float)))) {
            free(count);
            return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
        }
        for (size_t i = 0; i < r->tr.n; i++) count[r->tr.labels[i]]++;
        // w_k = N / (K * n_k): the inverse frequency, 1 on average
        for (size_t k = 0; k < K; k++)
            r->class_w[k] = count[k] ? (float)r->tr.n / ((float)K * (float)count[k]) : 0.0f;
        free(count);
    }
    r->st.class_w = r->class_w;
    r->st.label_smoothing = o->label_smoothing;
    r->st.clip = o->clip;
    r->st.adam.weight_decay = o->weight_decay;
    r->n_batches = (r->tr.n + Bmax - 1) / Bmax;
    r->total_steps = r->n_batches * o->epochs;
    r->warmup = (size_t)((double)o->warmup * (double)r->total_steps);
    return ATTEND_OK;
}

/* ---- epoch ---- */

/* The epoch's order: shuffle, sort by length within chunks of o->bucket
 * batches (none when 0), shuffle the batch order. A pure function of
 * (seed, epoch), so a resumed run sees the same order. */
static void epoch_order(train_run *r, const attend_train_options *o, size_t epoch) {
    const size_t n = r->tr.n, Bmax = o->batch, chunk = o->bucket * Bmax;
    for (size_t i = 0; i < n; i++) r->order[i] = i;
    uint64_t es = attend_seed_child(o->seed, 1000 + epoch);
    attend_shuffle(r->order, n, es);
    for (size_t s = 0; chunk && s < n; s += chunk)
        attend_sort_by_length(&r->tr, r->order + s, n - s < chunk ? n - s : chunk);
    for (size_t b = 0; b < r->n_batches; b++) r->batches[b] = b * Bmax;
    attend_shuffle(r->batches, r->n_batches, attend_seed_child(es, 1));
}

/* The steps of one epoch from batch ts->batch on. Stops early, with a
 * checkpoint, on a stop request (ATTEND_ERR_INTERRUPTED); writes one every
 * checkpoint_every steps. */
static attend_status epoch_steps(train_run *r, const attend_train_options *o, train_state *ts,
                                 const attend_train_result *res, attend_error *err) {
    const size_t Bmax = o->batch, first = ts->batch;
    const double t0 = attend_now_s();
    for (; ts->batch < r->n_batches; ts->batch++, ts->step++) {
        const size_t bi = ts->batch, step = ts->step;
        const size_t s0 = r->batches[bi], B = r->tr.n - s0 < Bmax ? r->tr.n - s0 : Bmax;
        const size_t *idx = r->order + s0;
        const size_t T = attend_batch_fill(&r->tr, idx, B, r->model->tok->pad_id, r->tokens, r->pad);
        for (size_t b = 0; b < B; b++) {
            r->targets[b] = r->tr.labels[idx[b]];
            ts->tokens_seen += r->tr.len[idx[b]];
        }
        const float lr = attend_lr_at(step, r->total_steps, r->warmup, o->lr);
        float loss;
        double gnorm;
        const double ts0 = attend_now_s();
        attend_status st = attend_stepper_step(&r->st, r->tokens, r->pad, r->targets, B, T, lr,
                                               step + 1, attend_seed_child(o->seed, 1000000 + step),
                                               &loss, &gnorm, err);
        r->step_s += attend_now_s() - ts0;
        r->steps_run++;
        /* All processes agree on the outcome and on stopping (a signal may
         * reach one of them): one small all-reduce per step. */
        int stop = o->stop ? (int)*o->stop : 0;
        st = attend_dist_agree(o->world, st, &stop, err);
        if (stop && o->stop) *o->stop = stop; /* the largest flag of any process */
        if (st == ATTEND_ERR_NUMERIC)
            /* The weights are still those of the last good step: nothing
             * of this batch has been applied. */
            return attend_errorf(err, ATTEND_ERR_NUMERIC,
                                 "training diverged at epoch %zu, step %zu (loss %g, gradient norm %g); %s; try a lower --lr (now %g)",
                                 ts->epoch, step + 1, (double)loss, gnorm,
                                 res->best_epoch ? "the last good model is kept in the output file"
                                                 : "no model was saved",
                                 (double)o->lr);
        if (st) return st;
        ts->loss_sum += loss;
        ts->loss_n++;
        if (o->on_progress) {
            double el = attend_now_s() - t0;
            o->on_progress(o->ctx, bi + 1, r->n_batches, el > 0 ? ts->tokens_seen / el : 0.0,
                           el / (double)(bi + 1 - first) * (double)(r->n_batches - bi - 1));
        }
        const int periodic = o->checkpoint_every && (step + 1) % o->checkpoint_every == 0 &&
                             bi + 1 < r->n_batches;
        if (stop || periodic) {
            /* The state after this step: the next one is batch bi + 1. */
            train_state next = *ts;
            next.batch++;
            next.step++;
            st = is_root(o) ? train_checkpoint_save(r, o, &next, res, err) : ATTEND_OK;
            if ((st = attend_dist_agree(o->world, st, NULL, err))) return st;
            if (stop)
                return attend_errorf(err, ATTEND_ERR_INTERRUPTED,
                                     "interrupted at epoch %zu, step %zu; resume with --resume %s",
                                     ts->epoch, step + 1, o->checkpoint_path);
        }
    }
    return ATTEND_OK;
}

/* ---- evaluate, keep the best ---- */

static attend_status evaluate(train_run *r, const attend_train_options *o,
                              attend_epoch_report *rep, attend_error *err) {
    rep->has_val = r->va.n > 0;
    if (!rep->has_val) return ATTEND_OK;
    /* shared by the processes, the same numbers on each */
    attend_status st = attend_evaluate_shared(r->model, &r->va, 64, o->world, &r->mt, err);
    rep->val_loss = r->mt.loss;
    rep->val_accuracy = r->mt.accuracy;
    rep->val_macro_f1 = r->mt.macro_f1;
    return st;
}

/* Keeps the best model by validation loss (the last one without
 * validation): saves it when this epoch is the best so far. */
static attend_status keep_best(train_run *r, const attend_train_options *o, train_state *ts,
                               attend_epoch_report *rep, attend_train_result *res,
                               attend_error *err) {
    double key = rep->has_val ? rep->val_loss : (double)rep->epoch * -1.0;
    if (!(key < ts->best)) {
        ts->since_best++;
        return ATTEND_OK;
    }
    ts->best = key;
    ts->since_best = 0;
    rep->improved = 1;
    res->best_epoch = rep->epoch;
    res->best_val_loss = rep->val_loss;
    res->best_val_accuracy = rep->val_accuracy;
    res->best_val_macro_f1 = rep->val_macro_f1;
    attend_status st = is_root(o) ? save_model(r, o, res, err) : ATTEND_OK;
    return attend_dist_agree(o->world, st, NULL, err);
}

/* ---- the run ---- */

/* Each process's thread count, as a JSON array (for the provenance). */
static attend_status gather_threads(train_run *r, const attend_train_options *o,
                                    attend_error *err) {
    const int n = attend_world_size(o->world), me = attend_world_rank(o->world);
    double *t = calloc((size_t)n, sizeof(double));
    attend_buf b;
    attend_buf_init(&b);
    attend_status st = t ? ATTEND_OK : attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    if (!st) {
        t[me] = attend_get_threads();
        st = attend_dist_sum_f64(o->world, t, (size_t)n, err);
    }
    for (int i = 0; i < n && !st; i++) attend_buf_printf(&b, "%s%d", i ? "," : "[", (int)t[i]);
    attend_buf_puts(&b, "]");
    if (!st && (b.failed || !(r->threads = attend_strdup(b.s))))
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    attend_buf_free(&b);
    free(t);
    return st;
}

/* The steps' average time and, with several processes, what exchanging
 * the gradients cost. */
static void summary(const train_run *r, const attend_train_options *o) {
    if (!r->steps_run) return;
    const attend_world *w = o->world;
    const double ms = 1e3 * r->step_s / (double)r->steps_run;
    if (!w || !w->reduces) {
        attend_emitf(o->on_info, o->ctx, "%zu steps, %.2f ms per step", r->steps_run, ms);
        return;
    }
    const size_t E = r->model->cfg.d_model, dense = attend_step_packed_size(&r->st, 0);
    const double floats = w->reduce_floats / (double)w->reduces;
    attend_emitf(o->on_info, o->ctx,
         "%zu steps, %.2f ms per step on %d processes; gradient exchange %.2f ms per step (waiting for the slowest process included), %.0f KiB: %zu dense values and %.0f embedding rows on average",
         r->steps_run, ms, w->size, 1e3 * w->reduce_s / (double)w->reduces,
         floats * sizeof(float) / 1024.0, dense, (floats - (double)dense) / (double)E);
}

/* Everything before the first step: the run built and checked on every
 * process, the validation records written, the buffers planned, the step
 * shared out, a checkpoint restored. */
static attend_status start(train_run *r, const attend_train_options *o, train_state *ts,
                           attend_train_result *res, attend_error *err) {
    attend_world *w = o->world;
    attend_status st;
    if ((st = attend_dist_agree(w, prepare(r, o, res, err), NULL, err)) ||
        (st = train_same_run(r, o, err)))
        return st;
    if (o->val_out_path &&
        (st = attend_dist_agree(w, is_root(o) ? write_val_tsv(r, o, err) : ATTEND_OK, NULL, err)))
        return st;
    st = plan(r, o, err);
    if (!st) st = attend_dist_attach(w, &r->st, err);
    if ((st = attend_dist_agree(w, st, NULL, err)) || (st = gather_threads(r, o, err))) return st;
    if (o->resume_path) {
        const char *from = NULL;
        st = is_root(o) ? train_checkpoint_load(r, o, ts, res, &from, err) : ATTEND_OK;
        if ((st = attend_dist_agree(w, st, NULL, err)) ||
            (st = train_share_resume(r, o, ts, res, err)))
            return st;
        attend_emitf(o->on_info, o->ctx, "resuming from %s: epoch %zu, batch %zu of %zu, step %zu", from,
             ts->epoch, ts->batch, r->n_batches, ts->step);
    }
    if (attend_world_size(w) > 1) {
        const size_t n = (size_t)attend_world_size(w), pieces = (o->batch + r->st.piece - 1) / r->st.piece;
        const size_t each = (pieces + n - 1) / n, busy = (pieces + each - 1) / each;
        char idle[160] = "";
        if (busy < n || pieces % n)
            snprintf(idle, sizeof idle,
                     "; uneven: %zu piece(s) on the busiest process, %zu with none (a --batch of a multiple of %zu x --piece shares evenly)",
                     each, n - busy, n);
        attend_emitf(o->on_info, o->ctx, "%zu processes, %zu pieces of %zu examples per batch of %zu%s", n,
             pieces, r->st.piece, o->batch, idle);
    }
    return ATTEND_OK;
}

attend_status attend_train(const attend_train_options *opts, attend_train_result *res,
                           attend_error *err) {
    /* Process 0 reports; the others train silently. */
    attend_train_options quiet = *opts;
    if (!is_root(opts)) {
        quiet.on_init = NULL;
        quiet.on_info = quiet.on_warning = NULL;
        quiet.on_epoch = NULL;
        quiet.on_progress = NULL;
    }
    const attend_train_options *o = &quiet;
    train_run r;
    memset(&r, 0, sizeof r);
    memset(res, 0, sizeof *res);
    const double t_start = attend_now_s();
    if (o->batch < 1 || o->batch > ATTEND_TRAIN_MAX_BATCH)
        return attend_errorf(err, ATTEND_ERR_ARG, "batch %zu is outside [1, %d]", o->batch,
                             ATTEND_TRAIN_MAX_BATCH);
    /* Check the architecture before reading any data: fail fast. */
    attend_model_config probe = o->model;
    probe.vocab_size = ATTEND_VOCAB_NSPECIAL;
    probe.num_classes = 2;
    attend_status st = o->init_path ? ATTEND_OK : attend_model_config_check(&probe, err);
    if (st) return st;

    train_state ts = {1, 0, 0, 0.0, 0, 0, INFINITY, 0};
    if ((st = start(&r, o, &ts, res, err))) goto done;
    for (; ts.epoch <= o->epochs; ts.epoch++, ts.batch = 0) {
        attend_epoch_report rep = {0};
        rep.epoch = ts.epoch;
        rep.epochs = o->epochs;
        const double t0 = attend_now_s();
        epoch_order(&r, o, ts.epoch);
        if ((st = epoch_steps(&r, o, &ts, res, err))) goto done;
        rep.step = ts.step;
        rep.train_loss = ts.loss_n ? ts.loss_sum / (double)ts.loss_n : 0.0;
        rep.lr = attend_lr_at(ts.step ? ts.step - 1 : 0, r.total_steps, r.warmup, o->lr);
        const double train_s = attend_now_s() - t0;
        rep.tokens_per_s = train_s > 0 ? ts.tokens_seen / train_s : 0.0;
        if ((st = evaluate(&r, o, &rep, err))) goto done;
        res->epochs_run = ts.epoch;
        if ((st = keep_best(&r, o, &ts, &rep, res, err))) goto done;
        ts.loss_sum = 0.0;
        ts.loss_n = ts.tokens_seen = 0;
        if (o->checkpoint_path) {
            train_state next = ts;
            next.epoch++;
            next.batch = 0;
            st = is_root(o) ? train_checkpoint_save(&r, o, &next, res, err) : ATTEND_OK;
            if ((st = attend_dist_agree(o->world, st, NULL, err))) goto done;
        }
        rep.seconds = attend_now_s() - t0;
        if (o->on_epoch) o->on_epoch(o->ctx, &rep);
        if (o->patience && ts.since_best >= o->patience) {
            attend_emitf(o->on_info, o->ctx, "early stop: validation loss has not improved for %zu epochs",
                 o->patience);
            break;
        }
    }
    if (!st) summary(&r, o);
done:
    res->seconds = attend_now_s() - t_start;
    train_run_free(&r);
    return st;
}
