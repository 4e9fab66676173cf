/* attend compare's HTML page: one data set, or several side by side (a
 * combined table, the accuracy plots next to each other, the result in plain
 * words, then each data set's section). A data set's section: its setup,
 * the table, accuracy, loss and learning curves against heads, per-head
 * diagnostics, and what the heads of the best multi-head model do: the
 * accuracy lost when each head is masked and its attention on a few
 * validation texts. Self-contained (inline SVG and CSS, no scripts). */
#include "viz/compare.h"
#include "viz/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    attend_buf *b;
    size_t maps, plots;
    int lv;   /* heading level of a data set's sections: 2 alone, 3 in a combined page */
    size_t k; /* the data set's number, for ids unique on the page */
} page;

static void heading(page *pg, int deeper, const char *id, const char *text) {
    const int lv = pg->lv + deeper;
    if (id && pg->k) attend_buf_printf(pg->b, "<h%d id=\"%s-%zu\">", lv, id, pg->k);
    else if (id) attend_buf_printf(pg->b, "<h%d id=\"%s\">", lv, id);
    else attend_buf_printf(pg->b, "<h%d>", lv);
    attend_buf_escape(pg->b, text);
    attend_buf_printf(pg->b, "</h%d>\n", lv);
}

static void para(page *pg, const char *cls, const char *text) {
    attend_buf_puts(pg->b, cls ? "<p class=\"" : "<p>");
    if (cls) attend_buf_printf(pg->b, "%s\">", cls);
    attend_buf_escape(pg->b, text);
    attend_buf_puts(pg->b, "</p>\n");
}

/* One plot of a metric against heads, a line per positional encoding.
 * metric: 0 accuracy, 1 loss. title NULL: the metric's. */
