/* The library side of attend's pictures: XML escaping, colour maps, tick
 * placement, heatmap/plot SVG structure, attention weights of one text
 * (attend_explain: shapes, tokens, rows summing to 1, the same probabilities
 * as attend_classify), per-head statistics (bounds; head masking leaves the
 * model unchanged), the recreated initial positional table, and that
 * pictures are written atomically. */
#include "viz/compare.h"
#include "viz/explain.h"
#include "viz/report.h"
#include "viz/svg.h"
#include "test.h"
#include "test_tmp.h"
#include "base/rng.h"
#include "base/util.h"

#include <dirent.h>
#include <unistd.h>

static size_t count_of(const char *s, const char *needle) {
    size_t n = 0;
    for (const char *p = strstr(s, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

static void test_escape(void) {
    attend_buf b;
    attend_buf_init(&b);
    attend_buf_escape(&b, "<a href=\"x\">Tom & 'Jerry'</a>\x01\tok");
    CHECK(strcmp(b.s, "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;\xEF\xBF\xBD\tok") == 0,
          "escaped: %s", b.s);
    attend_buf_free(&b);
    attend_buf_init(&b);
    for (int i = 0; i < 5000; i++) attend_buf_printf(&b, "%d,", i % 10);
    CHECK(b.len == 10000 && !b.failed, "buffer grows: %zu bytes", b.len);
    attend_buf_free(&b);
    CHECK(attend_utf8_chars("stra\xC3\x9F" "e \xE2\x96\x88") == 8, "code points counted");
}

static void test_colormaps(void) {
    char hex[8];
    attend_cmap_hex(ATTEND_CMAP_VIRIDIS, 0, 0, 1, hex);
    CHECK(strcmp(hex, "#440154") == 0, "viridis(0) = %s", hex);
    attend_cmap_hex(ATTEND_CMAP_VIRIDIS, 1, 0, 1, hex);
    CHECK(strcmp(hex, "#fde725") == 0, "viridis(1) = %s", hex);
    attend_cmap_hex(ATTEND_CMAP_VIRIDIS, 0.5, 0, 1, hex);
    CHECK(strcmp(hex, "#21918c") == 0, "viridis(0.5) = %s", hex);
    attend_cmap_hex(ATTEND_CMAP_VIRIDIS, 7, 0, 1, hex);
    CHECK(strcmp(hex, "#fde725") == 0, "values past vmax clamp: %s", hex);
    attend_cmap_hex(ATTEND_CMAP_DIVERGING, 0, -1, 1, hex);
    CHECK(strcmp(hex, "#f7f7f7") == 0, "diverging middle is near white: %s", hex);
    attend_cmap_hex(ATTEND_CMAP_DIVERGING, -1, -1, 1, hex);
    CHECK(strcmp(hex, "#053061") == 0, "diverging low is dark blue: %s", hex);
    attend_cmap_hex(ATTEND_CMAP_DIVERGING, 1, -1, 1, hex);
    CHECK(strcmp(hex, "#67001f") == 0, "diverging high is dark red: %s", hex);
    // viridis gets lighter all the way (what makes it readable in grey)
    double last = -1;
    int mono = 1;
    for (int i = 0; i <= 100; i++) {
        unsigned char c[3];
        attend_cmap_rgb(ATTEND_CMAP_VIRIDIS, i / 100.0, c);
        double lum = 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
        mono &= lum > last;
        last = lum;
    }
    CHECK(mono, "viridis luminance increases monotonically");
}

static void test_ticks(void) {
    double t[32], step;
    size_t n = attend_nice_ticks(0, 1, 5, t, 32, &step);
    CHECK(n == 6 && fabs(step - 0.2) < 1e-12 && t[0] == 0 && fabs(t[5] - 1) < 1e-12, "ticks of [0,1]: %zu, step %g", n,
          step);
    n = attend_nice_ticks(0.13, 0.87, 5, t, 32, &step);
    CHECK(n >= 3 && t[0] >= 0.13 && t[n - 1] <= 0.87, "ticks inside the range: %zu from %g to %g", n, t[0], t[n - 1]);
    n = attend_nice_ticks(-3, 3, 5, t, 32, &step);
    int has_zero = 0;
    for (size_t i = 0; i < n; i++) has_zero |= t[i] == 0.0;
    CHECK(has_zero, "a symmetric range has a tick at exactly 0");
    n = attend_nice_ticks(5, 5, 5, t, 32, &step);
    CHECK(n >= 1, "an empty range still gets ticks");
}

static void test_svg_pictures(void) {
    float v[6] = {0, 0.5f, 1, NAN, 0.25f, 0.75f};
    const char *rows[2] = {"r<1>", "r2"}, *cols[3] = {"a", "b&c", "d"};
    attend_heatmap h = {0};
    h.title = "T";
    h.x_label = "x";
    h.y_label = "y";
    h.value_label = "v";
    h.rows = 2;
    h.cols = 3;
    h.values = v;
    h.row_names = rows;
    h.col_names = cols;
    h.vmax = 1;
    h.tooltips = 1;
    h.annotate_fmt = "%.2f";
    attend_buf b;
    attend_buf_init(&b);
    attend_svg_heatmap(&b, &h, "extra");
    CHECK(!b.failed && strstr(b.s, "class=\"attend-heatmap extra\""), "heatmap class");
    CHECK(strstr(b.s, "r&lt;1&gt;") && strstr(b.s, "b&amp;c") && !strstr(b.s, "b&c"), "labels escaped");
    CHECK(count_of(b.s, "<svg") == 1 && count_of(b.s, "</svg>") == 1, "one svg element");
    CHECK(count_of(b.s, "<title>") == 1 + 6, "a title plus one tooltip per cell: %zu", count_of(b.s, "<title>"));
    CHECK(strstr(b.s, "fill=\"#dddddd\"") != NULL, "NaN cells are grey");
    CHECK(strstr(b.s, ">.50<") != NULL, "cell values written, without the leading 0");
    attend_buf_free(&b);

    double x[3] = {1, 2, 4}, y[3] = {0.5, 0.6, 0.7}, e[3] = {0.01, 0.02, 0};
    attend_series s[2] = {{"one", 3, x, y, e, 0}, {"two", 3, x, y, NULL, 1}};
    attend_plot p = {0};
    p.title = "P";
    p.x_label = "heads";
    p.y_label = "acc";
    p.series = s;
    p.n_series = 2;
    p.x_log2 = 1;
    p.ymin = NAN;
    p.ymax = NAN;
    attend_buf_init(&b);
    attend_svg_plot(&b, &p);
    CHECK(!b.failed && strstr(b.s, "class=\"attend-plot\""), "plot class");
    CHECK(count_of(b.s, "<polyline") == 2, "one line per series");
    CHECK(count_of(b.s, "class=\"attend-series\"") == 2, "series groups");
    CHECK(count_of(b.s, "stroke-dasharray") >= 2, "second series dashed (line and legend)");
    CHECK(strstr(b.s, ">4</text>") && strstr(b.s, ">2</text>"), "log2 axis ticks at the data's x");
    attend_buf_free(&b);
}

/* ---- a small model ---- */

static const char *words[] = {"alpha", "beta", "gamma", "delta", "eps"};
static const char *labels[] = {"no", "yes"};

static attend_model *small_model(attend_pool_kind pool, uint64_t seed) {
    attend_vocab_counter c;
    attend_vocab v;
    attend_error err = {0};
    if (attend_vocab_counter_init(&c, &err)) return NULL;
    for (size_t i = 0; i < 5; i++)
        for (size_t r = 0; r < 5 - i; r++) attend_vocab_counter_add(&c, words[i], strlen(words[i]), &err);
    attend_status st = attend_vocab_build(&v, &c, 1, 0, &err);
    attend_vocab_counter_free(&c);
    if (st) return NULL;
    attend_model_config cfg;
    attend_model_config_default(&cfg);
    cfg.vocab_size = attend_vocab_size(&v);
    cfg.num_classes = 2;
    cfg.d_model = 8;
    cfg.nhead = 2;
    cfg.num_layers = 2;
    cfg.dim_feedforward = 16;
    cfg.max_len = 6;
    cfg.pool = pool;
    attend_model *m = NULL;
    attend_tokenizer *tok = NULL;
    if (attend_tokenizer_words_new(&tok, &v, &err) ||
        attend_model_create(&m, &cfg, tok, (char *const *)labels, &err)) {
        fprintf(stderr, "model: %s\n", err.msg);
        return NULL;
    }
    attend_model_init_weights(m, seed);
    return m;
}

static void test_explain(attend_pool_kind pool) {
    attend_model *m = small_model(pool, 3);
    CHECK(m != NULL, "model created");
    if (!m) return;
    const int cls = pool == ATTEND_POOL_CLS;
    const char *text = "Alpha beta zeta gamma";
    attend_explanation ex;
    attend_error err = {0};
    attend_status st = attend_explain(m, text, strlen(text), &ex, &err);
    CHECK(st == ATTEND_OK, "explain: %s", err.msg);
    if (st) {
        attend_model_free(m);
        return;
    }
    CHECK(ex.T == 4 + (size_t)cls && ex.L == 2 && ex.H == 2 && ex.K == 2, "shapes T %zu L %zu H %zu K %zu", ex.T,
          ex.L, ex.H, ex.K);
    CHECK(!cls || strcmp(ex.tokens[0], "<cls>") == 0, "<cls> first with cls pooling");
    CHECK(strcmp(ex.tokens[cls], "alpha") == 0 && strcmp(ex.tokens[cls + 2], "zeta") == 0,
          "normalised token strings: %s %s", ex.tokens[cls], ex.tokens[cls + 2]);
    CHECK(ex.unknown[cls + 2] == 1 && ex.unknown[cls] == 0 && (!cls || ex.unknown[0] == 0),
          "zeta is outside the vocabulary, alpha and <cls> are not");
    double worst = 0;
    for (size_t l = 0; l < ex.L; l++)
        for (size_t h = 0; h < ex.H; h++)
            for (size_t i = 0; i < ex.T; i++) {
                double s = 0;
                for (size_t j = 0; j < ex.T; j++) s += attend_explanation_at(&ex, l, h, i, j);
                worst = fabs(s - 1) > worst ? fabs(s - 1) : worst;
            }
    CHECK(worst < 1e-5, "every attention row sums to 1 (worst |sum - 1| = %g)", worst);
    float probs[2];
    size_t nt = 0;
    attend_context *ctx = NULL;
    st = attend_context_new(&ctx, m, &err);
    if (!st) st = attend_classify(m, ctx, text, strlen(text), probs, &nt, &err);
    attend_context_free(ctx);
    CHECK(st == ATTEND_OK && fabsf(probs[0] - ex.probs[0]) < 1e-6f && fabsf(probs[1] - ex.probs[1]) < 1e-6f,
          "same probabilities as attend_classify (%g %g vs %g %g)", (double)probs[0], (double)probs[1],
          (double)ex.probs[0], (double)ex.probs[1]);
    CHECK(ex.predicted == (ex.probs[1] > ex.probs[0]), "predicted is the argmax");
    size_t keys[8];
    float w[8];
    size_t n = attend_explanation_top_keys(&ex, 1, 1, 8, keys, w);
    double sum = 0;
    for (size_t k = 0; k < n; k++) sum += w[k];
    CHECK(n == ex.T && fabs(sum - 1) < 1e-5 && w[0] >= w[n - 1], "top keys: all %zu, mean weights sum to 1 (%g)", n,
          sum);
    // the pictures of it
    attend_buf b;
    attend_buf_init(&b);
    attend_svg_model_view(&b, &ex, "model view");
    CHECK(!b.failed && strstr(b.s, "attend-model-view") && count_of(b.s, "<rect") >= 4 * ex.T * ex.T,
          "model view has every cell of the 4 maps");
    attend_buf_free(&b);
    attend_buf_init(&b);
    attend_svg_head_view(&b, &ex, 1, 0, "one head");
    CHECK(!b.failed && strstr(b.s, "layer 2, head 1") && !strstr(b.s, "layer 2, head 2"), "head view of one head");
    attend_buf_free(&b);
    attend_explanation_free(&ex);
    // cut at max_len (6): the token count of the whole text is kept
    const char *longer = "alpha beta gamma delta eps alpha beta gamma";
    st = attend_explain(m, longer, strlen(longer), &ex, &err);
    CHECK(st == ATTEND_OK && ex.T == 6 && ex.n_text_tokens == 8, "long text cut at max_len: T %zu of %zu", ex.T,
          ex.n_text_tokens);
    attend_explanation_free(&ex);
    st = attend_explain(m, " .", 0, &ex, &err);
    CHECK(st == ATTEND_ERR_ARG && ex.tokens == NULL, "a text without tokens is an argument error");
    st = attend_explain(m, "a\xff", 2, &ex, &err);
    CHECK(st == ATTEND_ERR_FORMAT, "invalid UTF-8 is a format error");
    attend_model_free(m);
}

static void test_head_stats(void) {
    attend_model *m = small_model(ATTEND_POOL_MEAN, 5);
    CHECK(m != NULL, "model created");
    if (!m) return;
    // 5 texts of ids (3.. = the words), labels alternate
    int32_t ids[] = {3, 4, 5, 3, 6, 7, 4, 4, 5, 6, 7, 3, 3, 4, 5, 6, 7};
    size_t off[] = {0, 3, 5, 9, 13}, len[] = {3, 2, 4, 4, 4}, line[] = {1, 2, 3, 4, 5};
    int32_t lab[] = {0, 1, 0, 1, 0};
    attend_encoded enc = {ids, off, len, lab, line, 5, 4, 0};
    const size_t P = m->layout.total;
    float *before = malloc(P * sizeof(float));
    memcpy(before, m->params, P * sizeof(float));
    attend_head_stats hs;
    attend_error err = {0};
    attend_status st = attend_head_stats_compute(m, &enc, 0, 1, &hs, &err);
    CHECK(st == ATTEND_OK, "head stats: %s", err.msg);
    if (st == ATTEND_OK) {
        CHECK(hs.L == 2 && hs.H == 2 && hs.n_examples == 5 && hs.n_queries == 17, "sizes L %zu H %zu n %zu q %zu",
              hs.L, hs.H, hs.n_examples, hs.n_queries);
        int ok = 1;
        for (size_t k = 0; k < 4; k++) {
            ok &= hs.entropy[k] >= 0 && hs.entropy[k] <= hs.uniform_entropy + 1e-9;
            ok &= hs.distance[k] >= 0 && hs.distance[k] <= 3.0;
            ok &= isfinite(hs.acc_drop[k]) && isfinite(hs.loss_rise[k]);
        }
        CHECK(ok, "entropy within [0, uniform %g], distance within [0, 3], importance finite", hs.uniform_entropy);
        CHECK(hs.has_importance && hs.base_accuracy >= 0 && hs.base_accuracy <= 1, "importance measured");
        // uniform baseline by hand: queries of texts of n tokens score log2(n)
        double ue = (3 * log2(3) + 2 * log2(2) + 12 * log2(4)) / 17;
        CHECK_NEAR(hs.uniform_entropy, ue, 1e-9, "uniform entropy");
    }
    CHECK(memcmp(before, m->params, P * sizeof(float)) == 0, "masking heads leaves the model's weights unchanged");
    attend_head_stats_free(&hs);
    // a subset
    st = attend_head_stats_compute(m, &enc, 2, 0, &hs, &err);
    CHECK(st == ATTEND_OK && hs.n_examples == 2 && !hs.has_importance, "subset of 2 without importance");
    attend_head_stats_free(&hs);
    free(before);
    attend_model_free(m);
}

static void test_initial_pos(void) {
    attend_model *m = small_model(ATTEND_POOL_MEAN, 99); /* trained weights stand-in */
    attend_model *ref = small_model(ATTEND_POOL_MEAN, attend_seed_child(5, 12));
    CHECK(m && ref, "models created");
    if (!m || !ref) goto done;
    const size_t n = m->cfg.max_len * m->cfg.d_model;
    float *got = malloc(n * sizeof(float));
    attend_error err = {0};
    CHECK(attend_model_initial_pos(m, got, &err) == ATTEND_ERR_ARG, "no provenance, no seed: an error");
    m->meta_provenance = attend_strdup("{\"data\":\"x\",\"seed\":5,\"threads\":1}");
    CHECK(attend_model_initial_pos(m, got, &err) == ATTEND_OK, "initial pos: %s", err.msg);
    CHECK(memcmp(got, ref->p.pos_emb, n * sizeof(float)) == 0, "the table of init_weights(seed_child(seed, 12))");
    CHECK(memcmp(got, m->p.pos_emb, n * sizeof(float)) != 0, "and not the model's current table");
    free(got);
done:
    attend_model_free(m);
    attend_model_free(ref);
}

static void test_compare_summary(void) {
    attend_compare_run runs[4] = {{0}};
    double acc[4] = {0.5, 0.7, 0.8, 0.8};
    for (int i = 0; i < 4; i++) {
        runs[i].heads = i < 2 ? 1 : 4;
        runs[i].pos = ATTEND_POS_LEARNED;
        runs[i].val_accuracy = acc[i];
        runs[i].seconds = 1;
    }
    attend_compare_row *rows;
    size_t n;
    attend_error err = {0};
    CHECK(attend_compare_summarise(runs, 4, &rows, &n, &err) == ATTEND_OK && n == 2, "two configurations");
    if (n == 2) {
        CHECK_NEAR(rows[0].acc_mean, 0.6, 1e-12, "mean accuracy");
        CHECK_NEAR(rows[0].acc_std, sqrt(0.02), 1e-12, "sample standard deviation");
        CHECK_NEAR(rows[1].acc_std, 0.0, 1e-12, "no spread");
        attend_buf b;
        attend_buf_init(&b);
        attend_compare_markdown(&b, rows, n);
        CHECK(strstr(b.s, "| 1 | learned | 2 |") && strstr(b.s, "60.00 \xC2\xB1 14.14"), "markdown table:\n%s", b.s);
        attend_buf_free(&b);
    }
    free(rows);
}

/* Configurations of one encoding with accuracy means and spreads (3 seeds). */
static void rows_of(attend_compare_row *rows, size_t n, const size_t *heads, const double *acc, const double *sd) {
    memset(rows, 0, n * sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        rows[i].heads = heads[i];
        rows[i].pos = ATTEND_POS_LEARNED;
        rows[i].n_runs = 3;
        rows[i].acc_mean = acc[i];
        rows[i].acc_std = sd[i];
        rows[i].curve_mean = NAN;
        rows[i].curve_std = NAN;
    }
}

/* The plain-words sentences come from the numbers: differences in points and
 * in pooled standard deviations, and which side of twice the spread they are. */
static void test_compare_verdict(void) {
    const size_t heads[4] = {1, 2, 4, 8};
    attend_compare_row rows[4];
    attend_buf b;
    /* one head 0.60 +/- 0.10, best of several (4 heads) 0.90 +/- 0.02: 30 points, 4.2 pooled sd */
    rows_of(rows, 4, heads, (const double[]){0.60, 0.85, 0.90, 0.88}, (const double[]){0.10, 0.03, 0.02, 0.01});
    attend_buf_init(&b);
    attend_compare_verdict(&b, rows, 4, 0);
    CHECK(b.s && strstr(b.s, "ranges from 60.00 \xC2\xB1 10.00% (1 head) to 90.00 \xC2\xB1 2.00% (4 heads): +30.00 points"),
          "range: %s", b.s ? b.s : "");
    CHECK(b.s && strstr(b.s, "(4 heads, 90.00 \xC2\xB1 2.00%) against one head (60.00 \xC2\xB1 10.00%): +30.00 points "
                             "(4.2 pooled standard deviations over the seeds: larger than the spread between seeds), "
                             "so several heads helped here."),
          "one against several: %s", b.s ? b.s : "");
    attend_buf_free(&b);
    /* 0.2 points apart with sd 0.15: within the spread */
    rows_of(rows, 4, heads, (const double[]){0.826, 0.8262, 0.825, 0.822}, (const double[]){0.0015, 0.0015, 0.0014, 0.001});
    attend_buf_init(&b);
    attend_compare_verdict(&b, rows, 4, 0);
    CHECK(b.s && strstr(b.s, "+0.02 points (0.1 pooled standard deviations over the seeds: within the spread between "
                             "seeds), so this does not show that several heads help here."),
          "within the spread: %s", b.s ? b.s : "");
    attend_buf_free(&b);
    /* one head better by more than twice the spread */
    rows_of(rows, 2, heads, (const double[]){0.80, 0.70}, (const double[]){0.01, 0.01});
    attend_buf_init(&b);
    attend_compare_verdict(&b, rows, 2, 0);
    CHECK(b.s && strstr(b.s, "-10.00 points") && strstr(b.s, "so one head did better here."), "worse: %s", b.s ? b.s : "");
    attend_buf_free(&b);
    /* everything at 100% in every seed */
    rows_of(rows, 4, heads, (const double[]){1, 1, 1, 1}, (const double[]){0, 0, 0, 0});
    attend_buf_init(&b);
    attend_compare_verdict(&b, rows, 4, 0);
    CHECK(b.s && strstr(b.s, "every configuration scored 100.00% in every seed, so it does not separate them") &&
              !strstr(b.s, "helped"),
          "all equal: %s", b.s ? b.s : "");
    attend_buf_free(&b);
    /* no curves: no sentence about them; with curves, the same words for them */
    attend_buf_init(&b);
    attend_compare_verdict(&b, rows, 4, 1);
    CHECK(b.len == 0, "no curves, no sentence: %s", b.s ? b.s : "");
    attend_buf_free(&b);
    rows[0].curve_mean = 0.5, rows[0].curve_std = 0.05;
    rows[1].curve_mean = 0.8, rows[1].curve_std = 0.05;
    attend_buf_init(&b);
    attend_compare_verdict(&b, rows, 2, 1);
    CHECK(b.s && strstr(b.s, "averaged over the epochs") && strstr(b.s, "+30.00 points (6.0 pooled") &&
              strstr(b.s, "several heads helped"),
          "curves: %s", b.s ? b.s : "");
    attend_buf_free(&b);
    /* one seed: no spread to compare with, no verdict either way */
    rows_of(rows, 2, heads, (const double[]){0.5, 0.9}, (const double[]){0, 0});
    rows[0].n_runs = rows[1].n_runs = 1;
    attend_buf_init(&b);
    attend_compare_verdict(&b, rows, 2, 0);
    CHECK(b.s && strstr(b.s, "one seed: no spread") && strstr(b.s, "does not show"), "one seed: %s", b.s ? b.s : "");
    attend_buf_free(&b);
    /* the winner: the best with more than one head; without one, the best */
    rows_of(rows, 4, heads, (const double[]){0.95, 0.85, 0.90, 0.90}, (const double[]){0, 0, 0, 0});
    rows[2].loss_mean = 0.3;
    rows[3].loss_mean = 0.2;
    CHECK(attend_compare_winner(rows, 4) == 3, "winner: 8 heads (same accuracy as 4, lower loss)");
    CHECK(attend_compare_winner(rows, 1) == 0, "only one head: it wins");
    CHECK(attend_compare_winner(rows, 0) == SIZE_MAX, "no rows: none");
}

/* A run with a learning curve and one example whose text needs escaping. */
static attend_epoch_report page_curve[2];
static char *page_tokens[3] = {"<cls>", "a&b", "<x>"};
static float page_attn[2 * 9], page_probs[2] = {0.25f, 0.75f};
static uint8_t page_unknown[3];

static void page_run(attend_compare_run *r, size_t heads, uint64_t seed, double acc, attend_compare_example *ex,
                     double *drop) {
    memset(r, 0, sizeof *r);
    r->heads = heads;
    r->pos = ATTEND_POS_LEARNED;
    r->seed = seed;
    r->val_accuracy = acc;
    r->val_loss = 1 - acc;
    r->params = 100;
    r->curve = page_curve;
    r->n_curve = 2;
    attend_head_stats *hs = &r->stats;
    hs->L = 1;
    hs->H = heads;
    hs->entropy = drop;
    hs->distance = drop;
    hs->has_importance = 1;
    hs->acc_drop = drop;
    hs->loss_rise = drop;
    hs->n_examples = 10;
    if (heads > 1) {
        r->examples = ex;
        r->n_examples = 1;
    }
}

/* attend_compare_page: one data set, and two side by side; the pictures
 * counted, the combined table, the note escaped in paragraphs. */
static void test_compare_page(void) {
    for (size_t e = 0; e < 2; e++)
        page_curve[e] = (attend_epoch_report){.epoch = e + 1, .epochs = 2, .val_accuracy = 0.5 + 0.2 * (double)e,
                                              .has_val = 1};
    /* each head: the <cls> query looks at token 3, the other queries mostly at token 1 */
    for (size_t h = 0; h < 2; h++)
        for (size_t i = 0; i < 3; i++)
            for (size_t j = 0; j < 3; j++)
                page_attn[h * 9 + i * 3 + j] = i == 0 ? (const float[]){0.1f, 0.2f, 0.7f}[j]
                                                      : (const float[]){0.6f, 0.3f, 0.1f}[j];
    attend_compare_example ex = {"the <x> & \"y\"", "b<1>", "b<1>", {0}, 1};
    ex.ex = (attend_explanation){.T = 3, .L = 1, .H = 2, .K = 2, .tokens = page_tokens, .unknown = page_unknown,
                                 .attn = page_attn, .probs = page_probs, .predicted = 1, .n_text_tokens = 2,
                                 .n_special = 1};
    double drop[2] = {0.25, -0.125};
    attend_compare_run runs[2][4];
    for (size_t s = 0; s < 2; s++)
        for (size_t i = 0; i < 4; i++)
            page_run(&runs[s][i], i < 2 ? 1 : 2, 1 + i % 2, 0.5 + 0.1 * (double)i + 0.05 * (double)s, &ex, drop);
    attend_compare_set sets[2] = {{"alpha", "alpha/index.html", {0}, runs[0], 4},
                                  {"beta", "beta/index.html", {0}, runs[1], 4}};
    sets[0].setup.data_path = "a<b>.tsv";
    attend_buf b;
    size_t maps = 0, plots = 0;
    attend_buf_init(&b);
    attend_compare_page(&b, sets, 1, "first <p>\n\n  second & last\n", &maps, &plots);
    CHECK(!b.failed && b.s, "one data set: page written");
    if (b.s) {
        CHECK(plots == 3 && count_of(b.s, "class=\"attend-plot\"") == 3, "one data set: 3 plots (%zu)", plots);
        /* 3 per-head heatmaps for 2 configurations (importance included) + the example's head view */
        CHECK(maps == 7 && count_of(b.s, "class=\"attend-heatmap") == 7, "one data set: 7 heatmaps (%zu)", maps);
        CHECK(strstr(b.s, "<p>first &lt;p&gt;</p>\n<p>second &amp; last</p>"), "the note: two escaped paragraphs");
        CHECK(strstr(b.s, "&#8220;") || strstr(b.s, "the &lt;x&gt; &amp; &quot;y&quot;"), "the example text escaped");
        CHECK(!strstr(b.s, "<x>") && !strstr(b.s, "b<1>"), "nothing unescaped from the example");
        CHECK(strstr(b.s, "a&lt;b&gt;.tsv"), "the data path escaped");
        CHECK(strstr(b.s, "the &lt;cls&gt; query") &&
                  count_of(b.s, "<td>3 &lt;x&gt; 0.70; 2 a&amp;b 0.20; 1 &lt;cls&gt; 0.10</td>") == 2,
              "the tokens the <cls> query attends to, per head");
        CHECK(count_of(b.s, "<td>1 &lt;cls&gt; 0.43; 3 &lt;x&gt; 0.30; 2 a&amp;b 0.27</td>") == 2,
              "the tokens attended to on average over the queries, per head");
        CHECK(count_of(b.s, "<tr><td class=\"r\">1</td><td class=\"r\">") == 2, "importance: a row per head");
        CHECK(strstr(b.s, "seed 2, the best of them (80.00%)"), "the best seed of the best multi-head configuration");
        CHECK(!strstr(b.s, "attend-summary"), "one data set: no combined table");
    }
    attend_buf_free(&b);
    attend_buf_init(&b);
    attend_compare_page(&b, sets, 2, NULL, &maps, &plots);
    CHECK(!b.failed && b.s, "two data sets: page written");
    if (b.s) {
        /* an accuracy plot per data set side by side, then loss and curves in each section */
        CHECK(plots == 6 && count_of(b.s, "class=\"attend-plot\"") == 6, "two data sets: 6 plots (%zu)", plots);
        CHECK(maps == 14 && count_of(b.s, "class=\"attend-heatmap") == 14, "two data sets: 14 heatmaps (%zu)", maps);
        CHECK(count_of(b.s, "attend-summary") == 1, "the combined table");
        CHECK(strstr(b.s, "<th>alpha: val accuracy (%)</th><th>alpha: mean over epochs (%)</th><th>beta: val accuracy "
                          "(%)</th>"),
              "the combined table's columns");
        /* heads 2 on beta: runs at 0.75 and 0.85 -> 80.00 +/- 7.07 */
        CHECK(strstr(b.s, "<td class=\"r\">80.00 \xC2\xB1 7.07</td>"), "beta's 2-head accuracy in the table");
        CHECK(strstr(b.s, "<a href=\"beta/index.html\">"), "a link to each data set's page");
        CHECK(count_of(b.s, "<h2 id=\"set-") == 2 && strstr(b.s, "id=\"results-2\""), "a section per data set, unique ids");
        CHECK(count_of(b.s, "<strong>") == 2, "the words name each data set");
    }
    attend_buf_free(&b);
    /* the grid and the Markdown of several data sets: a configuration missing from one set shows "-" */
    attend_compare_row *rows[2];
    size_t n_rows[2];
    attend_error err;
    CHECK(attend_compare_summarise(runs[0], 4, &rows[0], &n_rows[0], &err) == ATTEND_OK &&
              attend_compare_summarise(runs[1], 2, &rows[1], &n_rows[1], &err) == ATTEND_OK,
          "summaries");
    attend_buf_init(&b);
    attend_compare_markdown_sets(&b, sets, (const attend_compare_row *const *)rows, n_rows, 2);
    CHECK(b.s && strstr(b.s, "| heads | pos | alpha: val accuracy (%) | alpha: mean over epochs (%) | beta: val "
                             "accuracy (%) | beta: mean over epochs (%) |\n|---:|---|---:|---:|---:|---:|\n"),
          "markdown header:\n%s", b.s ? b.s : "");
    CHECK(b.s && strstr(b.s, "| 2 | learned | 75.00 \xC2\xB1 7.07 | 60.00 \xC2\xB1 0.00 | - | - |\n"),
          "markdown: missing configuration:\n%s", b.s ? b.s : "");
    attend_buf_free(&b);
    free(rows[0]);
    free(rows[1]);
}

/* Whole contents of path, or NULL. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[256];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    return buf;
}

/* Files in dir whose name starts with prefix. */
static int count_files(const char *dir, const char *prefix) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

/* attend_buf_write_file replaces a file through a temporary one: the new
 * contents in full, no temporary left behind, and a failed write keeps the
 * old file. */
static void test_write_file(void) {
    char dir[512], path[600], sub[600];
    test_tmp_dir(dir, sizeof dir, "viz_write");
    snprintf(path, sizeof path, "%s/pic.svg", dir);
    attend_error err;
    attend_buf b;
    attend_buf_init(&b);
    attend_buf_puts(&b, "<svg>old</svg>");
    CHECK(attend_buf_write_file(&b, path, &err) == ATTEND_OK, "first write");
    attend_buf_free(&b);
    attend_buf_init(&b);
    attend_buf_puts(&b, "<svg>new</svg>");
    CHECK(attend_buf_write_file(&b, path, &err) == ATTEND_OK, "second write");
    const char *got = slurp(path);
    CHECK(got && strcmp(got, "<svg>new</svg>") == 0, "replaced: '%s'", got ? got : "(none)");
    CHECK(count_files(dir, "pic.svg.tmp.") == 0, "a temporary file was left in %s", dir);
    /* a buffer that ran out of memory is not written: the old file stays */
    b.failed = 1;
    CHECK(attend_buf_write_file(&b, path, &err) == ATTEND_ERR_NOMEM, "failed buffer refused");
    got = slurp(path);
    CHECK(got && strcmp(got, "<svg>new</svg>") == 0, "old file kept after a failed buffer");
    b.failed = 0;
    /* the target is a directory: the rename fails, the temporary goes */
    snprintf(sub, sizeof sub, "%s/adir", dir);
    mkdir(sub, 0777);
    CHECK(attend_buf_write_file(&b, sub, &err) == ATTEND_ERR_IO, "writing over a directory fails");
    CHECK(strstr(err.msg, "adir") != NULL, "the message names the file: %s", err.msg);
    CHECK(count_files(dir, "adir.tmp.") == 0, "the failed write left its temporary file");
    /* a missing directory: a clear error */
    snprintf(sub, sizeof sub, "%s/no/such/dir/pic.svg", dir);
    CHECK(attend_buf_write_file(&b, sub, &err) == ATTEND_ERR_IO, "missing directory fails");
    attend_buf_free(&b);
    remove(path);
    snprintf(sub, sizeof sub, "%s/adir", dir);
    rmdir(sub);
    rmdir(dir);
}

int main(void) {
    test_write_file();
    test_escape();
    test_colormaps();
    test_ticks();
    test_svg_pictures();
    test_explain(ATTEND_POOL_MEAN);
    test_explain(ATTEND_POOL_CLS);
    test_head_stats();
    test_initial_pos();
    test_compare_summary();
    test_compare_verdict();
    test_compare_page();
    return test_summary("test_viz");
}
