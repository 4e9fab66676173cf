/* The report page of a trained classifier (attend train --report, attend
 * report) and the attention pictures it shares with attend show.
 *
 * DIR/index.html is one self-contained page (inline SVG and CSS, no
 * scripts, nothing fetched); every picture is also written on its own as
 * DIR/figures/NAME.svg. Pictures carry class="attend-heatmap" or
 * class="attend-plot" so that tests can count them. */
#ifndef ATTEND_REPORT_H
#define ATTEND_REPORT_H

#include "attend_viz.h"
#include "viz/explain.h"
#include "viz/svg.h"

/* ---- attention pictures ---- */

/* Model view: every layer x head of ex as a small map in one grid (layers
 * down, heads across), one colour scale, token labels on the outer maps.
 * Size first, then drawing with the top-left corner at (x, y). */
void attend_model_view_size(const attend_explanation *ex, double *w, double *h);
void attend_model_view_draw(attend_buf *b, const attend_explanation *ex, double x, double y);

/* Head view: the heads of one layer (0-based) side by side, large, every
 * token labelled; head = (size_t)-1 for all heads, else just that one. */
void attend_head_view_size(const attend_explanation *ex, size_t layer, size_t head, double *w,
                           double *h);
void attend_head_view_draw(attend_buf *b, const attend_explanation *ex, size_t layer, size_t head,
                           double x, double y);

/* Standalone SVGs of the two views (class "attend-heatmap attend-model-view"
 * / "attend-heatmap attend-head-view"). */
void attend_svg_model_view(attend_buf *b, const attend_explanation *ex, const char *title);
void attend_svg_head_view(attend_buf *b, const attend_explanation *ex, size_t layer, size_t head,
                          const char *title);

/* For head (l, h): the keys that receive the most attention on average over
 * the queries; writes up to n key indices into keys (by weight, descending)
 * and their mean weights into w. Returns how many, or SIZE_MAX when out of
 * memory (nothing written). */
size_t attend_explanation_top_keys(const attend_explanation *ex, size_t l, size_t h, size_t n,
                                   size_t *keys, float *w);

/* ---- helpers shared with attend compare ---- */

/* Per-head heatmaps of statistics (entropy, distance, importance) as three
 * standalone SVGs appended to b; titles get prefix. Returns the number of
 * heatmaps written. Out of memory sets b->failed (as appending does). */
size_t attend_report_head_figures(attend_buf *b, const attend_head_stats *hs, const char *prefix,
                                  double cell);

#endif
