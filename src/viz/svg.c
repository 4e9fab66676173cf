/* SVG and HTML writing: buffer, escaping, colour maps, heatmap, line plot,
 * table. See svg.h. */
#include "viz/svg.h"
#include "base/atomic.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- colour maps ----
 * Both maps are piecewise-linear in sRGB between published anchor colours;
 * with 11 anchors the error against the full 256-entry tables is below what
 * a screen shows. */

/* viridis (van der Walt and Smith, matplotlib 2.0) at t = 0, 0.1, ..., 1 */
static const unsigned char viridis_anchor[11][3] = {
    {0x44, 0x01, 0x54}, {0x48, 0x24, 0x75}, {0x41, 0x44, 0x87}, {0x35, 0x5f, 0x8d},
    {0x2a, 0x78, 0x8e}, {0x21, 0x91, 0x8c}, {0x22, 0xa8, 0x84}, {0x44, 0xbf, 0x70},
    {0x7a, 0xd1, 0x51}, {0xbd, 0xdf, 0x26}, {0xfd, 0xe7, 0x25},
};

/* ColorBrewer RdBu with 11 classes (Brewer), ordered blue (low) to red
 * (high) so that negative is blue and positive red. */
static const unsigned char diverging_anchor[11][3] = {
    {0x05, 0x30, 0x61}, {0x21, 0x66, 0xac}, {0x43, 0x93, 0xc3}, {0x92, 0xc5, 0xde},
    {0xd1, 0xe5, 0xf0}, {0xf7, 0xf7, 0xf7}, {0xfd, 0xdb, 0xc7}, {0xf4, 0xa5, 0x82},
    {0xd6, 0x60, 0x4d}, {0xb2, 0x18, 0x2b}, {0x67, 0x00, 0x1f},
};

void attend_cmap_rgb(attend_cmap c, double t, unsigned char rgb[3]) {
    const unsigned char(*a)[3] = c == ATTEND_CMAP_DIVERGING ? diverging_anchor : viridis_anchor;
    if (!(t > 0.0)) t = 0.0; /* also NaN */
    if (t > 1.0) t = 1.0;
    double u = t * 10.0;
    int i = (int)u;
    if (i >= 10) i = 9;
    double f = u - i;
    for (int k = 0; k < 3; k++)
        rgb[k] = (unsigned char)lround((1.0 - f) * a[i][k] + f * a[i + 1][k]);
}

