/* attend explain: one query token of one head of one layer, worked step by
 * step with the model's real numbers (attend_stepwise_compute), in the
 * terminal (every line within 100 columns), as JSON, or as an HTML page. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH 100 /* columns of the terminal output */

/* ---- numbers and vectors ---- */

/* A number as printed: 4 decimals, scientific beyond 1e4, "-inf". */
static void fmt_num(char *out, size_t cap, double x) {
    if (isinf(x)) snprintf(out, cap, "%sinf", x < 0 ? "-" : "");
    else if (fabs(x) >= 1e4) snprintf(out, cap, "%.3e", x);
    else snprintf(out, cap, "%.4f", x);
}

static double norm2(const double *v, size_t n, size_t stride) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += v[i * stride] * v[i * stride];
    return sqrt(s);
}

/* Prints "NAME = [v0, v1, ..., ]  |NAME| = N (n values)" from column col
 * (what the caller printed on this line already), with as many first
 * values as fit in WIDTH columns. v[i * stride], i < n. */
static void print_vec(size_t col, const char *name, const double *v, size_t n, size_t stride) {
    char tail[96], num[32], body[WIDTH + 1];
    fmt_num(num, sizeof num, norm2(v, n, stride));
    snprintf(tail, sizeof tail, "]  |%s| = %s (%zu value%s)", name, num, n, n == 1 ? "" : "s");
    const size_t head = strlen(name) + 4; /* "NAME = [" */
    size_t used = 0, room = WIDTH > col + head + strlen(tail) ? WIDTH - col - head - strlen(tail) : 0;
    body[0] = 0;
    for (size_t i = 0; i < n; i++) {
        fmt_num(num, sizeof num, v[i * stride]);
        const size_t add = strlen(num) + (i ? 2 : 0);
        const size_t more = i + 1 < n ? 5 : 0; /* room kept for ", ..." */
        if (used + add + more > room) {
            used += (size_t)snprintf(body + used, sizeof body - used, "%s...", i ? ", " : "");
            break;
        }
        used += (size_t)snprintf(body + used, sizeof body - used, "%s%s", i ? ", " : "", num);
    }
    printf("%s = [%s%s\n", name, body, tail);
}

/* A vector on its own line, indented 5 columns. */
static void vec_line(const char *name, const double *v, size_t n) {
    printf("     ");
    print_vec(5, name, v, n, 1);
}

/* ---- the sections ---- */

