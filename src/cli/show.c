/* attend show: the attention weights of every layer and head for one text,
 * in the terminal, as SVG, as a self-contained HTML page, or as JSON. */
#define _POSIX_C_SOURCE 200809L /* fileno, isatty */
#include "cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALL ((size_t)-1)

/* ---- terminal ---- */

static const char *shade[5] = {" ", "\xE2\x96\x91", "\xE2\x96\x92", "\xE2\x96\x93", "\xE2\x96\x88"};
static const double shade_at[4] = {0.1, 0.3, 0.55, 0.8}; /* fractions of the largest weight */

static int shade_level(double v, double vmax) {
    int k = 0;
    while (k < 4 && v >= shade_at[k] * vmax) k++;
    return k;
}

/* One (T,T) map. cellw: 2 or 1 columns per key; keys past max_keys are cut. */
static void print_map(const float *a, const attend_explanation *ex, double vmax, int color,
                      size_t cellw, size_t max_keys) {
    const size_t T = ex->T, nk = T < max_keys ? T : max_keys;
    const size_t lab = 14; /* "%2zu " + 10 columns of token + space */
    // key numbers over the columns: tens digits on a line of their own
    if (nk >= 10) {
        printf("%*s", (int)lab, "");
        for (size_t j = 0; j < nk; j++)
            printf("%*c", (int)cellw, (j + 1) >= 10 ? (char)('0' + (j + 1) / 10 % 10) : ' ');
        printf("\n");
    }
    printf("%*s", (int)lab, "");
    for (size_t j = 0; j < nk; j++) printf("%*c", (int)cellw, (char)('0' + (j + 1) % 10));
    printf("\n");
    for (size_t i = 0; i < T; i++) {
        printf("%2zu ", (i + 1) % 100);
        cli_put_cut(ex->tokens[i], 10);
        putchar(ex->unknown[i] ? '*' : ' ');
        for (size_t j = 0; j < nk; j++) {
            double v = a[i * T + j];
            if (color) {
                unsigned char rgb[3];
                attend_cmap_rgb(ATTEND_CMAP_VIRIDIS, vmax > 0 ? v / vmax : 0, rgb);
                printf("\x1b[38;2;%d;%d;%dm", rgb[0], rgb[1], rgb[2]);
                for (size_t k = 0; k < cellw; k++) fputs(shade[4], stdout);
            } else {
                int lv = shade_level(v, vmax);
                for (size_t k = 0; k < cellw; k++) fputs(shade[lv], stdout);
            }
        }
        if (color) fputs("\x1b[0m", stdout);
        printf("\n");
    }
}

static void print_legend(double vmax, int color) {
    if (color) {
        printf("colour: ");
        for (int k = 0; k <= 8; k++) {
            unsigned char rgb[3];
            attend_cmap_rgb(ATTEND_CMAP_VIRIDIS, k / 8.0, rgb);
            printf("\x1b[38;2;%d;%d;%dm%s%s", rgb[0], rgb[1], rgb[2], shade[4], shade[4]);
        }
        printf("\x1b[0m  0 to %.2f, the largest weight drawn\n", vmax);
        printf("        rows: the token attending (query); columns: the token attended to (key)\n");
        return;
    }
    printf("shading: '  ' < %.2f", shade_at[0] * vmax);
    for (int k = 1; k < 4; k++) printf("  %s%s < %.2f", shade[k], shade[k], shade_at[k] * vmax);
    printf("  %s%s up to %.2f\n", shade[4], shade[4], vmax);
    printf("         rows: the token attending (query); columns: the token attended to (key)\n");
}

/* -1 when out of memory (nothing printed). */
static int print_top(const attend_explanation *ex, size_t l, size_t h, size_t top) {
    size_t keys[64];
    float w[64];
    size_t n = attend_explanation_top_keys(ex, l, h, top < 64 ? top : 64, keys, w);
    if (n == SIZE_MAX) return -1;
    char lab[64];
    snprintf(lab, sizeof lab, "L%zu H%zu", l + 1, h + 1);
    printf("  %-9s", lab);
    size_t col = 11;
    for (size_t k = 0; k < n; k++) {
        char item[96];
        int len = snprintf(item, sizeof item, "  %zu %.20s %.2f", keys[k] + 1, ex->tokens[keys[k]], (double)w[k]);
        if (col + (size_t)len > 80) break;
        fputs(item, stdout);
        col += (size_t)len;
    }
    printf("\n");
    return 0;
}