void attend_cmap_hex(attend_cmap c, double v, double vmin, double vmax, char hex[8]) {
    unsigned char rgb[3];
    double t = vmax > vmin ? (v - vmin) / (vmax - vmin) : 0.5;
    attend_cmap_rgb(c, t, rgb);
    snprintf(hex, 8, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
}

const char *attend_palette(size_t i) {
    /* Okabe and Ito's colour-blind-safe set; black last */
    static const char *p[8] = {"#0072b2", "#d55e00", "#009e73", "#cc79a7",
                               "#e69f00", "#56b4e9", "#f0e442", "#000000"};
    return p[i % 8];
}

size_t attend_nice_ticks(double lo, double hi, size_t want, double *ticks, size_t max,
                         double *step) {
    if (!(hi > lo)) {
        double pad = fabs(lo) > 0 ? fabs(lo) * 0.1 : 1.0;
        lo -= pad;
        hi += pad;
    }
    if (want < 2) want = 2;
    double raw = (hi - lo) / (double)want;
    double mag = pow(10.0, floor(log10(raw)));
    double r = raw / mag;
    double s = (r < 1.5 ? 1.0 : r < 3.0 ? 2.0 : r < 7.0 ? 5.0 : 10.0) * mag;
    if (step) *step = s;
    size_t n = 0;
    for (double k = ceil(lo / s - 1e-9); n < max; k += 1.0) {
        double v = k * s;
        if (v > hi + s * 1e-9) break;
        ticks[n++] = fabs(v) < s * 1e-9 ? 0.0 : v;
    }
    return n;
}

/* Shortest decimal form of a tick value for a given tick spacing. */
static void tick_label(char *out, size_t cap, double v, double step) {
    int dec = 0;
    while (dec < 6 && fabs(step * pow(10.0, dec) - round(step * pow(10.0, dec))) > 1e-6) dec++;
    snprintf(out, cap, "%.*f", dec, v);
}

/* ---- SVG basics ---- */

static const char *font_stack = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";

void attend_svg_prolog(attend_buf *b) { attend_buf_puts(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"); }

void attend_svg_begin(attend_buf *b, double w, double h, const char *css_class,
                      const char *title) {
    w = ceil(w);
    h = ceil(h);
    attend_buf_printf(b,
                      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
                      "viewBox=\"0 0 %.0f %.0f\" class=\"",
                      w, h, w, h);
    attend_buf_escape(b, css_class ? css_class : "");
    attend_buf_printf(b, "\" role=\"img\" font-family=\"%s\">\n<title>", font_stack);
    attend_buf_escape(b, title ? title : "");
    attend_buf_puts(b, "</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n");
}

void attend_svg_end(attend_buf *b) { attend_buf_puts(b, "</svg>\n"); }

void attend_svg_text(attend_buf *b, double x, double y, double size, const char *anchor,
                     double rotate, const char *weight, const char *fill, const char *text) {
    attend_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%.1f\"", x, y, size);
    if (anchor && strcmp(anchor, "start") != 0) attend_buf_printf(b, " text-anchor=\"%s\"", anchor);
    if (rotate != 0.0) attend_buf_printf(b, " transform=\"rotate(%.0f %.1f %.1f)\"", rotate, x, y);
    if (weight) attend_buf_printf(b, " font-weight=\"%s\"", weight);
    attend_buf_printf(b, " fill=\"%s\">", fill ? fill : "#222222");
    attend_buf_escape(b, text);
    attend_buf_puts(b, "</text>\n");
}

double attend_svg_text_width(const char *text, double size) {
    /* 0.6 em per character: a little wide for lower case, about right for
     * digits and capitals; erring wide keeps labels from overlapping. */
    return 0.6 * size * (double)attend_utf8_chars(text);
}

/* ---- heatmap ---- */

#define TITLE_SIZE 14.0
#define SUBTITLE_SIZE 11.0
#define AXIS_SIZE 12.0

typedef struct {
    double ls, cw, ch;          /* label size, cell width and height */
    double top, left, grid_w, grid_h, bottom, right, w, h;
    double x_label_w;           /* widest x tick label */
    int rotate_x;               /* x labels rotated: 0, 45 or 90 degrees (upwards) */
    size_t x_every, y_every;    /* numbered axes: label every n */
    double cb_h;                /* colour legend height */
} hm_layout;

static size_t every_for(double cell, double label_w) {
    static const size_t steps[] = {1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100, 128, 200, 256, 500, 1000};
    for (size_t i = 0; i < sizeof steps / sizeof *steps; i++)
        if ((double)steps[i] * cell >= label_w) return steps[i];
    return 1000;
}

static void hm_layout_compute(const attend_heatmap *h, hm_layout *L) {
    memset(L, 0, sizeof *L);
    L->ls = h->label_size > 0 ? h->label_size : 11.0;
    L->ch = h->cell > 0 ? h->cell : 16.0;
    L->cw = h->cell_w > 0 ? h->cell_w : L->ch;
    L->grid_w = L->cw * (double)h->cols;
    L->grid_h = L->ch * (double)h->rows;
    char num[32];
    // row labels
    double row_w = 0;
    if (h->row_names) {
        for (size_t i = 0; i < h->rows; i++) {
            double w = attend_svg_text_width(h->row_names[i], L->ls);
            row_w = w > row_w ? w : row_w;
        }
    } else {
        snprintf(num, sizeof num, "%zu", h->rows + h->index_base);
        row_w = attend_svg_text_width(num, L->ls);
        L->y_every = h->tick_every ? h->tick_every : every_for(L->ch, L->ls + 2);
    }
    // column labels
    if (h->col_names) {
        for (size_t j = 0; j < h->cols; j++) {
            double w = attend_svg_text_width(h->col_names[j], L->ls);
            L->x_label_w = w > L->x_label_w ? w : L->x_label_w;
        }
        // slanted when they do not fit across a column; upright when even
        // slanted neighbours would touch (their spacing is cw / sqrt 2)
        L->rotate_x = L->x_label_w <= L->cw - 2 ? 0 : L->cw * 0.7071 >= L->ls ? 45 : 90;
    } else {
        snprintf(num, sizeof num, "%zu", h->cols + h->index_base);
        L->x_label_w = attend_svg_text_width(num, L->ls);
        L->x_every = h->tick_every ? h->tick_every : every_for(L->cw, L->x_label_w + 6);
    }
    L->top = 6;
    if (h->title) L->top += TITLE_SIZE + 6;
    if (h->subtitle) L->top += SUBTITLE_SIZE + 5;
    L->top += 4;
    L->left = 6 + (h->y_label ? AXIS_SIZE + 8 : 0) + row_w + 6;
    double xl_h = attend_svg_xlabel_height(L->rotate_x, L->x_label_w, L->ls);
    L->bottom = 4 + xl_h + (h->x_label ? AXIS_SIZE + 10 : 0) + 4;
    if (L->rotate_x == 45) {
        // a rotated label runs down-left from its column; keep the first inside
        double need = L->x_label_w * 0.7071 + 4 - L->cw / 2;
        if (need > L->left) L->left = need;
    }
    L->cb_h = L->grid_h < 120 ? 120 : L->grid_h > 320 ? 320 : L->grid_h;
    if (!h->no_legend && h->value_label) {
        // the legend's rotated title must fit beside the bar
        double lw = attend_svg_text_width(h->value_label, 11) + 12;
        if (L->cb_h < lw) L->cb_h = lw;
    }
    L->right = h->no_legend ? 8 : 14 + ATTEND_SVG_COLORBAR_W;
    // titles may be wider than the grid
    double tw = 0;
    if (h->title) tw = attend_svg_text_width(h->title, TITLE_SIZE) * 0.92;
    if (h->subtitle) {
        double s = attend_svg_text_width(h->subtitle, SUBTITLE_SIZE);
        tw = s > tw ? s : tw;
    }
    L->w = L->left + L->grid_w + L->right;
    if (tw + 12 > L->w) L->w = tw + 12;
    double body = L->grid_h;
    if (!h->no_legend && L->cb_h > body) body = L->cb_h;
    L->h = L->top + body + L->bottom;
}

void attend_svg_heatmap_size(const attend_heatmap *h, double *w, double *hgt) {
    hm_layout L;
    hm_layout_compute(h, &L);
    *w = L.w;
    *hgt = L.h;
}

/* Black or white text, whichever reads better on background rgb. */
static const char *ink_on(const unsigned char rgb[3]) {
    double lum = 0.2126 * rgb[0] + 0.7152 * rgb[1] + 0.0722 * rgb[2];
    return lum > 140 ? "#000000" : "#ffffff";
}

double attend_svg_xlabel_height(int rotate, double label_w, double size) {
    return rotate == 45 ? label_w * 0.7071 + size : rotate == 90 ? label_w + 4 : size + 4;
}

void attend_svg_xlabel(attend_buf *b, double cx, double y, double size, int rotate, const char *fill,
                       const char *text) {
    if (rotate == 45)
        attend_svg_text(b, cx + size * 0.3, y + size * 0.4, size, "end", -45, NULL, fill, text);
    else if (rotate == 90)
        attend_svg_text(b, cx + size * 0.35, y + 2, size, "end", -90, NULL, fill, text);
    else
        attend_svg_text(b, cx, y + size, size, "middle", 0, NULL, fill, text);
}

void attend_svg_cells(attend_buf *b, const float *values, size_t rows, size_t cols, double x,
                      double y, double cw, double ch, attend_cmap c, double vmin, double vmax,
                      int tooltips, const char *const *row_names, const char *const *col_names,
                      size_t index_base) {
    attend_buf_puts(b, "<g shape-rendering=\"crispEdges\">\n");
    for (size_t i = 0; i < rows; i++) {
        for (size_t j = 0; j < cols; j++) {
            float v = values[i * cols + j];
            char hex[8] = "#dddddd";
            if (!isnan(v)) attend_cmap_hex(c, v, vmin, vmax, hex);
            attend_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"",
                              x + cw * (double)j, y + ch * (double)i, cw, ch, hex);
            if (!tooltips) {
                attend_buf_puts(b, "/>\n");
                continue;
            }
            attend_buf_puts(b, "><title>");
            if (row_names) attend_buf_escape(b, row_names[i]);
            else attend_buf_printf(b, "%zu", i + index_base);
            attend_buf_puts(b, " \xE2\x86\x92 ");
            if (col_names) attend_buf_escape(b, col_names[j]);
            else attend_buf_printf(b, "%zu", j + index_base);
            attend_buf_printf(b, ": %.3g</title></rect>\n", (double)v);
        }
    }
    attend_buf_puts(b, "</g>\n");
}

void attend_svg_heatmap_draw(attend_buf *b, const attend_heatmap *h, double x, double y) {
    hm_layout L;
    hm_layout_compute(h, &L);
    attend_buf_printf(b, "<g transform=\"translate(%.1f %.1f)\">\n", x, y);
    double ty = 6;
    if (h->title) {
        ty += TITLE_SIZE;
        attend_svg_text(b, 6, ty, TITLE_SIZE, "start", 0, "bold", NULL, h->title);
        ty += 6;
    }
    if (h->subtitle) {
        ty += SUBTITLE_SIZE;
        attend_svg_text(b, 6, ty, SUBTITLE_SIZE, "start", 0, NULL, "#555555", h->subtitle);
    }
    const double gx = L.left, gy = L.top;
    attend_svg_cells(b, h->values, h->rows, h->cols, gx, gy, L.cw, L.ch, h->cmap, h->vmin, h->vmax,
                     h->tooltips, h->row_names, h->col_names, h->index_base);
    attend_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#888888\" stroke-width=\"0.5\"/>\n",
                      gx, gy, L.grid_w, L.grid_h);
    // values written in the cells
    if (h->annotate_fmt) {
        double fs = L.ch * 0.45 < L.ls ? L.ch * 0.45 : L.ls;
        for (size_t i = 0; i < h->rows; i++)
            for (size_t j = 0; j < h->cols; j++) {
                float v = h->values[i * h->cols + j];
                if (isnan(v)) continue;
                unsigned char rgb[3];
                double t = h->vmax > h->vmin ? (v - h->vmin) / (h->vmax - h->vmin) : 0.5;
                attend_cmap_rgb(h->cmap, t, rgb);
                char txt[48];
                float shown = h->annotate_values ? h->annotate_values[i * h->cols + j] : v;
                snprintf(txt, sizeof txt, h->annotate_fmt, (double)shown);
                // "0.25" -> ".25": narrower, so it fits small cells
                if (txt[0] == '0' && txt[1] == '.') memmove(txt, txt + 1, strlen(txt));
                attend_svg_text(b, gx + L.cw * ((double)j + 0.5), gy + L.ch * ((double)i + 0.5) + fs * 0.35,
                                fs, "middle", 0, NULL, ink_on(rgb), txt);
            }
    }
    // row labels
    for (size_t i = 0; i < h->rows; i++) {
        double cy = gy + L.ch * ((double)i + 0.5) + L.ls * 0.35;
        if (h->row_names) {
            int dim = h->row_dim && h->row_dim[i];
            if (dim) attend_buf_puts(b, "<g font-style=\"italic\">");
            attend_svg_text(b, gx - 5, cy, L.ls, "end", 0, NULL, dim ? "#888888" : NULL, h->row_names[i]);
            if (dim) attend_buf_puts(b, "</g>\n");
        } else if ((i + h->index_base) % L.y_every == 0) {
            char num[32];
            snprintf(num, sizeof num, "%zu", i + h->index_base);
            attend_svg_text(b, gx - 5, cy, L.ls, "end", 0, NULL, NULL, num);
        }
    }
    // column labels
    const double ly = gy + L.grid_h + 4;
    for (size_t j = 0; j < h->cols; j++) {
        double cx = gx + L.cw * ((double)j + 0.5);
        if (h->col_names) {
            int dim = h->col_dim && h->col_dim[j];
            if (dim) attend_buf_puts(b, "<g font-style=\"italic\">");
            if (L.rotate_x)
                attend_svg_xlabel(b, cx, ly, L.ls, L.rotate_x, dim ? "#888888" : NULL, h->col_names[j]);
            else
                attend_svg_text(b, cx, ly + L.ls, L.ls, "middle", 0, NULL, dim ? "#888888" : NULL,
                                h->col_names[j]);
            if (dim) attend_buf_puts(b, "</g>\n");
        } else if ((j + h->index_base) % L.x_every == 0) {
            char num[32];
            snprintf(num, sizeof num, "%zu", j + h->index_base);
            attend_svg_text(b, cx, ly + L.ls, L.ls, "middle", 0, NULL, NULL, num);
        }
    }
    // axis titles
    if (h->x_label) {
        double xl_h = attend_svg_xlabel_height(L.rotate_x, L.x_label_w, L.ls);
        attend_svg_text(b, gx + L.grid_w / 2, ly + xl_h + AXIS_SIZE + 2, AXIS_SIZE, "middle", 0,
                        NULL, NULL, h->x_label);
    }
    if (h->y_label)
        attend_svg_text(b, 6 + AXIS_SIZE, gy + L.grid_h / 2, AXIS_SIZE, "middle", -90, NULL, NULL,
                        h->y_label);
    if (!h->no_legend)
        attend_svg_colorbar(b, gx + L.grid_w + 14, gy, L.cb_h, h->cmap, h->vmin, h->vmax,
                            h->value_label);
    attend_buf_puts(b, "</g>\n");
}

