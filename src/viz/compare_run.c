/* attend compare: the heads experiment run end to end. Every (heads,
 * positional encoding, seed) is trained by attend_train on one shared split;
 * the best model of each run is evaluated for per-head statistics on the
 * validation data; the outputs (compare.c) are rewritten after every run so
 * that a long experiment shows its progress. */
#include "viz/compare.h"
#include "viz/report.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void attend_compare_options_default(attend_compare_options *o) {
    memset(o, 0, sizeof *o);
    attend_train_options_default(&o->train);
    o->pos[0] = ATTEND_POS_LEARNED;
    o->n_pos = 1;
    o->n_seeds = 3;
    o->stats_examples = 1000;
}

/* Per-head statistics of the model at path on the validation data. */
static attend_status run_stats(const char *path, const attend_dataset *vds, size_t examples,
                               attend_head_stats *hs, attend_error *err) {
    attend_model *model = NULL;
    attend_encoded venc = {0};
    int32_t *vids = NULL;
    attend_status st = attend_model_load(&model, path, err);
    if (st) return st;
    if (!(vids = malloc((vds->count ? vds->count : 1) * sizeof(int32_t))))
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    if (!st && !(st = attend_labels_map(&model->labels, vds, vids, err)) &&
        !(st = attend_encode_dataset(&venc, model, vds, vids, NULL, 0, NULL, NULL, err)) &&
        model->cfg.num_layers)
        st = attend_head_stats_compute(model, &venc, examples, 1, hs, err);
    attend_encoded_free(&venc);
    free(vids);
    attend_model_free(model);
    return st;
}

static attend_status check(const attend_compare_options *o, attend_error *err) {
    if (!o->train.data_path || !o->n_heads || !o->out_dir)
        return attend_errorf(err, ATTEND_ERR_ARG, "compare needs data, head counts and an output directory");
    if (o->n_heads > ATTEND_COMPARE_MAX_CONFIGS || o->n_pos < 1 || o->n_pos > 3 || o->n_seeds < 1)
        return attend_errorf(err, ATTEND_ERR_ARG, "compare: %zu head counts, %zu encodings, %zu seeds",
                             o->n_heads, o->n_pos, o->n_seeds);
    for (size_t k = 0; k < o->n_heads; k++)
        if (!o->heads[k] || o->train.model.d_model % o->heads[k])
            return attend_errorf(err, ATTEND_ERR_ARG,
                                 "d_model %zu is not divisible by %zu heads; pick a d_model that every head count divides (e.g. 64 for 1,2,4,8)",
                                 o->train.model.d_model, o->heads[k]);
    return ATTEND_OK;
}

