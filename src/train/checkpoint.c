/* Checkpoints: the run's weights, the AdamW moments ("optim.exp_avg.NAME",
 * "optim.exp_avg_sq.NAME"), and in __metadata__ the settings the run was
 * started with, where it stands (train_state), the vocabulary and labels.
 * Resuming from one continues to the bytes an uninterrupted run gives. */
#include "train/run.h"
#include "base/util.h"
#include "nn/layout.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECKPOINT_FORMAT "attend.checkpoint.v1"

char *train_run_settings(const train_run *r, const attend_train_options *o) {
    char *cfg = attend_model_config_to_json(&r->model->cfg);
    if (!cfg) return NULL;
    char buf[2048];
    snprintf(buf, sizeof buf,
             "{\"data_fnv1a64\":\"%s\",\"val_fnv1a64\":\"%s\",\"val_split\":%.17g,\"seed\":%llu,"
             "\"epochs\":%zu,\"batch\":%zu,\"piece\":%zu,\"bucket\":%zu,\"lr\":%.9g,\"warmup\":%.9g,\"weight_decay\":%.9g,"
             "\"clip\":%.9g,\"label_smoothing\":%.9g,\"class_weights\":%d,\"min_freq\":%zu,"
             "\"max_vocab\":%zu,\"model\":%s}",
             r->train_ds.hash_hex, o->val_path ? r->val_ds.hash_hex : "",
             o->val_path ? 0.0 : o->val_split, (unsigned long long)o->seed, o->epochs, o->batch,
             r->st.piece, o->bucket, (double)o->lr, (double)o->warmup, (double)o->weight_decay, (double)o->clip,
             (double)o->label_smoothing, o->class_weights_auto, o->min_freq, o->max_vocab, cfg);
    free(cfg);
    return attend_strdup(buf);
}

attend_status train_checkpoint_save(const train_run *r, const attend_train_options *o,
                                    const train_state *ts, const attend_train_result *res,
                                    attend_error *err) {
    const attend_model *m = r->model;
    attend_st_writer *w = attend_st_writer_new();
    char *settings = train_run_settings(r, o), *vocab = NULL, *labels = NULL;
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

/* Loads the checkpoint at path into the run (the settings already checked
 * to match by the caller's open). */
static attend_status checkpoint_read(train_run *r, const attend_train_options *o,
                                     const char *path, attend_st_file *f, train_state *ts,
                                     attend_train_result *res, attend_error *err) {
    attend_model *m = r->model;
    char *settings = train_run_settings(r, o), *vocab = NULL;
    attend_status st = ATTEND_OK;
    const char *fmt = attend_st_meta(f, "format");
    const char *was = attend_st_meta(f, "settings"), *state = attend_st_meta(f, "state"),
               *jv = attend_st_meta(f, "vocab");
    if (!fmt || strcmp(fmt, CHECKPOINT_FORMAT) != 0 || !was || !state || !jv) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: not an attend training checkpoint (attend train writes one beside its model as MODEL.ckpt)", path);
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
    if (!(v[0] >= 1 && v[0] <= (double)o->epochs + 1 && v[1] >= 0 && v[1] <= (double)r->n_batches)) {
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
    free(settings);
    free(vocab);
    return st;
}

attend_status train_checkpoint_load(train_run *r, const attend_train_options *o,
                                    train_state *ts, attend_train_result *res, const char **used,
                                    attend_error *err) {
    const char *path = o->resume_path;
    attend_st_file *f = NULL;
    attend_status st = attend_st_open(&f, path, err);
    const char *fmt = st == ATTEND_OK ? attend_st_meta(f, "format") : NULL;
    int model_file = fmt && strcmp(fmt, CHECKPOINT_FORMAT) != 0 && attend_st_meta(f, "config");
    if (model_file || st == ATTEND_ERR_IO) {
        /* People type the model's path: its checkpoint is MODEL.ckpt beside
         * it (before the first epoch ends there is no model file yet). */
        snprintf(r->resume_path, sizeof r->resume_path, "%s.ckpt", path);
        attend_st_close(f);
        f = NULL;
        attend_error e2 = {0};
        attend_status st2 = attend_st_open(&f, r->resume_path, &e2);
        if (st2 == ATTEND_OK) {
            path = r->resume_path;
            st = ATTEND_OK;
        } else if (model_file || st2 != ATTEND_ERR_IO) {
            return attend_errorf(err, st2 == ATTEND_ERR_IO ? ATTEND_ERR_IO : st2,
                                 st2 == ATTEND_ERR_IO
                                     ? "%s is a model file, not a checkpoint, and its checkpoint %s does not exist (a run that finishes removes it; with --checkpoint FILE, resume with --resume FILE)"
                                     : "%s: its checkpoint %s: %s",
                                 o->resume_path, r->resume_path, e2.msg);
        }
    }
    if (st == ATTEND_ERR_FORMAT) {
        char why[sizeof err->msg];
        snprintf(why, sizeof why, "%s", err ? err->msg : "");
        return attend_errorf(err, st, "--resume %s is not an attend training checkpoint: %s",
                             o->resume_path, why);
    }
    if (st) return st;
    st = checkpoint_read(r, o, path, f, ts, res, err);
    attend_st_close(f);
    if (st == ATTEND_OK && used) *used = path;
    return st;
}