void attend_svg_heatmap(attend_buf *b, const attend_heatmap *h, const char *extra_class) {
    double w, hh;
    attend_svg_heatmap_size(h, &w, &hh);
    char cls[256];
    snprintf(cls, sizeof cls, "attend-heatmap%s%s", extra_class ? " " : "", extra_class ? extra_class : "");
    attend_svg_begin(b, w, hh, cls, h->title ? h->title : "heatmap");
    attend_svg_heatmap_draw(b, h, 0, 0);
    attend_svg_end(b);
}

void attend_svg_colorbar(attend_buf *b, double x, double y, double hgt, attend_cmap c,
                         double vmin, double vmax, const char *label) {
    const double bw = 14;
    const int steps = 64;
    attend_buf_printf(b, "<g transform=\"translate(%.1f %.1f)\">\n<g shape-rendering=\"crispEdges\">\n", x, y);
    for (int s = 0; s < steps; s++) {
        // top of the bar is vmax
        double t = 1.0 - ((double)s + 0.5) / steps;
        unsigned char rgb[3];
        attend_cmap_rgb(c, t, rgb);
        double y0 = hgt * s / steps, y1 = hgt * (s + 1) / steps;
        attend_buf_printf(b, "<rect x=\"0\" y=\"%.2f\" width=\"%.0f\" height=\"%.2f\" fill=\"#%02x%02x%02x\"/>\n",
                          y0, bw, y1 - y0 + 0.3, rgb[0], rgb[1], rgb[2]);
    }
    attend_buf_puts(b, "</g>\n");
    attend_buf_printf(b, "<rect x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.1f\" fill=\"none\" stroke=\"#888888\" stroke-width=\"0.5\"/>\n",
                      bw, hgt);
    double ticks[16], step = 1;
    size_t n = attend_nice_ticks(vmin, vmax, 5, ticks, 16, &step);
    double maxw = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(vmax > vmin)) break;
        double ty = hgt * (1.0 - (ticks[i] - vmin) / (vmax - vmin));
        char txt[32];
        tick_label(txt, sizeof txt, ticks[i], step);
        attend_buf_printf(b, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#444444\"/>\n", bw,
                          ty, bw + 4, ty);
        attend_svg_text(b, bw + 6, ty + 3.8, 10.5, "start", 0, NULL, NULL, txt);
        double w = attend_svg_text_width(txt, 10.5);
        maxw = w > maxw ? w : maxw;
    }
    if (label) {
        double lx = bw + 10 + (maxw > 30 ? 30 : maxw) + 14;
        attend_svg_text(b, lx, hgt / 2, 11, "middle", -90, NULL, "#444444", label);
    }
    attend_buf_puts(b, "</g>\n");
}