static void metric_plot(page *pg, const attend_compare_row *rows, size_t n_rows, int metric, const char *title,
                        double width) {
    attend_pos_kind kinds[3];
    const size_t nk = attend_compare_pos_kinds(rows, n_rows, kinds);
    double x[3][ATTEND_COMPARE_MAX_CONFIGS], y[3][ATTEND_COMPARE_MAX_CONFIGS], e[3][ATTEND_COMPARE_MAX_CONFIGS];
    char names[3][64];
    attend_series se[3];
    for (size_t k = 0; k < nk; k++) {
        size_t n = 0;
        for (size_t i = 0; i < n_rows && n < ATTEND_COMPARE_MAX_CONFIGS; i++) {
            if (rows[i].pos != kinds[k]) continue;
            x[k][n] = (double)rows[i].heads;
            y[k][n] = metric == 0 ? 100.0 * rows[i].acc_mean : rows[i].loss_mean;
            e[k][n] = metric == 0 ? 100.0 * rows[i].acc_std : rows[i].loss_std;
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
        se[k] = (attend_series){names[k], n, x[k], y[k], e[k], kinds[k] == ATTEND_POS_SINUSOIDAL};
    }
    attend_plot p = {0};
    p.title = title ? title : metric == 0 ? "Validation accuracy against the number of heads"
                                          : "Validation loss against the number of heads";
    p.x_label = width >= 350 ? "attention heads per layer (log scale; same d_model, so same parameters)"
                             : "heads per layer (log scale; equal parameters)";
    p.y_label = metric == 0 ? "accuracy (%), mean \xC2\xB1 1 std over seeds" : "cross-entropy loss, mean \xC2\xB1 1 std";
    p.series = se;
    p.n_series = nk;
    p.x_log2 = 1;
    p.ymin = NAN;
    p.ymax = NAN;
    p.dodge = 6;
    p.width = width;
    attend_buf_puts(pg->b, "<figure>\n");
    attend_svg_plot(pg->b, &p);
    pg->plots++;
}

/* Validation accuracy per epoch, a line per configuration (mean +/- std
 * over its seeds). 0 when the runs have no curves (nothing drawn). */
static int curve_plot(page *pg, const attend_compare_set *set, const attend_compare_row *rows, size_t n_rows) {
    size_t E = 0;
    for (size_t i = 0; i < set->n_runs; i++) E = set->runs[i].n_curve > E ? set->runs[i].n_curve : E;
    if (!E || !n_rows) return 0;
    double *v = calloc(n_rows * E * 3, sizeof(double));
    attend_series *se = calloc(n_rows, sizeof *se);
    char(*names)[64] = calloc(n_rows, sizeof *names);
    if (!v || !se || !names) {
        pg->b->failed = 1;
        free(v);
        free(se);
        free(names);
        return 0;
    }
    double *xs = v, *ys = v + n_rows * E, *es = ys + n_rows * E;
    for (size_t r = 0; r < n_rows; r++) {
        size_t n = 0;
        for (size_t e = 0; e < E; e++) {
            double s = 0, ss = 0;
            size_t c = 0;
            for (int pass = 0; pass < 2; pass++)
                for (size_t i = 0; i < set->n_runs; i++) {
                    const attend_compare_run *run = &set->runs[i];
                    if (run->heads != rows[r].heads || run->pos != rows[r].pos || e >= run->n_curve ||
                        !run->curve[e].has_val)
                        continue;
                    double a = 100.0 * run->curve[e].val_accuracy;
                    if (pass == 0) s += a, c++;
                    else ss += (a - s / (double)c) * (a - s / (double)c);
                }
            if (!c) continue;
            xs[r * E + n] = (double)(e + 1);
            ys[r * E + n] = s / (double)c;
            es[r * E + n] = c > 1 ? sqrt(ss / (double)(c - 1)) : 0;
            n++;
        }
        snprintf(names[r], sizeof names[r], "%zu head%s%s%s", rows[r].heads, rows[r].heads == 1 ? "" : "s",
                 rows[r].pos == ATTEND_POS_LEARNED ? "" : ", ", rows[r].pos == ATTEND_POS_LEARNED ? "" : attend_pos_name(rows[r].pos));
        se[r] = (attend_series){names[r], n, xs + r * E, ys + r * E, es + r * E, rows[r].pos == ATTEND_POS_SINUSOIDAL};
    }
    attend_plot p = {0};
    p.title = "Learning curves: validation accuracy per epoch";
    p.x_label = "epoch";
    p.y_label = "accuracy (%), mean \xC2\xB1 1 std over seeds";
    p.series = se;
    p.n_series = n_rows;
    p.x_integer = 1;
    p.ymin = NAN;
    p.ymax = NAN;
    p.dodge = E <= 12 ? 3 : 0;
    p.width = 400;
    attend_buf_puts(pg->b, "<figure>\n");
    attend_svg_plot(pg->b, &p);
    pg->plots++;
    free(v);
    free(se);
    free(names);
    return 1;
}

/* What was held fixed. */
static void section_setup(page *pg, const attend_compare_setup *s) {
    attend_buf_printf(pg->b, "<p class=\"lead\">"
                      "Every configuration below was trained on the same %zu training and validated on the same "
                      "%zu validation examples (%zu classes), with d_model %zu, %zu layer%s, feed-forward %zu, "
                      "max_len %zu, %zu epoch%s, batch %zu, learning rate %g, dropout %g, and the same %zu seed%s "
                      "(from %llu). Only the number of heads and the positional encoding change; with d_model "
                      "fixed, more heads means smaller heads, not more parameters. Each number is the best "
                      "epoch's (lowest validation loss), as mean \xC2\xB1 sample standard deviation over the seeds.",
                      s->n_train, s->n_val, s->num_classes, s->d_model, s->layers, s->layers == 1 ? "" : "s",
                      s->d_ff, s->max_len, s->epochs, s->epochs == 1 ? "" : "s", s->batch, (double)s->lr,
                      (double)s->dropout, s->n_seeds, s->n_seeds == 1 ? "" : "s", (unsigned long long)s->first_seed);
    attend_buf_puts(pg->b, "</p>\n<p class=\"note\">Data: <code>");
    attend_buf_escape(pg->b, s->data_path ? s->data_path : "");
    if (s->val_path && s->train_path && strcmp(s->train_path, s->data_path ? s->data_path : "")) {
        attend_buf_puts(pg->b, "</code>, split into <code>");
        attend_buf_escape(pg->b, s->train_path);
        attend_buf_puts(pg->b, "</code> and <code>");
        attend_buf_escape(pg->b, s->val_path);
    } else if (s->val_path) {
        attend_buf_puts(pg->b, "</code>, validated on <code>");
        attend_buf_escape(pg->b, s->val_path);
    }
    attend_buf_puts(pg->b, "</code>. Command: <code>");
    attend_buf_escape(pg->b, s->command ? s->command : "");
    attend_buf_puts(pg->b, "</code>.</p>\n");
}

/* The table of configurations, then accuracy (with_acc), loss and the
 * learning curves. */
static void section_results(page *pg, const attend_compare_set *set, const attend_compare_row *rows,
                            size_t n_rows, int with_acc) {
    enum { NC = 12 };
    const char *head[NC] = {"heads", "pos", "runs", "parameters", "val loss", "val accuracy (%)", "val macro-F1",
                            "val accuracy, mean over epochs (%)", "seconds", "head entropy (bits)",
                            "head distance (tokens)", "top head importance (points)"};
    char *cells = malloc((n_rows ? n_rows : 1) * NC * 64);
    const char **cp = malloc((n_rows ? n_rows : 1) * NC * sizeof(char *));
    if (!cells || !cp) {
        pg->b->failed = 1;
        free(cells);
        free(cp);
        return;
    }
    for (size_t i = 0; i < n_rows; i++) {
        const attend_compare_row *r = &rows[i];
        char *c = cells + i * NC * 64;
        snprintf(c, 64, "%zu", r->heads);
        snprintf(c + 64, 64, "%s", attend_pos_name(r->pos));
        snprintf(c + 128, 64, "%zu", r->n_runs);
        snprintf(c + 192, 64, "%zu", r->params);
        attend_compare_pm(c + 256, 64, r->loss_mean, r->loss_std, r->n_runs, 4, 1);
        attend_compare_pm(c + 320, 64, r->acc_mean, r->acc_std, r->n_runs, 2, 100);
        attend_compare_pm(c + 384, 64, r->f1_mean, r->f1_std, r->n_runs, 4, 1);
        if (isnan(r->curve_mean)) snprintf(c + 448, 64, "-");
        else attend_compare_pm(c + 448, 64, r->curve_mean, r->curve_std, r->n_runs, 2, 100);
        snprintf(c + 512, 64, r->seconds_mean < 100 ? "%.1f" : "%.0f", r->seconds_mean);
        snprintf(c + 576, 64, "%.2f", r->entropy_mean);
        snprintf(c + 640, 64, "%.2f", r->distance_mean);
        snprintf(c + 704, 64, "%+.2f", 100.0 * r->importance_max);
        for (size_t j = 0; j < NC; j++) cp[i * NC + j] = c + j * 64;
    }
    heading(pg, 0, "results", "Results");
    attend_html_table(pg->b, "attend-table", NC, head, n_rows, cp, "rlrrrrrrrrrr");
    free(cells);
    free(cp);
    para(pg, "note", "Mean over epochs: the validation accuracy of every epoch averaged, one number for how soon a "
                     "configuration learned (the area under its learning curve). Head entropy and distance are means "
                     "over every head of every run (see below for what they measure); top head importance is the "
                     "accuracy lost when the single most important head is masked, averaged over the seeds. The "
                     "same numbers are in results.csv, runs.csv, curves.csv, results.json and table.md.");
    attend_buf_puts(pg->b, "<div class=\"row\">\n");
    if (with_acc) {
        metric_plot(pg, rows, n_rows, 0, NULL, 400);
        attend_buf_puts(pg->b, "<figcaption>Error bars: \xC2\xB1 1 standard deviation over the seeds (none with one "
                               "seed). Lines are drawn side by side a few pixels apart so that their error bars do "
                               "not hide one another.</figcaption>\n</figure>\n");
    }
    metric_plot(pg, rows, n_rows, 1, NULL, 400);
    attend_buf_puts(pg->b, "<figcaption>Lower is better. Loss also sees how confident the right answers "
                           "are.</figcaption>\n</figure>\n");
    if (curve_plot(pg, set, rows, n_rows))
        attend_buf_puts(pg->b, "<figcaption>How soon each configuration learned: where the lines part, the "
                               "number of heads changed the speed even if the final accuracy is the "
                               "same.</figcaption>\n</figure>\n");
    attend_buf_puts(pg->b, "</div>\n");
}

/* Per-configuration heatmaps of entropy, distance and importance. */
static void section_diagnostics(page *pg, const attend_compare_row *rows, size_t n_rows) {
    heading(pg, 0, "heads", "Per-head diagnostics");
    para(pg, NULL, "For each configuration, its first seed's model on the validation data. Entropy: how spread out a "
                   "query's attention is (0 bits = all weight on one token). Distance: how far, in tokens, a head "
                   "looks on average. Importance: the accuracy lost when the head's output is removed (its columns "
                   "of the attention output projection set to 0) and the model is evaluated again.");
    for (size_t i = 0; i < n_rows; i++) {
        const attend_compare_row *r = &rows[i];
        if (!r->first || !r->first->L) continue;
        char t[96];
        snprintf(t, sizeof t, "%zu head%s, %s positions", r->heads, r->heads == 1 ? "" : "s", attend_pos_name(r->pos));
        heading(pg, 1, NULL, t);
        attend_buf_puts(pg->b, "<div class=\"row\">\n");
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
            attend_buf_puts(pg->b, "<figure>\n");
            attend_buf_append(pg->b, st, (size_t)(en - st));
            attend_buf_puts(pg->b, "</figure>\n");
            p = en;
            pg->maps++;
        }
        if (figs.failed) pg->b->failed = 1;
        attend_buf_free(&figs);
        attend_buf_puts(pg->b, "</div>\n");
    }
}

