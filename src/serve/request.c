/* A request body -> the texts and options of a job. The body is checked
 * as strict JSON first (base/json.c: cJSON alone accepts things other
 * parsers refuse, and returns NULL for both bad syntax and no memory), then
 * read with cJSON; every field is checked for its type and range, and each
 * refusal names the field. Unknown fields are ignored, as the servers whose
 * request shapes these are ignore them. */
#include "serve/serve.h"

#include "base/json.h"
#include "base/utf8.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SERVE_JSON_MAX_DEPTH 16

static const char *const endpoint_paths[SERVE_EP_COUNT] = {
    "/predict", "/embed", "/v1/embeddings", "/tokenize", "/health", "/info", "/metrics", "other"};

const char *serve_endpoint_path(serve_endpoint ep) {
    return ep < SERVE_EP_COUNT ? endpoint_paths[ep] : "other";
}

serve_endpoint serve_endpoint_of(const char *url) {
    for (int i = 0; i < SERVE_EP_OTHER; i++)
        if (strcmp(url, endpoint_paths[i]) == 0) return (serve_endpoint)i;
    return SERVE_EP_OTHER;
}

int serve_endpoint_runs_model(serve_endpoint ep) { return ep <= SERVE_EP_TOKENIZE; }

int serve_fail(serve_failure *f, int http, const char *type, const char *fmt, ...) {
    f->http = http;
    f->type = type;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->msg, sizeof f->msg, fmt, ap);
    va_end(ap);
    return 0;
}

/* A boolean field: absent keeps *out. */
static int get_bool(const cJSON *o, const char *key, int *out, serve_failure *f) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return 1;
    if (!cJSON_IsBool(v)) return serve_fail(f, 422, "validation", "%s must be true or false", key);
    *out = cJSON_IsTrue(v);
    return 1;
}

/* A positive integer field up to hi: absent keeps *out. */
static int get_count(const cJSON *o, const char *key, size_t hi, size_t *out, serve_failure *f) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v || cJSON_IsNull(v)) return 1;
    double d = cJSON_IsNumber(v) ? v->valuedouble : -1.0;
    if (!(d >= 1.0 && d <= (double)hi && d == floor(d)))
        return serve_fail(f, 422, "validation", "%s must be an integer from 1 to %zu", key, hi);
    *out = (size_t)d;
    return 1;
}

/* One text: a non-empty string of valid UTF-8. */
static int get_text(serve_request *r, size_t i, const cJSON *v, const char *field,
                    serve_failure *f) {
    if (!cJSON_IsString(v)) {
        if (cJSON_IsNumber(v) && r->ep == SERVE_EP_OPENAI)
            return serve_fail(f, 422, "validation",
                              "%s holds token ids; this server takes text only", field);
        return r->single ? serve_fail(f, 422, "validation", "%s must be a string or an array of strings", field)
                         : serve_fail(f, 422, "validation", "%s[%zu] must be a string", field, i);
    }
    size_t len = strlen(v->valuestring), bad = 0;
    if (len == 0)
        return r->single ? serve_fail(f, 422, "empty", "%s is an empty string", field)
                         : serve_fail(f, 422, "empty", "%s[%zu] is an empty string", field, i);
    if (!attend_utf8_valid(v->valuestring, len, &bad))
        return serve_fail(f, 422, "validation", "%s[%zu] is not valid UTF-8 (byte %zu)", field, i, bad);
    r->texts[i] = v->valuestring;
    r->lens[i] = len;
    return 1;
}