/* ---- line plot ---- */

/* Where a plot's data and ticks land on the page: the data range, the
 * frame (left, top, pw x ph) and the ticks with their labels. */
typedef struct {
    double xlo, xhi, ylo, yhi; // data range (x in log2 units when x_log2)
    double x0, x1;             // x range drawn: the data with a little padding
    double left, top, pw, ph;  // the frame of the data area
    double yt[32], xt[64];
    char ylab[32][32], xlab[64][32];
    size_t ny, nx;
} plot_frame;

static double plot_x(const plot_frame *f, double v) { return f->left + (v - f->x0) / (f->x1 - f->x0) * f->pw; }
static double plot_y(const plot_frame *f, double v) { return f->top + f->ph - (v - f->ylo) / (f->yhi - f->ylo) * f->ph; }

/* The range of the finite points, error bars included; 0..1 when empty. */
static void plot_data_range(const attend_plot *p, plot_frame *f) {
    double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
    for (size_t s = 0; s < p->n_series; s++) {
        const attend_series *se = &p->series[s];
        for (size_t i = 0; i < se->n; i++) {
            double xv = p->x_log2 ? log2(se->x[i]) : se->x[i];
            double e = se->err && isfinite(se->err[i]) ? se->err[i] : 0.0;
            if (!isfinite(xv) || !isfinite(se->y[i])) continue;
            xlo = xv < xlo ? xv : xlo;
            xhi = xv > xhi ? xv : xhi;
            ylo = se->y[i] - e < ylo ? se->y[i] - e : ylo;
            yhi = se->y[i] + e > yhi ? se->y[i] + e : yhi;
        }
    }
    if (!isfinite(xlo)) xlo = 0, xhi = 1;
    if (!isfinite(ylo)) ylo = 0, yhi = 1;
    f->xlo = xlo, f->xhi = xhi, f->ylo = ylo, f->yhi = yhi;
}

