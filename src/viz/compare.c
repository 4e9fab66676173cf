/* The heads experiment's bookkeeping: shared split, summaries over seeds,
 * and the CSV / JSON / Markdown / HTML outputs. See compare.h. */
#include "viz/compare.h"
#include "viz/report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *attend_pos_name(attend_pos_kind p) {
    return p == ATTEND_POS_LEARNED ? "learned" : p == ATTEND_POS_SINUSOIDAL ? "sinusoidal" : "none";
}

/* ---- the shared split ---- */

static int write_field(FILE *f, const char *s) {
    for (; *s; s++) fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
    return 0;
}

attend_status attend_compare_split(const char *data_path, const attend_data_options *opt,
                                   double frac, uint64_t seed, const char *train_out,
                                   const char *val_out, size_t *n_train, size_t *n_val,
                                   attend_error *err) {
    attend_dataset ds = {0};
    attend_labels lt = {0};
    int32_t *ids = NULL;
    uint8_t *is_val = NULL;
    FILE *ft = NULL, *fv = NULL;
    attend_status st;
    if ((st = attend_dataset_read(&ds, data_path, opt, err))) goto done;
    if ((st = attend_labels_from_dataset(&lt, &ds, err))) goto done;
    ids = malloc((ds.count ? ds.count : 1) * sizeof(int32_t));
    is_val = malloc(ds.count ? ds.count : 1);
    if (!ids || !is_val) {
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
        goto done;
    }
    if ((st = attend_labels_map(&lt, &ds, ids, err))) goto done;
    if ((st = attend_split_stratified(ids, ds.count, lt.count, frac, seed, is_val, n_val, err))) goto done;
    if (n_train) *n_train = ds.count - (n_val ? *n_val : 0);
    if (!(ft = fopen(train_out, "wb")) || !(fv = fopen(val_out, "wb"))) {
        st = attend_errorf(err, ATTEND_ERR_IO, "cannot create %s", ft ? val_out : train_out);
        goto done;
    }
    for (size_t i = 0; i < ds.count; i++) {
        FILE *f = is_val[i] ? fv : ft;
        write_field(f, ds.records[i].label);
        fputc('\t', f);
        write_field(f, ds.records[i].text);
        fputc('\n', f);
    }
    st = ATTEND_OK;
done:
    if (ft && (ferror(ft) | fclose(ft)) && !st) st = attend_errorf(err, ATTEND_ERR_IO, "error writing %s", train_out);
    if (fv && (ferror(fv) | fclose(fv)) && !st) st = attend_errorf(err, ATTEND_ERR_IO, "error writing %s", val_out);
    free(ids);
    free(is_val);
    attend_labels_free(&lt);
    attend_dataset_free(&ds);
    return st;
}

/* ---- summaries ---- */

static void mean_std(const double *x, size_t n, double *mean, double *sd) {
    double s = 0, ss = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    *mean = n ? s / (double)n : NAN;
    for (size_t i = 0; i < n; i++) ss += (x[i] - *mean) * (x[i] - *mean);
    *sd = n > 1 ? sqrt(ss / (double)(n - 1)) : 0.0;
}

attend_status attend_compare_summarise(const attend_compare_run *runs, size_t n_runs,
                                       attend_compare_row **rows, size_t *n_rows,
                                       attend_error *err) {
    *rows = calloc(n_runs ? n_runs : 1, sizeof **rows);
    double *a = malloc((n_runs ? n_runs : 1) * 3 * sizeof(double));
    *n_rows = 0;
    if (!*rows || !a) {
        free(*rows);
        free(a);
        *rows = NULL;
        return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    }
    double *b = a + n_runs, *c = b + n_runs;
    for (size_t r = 0; r < n_runs; r++) {
        size_t k = 0;
        while (k < *n_rows && !((*rows)[k].heads == runs[r].heads && (*rows)[k].pos == runs[r].pos)) k++;
        if (k < *n_rows) continue; /* summarised with its first run */
        attend_compare_row *row = &(*rows)[(*n_rows)++];
        row->heads = runs[r].heads;
        row->pos = runs[r].pos;
        row->params = runs[r].params;
        row->first = &runs[r].stats;
        double sec = 0, ent = 0, dist = 0, imp = 0;
        size_t n = 0, n_heads = 0, n_imp = 0;
        for (size_t q = r; q < n_runs; q++) {
            if (runs[q].heads != row->heads || runs[q].pos != row->pos) continue;
            a[n] = runs[q].val_loss;
            b[n] = runs[q].val_accuracy;
            c[n] = runs[q].val_macro_f1;
            sec += runs[q].seconds;
            const attend_head_stats *hs = &runs[q].stats;
            double best = -INFINITY;
            for (size_t k2 = 0; k2 < hs->L * hs->H; k2++) {
                ent += hs->entropy[k2];
                dist += hs->distance[k2];
                n_heads++;
                if (hs->has_importance && hs->acc_drop[k2] > best) best = hs->acc_drop[k2];
            }
            if (hs->has_importance && hs->L > 0 && hs->H > 0) {
                imp += best;
                n_imp++;
            }
            n++;
        }
        row->n_runs = n;
        mean_std(a, n, &row->loss_mean, &row->loss_std);
        mean_std(b, n, &row->acc_mean, &row->acc_std);
        mean_std(c, n, &row->f1_mean, &row->f1_std);
        row->seconds_mean = sec / (double)n;
        row->entropy_mean = n_heads ? ent / (double)n_heads : NAN;
        row->distance_mean = n_heads ? dist / (double)n_heads : NAN;
        row->importance_max = n_imp ? imp / (double)n_imp : NAN;
    }
    free(a);
    return ATTEND_OK;
}

