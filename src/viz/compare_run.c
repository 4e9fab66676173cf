/* attend compare: the heads experiment run end to end. For each data set,
 * every (heads, positional encoding, seed) is trained by attend_train on one
 * shared split; each run's epochs are recorded; the best model of each run
 * is evaluated for per-head statistics and its attention on a few
 * validation texts; the outputs (compare.c, compare_page.c) are rewritten
 * after every run so that a long experiment shows its progress. */
#include "viz/compare.h"
#include "viz/report.h"
#include "base/utf8.h"
#include "base/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 48
#define MAX_NOTE_BYTES ((size_t)1 << 20)
#define MAX_EXAMPLES 16

void attend_compare_options_default(attend_compare_options *o) {
    memset(o, 0, sizeof *o);
    attend_train_options_default(&o->train);
    o->pos[0] = ATTEND_POS_LEARNED;
    o->n_pos = 1;
    o->n_seeds = 3;
    o->stats_examples = 1000;
    o->n_examples = 3;
}

/* One data set being compared. */
typedef struct {
    char name[NAME_MAX_LEN + 1];
    char dir[4096], link[NAME_MAX_LEN + 16], train_tsv[4200], val_tsv[4200];
    attend_train_options to; /* train's options with this set's data and validation */
    attend_compare_setup setup;
    attend_compare_run *runs;
    size_t n_done;
    attend_dataset vds;                /* its validation data, read after the first run */
    size_t example_idx[MAX_EXAMPLES];  /* records of vds shown as examples */
    size_t n_example_idx;
    int examples_chosen;
} cmp_set;

static int name_char_ok(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-';
}

/* The given name, or the data file's base name without its extension with
 * every other character replaced by '_'. */