/* "5 green 0.93; 1 blue 0.05; ..." (1-based position, token, weight) of
 * the n keys given, into out. */
static void top_list(char *out, size_t cap, const attend_explanation *ex, const size_t *keys, const float *w,
                     size_t n) {
    size_t k = 0;
    out[0] = 0;
    for (size_t r = 0; r < n && k < cap; r++)
        k += (size_t)snprintf(out + k, cap - k, "%s%zu %.40s %.2f", r ? "; " : "", keys[r] + 1,
                              ex->tokens[keys[r]], (double)w[r]);
}

/* The 3 keys the query row a (T weights) attends to most. */
static size_t top_of_row(const float *a, size_t T, size_t keys[3], float w[3]) {
    size_t n = 0;
    for (; n < 3 && n < T; n++) {
        size_t best = SIZE_MAX;
        for (size_t j = 0; j < T; j++) {
            int taken = 0;
            for (size_t q = 0; q < n; q++) taken |= keys[q] == j;
            if (!taken && (best == SIZE_MAX || a[j] > a[best])) best = j;
        }
        keys[n] = best;
        w[n] = a[best];
    }
    return n;
}

/* Layer l's heads as text: for each head the tokens it attends to most:
 * from the <cls> query, which alone the classifier reads, when cls; and on
 * average over the queries. */