/* "61.23 ± 0.45" (no ± with one run). */
static void pm(char *out, size_t cap, double mean, double sd, size_t n, int dec, double scale) {
    if (n > 1) snprintf(out, cap, "%.*f \xC2\xB1 %.*f", dec, mean * scale, dec, sd * scale);
    else snprintf(out, cap, "%.*f", dec, mean * scale);
}

void attend_compare_markdown(attend_buf *b, const attend_compare_row *rows, size_t n_rows) {
    attend_buf_puts(b, "| heads | pos | runs | params | val loss | val accuracy (%) | val macro-F1 | seconds |\n"
                       "|---:|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < n_rows; i++) {
        const attend_compare_row *r = &rows[i];
        char l[64], a[64], f[64];
        pm(l, sizeof l, r->loss_mean, r->loss_std, r->n_runs, 4, 1);
        pm(a, sizeof a, r->acc_mean, r->acc_std, r->n_runs, 2, 100);
        pm(f, sizeof f, r->f1_mean, r->f1_std, r->n_runs, 4, 1);
        attend_buf_printf(b, "| %zu | %s | %zu | %zu | %s | %s | %s | %.*f |\n", r->heads, attend_pos_name(r->pos),
                          r->n_runs, r->params, l, a, f, r->seconds_mean < 100 ? 1 : 0, r->seconds_mean);
    }
}

/* ---- outputs ---- */

static attend_status write_csvs(const char *dir, const attend_compare_run *runs, size_t n_runs,
                                const attend_compare_row *rows, size_t n_rows, attend_error *err) {
    char path[4096];
    attend_buf b;
    attend_buf_init(&b);
    attend_buf_puts(&b, "heads,pos,runs,params,val_loss_mean,val_loss_std,val_accuracy_mean,val_accuracy_std,"
                        "val_macro_f1_mean,val_macro_f1_std,seconds_mean,head_entropy_mean,head_distance_mean,"
                        "head_importance_max\n");
    for (size_t i = 0; i < n_rows; i++) {
        const attend_compare_row *r = &rows[i];
        attend_buf_printf(&b, "%zu,%s,%zu,%zu,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.3f,%.6g,%.6g,%.6g\n", r->heads,
                          attend_pos_name(r->pos), r->n_runs, r->params, r->loss_mean, r->loss_std, r->acc_mean,
                          r->acc_std, r->f1_mean, r->f1_std, r->seconds_mean, r->entropy_mean, r->distance_mean,
                          r->importance_max);
    }
    snprintf(path, sizeof path, "%s/results.csv", dir);
    attend_status st = attend_buf_write_file(&b, path, err);
    attend_buf_free(&b);
    if (st) return st;
    attend_buf_init(&b);
    attend_buf_puts(&b, "heads,pos,seed,params,val_loss,val_accuracy,val_macro_f1,seconds,epochs_run,best_epoch\n");
    for (size_t i = 0; i < n_runs; i++) {
        const attend_compare_run *r = &runs[i];
        attend_buf_printf(&b, "%zu,%s,%llu,%zu,%.6g,%.6g,%.6g,%.3f,%zu,%zu\n", r->heads, attend_pos_name(r->pos),
                          (unsigned long long)r->seed, r->params, r->val_loss, r->val_accuracy, r->val_macro_f1,
                          r->seconds, r->epochs_run, r->best_epoch);
    }
    snprintf(path, sizeof path, "%s/runs.csv", dir);
    st = attend_buf_write_file(&b, path, err);
    attend_buf_free(&b);
    return st;
}