/* y ticks: the range widened to whole ticks unless ymin/ymax fix it. */
static void plot_y_ticks(const attend_plot *p, plot_frame *f) {
    double ylo = f->ylo, yhi = f->yhi;
    if (!isnan(p->ymin)) ylo = p->ymin;
    if (!isnan(p->ymax)) yhi = p->ymax;
    double ystep = 1;
    size_t ny = attend_nice_ticks(ylo, yhi, 5, f->yt, 32, &ystep);
    if (isnan(p->ymin) && ny && f->yt[0] > ylo - 1e-12) {
        // extend to the tick at or below the data
        ylo = floor(ylo / ystep + 1e-9) * ystep;
    }
    if (isnan(p->ymax)) yhi = ceil(yhi / ystep - 1e-9) * ystep;
    if (!(yhi > ylo)) yhi = ylo + ystep;
    f->ny = attend_nice_ticks(ylo, yhi, 5, f->yt, 32, &ystep);
    f->ylo = ylo, f->yhi = yhi;
    for (size_t k = 0; k < f->ny; k++) tick_label(f->ylab[k], sizeof f->ylab[k], f->yt[k], ystep);
}

/* x ticks: on a log2 axis one at each distinct x of the data, labelled
 * with the value itself; otherwise nice ticks (whole numbers when
 * x_integer). */