static void set_name(char out[NAME_MAX_LEN + 1], const char *given, const char *path) {
    if (given) {
        snprintf(out, NAME_MAX_LEN + 1, "%s", given);
        return;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    const char *dot = strrchr(base, '.');
    if (dot && dot > base) n = (size_t)(dot - base);
    if (n > NAME_MAX_LEN) n = NAME_MAX_LEN;
    for (size_t i = 0; i < n; i++) out[i] = name_char_ok(base[i]) ? base[i] : '_';
    out[n] = 0;
    if (!n || out[0] == '.') snprintf(out, NAME_MAX_LEN + 1, "data");
}

static attend_status check(const attend_compare_options *o, attend_error *err) {
    if ((!o->n_data && !o->train.data_path) || !o->n_heads || !o->out_dir)
        return attend_errorf(err, ATTEND_ERR_ARG, "compare needs data, head counts and an output directory");
    if (o->n_heads > ATTEND_COMPARE_MAX_CONFIGS || o->n_pos < 1 || o->n_pos > 3 || o->n_seeds < 1)
        return attend_errorf(err, ATTEND_ERR_ARG, "compare: %zu head counts, %zu encodings, %zu seeds",
                             o->n_heads, o->n_pos, o->n_seeds);
    if (o->n_data > ATTEND_COMPARE_MAX_DATA || o->n_examples > MAX_EXAMPLES)
        return attend_errorf(err, ATTEND_ERR_ARG, "compare: %zu data sets (at most %d), %zu examples (at most %d)",
                             o->n_data, ATTEND_COMPARE_MAX_DATA, o->n_examples, MAX_EXAMPLES);
    for (size_t k = 0; k < o->n_heads; k++)
        if (!o->heads[k] || o->train.model.d_model % o->heads[k])
            return attend_errorf(err, ATTEND_ERR_ARG,
                                 "d_model %zu is not divisible by %zu heads; pick a d_model that every head count divides (e.g. 64 for 1,2,4,8)",
                                 o->train.model.d_model, o->heads[k]);
    for (size_t k = 0; k < o->n_data; k++) {
        const char *nm = o->data[k].name;
        if (!o->data[k].data_path) return attend_errorf(err, ATTEND_ERR_ARG, "compare: data set %zu has no file", k + 1);
        if (!nm) continue;
        size_t n = strlen(nm), bad = 0;
        for (size_t i = 0; i < n; i++) bad += !name_char_ok(nm[i]);
        if (!n || n > NAME_MAX_LEN || bad || nm[0] == '.')
            return attend_errorf(err, ATTEND_ERR_ARG,
                                 "compare: data set name '%.60s' must be 1 to %d letters, digits, '.', '_' or '-', "
                                 "not starting with '.'", nm, NAME_MAX_LEN);
    }
    return ATTEND_OK;
}

/* The note, read whole and checked: UTF-8 text without NUL bytes. */
static attend_status read_note(const char *path, char **note, attend_error *err) {
    size_t len, bad;
    attend_status st = attend_read_file(path, MAX_NOTE_BYTES, note, &len, NULL, err);
    if (st) return st;
    if (strlen(*note) != len) st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: NUL byte in the note", path);
    else if (!attend_utf8_valid(*note, len, &bad))
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: invalid UTF-8 at byte %zu", path, bad);
    if (st) {
        free(*note);
        *note = NULL;
    }
    return st;
}

/* Directories and the shared split of data set k (named already). */
static attend_status prepare_set(const attend_compare_options *o, size_t k, size_t n_sets, cmp_set *cs,
                                 attend_error *err) {
    const attend_compare_data *d = &o->data[k];
    cs->to = o->train;
    if (o->n_data) {
        cs->to.data_path = d->data_path;
        cs->to.val_path = d->val_path;
    }
    snprintf(cs->link, sizeof cs->link, "%s/index.html", cs->name);
    if (n_sets > 1) snprintf(cs->dir, sizeof cs->dir, "%s/%s", o->out_dir, cs->name);
    else snprintf(cs->dir, sizeof cs->dir, "%s", o->out_dir);
    attend_status st = n_sets > 1 ? attend_mkdir(cs->dir, err) : ATTEND_OK;
    attend_compare_setup *s = &cs->setup;
    s->data_path = cs->to.data_path;
    s->command = o->command;
    if (!st && cs->to.val_path) {
        s->train_path = cs->to.data_path;
        s->val_path = cs->to.val_path;
    } else if (!st) {
        // one split for every run, seeded by the first seed, written out so it can be checked
        snprintf(cs->train_tsv, sizeof cs->train_tsv, "%s/train.tsv", cs->dir);
        snprintf(cs->val_tsv, sizeof cs->val_tsv, "%s/val.tsv", cs->dir);
        size_t ntr = 0, nva = 0;
        if ((st = attend_compare_split(cs->to.data_path, &cs->to.data, cs->to.val_split, cs->to.seed, cs->train_tsv,
                                       cs->val_tsv, &ntr, &nva, err)))
            return st;
        attend_emitf(o->on_message, o->ctx, "split %s: %zu training, %zu validation examples -> %s, %s",
                     cs->to.data_path, ntr, nva, cs->train_tsv, cs->val_tsv);
        cs->to.data_path = s->train_path = cs->train_tsv;
        cs->to.val_path = s->val_path = cs->val_tsv;
        memset(&cs->to.data, 0, sizeof cs->to.data);
        cs->to.data.format = ATTEND_FORMAT_TSV;
    }
    char models[4200];
    snprintf(models, sizeof models, "%s/models", cs->dir);
    if (!st && o->keep_models) st = attend_mkdir(models, err);
    cs->to.data.on_warning = NULL; /* the data was read once already; its warnings were shown */
    cs->to.on_warning = NULL;
    const attend_model_config *m = &cs->to.model;
    s->d_model = m->d_model;
    s->layers = m->num_layers;
    s->d_ff = m->dim_feedforward;
    s->max_len = m->max_len;
    s->epochs = cs->to.epochs;
    s->batch = cs->to.batch;
    s->n_seeds = o->n_seeds;
    s->first_seed = cs->to.seed;
    s->lr = cs->to.lr;
    s->dropout = m->dropout;
    cs->runs = calloc(o->n_heads * o->n_pos * o->n_seeds, sizeof *cs->runs);
    if (!st && !cs->runs) st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    return st;
}

/* ---- one run ---- */

/* Passes the caller's callbacks on while recording every epoch. */
typedef struct {
    const attend_train_options *user;
    attend_compare_run *run;
    int failed;
} recorder;

static void rec_epoch(void *ctx, const attend_epoch_report *r) {
    recorder *rc = ctx;
    attend_compare_run *run = rc->run;
    if (attend_grow((void **)&run->curve, &run->cap_curve, run->n_curve + 1, sizeof *run->curve))
        run->curve[run->n_curve++] = *r;
    else rc->failed = 1;
    if (rc->user->on_epoch) rc->user->on_epoch(rc->user->ctx, r);
}

static void rec_info(void *ctx, const char *msg) {
    recorder *rc = ctx;
    if (rc->user->on_info) rc->user->on_info(rc->user->ctx, msg);
}

static void rec_progress(void *ctx, size_t done, size_t total, double tokens_per_s, double eta_s) {
    recorder *rc = ctx;
    if (rc->user->on_progress) rc->user->on_progress(rc->user->ctx, done, total, tokens_per_s, eta_s);
}

/* The validation texts shown as examples: spread over the data, preferring
 * texts of 4 to 24 tokens that the model reads whole; the same for every
 * run of the set (chosen with its first model). */
static attend_status choose_examples(const attend_model *m, cmp_set *cs, size_t want, attend_error *err) {
    const size_t n = cs->vds.count;
    cs->examples_chosen = 1;
    if (!n || !want) return ATTEND_OK;
    size_t stride = (size_t)(0.618 * (double)n) + 1, tried = 0;
    for (int pass = 0; pass < 2 && cs->n_example_idx < want; pass++)
        for (size_t k = 0; k < n && tried < 400 && cs->n_example_idx < want; k++) {
            size_t i = (k * stride + 7) % n, dup = 0;
            for (size_t j = 0; j < cs->n_example_idx; j++) dup |= cs->example_idx[j] == i;
            if (dup) continue;
            const char *text = cs->vds.records[i].text;
            attend_explanation ex;
            attend_status st = attend_explain(m, text, strlen(text), &ex, err);
            size_t real = st ? 0 : ex.T - ex.n_special;
            int fits = !st && real >= 4 && real <= 24 && ex.n_text_tokens == real;
            attend_explanation_free(&ex);
            if (st == ATTEND_ERR_NOMEM) return st;
            tried += pass == 0;
            if (!st && (fits || pass == 1)) cs->example_idx[cs->n_example_idx++] = i;
        }
    return ATTEND_OK;
}

/* Per-head statistics and the examples of the model at path. */
static attend_status inspect(const char *path, cmp_set *cs, const attend_compare_options *o,
                             attend_compare_run *run, attend_error *err) {
    attend_model *model = NULL;
    attend_encoded venc = {0};
    int32_t *vids = NULL;
    attend_status st = attend_model_load(&model, path, err);
    if (st) return st;
    const attend_dataset *vds = &cs->vds;
    if (!(vids = malloc((vds->count ? vds->count : 1) * sizeof(int32_t))))
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    if (!st && !(st = attend_labels_map(&model->labels, vds, vids, err)) &&
        !(st = attend_encode_dataset(&venc, model, vds, vids, NULL, 0, NULL, NULL, err)) && model->cfg.num_layers)
        st = attend_head_stats_compute(model, &venc, o->stats_examples, 1, &run->stats, err);
    if (!st && model->cfg.num_layers && !cs->examples_chosen) st = choose_examples(model, cs, o->n_examples, err);
    if (!st && model->cfg.num_layers && cs->n_example_idx &&
        !(run->examples = calloc(cs->n_example_idx, sizeof *run->examples)))
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    for (size_t k = 0; !st && run->examples && k < cs->n_example_idx; k++) {
        const attend_record *r = &vds->records[cs->example_idx[k]];
        attend_compare_example *e = &run->examples[run->n_examples++];
        if (!(st = attend_explain(model, r->text, strlen(r->text), &e->ex, err))) {
            e->text = attend_strdup(r->text);
            e->truth = attend_strdup(r->label);
            e->predicted = attend_strdup(attend_model_label(model, e->ex.predicted));
            e->cls_query = model->cfg.pool == ATTEND_POOL_CLS;
            if (!e->text || !e->truth || !e->predicted) st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
        }
    }
    attend_encoded_free(&venc);
    free(vids);
    attend_model_free(model);
    return st;
}

/* Trains run (its heads, pos and seed set) on cs and inspects the model. */
static attend_status run_one(const attend_compare_options *o, cmp_set *cs, attend_compare_run *run,
                             attend_error *err) {
    char model_path[4300];
    if (o->keep_models)
        snprintf(model_path, sizeof model_path, "%s/models/h%zu-%s-s%llu.safetensors", cs->dir, run->heads,
                 attend_pos_name(run->pos), (unsigned long long)run->seed);
    else
        snprintf(model_path, sizeof model_path, "%s/.run.safetensors", cs->dir);
    attend_train_options ro = cs->to;
    recorder rc = {&cs->to, run, 0};
    ro.model.nhead = run->heads;
    ro.model.pos = run->pos;
    ro.seed = run->seed;
    ro.out_path = model_path;
    ro.on_epoch = rec_epoch;
    ro.on_info = cs->to.on_info ? rec_info : NULL;
    ro.on_progress = cs->to.on_progress ? rec_progress : NULL;
    ro.ctx = &rc;
    attend_train_result res;
    attend_status st = attend_train(&ro, &res, err);
    if (!st && rc.failed) st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory recording the epochs");
    if (st) return st;
    run->val_loss = res.best_val_loss;
    run->val_accuracy = res.best_val_accuracy;
    run->val_macro_f1 = res.best_val_macro_f1;
    run->seconds = res.seconds;
    run->params = res.n_params;
    run->epochs_run = res.epochs_run;
    run->best_epoch = res.best_epoch;
    cs->setup.n_train = res.n_train;
    cs->setup.n_val = res.n_val;
    cs->setup.num_classes = res.num_classes;
    // per-head diagnostics of the saved (best) model on the validation data
    if (!cs->vds.records && (st = attend_dataset_read(&cs->vds, cs->to.val_path, &cs->to.data, err))) return st;
    st = inspect(model_path, cs, o, run, err);
    if (!o->keep_models) remove(model_path);
    return st;
}

/* ---- the experiment ---- */

/* Every page and file, after each run: each set's own, then (several sets)
 * the combined ones. */
static attend_status write_all(const attend_compare_options *o, cmp_set *sets, size_t n_sets, const char *note,
                               attend_error *err) {
    attend_compare_set views[ATTEND_COMPARE_MAX_DATA];
    attend_status st = ATTEND_OK;
    for (size_t s = 0; s < n_sets; s++) {
        views[s] = (attend_compare_set){sets[s].name, sets[s].link, sets[s].setup, sets[s].runs, sets[s].n_done};
        if (!st && sets[s].n_done) st = attend_compare_write(sets[s].dir, &views[s], note, NULL, NULL, err);
    }
    if (!st && n_sets > 1) st = attend_compare_write_sets(o->out_dir, views, n_sets, note, NULL, NULL, err);
    return st;
}

static attend_status markdown_of(const cmp_set *sets, size_t n_sets, char **markdown, attend_error *err) {
    attend_compare_set views[ATTEND_COMPARE_MAX_DATA];
    attend_compare_row *rows[ATTEND_COMPARE_MAX_DATA] = {0};
    size_t n_rows[ATTEND_COMPARE_MAX_DATA] = {0};
    attend_status st = ATTEND_OK;
    attend_buf md;
    attend_buf_init(&md);
    for (size_t s = 0; s < n_sets && !st; s++) {
        views[s] = (attend_compare_set){sets[s].name, sets[s].link, sets[s].setup, sets[s].runs, sets[s].n_done};
        st = attend_compare_summarise(sets[s].runs, sets[s].n_done, &rows[s], &n_rows[s], err);
    }
    if (!st && n_sets > 1) {
        attend_compare_markdown_sets(&md, views, (const attend_compare_row *const *)rows, n_rows, n_sets);
        for (size_t s = 0; s < n_sets; s++) {
            attend_buf_printf(&md, "\n%s:\n\n", sets[s].name);
            attend_compare_markdown(&md, rows[s], n_rows[s]);
        }
    } else if (!st) {
        attend_compare_markdown(&md, rows[0], n_rows[0]);
    }
    if (!st && md.failed) st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    if (!st) *markdown = md.s ? md.s : attend_strdup("");
    else attend_buf_free(&md);
    for (size_t s = 0; s < n_sets; s++) free(rows[s]);
    return st;
}

/* The runs of every set, in order: sets, then encodings, heads, seeds. */
static attend_status run_all(const attend_compare_options *o, cmp_set *sets, size_t n_sets, const char *note,
                             attend_error *err) {
    const size_t per = o->n_heads * o->n_pos * o->n_seeds, total = per * n_sets;
    attend_status st = ATTEND_OK;
    for (size_t s = 0; s < n_sets && !st; s++) {
        cmp_set *cs = &sets[s];
        if (n_sets > 1) attend_emitf(o->on_message, o->ctx, "data set %zu of %zu: %s", s + 1, n_sets, cs->name);
        for (size_t pi = 0; pi < o->n_pos && !st; pi++)
            for (size_t hi = 0; hi < o->n_heads && !st; hi++)
                for (size_t si = 0; si < o->n_seeds && !st; si++) {
                    attend_compare_run *run = &cs->runs[cs->n_done];
                    run->heads = o->heads[hi];
                    run->pos = o->pos[pi];
                    run->seed = o->train.seed + si;
                    const size_t i = s * per + cs->n_done;
                    if (o->on_run) o->on_run(o->ctx, i, total, run->heads, run->pos, run->seed, NULL);
                    if ((st = run_one(o, cs, run, err))) {
                        attend_compare_run_free(run);
                        break;
                    }
                    cs->n_done++;
                    if (o->on_run) {
                        attend_train_result res = {0};
                        res.best_val_loss = run->val_loss;
                        res.best_val_accuracy = run->val_accuracy;
                        res.best_val_macro_f1 = run->val_macro_f1;
                        res.n_params = run->params;
                        res.seconds = run->seconds;
                        res.epochs_run = run->epochs_run;
                        res.best_epoch = run->best_epoch;
                        o->on_run(o->ctx, i, total, run->heads, run->pos, run->seed, &res);
                    }
                    st = write_all(o, sets, n_sets, note, err);
                }
    }
    return st;
}

attend_status attend_compare(const attend_compare_options *o, char **markdown, attend_error *err) {
    if (markdown) *markdown = NULL;
    attend_status st = check(o, err);
    if (st || (st = attend_mkdir(o->out_dir, err))) return st;
    const size_t n_sets = o->n_data ? o->n_data : 1;
    char *note = NULL;
    cmp_set *sets = calloc(n_sets, sizeof *sets);
    if (!sets) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    if (o->note_path) st = read_note(o->note_path, &note, err);
    // every set is named, then split, before the first run, so a bad name or file fails at once
    for (size_t s = 0; s < n_sets && !st; s++) {
        set_name(sets[s].name, o->n_data ? o->data[s].name : NULL, o->n_data ? o->data[s].data_path : o->train.data_path);
        for (size_t t = 0; t < s && !st; t++)
            if (!strcmp(sets[t].name, sets[s].name))
                st = attend_errorf(err, ATTEND_ERR_ARG, "compare: two data sets are named '%s'; name them apart "
                                   "(--name)", sets[s].name);
    }
    for (size_t s = 0; s < n_sets && !st; s++) st = prepare_set(o, s, n_sets, &sets[s], err);
    if (!st) {
        const attend_model_config *m = &o->train.model;
        char heads_s[256] = "", pos_s[64] = "";
        for (size_t k = 0, w = 0; k < o->n_heads; k++)
            w += (size_t)snprintf(heads_s + w, sizeof heads_s - w, "%s%zu", k ? "," : " ", o->heads[k]);
        for (size_t k = 0, w = 0; k < o->n_pos; k++)
            w += (size_t)snprintf(pos_s + w, sizeof pos_s - w, "%s%s", k ? "," : " ", attend_pos_name(o->pos[k]));
        attend_emitf(o->on_message, o->ctx,
                     "%zu runs: heads%s x pos%s x %zu seed%s%s; d_model %zu, %zu layer%s, %zu epoch%s",
                     o->n_heads * o->n_pos * o->n_seeds * n_sets, heads_s, pos_s, o->n_seeds,
                     o->n_seeds == 1 ? "" : "s", n_sets > 1 ? " on each data set" : "", m->d_model,
                     m->num_layers, m->num_layers == 1 ? "" : "s", o->train.epochs, o->train.epochs == 1 ? "" : "s");
        st = run_all(o, sets, n_sets, note, err);
    }
    if (!st && markdown) st = markdown_of(sets, n_sets, markdown, err);
    for (size_t s = 0; s < n_sets; s++) {
        for (size_t i = 0; i < sets[s].n_done; i++) attend_compare_run_free(&sets[s].runs[i]);
        free(sets[s].runs);
        attend_dataset_free(&sets[s].vds);
    }
    free(sets);
    free(note);
    return st;
}
