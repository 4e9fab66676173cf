/* Labelled texts turned into token ids for one model, and the batches
 * training and evaluation cut from them. */
#include "train/train.h"
#include "base/rng.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
            if (warn) {
                char msg[512];
                snprintf(msg, sizeof msg, "%s:%zu: text has no tokens after normalisation; skipped",
                         ds->name, ds->records[i].line);
                warn(ctx, msg);
            }
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

size_t attend_batch_fill(const attend_encoded *e, const size_t *idx, size_t B, int32_t pad_id,
                         int32_t *tokens, uint8_t *pad) {
    size_t T = 1;
    for (size_t b = 0; b < B; b++) T = e->len[idx[b]] > T ? e->len[idx[b]] : T;
    for (size_t b = 0; b < B; b++) {
        size_t i = idx[b], n = e->len[i];
        memcpy(tokens + b * T, e->ids + e->off[i], n * sizeof(int32_t));
        for (size_t t = 0; t < T; t++) pad[b * T + t] = t >= n;
        for (size_t t = n; t < T; t++) tokens[b * T + t] = pad_id;
    }
    return T;
}

/* Sort helper: order indices by length, then by index (a total order, so
 * any sort gives the same result); thread-local so that two runs in one
 * process do not share it. */
static _Thread_local const attend_encoded *sort_enc_;
static int by_length(const void *a, const void *b) {
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    size_t li = sort_enc_->len[i], lj = sort_enc_->len[j];
    if (li != lj) return li < lj ? -1 : 1;
    return i < j ? -1 : i > j;
}
void attend_sort_by_length(const attend_encoded *e, size_t *idx, size_t n) {
    sort_enc_ = e;
    qsort(idx, n, sizeof *idx, by_length);
    sort_enc_ = NULL;
}

void attend_shuffle(size_t *x, size_t n, uint64_t seed) {
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(attend_mix64(seed ^ attend_mix64(i)) % i);
        size_t t = x[i - 1];
        x[i - 1] = x[j];
        x[j] = t;
    }
}