static void plot_x_ticks(const attend_plot *p, plot_frame *f) {
    double *xt = f->xt, xstep = 1;
    size_t nx = 0;
    if (p->x_log2) {
        for (size_t s = 0; s < p->n_series; s++)
            for (size_t i = 0; i < p->series[s].n && nx < 64; i++) {
                double v = log2(p->series[s].x[i]);
                int seen = 0;
                for (size_t k = 0; k < nx; k++) seen |= fabs(xt[k] - v) < 1e-9;
                if (!seen && isfinite(v)) {
                    xt[nx] = v;
                    snprintf(f->xlab[nx], sizeof f->xlab[nx], "%g", p->series[s].x[i]);
                    nx++;
                }
            }
    } else {
        nx = attend_nice_ticks(f->xlo, f->xhi, 6, xt, 64, &xstep);
        if (p->x_integer && xstep < 1) {
            nx = 0;
            for (double v = ceil(f->xlo); v <= f->xhi + 1e-9 && nx < 64; v += 1) xt[nx++] = v;
            xstep = 1;
        }
        for (size_t k = 0; k < nx; k++) tick_label(f->xlab[k], sizeof f->xlab[k], xt[k], xstep);
    }
    f->nx = nx;
    double xpad = f->xhi > f->xlo ? (f->xhi - f->xlo) * 0.06 : 0.5;
    f->x0 = f->xlo - xpad, f->x1 = f->xhi + xpad;
}

