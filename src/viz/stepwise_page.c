/* The page of attend explain --out: the steps of attend_stepwise in order,
 * each matrix or vector a small heatmap with its shape (in the letters of
 * attend.h: T tokens, E width, H heads, D head width, F feed-forward)
 * written beside it, and the numbers of the softmax in a table.
 * Self-contained HTML (no scripts, nothing fetched), written atomically. */
#include "viz/svg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Matrices larger than this are described, not drawn (a BERT-base weight
 * slice, D x E = 64 x 768, would add megabytes of cells). */
#define MAX_CELLS 16384

/* One figure: a (rows, cols) matrix of doubles (-inf, a masked key, drawn
 * grey), its title, its shape and a caption. */
typedef struct {
    const char *title, *shape, *caption;
    const double *v;
    size_t rows, cols;
    const char *const *row_names; /* NULL: numbered from 1 */
    const uint8_t *row_dim;       /* grey labels (masked keys) */
    const char *const *col_names; /* NULL: numbered from 1 */
    const uint8_t *col_dim;
    int weights; /* 1: values in [0,1] on viridis, written in the cells */
} figure;

static void draw(attend_buf *b, const figure *f) {
    const size_t n = f->rows * f->cols;
    attend_buf_puts(b, "<figure>\n");
    if (n > MAX_CELLS) {
        attend_buf_printf(b, "<p class=\"note\"><b>");
        attend_buf_escape(b, f->title);
        attend_buf_puts(b, "</b> (");
        attend_buf_escape(b, f->shape);
        attend_buf_printf(b, "): not drawn, %zu values are too many for a picture.</p>\n", n);
    } else {
        float *vals = malloc((n ? n : 1) * sizeof(float));
        if (!vals) {
            b->failed = 1;
            return;
        }
        double top = 0;
        for (size_t k = 0; k < n; k++) {
            vals[k] = isfinite(f->v[k]) ? (float)f->v[k] : NAN;
            if (isfinite(f->v[k]) && fabs(f->v[k]) > top) top = fabs(f->v[k]);
        }
        attend_heatmap h = {0};
        h.title = f->title;
        h.subtitle = f->shape;
        h.rows = f->rows;
        h.cols = f->cols;
        h.values = vals;
        h.row_names = f->row_names;
        h.row_dim = f->row_dim;
        h.col_names = f->col_names;
        h.col_dim = f->col_dim;
        h.index_base = 1;
        h.cmap = f->weights ? ATTEND_CMAP_VIRIDIS : ATTEND_CMAP_DIVERGING;
        h.vmin = f->weights ? 0 : -(top > 0 ? top : 1);
        h.vmax = f->weights ? 1 : (top > 0 ? top : 1);
        h.value_label = f->weights ? "weight" : "value";
        // narrow cells for wide matrices, so a row of E values stays on screen
        double cw = 640.0 / (double)f->cols;
        h.cell_w = cw > 16 ? 16 : cw < 3 ? 3 : cw;
        h.cell = f->rows > 40 ? 8 : 14;
        if (f->weights && f->cols <= 32) {
            h.cell_w = 30;
            h.cell = 22;
            h.annotate_fmt = "%.2f";
        }
        h.tooltips = n <= 1024; /* a <title> per cell: kept for the small ones */
        attend_svg_heatmap(b, &h, "attend-step");
        free(vals);
    }
    if (f->caption) {
        attend_buf_puts(b, "<figcaption>");
        attend_buf_escape(b, f->caption);
        attend_buf_puts(b, "</figcaption>\n");
    }
    attend_buf_puts(b, "</figure>\n");
}

/* A figure of one row named name, as a (1, n) matrix. */
static void draw_vec(attend_buf *b, const char *title, const char *shape, const char *name,
                     const double *v, size_t n) {
    const char *rn[1] = {name};
    figure f = {title, shape, NULL, v, 1, n, rn, NULL, NULL, NULL, 0};
    draw(b, &f);
}