attend_status attend_compare(const attend_compare_options *o, char **markdown, attend_error *err) {
    if (markdown) *markdown = NULL;
    attend_status st = check(o, err);
    if (st || (st = attend_mkdir(o->out_dir, err))) return st;
    attend_train_options to = o->train;
    const char *dir = o->out_dir;
    char train_tsv[4096], val_tsv[4096], models[4000];
    attend_compare_setup setup = {0};
    setup.data_path = to.data_path;
    setup.command = o->command;
    if (to.val_path) {
        setup.train_path = to.data_path;
        setup.val_path = to.val_path;
    } else {
        // one split for every run, seeded by the first seed, written out so it can be checked
        snprintf(train_tsv, sizeof train_tsv, "%s/train.tsv", dir);
        snprintf(val_tsv, sizeof val_tsv, "%s/val.tsv", dir);
        size_t ntr = 0, nva = 0;
        if ((st = attend_compare_split(to.data_path, &to.data, to.val_split, to.seed, train_tsv,
                                       val_tsv, &ntr, &nva, err)))
            return st;
        attend_emitf(o->on_message, o->ctx, "split %s: %zu training, %zu validation examples -> %s, %s", to.data_path, ntr, nva,
            train_tsv, val_tsv);
        to.data_path = setup.train_path = train_tsv;
        to.val_path = setup.val_path = val_tsv;
        memset(&to.data, 0, sizeof to.data);
        to.data.format = ATTEND_FORMAT_TSV;
    }
    snprintf(models, sizeof models, "%s/models", dir);
    if (o->keep_models && (st = attend_mkdir(models, err))) return st;
    to.data.on_warning = NULL; /* the data was read once already; its warnings were shown */
    to.on_warning = NULL;
    const attend_model_config *m = &to.model;
    setup.d_model = m->d_model;
    setup.layers = m->num_layers;
    setup.d_ff = m->dim_feedforward;
    setup.max_len = m->max_len;
    setup.epochs = to.epochs;
    setup.batch = to.batch;
    setup.n_seeds = o->n_seeds;
    setup.first_seed = to.seed;
    setup.lr = to.lr;
    setup.dropout = m->dropout;

    const size_t n_runs = o->n_heads * o->n_pos * o->n_seeds;
    attend_compare_run *runs = calloc(n_runs, sizeof *runs);
    attend_dataset vds = {0};
    if (!runs) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    char heads_s[256] = "", pos_s[64] = "";
    for (size_t k = 0, w = 0; k < o->n_heads; k++)
        w += (size_t)snprintf(heads_s + w, sizeof heads_s - w, "%s%zu", k ? "," : " ", o->heads[k]);
    for (size_t k = 0, w = 0; k < o->n_pos; k++)
        w += (size_t)snprintf(pos_s + w, sizeof pos_s - w, "%s%s", k ? "," : " ", attend_pos_name(o->pos[k]));
    attend_emitf(o->on_message, o->ctx, "%zu runs: heads%s x pos%s x %zu seed%s; d_model %zu, %zu layer%s, %zu epoch%s", n_runs, heads_s,
        pos_s, o->n_seeds, o->n_seeds == 1 ? "" : "s", m->d_model, m->num_layers,
        m->num_layers == 1 ? "" : "s", to.epochs, to.epochs == 1 ? "" : "s");

    size_t done = 0;
    for (size_t pi = 0; pi < o->n_pos && !st; pi++)
        for (size_t hi = 0; hi < o->n_heads && !st; hi++)
            for (size_t si = 0; si < o->n_seeds && !st; si++) {
                attend_compare_run *run = &runs[done];
                run->heads = o->heads[hi];
                run->pos = o->pos[pi];
                run->seed = o->train.seed + si;
                char model_path[4200];
                if (o->keep_models)
                    snprintf(model_path, sizeof model_path, "%s/h%zu-%s-s%llu.safetensors", models,
                             run->heads, attend_pos_name(run->pos), (unsigned long long)run->seed);
                else
                    snprintf(model_path, sizeof model_path, "%s/.run.safetensors", dir);
                attend_train_options ro = to;
                ro.model.nhead = run->heads;
                ro.model.pos = run->pos;
                ro.seed = run->seed;
                ro.out_path = model_path;
                if (o->on_run) o->on_run(o->ctx, done, n_runs, run->heads, run->pos, run->seed, NULL);
                attend_train_result res;
                if ((st = attend_train(&ro, &res, err))) break;
                run->val_loss = res.best_val_loss;
                run->val_accuracy = res.best_val_accuracy;
                run->val_macro_f1 = res.best_val_macro_f1;
                run->seconds = res.seconds;
                run->params = res.n_params;
                run->epochs_run = res.epochs_run;
                run->best_epoch = res.best_epoch;
                // per-head diagnostics of the saved (best) model on the validation data
                if ((!vds.records && (st = attend_dataset_read(&vds, to.val_path, &to.data, err))) ||
                    (st = run_stats(model_path, &vds, o->stats_examples, &run->stats, err)))
                    break;
                if (!o->keep_models) remove(model_path);
                done++;
                if (o->on_run) o->on_run(o->ctx, done - 1, n_runs, run->heads, run->pos, run->seed, &res);
                setup.n_train = res.n_train;
                setup.n_val = res.n_val;
                setup.num_classes = res.num_classes;
                st = attend_compare_write(dir, &setup, runs, done, NULL, NULL, err);
            }
    attend_dataset_free(&vds);
    if (!st && markdown) {
        attend_compare_row *rows = NULL;
        size_t n_rows = 0;
        if (!(st = attend_compare_summarise(runs, done, &rows, &n_rows, err))) {
            attend_buf md;
            attend_buf_init(&md);
            attend_compare_markdown(&md, rows, n_rows);
            if (md.failed) st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
            else *markdown = md.s ? md.s : attend_strdup("");
            if (st) attend_buf_free(&md);
            free(rows);
        }
    }
    for (size_t i = 0; i < n_runs; i++) attend_head_stats_free(&runs[i].stats);
    free(runs);
    return st;
}
