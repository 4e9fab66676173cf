/* The report page and the attention pictures. See report.h. */
#define _POSIX_C_SOURCE 200809L /* mkdir, gmtime_r */
#include "viz/report.h"
#include "base/json.h"
#include "base/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SIZE_NONE ((size_t)-1)

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

attend_status attend_mkdir(const char *path, attend_error *err) {
    if (mkdir(path, 0777) == 0) return ATTEND_OK;
    struct stat st;
    if (errno == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return ATTEND_OK;
    return attend_errorf(err, ATTEND_ERR_IO, "cannot create directory %s: %s", path, strerror(errno));
}

/* ---- attention pictures ---- */

size_t attend_explanation_top_keys(const attend_explanation *ex, size_t l, size_t h, size_t n,
                                   size_t *keys, float *w) {
    const size_t T = ex->T;
    if (n > T) n = T;
    float *avg = calloc(T, sizeof(float));
    uint8_t *taken = calloc(T, 1);
    if (!avg || !taken) {
        free(avg);
        free(taken);
        return SIZE_MAX;
    }
    for (size_t i = 0; i < T; i++)
        for (size_t j = 0; j < T; j++) avg[j] += attend_explanation_at(ex, l, h, i, j) / (float)T;
    for (size_t k = 0; k < n; k++) {
        size_t best = SIZE_NONE;
        for (size_t j = 0; j < T; j++)
            if (!taken[j] && (best == SIZE_NONE || avg[j] > avg[best])) best = j;
        taken[best] = 1;
        keys[k] = best;
        w[k] = avg[best];
    }
    free(avg);
    free(taken);
    return n;
}

/* Largest weight among the maps drawn, for the shared colour scale. */
static float attn_max(const attend_explanation *ex, size_t layer, size_t head) {
    float mx = 0;
    for (size_t l = 0; l < ex->L; l++) {
        if (layer != SIZE_NONE && l != layer) continue;
        for (size_t h = 0; h < ex->H; h++) {
            if (head != SIZE_NONE && h != head) continue;
            const float *a = ex->attn + (l * ex->H + h) * ex->T * ex->T;
            for (size_t k = 0; k < ex->T * ex->T; k++) mx = a[k] > mx ? a[k] : mx;
        }
    }
    return mx > 0 ? mx : 1;
}

#define MV_CAPTION "each map: rows = token attending (query), columns = token attended to (key); rows sum to 1"

typedef struct {
    double cell, map, gap, ls, row_w, col_h, left, top, w, h, grid_h;
    int labels, rot;
} mv_layout;

static void mv_layout_compute(const attend_explanation *ex, mv_layout *M) {
    const double T = (double)ex->T, H = (double)ex->H;
    M->gap = 12;
    double target = (1040 - (H - 1) * M->gap) / H;
    if (target > 18 * T) target = 18 * T;
    M->cell = floor(clampd(target / T, 3, 18));
    M->map = M->cell * T;
    M->labels = M->cell >= 8;
    M->ls = M->labels ? clampd(M->cell * 0.95, 7, 11) : 0;
    double tw = 0;
    if (M->labels)
        for (size_t t = 0; t < ex->T; t++) {
            double w = attend_svg_text_width(ex->tokens[t], M->ls);
            tw = w > tw ? w : tw;
        }
    M->row_w = M->labels ? tw + 6 : 0;
    M->rot = M->cell * 0.7071 >= M->ls ? 45 : 90;
    M->col_h = M->labels ? attend_svg_xlabel_height(M->rot, tw, M->ls) + 6 : 0;
    M->left = 8 + 52 + M->row_w;
    M->top = 20;
    M->grid_h = (double)ex->L * M->map + ((double)ex->L - 1) * M->gap;
    M->w = M->left + H * M->map + (H - 1) * M->gap + 16 + ATTEND_SVG_COLORBAR_W;
    double cap = M->left + attend_svg_text_width(MV_CAPTION, 11) + 8;
    if (M->w < cap) M->w = cap;
    double body = M->grid_h > 120 ? M->grid_h : 120;
    M->h = M->top + body + M->col_h + 26;
}

void attend_model_view_size(const attend_explanation *ex, double *w, double *h) {
    mv_layout M;
    mv_layout_compute(ex, &M);
    *w = M.w;
    *h = M.h;
}

void attend_model_view_draw(attend_buf *b, const attend_explanation *ex, double x, double y) {
    mv_layout M;
    mv_layout_compute(ex, &M);
    const float vmax = attn_max(ex, SIZE_NONE, SIZE_NONE);
    const size_t T = ex->T;
    attend_buf_printf(b, "<g transform=\"translate(%.1f %.1f)\">\n", x, y);
    char txt[64];
    for (size_t h = 0; h < ex->H; h++) {
        snprintf(txt, sizeof txt, "head %zu", h + 1);
        attend_svg_text(b, M.left + (double)h * (M.map + M.gap) + M.map / 2, M.top - 6, 11, "middle", 0,
                        "bold", NULL, txt);
    }
    for (size_t l = 0; l < ex->L; l++) {
        const double gy = M.top + (double)l * (M.map + M.gap);
        snprintf(txt, sizeof txt, "layer %zu", l + 1);
        attend_svg_text(b, 8, gy + M.map / 2 + 4, 11, "start", 0, "bold", NULL, txt);
        for (size_t h = 0; h < ex->H; h++) {
            const double gx = M.left + (double)h * (M.map + M.gap);
            attend_svg_cells(b, ex->attn + (l * ex->H + h) * T * T, T, T, gx, gy, M.cell, M.cell,
                             ATTEND_CMAP_VIRIDIS, 0, vmax, T <= 16, (const char *const *)ex->tokens,
                             (const char *const *)ex->tokens, 0);
            attend_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888888\" stroke-width=\"0.5\"/>\n",
                              gx, gy, M.map, M.map);
        }
    }
    if (M.labels) {
        // query tokens left of the first column of maps, key tokens under the last row
        for (size_t l = 0; l < ex->L; l++)
            for (size_t t = 0; t < T; t++) {
                double cy = M.top + (double)l * (M.map + M.gap) + M.cell * ((double)t + 0.5) + M.ls * 0.35;
                attend_svg_text(b, M.left - 4, cy, M.ls, "end", 0, NULL, ex->unknown[t] ? "#999999" : NULL,
                                ex->tokens[t]);
            }
        const double ly = M.top + M.grid_h + 3;
        for (size_t h = 0; h < ex->H; h++)
            for (size_t t = 0; t < T; t++) {
                double cx = M.left + (double)h * (M.map + M.gap) + M.cell * ((double)t + 0.5);
                attend_svg_xlabel(b, cx, ly, M.ls, M.rot, ex->unknown[t] ? "#999999" : NULL, ex->tokens[t]);
            }
    }
    attend_svg_text(b, M.left, M.top + M.grid_h + M.col_h + 16, 11, "start", 0, NULL, "#555555", MV_CAPTION);
    double cb_h = M.grid_h < 120 ? 120 : M.grid_h > 300 ? 300 : M.grid_h;
    attend_svg_colorbar(b, M.left + (double)ex->H * (M.map + M.gap) + 4, M.top, cb_h,
                        ATTEND_CMAP_VIRIDIS, 0, vmax, "attention weight");
    attend_buf_puts(b, "</g>\n");
}