/* A (rows, cols) float weight matrix of the model. */
static void draw_weights(attend_buf *b, const char *title, const char *shape, const float *w, size_t rows,
                         size_t cols, const char *caption) {
    if (rows * cols > MAX_CELLS) {
        figure f = {title, shape, caption, NULL, rows, cols, NULL, NULL, NULL, NULL, 0};
        draw(b, &f);
        return;
    }
    double *v = malloc(rows * cols * sizeof(double));
    if (!v) {
        b->failed = 1;
        return;
    }
    for (size_t k = 0; k < rows * cols; k++) v[k] = (double)w[k];
    figure f = {title, shape, caption, v, rows, cols, NULL, NULL, NULL, NULL, 0};
    draw(b, &f);
    free(v);
}

static void para(attend_buf *b, const char *text) {
    attend_buf_puts(b, "<p class=\"note\">");
    attend_buf_escape(b, text);
    attend_buf_puts(b, "</p>\n");
}

static void section(attend_buf *b, const char *title, const char *text) {
    attend_buf_puts(b, "<h2>");
    attend_buf_escape(b, title);
    attend_buf_puts(b, "</h2>\n");
    if (text) para(b, text);
}

/* Row names "j token" for the T tokens (names[t] points into store). */
static char **token_names(const attend_stepwise *sw) {
    char **names = calloc(sw->T, sizeof(char *));
    for (size_t t = 0; names && t < sw->T; t++) {
        size_t n = strlen(sw->tokens[t]) + 24;
        if (!(names[t] = malloc(n))) {
            for (size_t u = 0; u < t; u++) free(names[u]);
            free(names);
            return NULL;
        }
        snprintf(names[t], n, "%zu %.40s", t + 1, sw->tokens[t]);
    }
    return names;
}

static void free_names(char **names, size_t n) {
    if (names)
        for (size_t t = 0; t < n; t++) free(names[t]);
    free(names);
}

static void page_input(attend_buf *b, const attend_stepwise *sw, const char *const *names) {
    const size_t T = sw->T, E = sw->E;
    char shape[96], title[96];
    section(b, "1. The input", "Each token enters the layer as a row of E numbers; the T rows form X. "
                               "Row i is the query token's.");
    attend_buf_puts(b, "<div class=\"row\">\n");
    snprintf(shape, sizeof shape, "X: T x E = %zu x %zu", T, E);
    snprintf(title, sizeof title, "Input of layer %zu", sw->layer + 1);
    figure x = {title, shape, NULL, sw->x, T, E, names, sw->masked, NULL, NULL, 0};
    x.caption = sw->layer == 0 ? "The embedding row of each token plus the row of its position."
                               : "What the previous layer wrote.";
    draw(b, &x);
    if (sw->norm_first) {
        snprintf(shape, sizeof shape, "A = norm1(X): T x E = %zu x %zu", T, E);
        figure a = {"What attention reads", shape,
                    "A pre-norm layer normalises each row first: minus its mean, over sqrt(variance + eps), "
                    "times norm1.weight plus norm1.bias.",
                    sw->a, T, E, names, sw->masked, NULL, NULL, 0};
        draw(b, &a);
    }
    attend_buf_puts(b, "</div>\n");
}

