/* SVG and HTML writing for attend's pictures: a growable text buffer, XML
 * escaping, two colour maps, and the figures themselves (heatmap with axis
 * labels and a colour legend, line plot with axes, ticks, legend and error
 * bars, HTML table). Everything is written into an attend_buf; nothing here
 * touches the network or a font file, so pages built from it are
 * self-contained.
 *
 * Coordinates are SVG user units (CSS pixels). Every picture is one <svg>
 * element with xmlns set, so the same text is valid as a standalone .svg
 * file (after attend_svg_prolog) and inline in HTML. No element ids are
 * used: many pictures can share one page. */
#ifndef ATTEND_SVG_H
#define ATTEND_SVG_H

#include "attend.h"
#include "attend_viz.h"
#include "base/buf.h"
#include "base/utf8.h"

#include <stddef.h>
#include <stdint.h>

/* ---- colour maps ---- */

/* Colour of a value in [vmin, vmax] as "#rrggbb" (8 bytes with the NUL). */
void attend_cmap_hex(attend_cmap c, double v, double vmin, double vmax, char hex[8]);

/* Colour i of a palette for lines that colour-blind readers can tell apart
 * (Okabe and Ito); wraps around after 8. */
const char *attend_palette(size_t i);

/* "Nice" tick positions for the range [lo, hi]: about `want` ticks at
 * multiples of 1, 2 or 5 times a power of ten. Writes at most max ticks and
 * returns how many; *step receives the spacing. */
size_t attend_nice_ticks(double lo, double hi, size_t want, double *ticks, size_t max,
                         double *step);

/* ---- SVG documents ---- */

/* The XML declaration a standalone .svg file starts with. */
void attend_svg_prolog(attend_buf *b);

/* Opens an <svg> of w x h with the given class (and xmlns, a font stack,
 * role="img" and a <title> for screen readers). */
void attend_svg_begin(attend_buf *b, double w, double h, const char *css_class,
                      const char *title);
void attend_svg_end(attend_buf *b);

/* A text element. anchor: "start", "middle" or "end"; rotate in degrees
 * (about (x,y)); weight "bold" or NULL; fill NULL = dark grey. */
void attend_svg_text(attend_buf *b, double x, double y, double size, const char *anchor,
                     double rotate, const char *weight, const char *fill, const char *text);

/* A column label under a grid: centred on cx, top at y; rotate 0, 45 or 90
 * (degrees, reading upwards), and the height such labels need. */
void attend_svg_xlabel(attend_buf *b, double cx, double y, double size, int rotate, const char *fill,
                       const char *text);
double attend_svg_xlabel_height(int rotate, double label_w, double size);

/* Estimated width in px of text at a font size (sans-serif averages). */
double attend_svg_text_width(const char *text, double size);

/* ---- heatmap ---- */

/* A matrix of values drawn as coloured cells. Rows go down, columns go right.
 * Row/column names label every cell when given (x labels rotated when they
 * are long); without names cells are numbered from `index_base` every
 * `tick_every` cells. */
typedef struct {
    const char *title;          /* above the grid (bold), may be NULL */
    const char *subtitle;       /* under the title, smaller, may be NULL */
    const char *x_label;        /* axis title under the grid */
    const char *y_label;        /* axis title left of the grid (rotated) */
    const char *value_label;    /* colour legend title */
    size_t rows, cols;
    const float *values;        /* (rows, cols) row-major; NaN = no value (grey) */
    const char *const *row_names; /* (rows) or NULL */
    const char *const *col_names; /* (cols) or NULL */
    const uint8_t *row_dim;     /* (rows) or NULL: 1 = grey italic label */
    const uint8_t *col_dim;     /* (cols) or NULL */
    size_t tick_every;          /* numbered axes: label every n-th (0 = auto) */
    size_t index_base;          /* numbered axes start here (0 or 1) */
    double vmin, vmax;          /* colour scale */
    attend_cmap cmap;
    double cell;                /* cell side in px (0 = 16) */
    double cell_w;              /* cell width if different from cell (0 = cell) */
    const char *annotate_fmt;   /* printf format of each cell's value, or NULL */
    const float *annotate_values; /* (rows, cols) numbers to write instead of values, or NULL */
    int tooltips;               /* 1: a <title> per cell with names and value */
    int no_legend;              /* 1: no colour legend (a grid shares one) */
    double label_size;          /* font size of tick labels (0 = 11) */
} attend_heatmap;

/* Only the cells of a (rows, cols) matrix, cw x ch px each, top-left at
 * (x, y); NaN cells are grey. With names, each cell gets a tooltip
 * "row -> col: value" (numbers from index_base when names are NULL). */
void attend_svg_cells(attend_buf *b, const float *values, size_t rows, size_t cols, double x,
                      double y, double cw, double ch, attend_cmap c, double vmin, double vmax,
                      int tooltips, const char *const *row_names, const char *const *col_names,
                      size_t index_base);

/* Size of the drawn heatmap (with legend unless no_legend). */
void attend_svg_heatmap_size(const attend_heatmap *h, double *w, double *hgt);

/* Draws the heatmap with its top-left corner at (x, y) inside an open <svg>. */
void attend_svg_heatmap_draw(attend_buf *b, const attend_heatmap *h, double x, double y);

/* A standalone <svg class="attend-heatmap EXTRA"> holding one heatmap. */
void attend_svg_heatmap(attend_buf *b, const attend_heatmap *h, const char *extra_class);

/* A vertical colour legend of height hgt at (x, y): the colour ramp, ticks
 * and a rotated title. Width is about 70 px. */
void attend_svg_colorbar(attend_buf *b, double x, double y, double hgt, attend_cmap c,
                         double vmin, double vmax, const char *label);

/* Width that attend_svg_colorbar takes. */
#define ATTEND_SVG_COLORBAR_W 78.0

/* ---- line plot ---- */

/* One line of a plot. x and y have n values; err (NULL = none) gives the
 * half-length of an error bar at each point. */
typedef struct {
    const char *name;    /* legend entry */
    size_t n;
    const double *x, *y, *err;
    int dashed;          /* dashed line */
} attend_series;

typedef struct {
    const char *title, *x_label, *y_label;
    const attend_series *series;
    size_t n_series;
    double width, height; /* plot area in px (0 = 420 x 260) */
    double ymin, ymax;    /* NaN = from the data */
    int x_log2;           /* x on a log2 axis, ticks at the data's x values */
    int x_integer;        /* linear x with integer ticks only (epochs) */
    double dodge;         /* px between series at the same x (keeps error bars apart) */
} attend_plot;

/* Draws a plot (axes, ticks, grid, lines, markers, error bars, legend on
 * the right) as a standalone <svg class="attend-plot">. */
void attend_svg_plot(attend_buf *b, const attend_plot *p);

/* ---- HTML ---- */

/* Starts a self-contained HTML page (inline CSS, no scripts, no external
 * resources) titled title; attend_html_end closes it. */
void attend_html_begin(attend_buf *b, const char *title);
void attend_html_end(attend_buf *b);

/* An HTML table: ncols header cells (header NULL: none), then nrows x ncols cells (plain text,
 * escaped here). align: one character per column, 'l' or 'r' (NULL = all
 * left). css_class may be NULL. */
void attend_html_table(attend_buf *b, const char *css_class, size_t ncols,
                       const char *const *header, size_t nrows, const char *const *cells,
                       const char *align);

#endif