/* -1 when out of memory, after a partial output. */
static int print_terminal(const attend_model *m, const attend_explanation *ex, const char *text,
                          size_t layer, size_t head, size_t top, int color) {
    const size_t T = ex->T, L = ex->L, H = ex->H, K = ex->K;
    size_t tc = 0;
    for (const char *p = text; *p; p++) tc += ((unsigned char)*p & 0xC0) != 0x80;
    printf("text       ");
    cli_put_cut(text, tc < 66 ? tc : 66);
    printf("%s\n", tc > 66 ? "..." : "");
    size_t n_unk = 0;
    for (size_t t = 0; t < T; t++) n_unk += ex->unknown[t];
    printf("tokens     %zu", T);
    if (ex->n_special == 2) printf(" (with %s and %s)", ex->tokens[0], ex->tokens[T - 1]);
    else if (ex->n_special) printf(" (with %s)", ex->tokens[0]);
    if (ex->n_text_tokens + ex->n_special > T)
        printf(", cut from %zu at max_len", ex->n_text_tokens);
    if (n_unk) printf(", %zu not in the vocabulary (marked *)", n_unk);
    printf("\n");
    // top classes
    size_t order[8] = {0}, n_top = K < 4 ? K : 4;
    for (size_t k = 0; k < n_top; k++) {
        size_t best = ALL;
        for (size_t q = 0; q < K; q++) {
            int used = 0;
            for (size_t u = 0; u < k; u++) used |= order[u] == q;
            if (!used && (best == ALL || ex->probs[q] > ex->probs[best])) best = q;
        }
        order[k] = best;
    }
    if (K == 0) printf("predicted  nothing: an encoder without a classification head");
    else printf("predicted  %s %.3f", attend_model_label(m, order[0]), (double)ex->probs[order[0]]);
    if (n_top > 1) {
        printf("   (then");
        for (size_t k = 1; k < n_top; k++)
            printf(" %s %.3f%s", attend_model_label(m, order[k]), (double)ex->probs[order[k]],
                   k + 1 < n_top ? "," : "");
        printf(")");
    }
    printf("\n");
    if (L == 0) {
        printf("\nthis model has no encoder layers: no attention to show\n");
        return 0;
    }
    // maps to draw: per-layer head means, or single heads
    const size_t cellw = T <= 33 ? 2 : 1, max_keys = cellw == 2 ? 33 : 66;
    float *mean = calloc(T * T, sizeof(float));
    if (!mean) return -1;
    double vmax = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t l = 0; l < L; l++) {
            if (layer != ALL && l != layer) continue;
            if (layer == ALL && head == ALL) {
                memset(mean, 0, T * T * sizeof(float));
                for (size_t h = 0; h < H; h++)
                    for (size_t k = 0; k < T * T; k++) mean[k] += ex->attn[(l * H + h) * T * T + k] / (float)H;
                if (pass == 0) {
                    for (size_t k = 0; k < T * T; k++) vmax = mean[k] > vmax ? mean[k] : vmax;
                } else {
                    printf("\nlayer %zu, mean of its %zu heads\n", l + 1, H);
                    print_map(mean, ex, vmax, color, cellw, max_keys);
                }
                continue;
            }
            for (size_t h = 0; h < H; h++) {
                if (head != ALL && h != head) continue;
                const float *a = ex->attn + (l * H + h) * T * T;
                if (pass == 0) {
                    for (size_t k = 0; k < T * T; k++) vmax = a[k] > vmax ? a[k] : vmax;
                } else {
                    printf("\nlayer %zu, head %zu\n", l + 1, h + 1);
                    print_map(a, ex, vmax, color, cellw, max_keys);
                }
            }
        }
        if (pass == 0) {
            if (!(vmax > 0)) vmax = 1;
            printf("\n");
            print_legend(vmax, color);
        }
    }
    free(mean);
    if (T > max_keys) printf("(keys past %zu not drawn; --out FILE.svg draws them all)\n", max_keys);
    printf("\ntokens each head attends to most (number, token, mean weight over the queries):\n");
    for (size_t l = 0; l < L; l++)
        for (size_t h = 0; h < H; h++) {
            if ((layer != ALL && l != layer) || (head != ALL && h != head)) continue;
            if (print_top(ex, l, h, top)) return -1;
        }
    return 0;
}

/* ---- JSON ---- */

/* A number rounded to 6 significant digits, so the JSON stays short. */
static cJSON *num6(double v) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.6g", v);
    return cJSON_CreateNumber(strtod(buf, NULL));
}

