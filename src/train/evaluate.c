/* Batched evaluation: loss, accuracy, per-class metrics and probabilities
 * of a model over encoded texts. */
#include "train/train.h"
#include "dist/dist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Runs batches [b_lo, b_hi) of the evaluation order idx (batches of
 * `batch`): for the k-th example of the order, out[2k] = the predicted class
 * and out[2k+1] = its loss (0 without labels); probs (may be NULL) gets its
 * probabilities in the example's own row. A batch is computed the same way
 * whichever process runs it. */
static attend_status eval_batches(const attend_model *m, const attend_encoded *e,
                                  const size_t *idx, size_t batch, size_t b_lo, size_t b_hi,
                                  double *out, float *probs, attend_error *err) {
    const attend_model_config *c = &m->cfg;
    const size_t K = c->num_classes;
    size_t T = e->max_len ? e->max_len : 1;
    size_t n_acts = attend_model_acts_size(c, batch, T, ATTEND_ACTS_FUSED);
    float *mem = malloc(n_acts * sizeof(float));
    float *p = malloc(batch * K * sizeof(float));
    int32_t *tokens = malloc(batch * T * sizeof(int32_t));
    uint8_t *pad = malloc(batch * T);
    attend_status st = ATTEND_OK;
    if (!mem || !p || !tokens || !pad) {
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for evaluation (%zu MiB of activations)",
                           n_acts * sizeof(float) >> 20);
        goto done;
    }
    for (size_t s = b_lo * batch; s < e->n && s < b_hi * batch; s += batch) {
        size_t B = e->n - s < batch ? e->n - s : batch;
        size_t Tb = attend_batch_fill(e, idx + s, B, m->tok->pad_id, tokens, pad);
        attend_model_acts a;
        attend_model_acts_bind(&a, c, B, Tb, ATTEND_ACTS_FUSED, mem);
        attend_model_forward(m, &a, tokens, pad, B, Tb, 0, 0);
        attend_softmax_forward(p, a.logits, B, K);
        for (size_t b = 0; b < B; b++) {
            const float *pb = p + b * K;
            size_t best = 0;
            for (size_t k = 1; k < K; k++) best = pb[k] > pb[best] ? k : best;
            if (probs) memcpy(probs + idx[s + b] * K, pb, K * sizeof(float));
            out[2 * (s + b)] = (double)best;
            out[2 * (s + b) + 1] = 0.0;
            if (e->labels) {
                int32_t y = e->labels[idx[s + b]];
                /* loss from logits (log-sum-exp) so a tiny probability stays finite */
                const float *lg = a.logits + b * K;
                double mx = lg[0], se = 0.0;
                for (size_t k = 1; k < K; k++) mx = lg[k] > mx ? lg[k] : mx;
                for (size_t k = 0; k < K; k++) se += exp(lg[k] - mx);
                out[2 * (s + b) + 1] = mx + log(se) - lg[y];
            }
        }
    }
done:
    free(mem);
    free(p);
    free(tokens);
    free(pad);
    return st;
}

/* Evaluation in the order examples sorted by length, in batches of batch;
 * each process runs a contiguous share of the batches, the results are
 * summed across processes (each is nonzero on one process only, so the sum
 * is exact) and counted in that order on every process: the same metrics,
 * to the bit, as one process's. probs only with one process. */
static attend_status eval_run(const attend_model *m, const attend_encoded *e, size_t batch,
                              const attend_world *w, attend_metrics *mt, float *probs,
                              attend_error *err) {
    if (batch == 0) batch = 64;
    if (batch > ATTEND_TRAIN_MAX_BATCH) batch = ATTEND_TRAIN_MAX_BATCH;
    const size_t n = e->n, nb = (n + batch - 1) / batch;
    const size_t ranks = (size_t)attend_world_size(w), rank = (size_t)attend_world_rank(w);
    const size_t each = (nb + ranks - 1) / ranks;
    const size_t lo = rank * each < nb ? rank * each : nb, hi = lo + each < nb ? lo + each : nb;
    size_t *idx = malloc((n ? n : 1) * sizeof(size_t));
    double *out = calloc(2 * (n ? n : 1), sizeof(double));
    attend_status st = ATTEND_OK;
    if (!idx || !out) st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory for evaluation");
    if (!st) {
        for (size_t i = 0; i < n; i++) idx[i] = i;
        attend_sort_by_length(e, idx, n);
        st = eval_batches(m, e, idx, batch, lo, hi, out, probs, err);
    }
    if (ranks > 1 && !(st = attend_dist_agree(w, st, NULL, err)))
        st = attend_dist_sum_f64(w, out, 2 * n, err);
    if (!st && mt) {
        attend_metrics_reset(mt);
        if (e->labels)
            for (size_t k = 0; k < n; k++)
                attend_metrics_add(mt, e->labels[idx[k]], (int32_t)out[2 * k], out[2 * k + 1]);
        attend_metrics_finish(mt);
    }
    free(idx);
    free(out);
    return st;
}

attend_status attend_evaluate(const attend_model *m, const attend_encoded *e, size_t batch,
                              attend_metrics *mt, float *probs, attend_error *err) {
    return eval_run(m, e, batch, NULL, mt, probs, err);
}

attend_status attend_evaluate_shared(const attend_model *m, const attend_encoded *e,
                                     size_t batch, const attend_world *w, attend_metrics *mt,
                                     attend_error *err) {
    return eval_run(m, e, batch, w, mt, NULL, err);
}

attend_status attend_evaluate_file(const attend_model *m, const char *path,
                                   const attend_data_options *opt, size_t batch,
                                   attend_metrics *mt, size_t *n_malformed, size_t *n_empty,
                                   attend_error *err) {
    memset(mt, 0, sizeof *mt);
    attend_data_options d = {0};
    if (opt) d = *opt;
    attend_dataset ds = {0};
    attend_encoded enc = {0};
    int32_t *ids = NULL;
    attend_status st = attend_dataset_read(&ds, path, &d, err);
    if (st) goto done;
    if (!(ids = malloc((ds.count ? ds.count : 1) * sizeof(int32_t)))) {
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = attend_labels_map(&m->labels, &ds, ids, err)) ||
        (st = attend_encode_dataset(&enc, m, &ds, ids, NULL, 0, d.on_warning, d.warning_ctx, err)))
        goto done;
    if (enc.n == 0) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: no example has a token", path);
        goto done;
    }
    if (attend_metrics_init(mt, m->cfg.num_classes)) {
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = attend_evaluate(m, &enc, batch, mt, NULL, err))) goto done;
    if (n_malformed) *n_malformed = ds.n_malformed;
    if (n_empty) *n_empty = enc.n_empty;
done:
    if (st) attend_metrics_free(mt);
    attend_encoded_free(&enc);
    free(ids);
    attend_dataset_free(&ds);
    return st;
}