/* The heatmap of one head in the head view. */
static void head_map(attend_heatmap *hm, const attend_explanation *ex, size_t l, size_t h,
                     float vmax, char *title, size_t title_cap) {
    memset(hm, 0, sizeof *hm);
    snprintf(title, title_cap, "layer %zu, head %zu", l + 1, h + 1);
    hm->title = title;
    hm->x_label = "attended to (key)";
    hm->y_label = "attending (query)";
    hm->rows = hm->cols = ex->T;
    hm->values = ex->attn + (l * ex->H + h) * ex->T * ex->T;
    hm->row_names = hm->col_names = (const char *const *)ex->tokens;
    hm->row_dim = hm->col_dim = ex->unknown;
    hm->vmin = 0;
    hm->vmax = vmax;
    hm->cmap = ATTEND_CMAP_VIRIDIS;
    hm->cell = floor(clampd(340.0 / (double)ex->T, 9, 28));
    hm->label_size = clampd(hm->cell * 0.8, 8, 12);
    hm->tooltips = ex->T <= 60;
    hm->no_legend = 1;
    if (hm->cell >= 26) hm->annotate_fmt = "%.2f";
}

static void hv_grid(const attend_explanation *ex, size_t layer, size_t head, double *w0,
                    double *h0, size_t *ncols, size_t *nrows) {
    attend_heatmap hm;
    char title[64];
    head_map(&hm, ex, layer, head == SIZE_NONE ? 0 : head, 1, title, sizeof title);
    attend_svg_heatmap_size(&hm, w0, h0);
    size_t n = head == SIZE_NONE ? ex->H : 1;
    size_t per = (size_t)floor(1160 / *w0);
    if (per < 1) per = 1;
    *ncols = n < per ? n : per;
    *nrows = (n + *ncols - 1) / *ncols;
}

void attend_head_view_size(const attend_explanation *ex, size_t layer, size_t head, double *w,
                           double *h) {
    double w0, h0;
    size_t nc, nr;
    hv_grid(ex, layer, head, &w0, &h0, &nc, &nr);
    *w = (double)nc * w0 + 10 + ATTEND_SVG_COLORBAR_W;
    *h = (double)nr * h0 + 4;
}

void attend_head_view_draw(attend_buf *b, const attend_explanation *ex, size_t layer, size_t head,
                           double x, double y) {
    double w0, h0;
    size_t nc, nr;
    hv_grid(ex, layer, head, &w0, &h0, &nc, &nr);
    const float vmax = attn_max(ex, layer, head);
    attend_buf_printf(b, "<g transform=\"translate(%.1f %.1f)\">\n", x, y);
    size_t k = 0;
    attend_heatmap hm;
    for (size_t h = 0; h < ex->H; h++) {
        if (head != SIZE_NONE && h != head) continue;
        char title[64];
        head_map(&hm, ex, layer, h, vmax, title, sizeof title);
        attend_svg_heatmap_draw(b, &hm, (double)(k % nc) * w0, (double)(k / nc) * h0);
        k++;
    }
    // the legend beside the first row, level with its grid
    attend_svg_colorbar(b, (double)nc * w0 + 4, 30, clampd(h0 * 0.6, 120, 300), ATTEND_CMAP_VIRIDIS, 0,
                        vmax, "attention weight");
    attend_buf_puts(b, "</g>\n");
}

void attend_svg_model_view(attend_buf *b, const attend_explanation *ex, const char *title) {
    double w, h;
    attend_model_view_size(ex, &w, &h);
    double top = title ? 28 : 0;
    double tw = title ? attend_svg_text_width(title, 14) * 0.92 + 16 : 0;
    attend_svg_begin(b, w > tw ? w : tw, h + top, "attend-heatmap attend-model-view",
                     title ? title : "model view");
    if (title) attend_svg_text(b, 8, 20, 14, "start", 0, "bold", NULL, title);
    attend_model_view_draw(b, ex, 0, top);
    attend_svg_end(b);
}

void attend_svg_head_view(attend_buf *b, const attend_explanation *ex, size_t layer, size_t head,
                          const char *title) {
    double w, h;
    attend_head_view_size(ex, layer, head, &w, &h);
    double top = title ? 28 : 0;
    double tw = title ? attend_svg_text_width(title, 14) * 0.92 + 16 : 0;
    attend_svg_begin(b, w > tw ? w : tw, h + top, "attend-heatmap attend-head-view",
                     title ? title : "head view");
    if (title) attend_svg_text(b, 8, 20, 14, "start", 0, "bold", NULL, title);
    attend_head_view_draw(b, ex, layer, head, 0, top);
    attend_svg_end(b);
}

/* ---- report page ---- */

void attend_report_options_default(attend_report_options *o) {
    memset(o, 0, sizeof *o);
    o->n_examples = 3;
    o->max_stats_examples = 2000;
}

typedef struct {
    attend_buf html;
    const char *dir;
    attend_status st;
    attend_error *err;
    size_t n_heatmaps, n_plots;
} page;

/* Puts a finished picture (svg) on the page and into dir/figures/name.svg. */
static void figure(page *pg, const char *name, const attend_buf *svg, const char *caption) {
    if (pg->st) return;
    if (svg->failed) {
        pg->st = attend_errorf(pg->err, ATTEND_ERR_NOMEM, "out of memory drawing %s", name);
        return;
    }
    if (strstr(svg->s, "class=\"attend-heatmap")) pg->n_heatmaps++;
    if (strstr(svg->s, "class=\"attend-plot")) pg->n_plots++;
    attend_buf_puts(&pg->html, "<figure>\n");
    attend_buf_append(&pg->html, svg->s, svg->len);
    if (caption) {
        attend_buf_puts(&pg->html, "<figcaption>");
        attend_buf_escape(&pg->html, caption);
        attend_buf_puts(&pg->html, "</figcaption>\n");
    }
    attend_buf_puts(&pg->html, "</figure>\n");
    attend_buf file;
    attend_buf_init(&file);
    attend_svg_prolog(&file);
    attend_buf_append(&file, svg->s, svg->len);
    char path[4096];
    snprintf(path, sizeof path, "%s/figures/%s.svg", pg->dir, name);
    pg->st = attend_buf_write_file(&file, path, pg->err);
    attend_buf_free(&file);
}