/* Building results.json: any cJSON_Create* / cJSON_Add* can fail for memory,
 * and a results file missing a field or a run must not be written as if it
 * were whole. Each builder returns NULL (or 0) on failure and frees what it
 * made. */

/* Adds item to array a (key NULL) or to object a under key. On failure item
 * is deleted (cJSON leaves it to the caller). 1 on success; item may be NULL
 * (a failed create), which is a failure. */
static int add_item(cJSON *a, const char *key, cJSON *item) {
    if (item && (key ? cJSON_AddItemToObject(a, key, item) : cJSON_AddItemToArray(a, item))) return 1;
    cJSON_Delete(item);
    return 0;
}

/* The (L, H) values x as an array of L arrays of H numbers. */
static cJSON *matrix_json(const double *x, size_t L, size_t H) {
    cJSON *a = cJSON_CreateArray();
    for (size_t l = 0; a && l < L; l++) {
        cJSON *row = cJSON_CreateArray();
        for (size_t h = 0; row && h < H; h++)
            if (!add_item(row, NULL, cJSON_CreateNumber(x[l * H + h]))) {
                cJSON_Delete(row);
                row = NULL;
            }
        if (!add_item(a, NULL, row)) {
            cJSON_Delete(a);
            a = NULL;
        }
    }
    return a;
}

