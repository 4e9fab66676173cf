/* Strict JSON syntax (RFC 8259) and cJSON parsing that tells bad syntax from
 * running out of memory: cJSON returns NULL for both, and a loader that
 * called an out-of-memory "invalid JSON" would send its user to repair a
 * file that is fine. */
#ifndef ATTEND_JSON_H
#define ATTEND_JSON_H

#include "attend.h"

#include <cjson/cJSON.h>
#include <stddef.h>

#define ATTEND_JSON_NONE ((size_t)-1)

/* What attend_json_check found. */
typedef struct {
    const char *why;  /* first syntax error, NULL when the text is valid */
    size_t err_at;    /* its byte offset */
    size_t nonint_at; /* first number with a fraction or exponent, or ATTEND_JSON_NONE */
    size_t nul_at;    /* first \u0000 escape, or ATTEND_JSON_NONE */
} attend_json_syntax;

/* 1 if s[0..n) is one JSON value, nested at most max_depth deep, followed
 * only by JSON whitespace; 0 otherwise. Fills *out (may be NULL). Stricter
 * than cJSON: no leading zeros, no "1.", no raw control characters in
 * strings, no lone surrogate escapes, numbers of at most 24 characters. */
int attend_json_check(const char *s, size_t n, int max_depth, attend_json_syntax *out);

/* cJSON_ParseWithOpts(s, end, 1). When it returns NULL, *oom (may be NULL)
 * says whether memory was the reason: s is strict JSON that cJSON reads
 * whenever it has the memory, so its failure can have no other cause. */
cJSON *attend_json_parse(const char *s, const char **end, int *oom);

/* The strings get(ctx, 0..n-1) as one compact JSON array, malloc'ed into
 * *out (free() it); what names the data in an out-of-memory message. */
attend_status attend_json_string_array(size_t n, const char *(*get)(const void *ctx, size_t i),
                                       const void *ctx, const char *what, char **out,
                                       attend_error *err);

/* Parses the JSON object in file path (at most max bytes) into *out;
 * *out NULL (and ATTEND_OK) when the file does not exist. Not an object,
 * a NUL byte or bad syntax is ATTEND_ERR_FORMAT naming the file. */
attend_status attend_json_read_object(const char *path, size_t max, cJSON **out,
                                      attend_error *err);

#endif