/* Adds item to array a (key NULL) or object a; deletes item on failure. */
static int add_item(cJSON *a, const char *key, cJSON *item) {
    if (item && (key ? cJSON_AddItemToObject(a, key, item) : cJSON_AddItemToArray(a, item))) return 1;
    cJSON_Delete(item);
    return 0;
}

/* The attention of (l, h) as T rows of T numbers. */
static cJSON *head_json(const attend_explanation *ex, size_t l, size_t h) {
    cJSON *hd = cJSON_CreateArray();
    for (size_t i = 0; hd && i < ex->T; i++) {
        cJSON *row = cJSON_CreateArray();
        for (size_t j = 0; row && j < ex->T; j++)
            if (!add_item(row, NULL, num6(attend_explanation_at(ex, l, h, i, j)))) {
                cJSON_Delete(row);
                row = NULL;
            }
        if (!add_item(hd, NULL, row)) {
            cJSON_Delete(hd);
            hd = NULL;
        }
    }
    return hd;
}

/* -1 when out of memory: every cJSON_Create* / Add* is checked, so a
 * document missing something is never printed. */
static int print_json(const attend_model *m, const attend_explanation *ex, const char *text) {
    cJSON *o = cJSON_CreateObject(), *tok = NULL, *unk = NULL, *labels = NULL, *probs = NULL, *att = NULL;
    int ok = o && cJSON_AddStringToObject(o, "text", text) && (tok = cJSON_AddArrayToObject(o, "tokens")) &&
             (unk = cJSON_AddArrayToObject(o, "unknown"));
    for (size_t t = 0; ok && t < ex->T; t++)
        ok = add_item(tok, NULL, cJSON_CreateString(ex->tokens[t])) &&
             add_item(unk, NULL, cJSON_CreateBool(ex->unknown[t]));
    ok = ok && (ex->K ? cJSON_AddStringToObject(o, "predicted", attend_model_label(m, ex->predicted)) != NULL
                      : cJSON_AddNullToObject(o, "predicted") != NULL) &&
         (labels = cJSON_AddArrayToObject(o, "labels")) && (probs = cJSON_AddArrayToObject(o, "probs"));
    for (size_t k = 0; ok && k < ex->K; k++)
        ok = add_item(labels, NULL, cJSON_CreateString(attend_model_label(m, k))) &&
             add_item(probs, NULL, num6(ex->probs[k]));
    ok = ok && cJSON_AddNumberToObject(o, "layers", (double)ex->L) &&
         cJSON_AddNumberToObject(o, "heads", (double)ex->H) &&
         (att = cJSON_AddArrayToObject(o, "attention")); /* [layer][head][query][key] */
    for (size_t l = 0; ok && l < ex->L; l++) {
        cJSON *lay = cJSON_CreateArray();
        for (size_t h = 0; lay && h < ex->H; h++)
            if (!add_item(lay, NULL, head_json(ex, l, h))) {
                cJSON_Delete(lay);
                lay = NULL;
            }
        ok = add_item(att, NULL, lay);
    }
    return cli_print_json(o, ok);
}

/* --layer and --head (1-based; 0: not given) within the model: CLI_OK, or
 * a usage error. */
static int check_selection(const attend_model *m, size_t layer, size_t head) {
    const attend_model_config *c = attend_model_get_config(m);
    if (layer > c->num_layers)
        return cli_usage_error("show", "--layer %zu: the model has %zu layer%s (1..%zu)", layer, c->num_layers,
                               c->num_layers == 1 ? "" : "s", c->num_layers);
    if (head > c->nhead)
        return cli_usage_error("show", "--head %zu: the model has %zu head%s per layer (1..%zu)", head, c->nhead,
                               c->nhead == 1 ? "" : "s", c->nhead);
    return CLI_OK;
}

/* --out FILE.svg or FILE.html, and the line that says what it holds. */
static attend_status write_file(const char *out_path, const attend_model *m, const attend_explanation *ex,
                                const char *t, size_t lsel, size_t hsel, size_t top, attend_error *err) {
    attend_status st = attend_show_write(out_path, m, ex, t, lsel, hsel, top, err);
    if (st) return st;
    printf("wrote %s: %zu tokens, %zu layer%s x %zu head%s", out_path, ex->T, ex->L, ex->L == 1 ? "" : "s",
           ex->H, ex->H == 1 ? "" : "s");
    if (ex->K)
        printf("; predicted %s (p = %.3f)", attend_model_label(m, ex->predicted), (double)ex->probs[ex->predicted]);
    printf("\n");
    return ATTEND_OK;
}

static const char *const color_names[] = {"auto", "always", "never", NULL};