/* "inputs" (or "input"): a string or an array of 1..max_inputs strings. */
static int get_inputs(serve_request *r, const char *field, const serve_limits *lim,
                      serve_failure *f) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(r->doc, field);
    if (!v) return serve_fail(f, 422, "validation", "the body has no \"%s\"", field);
    r->single = !cJSON_IsArray(v);
    size_t n = r->single ? 1 : (size_t)cJSON_GetArraySize(v);
    if (n == 0) return serve_fail(f, 422, "empty", "%s is an empty array", field);
    if (n > lim->max_inputs)
        return serve_fail(f, 413, "validation",
                          "%s has %zu texts; this server takes at most %zu per request", field, n,
                          lim->max_inputs);
    r->texts = malloc(n * sizeof *r->texts);
    r->lens = malloc(n * sizeof *r->lens);
    if (!r->texts || !r->lens) return serve_fail(f, 500, "backend", "out of memory for %zu texts", n);
    r->n = n;
    if (r->single) return get_text(r, 0, v, field, f);
    size_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++)
        if (!get_text(r, i, e, field, f)) return 0;
    return 1;
}

/* The options of each endpoint. */
static int get_options(serve_request *r, serve_failure *f) {
    const cJSON *o = r->doc;
    switch (r->ep) {
    case SERVE_EP_PREDICT: {
        int raw = 0;
        if (!get_count(o, "top_k", 1000000, &r->top_k, f) || !get_bool(o, "truncate", &r->truncate, f) ||
            !get_bool(o, "raw_scores", &raw, f))
            return 0;
        if (raw) return serve_fail(f, 422, "validation", "raw_scores is not supported: scores are probabilities");
        return 1;
    }
    case SERVE_EP_EMBED:
        return get_bool(o, "normalize", &r->normalize, f) && get_bool(o, "truncate", &r->truncate, f);
    case SERVE_EP_TOKENIZE:
        return get_bool(o, "add_special_tokens", &r->add_special, f);
    case SERVE_EP_OPENAI: {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "model");
        if (m && !cJSON_IsNull(m)) {
            if (!cJSON_IsString(m)) return serve_fail(f, 422, "validation", "model must be a string");
            r->model = m->valuestring;
        }
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "encoding_format");
        if (e && !cJSON_IsNull(e)) {
            if (!cJSON_IsString(e) ||
                (strcmp(e->valuestring, "float") != 0 && strcmp(e->valuestring, "base64") != 0))
                return serve_fail(f, 422, "validation", "encoding_format must be \"float\" or \"base64\"");
            r->base64 = strcmp(e->valuestring, "base64") == 0;
        }
        return get_count(o, "dimensions", 1000000, &r->dimensions, f);
    }
    default:
        return serve_fail(f, 404, "not_found", "%s takes no body", serve_endpoint_path(r->ep));
    }
}

int serve_request_parse(serve_request *r, serve_endpoint ep, const char *body, size_t len,
                        const serve_limits *lim, serve_failure *f) {
    memset(r, 0, sizeof *r);
    r->ep = ep;
    r->normalize = 1;
    r->truncate = 1;
    r->add_special = 1;
    if (len == 0) return serve_fail(f, 400, "invalid_json", "the body is empty; expected a JSON object");
    attend_json_syntax syn;
    if (!attend_json_check(body, len, SERVE_JSON_MAX_DEPTH, &syn))
        return serve_fail(f, 400, "invalid_json", "the body is not valid JSON: %s at byte %zu", syn.why,
                          syn.err_at);
    if (syn.nul_at != ATTEND_JSON_NONE)
        return serve_fail(f, 422, "validation", "the body holds a \\u0000 escape (byte %zu); texts cannot hold NUL",
                          syn.nul_at);
    int oom = 0;
    r->doc = attend_json_parse(body, NULL, &oom);
    if (!r->doc) return serve_fail(f, 500, "backend", "out of memory reading the body");
    int ok = 0;
    if (!cJSON_IsObject(r->doc))
        serve_fail(f, 422, "validation", "the body must be a JSON object");
    else if (get_inputs(r, ep == SERVE_EP_OPENAI ? "input" : "inputs", lim, f) && get_options(r, f))
        ok = 1;
    if (!ok) serve_request_free(r);
    return ok;
}

void serve_request_free(serve_request *r) {
    cJSON_Delete(r->doc);
    free(r->texts);
    free(r->lens);
    memset(r, 0, sizeof *r);
}