static void html_text(page *pg, const char *tag, const char *text) {
    attend_buf_printf(&pg->html, "<%s>", tag);
    attend_buf_escape(&pg->html, text);
    const char *sp = strchr(tag, ' ');
    attend_buf_printf(&pg->html, "</%.*s>\n", sp ? (int)(sp - tag) : (int)strlen(tag), tag);
}

static void html_textf(page *pg, const char *tag, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void html_textf(page *pg, const char *tag, const char *fmt, ...) {
    char buf[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    html_text(pg, tag, buf);
}

static const char *pos_name(attend_pos_kind p) {
    return p == ATTEND_POS_LEARNED ? "learned" : p == ATTEND_POS_SINUSOIDAL ? "sinusoidal" : "none";
}
static const char *pool_name(attend_pool_kind p) {
    return p == ATTEND_POOL_MEAN ? "mean" : p == ATTEND_POOL_CLS ? "cls" : p == ATTEND_POOL_MAX ? "max" : "pooler";
}

/* The name a page gives the unknown token: BERT's WordPiece one, or that of
 * attend's own vocabulary. */
static const char *unk_name(const attend_model *m) {
    return m->cfg.arch == ATTEND_ARCH_BERT ? "[UNK]" : "<unk>";
}

/* ---- training curves ---- */

static void section_training(page *pg, const attend_report_options *o) {
    attend_buf_puts(&pg->html, "<h2 id=\"training\">Training curves</h2>\n");
    if (o->n_epochs == 0) {
        html_text(pg, "p class=\"note\"",
                  "No per-epoch log was given. attend train --report draws these curves itself; for an "
                  "existing model pass the log written by attend train --log FILE as attend report --log FILE.");
        return;
    }
    const size_t n = o->n_epochs;
    double *x = malloc(n * sizeof(double)), *tl = malloc(n * sizeof(double)), *vl = malloc(n * sizeof(double));
    double *va = malloc(n * sizeof(double)), *vf = malloc(n * sizeof(double));
    if (!x || !tl || !vl || !va || !vf) {
        pg->st = attend_errorf(pg->err, ATTEND_ERR_NOMEM, "out of memory");
        goto done;
    }
    int has_val = 0;
    size_t best = 0;
    for (size_t i = 0; i < n; i++) {
        const attend_epoch_report *r = &o->epochs[i];
        x[i] = (double)r->epoch;
        tl[i] = r->train_loss;
        vl[i] = r->has_val ? r->val_loss : NAN;
        va[i] = r->has_val ? 100.0 * r->val_accuracy : NAN;
        vf[i] = r->has_val ? 100.0 * r->val_macro_f1 : NAN;
        has_val |= r->has_val;
        if (r->has_val && r->val_loss < o->epochs[best].val_loss) best = i;
    }
    attend_buf_puts(&pg->html, "<div class=\"row\">\n");
    attend_series s1[2] = {{"train loss", n, x, tl, NULL, 1}, {"validation loss", n, x, vl, NULL, 0}};
    attend_plot p = {0};
    p.title = "Loss per epoch";
    p.x_label = "epoch";
    p.y_label = "cross-entropy loss (nats)";
    p.series = s1;
    p.n_series = has_val ? 2 : 1;
    p.x_integer = 1;
    p.ymin = NAN;
    p.ymax = NAN;
    attend_buf svg;
    attend_buf_init(&svg);
    attend_svg_plot(&svg, &p);
    char cap[512];
    if (has_val)
        snprintf(cap, sizeof cap,
                 "Train loss is the mean over the epoch's batches (with dropout, while the weights move); "
                 "validation loss is measured after the epoch. The saved model is epoch %zu, the lowest validation loss.",
                 o->epochs[best].epoch);
    else
        snprintf(cap, sizeof cap, "Mean training loss over each epoch's batches (no validation data).");
    figure(pg, "loss", &svg, cap);
    attend_buf_free(&svg);
    if (has_val) {
        attend_series s2[2] = {{"validation accuracy", n, x, va, NULL, 0},
                               {"validation macro-F1", n, x, vf, NULL, 1}};
        p.title = "Validation accuracy and macro-F1 per epoch";
        p.y_label = "percent";
        p.series = s2;
        p.n_series = 2;
        attend_buf_init(&svg);
        attend_svg_plot(&svg, &p);
        figure(pg, "accuracy", &svg,
               "Accuracy counts every example alike; macro-F1 averages the per-class F1, so small classes weigh as much as large ones.");
        attend_buf_free(&svg);
    }
    attend_buf_puts(&pg->html, "</div>\n");
done:
    free(x);
    free(tl);
    free(vl);
    free(va);
    free(vf);
}

/* ---- positional encodings ---- */

/* Symmetric colour limit for a signed table: 2.5 RMS, at most the largest |v|. */
static double signed_limit(const float *a, const float *b, size_t n) {
    double ss = 0, mx = 0;
    size_t cnt = 0;
    const float *t[2] = {a, b};
    for (int k = 0; k < 2; k++) {
        if (!t[k]) continue;
        for (size_t i = 0; i < n; i++) {
            double v = fabs(t[k][i]);
            ss += v * v;
            mx = v > mx ? v : mx;
            cnt++;
        }
    }
    double lim = 2.5 * sqrt(ss / (double)(cnt ? cnt : 1));
    lim = lim < mx ? lim : mx;
    if (!(lim > 0)) return 1;
    // round up to two significant digits so the legend ends on a short number
    double mag = pow(10.0, floor(log10(lim)) - 1);
    return ceil(lim / mag) * mag;
}

/* cos[i,j] of rows i, j of a (P,E) table. */
static void cosine_matrix(float *out, const float *tab, size_t P, size_t E) {
    for (size_t i = 0; i < P; i++)
        for (size_t j = 0; j < P; j++) {
            double d = 0, ni = 0, nj = 0;
            for (size_t e = 0; e < E; e++) {
                d += (double)tab[i * E + e] * tab[j * E + e];
                ni += (double)tab[i * E + e] * tab[i * E + e];
                nj += (double)tab[j * E + e] * tab[j * E + e];
            }
            out[i * P + j] = ni > 0 && nj > 0 ? (float)(d / sqrt(ni * nj)) : NAN;
        }
}

static void pos_pair(page *pg, const float *tab, size_t P, size_t E, double lim, const char *when,
                     const char *tag, float *cos) {
    char title[160], name[64];
    attend_buf svg;
    attend_heatmap hm = {0};
    snprintf(title, sizeof title, "Positional table %s", when);
    hm.title = title;
    hm.subtitle = "row = position, column = embedding dimension";
    hm.x_label = "dimension";
    hm.y_label = "position";
    hm.value_label = "value added to the embedding";
    hm.rows = P;
    hm.cols = E;
    hm.values = tab;
    hm.vmin = -lim;
    hm.vmax = lim;
    hm.cmap = ATTEND_CMAP_DIVERGING;
    hm.cell_w = floor(clampd(480.0 / (double)E, 3, 14));
    hm.cell = floor(clampd(360.0 / (double)P, 3, 14));
    attend_buf_init(&svg);
    attend_svg_heatmap(&svg, &hm, "attend-pos");
    snprintf(name, sizeof name, "pos-%s", tag);
    figure(pg, name, &svg, NULL);
    attend_buf_free(&svg);

    cosine_matrix(cos, tab, P, E);
    attend_heatmap cm = {0};
    snprintf(title, sizeof title, "Cosine similarity of positions %s", when);
    cm.title = title;
    cm.subtitle = "cell (i, j) = cos(angle) between the vectors of positions i and j";
    cm.x_label = "position";
    cm.y_label = "position";
    cm.value_label = "cosine similarity";
    cm.rows = cm.cols = P;
    cm.values = cos;
    cm.vmin = -1;
    cm.vmax = 1;
    cm.cmap = ATTEND_CMAP_DIVERGING;
    cm.cell = floor(clampd(360.0 / (double)P, 3, 14));
    attend_buf_init(&svg);
    attend_svg_heatmap(&svg, &cm, "attend-pos-cosine");
    snprintf(name, sizeof name, "pos-cos-%s", tag);
    figure(pg, name, &svg, NULL);
    attend_buf_free(&svg);
}

static void section_positions(page *pg, const attend_model *m, const attend_report_options *o,
                              size_t longest, size_t p95) {
    const attend_model_config *c = &m->cfg;
    const size_t E = c->d_model, P = c->max_len < 64 ? c->max_len : 64;
    attend_buf_puts(&pg->html, "<h2 id=\"positions\">Positional encoding</h2>\n");
    if (c->pos == ATTEND_POS_NONE) {
        html_text(pg, "p class=\"note\"",
                  "This model adds no positional encoding (--pos none): attention sees the tokens as a bag, "
                  "so word order can only matter through the <cls> token's fixed first place, if at all.");
        return;
    }
    float *init = NULL, *cos = malloc(P * P * sizeof(float));
    if (!cos) goto nomem;
    const float *now = attend_model_pos_table(m);
    char note[1024];
    snprintf(note, sizeof note,
             "The first %zu of %zu positions (rows) are drawn. In the evaluated texts the longest has %zu "
             "tokens and 95%% have at most %zu%s, so rows further down are seen rarely or never. Blue is negative, "
             "red positive. In the cosine-similarity matrix a bright diagonal band means that nearby positions have "
             "similar vectors, i.e. the model can tell near from far.",
             P, c->max_len, longest, p95,
             c->arch == ATTEND_ARCH_BERT ? " (position 0 is [CLS], the last of each text [SEP])"
             : c->pool == ATTEND_POOL_CLS ? " (position 0 is <cls>)" : "");
    if (c->pos == ATTEND_POS_SINUSOIDAL) {
        html_text(pg, "p",
                  "Sinusoidal encoding (Vaswani et al.): fixed, so it is the same before and after training. "
                  "Dimension pairs (2i, 2i+1) hold sin and cos of position / 10000^(2i/E): fast waves on the left, "
                  "slow ones on the right.");
        html_text(pg, "p class=\"note\"", note);
        attend_buf_puts(&pg->html, "<div class=\"row\">\n");
        pos_pair(pg, now, P, E, signed_limit(now, NULL, P * E), "(fixed, sinusoidal)", "fixed", cos);
        attend_buf_puts(&pg->html, "</div>\n");
        free(cos);
        return;
    }
    if (!(init = malloc(c->max_len * E * sizeof(float)))) goto nomem;
    /* a fine-tuned encoder starts from its pretrained table, not from noise */
    const int tuned = c->arch == ATTEND_ARCH_BERT;
    const char *origin = tuned ? "recorded by attend train --init when fine-tuning began"
                               : "recorded by attend train right after initialisation";
    if (o->pos_init) {
        memcpy(init, o->pos_init, c->max_len * E * sizeof(float));
    } else {
        attend_error e2 = {0};
        attend_status st2 = attend_model_initial_pos(m, init, &e2);
        if (st2 == ATTEND_ERR_NOMEM) goto nomem; /* not a page without the table */
        if (st2 != ATTEND_OK) {
            free(init);
            init = NULL;
            html_textf(pg, "p class=\"note\"", "The %s table cannot be shown: %s.",
                       tuned ? "pretrained" : "initial", e2.msg);
        }
        origin = tuned ? "read again from the model or folder it was fine-tuned from, named in the model card"
                       : "recreated from the training seed stored in the model file, with this build's "
                         "initialisation: for a model trained by another version of attend it may differ";
    }
    if (tuned)
        html_textf(pg, "p",
                   "Learned positional table of a pretrained BERT-family encoder: one vector per position, "
                   "added to the token and token-type embeddings before their LayerNorm. Before fine-tuning "
                   "(%s) it is the pretrained table, whose structure comes from pretraining; comparing it with "
                   "the table after fine-tuning shows what fine-tuning changed. Both tables share one colour "
                   "scale.", origin);
    else
        html_textf(pg, "p",
                   "Learned positional table: one trainable vector per position, added to the token embedding. "
                   "At initialisation (%s) it is random noise, so positions look unrelated; "
                   "training can give it structure. Both tables share one colour scale.",
                   origin);
    html_text(pg, "p class=\"note\"", note);
    double lim = signed_limit(init, now, P * E);
    attend_buf_puts(&pg->html, "<div class=\"row\">\n");
    if (init) pos_pair(pg, init, P, E, lim, tuned ? "before fine-tuning" : "at initialisation", "init", cos);
    pos_pair(pg, now, P, E, lim, tuned ? "after fine-tuning" : "after training", "trained", cos);
    attend_buf_puts(&pg->html, "</div>\n");
    free(init);
    free(cos);
    return;
nomem:
    free(init);
    free(cos);
    pg->st = attend_errorf(pg->err, ATTEND_ERR_NOMEM, "out of memory");
}

/* ---- evaluation ---- */

static void section_evaluation(page *pg, const attend_model *m, const attend_metrics *mt) {
    const size_t K = mt->K;
    attend_buf_puts(&pg->html, "<h2 id=\"evaluation\">Evaluation</h2>\n");
    html_textf(pg, "p", "%zu examples: accuracy %.2f%%, macro-F1 %.4f, loss %.4f.", mt->n,
               100.0 * mt->accuracy, mt->macro_f1, mt->loss);
    float *share = malloc(K * K * sizeof(float)), *count = malloc(K * K * sizeof(float));
    const char **names = malloc(K * sizeof(char *));
    char *cells = NULL;
    const char **cellp = NULL;
    if (!share || !count || !names) goto nomem;
    size_t maxc = 0;
    for (size_t t = 0; t < K; t++) {
        names[t] = attend_model_label(m, t);
        for (size_t p = 0; p < K; p++) {
            size_t v = mt->confusion[t * K + p];
            count[t * K + p] = (float)v;
            share[t * K + p] = mt->support[t] ? (float)v / (float)mt->support[t] : NAN;
            maxc = v > maxc ? v : maxc;
        }
    }
    char digits[32];
    size_t nd = (size_t)snprintf(digits, sizeof digits, "%zu", maxc);
    attend_heatmap hm = {0};
    hm.title = "Confusion matrix";
    hm.subtitle = "numbers: examples; colour: share of the true class (each row sums to 1)";
    hm.x_label = "predicted class";
    hm.y_label = "true class";
    hm.value_label = "share of the true class";
    hm.rows = hm.cols = K;
    hm.values = share;
    hm.annotate_values = count;
    hm.row_names = hm.col_names = names;
    hm.vmin = 0;
    hm.vmax = 1;
    hm.cmap = ATTEND_CMAP_VIRIDIS;
    hm.cell = K <= 40 ? clampd(6.0 * (double)nd + 8, 22, 44) : clampd(640.0 / (double)K, 5, 16);
    if (K <= 40 && hm.cell < floor(240.0 / (double)K)) hm.cell = clampd(floor(240.0 / (double)K), 22, 48);
    if (K <= 40) hm.annotate_fmt = "%.0f";
    hm.tooltips = 1;
    attend_buf svg;
    attend_buf_init(&svg);
    attend_svg_heatmap(&svg, &hm, "attend-confusion");
    figure(pg, "confusion", &svg,
           "The diagonal holds the correct predictions; a bright cell off it shows which class is mistaken for which.");
    attend_buf_free(&svg);

    // per-class table
    const size_t NC = 6;
    const char *head[6] = {"class", "precision", "recall", "F1", "support", "most often mistaken for"};
    cells = malloc(K * NC * 96);
    cellp = malloc(K * NC * sizeof(char *));
    if (!cells || !cellp) goto nomem;
    for (size_t k = 0; k < K; k++) {
        char *r = cells + k * NC * 96;
        size_t worst = SIZE_NONE;
        for (size_t p = 0; p < K; p++)
            if (p != k && mt->confusion[k * K + p] &&
                (worst == SIZE_NONE || mt->confusion[k * K + p] > mt->confusion[k * K + worst]))
                worst = p;
        snprintf(r, 96, "%s", names[k]);
        snprintf(r + 96, 96, "%.4f", mt->precision[k]);
        snprintf(r + 192, 96, "%.4f", mt->recall[k]);
        snprintf(r + 288, 96, "%.4f", mt->f1[k]);
        snprintf(r + 384, 96, "%zu", mt->support[k]);
        if (worst == SIZE_NONE) snprintf(r + 480, 96, "-");
        else snprintf(r + 480, 96, "%.60s (%zu)", names[worst], mt->confusion[k * K + worst]);
        for (size_t j = 0; j < NC; j++) cellp[k * NC + j] = r + j * 96;
    }
    html_text(pg, "h3", "Per-class metrics");
    attend_html_table(&pg->html, "attend-table", NC, head, K, cellp, "lrrrrl");
    free(cells);
    free(cellp);
    free(share);
    free(count);
    free(names);
    return;
nomem:
    free(cells);
    free(cellp);
    free(share);
    free(count);
    free(names);
    pg->st = attend_errorf(pg->err, ATTEND_ERR_NOMEM, "out of memory");
}

/* ---- attention examples ---- */

static void example_block(page *pg, const attend_model *m, const attend_explanation *ex,
                          const char *text, size_t truth, int right, size_t number) {
    attend_buf_printf(&pg->html, "<div class=\"example %s\">\n", right ? "right" : "wrong");
    attend_buf_puts(&pg->html, "<p class=\"text\">\xE2\x80\x9C");
    attend_buf_escape(&pg->html, text);
    attend_buf_puts(&pg->html, "\xE2\x80\x9D</p>\n");
    html_textf(pg, "p", "true class: %s; predicted: %s (p = %.3f)%s", attend_model_label(m, truth),
               attend_model_label(m, ex->predicted), (double)ex->probs[ex->predicted],
               right ? "" : " \xE2\x80\x94 wrong");
    attend_buf svg;
    attend_buf_init(&svg);
    char title[96], name[32];
    snprintf(title, sizeof title, "Example %zu: attention of every layer and head", number);
    attend_svg_model_view(&svg, ex, title);
    snprintf(name, sizeof name, "example-%zu", number);
    attend_buf_puts(&pg->html, "<div class=\"scroll\">\n");
    figure(pg, name, &svg, NULL);
    attend_buf_puts(&pg->html, "</div>\n</div>\n");
    attend_buf_free(&svg);
}

/* ---- per-head diagnostics ---- */

size_t attend_report_head_figures(attend_buf *b, const attend_head_stats *hs, const char *prefix,
                                  double cell) {
    const size_t L = hs->L, H = hs->H;
    if (!L || !H) return 0;
    char **rn = malloc(L * sizeof(char *)), **cn = malloc(H * sizeof(char *));
    char *names = malloc((L + H) * 24);
    float *v = malloc(L * H * sizeof(float));
    size_t made = 0;
    if (!rn || !cn || !names || !v) {
        b->failed = 1; /* the caller sees out of memory, not "no heads" */
        goto done;
    }
    for (size_t l = 0; l < L; l++) {
        rn[l] = names + l * 24;
        snprintf(rn[l], 24, "%zu", l + 1);
    }
    for (size_t h = 0; h < H; h++) {
        cn[h] = names + (L + h) * 24;
        snprintf(cn[h], 24, "%zu", h + 1);
    }
    if (cell <= 0) cell = floor(clampd(560.0 / (double)H, 20, 48));
    for (int kind = 0; kind < 3; kind++) {
        if (kind == 2 && !hs->has_importance) break;
        attend_heatmap hm = {0};
        char title[200], sub[200];
        double mx = 0;
        for (size_t k = 0; k < L * H; k++) {
            double x = kind == 0 ? hs->entropy[k] : kind == 1 ? hs->distance[k] : 100.0 * hs->acc_drop[k];
            v[k] = (float)x;
            mx = fabs(x) > mx ? fabs(x) : mx;
        }
        if (kind == 0) {
            snprintf(title, sizeof title, "%sAttention entropy per head", prefix ? prefix : "");
            snprintf(sub, sizeof sub, "bits; 0 = one token; uniform: %.2f", hs->uniform_entropy);
            hm.value_label = "entropy (bits)";
            hm.vmin = 0;
            hm.vmax = hs->uniform_entropy > mx ? hs->uniform_entropy : mx;
            hm.cmap = ATTEND_CMAP_VIRIDIS;
            hm.annotate_fmt = "%.2f";
        } else if (kind == 1) {
            snprintf(title, sizeof title, "%sAttention distance per head", prefix ? prefix : "");
            snprintf(sub, sizeof sub, "tokens from query to key; uniform: %.2f", hs->uniform_distance);
            hm.value_label = "distance (tokens)";
            hm.vmin = 0;
            hm.vmax = hs->uniform_distance > mx ? hs->uniform_distance : mx;
            hm.cmap = ATTEND_CMAP_VIRIDIS;
            hm.annotate_fmt = "%.1f";
        } else {
            snprintf(title, sizeof title, "%sHead importance", prefix ? prefix : "");
            snprintf(sub, sizeof sub, "accuracy lost if masked (base %.1f%%)", 100.0 * hs->base_accuracy);
            hm.value_label = "accuracy drop (points)";
            double lim = mx > 0.5 ? ceil(mx) : 0.5;
            hm.vmin = -lim;
            hm.vmax = lim;
            hm.cmap = ATTEND_CMAP_DIVERGING;
            hm.annotate_fmt = "%+.1f";
        }
        hm.title = title;
        hm.subtitle = sub;
        hm.x_label = "head";
        hm.y_label = "layer";
        hm.rows = L;
        hm.cols = H;
        hm.values = v;
        hm.row_names = (const char *const *)rn;
        hm.col_names = (const char *const *)cn;
        hm.cell = cell;
        hm.tooltips = 1;
        attend_svg_heatmap(b, &hm, kind == 0 ? "attend-head-entropy" : kind == 1 ? "attend-head-distance"
                                                                            : "attend-head-importance");
        made++;
    }
done:
    free(rn);
    free(cn);
    free(names);
    free(v);
    return made;
}

static void section_heads(page *pg, const attend_head_stats *hs) {
    attend_buf_puts(&pg->html, "<h2 id=\"heads\">Per-head diagnostics</h2>\n");
    html_textf(pg, "p",
               "Measured on %zu examples (%zu query tokens). Entropy: how spread out a query's attention is "
               "(0 bits = all weight on one token). Distance: how far, in tokens, a head looks on average. "
               "Importance: the head's output is removed (its columns of the attention output projection are "
               "set to 0) and the same examples are evaluated again; the drop in accuracy is the head's "
               "importance. A head near 0 can be pruned; a negative value means the model did better without it.",
               hs->n_examples, hs->n_queries);
    static const char *names[3] = {"head-entropy", "head-distance", "head-importance"};
    attend_buf all;
    attend_buf_init(&all);
    attend_report_head_figures(&all, hs, NULL, 0);
    // split the three concatenated SVGs into separate figures
    attend_buf_puts(&pg->html, "<div class=\"row\">\n");
    const char *s = all.failed ? NULL : all.s;
    for (int k = 0; s && k < 3; k++) {
        const char *st = strstr(s, "<svg ");
        if (!st) break;
        const char *en = strstr(st, "</svg>\n");
        if (!en) break;
        en += 7;
        attend_buf one;
        attend_buf_init(&one);
        attend_buf_append(&one, st, (size_t)(en - st));
        figure(pg, names[k], &one, NULL);
        attend_buf_free(&one);
        s = en;
    }
    attend_buf_puts(&pg->html, "</div>\n");
    if (all.failed && !pg->st) pg->st = attend_errorf(pg->err, ATTEND_ERR_NOMEM, "out of memory");
    attend_buf_free(&all);
    // table of every head
    const size_t L = hs->L, H = hs->H, NC = 6;
    const char *head[6] = {"layer", "head", "entropy (bits)", "distance (tokens)", "accuracy drop (points)",
                           "loss rise"};
    char *cells = malloc(L * H * NC * 24 + 1);
    const char **cp = malloc((L * H * NC + 1) * sizeof(char *));
    if (!cells || !cp) {
        free(cells);
        free(cp);
        pg->st = attend_errorf(pg->err, ATTEND_ERR_NOMEM, "out of memory");
        return;
    }
    for (size_t k = 0; k < L * H; k++) {
        char *r = cells + k * NC * 24;
        snprintf(r, 24, "%zu", k / H + 1);
        snprintf(r + 24, 24, "%zu", k % H + 1);
        snprintf(r + 48, 24, "%.3f", hs->entropy[k]);
        snprintf(r + 72, 24, "%.2f", hs->distance[k]);
        snprintf(r + 96, 24, "%+.2f", hs->has_importance ? 100.0 * hs->acc_drop[k] : 0.0);
        snprintf(r + 120, 24, "%+.4f", hs->has_importance ? hs->loss_rise[k] : 0.0);
        for (size_t j = 0; j < NC; j++) cp[k * NC + j] = r + j * 24;
    }
    attend_html_table(&pg->html, "attend-table", NC, head, L * H, cp, "rrrrrr");
    free(cells);
    free(cp);
}

/* ---- model card ---- */

/* Appends rows "prefix key" / value for every member of a JSON object. Text
 * that is not JSON (a model file from elsewhere) gives no rows; running out
 * of memory is ATTEND_ERR_NOMEM, not a model card with rows missing. */
static attend_status json_rows(const char *json, const char *prefix, char (*keys)[96], char (*vals)[600],
                               size_t *n, size_t max, attend_error *err) {
    if (!json) return ATTEND_OK;
    int oom = 0;
    cJSON *o = attend_json_parse(json, NULL, &oom);
    if (!o && oom) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory reading the model's metadata");
    attend_status st = ATTEND_OK;
    const cJSON *it;
    cJSON_ArrayForEach(it, o) {
        if (*n >= max) break;
        snprintf(keys[*n], 96, "%s%s", prefix, it->string ? it->string : "");
        if (cJSON_IsString(it)) snprintf(vals[*n], 600, "%s", it->valuestring[0] ? it->valuestring : "-");
        else if (cJSON_IsNumber(it)) snprintf(vals[*n], 600, "%.6g", it->valuedouble);
        else if (cJSON_IsBool(it)) snprintf(vals[*n], 600, "%s", cJSON_IsTrue(it) ? "true" : "false");
        else {
            char *p = cJSON_PrintUnformatted(it);
            if (!p) {
                st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory reading the model's metadata");
                break;
            }
            snprintf(vals[*n], 600, "%s", p);
            cJSON_free(p);
        }
        (*n)++;
    }
    cJSON_Delete(o);
    return st;
}

static void section_card(page *pg, const attend_model *m, const attend_report_options *o,
                         const attend_dataset *ds, const attend_metrics *mt, double report_s) {
    const attend_model_config *c = &m->cfg;
    enum { MAXR = 64 };
    char (*keys)[96] = malloc(MAXR * 96), (*vals)[600] = malloc(MAXR * 600);
    const char **cells = malloc(MAXR * 2 * sizeof(char *));
    if (!keys || !vals || !cells) {
        free(keys);
        free(vals);
        free(cells);
        pg->st = attend_errorf(pg->err, ATTEND_ERR_NOMEM, "out of memory");
        return;
    }
    size_t n = 0;
#define ROW(k, ...)                                          \
    do {                                                     \
        if (n < MAXR) {                                      \
            snprintf(keys[n], 96, "%s", k);                  \
            snprintf(vals[n], 600, __VA_ARGS__);             \
            n++;                                             \
        }                                                    \
    } while (0)
    ROW("model file", "%s", o->model_path ? o->model_path : "-");
    ROW("architecture", "%s, %zu layer%s, %zu head%s of dimension %zu, d_model %zu, "
        "feed-forward %zu (%s), %s",
        c->arch == ATTEND_ARCH_BERT ? "BERT-family transformer encoder" : "transformer encoder",
        c->num_layers, c->num_layers == 1 ? "" : "s", c->nhead, c->nhead == 1 ? "" : "s",
        c->d_model / c->nhead, c->d_model, c->dim_feedforward,
        c->activation == ATTEND_ACT_GELU ? "gelu" : "relu", c->norm_first ? "pre-norm" : "post-norm");
    ROW("positions / pooling", "%s positional encoding, max_len %zu; %s pooling", pos_name(c->pos),
        c->max_len, pool_name(c->pool));
    {
        char hidden[128] = "";
        size_t k = 0;
        for (size_t j = 0; j < c->n_hidden && k < sizeof hidden - 16; j++)
            k += (size_t)snprintf(hidden + k, sizeof hidden - k, "%zu \xE2\x86\x92 ", c->hidden[j]);
        ROW("classifier head", "%s%zu classes; dropout %g", hidden, c->num_classes, (double)c->dropout);
    }
    ROW("parameters", "%zu (token embedding %zu)", m->layout.total, c->vocab_size * c->d_model);
    if (c->arch == ATTEND_ARCH_BERT)
        ROW("vocabulary", "%zu WordPiece tokens (with [PAD] [UNK] [CLS] [SEP])", c->vocab_size);
    else
        ROW("vocabulary", "%zu tokens (with <pad> <unk> <cls>)", c->vocab_size);
    ROW("evaluated data", "%s (FNV-1a 64 %s, %zu examples)%s%s", o->data_path, ds->hash_hex, mt->n,
        o->data_note ? "; " : "", o->data_note ? o->data_note : "");
    if ((pg->st = json_rows(m->meta_provenance, "provenance: ", keys, vals, &n, MAXR - 8, pg->err)) ||
        (pg->st = json_rows(m->meta_training, "training: ", keys, vals, &n, MAXR - 6, pg->err))) {
        free(keys);
        free(vals);
        free(cells);
        return;
    }
    if (o->train_seconds > 0) ROW("training time", "%.1f s", o->train_seconds);
    if (o->n_epochs) {
        double tps = 0, sec = 0;
        for (size_t i = 0; i < o->n_epochs; i++) {
            tps += o->epochs[i].tokens_per_s;
            sec += o->epochs[i].seconds;
        }
        ROW("epochs", "%zu run, %.1f s each on average, %.0f training tokens/s", o->n_epochs,
            sec / (double)o->n_epochs, tps / (double)o->n_epochs);
    }
    ROW("report", "built in %.1f s by attend %s", report_s, ATTEND_VERSION);
    ROW("build", "%s", attend_build_info());
    {
        time_t now = time(NULL);
        struct tm tmv;
        char when[64] = "-";
        if (gmtime_r(&now, &tmv)) strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", &tmv);
        ROW("created", "%s", when);
    }
#undef ROW
    for (size_t i = 0; i < n; i++) {
        cells[2 * i] = keys[i];
        cells[2 * i + 1] = vals[i];
    }
    attend_buf_puts(&pg->html, "<h2 id=\"model-card\">Model card</h2>\n");
    attend_html_table(&pg->html, "attend-card", 2, NULL, n, cells, "ll");
    free(keys);
    free(vals);
    free(cells);
}

/* ---- putting it together ---- */

static int cmp_size(const void *a, const void *b) {
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static size_t gcd(size_t a, size_t b) {
    while (b) {
        size_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* The evaluated data a report draws from. */
typedef struct {
    attend_dataset ds;
    attend_encoded enc;
    attend_metrics mt;
    float *probs;          /* (n,K) */
    size_t *rec_of;        /* record of each encoded example (token-less ones were skipped) */
    size_t longest, p95;   /* token counts */
} report_data;

static void report_data_free(report_data *rd) {
    attend_metrics_free(&rd->mt);
    attend_encoded_free(&rd->enc);
    attend_dataset_free(&rd->ds);
    free(rd->probs);
    free(rd->rec_of);
}

/* Reads and evaluates o->data_path. */
static attend_status report_evaluate(const attend_model *m, const attend_report_options *o,
                                     report_data *rd, attend_error *err) {
    const size_t K = m->cfg.num_classes;
    int32_t *ids = NULL;
    size_t *lens = NULL;
    attend_status st = attend_dataset_read(&rd->ds, o->data_path, &o->data, err);
    if (st) return st;
    if (!(ids = malloc((rd->ds.count ? rd->ds.count : 1) * sizeof(int32_t)))) goto nomem;
    if ((st = attend_labels_map(&m->labels, &rd->ds, ids, err)) ||
        (st = attend_encode_dataset(&rd->enc, m, &rd->ds, ids, NULL, 0, NULL, NULL, err)))
        goto done;
    const size_t n = rd->enc.n;
    if (n == 0) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: no example has a token", o->data_path);
        goto done;
    }
    attend_emitf(o->on_info, o->ctx, "report: evaluating %zu examples of %s", n, o->data_path);
    if (attend_metrics_init(&rd->mt, K) || !(rd->probs = malloc(n * K * sizeof(float))) ||
        !(rd->rec_of = malloc(n * sizeof(size_t))) || !(lens = malloc(n * sizeof(size_t))))
        goto nomem;
    if ((st = attend_evaluate(m, &rd->enc, 64, &rd->mt, rd->probs, err))) goto done;
    for (size_t i = 0, r = 0; i < n; i++, r++) {
        while (r < rd->ds.count && rd->ds.records[r].line != rd->enc.line[i]) r++;
        rd->rec_of[i] = r < rd->ds.count ? r : 0;
        lens[i] = rd->enc.len[i];
    }
    qsort(lens, n, sizeof *lens, cmp_size);
    rd->longest = lens[n - 1];
    rd->p95 = lens[(size_t)floor(0.95 * (double)(n - 1))];
    goto done;
nomem:
    st = attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory building the report");
done:
    free(ids);
    free(lens);
    return st;
}

/* Attention maps of a few examples, right and wrong, spread over the data
 * and short enough to read; *shown counts them. */
static void section_attention(page *pg, const attend_model *m, const attend_report_options *o,
                              const report_data *rd, size_t *shown) {
    const attend_model_config *c = &m->cfg;
    const size_t K = c->num_classes, n = rd->enc.n, special = attend_model_n_special(m);
    attend_buf_puts(&pg->html, "<h2 id=\"attention\">Attention maps</h2>\n");
    if (c->num_layers == 0) {
        html_text(pg, "p class=\"note\"", "This model has no encoder layers, so there is no attention to show.");
        return;
    }
    html_textf(pg, "p",
               "A few evaluated texts, correctly and wrongly classified, with the attention weights of every "
               "layer (rows of maps) and head (columns of maps). In each small map, row i shows how token i "
               "spreads its attention over the tokens (columns); bright = much weight. All maps of one text "
               "share the colour scale at their right. Grey tokens are not in the vocabulary (read as %s). "
               "attend show --model MODEL --text \"...\" draws the same for any text, larger.", unk_name(m));
    size_t stride = (size_t)(0.618 * (double)n) + 1;
    while (gcd(stride, n) != 1) stride++;
    for (int right = 1; right >= 0 && !pg->st; right--) {
        size_t got = 0;
        html_text(pg, "h3", right ? "Classified correctly" : "Classified wrongly");
        for (int pass = 0; pass < 2 && got < o->n_examples; pass++)
            for (size_t k = 0; k < n && got < o->n_examples && !pg->st; k++) {
                size_t i = (k * stride) % n;
                size_t real = rd->enc.len[i] - special;
                int fits = real >= 4 && real <= 12;
                if (pass == 0 ? !fits : fits) continue;
                const float *p = rd->probs + i * K;
                size_t pred = 0;
                for (size_t q = 1; q < K; q++) pred = p[q] > p[pred] ? q : pred;
                if ((pred == (size_t)rd->enc.labels[i]) != right) continue;
                const char *text = rd->ds.records[rd->rec_of[i]].text;
                attend_explanation ex;
                if ((pg->st = attend_explain(m, text, strlen(text), &ex, pg->err))) return;
                example_block(pg, m, &ex, text, (size_t)rd->enc.labels[i], right, ++*shown);
                attend_explanation_free(&ex);
                got++;
            }
        if (got == 0)
            html_text(pg, "p class=\"note\"",
                      right ? "No example was classified correctly." : "No example was classified wrongly.");
    }
}

attend_status attend_report_write(const attend_model *m, const attend_report_options *o,
                                  const char *dir, attend_report_result *res,
                                  attend_error *err) {
    const double t0 = attend_now_s();
    const attend_model_config *c = &m->cfg;
    page pg;
    memset(&pg, 0, sizeof pg);
    attend_buf_init(&pg.html);
    pg.dir = dir;
    pg.err = err;
    report_data rd;
    memset(&rd, 0, sizeof rd);
    attend_head_stats hs = {0};
    size_t shown = 0;
    char path[4096];
    if (res) memset(res, 0, sizeof *res);
    if (!o->data_path) return attend_errorf(err, ATTEND_ERR_ARG, "the report needs labelled data");
    attend_status st = attend_mkdir(dir, err);
    if (st) return st;
    snprintf(path, sizeof path, "%s/figures", dir);
    if ((st = attend_mkdir(path, err)) || (st = report_evaluate(m, o, &rd, err))) goto done;
    if (c->num_layers) {
        size_t nsub = o->max_stats_examples && o->max_stats_examples < rd.enc.n ? o->max_stats_examples : rd.enc.n;
        attend_emitf(o->on_info, o->ctx, "report: per-head statistics and importance (%zu evaluations of %zu examples)",
                     c->num_layers * c->nhead + 1, nsub);
        if ((st = attend_head_stats_compute(m, &rd.enc, o->max_stats_examples, 1, &hs, err))) goto done;
    }

    // the page
    char title[512];
    snprintf(title, sizeof title, "attend report: %s", o->model_path ? o->model_path : "model");
    attend_html_begin(&pg.html, title);
    html_text(&pg, "h1", "attend report");
    html_textf(&pg, "p class=\"lead\"",
               "%s: %zu-layer transformer encoder with %zu attention head%s per layer, d_model %zu, %s positions. "
               "On %s (%zu examples): accuracy %.2f%%, macro-F1 %.4f.",
               o->model_path ? o->model_path : "model", c->num_layers, c->nhead, c->nhead == 1 ? "" : "s",
               c->d_model, pos_name(c->pos), o->data_path, rd.mt.n, 100.0 * rd.mt.accuracy, rd.mt.macro_f1);
    attend_buf_puts(&pg.html, "<nav><a href=\"#training\">training</a><a href=\"#positions\">positions</a>"
                              "<a href=\"#evaluation\">evaluation</a><a href=\"#attention\">attention</a>"
                              "<a href=\"#heads\">heads</a><a href=\"#model-card\">model card</a></nav>\n");
    section_training(&pg, o);
    if (!pg.st) section_positions(&pg, m, o, rd.longest, rd.p95);
    if (!pg.st) section_evaluation(&pg, m, &rd.mt);
    if (!pg.st) section_attention(&pg, m, o, &rd, &shown);
    if (!pg.st && c->num_layers) section_heads(&pg, &hs);
    if (!pg.st) section_card(&pg, m, o, &rd.ds, &rd.mt, attend_now_s() - t0);
    attend_html_end(&pg.html);
    if ((st = pg.st)) goto done;
    snprintf(path, sizeof path, "%s/index.html", dir);
    if ((st = attend_buf_write_file(&pg.html, path, err))) goto done;
    if (res) {
        res->n_heatmaps = pg.n_heatmaps;
        res->n_plots = pg.n_plots;
        res->n_examples = shown;
        res->accuracy = rd.mt.accuracy;
        res->macro_f1 = rd.mt.macro_f1;
        res->loss = rd.mt.loss;
    }
done:
    attend_buf_free(&pg.html);
    attend_head_stats_free(&hs);
    report_data_free(&rd);
    return st;
}