/* Grid lines, ticks with their labels, the two axes and their names. */
static void plot_axes(attend_buf *b, const attend_plot *p, const plot_frame *f) {
    const double left = f->left, top = f->top, pw = f->pw, ph = f->ph;
    for (size_t k = 0; k < f->ny; k++) {
        double y = plot_y(f, f->yt[k]);
        attend_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>\n", left, y,
                          left + pw, y);
        attend_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444444\"/>\n",
                          left - 4, y, left, y);
        attend_svg_text(b, left - 7, y + 3.8, 11, "end", 0, NULL, NULL, f->ylab[k]);
    }
    for (size_t k = 0; k < f->nx; k++) {
        if (f->xt[k] < f->x0 - 1e-9 || f->xt[k] > f->x1 + 1e-9) continue;
        double x = plot_x(f, f->xt[k]);
        attend_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#f0f0f0\"/>\n", x, top,
                          x, top + ph);
        attend_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#444444\"/>\n", x,
                          top + ph, x, top + ph + 4);
        attend_svg_text(b, x, top + ph + 17, 11, "middle", 0, NULL, NULL, f->xlab[k]);
    }
    attend_buf_printf(b, "<path d=\"M%.1f %.1fV%.1fH%.1f\" fill=\"none\" stroke=\"#444444\"/>\n", left, top,
                      top + ph, left + pw);
    if (p->x_label)
        attend_svg_text(b, left + pw / 2, top + ph + 34, AXIS_SIZE, "middle", 0, NULL, NULL, p->x_label);
    if (p->y_label)
        attend_svg_text(b, 8 + AXIS_SIZE, top + ph / 2, AXIS_SIZE, "middle", -90, NULL, NULL, p->y_label);
}

/* Series s: its line, its points with error bars, and its legend entry.
 * Series are dodged sideways by p->dodge so that error bars do not hide
 * each other. */
static void plot_series(attend_buf *b, const attend_plot *p, const plot_frame *f, size_t s) {
    const attend_series *se = &p->series[s];
    const char *col = attend_palette(s);
    double dx = p->dodge * ((double)s - ((double)p->n_series - 1) / 2);
    attend_buf_printf(b, "<g class=\"attend-series\" stroke=\"%s\" fill=\"%s\">\n", col, col);
    if (se->n > 1) {
        attend_buf_printf(b, "<polyline fill=\"none\" stroke-width=\"2\"%s points=\"",
                          se->dashed ? " stroke-dasharray=\"6 4\"" : "");
        for (size_t i = 0; i < se->n; i++) {
            double xv = p->x_log2 ? log2(se->x[i]) : se->x[i];
            if (!isfinite(xv) || !isfinite(se->y[i])) continue;
            attend_buf_printf(b, "%.1f,%.1f ", plot_x(f, xv) + dx, plot_y(f, se->y[i]));
        }
        attend_buf_puts(b, "\"/>\n");
    }
    for (size_t i = 0; i < se->n; i++) {
        double xv = p->x_log2 ? log2(se->x[i]) : se->x[i];
        if (!isfinite(xv) || !isfinite(se->y[i])) continue;
        double cx = plot_x(f, xv) + dx, cy = plot_y(f, se->y[i]);
        if (se->err && isfinite(se->err[i]) && se->err[i] > 0) {
            double ya = plot_y(f, se->y[i] - se->err[i]), yb = plot_y(f, se->y[i] + se->err[i]);
            attend_buf_printf(b, "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" fill=\"none\" stroke-width=\"1.5\"/>\n",
                              cx, ya, yb, cx - 4, ya, cx + 4, cx - 4, yb, cx + 4);
        }
        attend_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" stroke=\"#ffffff\" stroke-width=\"1\"/>\n", cx, cy);
    }
    attend_buf_puts(b, "</g>\n");
    double lx = f->left + f->pw + 24, ly = f->top + 8 + 20.0 * (double)s;
    attend_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2\"%s/>\n",
                      lx, ly, lx + 26, ly, col, se->dashed ? " stroke-dasharray=\"6 4\"" : "");
    attend_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"/>\n", lx + 13, ly, col);
    attend_svg_text(b, lx + 34, ly + 4, 11.5, "start", 0, NULL, NULL, se->name ? se->name : "");
}