static void page_projections(attend_buf *b, const attend_stepwise *sw, const char *const *names) {
    const size_t T = sw->T, E = sw->E, D = sw->D, h = sw->head, i = sw->token;
    char shape[96], text[400];
    snprintf(text, sizeof text,
             "Head %zu owns rows %zu to %zu of W_q, W_k and W_v (and of their biases): a D x E slice "
             "each. The query q = a_%zu W_q^T + b_q says what token %zu looks for; each token's key k_j "
             "= a_j W_k^T + b_k is what queries match against, and its value v_j = a_j W_v^T + b_v what it "
             "passes on.",
             h + 1, h * D + 1, (h + 1) * D, i + 1, i + 1);
    section(b, "2. Query, keys and values of the head", text);
    attend_buf_puts(b, "<div class=\"row\">\n");
    snprintf(shape, sizeof shape, "D x E = %zu x %zu", D, E);
    draw_weights(b, "W_q, head's rows", shape, sw->w_q, D, E, NULL);
    draw_weights(b, "W_k, head's rows", shape, sw->w_k, D, E, NULL);
    draw_weights(b, "W_v, head's rows", shape, sw->w_v, D, E, NULL);
    attend_buf_puts(b, "</div>\n<div class=\"row\">\n");
    snprintf(shape, sizeof shape, "q: 1 x D = 1 x %zu", D);
    draw_vec(b, "Query of the token", shape, "q", sw->q, D);
    snprintf(shape, sizeof shape, "K: T x D = %zu x %zu", T, D);
    figure k = {"Keys", shape, NULL, sw->k, T, D, names, sw->masked, NULL, NULL, 0};
    draw(b, &k);
    snprintf(shape, sizeof shape, "V: T x D = %zu x %zu", T, D);
    figure v = {"Values", shape, NULL, sw->v, T, D, names, sw->masked, NULL, NULL, 0};
    draw(b, &v);
    attend_buf_puts(b, "</div>\n");
}

static void page_softmax(attend_buf *b, const attend_stepwise *sw, const char *const *names) {
    const size_t T = sw->T, D = sw->D;
    char shape[96], text[400];
    snprintf(text, sizeof text,
             "score_j = q . k_j, scaled by 1/sqrt(D) = 1/sqrt(%zu) = %.6f so that scores do not grow with "
             "D; a masked key gets -inf (grey); softmax turns the scaled scores into weights that sum to 1.",
             D, sw->scale);
    section(b, "3. Scores, scaling, mask and softmax", text);
    attend_buf_puts(b, "<div class=\"row\">\n");
    snprintf(shape, sizeof shape, "1 x T = 1 x %zu", T);
    static const char *const rn[3] = {"score", "scaled", "weight"};
    figure sc = {"Scores q . k_j", shape, NULL, sw->score, 1, T, rn, NULL, names, sw->masked, 0};
    draw(b, &sc);
    figure ss = {"Scaled scores", shape, NULL, sw->scaled, 1, T, rn + 1, NULL, names, sw->masked, 0};
    draw(b, &ss);
    figure w = {"Weights (softmax)", shape, NULL, sw->weights, 1, T, rn + 2, NULL, names, sw->masked, 1};
    draw(b, &w);
    attend_buf_puts(b, "</div>\n");
    char (*cells)[6][64] = malloc(T * sizeof *cells);
    const char **cp = malloc(6 * T * sizeof(char *));
    if (!cells || !cp) {
        b->failed = 1;
    } else {
        double sum = 0;
        for (size_t j = 0; j < T; j++) {
            snprintf(cells[j][0], 64, "%zu", j + 1);
            snprintf(cells[j][1], 64, "%.40s", sw->tokens[j]);
            snprintf(cells[j][2], 64, "%.6f", sw->score[j]);
            snprintf(cells[j][3], 64, isfinite(sw->scaled[j]) ? "%.6f" : "-inf", sw->scaled[j]);
            snprintf(cells[j][4], 64, "%s", sw->masked[j] ? "yes" : "no");
            snprintf(cells[j][5], 64, "%.6f", sw->weights[j]);
            for (int c = 0; c < 6; c++) cp[6 * j + c] = cells[j][c];
            sum += sw->weights[j];
        }
        static const char *hdr[6] = {"j", "token", "q . k_j", "x 1/sqrt(D)", "masked", "weight"};
        attend_html_table(b, "attend-table", 6, hdr, T, cp, "rlrrlr");
        snprintf(text, sizeof text, "The weights sum to %.6f. %s", sum,
                 sw->n_real == T ? "No key is masked: a single text has no padding, and an encoder lets every "
                                   "token see every other."
                                 : "The padding keys are masked: the text is one row of a padded batch, and "
                                   "masking gives it the weights of the text alone.");
        para(b, text);
    }
    free(cells);
    free(cp);
}