static cJSON *stats_json(const attend_head_stats *hs) {
    cJSON *o = cJSON_CreateObject();
    int ok = o && add_item(o, "entropy_bits", matrix_json(hs->entropy, hs->L, hs->H)) &&
             add_item(o, "distance_tokens", matrix_json(hs->distance, hs->L, hs->H)) &&
             (!hs->has_importance || add_item(o, "accuracy_drop", matrix_json(hs->acc_drop, hs->L, hs->H))) &&
             cJSON_AddNumberToObject(o, "uniform_entropy_bits", hs->uniform_entropy) &&
             cJSON_AddNumberToObject(o, "uniform_distance_tokens", hs->uniform_distance) &&
             cJSON_AddNumberToObject(o, "examples", (double)hs->n_examples);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* NaN is not JSON: null instead. */
static int add_num(cJSON *o, const char *k, double v) {
    return (isfinite(v) ? cJSON_AddNumberToObject(o, k, v) : cJSON_AddNullToObject(o, k)) != NULL;
}

static cJSON *setup_json(const attend_compare_setup *s) {
    cJSON *su = cJSON_CreateObject();
    int ok = su && cJSON_AddStringToObject(su, "data", s->data_path ? s->data_path : "") &&
             cJSON_AddStringToObject(su, "train", s->train_path ? s->train_path : "") &&
             cJSON_AddStringToObject(su, "val", s->val_path ? s->val_path : "") &&
             cJSON_AddStringToObject(su, "command", s->command ? s->command : "") &&
             cJSON_AddNumberToObject(su, "n_train", (double)s->n_train) &&
             cJSON_AddNumberToObject(su, "n_val", (double)s->n_val) &&
             cJSON_AddNumberToObject(su, "d_model", (double)s->d_model) &&
             cJSON_AddNumberToObject(su, "layers", (double)s->layers) &&
             cJSON_AddNumberToObject(su, "d_ff", (double)s->d_ff) &&
             cJSON_AddNumberToObject(su, "max_len", (double)s->max_len) &&
             cJSON_AddNumberToObject(su, "epochs", (double)s->epochs) &&
             cJSON_AddNumberToObject(su, "batch", (double)s->batch) &&
             cJSON_AddNumberToObject(su, "lr", (double)s->lr) &&
             cJSON_AddNumberToObject(su, "dropout", (double)s->dropout) &&
             cJSON_AddNumberToObject(su, "seeds", (double)s->n_seeds) &&
             cJSON_AddNumberToObject(su, "first_seed", (double)s->first_seed);
    if (!ok) {
        cJSON_Delete(su);
        return NULL;
    }
    return su;
}

static cJSON *row_json(const attend_compare_row *r) {
    cJSON *c = cJSON_CreateObject();
    int ok = c && cJSON_AddNumberToObject(c, "heads", (double)r->heads) &&
             cJSON_AddStringToObject(c, "pos", attend_pos_name(r->pos)) &&
             cJSON_AddNumberToObject(c, "runs", (double)r->n_runs) &&
             cJSON_AddNumberToObject(c, "params", (double)r->params) &&
             add_num(c, "val_loss_mean", r->loss_mean) && add_num(c, "val_loss_std", r->loss_std) &&
             add_num(c, "val_accuracy_mean", r->acc_mean) && add_num(c, "val_accuracy_std", r->acc_std) &&
             add_num(c, "val_macro_f1_mean", r->f1_mean) && add_num(c, "val_macro_f1_std", r->f1_std) &&
             add_num(c, "seconds_mean", r->seconds_mean) && add_num(c, "head_entropy_mean", r->entropy_mean) &&
             add_num(c, "head_distance_mean", r->distance_mean) &&
             add_num(c, "head_importance_max", r->importance_max);
    if (!ok) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

static cJSON *run_json(const attend_compare_run *r) {
    cJSON *c = cJSON_CreateObject();
    int ok = c && cJSON_AddNumberToObject(c, "heads", (double)r->heads) &&
             cJSON_AddStringToObject(c, "pos", attend_pos_name(r->pos)) &&
             cJSON_AddNumberToObject(c, "seed", (double)r->seed) &&
             cJSON_AddNumberToObject(c, "params", (double)r->params) && add_num(c, "val_loss", r->val_loss) &&
             add_num(c, "val_accuracy", r->val_accuracy) && add_num(c, "val_macro_f1", r->val_macro_f1) &&
             add_num(c, "seconds", r->seconds) && cJSON_AddNumberToObject(c, "epochs_run", (double)r->epochs_run) &&
             cJSON_AddNumberToObject(c, "best_epoch", (double)r->best_epoch) &&
             (!r->stats.L || add_item(c, "heads_stats", stats_json(&r->stats)));
    if (!ok) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

/* results.json: nothing is written unless the whole document was built. */
static attend_status write_json(const char *dir, const attend_compare_setup *s,
                                const attend_compare_run *runs, size_t n_runs,
                                const attend_compare_row *rows, size_t n_rows, attend_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/results.json", dir);
    cJSON *o = cJSON_CreateObject(), *cf = NULL, *ru = NULL;
    int ok = o && add_item(o, "setup", setup_json(s)) && (cf = cJSON_AddArrayToObject(o, "configs"));
    for (size_t i = 0; ok && i < n_rows; i++) ok = add_item(cf, NULL, row_json(&rows[i]));
    ok = ok && (ru = cJSON_AddArrayToObject(o, "runs"));
    for (size_t i = 0; ok && i < n_runs; i++) ok = add_item(ru, NULL, run_json(&runs[i]));
    char *txt = ok ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!txt) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory building %s", path);
    attend_buf b;
    attend_buf_init(&b);
    attend_buf_puts(&b, txt);
    attend_buf_puts(&b, "\n");
    cJSON_free(txt);
    attend_status st = attend_buf_write_file(&b, path, err);
    attend_buf_free(&b);
    return st;
}

/* One plot of a metric against heads, a line per positional encoding. */
static void metric_plot(attend_buf *b, const attend_compare_row *rows, size_t n_rows, int metric) {
    attend_pos_kind kinds[3];
    size_t nk = 0;
    for (size_t i = 0; i < n_rows; i++) {
        int seen = 0;
        for (size_t k = 0; k < nk; k++) seen |= kinds[k] == rows[i].pos;
        if (!seen && nk < 3) kinds[nk++] = rows[i].pos;
    }
    double x[3][64], y[3][64], e[3][64];
    char names[3][64];
    attend_series se[3];
    for (size_t k = 0; k < nk; k++) {
        size_t n = 0;
        for (size_t i = 0; i < n_rows && n < 64; i++) {
            if (rows[i].pos != kinds[k]) continue;
            x[k][n] = (double)rows[i].heads;
            y[k][n] = metric == 0 ? 100.0 * rows[i].acc_mean : metric == 1 ? rows[i].loss_mean : rows[i].f1_mean;
            e[k][n] = metric == 0 ? 100.0 * rows[i].acc_std : metric == 1 ? rows[i].loss_std : rows[i].f1_std;
            n++;
        }
        // sort by heads so the line runs left to right
        for (size_t i = 1; i < n; i++)
            for (size_t j = i; j > 0 && x[k][j - 1] > x[k][j]; j--) {
                double t;
                t = x[k][j]; x[k][j] = x[k][j - 1]; x[k][j - 1] = t;
                t = y[k][j]; y[k][j] = y[k][j - 1]; y[k][j - 1] = t;
                t = e[k][j]; e[k][j] = e[k][j - 1]; e[k][j - 1] = t;
            }
        snprintf(names[k], sizeof names[k], "%s positions", attend_pos_name(kinds[k]));
        se[k].name = names[k];
        se[k].n = n;
        se[k].x = x[k];
        se[k].y = y[k];
        se[k].err = e[k];
        se[k].dashed = kinds[k] == ATTEND_POS_SINUSOIDAL;
    }
    attend_plot p = {0};
    p.title = metric == 0 ? "Validation accuracy against the number of heads"
              : metric == 1 ? "Validation loss against the number of heads"
                            : "Validation macro-F1 against the number of heads";
    p.x_label = "attention heads per layer (log scale; same d_model, so same parameters)";
    p.y_label = metric == 0 ? "accuracy (%), mean \xC2\xB1 1 std over seeds"
                : metric == 1 ? "cross-entropy loss, mean \xC2\xB1 1 std"
                              : "macro-F1, mean \xC2\xB1 1 std";
    p.series = se;
    p.n_series = nk;
    p.x_log2 = 1;
    p.ymin = NAN;
    p.ymax = NAN;
    p.dodge = 6;
    p.width = 400;
    attend_svg_plot(b, &p);
}

static attend_status write_html(const char *dir, const attend_compare_setup *s,
                                const attend_compare_row *rows, size_t n_rows, size_t *n_heatmaps,
                                size_t *n_plots, attend_error *err) {
    attend_buf b;
    attend_buf_init(&b);
    attend_html_begin(&b, "attend compare: heads and positional encodings");
    attend_buf_puts(&b, "<h1>attend compare</h1>\n<p class=\"lead\">");
    attend_buf_printf(&b,
                      "Every configuration below was trained on the same %zu training and validated on the same "
                      "%zu validation examples (%zu classes), with d_model %zu, %zu layer%s, feed-forward %zu, "
                      "max_len %zu, %zu epoch%s, batch %zu, learning rate %g, dropout %g, and the same %zu seed%s "
                      "(from %llu). Only the number of heads and the positional encoding change; with d_model "
                      "fixed, more heads means smaller heads, not more parameters. Each number is the best "
                      "epoch's (lowest validation loss), as mean \xC2\xB1 sample standard deviation over the seeds.",
                      s->n_train, s->n_val, s->num_classes, s->d_model, s->layers, s->layers == 1 ? "" : "s",
                      s->d_ff, s->max_len, s->epochs, s->epochs == 1 ? "" : "s", s->batch, (double)s->lr,
                      (double)s->dropout, s->n_seeds, s->n_seeds == 1 ? "" : "s", (unsigned long long)s->first_seed);
    attend_buf_puts(&b, "</p>\n<p class=\"note\">Data: <code>");
    attend_buf_escape(&b, s->data_path ? s->data_path : "");
    attend_buf_puts(&b, "</code>. Command: <code>");
    attend_buf_escape(&b, s->command ? s->command : "");
    attend_buf_puts(&b, "</code>. The same numbers are in results.csv, runs.csv, results.json and table.md.</p>\n");

    // table
    const size_t NC = 11;
    const char *head[11] = {"heads", "pos", "runs", "parameters", "val loss", "val accuracy (%)", "val macro-F1",
                            "seconds", "head entropy (bits)", "head distance (tokens)", "top head importance (points)"};
    char *cells = malloc((n_rows ? n_rows : 1) * NC * 64);
    const char **cp = malloc((n_rows ? n_rows : 1) * NC * sizeof(char *));
    if (!cells || !cp) {
        free(cells);
        free(cp);
        attend_buf_free(&b);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_rows; i++) {
        const attend_compare_row *r = &rows[i];
        char *c = cells + i * NC * 64;
        snprintf(c, 64, "%zu", r->heads);
        snprintf(c + 64, 64, "%s", attend_pos_name(r->pos));
        snprintf(c + 128, 64, "%zu", r->n_runs);
        snprintf(c + 192, 64, "%zu", r->params);
        pm(c + 256, 64, r->loss_mean, r->loss_std, r->n_runs, 4, 1);
        pm(c + 320, 64, r->acc_mean, r->acc_std, r->n_runs, 2, 100);
        pm(c + 384, 64, r->f1_mean, r->f1_std, r->n_runs, 4, 1);
        snprintf(c + 448, 64, r->seconds_mean < 100 ? "%.1f" : "%.0f", r->seconds_mean);
        snprintf(c + 512, 64, "%.2f", r->entropy_mean);
        snprintf(c + 576, 64, "%.2f", r->distance_mean);
        snprintf(c + 640, 64, "%+.2f", 100.0 * r->importance_max);
        for (size_t j = 0; j < NC; j++) cp[i * NC + j] = c + j * 64;
    }
    attend_buf_puts(&b, "<h2 id=\"results\">Results</h2>\n");
    attend_html_table(&b, "attend-table", NC, head, n_rows, cp, "rlrrrrrrrrr");
    free(cells);
    free(cp);
    attend_buf_puts(&b, "<p class=\"note\">Head entropy and distance are means over every head of every run "
                        "(see below for what they measure); top head importance is the accuracy lost when the "
                        "single most important head is masked, averaged over the seeds.</p>\n");
    attend_buf_puts(&b, "<div class=\"row\">\n<figure>\n");
    metric_plot(&b, rows, n_rows, 0);
    attend_buf_puts(&b, "<figcaption>Error bars: \xC2\xB1 1 standard deviation over the seeds (none with one seed). "
                        "Lines are drawn side by side a few pixels apart so that their error bars do not hide "
                        "one another.</figcaption>\n</figure>\n<figure>\n");
    metric_plot(&b, rows, n_rows, 1);
    attend_buf_puts(&b, "<figcaption>Lower is better. Loss also sees how confident the right answers "
                        "are.</figcaption>\n</figure>\n</div>\n");
    size_t plots = 2, maps = 0;

    attend_buf_puts(&b, "<h2 id=\"heads\">Per-head diagnostics</h2>\n<p>For each configuration, its first seed's "
                        "model on the validation data. Entropy: how spread out a query's attention is (0 bits = "
                        "all weight on one token). Distance: how far, in tokens, a head looks on average. "
                        "Importance: the accuracy lost when the head's output is removed (its columns of the "
                        "attention output projection set to 0) and the model is evaluated again.</p>\n");
    for (size_t i = 0; i < n_rows; i++) {
        const attend_compare_row *r = &rows[i];
        if (!r->first || !r->first->L) continue;
        attend_buf_printf(&b, "<h3>%zu head%s, %s positions</h3>\n<div class=\"row\">\n", r->heads,
                          r->heads == 1 ? "" : "s", attend_pos_name(r->pos));
        attend_buf figs;
        attend_buf_init(&figs);
        size_t made = attend_report_head_figures(&figs, r->first, NULL, r->heads <= 4 ? 48 : 0);
        // each SVG in its own figure
        const char *p = figs.failed ? NULL : figs.s;
        for (size_t k = 0; p && k < made; k++) {
            const char *st = strstr(p, "<svg ");
            const char *en = st ? strstr(st, "</svg>\n") : NULL;
            if (!en) break;
            en += 7;
            attend_buf_puts(&b, "<figure>\n");
            attend_buf_append(&b, st, (size_t)(en - st));
            attend_buf_puts(&b, "</figure>\n");
            p = en;
            maps++;
        }
        if (figs.failed) b.failed = 1;
        attend_buf_free(&figs);
        attend_buf_puts(&b, "</div>\n");
    }
    attend_html_end(&b);
    char path[4096];
    snprintf(path, sizeof path, "%s/index.html", dir);
    attend_status st = attend_buf_write_file(&b, path, err);
    attend_buf_free(&b);
    if (n_heatmaps) *n_heatmaps = maps;
    if (n_plots) *n_plots = plots;
    return st;
}

attend_status attend_compare_write(const char *dir, const attend_compare_setup *setup,
                                   const attend_compare_run *runs, size_t n_runs,
                                   size_t *n_heatmaps, size_t *n_plots, attend_error *err) {
    attend_compare_row *rows = NULL;
    size_t n_rows = 0;
    attend_status st = attend_compare_summarise(runs, n_runs, &rows, &n_rows, err);
    if (st) return st;
    if (!(st = write_csvs(dir, runs, n_runs, rows, n_rows, err)) &&
        !(st = write_json(dir, setup, runs, n_runs, rows, n_rows, err))) {
        attend_buf md;
        attend_buf_init(&md);
        attend_compare_markdown(&md, rows, n_rows);
        char path[4096];
        snprintf(path, sizeof path, "%s/table.md", dir);
        st = attend_buf_write_file(&md, path, err);
        attend_buf_free(&md);
        if (!st) st = write_html(dir, setup, rows, n_rows, n_heatmaps, n_plots, err);
    }
    free(rows);
    return st;
}
