/* A training run shared by several processes (mpirun). Each process reads
 * the files and builds the run itself (everything is a pure function of the
 * data and the settings); this file checks that they all built the same
 * one, and sends a resumed state from process 0, the one that reads the
 * checkpoint, to the others. */
#include "train/run.h"
#include "base/util.h"
#include "dist/dist.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fingerprint of what every process must agree on: the settings (data and
 * validation hashes included), the labels, the validation split and the
 * vocabulary. */
static attend_status run_fingerprint(const train_run *r, const attend_train_options *o,
                                     uint64_t *h, attend_error *err) {
    char *settings = train_run_settings(r, o), *vocab = NULL, *labels = NULL;
    attend_status st = ATTEND_OK;
    if (!settings) st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    if (!st) st = r->model->tok->ops->vocab_json(r->model->tok, &vocab, err);
    if (!st) st = attend_labels_to_json(&r->model->labels, &labels, err);
    if (!st) {
        uint64_t x = ATTEND_FNV64_OFFSET;
        x = attend_fnv1a64(settings, strlen(settings), x);
        x = attend_fnv1a64(vocab, strlen(vocab), x);
        x = attend_fnv1a64(labels, strlen(labels), x);
        x = attend_fnv1a64(r->is_val, r->train_ds.count, x);
        const size_t n[2] = {r->tr.n, r->va.n};
        *h = attend_fnv1a64(n, sizeof n, x);
    }
    free(settings);
    free(vocab);
    free(labels);
    return st;
}

attend_status train_same_run(const train_run *r, const attend_train_options *o,
                             attend_error *err) {
    const attend_world *w = o->world;
    if (attend_world_size(w) == 1) return ATTEND_OK;
    uint64_t mine = 0, first = 0;
    attend_status st = run_fingerprint(r, o, &mine, err);
    if ((st = attend_dist_agree(w, st, NULL, err))) return st;
    first = mine;
    if ((st = attend_dist_bcast(w, &first, sizeof first, err))) return st;
    if (first != mine)
        st = attend_errorf(err, ATTEND_ERR_ARG,
                           "its data, settings, labels, split or vocabulary differ from process 0's (here %s has FNV-1a %s): every process must read the same files with the same flags",
                           o->data_path, r->train_ds.hash_hex);
    return attend_dist_agree(w, st, NULL, err);
}

attend_status train_share_resume(train_run *r, const attend_train_options *o, train_state *ts,
                                 attend_train_result *res, attend_error *err) {
    const attend_world *w = o->world;
    if (attend_world_size(w) == 1) return ATTEND_OK;
    const size_t P = r->model->layout.total;
    float *t[3] = {r->model->params, r->st.m1, r->st.m2};
    attend_status st = ATTEND_OK;
    for (int k = 0; k < 3 && !st; k++) st = attend_dist_bcast(w, t[k], P * sizeof(float), err);
    if (!st) st = attend_dist_bcast(w, ts, sizeof *ts, err);
    if (!st) st = attend_dist_bcast(w, res, sizeof *res, err);
    return st;
}