static void top_tokens_table(page *pg, const attend_explanation *ex, size_t l, int cls) {
    const size_t nc = cls ? 3 : 2;
    const char *head[3] = {"head", "the <cls> query (what the classifier reads) attends to",
                           "tokens attended to most, on average over the queries"};
    if (!cls) head[1] = head[2];
    char (*cells)[200] = calloc(ex->H * nc, sizeof *cells);
    const char **cp = calloc(ex->H * nc, sizeof *cp);
    if (!cells || !cp) {
        pg->b->failed = 1;
        free(cells);
        free(cp);
        return;
    }
    for (size_t h = 0; h < ex->H; h++) {
        char(*c)[200] = cells + nc * h;
        size_t keys[3];
        float w[3];
        snprintf(c[0], sizeof c[0], "layer %zu, head %zu", l + 1, h + 1);
        if (cls) {
            size_t n = top_of_row(ex->attn + (l * ex->H + h) * ex->T * ex->T, ex->T, keys, w);
            top_list(c[1], sizeof c[1], ex, keys, w, n);
        }
        size_t n = attend_explanation_top_keys(ex, l, h, 3, keys, w);
        if (n == SIZE_MAX) {
            pg->b->failed = 1;
            n = 0;
        }
        top_list(c[nc - 1], sizeof c[0], ex, keys, w, n);
        for (size_t j = 0; j < nc; j++) cp[nc * h + j] = c[j];
    }
    attend_html_table(pg->b, "attend-table attend-top-tokens", nc, head, ex->H, cp, "lll");
    free(cells);
    free(cp);
}

