/* Strict JSON syntax and cJSON parsing that reports running out of memory
 * as such. The checker runs before cJSON reads a safetensors header (cJSON
 * accepts things the reference reader's serde_json rejects), and after
 * cJSON fails anywhere else, to tell a syntax error from a failed
 * allocation. */
#include "base/json.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

/* RFC 8259 syntax check; cJSON accepts things serde_json
 * rejects (leading zeros, "1.", raw control characters in strings, any byte
 * <= 0x20 as whitespace). Also notes what cJSON would silently change: a
 * number that is not a plain integer (every number in a valid header is an
 * unsigned integer) and a \u0000 escape (cannot live in a C string). */
typedef struct {
    const unsigned char *s;
    size_t n, i;
    int max_depth;
    const char *why; /* first syntax error */
    size_t err_at;
    size_t nonint_at; /* first number with a fraction or exponent */
    size_t nul_at;    /* first \u0000 escape */
} js_state;

static int js_fail(js_state *j, const char *why) {
    if (!j->why) {
        j->why = why;
        j->err_at = j->i;
    }
    return 0;
}

static void js_ws(js_state *j) {
    while (j->i < j->n && (j->s[j->i] == ' ' || j->s[j->i] == '\t' || j->s[j->i] == '\n' ||
                           j->s[j->i] == '\r'))
        j->i++;
}

static int js_hex4(js_state *j, unsigned *cp) {
    if (j->n - j->i < 4) return js_fail(j, "truncated \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = j->s[j->i + (size_t)k];
        unsigned d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return js_fail(j, "invalid \\u escape");
        v = v * 16 + d;
    }
    j->i += 4;
    *cp = v;
    return 1;
}

static int js_string(js_state *j) {
    j->i++; /* opening quote */
    while (j->i < j->n) {
        unsigned char c = j->s[j->i];
        if (c == '"') { j->i++; return 1; }
        if (c < 0x20) return js_fail(j, "control character in string");
        if (c != '\\') { j->i++; continue; }
        size_t esc = j->i;
        if (++j->i >= j->n) break;
        c = j->s[j->i++];
        if (c && strchr("\"\\/bfnrt", c)) continue;
        if (c != 'u') { j->i = esc; return js_fail(j, "invalid escape in string"); }
        unsigned cp;
        if (!js_hex4(j, &cp)) return 0;
        if (cp == 0 && j->nul_at == ATTEND_JSON_NONE) j->nul_at = esc;
        if (cp >= 0xDC00 && cp <= 0xDFFF) { j->i = esc; return js_fail(j, "lone surrogate escape"); }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            unsigned lo;
            if (j->n - j->i < 2 || j->s[j->i] != '\\' || j->s[j->i + 1] != 'u') {
                j->i = esc;
                return js_fail(j, "lone surrogate escape");
            }
            j->i += 2;
            if (!js_hex4(j, &lo)) return 0;
            if (lo < 0xDC00 || lo > 0xDFFF) { j->i = esc; return js_fail(j, "lone surrogate escape"); }
        }
    }
    return js_fail(j, "unterminated string");
}

