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

void attend_compare_run_free(attend_compare_run *r) {
    attend_head_stats_free(&r->stats);
    free(r->curve);
    for (size_t i = 0; i < r->n_examples; i++) {
        attend_compare_example *e = &r->examples[i];
        free(e->text);
        free(e->truth);
        free(e->predicted);
        attend_explanation_free(&e->ex);
    }
    free(r->examples);
    r->curve = NULL;
    r->examples = NULL;
    r->n_curve = r->cap_curve = r->n_examples = 0;
}

/* Validation accuracy averaged over a run's epochs (the area under its
 * learning curve, per epoch): higher when it learned sooner. NaN without. */
static double curve_accuracy(const attend_compare_run *r) {
    double s = 0;
    size_t n = 0;
    for (size_t e = 0; e < r->n_curve; e++)
        if (r->curve[e].has_val) {
            s += r->curve[e].val_accuracy;
            n++;
        }
    return n ? s / (double)n : NAN;
}

attend_status attend_compare_summarise(const attend_compare_run *runs, size_t n_runs,
                                       attend_compare_row **rows, size_t *n_rows,
                                       attend_error *err) {
    *rows = calloc(n_runs ? n_runs : 1, sizeof **rows);
    double *a = malloc((n_runs ? n_runs : 1) * 4 * sizeof(double));
    *n_rows = 0;
    if (!*rows || !a) {
        free(*rows);
        free(a);
        *rows = NULL;
        return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    }
    double *b = a + n_runs, *c = b + n_runs, *d = c + n_runs;
    for (size_t r = 0; r < n_runs; r++) {
        size_t k = 0;
        while (k < *n_rows && !((*rows)[k].heads == runs[r].heads && (*rows)[k].pos == runs[r].pos)) k++;
        if (k < *n_rows) continue; /* summarised with its first run */
        attend_compare_row *row = &(*rows)[(*n_rows)++];
        row->heads = runs[r].heads;
        row->pos = runs[r].pos;
        row->params = runs[r].params;
        row->first = &runs[r].stats;
        row->best_run = r;
        double sec = 0, ent = 0, dist = 0, imp = 0;
        size_t n = 0, n_heads = 0, n_imp = 0, n_curve = 0;
        for (size_t q = r; q < n_runs; q++) {
            if (runs[q].heads != row->heads || runs[q].pos != row->pos) continue;
            a[n] = runs[q].val_loss;
            b[n] = runs[q].val_accuracy;
            c[n] = runs[q].val_macro_f1;
            d[n] = curve_accuracy(&runs[q]);
            n_curve += !isnan(d[n]);
            const attend_compare_run *top = &runs[row->best_run];
            if (runs[q].val_accuracy > top->val_accuracy ||
                (runs[q].val_accuracy == top->val_accuracy && runs[q].val_loss < top->val_loss))
                row->best_run = q;
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
        mean_std(d, n, &row->curve_mean, &row->curve_std);
        if (n_curve < n) row->curve_mean = row->curve_std = NAN;
        row->seconds_mean = sec / (double)n;
        row->entropy_mean = n_heads ? ent / (double)n_heads : NAN;
        row->distance_mean = n_heads ? dist / (double)n_heads : NAN;
        row->importance_max = n_imp ? imp / (double)n_imp : NAN;
    }
    free(a);
    return ATTEND_OK;
}

/* "61.23 ± 0.45" (no ± with one run). */
void attend_compare_pm(char *out, size_t cap, double mean, double sd, size_t n, int dec, double scale) {
    if (n > 1) snprintf(out, cap, "%.*f \xC2\xB1 %.*f", dec, mean * scale, dec, sd * scale);
    else snprintf(out, cap, "%.*f", dec, mean * scale);
}

void attend_compare_markdown(attend_buf *b, const attend_compare_row *rows, size_t n_rows) {
    attend_buf_puts(b, "| heads | pos | runs | params | val loss | val accuracy (%) | val macro-F1 | seconds |\n"
                       "|---:|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; i < n_rows; i++) {
        const attend_compare_row *r = &rows[i];
        char l[64], a[64], f[64];
        attend_compare_pm(l, sizeof l, r->loss_mean, r->loss_std, r->n_runs, 4, 1);
        attend_compare_pm(a, sizeof a, r->acc_mean, r->acc_std, r->n_runs, 2, 100);
        attend_compare_pm(f, sizeof f, r->f1_mean, r->f1_std, r->n_runs, 4, 1);
        attend_buf_printf(b, "| %zu | %s | %zu | %zu | %s | %s | %s | %.*f |\n", r->heads, attend_pos_name(r->pos),
                          r->n_runs, r->params, l, a, f, r->seconds_mean < 100 ? 1 : 0, r->seconds_mean);
    }
}

size_t attend_compare_winner(const attend_compare_row *rows, size_t n_rows) {
    size_t w = SIZE_MAX;
    for (int multi = 1; multi >= 0 && w == SIZE_MAX; multi--)
        for (size_t i = 0; i < n_rows; i++) {
            if (multi && rows[i].heads < 2) continue;
            if (w == SIZE_MAX || rows[i].acc_mean > rows[w].acc_mean ||
                (rows[i].acc_mean == rows[w].acc_mean && rows[i].loss_mean < rows[w].loss_mean))
                w = i;
        }
    return w;
}

char **attend_compare_grid(const attend_compare_set *sets, const attend_compare_row *const *rows,
                           const size_t *n_rows, size_t n_sets, size_t *n_lines, size_t *n_cols) {
    const size_t nc = 2 + 2 * n_sets;
    size_t most = 0;
    for (size_t s = 0; s < n_sets; s++) most += n_rows[s];
    char **cells = malloc((1 + most) * nc * (sizeof(char *) + ATTEND_COMPARE_CELL));
    if (!cells) return NULL;
    char *store = (char *)(cells + (1 + most) * nc);
    for (size_t i = 0; i < (1 + most) * nc; i++) cells[i] = store + i * ATTEND_COMPARE_CELL;
    snprintf(cells[0], ATTEND_COMPARE_CELL, "heads");
    snprintf(cells[1], ATTEND_COMPARE_CELL, "pos");
    for (size_t s = 0; s < n_sets; s++) {
        snprintf(cells[2 + 2 * s], ATTEND_COMPARE_CELL, "%.64s: val accuracy (%%)", sets[s].name);
        snprintf(cells[3 + 2 * s], ATTEND_COMPARE_CELL, "%.64s: mean over epochs (%%)", sets[s].name);
    }
    // a line per (heads, pos) in order of first appearance over the sets
    size_t n = 0;
    for (size_t s = 0; s < n_sets; s++)
        for (size_t i = 0; i < n_rows[s]; i++) {
            const attend_compare_row *r = &rows[s][i];
            int seen = 0;
            for (size_t s2 = 0; s2 < s && !seen; s2++)
                for (size_t j = 0; j < n_rows[s2]; j++)
                    seen |= rows[s2][j].heads == r->heads && rows[s2][j].pos == r->pos;
            if (seen) continue;
            char **line = cells + (1 + n++) * nc;
            snprintf(line[0], ATTEND_COMPARE_CELL, "%zu", r->heads);
            snprintf(line[1], ATTEND_COMPARE_CELL, "%s", attend_pos_name(r->pos));
            for (size_t s2 = 0; s2 < n_sets; s2++) {
                const attend_compare_row *m = NULL;
                for (size_t j = 0; j < n_rows[s2] && !m; j++)
                    if (rows[s2][j].heads == r->heads && rows[s2][j].pos == r->pos) m = &rows[s2][j];
                snprintf(line[2 + 2 * s2], ATTEND_COMPARE_CELL, "-");
                snprintf(line[3 + 2 * s2], ATTEND_COMPARE_CELL, "-");
                if (m) attend_compare_pm(line[2 + 2 * s2], ATTEND_COMPARE_CELL, m->acc_mean, m->acc_std, m->n_runs, 2, 100);
                if (m && !isnan(m->curve_mean))
                    attend_compare_pm(line[3 + 2 * s2], ATTEND_COMPARE_CELL, m->curve_mean, m->curve_std, m->n_runs, 2, 100);
            }
        }
    *n_lines = n;
    *n_cols = nc;
    return cells;
}

void attend_compare_markdown_sets(attend_buf *b, const attend_compare_set *sets,
                                  const attend_compare_row *const *rows, const size_t *n_rows,
                                  size_t n_sets) {
    size_t n, nc;
    char **cells = attend_compare_grid(sets, rows, n_rows, n_sets, &n, &nc);
    if (!cells) {
        b->failed = 1;
        return;
    }
    for (size_t i = 0; i <= n; i++) {
        for (size_t j = 0; j < nc; j++) attend_buf_printf(b, "| %s ", cells[i * nc + j]);
        attend_buf_puts(b, "|\n");
        if (i == 0) {
            attend_buf_puts(b, "|---:|---|");
            for (size_t j = 2; j < nc; j++) attend_buf_puts(b, "---:|");
            attend_buf_puts(b, "\n");
        }
    }
    free(cells);
}

/* ---- the result in words ---- */

/* " (Z pooled standard deviations over the seeds: larger than / within the
 * spread between seeds)"; returns +1 / -1 for a difference beyond twice the
 * pooled standard deviation, 0 within it or with one seed. */
static int spread_words(attend_buf *b, double d, const attend_compare_row *x, const attend_compare_row *y,
                        int curve) {
    if (x->n_runs < 2 || y->n_runs < 2) {
        attend_buf_puts(b, " (one seed: no spread between seeds to compare it with)");
        return 0;
    }
    double sx = curve ? x->curve_std : x->acc_std, sy = curve ? y->curve_std : y->acc_std;
    double s = 100.0 * sqrt((sx * sx + sy * sy) / 2);
    if (s > 0) {
        int beyond = fabs(d) >= 2 * s;
        attend_buf_printf(b, " (%.1f pooled standard deviations over the seeds: %s)", fabs(d) / s,
                          beyond ? "larger than the spread between seeds" : "within the spread between seeds");
        return beyond ? (d > 0 ? 1 : -1) : 0;
    }
    attend_buf_puts(b, d != 0 ? " (every seed gave the same value, so it is larger than the spread between seeds)"
                              : " (every seed gave the same value)");
    return d > 0 ? 1 : d < 0 ? -1 : 0;
}

/* The verdict for the rows of one positional encoding. */
static void verdict_pos(attend_buf *b, const attend_compare_row *rows, size_t n_rows, attend_pos_kind pos,
                        int curve) {
    const attend_compare_row *lo = NULL, *hi = NULL, *one = NULL, *multi = NULL;
    for (size_t i = 0; i < n_rows; i++) {
        const attend_compare_row *r = &rows[i];
        double v = curve ? r->curve_mean : r->acc_mean;
        if (r->pos != pos || isnan(v)) continue;
        if (!lo || v < (curve ? lo->curve_mean : lo->acc_mean)) lo = r;
        if (!hi || v > (curve ? hi->curve_mean : hi->acc_mean)) hi = r;
        if (r->heads == 1) one = r;
        else if (!multi || v > (curve ? multi->curve_mean : multi->acc_mean)) multi = r;
    }
    if (!lo) return;
#define V(r) (100.0 * (curve ? (r)->curve_mean : (r)->acc_mean))
#define S(r) (100.0 * (curve ? (r)->curve_std : (r)->acc_std))
    const char *what = curve ? "Validation accuracy averaged over the epochs (higher = learned sooner)"
                             : "Validation accuracy (best epoch)";
    int same = 1;
    for (size_t i = 0; i < n_rows; i++)
        if (rows[i].pos == pos && !isnan(curve ? rows[i].curve_mean : rows[i].acc_mean))
            same &= V(&rows[i]) == V(hi) && S(&rows[i]) == 0;
    if (same) {
        attend_buf_printf(b, "%s: every configuration scored %.2f%% in every seed, so it does not separate them. ",
                          what, V(hi));
        return;
    }
    if (V(hi) == V(lo)) {
        attend_buf_printf(b, "%s: every configuration averaged %.2f%% over its seeds. ", what, V(hi));
    } else {
        attend_buf_printf(b, "%s ranges from %.2f \xC2\xB1 %.2f%% (%zu head%s) to %.2f \xC2\xB1 %.2f%% (%zu head%s): %+.2f points",
                          what, V(lo), S(lo), lo->heads, lo->heads == 1 ? "" : "s", V(hi), S(hi), hi->heads,
                          hi->heads == 1 ? "" : "s", V(hi) - V(lo));
        spread_words(b, V(hi) - V(lo), hi, lo, curve);
        attend_buf_puts(b, ". ");
    }
    if (!one || !multi) return;
    attend_buf_printf(b, "The best of several heads (%zu heads, %.2f \xC2\xB1 %.2f%%) against one head (%.2f \xC2\xB1 %.2f%%): %+.2f points",
                      multi->heads, V(multi), S(multi), V(one), S(one), V(multi) - V(one));
    int sign = spread_words(b, V(multi) - V(one), multi, one, curve);
    attend_buf_puts(b, sign > 0   ? ", so several heads helped here. "
                       : sign < 0 ? ", so one head did better here. "
                                  : ", so this does not show that several heads help here. ");
#undef V
#undef S
}

size_t attend_compare_pos_kinds(const attend_compare_row *rows, size_t n_rows, attend_pos_kind kinds[3]) {
    size_t nk = 0;
    for (size_t i = 0; i < n_rows; i++) {
        int seen = 0;
        for (size_t k = 0; k < nk; k++) seen |= kinds[k] == rows[i].pos;
        if (!seen && nk < 3) kinds[nk++] = rows[i].pos;
    }
    return nk;
}

void attend_compare_verdict(attend_buf *b, const attend_compare_row *rows, size_t n_rows, int curve) {
    attend_pos_kind kinds[3];
    const size_t nk = attend_compare_pos_kinds(rows, n_rows, kinds);
    for (size_t k = 0; k < nk; k++) {
        if (nk > 1) attend_buf_printf(b, "With %s positions: ", attend_pos_name(kinds[k]));
        verdict_pos(b, rows, n_rows, kinds[k], curve);
    }
    if (b->len && b->s[b->len - 1] == ' ') b->s[--b->len] = 0;
}

/* ---- outputs ---- */

/* One configuration as a line of results.csv. */
static void results_line(attend_buf *b, const attend_compare_row *r) {
    attend_buf_printf(b, "%zu,%s,%zu,%zu,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.3f,%.6g,%.6g,%.6g,%.6g,%.6g\n", r->heads,
                      attend_pos_name(r->pos), r->n_runs, r->params, r->loss_mean, r->loss_std, r->acc_mean,
                      r->acc_std, r->f1_mean, r->f1_std, r->seconds_mean, r->entropy_mean, r->distance_mean,
                      r->importance_max, r->curve_mean, r->curve_std);
}

/* results.csv; prefix (NULL: none) starts every line (a data column). */
static attend_status write_results_csv(const char *path, const char *header_prefix, const char *const *prefixes,
                                       const attend_compare_row *const *rows, const size_t *n_rows, size_t n_sets,
                                       attend_error *err) {
    attend_buf b;
    attend_buf_init(&b);
    if (header_prefix) attend_buf_printf(&b, "%s,", header_prefix);
    attend_buf_puts(&b, "heads,pos,runs,params,val_loss_mean,val_loss_std,val_accuracy_mean,val_accuracy_std,"
                        "val_macro_f1_mean,val_macro_f1_std,seconds_mean,head_entropy_mean,head_distance_mean,"
                        "head_importance_max,curve_accuracy_mean,curve_accuracy_std\n");
    for (size_t s = 0; s < n_sets; s++)
        for (size_t i = 0; i < n_rows[s]; i++) {
            if (prefixes) attend_buf_printf(&b, "%s,", prefixes[s]); /* names are [A-Za-z0-9._-] */
            results_line(&b, &rows[s][i]);
        }
    attend_status st = attend_buf_write_file(&b, path, err);
    attend_buf_free(&b);
    return st;
}

/* curves.csv: every epoch of every run. */
static attend_status write_curves(const char *dir, const attend_compare_run *runs, size_t n_runs,
                                  attend_error *err) {
    char path[4096];
    attend_buf b;
    attend_buf_init(&b);
    attend_buf_puts(&b, "heads,pos,seed,epoch,train_loss,val_loss,val_accuracy,seconds\n");
    for (size_t i = 0; i < n_runs; i++)
        for (size_t e = 0; e < runs[i].n_curve; e++) {
            const attend_epoch_report *c = &runs[i].curve[e];
            attend_buf_printf(&b, "%zu,%s,%llu,%zu,%.6g,%.6g,%.6g,%.3f\n", runs[i].heads,
                              attend_pos_name(runs[i].pos), (unsigned long long)runs[i].seed, c->epoch,
                              c->train_loss, c->has_val ? c->val_loss : NAN, c->has_val ? c->val_accuracy : NAN,
                              c->seconds);
        }
    snprintf(path, sizeof path, "%s/curves.csv", dir);
    attend_status st = attend_buf_write_file(&b, path, err);
    attend_buf_free(&b);
    return st;
}

static attend_status write_csvs(const char *dir, const attend_compare_run *runs, size_t n_runs,
                                const attend_compare_row *rows, size_t n_rows, attend_error *err) {
    char path[4096];
    snprintf(path, sizeof path, "%s/results.csv", dir);
    attend_status st = write_results_csv(path, NULL, NULL, &rows, &n_rows, 1, err);
    if (st || (st = write_curves(dir, runs, n_runs, err))) return st;
    attend_buf b;
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
             add_num(c, "head_importance_max", r->importance_max) &&
             add_num(c, "curve_accuracy_mean", r->curve_mean) && add_num(c, "curve_accuracy_std", r->curve_std);
    if (!ok) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

/* Validation accuracy of every epoch (null where there was none). */
static cJSON *curve_json(const attend_compare_run *r) {
    cJSON *a = cJSON_CreateArray();
    for (size_t e = 0; a && e < r->n_curve; e++) {
        const attend_epoch_report *c = &r->curve[e];
        if (!add_item(a, NULL, c->has_val ? cJSON_CreateNumber(c->val_accuracy) : cJSON_CreateNull())) {
            cJSON_Delete(a);
            a = NULL;
        }
    }
    return a;
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
             (!r->stats.L || add_item(c, "heads_stats", stats_json(&r->stats))) &&
             (!r->n_curve || add_item(c, "val_accuracy_per_epoch", curve_json(r)));
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

attend_status attend_compare_write(const char *dir, const attend_compare_set *set, const char *note,
                                   size_t *n_heatmaps, size_t *n_plots, attend_error *err) {
    attend_compare_row *rows = NULL;
    size_t n_rows = 0;
    attend_status st = attend_compare_summarise(set->runs, set->n_runs, &rows, &n_rows, err);
    if (st) return st;
    char path[4096];
    attend_buf b;
    attend_buf_init(&b);
    if (!(st = write_csvs(dir, set->runs, set->n_runs, rows, n_rows, err)) &&
        !(st = write_json(dir, &set->setup, set->runs, set->n_runs, rows, n_rows, err))) {
        attend_compare_markdown(&b, rows, n_rows);
        snprintf(path, sizeof path, "%s/table.md", dir);
        st = attend_buf_write_file(&b, path, err);
        attend_buf_free(&b);
        attend_buf_init(&b);
    }
    if (!st) {
        attend_compare_page(&b, set, 1, note, n_heatmaps, n_plots);
        snprintf(path, sizeof path, "%s/index.html", dir);
        st = attend_buf_write_file(&b, path, err);
    }
    attend_buf_free(&b);
    free(rows);
    return st;
}

attend_status attend_compare_write_sets(const char *dir, const attend_compare_set *sets,
                                        size_t n_sets, const char *note, size_t *n_heatmaps,
                                        size_t *n_plots, attend_error *err) {
    attend_compare_row **rows = calloc(n_sets ? n_sets : 1, sizeof *rows);
    size_t *n_rows = calloc(n_sets ? n_sets : 1, sizeof *n_rows);
    const char **names = calloc(n_sets ? n_sets : 1, sizeof *names);
    attend_status st = rows && n_rows && names ? ATTEND_OK : attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory");
    for (size_t s = 0; !st && s < n_sets; s++) {
        names[s] = sets[s].name;
        st = attend_compare_summarise(sets[s].runs, sets[s].n_runs, &rows[s], &n_rows[s], err);
    }
    char path[4096];
    attend_buf b;
    attend_buf_init(&b);
    if (!st) {
        snprintf(path, sizeof path, "%s/results.csv", dir);
        st = write_results_csv(path, "data", names, (const attend_compare_row *const *)rows, n_rows, n_sets, err);
    }
    if (!st) {
        attend_compare_markdown_sets(&b, sets, (const attend_compare_row *const *)rows, n_rows, n_sets);
        snprintf(path, sizeof path, "%s/table.md", dir);
        st = attend_buf_write_file(&b, path, err);
        attend_buf_free(&b);
        attend_buf_init(&b);
    }
    if (!st) {
        attend_compare_page(&b, sets, n_sets, note, n_heatmaps, n_plots);
        snprintf(path, sizeof path, "%s/index.html", dir);
        st = attend_buf_write_file(&b, path, err);
    }
    attend_buf_free(&b);
    for (size_t s = 0; rows && s < n_sets; s++) free(rows[s]);
    free(rows);
    free(n_rows);
    free(names);
    return st;
}