void attend_svg_plot(attend_buf *b, const attend_plot *p) {
    plot_frame f;
    f.pw = p->width > 0 ? p->width : 420, f.ph = p->height > 0 ? p->height : 260;
    plot_data_range(p, &f);
    plot_y_ticks(p, &f);
    plot_x_ticks(p, &f);
    // margins: room for the widest y tick label and the widest legend name
    double ytw = 0;
    for (size_t k = 0; k < f.ny; k++) {
        double w = attend_svg_text_width(f.ylab[k], 11);
        ytw = w > ytw ? w : ytw;
    }
    double legw = 0;
    for (size_t s = 0; s < p->n_series; s++) {
        double w = attend_svg_text_width(p->series[s].name ? p->series[s].name : "", 11.5);
        legw = w > legw ? w : legw;
    }
    f.left = 8 + AXIS_SIZE + 10 + ytw + 8, f.top = p->title ? 34 : 12;
    const double right = p->n_series ? 24 + 34 + legw + 8 : 16, bottom = 8 + 16 + AXIS_SIZE + 12;
    double W = f.left + f.pw + right, H = f.top + f.ph + bottom;
    double tw = p->title ? attend_svg_text_width(p->title, TITLE_SIZE) * 0.92 + 16 : 0;
    if (tw > W) W = tw;
    attend_svg_begin(b, W, H, "attend-plot", p->title ? p->title : "plot");
    if (p->title) attend_svg_text(b, 8, 22, TITLE_SIZE, "start", 0, "bold", NULL, p->title);
    plot_axes(b, p, &f);
    for (size_t s = 0; s < p->n_series; s++) plot_series(b, p, &f, s);
    attend_svg_end(b);
}

/* ---- HTML ---- */

void attend_html_begin(attend_buf *b, const char *title) {
    attend_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\"/>\n"
                       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>");
    attend_buf_escape(b, title);
    attend_buf_puts(b,
                    "</title>\n<style>\n"
                    "body{font-family:'DejaVu Sans','Liberation Sans',Arial,Helvetica,sans-serif;"
                    "color:#222;margin:24px auto;max-width:1180px;padding:0 16px;line-height:1.45;font-size:14px}\n"
                    "h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:34px 0 6px;"
                    "border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:18px 0 4px}\n"
                    "p.lead{color:#555;margin-top:0}p.note,figcaption{color:#555;font-size:13px;max-width:900px}\n"
                    "figure{margin:10px 18px 14px 0;display:inline-block;vertical-align:top}\n"
                    ".row{display:flex;flex-wrap:wrap;align-items:flex-start}\n"
                    "svg{display:block;max-width:100%;height:auto}\n"
                    ".scroll{overflow-x:auto}\n"
                    "table{border-collapse:collapse;margin:8px 0 12px;font-size:13px}\n"
                    "th,td{border:1px solid #ddd;padding:3px 8px}th{background:#f4f4f4;text-align:left}\n"
                    "td.r{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
                    ".attend-card td:first-child{white-space:nowrap;color:#555}\n"
                    "nav a{margin-right:14px}code{background:#f4f4f4;padding:1px 4px;border-radius:3px}\n"
                    ".example{border-left:4px solid #ccc;padding:2px 0 2px 12px;margin:16px 0}\n"
                    ".example.right{border-color:#009e73}.example.wrong{border-color:#d55e00}\n"
                    ".text{font-size:15px}\n"
                    "</style>\n</head>\n<body>\n");
}

void attend_html_end(attend_buf *b) { attend_buf_puts(b, "</body>\n</html>\n"); }

void attend_html_table(attend_buf *b, const char *css_class, size_t ncols,
                       const char *const *header, size_t nrows, const char *const *cells,
                       const char *align) {
    attend_buf_puts(b, "<table");
    if (css_class) {
        attend_buf_puts(b, " class=\"");
        attend_buf_escape(b, css_class);
        attend_buf_puts(b, "\"");
    }
    attend_buf_puts(b, ">\n");
    if (header) {
        attend_buf_puts(b, "<thead><tr>");
        for (size_t j = 0; j < ncols; j++) {
            attend_buf_puts(b, "<th>");
            attend_buf_escape(b, header[j]);
            attend_buf_puts(b, "</th>");
        }
        attend_buf_puts(b, "</tr></thead>\n");
    }
    attend_buf_puts(b, "<tbody>\n");
    for (size_t i = 0; i < nrows; i++) {
        attend_buf_puts(b, "<tr>");
        for (size_t j = 0; j < ncols; j++) {
            int right = align && align[j] == 'r';
            attend_buf_puts(b, right ? "<td class=\"r\">" : "<td>");
            attend_buf_escape(b, cells[i * ncols + j] ? cells[i * ncols + j] : "");
            attend_buf_puts(b, "</td>");
        }
        attend_buf_puts(b, "</tr>\n");
    }
    attend_buf_puts(b, "</tbody>\n</table>\n");
}