static void page_heads(attend_buf *b, const attend_stepwise *sw, const char *const *names) {
    const size_t T = sw->T, E = sw->E, D = sw->D, H = sw->H;
    char shape[96];
    section(b, "4. The weighted sum, every head, the output projection",
            "The head's output o = sum_j w_j v_j mixes the values in the proportions of the weights. "
            "Every head does the same with its own slices; side by side their outputs make c, "
            "H x D = E numbers, which the output projection attn = c W_o^T + b_o mixes.");
    attend_buf_puts(b, "<div class=\"row\">\n");
    snprintf(shape, sizeof shape, "o: 1 x D = 1 x %zu", D);
    draw_vec(b, "Head output", shape, "o", sw->head_out, D);
    char **hn = calloc(H, sizeof(char *));
    char (*hs)[32] = malloc(H * sizeof *hs);
    if (!hn || !hs) {
        b->failed = 1;
    } else {
        for (size_t g = 0; g < H; g++) {
            snprintf(hs[g], 32, "head %zu", g + 1);
            hn[g] = hs[g];
        }
        snprintf(shape, sizeof shape, "H x T = %zu x %zu", H, T);
        figure w = {"Every head's weights for the token", shape, NULL, sw->all_weights, H, T,
                    (const char *const *)hn, NULL, names, sw->masked, 1};
        draw(b, &w);
        snprintf(shape, sizeof shape, "H x D = %zu x %zu", H, D);
        figure o = {"Every head's output", shape, "Row h is head h's o; read row after row, they are c.",
                    sw->concat, H, D, (const char *const *)hn, NULL, NULL, NULL, 0};
        draw(b, &o);
    }
    free(hn);
    free(hs);
    attend_buf_puts(b, "</div>\n<div class=\"row\">\n");
    snprintf(shape, sizeof shape, "c: 1 x E = 1 x %zu", E);
    draw_vec(b, "Concatenation", shape, "c", sw->concat, E);
    snprintf(shape, sizeof shape, "E x E = %zu x %zu", E, E);
    draw_weights(b, "W_o", shape, sw->w_o, E, E, NULL);
    snprintf(shape, sizeof shape, "attn: 1 x E = 1 x %zu", E);
    draw_vec(b, "Attention output", shape, "attn", sw->attn_out, E);
    attend_buf_puts(b, "</div>\n");
}

static void page_rest(attend_buf *b, const attend_stepwise *sw) {
    const size_t E = sw->E, F = sw->F, i = sw->token;
    char shape[96], text[600];
    const char *act = sw->activation == ATTEND_ACT_GELU ? "gelu" : "relu";
    if (!sw->norm_first)
        snprintf(text, sizeof text,
                 "The residual connection adds attention's result to the input, r = x_%zu + attn; norm1 "
                 "rescales it, n = norm1(r); the feed-forward network works on each token alone, "
                 "h = %s(n W_1^T + b_1) and f = h W_2^T + b_2; a second residual and norm2 give the "
                 "layer's output, y = norm2(n + f).", i + 1, act);
    else
        snprintf(text, sizeof text,
                 "The residual connection adds attention's result to the input, r = x_%zu + attn; norm2 "
                 "rescales it for the feed-forward network, n = norm2(r); h = %s(n W_1^T + b_1) and "
                 "f = h W_2^T + b_2; a second residual gives the layer's output, y = r + f (pre-norm "
                 "layers leave it unnormalised).", i + 1, act);
    section(b, "5. The rest of the layer", text);
    double *rows = malloc(6 * E * sizeof(double));
    if (!rows) {
        b->failed = 1;
        return;
    }
    memcpy(rows, sw->x + i * E, E * sizeof(double));
    memcpy(rows + E, sw->attn_out, E * sizeof(double));
    memcpy(rows + 2 * E, sw->resid1, E * sizeof(double));
    memcpy(rows + 3 * E, sw->ff_in, E * sizeof(double));
    memcpy(rows + 4 * E, sw->ff_out, E * sizeof(double));
    memcpy(rows + 5 * E, sw->out, E * sizeof(double));
    static const char *const names[6] = {"x (input)", "attn", "r = x + attn", "n", "f", "y (output)"};
    attend_buf_puts(b, "<div class=\"row\">\n");
    snprintf(shape, sizeof shape, "6 vectors of 1 x E = 1 x %zu", E);
    figure f = {"The token's vectors through the layer", shape, NULL, rows, 6, E, names, NULL, NULL, NULL, 0};
    draw(b, &f);
    snprintf(shape, sizeof shape, "h: 1 x F = 1 x %zu", F);
    draw_vec(b, "Feed-forward hidden layer", shape, "h", sw->ff_hidden, F);
    attend_buf_puts(b, "</div>\n");
    free(rows);
}