static size_t columns(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* s, cut to max columns with "..." when longer. */
static void put_text(const char *s, size_t max) {
    size_t n = columns(s);
    cli_put_cut(s, n < max ? n : max);
    if (n > max) fputs("...", stdout);
}

static void print_header(const attend_stepwise *sw, const char *text) {
    const size_t i = sw->token;
    printf("attend explain: layer %zu of %zu, head %zu of %zu, query token %zu of %zu (\"", sw->layer + 1, sw->L,
           sw->head + 1, sw->H, i + 1, sw->n_real);
    put_text(sw->tokens[i], 20);
    printf("\")\ntext    ");
    put_text(text, 88);
    printf("\n");
    printf("tokens ");
    size_t col = 7;
    for (size_t t = 0; t < sw->T; t++) {
        size_t w = columns(sw->tokens[t]);
        w = w < 16 ? w : 16;
        char num[24];
        int nl = snprintf(num, sizeof num, " %zu ", t + 1);
        if (col + (size_t)nl + w + 1 > WIDTH) {
            printf("\n       ");
            col = 7;
        }
        printf("%s", num);
        cli_put_cut(sw->tokens[t], w);
        putchar(' ');
        col += (size_t)nl + w + 1;
    }
    printf("\nsizes   B = 1 text, T = %zu tokens, E = %zu numbers per token, H = %zu heads of D = E / H = %zu,\n"
           "        F = %zu in the feed-forward network; a %s layer with %s\n",
           sw->T, sw->E, sw->H, sw->D, sw->F, sw->norm_first ? "pre-norm" : "post-norm",
           sw->activation == ATTEND_ACT_GELU ? "GELU" : "ReLU");
    printf("Vectors show their first values and their length |v| = sqrt(sum of squares).\n");
}

static void print_input(const attend_stepwise *sw) {
    const size_t i = sw->token, E = sw->E;
    char xi[32], ai[32];
    snprintf(xi, sizeof xi, "x_%zu", i + 1);
    snprintf(ai, sizeof ai, "a_%zu", i + 1);
    printf("\n1. The input of layer %zu\n", sw->layer + 1);
    printf("   Each token enters the layer as E = %zu numbers; the T rows form X (T x E = %zu x %zu).\n", E,
           sw->T, E);
    if (sw->tok_row) {
        double *e = malloc(2 * E * sizeof(double));
        if (e) {
            for (size_t k = 0; k < E; k++) {
                e[k] = (double)sw->tok_row[k];
                e[E + k] = sw->pos_row ? (double)sw->pos_row[k] : 0.0;
            }
            printf("   Token %zu's row of the embedding table (id %d) plus the row of its position:\n", i + 1,
                   (int)sw->ids[i]);
            vec_line("e", e, E);
            if (sw->pos_row) vec_line("p", e + E, E);
            else printf("     (this model adds no positional encoding)\n");
            free(e);
        }
    } else if (sw->layer > 0) {
        printf("   Layer %zu reads what layer %zu wrote.\n", sw->layer + 1, sw->layer);
    }
    vec_line(xi, sw->x + i * E, E);
    if (sw->norm_first) {
        char m[32], s[32];
        fmt_num(m, sizeof m, sw->norm_mean[0]);
        fmt_num(s, sizeof s, sw->norm_sd[0]);
        printf("   A pre-norm layer normalises first: attention reads a = norm1(x), each row minus its\n"
               "   mean (%s for token %zu), over sqrt(variance + eps) (%s), times norm1.weight plus\n"
               "   norm1.bias.\n", m, i + 1, s);
        vec_line(ai, sw->a + i * E, E);
    } else {
        printf("   In a post-norm layer attention reads x itself (the norms come after it): a = x.\n");
    }
}

static void print_projections(const attend_stepwise *sw) {
    const size_t i = sw->token, h = sw->head, D = sw->D, T = sw->T;
    const char *in = sw->norm_first ? "a" : "x";
    printf("\n2. The query of token %zu in head %zu\n", i + 1, h + 1);
    printf("   Head %zu owns rows %zu to %zu of W_q (its slice is D x E = %zu x %zu)%s.\n", h + 1, h * D + 1,
           (h + 1) * D, D, sw->E, sw->b_q ? " and of b_q" : "");
    printf("   The query says what token %zu looks for: q = %s_%zu W_q^T%s.\n", i + 1, in, i + 1,
           sw->b_q ? " + b_q" : "");
    vec_line("q", sw->q, D);
    printf("\n3. The key and value of every token in head %zu\n", h + 1);
    printf("   Each token j offers a key k_j = %s_j W_k^T%s (what queries match against) and a\n", in,
           sw->b_k ? " + b_k" : "");
    printf("   value v_j = %s_j W_v^T%s (what it passes on), with the same rows %zu to %zu.\n", in,
           sw->b_v ? " + b_v" : "", h * D + 1, (h + 1) * D);
    printf("   K and V are T x D = %zu x %zu.\n", T, D);
    printf("    j  token\n");
    for (size_t j = 0; j < T; j++) {
        char kn[32], vn[32];
        snprintf(kn, sizeof kn, "k_%zu", j + 1);
        snprintf(vn, sizeof vn, "v_%zu", j + 1);
        printf("  %3zu  ", j + 1);
        cli_put_cut(sw->tokens[j], 12);
        printf("  ");
        print_vec(21, kn, sw->k + j * D, D, 1);
        printf("%21s", "");
        print_vec(21, vn, sw->v + j * D, D, 1);
    }
}

static size_t argmax(const double *v, size_t n) {
    size_t best = 0;
    for (size_t j = 1; j < n; j++) best = v[j] > v[best] ? j : best;
    return best;
}

static void print_scores(const attend_stepwise *sw) {
    const size_t T = sw->T;
    printf("\n4. Scores, scaling, mask and softmax\n");
    printf("   score_j = q . k_j, the dot product: large when query and key point the same way.\n");
    printf("   Each score is scaled by 1/sqrt(D) = 1/sqrt(%zu) = %.6f, so scores do not grow with D.\n", sw->D,
           sw->scale);
    printf("   A masked key gets -inf. Softmax turns the scaled scores s_j into weights:\n");
    printf("   w_j = exp(s_j - max s) / sum over keys of exp(s_k - max s).\n");
    printf("  %3s  %-12s %12s  %12s  %-6s  %10s\n", "j", "token", "q . k_j", "x 1/sqrt(D)", "masked", "weight");
    double sum = 0;
    for (size_t j = 0; j < T; j++) {
        char a[32], b[32], c[32];
        fmt_num(a, sizeof a, sw->score[j]);
        fmt_num(b, sizeof b, sw->scaled[j]);
        fmt_num(c, sizeof c, sw->weights[j]);
        printf("  %3zu  ", j + 1);
        cli_put_cut(sw->tokens[j], 12);
        printf(" %12s  %12s  %-6s  %10s\n", a, b, sw->masked[j] ? "yes" : "no", c);
        sum += sw->weights[j];
    }
    if (sw->n_real == T)
        printf("   No key is masked: a single text has no padding, and an encoder lets every token see\n"
               "   every other.\n");
    else
        printf("   Keys %zu to %zu are padding and masked: the text is one row of a batch padded to %zu\n"
               "   tokens. Masking takes them out, so the weights are those of the text alone.\n",
               sw->n_real + 1, T, T);
    const size_t top = argmax(sw->weights, T);
    printf("   The weights sum to %.6f; the largest, %.4f, is on token %zu \"", sum, sw->weights[top], top + 1);
    put_text(sw->tokens[top], 16);
    printf("\".\n");
}

static void print_heads(const attend_stepwise *sw) {
    const size_t h = sw->head, D = sw->D, H = sw->H, T = sw->T;
    char on[32];
    snprintf(on, sizeof on, "o_%zu", h + 1);
    printf("\n5. The head's output: the weighted sum of the values\n");
    printf("   %s = sum_j w_j v_j: the values mixed in the proportions of the weights.\n", on);
    vec_line(on, sw->head_out, D);
    printf("\n6. Every head, concatenated\n");
    printf("   The other heads do the same with their own slices; side by side, their outputs make\n");
    printf("   one vector c of H x D = E = %zu numbers (head h at positions (h-1)D+1 to hD).\n", sw->E);
    for (size_t g = 0; g < H; g++) {
        snprintf(on, sizeof on, "o_%zu", g + 1);
        vec_line(on, sw->concat + g * D, D);
        const size_t top = argmax(sw->all_weights + g * T, T);
        printf("           (head %zu's largest weight: %.4f on token %zu)\n", g + 1, sw->all_weights[g * T + top],
               top + 1);
    }
    vec_line("c", sw->concat, sw->E);
    printf("\n7. The output projection\n");
    printf("   attn = c W_o^T%s, W_o being E x E = %zu x %zu: it mixes what the heads found.\n",
           sw->b_o ? " + b_o" : "", sw->E, sw->E);
    vec_line("attn", sw->attn_out, sw->E);
}

static void print_rest(const attend_stepwise *sw) {
    const size_t i = sw->token, E = sw->E;
    const char *act = sw->activation == ATTEND_ACT_GELU ? "gelu" : "relu";
    char m[32], s[32];
    const int nrm = sw->norm_first ? 1 : 0; /* which norm comes before the feed-forward */
    fmt_num(m, sizeof m, sw->norm_mean[nrm]);
    fmt_num(s, sizeof s, sw->norm_sd[nrm]);
    printf("\n8. The rest of the layer\n");
    printf("   The residual connection adds attention's result to the input: r = x_%zu + attn.\n", i + 1);
    vec_line("r", sw->resid1, E);
    printf("   norm%d rescales r: minus its mean (%s), over sqrt(variance + eps) (%s), times\n"
           "   norm%d.weight plus norm%d.bias: n = norm%d(r).\n", nrm + 1, m, s, nrm + 1, nrm + 1, nrm + 1);
    vec_line("n", sw->ff_in, E);
    printf("   The feed-forward network works on each token alone: h = %s(n W_1^T + b_1), F = %zu\n"
           "   values, then f = h W_2^T + b_2.\n", act, sw->F);
    vec_line("h", sw->ff_hidden, sw->F);
    vec_line("f", sw->ff_out, E);
    if (!sw->norm_first) {
        fmt_num(m, sizeof m, sw->norm_mean[1]);
        fmt_num(s, sizeof s, sw->norm_sd[1]);
        printf("   A second residual and norm2 (mean %s, sqrt(variance + eps) %s) give the layer's\n"
               "   output: y = norm2(n + f).\n", m, s);
    } else {
        printf("   A second residual gives the layer's output: y = r + f (a pre-norm layer leaves its\n"
               "   output unnormalised%s).\n",
               sw->layer + 1 == sw->L ? "; after the last layer the model applies encoder.norm" : "");
    }
    vec_line("y", sw->out, E);
}

/* 0 when the steps reproduce the forward pass. */
static int print_check(const attend_stepwise *sw) {
    const size_t E = sw->E;
    double *mo = malloc(E * sizeof(double));
    if (!mo) return -1;
    for (size_t e = 0; e < E; e++) mo[e] = (double)sw->model_out[e];
    printf("\n9. Checked against the model\n");
    printf("   attend's forward pass (optimised kernels, in float) computed layer %zu's output for\n"
           "   token %zu as:\n", sw->layer + 1, sw->token + 1);
    vec_line("y_forward", mo, E);
    free(mo);
    const attend_stepwise_check *out = &sw->checks[sw->n_checks - 1];
    const int ok = attend_stepwise_matches(sw);
    printf("   %s the model's forward pass: max |difference| = %.1e (%s, %zu values)\n",
           ok ? "matches" : "DOES NOT match", out->max_diff, out->what, E);
    printf("   each step, max |difference|:");
    size_t col = 32;
    for (size_t c = 0; c < sw->n_checks; c++) {
        char item[64];
        int n = snprintf(item, sizeof item, " %s %.1e%s", sw->checks[c].what, sw->checks[c].max_diff,
                         c + 1 < sw->n_checks ? "," : "");
        if (col + (size_t)n > WIDTH) {
            printf("\n    ");
            col = 4;
        }
        fputs(item, stdout);
        col += (size_t)n;
    }
    printf("\n");
    return ok ? 0 : 1;
}

/* ---- JSON ---- */

/* An array of n values v[i * stride] (null for -inf: a masked key), added
 * to o under name; 0 when out of memory. */
static int json_vec(cJSON *o, const char *name, const double *v, size_t n, size_t stride) {
    cJSON *a = cJSON_AddArrayToObject(o, name);
    for (size_t i = 0; a && i < n; i++) {
        cJSON *x = isfinite(v[i * stride]) ? cJSON_CreateNumber(v[i * stride]) : cJSON_CreateNull();
        if (!x) return 0;
        cJSON_AddItemToArray(a, x);
    }
    return a != NULL;
}

/* rows x n as an array of arrays. */
static int json_mat(cJSON *o, const char *name, const double *v, size_t rows, size_t n) {
    cJSON *a = cJSON_AddArrayToObject(o, name);
    for (size_t r = 0; a && r < rows; r++) {
        cJSON *row = cJSON_CreateObject();
        int ok = row && json_vec(row, "r", v + r * n, n, 1);
        cJSON *arr = ok ? cJSON_DetachItemFromObject(row, "r") : NULL;
        cJSON_Delete(row);
        if (!arr) return 0;
        cJSON_AddItemToArray(a, arr);
    }
    return a != NULL;
}

/* -1 when out of memory. */
static int print_json(const attend_stepwise *sw) {
    const size_t T = sw->T, E = sw->E, D = sw->D, i = sw->token;
    cJSON *o = cJSON_CreateObject(), *toks = NULL, *checks = NULL;
    double *mo = malloc(E * sizeof(double));
    int ok = o && mo && cJSON_AddNumberToObject(o, "layer", (double)sw->layer + 1) &&
             cJSON_AddNumberToObject(o, "head", (double)sw->head + 1) &&
             cJSON_AddNumberToObject(o, "token", (double)i + 1) && cJSON_AddNumberToObject(o, "T", (double)T) &&
             cJSON_AddNumberToObject(o, "E", (double)E) && cJSON_AddNumberToObject(o, "H", (double)sw->H) &&
             cJSON_AddNumberToObject(o, "D", (double)D) && cJSON_AddNumberToObject(o, "F", (double)sw->F) &&
             cJSON_AddBoolToObject(o, "norm_first", sw->norm_first) &&
             cJSON_AddStringToObject(o, "activation", sw->activation == ATTEND_ACT_GELU ? "gelu" : "relu") &&
             (toks = cJSON_AddArrayToObject(o, "tokens"));
    for (size_t t = 0; ok && t < T; t++) {
        cJSON *x = cJSON_CreateString(sw->tokens[t]);
        ok = x != NULL;
        if (ok) cJSON_AddItemToArray(toks, x);
    }
    double *mk = ok ? malloc(T * sizeof(double)) : NULL;
    ok = ok && mk;
    for (size_t t = 0; ok && t < T; t++) mk[t] = sw->masked[t];
    for (size_t e = 0; ok && e < E; e++) mo[e] = (double)sw->model_out[e];
    ok = ok && json_vec(o, "masked", mk, T, 1) && json_vec(o, "x", sw->x + i * E, E, 1) &&
         json_vec(o, "a", sw->a + i * E, E, 1) && json_vec(o, "q", sw->q, D, 1) &&
         json_mat(o, "k", sw->k, T, D) && json_mat(o, "v", sw->v, T, D) &&
         json_vec(o, "score", sw->score, T, 1) && cJSON_AddNumberToObject(o, "scale", sw->scale) &&
         json_vec(o, "scaled", sw->scaled, T, 1) && json_vec(o, "weights", sw->weights, T, 1) &&
         json_vec(o, "head_out", sw->head_out, D, 1) && json_mat(o, "all_weights", sw->all_weights, sw->H, T) &&
         json_vec(o, "concat", sw->concat, E, 1) && json_vec(o, "attn", sw->attn_out, E, 1) &&
         json_vec(o, "r", sw->resid1, E, 1) && json_vec(o, "n", sw->ff_in, E, 1) &&
         json_vec(o, "h", sw->ff_hidden, sw->F, 1) && json_vec(o, "f", sw->ff_out, E, 1) &&
         json_vec(o, "y", sw->out, E, 1) && json_vec(o, "y_forward", mo, E, 1) &&
         (checks = cJSON_AddArrayToObject(o, "checks"));
    free(mk);
    free(mo);
    for (size_t c = 0; ok && c < sw->n_checks; c++) {
        cJSON *x = cJSON_CreateObject();
        ok = x && cJSON_AddStringToObject(x, "what", sw->checks[c].what) &&
             cJSON_AddNumberToObject(x, "max_diff", sw->checks[c].max_diff) &&
             cJSON_AddBoolToObject(x, "ok", sw->checks[c].ok);
        if (x) cJSON_AddItemToArray(checks, x);
    }
    ok = ok && cJSON_AddBoolToObject(o, "matches", attend_stepwise_matches(sw));
    return cli_print_json(o, ok);
}

/* ---- the command ---- */

/* Checks --layer, --head, --token and --pad-to against the model and the
 * text (1-based, as the user gave them); prints a usage error and returns
 * CLI_USAGE, CLI_FAIL when the text cannot be read, or CLI_OK. */
static int check_ranges(const attend_model *m, const char *text, size_t layer, size_t head, size_t token,
                        size_t pad_to) {
    const attend_model_config *c = attend_model_get_config(m);
    if (c->num_layers == 0) {
        fprintf(stderr, "attend: the model has no encoder layers: no attention to explain\n");
        return CLI_FAIL;
    }
    if (layer > c->num_layers)
        return cli_usage_error("explain", "--layer %zu: the model has %zu layer%s (1..%zu)", layer, c->num_layers,
                               c->num_layers == 1 ? "" : "s", c->num_layers);
    if (head > c->nhead)
        return cli_usage_error("explain", "--head %zu: the model has %zu head%s per layer (1..%zu)", head, c->nhead,
                               c->nhead == 1 ? "" : "s", c->nhead);
    attend_error err = {0};
    attend_context *ctx = NULL;
    int32_t *ids = malloc(c->max_len * sizeof(int32_t));
    size_t n = 0;
    int rc = CLI_OK;
    if (!ids) attend_errorf(&err, ATTEND_ERR_NOMEM, "out of memory");
    if (!ids || attend_context_new(&ctx, m, &err) ||
        attend_tokenize(m, ctx, text, strlen(text), ids, c->max_len, &n, NULL, &err))
        rc = cli_fail(&err);
    else if (n == 0) {
        fprintf(stderr, "attend: the text has no tokens after normalisation: nothing to explain\n");
        rc = CLI_FAIL;
    } else if (token > n)
        rc = cli_usage_error("explain", "--token %zu: the text has %zu token%s (1..%zu)", token, n, n == 1 ? "" : "s", n);
    else if (pad_to && (pad_to < n || pad_to > c->max_len))
        rc = cli_usage_error("explain", "--pad-to %zu: the text has %zu token%s and the model reads at most %zu (%zu..%zu)",
                             pad_to, n, n == 1 ? "" : "s", c->max_len, n, c->max_len);
    attend_context_free(ctx);
    free(ids);
    return rc;
}

static int print_terminal(const attend_stepwise *sw, const char *text) {
    print_header(sw, text);
    print_input(sw);
    print_projections(sw);
    print_scores(sw);
    print_heads(sw);
    print_rest(sw);
    return print_check(sw);
}

int cli_explain(int argc, char **argv) {
    const char *model_path = NULL, *text_arg = NULL, *out_path = NULL;
    size_t layer = 1, head = 1, token = 1, pad_to = 0;
    int json = 0;
    const cli_opt opts[] = {
        CLI_OPT(CLI_STRING, "--model", "FILE", &model_path, 0, 0, "model file from attend train"),
        CLI_OPT_DEF(CLI_STRING, "--text", "TEXT", &text_arg, 1, 0, "the text; - reads it from standard input", ""),
        CLI_OPT(CLI_SIZE, "--layer", "L", &layer, 1, ATTEND_MAX_LAYERS, "layer (1-based)"),
        CLI_OPT(CLI_SIZE, "--head", "H", &head, 1, 16384, "head of that layer (1-based)"),
        CLI_OPT(CLI_SIZE, "--token", "I", &token, 1, 16384, "the query token (1-based, as listed under tokens)"),
        CLI_OPT(CLI_SIZE, "--pad-to", "N", &pad_to, 0, 16384,
                "run the text as one row of a batch padded to N tokens,\n"
                "to see the padding keys masked (default 0: the text alone)"),
        CLI_OPT(CLI_STRING, "--out", "FILE", &out_path, 0, 0,
                "write FILE.html: the same steps as a page, each matrix a\n"
                "small heatmap with its shape beside it"),
        CLI_OPT_SWITCH("--json", &json, "print every step's values as JSON (full precision)"),
    };
    const cli_command cmd = {
        "explain",
        "attend explain --model MODEL --text TEXT [--layer L] [--head H] [--token I] [--out FILE.html]",
        "Works through the attention of one layer for one head and one query token with\n"
        "the model's real numbers: the token's input vector, its query, every key and\n"
        "value, the dot products, the scaling by 1/sqrt(D), the mask, the softmax\n"
        "weights, the weighted sum of the values, the concatenation of the heads, the\n"
        "output projection, then the residuals, norms and feed-forward network up to the\n"
        "layer's output. The arithmetic is done with plain loops in double, apart from\n"
        "the optimised kernels, and checked against the output the model's forward pass\n"
        "computes (exit 1 if they disagree). Lines fit in 100 columns.\n",
        "attend explain --model wordnet.safetensors --text \"a large cat with a mane\" --head 2 --token 3",
        opts, CLI_N(opts), NULL, NULL};
    int pr = cli_parse(&cmd, argc, argv);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    if (!model_path || !text_arg) return cli_usage_error("explain", "explain needs --model MODEL and --text TEXT");
    if (out_path) {
        if (!cli_ends_with(out_path, ".html") && !cli_ends_with(out_path, ".htm"))
            return cli_usage_error("explain", "--out %s: the name must end in .html", out_path);
        if (json) return cli_usage_error("explain", "--json and --out do not go together; pick one");
    }
    char *text;
    const char *t;
    if (cli_text_arg(text_arg, &text, &t)) return CLI_FAIL;
    attend_error err = {0};
    attend_model *m = NULL;
    attend_stepwise sw = {0};
    int rc = CLI_FAIL;
    if (attend_model_load(&m, model_path, &err)) {
        rc = cli_fail(&err);
        goto out;
    }
    if ((rc = check_ranges(m, t, layer, head, token, pad_to)) != CLI_OK) goto out;
    attend_stepwise_options o = {layer - 1, head - 1, token - 1, pad_to};
    if (attend_stepwise_compute(m, t, strlen(t), &o, &sw, &err)) {
        rc = cli_fail(&err);
        goto out;
    }
    int res = 0;
    if (json) {
        res = print_json(&sw);
    } else if (out_path) {
        if (attend_stepwise_write_html(out_path, &sw, t, &err)) {
            rc = cli_fail(&err);
            goto out;
        }
        const attend_stepwise_check *c = &sw.checks[sw.n_checks - 1];
        printf("wrote %s: layer %zu, head %zu, token %zu; %s the forward pass (max |difference| %.1e)\n",
               out_path, layer, head, token, attend_stepwise_matches(&sw) ? "matches" : "DOES NOT match",
               c->max_diff);
        res = attend_stepwise_matches(&sw) ? 0 : 1;
    } else {
        res = print_terminal(&sw, t);
    }
    if (res < 0) {
        fflush(stdout);
        fprintf(stderr, "attend: out of memory printing the steps\n");
        rc = CLI_FAIL;
    } else if (res > 0 || !attend_stepwise_matches(&sw)) {
        fflush(stdout);
        fprintf(stderr, "attend: the step-by-step arithmetic does not reproduce the model's forward pass;\n"
                        "attend: please report this with the model and the text\n");
        rc = CLI_FAIL;
    } else {
        rc = CLI_OK;
    }
out:
    attend_stepwise_free(&sw);
    attend_model_free(m);
    free(text);
    if (rc == CLI_OK && fflush(stdout) != 0) {
        fprintf(stderr, "attend: error writing the output\n");
        rc = CLI_FAIL;
    }
    return rc;
}