static int js_digits(js_state *j) {
    size_t start = j->i;
    while (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9') j->i++;
    return j->i > start;
}

static int js_number(js_state *j) {
    size_t start = j->i;
    int integer = 1;
    if (j->s[j->i] == '-') j->i++;
    if (j->i < j->n && j->s[j->i] == '0') j->i++;
    else if (!js_digits(j)) return js_fail(j, "invalid number");
    if (j->i < j->n && j->s[j->i] == '.') {
        j->i++;
        integer = 0;
        if (!js_digits(j)) return js_fail(j, "invalid number");
    }
    if (j->i < j->n && (j->s[j->i] == 'e' || j->s[j->i] == 'E')) {
        j->i++;
        integer = 0;
        if (j->i < j->n && (j->s[j->i] == '+' || j->s[j->i] == '-')) j->i++;
        if (!js_digits(j)) return js_fail(j, "invalid number");
    }
    if (j->i < j->n && j->s[j->i] >= '0' && j->s[j->i] <= '9')
        return js_fail(j, "invalid number (leading zero)");
    if (!integer && j->nonint_at == ATTEND_JSON_NONE) j->nonint_at = start;
    /* A u64 has at most 20 digits; cJSON cannot read number tokens over 63
     * characters, so reject long ones here with a clear message. */
    if (j->i - start > 24) { j->i = start; return js_fail(j, "number too long"); }
    return 1;
}

static int js_literal(js_state *j, const char *word) {
    size_t len = strlen(word);
    if (j->n - j->i < len || memcmp(j->s + j->i, word, len) != 0)
        return js_fail(j, "unexpected character");
    j->i += len;
    return 1;
}

static int js_value(js_state *j, int depth) {
    js_ws(j);
    if (j->i >= j->n) return js_fail(j, "unexpected end of input");
    unsigned char c = j->s[j->i];
    if (c == '"') return js_string(j);
    if (c == '-' || (c >= '0' && c <= '9')) return js_number(j);
    if (c == 't') return js_literal(j, "true");
    if (c == 'f') return js_literal(j, "false");
    if (c == 'n') return js_literal(j, "null");
    if (c != '{' && c != '[') return js_fail(j, "unexpected character");
    if (depth >= j->max_depth) return js_fail(j, "nested too deeply");
    unsigned char close = c == '{' ? '}' : ']';
    j->i++;
    js_ws(j);
    if (j->i < j->n && j->s[j->i] == close) { j->i++; return 1; }
    for (;;) {
        if (c == '{') {
            js_ws(j);
            if (j->i >= j->n || j->s[j->i] != '"') return js_fail(j, "expected a string key");
            if (!js_string(j)) return 0;
            js_ws(j);
            if (j->i >= j->n || j->s[j->i] != ':') return js_fail(j, "expected ':'");
            j->i++;
        }
        if (!js_value(j, depth + 1)) return 0;
        js_ws(j);
        if (j->i >= j->n) return js_fail(j, "unexpected end of input");
        if (j->s[j->i] == close) { j->i++; return 1; }
        if (j->s[j->i] != ',') return js_fail(j, c == '{' ? "expected ',' or '}'" : "expected ',' or ']'");
        j->i++;
    }
}

/* One value, then only JSON whitespace (the writer's space padding). */
static int js_document(js_state *j) {
    if (!js_value(j, 0)) return 0;
    js_ws(j);
    if (j->i != j->n) return js_fail(j, "trailing characters after the JSON value");
    return 1;
}

int attend_json_check(const char *s, size_t n, int max_depth, attend_json_syntax *out) {
    js_state j = {.s = (const unsigned char *)s, .n = n, .max_depth = max_depth,
                  .nonint_at = ATTEND_JSON_NONE, .nul_at = ATTEND_JSON_NONE};
    int ok = js_document(&j);
    if (out) {
        out->why = ok ? NULL : j.why;
        out->err_at = ok ? 0 : j.err_at;
        out->nonint_at = j.nonint_at;
        out->nul_at = j.nul_at;
    }
    return ok;
}

cJSON *attend_json_parse(const char *s, const char **end, int *oom) {
    cJSON *v = cJSON_ParseWithOpts(s, end, 1);
    if (oom) *oom = !v && attend_json_check(s, strlen(s), CJSON_NESTING_LIMIT, NULL);
    return v;
}

attend_status attend_json_string_array(size_t n, const char *(*get)(const void *ctx, size_t i),
                                       const void *ctx, const char *what, char **out,
                                       attend_error *err) {
    *out = NULL;
    cJSON *arr = cJSON_CreateArray();
    if (!arr) goto nomem;
    for (size_t i = 0; i < n; i++) {
        cJSON *s = cJSON_CreateString(get(ctx, i));
        if (!s) goto nomem;
        if (!cJSON_AddItemToArray(arr, s)) {
            cJSON_Delete(s);
            goto nomem;
        }
    }
    char *txt = cJSON_PrintUnformatted(arr);
    cJSON_Delete(arr);
    arr = NULL;
    if (!txt) goto nomem;
    /* Copy into plain malloc memory so that callers free() it whatever
     * allocator hooks cJSON was given. */
    size_t len = strlen(txt);
    *out = malloc(len + 1);
    if (*out) memcpy(*out, txt, len + 1);
    cJSON_free(txt);
    if (!*out) goto nomem;
    return ATTEND_OK;
nomem:
    cJSON_Delete(arr);
    return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory", what);
}

/* Parses path's JSON object into *out; *out NULL (and ATTEND_OK) when the
 * file does not exist. */
attend_status attend_json_read_object(const char *path, size_t max, cJSON **out,
                                      attend_error *err) {
    *out = NULL;
    char *buf;
    size_t len;
    int absent;
    attend_status st = attend_read_file(path, max, &buf, &len, &absent, err);
    if (st || absent) return st;
    size_t nul = strlen(buf);
    if (nul != len) {
        free(buf);
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: NUL byte at offset %zu", path, nul);
    }
    const char *end = NULL;
    int oom = 0;
    cJSON *j = attend_json_parse(buf, &end, &oom);
    size_t at = end && end >= buf ? (size_t)(end - buf) : 0;
    free(buf);
    if (!j && oom) return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory parsing it", path);
    if (!j) return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: invalid JSON near byte %zu", path, at);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: not a JSON object", path);
    }
    *out = j;
    return ATTEND_OK;
}
