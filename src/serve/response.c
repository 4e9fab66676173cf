/* A finished job -> its JSON answer. Numbers are written with 9
 * significant digits, which read back to the same float: an answer holds
 * exactly the bits the model computed. */
#include "serve/serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void serve_response_error(attend_buf *out, const char *type, const char *msg) {
    attend_buf_puts(out, "{\"error\":");
    attend_buf_json_string(out, msg);
    attend_buf_puts(out, ",\"error_type\":");
    attend_buf_json_string(out, type);
    attend_buf_puts(out, "}");
}

static void put_float(attend_buf *out, float v) { attend_buf_printf(out, "%.9g", (double)v); }

/* The top k labels of one text by probability (ties: label order), as
 * [{"label": ..., "score": ...}, ...]. order has room for K indices. */
static void put_predictions(attend_buf *out, const attend_model *m, const float *p, size_t K,
                            size_t k, size_t *order) {
    attend_top_labels(p, K, k, order);
    attend_buf_puts(out, "[");
    for (size_t i = 0; i < k; i++) {
        attend_buf_puts(out, i ? ",{\"label\":" : "{\"label\":");
        attend_buf_json_string(out, attend_model_label(m, order[i]));
        attend_buf_puts(out, ",\"score\":");
        put_float(out, p[order[i]]);
        attend_buf_puts(out, "}");
    }
    attend_buf_puts(out, "]");
}

static int predict_answer(const serve_job *j, attend_buf *out) {
    const size_t K = j->width;
    size_t k = j->req.top_k && j->req.top_k < K ? j->req.top_k : K;
    size_t *order = malloc((K ? K : 1) * sizeof *order);
    if (!order) {
        out->failed = 1;
        return 500;
    }
    if (!j->req.single) attend_buf_puts(out, "[");
    for (size_t i = 0; i < j->req.n; i++) {
        if (i) attend_buf_puts(out, ",");
        put_predictions(out, j->model->model, j->out + i * K, K, k, order);
    }
    if (!j->req.single) attend_buf_puts(out, "]");
    free(order);
    return 200;
}

static void put_vector(attend_buf *out, const float *v, size_t E) {
    attend_buf_puts(out, "[");
    for (size_t e = 0; e < E; e++) {
        if (e) attend_buf_puts(out, ",");
        put_float(out, v[e]);
    }
    attend_buf_puts(out, "]");
}

/* The floats' little-endian bytes in base64 (OpenAI's encoding_format). */
static void put_base64(attend_buf *out, const float *v, size_t E) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char b[3];
    size_t nb = 0;
    char q[4];
    attend_buf_puts(out, "\"");
    for (size_t i = 0; i < E * 4; i++) {
        uint32_t u;
        memcpy(&u, v + i / 4, 4);
        b[nb++] = (unsigned char)(u >> (8 * (i % 4)));
        if (nb == 3 || i + 1 == E * 4) {
            uint32_t w = (uint32_t)b[0] << 16 | (nb > 1 ? (uint32_t)b[1] << 8 : 0) | (nb > 2 ? b[2] : 0);
            q[0] = tab[w >> 18 & 63];
            q[1] = tab[w >> 12 & 63];
            q[2] = nb > 1 ? tab[w >> 6 & 63] : '=';
            q[3] = nb > 2 ? tab[w & 63] : '=';
            attend_buf_append(out, q, 4);
            nb = 0;
        }
    }
    attend_buf_puts(out, "\"");
}

static int embed_answer(const serve_job *j, attend_buf *out) {
    attend_buf_puts(out, "[");
    for (size_t i = 0; i < j->req.n; i++) {
        if (i) attend_buf_puts(out, ",");
        put_vector(out, j->out + i * j->width, j->width);
    }
    attend_buf_puts(out, "]");
    return 200;
}

static int openai_answer(const serve_job *j, const char *model_name, attend_buf *out) {
    size_t tokens = 0;
    attend_buf_puts(out, "{\"object\":\"list\",\"data\":[");
    for (size_t i = 0; i < j->req.n; i++) {
        attend_buf_puts(out, i ? ",{\"object\":\"embedding\",\"embedding\":" : "{\"object\":\"embedding\",\"embedding\":");
        if (j->req.base64) put_base64(out, j->out + i * j->width, j->width);
        else put_vector(out, j->out + i * j->width, j->width);
        attend_buf_printf(out, ",\"index\":%zu}", i);
        tokens += j->n_tokens[i];
    }
    attend_buf_puts(out, "],\"model\":");
    attend_buf_json_string(out, model_name);
    attend_buf_printf(out, ",\"usage\":{\"prompt_tokens\":%zu,\"total_tokens\":%zu}}", tokens, tokens);
    return 200;
}

static int tokenize_answer(const serve_job *j, attend_buf *out) {
    const attend_model *m = j->model->model;
    const size_t sp = j->model->n_special;
    attend_buf_puts(out, "[");
    for (size_t i = 0; i < j->req.n; i++) {
        attend_buf_puts(out, i ? ",[" : "[");
        size_t first = 1;
        for (size_t t = j->id_off[i]; t < j->id_off[i + 1]; t++) {
            int special = t - j->id_off[i] < sp;
            if (special && !j->req.add_special) continue;
            attend_buf_printf(out, "%s{\"id\":%ld,\"text\":", first ? "" : ",", (long)j->ids[t]);
            const char *text = attend_model_token(m, j->ids[t]);
            attend_buf_json_string(out, text ? text : "");
            attend_buf_printf(out, ",\"special\":%s}", special ? "true" : "false");
            first = 0;
        }
        attend_buf_puts(out, "]");
    }
    attend_buf_puts(out, "]");
    return 200;
}

int serve_response_job(const serve_job *j, const char *model_name, attend_buf *out) {
    if (j->fail.http) {
        serve_response_error(out, j->fail.type, j->fail.msg);
        return j->fail.http;
    }
    if (j->req.ep == SERVE_EP_OPENAI && j->req.dimensions && j->req.dimensions != j->width) {
        char msg[160];
        snprintf(msg, sizeof msg, "dimensions is %zu but the model's embeddings have %zu", j->req.dimensions,
                 j->width);
        serve_response_error(out, "validation", msg);
        return 422;
    }
    switch (j->req.ep) {
    case SERVE_EP_PREDICT: return predict_answer(j, out);
    case SERVE_EP_EMBED: return embed_answer(j, out);
    case SERVE_EP_OPENAI: return openai_answer(j, model_name, out);
    case SERVE_EP_TOKENIZE: return tokenize_answer(j, out);
    default: serve_response_error(out, "backend", "no answer for this endpoint"); return 500;
    }
}