/* One validation text: its words, the answer, what each head of the last
 * layer looks at, and the maps (head view of the layer for one layer, the
 * model view of every layer x head otherwise). */
static void example_block(page *pg, const attend_compare_example *e, size_t number) {
    const attend_explanation *ex = &e->ex;
    const int right = !strcmp(e->truth, e->predicted);
    attend_buf_printf(pg->b, "<div class=\"example %s\">\n<p class=\"text\">\xE2\x80\x9C", right ? "right" : "wrong");
    attend_buf_escape(pg->b, e->text);
    attend_buf_puts(pg->b, "\xE2\x80\x9D</p>\n<p>true class: ");
    attend_buf_escape(pg->b, e->truth);
    attend_buf_puts(pg->b, "; predicted: ");
    attend_buf_escape(pg->b, e->predicted);
    attend_buf_printf(pg->b, " (p = %.3f)%s</p>\n", (double)ex->probs[ex->predicted], right ? "" : " \xE2\x80\x94 wrong");
    if (!ex->L) {
        attend_buf_puts(pg->b, "</div>\n");
        return;
    }
    top_tokens_table(pg, ex, ex->L - 1, e->cls_query);
    char title[96];
    attend_buf_puts(pg->b, "<div class=\"scroll\">\n");
    if (ex->L == 1) {
        snprintf(title, sizeof title, "Example %zu: every head, side by side", number);
        attend_svg_head_view(pg->b, ex, 0, SIZE_MAX, title);
    } else {
        snprintf(title, sizeof title, "Example %zu: every layer and head", number);
        attend_svg_model_view(pg->b, ex, title);
    }
    pg->maps++;
    attend_buf_puts(pg->b, "</div>\n</div>\n");
}

/* The accuracy drop when each head of run is masked, as a table. */
static void importance_table(page *pg, const attend_head_stats *hs) {
    const char *head[6] = {"layer", "head", "accuracy drop if masked (points)", "loss rise if masked",
                           "entropy (bits)", "distance (tokens)"};
    const size_t n = hs->L * hs->H;
    char (*cells)[32] = calloc(n * 6, sizeof *cells);
    const char **cp = calloc(n * 6, sizeof *cp);
    if (!cells || !cp) {
        pg->b->failed = 1;
        free(cells);
        free(cp);
        return;
    }
    for (size_t k = 0; k < n; k++) {
        snprintf(cells[6 * k], 32, "%zu", k / hs->H + 1);
        snprintf(cells[6 * k + 1], 32, "%zu", k % hs->H + 1);
        snprintf(cells[6 * k + 2], 32, "%+.2f", 100.0 * hs->acc_drop[k]);
        snprintf(cells[6 * k + 3], 32, "%+.4f", hs->loss_rise[k]);
        snprintf(cells[6 * k + 4], 32, "%.2f", hs->entropy[k]);
        snprintf(cells[6 * k + 5], 32, "%.2f", hs->distance[k]);
        for (size_t j = 0; j < 6; j++) cp[6 * k + j] = cells[6 * k + j];
    }
    attend_html_table(pg->b, "attend-table attend-importance", 6, head, n, cp, "rrrrrr");
    free(cells);
    free(cp);
}