static void page_check(attend_buf *b, const attend_stepwise *sw) {
    char text[300];
    snprintf(text, sizeof text,
             "attend's forward pass (optimised kernels, in float) computes the same layer; this page's "
             "arithmetic (plain loops, in double) %s it. Largest difference of each step:",
             attend_stepwise_matches(sw) ? "reproduces" : "does NOT reproduce");
    section(b, "6. Checked against the model", text);
    char cells[ATTEND_STEPWISE_MAX_CHECKS][3][48];
    const char *cp[3 * ATTEND_STEPWISE_MAX_CHECKS];
    for (size_t c = 0; c < sw->n_checks; c++) {
        snprintf(cells[c][0], 48, "%s", sw->checks[c].what);
        snprintf(cells[c][1], 48, "%.2e", sw->checks[c].max_diff);
        snprintf(cells[c][2], 48, "%s", sw->checks[c].ok ? "yes" : "NO");
        for (int k = 0; k < 3; k++) cp[3 * c + k] = cells[c][k];
    }
    static const char *hdr[3] = {"step", "max |difference|", "within tolerance"};
    attend_html_table(b, "attend-table", 3, hdr, sw->n_checks, cp, "lrl");
}

attend_status attend_stepwise_write_html(const char *path, const attend_stepwise *sw,
                                         const char *text, attend_error *err) {
    attend_buf b;
    attend_buf_init(&b);
    char **names = token_names(sw);
    if (!names) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory writing %s", path);
    const char *const *nm = (const char *const *)names;
    attend_html_begin(&b, "attend explain");
    attend_buf_puts(&b, "<h1>Attention step by step</h1>\n<p class=\"text\">\xE2\x80\x9C");
    attend_buf_escape(&b, text);
    attend_buf_printf(&b, "\xE2\x80\x9D</p>\n<p class=\"lead\">Layer %zu of %zu, head %zu of %zu, query token %zu "
                          "of %zu (\xE2\x80\x9C",
                      sw->layer + 1, sw->L, sw->head + 1, sw->H, sw->token + 1, sw->n_real);
    attend_buf_escape(&b, sw->tokens[sw->token]);
    attend_buf_printf(&b, "\xE2\x80\x9D). Sizes: B = 1 text, T = %zu tokens, E = %zu values per token, H = %zu "
                          "heads, D = E / H = %zu per head, F = %zu in the feed-forward; a %s layer.</p>\n",
                      sw->T, sw->E, sw->H, sw->D, sw->F, sw->norm_first ? "pre-norm" : "post-norm");
    page_input(&b, sw, nm);
    page_projections(&b, sw, nm);
    page_softmax(&b, sw, nm);
    page_heads(&b, sw, nm);
    page_rest(&b, sw);
    page_check(&b, sw);
    attend_html_end(&b);
    free_names(names, sw->T);
    attend_status st = attend_buf_write_file(&b, path, err);
    attend_buf_free(&b);
    return st;
}
