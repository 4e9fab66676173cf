/* The pictures of attend show: one text's attention as a standalone SVG
 * (head view of a layer and model view of every layer x head) or as a
 * self-contained HTML page with the prediction and each head's top tokens. */
#include "viz/report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALL ((size_t)-1)

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    if (a < b) return 0;
    for (size_t i = 0; i < b; i++) {
        char c = s[a - b + i];
        if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
        if (c != suffix[i]) return 0;
    }
    return 1;
}

static void prediction_line(char *out, size_t cap, const attend_model *m, const attend_explanation *ex) {
    if (!ex->K) {
        snprintf(out, cap, "an encoder: no classification head");
        return;
    }
    snprintf(out, cap, "predicted: %s (p = %.3f)", attend_model_label(m, ex->predicted),
             (double)ex->probs[ex->predicted]);
}

static void write_svg(attend_buf *b, const attend_model *m, const attend_explanation *ex,
                      const char *text, size_t layer, size_t head) {
    const size_t hl = layer == ALL || layer >= ex->L ? ex->L - 1 : layer;
    double hw, hh, mw, mh;
    attend_head_view_size(ex, hl, head, &hw, &hh);
    attend_model_view_size(ex, &mw, &mh);
    char shown[200], pred[300], sect[160];
    snprintf(shown, sizeof shown, "%.180s%s", text, strlen(text) > 180 ? "..." : "");
    prediction_line(pred, sizeof pred, m, ex);
    double W = hw > mw ? hw : mw, tw = attend_svg_text_width(shown, 15) + 20;
    W = W > tw ? W : tw;
    const double head_top = 70, model_top = head_top + 26 + hh + 24;
    attend_svg_prolog(b);
    attend_svg_begin(b, W, model_top + 26 + mh, "attend-heatmap attend-show", "attend show: attention of one text");
    attend_svg_text(b, 8, 22, 15, "start", 0, "bold", NULL, shown);
    attend_svg_text(b, 8, 44, 12, "start", 0, NULL, "#444444", pred);
    if (head == ALL) snprintf(sect, sizeof sect, "Head view: the %zu heads of layer %zu", ex->H, hl + 1);
    else snprintf(sect, sizeof sect, "Head view: layer %zu, head %zu", hl + 1, head + 1);
    attend_svg_text(b, 8, head_top + 14, 14, "start", 0, "bold", NULL, sect);
    attend_head_view_draw(b, ex, hl, head, 0, head_top + 22);
    attend_svg_text(b, 8, model_top + 14, 14, "start", 0, "bold", NULL,
                    "Model view: every layer (rows) and head (columns)");
    attend_model_view_draw(b, ex, 0, model_top + 22);
    attend_svg_end(b);
}