/* The largest and smallest single-head accuracy drop of every seed of the
 * configuration of row r, as text. */
static void drops_per_seed(page *pg, const attend_compare_set *set, const attend_compare_row *r) {
    attend_buf_puts(pg->b, "<p>Per seed, the most and the least important head cost:");
    for (size_t i = 0; i < set->n_runs; i++) {
        const attend_compare_run *run = &set->runs[i];
        const attend_head_stats *hs = &run->stats;
        if (run->heads != r->heads || run->pos != r->pos || !hs->has_importance || !hs->L) continue;
        double hi = -INFINITY, lo = INFINITY;
        for (size_t k = 0; k < hs->L * hs->H; k++) {
            hi = hs->acc_drop[k] > hi ? hs->acc_drop[k] : hi;
            lo = hs->acc_drop[k] < lo ? hs->acc_drop[k] : lo;
        }
        attend_buf_printf(pg->b, " seed %llu %+.2f and %+.2f points;", (unsigned long long)run->seed, 100.0 * hi,
                          100.0 * lo);
    }
    if (pg->b->len && pg->b->s[pg->b->len - 1] == ';') pg->b->s[--pg->b->len] = 0;
    attend_buf_puts(pg->b, ".</p>\n");
}

/* What the heads of the best multi-head model do. */
static void section_winner(page *pg, const attend_compare_set *set, const attend_compare_row *rows, size_t n_rows) {
    const size_t w = attend_compare_winner(rows, n_rows);
    if (w == SIZE_MAX || !set->n_runs) return;
    const attend_compare_row *r = &rows[w];
    const attend_compare_run *run = &set->runs[r->best_run];
    const attend_head_stats *hs = &run->stats;
    if (!hs->L) return;
    heading(pg, 0, "winner", r->heads > 1 ? "What the heads of the best multi-head model do"
                                          : "What the heads of the best model do");
    char acc[64];
    attend_compare_pm(acc, sizeof acc, r->acc_mean, r->acc_std, r->n_runs, 2, 100);
    attend_buf_printf(pg->b, "<p>The best configuration with %s is %zu head%s with %s positions (validation "
                      "accuracy %s%% over %zu seed%s). Shown: its seed %llu, the best of them (%.2f%%).",
                      r->heads > 1 ? "more than one head" : "any number of heads", r->heads, r->heads == 1 ? "" : "s",
                      attend_pos_name(r->pos), acc, r->n_runs, r->n_runs == 1 ? "" : "s",
                      (unsigned long long)run->seed, 100.0 * run->val_accuracy);
    for (size_t i = 0; i < n_rows; i++)
        if (rows[i].heads == 1 && rows[i].pos == r->pos && r->heads > 1 && !isnan(rows[i].importance_max))
            attend_buf_printf(pg->b, " For comparison, masking the only head of a one-head model costs %.2f "
                              "points (mean over its seeds).", 100.0 * rows[i].importance_max);
    attend_buf_puts(pg->b, "</p>\n");
    if (hs->has_importance) {
        heading(pg, 1, NULL, "The accuracy lost when each head is masked");
        attend_buf_printf(pg->b, "<p class=\"note\">Each head in turn is removed (its columns of the attention "
                          "output projection set to 0) and the same %zu validation examples are evaluated again; "
                          "with every head the model scores %.2f%% on them. A drop near 0: the model does not need "
                          "the head; a large one: it relies on it; negative: it did better without it.</p>\n",
                          hs->n_examples, 100.0 * hs->base_accuracy);
        importance_table(pg, hs);
        drops_per_seed(pg, set, r);
    }
    if (!run->n_examples) return;
    heading(pg, 1, NULL, "Where each head looks, on a few validation texts");
    para(pg, "note", "Each map: rows = the token attending (query), columns = the token attended to (key); rows sum to "
                     "1. The table lists, for each head of the last layer, the tokens it attends to most (position, "
                     "token, weight): from the <cls> query where the classifier reads only that, and on average "
                     "over the queries. Heads that attend to different tokens on the same text are doing different "
                     "things; whether that is the relation the task needs is for the reader to judge (swap the words "
                     "and see whether a head follows the position or the word: attend show).");
    for (size_t i = 0; i < run->n_examples; i++) example_block(pg, &run->examples[i], i + 1);
}