int cli_show(int argc, char **argv) {
    const char *model_path = NULL, *text_arg = NULL, *out_path = NULL;
    size_t layer = 0, head = 0, top = 3;
    int json = 0, color_arg = 0;
    const cli_opt opts[] = {
        CLI_OPT(CLI_STRING, "--model", "FILE", &model_path, 0, 0, "model file from attend train"),
        CLI_OPT_DEF(CLI_STRING, "--text", "TEXT", &text_arg, 1, 0, "the text; - reads it from standard input", ""),
        CLI_OPT_DEF(CLI_SIZE, "--layer", "L", &layer, 1, ATTEND_MAX_LAYERS, "only layer L (1-based)", "every layer"),
        CLI_OPT_DEF(CLI_SIZE, "--head", "H", &head, 1, 16384, "only head H (1-based)", "every head"),
        CLI_OPT(CLI_STRING, "--out", "FILE", &out_path, 0, 0,
                "write FILE.svg (head view of one layer, large, and the model\n"
                "view: every layer x head, small) or FILE.html (the same as a\n"
                "self-contained page) instead of drawing in the terminal"),
        CLI_OPT_SWITCH("--json", &json, "print tokens, probabilities and every weight as JSON"),
        CLI_OPT(CLI_SIZE, "--top", "N", &top, 1, 64, "tokens listed per head"),
        CLI_OPT_CHOICE("--color", "WHEN", &color_arg, color_names,
                       "auto | always | never (auto: when standard output is\n"
                       "a terminal and NO_COLOR is empty or unset)"),
    };
    const cli_command cmd = {
        "show", "attend show --model MODEL --text TEXT [--layer L] [--head H] [--out FILE] [--json]",
        "Shows how a classifier's attention heads read one text: for each layer and\n"
        "head, how much weight every token (row, the query) puts on every token\n"
        "(column, the key); the tokens each head attends to most; and the predicted\n"
        "label with its probability.\n"
        "\n"
        "In the terminal, without --layer or --head, each layer's map is the mean over\n"
        "its heads; --layer L draws each head of layer L, and --head H head H of each\n"
        "layer. Shading is relative to the largest weight drawn (the legend says it).\n",
        "attend show --model wordnet.safetensors --text \"a large wild cat with a mane\" --layer 1", opts,
        CLI_N(opts), NULL, NULL};
    int pr = cli_parse(&cmd, argc, argv);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    if (!model_path || !text_arg) return cli_usage_error("show", "show needs --model MODEL and --text TEXT");
    if (out_path) {
        if (!cli_ends_with(out_path, ".svg") && !cli_ends_with(out_path, ".html") && !cli_ends_with(out_path, ".htm"))
            return cli_usage_error("show", "--out %s: the name must end in .svg or .html", out_path);
        if (json) return cli_usage_error("show", "--json and --out do not go together; pick one");
    }
    char *text;
    const char *t;
    if (cli_text_arg(text_arg, &text, &t)) return CLI_FAIL;

    attend_error err = {0};
    attend_model *m = NULL;
    attend_explanation ex = {0};
    int rc = CLI_FAIL;
    if (attend_model_load(&m, model_path, &err)) goto fail;
    if ((rc = check_selection(m, layer, head)) != CLI_OK) goto out;
    rc = CLI_FAIL;
    if (attend_explain(m, t, strlen(t), &ex, &err)) goto fail;
    const size_t lsel = layer ? layer - 1 : ALL, hsel = head ? head - 1 : ALL;
    if (json) {
        if (print_json(m, &ex, t)) {
            attend_errorf(&err, ATTEND_ERR_NOMEM, "out of memory");
            goto fail;
        }
    } else if (out_path) {
        if (write_file(out_path, m, &ex, t, lsel, hsel, top, &err)) goto fail;
    } else {
        const char *no_color = getenv("NO_COLOR");
        int color = color_arg == 1 || (color_arg == 0 && isatty(fileno(stdout)) && !(no_color && *no_color));
        if (print_terminal(m, &ex, t, lsel, hsel, top, color)) {
            fflush(stdout);
            attend_errorf(&err, ATTEND_ERR_NOMEM, "out of memory drawing the attention maps");
            goto fail;
        }
    }
    rc = CLI_OK;
    goto out;
fail:
    cli_fail(&err);
out:
    attend_explanation_free(&ex);
    attend_model_free(m);
    free(text);
    if (rc == CLI_OK && fflush(stdout) != 0) {
        fprintf(stderr, "attend: error writing the output\n");
        rc = CLI_FAIL;
    }
    return rc;
}
