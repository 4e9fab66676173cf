/* A growable text buffer: what pictures, pages, reports and file headers
 * are written into before they go to a file in one atomic write. */
#ifndef ATTEND_BASE_BUF_H
#define ATTEND_BASE_BUF_H

#include "attend.h"

#include <stddef.h>

/* A growable NUL-terminated string. On allocation failure `failed` is set
 * and further writes are ignored; check it once at the end. */
typedef struct {
    char *s;
    size_t len, cap;
    int failed;
} attend_buf;

void attend_buf_init(attend_buf *b);
void attend_buf_free(attend_buf *b);
/* Appends formatted text. */
void attend_buf_printf(attend_buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends s as is. */
void attend_buf_puts(attend_buf *b, const char *s);
/* Appends n bytes. */
void attend_buf_append(attend_buf *b, const char *s, size_t n);
/* Appends s as a JSON string literal: quotes, backslash, \n \r \t escaped,
 * other control characters as \u00XX; UTF-8 passes through. */
void attend_buf_json_string(attend_buf *b, const char *s);
/* Appends s escaped for XML/HTML text and attribute values (& < > " '),
 * with control characters other than tab and newline (not allowed in XML)
 * replaced by U+FFFD. */
void attend_buf_escape(attend_buf *b, const char *s);
/* Writes the buffer to path, replacing it atomically (temporary file,
 * fsync, rename: an interrupted write leaves the old file). ATTEND_ERR_NOMEM
 * when the buffer failed, ATTEND_ERR_IO when the file cannot be written. */
attend_status attend_buf_write_file(const attend_buf *b, const char *path, attend_error *err);

#endif