/* note as paragraphs (split at blank lines), escaped. */
static void note_paragraphs(page *pg, const char *note) {
    const char *p = note;
    while (*p) {
        while (*p == '\n' || *p == '\r' || *p == ' ' || *p == '\t') p++;
        if (!*p) break;
        const char *end = p;
        // the paragraph ends at a line holding only white space
        for (;;) {
            const char *nl = strchr(end, '\n');
            if (!nl) {
                end += strlen(end);
                break;
            }
            const char *q = nl + 1;
            while (*q == ' ' || *q == '\t' || *q == '\r') q++;
            if (*q == '\n' || !*q) {
                end = nl;
                break;
            }
            end = nl + 1;
        }
        char *text = malloc((size_t)(end - p) + 1);
        if (!text) {
            pg->b->failed = 1;
            return;
        }
        memcpy(text, p, (size_t)(end - p));
        text[end - p] = 0;
        para(pg, NULL, text);
        free(text);
        p = end;
    }
}

/* The result in plain words: the user's note, then sentences made from the
 * numbers for each data set. */
static void section_words(page *pg, const attend_compare_set *sets, attend_compare_row *const *rows,
                          const size_t *n_rows, size_t n_sets, const char *note) {
    attend_buf_puts(pg->b, "<h2 id=\"words\">In plain words</h2>\n");
    if (note) note_paragraphs(pg, note);
    para(pg, "note", "Generated from the numbers on this page (a difference counts as larger than the spread between "
                     "seeds when it is at least twice the pooled standard deviation of the two configurations):");
    for (size_t s = 0; s < n_sets; s++)
        for (int curve = 0; curve < 2; curve++) {
            attend_buf v;
            attend_buf_init(&v);
            attend_compare_verdict(&v, rows[s], n_rows[s], curve);
            if (v.failed) pg->b->failed = 1;
            if (v.len) {
                attend_buf_puts(pg->b, "<p>");
                if (n_sets > 1 && !curve) {
                    attend_buf_puts(pg->b, "<strong>");
                    attend_buf_escape(pg->b, sets[s].name);
                    attend_buf_puts(pg->b, ".</strong> ");
                }
                attend_buf_escape(pg->b, v.s);
                attend_buf_puts(pg->b, "</p>\n");
            }
            attend_buf_free(&v);
        }
}

/* The combined table and the accuracy plots side by side. */
static void section_side_by_side(page *pg, const attend_compare_set *sets, attend_compare_row *const *rows,
                                 const size_t *n_rows, size_t n_sets) {
    attend_buf_puts(pg->b, "<h2 id=\"side-by-side\">Side by side</h2>\n");
    size_t n, nc;
    char **cells = attend_compare_grid(sets, (const attend_compare_row *const *)rows, n_rows, n_sets, &n, &nc);
    char align[2 + 2 * ATTEND_COMPARE_MAX_DATA + 1] = "rl";
    for (size_t j = 2; j < nc && j < sizeof align - 1; j++) align[j] = 'r';
    align[nc < sizeof align ? nc : sizeof align - 1] = 0;
    if (cells) attend_html_table(pg->b, "attend-table attend-summary", nc, (const char *const *)cells, n,
                                 (const char *const *)cells + nc, align);
    else pg->b->failed = 1;
    free(cells);
    para(pg, "note", "Validation accuracy of the best epoch and validation accuracy averaged over the epochs (how "
                     "soon it learned), mean \xC2\xB1 sample standard deviation over the seeds.");
    attend_buf_puts(pg->b, "<div class=\"row\">\n");
    for (size_t s = 0; s < n_sets; s++) {
        char title[128];
        snprintf(title, sizeof title, "%.64s: validation accuracy against heads", sets[s].name);
        metric_plot(pg, rows[s], n_rows[s], 0, title, 280); /* two fit side by side */
        attend_buf_puts(pg->b, "<figcaption>Error bars: \xC2\xB1 1 standard deviation over the seeds. Each plot "
                               "has its own scale.</figcaption>\n</figure>\n");
    }
    attend_buf_puts(pg->b, "</div>\n");
}

