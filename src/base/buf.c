/* The growable text buffer (see buf.h). */
#include "base/buf.h"
#include "base/atomic.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void attend_buf_init(attend_buf *b) { memset(b, 0, sizeof *b); }

void attend_buf_free(attend_buf *b) {
    free(b->s);
    memset(b, 0, sizeof *b);
}

/* Makes room for n more bytes plus the NUL; 0 on success. */
static int buf_reserve(attend_buf *b, size_t n) {
    if (b->failed) return -1;
    if (b->len + n + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n + 1) {
        if (cap > ((size_t)-1) / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *s = realloc(b->s, cap);
    if (!s) {
        b->failed = 1;
        return -1;
    }
    b->s = s;
    b->cap = cap;
    return 0;
}

void attend_buf_append(attend_buf *b, const char *s, size_t n) {
    if (buf_reserve(b, n)) return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = 0;
}

void attend_buf_puts(attend_buf *b, const char *s) { attend_buf_append(b, s, strlen(s)); }

void attend_buf_printf(attend_buf *b, const char *fmt, ...) {
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        attend_buf_append(b, small, (size_t)n);
        return;
    }
    if (buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void attend_buf_escape(attend_buf *b, const char *s) {
    const char *run = s;
    for (; *s; s++) {
        const char *rep = NULL;
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&#39;"; break;
        default:
            if (c < 0x20 && c != '\t' && c != '\n') rep = "\xEF\xBF\xBD";
        }
        if (!rep) continue;
        attend_buf_append(b, run, (size_t)(s - run));
        attend_buf_puts(b, rep);
        run = s + 1;
    }
    attend_buf_append(b, run, (size_t)(s - run));
}

void attend_buf_json_string(attend_buf *b, const char *s) {
    attend_buf_append(b, "\"", 1);
    const char *run = s;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"') strcpy(esc, "\\\"");
        else if (c == '\\') strcpy(esc, "\\\\");
        else if (c == '\n') strcpy(esc, "\\n");
        else if (c == '\t') strcpy(esc, "\\t");
        else if (c == '\r') strcpy(esc, "\\r");
        else if (c < 0x20) snprintf(esc, sizeof esc, "\\u%04x", c);
        else continue;
        attend_buf_append(b, run, (size_t)(s - run));
        attend_buf_puts(b, esc);
        run = s + 1;
    }
    attend_buf_append(b, run, (size_t)(s - run));
    attend_buf_append(b, "\"", 1);
}

static const void *buf_piece(void *ctx, size_t i, size_t *len) {
    const attend_buf *b = ctx;
    if (i > 0) return NULL;
    *len = b->len;
    return b->len ? (const void *)b->s : "";
}

attend_status attend_buf_write_file(const attend_buf *b, const char *path, attend_error *err) {
    if (b->failed) return attend_errorf(err, ATTEND_ERR_NOMEM, "out of memory building %s", path);
    return attend_write_atomic(path, buf_piece, (void *)b, err);
}