static void write_html(attend_buf *b, const attend_model *m, const attend_explanation *ex,
                       const char *text, size_t layer, size_t head, size_t top) {
    const size_t hl = layer == ALL || layer >= ex->L ? ex->L - 1 : layer;
    attend_html_begin(b, "attend show");
    attend_buf_puts(b, "<h1>attend show</h1>\n<p class=\"text\">\xE2\x80\x9C");
    attend_buf_escape(b, text);
    attend_buf_puts(b, "\xE2\x80\x9D</p>\n");
    // probabilities, highest first
    size_t K = ex->K, n = K < 5 ? K : 5;
    size_t *order = malloc(K * sizeof(size_t));
    char (*cells)[2][64] = malloc(n * sizeof *cells);
    const char **cp = malloc(2 * n * sizeof(char *));
    if (K == 0) {
        /* an encoder: nothing predicted */
    } else if (order && cells && cp) {
        for (size_t k = 0; k < K; k++) order[k] = k;
        for (size_t i = 0; i < n; i++)
            for (size_t j = i + 1; j < K; j++)
                if (ex->probs[order[j]] > ex->probs[order[i]]) {
                    size_t t = order[i];
                    order[i] = order[j];
                    order[j] = t;
                }
        for (size_t i = 0; i < n; i++) {
            snprintf(cells[i][0], 64, "%s", attend_model_label(m, order[i]));
            snprintf(cells[i][1], 64, "%.4f", (double)ex->probs[order[i]]);
            cp[2 * i] = cells[i][0];
            cp[2 * i + 1] = cells[i][1];
        }
        static const char *hdr[2] = {"label", "probability"};
        attend_buf_puts(b, "<h2>Prediction</h2>\n");
        attend_html_table(b, "attend-table", 2, hdr, n, cp, "lr");
    } else {
        b->failed = 1;
    }
    free(order);
    free(cells);
    free(cp);
    char title[160];
    attend_buf_puts(b, "<h2>Head view</h2>\n<p class=\"note\">Row i of a map shows how token i spreads its "
                       "attention over the tokens (columns); bright = much weight. Each row sums to 1. "
                       "Grey italic tokens are not in the vocabulary.</p>\n<div class=\"scroll\">\n");
    if (head == ALL) snprintf(title, sizeof title, "Layer %zu: its %zu heads side by side", hl + 1, ex->H);
    else snprintf(title, sizeof title, "Layer %zu, head %zu", hl + 1, head + 1);
    attend_svg_head_view(b, ex, hl, head, title);
    attend_buf_puts(b, "</div>\n<h2>Model view</h2>\n<div class=\"scroll\">\n");
    attend_svg_model_view(b, ex, "Every layer (rows) and head (columns), one colour scale");
    attend_buf_puts(b, "</div>\n<h2>Tokens each head attends to most</h2>\n"
                       "<p class=\"note\">Mean weight a token receives over all queries.</p>\n");
    size_t rows = ex->L * ex->H;
    char (*tc)[3][400] = malloc((rows ? rows : 1) * sizeof *tc);
    const char **tp = malloc((rows ? rows : 1) * 3 * sizeof(char *));
    size_t *keys = malloc(top * sizeof(size_t));
    float *w = malloc(top * sizeof(float));
    if (tc && tp && keys && w) {
        for (size_t r = 0; r < rows; r++) {
            size_t l = r / ex->H, h = r % ex->H;
            snprintf(tc[r][0], 400, "%zu", l + 1);
            snprintf(tc[r][1], 400, "%zu", h + 1);
            size_t nk = attend_explanation_top_keys(ex, l, h, top, keys, w), used = 0;
            if (nk == SIZE_MAX) {
                b->failed = 1; /* the file is refused: out of memory building it */
                break;
            }
            tc[r][2][0] = 0;
            for (size_t k = 0; k < nk && used < 300; k++)
                used += (size_t)snprintf(tc[r][2] + used, 400 - used, "%s%.40s %.2f", k ? ", " : "",
                                         ex->tokens[keys[k]], (double)w[k]);
            for (int c = 0; c < 3; c++) tp[3 * r + c] = tc[r][c];
        }
        static const char *hdr[3] = {"layer", "head", "tokens attended to most"};
        if (!b->failed) attend_html_table(b, "attend-table", 3, hdr, rows, tp, "rrl");
    } else {
        b->failed = 1;
    }
    free(tc);
    free(tp);
    free(keys);
    free(w);
    attend_html_end(b);
}

attend_status attend_show_write(const char *path, const attend_model *m,
                                const attend_explanation *ex, const char *text, size_t layer,
                                size_t head, size_t top, attend_error *err) {
    int svg = ends_with(path, ".svg"), html = ends_with(path, ".html") || ends_with(path, ".htm");
    if (!svg && !html)
        return attend_errorf(err, ATTEND_ERR_ARG, "%s: the name must end in .svg or .html", path);
    if (ex->L == 0)
        return attend_errorf(err, ATTEND_ERR_ARG, "the model has no encoder layers: no attention to draw");
    attend_buf b;
    attend_buf_init(&b);
    if (svg) write_svg(&b, m, ex, text, layer, head);
    else write_html(&b, m, ex, text, layer, head, top ? top : 3);
    attend_status st = attend_buf_write_file(&b, path, err);
    attend_buf_free(&b);
    return st;
}