/* One data set's sections. */
static void section_set(page *pg, const attend_compare_set *set, const attend_compare_row *rows, size_t n_rows,
                        int single) {
    section_setup(pg, &set->setup);
    if (!single && set->link) {
        attend_buf_puts(pg->b, "<p class=\"note\">This data set's own page and files: <a href=\"");
        attend_buf_escape(pg->b, set->link);
        attend_buf_puts(pg->b, "\">");
        attend_buf_escape(pg->b, set->link);
        attend_buf_puts(pg->b, "</a>.</p>\n");
    }
    section_results(pg, set, rows, n_rows, single);
    section_diagnostics(pg, rows, n_rows);
    section_winner(pg, set, rows, n_rows);
}

void attend_compare_page(attend_buf *b, const attend_compare_set *sets, size_t n_sets,
                         const char *note, size_t *n_heatmaps, size_t *n_plots) {
    page pg = {b, 0, 0, n_sets > 1 ? 3 : 2, 0};
    attend_compare_row **rows = calloc(n_sets ? n_sets : 1, sizeof *rows);
    size_t *n_rows = calloc(n_sets ? n_sets : 1, sizeof *n_rows);
    attend_error err;
    for (size_t s = 0; rows && n_rows && s < n_sets; s++)
        if (attend_compare_summarise(sets[s].runs, sets[s].n_runs, &rows[s], &n_rows[s], &err)) b->failed = 1;
    if (!rows || !n_rows) b->failed = 1;
    if (!b->failed) {
        attend_html_begin(b, "attend compare: heads and positional encodings");
        if (n_sets == 1) {
            attend_buf_puts(b, "<h1>attend compare</h1>\n");
            section_setup(&pg, &sets[0].setup);
            section_words(&pg, sets, rows, n_rows, 1, note);
            section_results(&pg, &sets[0], rows[0], n_rows[0], 1);
            section_diagnostics(&pg, rows[0], n_rows[0]);
            section_winner(&pg, &sets[0], rows[0], n_rows[0]);
        } else {
            attend_buf_printf(b, "<h1>attend compare: %zu data sets</h1>\n<p class=\"lead\">The same head counts, "
                              "seeds, model and training settings on each data set (each with its own vocabulary, "
                              "classes and validation data). Below: the results side by side, the result in plain "
                              "words, then each data set in full.</p>\n", n_sets);
            section_side_by_side(&pg, sets, rows, n_rows, n_sets);
            section_words(&pg, sets, rows, n_rows, n_sets, note);
            for (size_t s = 0; s < n_sets; s++) {
                pg.k = s + 1;
                attend_buf_printf(b, "<h2 id=\"set-%zu\">", s + 1);
                attend_buf_escape(b, sets[s].name);
                attend_buf_puts(b, "</h2>\n");
                section_set(&pg, &sets[s], rows[s], n_rows[s], 0);
            }
        }
        attend_html_end(b);
    }
    for (size_t s = 0; rows && s < n_sets; s++) free(rows[s]);
    free(rows);
    free(n_rows);
    if (n_heatmaps) *n_heatmaps = pg.maps;
    if (n_plots) *n_plots = pg.plots;
}
