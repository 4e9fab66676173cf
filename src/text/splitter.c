/* attend's own word splitter (see splitter.h for the rules). */
#include "text/splitter.h"
#include "base/utf8.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

/* ------------------------------------------------------------------------ */
/* Splitter                                                                 */
/* ------------------------------------------------------------------------ */

/* Character classes for splitting. */
enum { CLASS_SEP, CLASS_LETTER, CLASS_MARK, CLASS_DIGIT, CLASS_SYMBOL };

static int char_class(int32_t cp) {
    if (cp < 0x80) {
        if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return CLASS_LETTER;
        if (cp >= '0' && cp <= '9') return CLASS_DIGIT;
        if (cp <= ' ' || cp == 0x7F) return CLASS_SEP; /* space and controls */
        return CLASS_SYMBOL;
    }
    switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_NL: /* letter numbers (Roman numerals) behave as letters */
        return CLASS_LETTER;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
        return CLASS_MARK;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NO:
        return CLASS_DIGIT;
    case UTF8PROC_CATEGORY_ZS:
    case UTF8PROC_CATEGORY_ZL:
    case UTF8PROC_CATEGORY_ZP:
    case UTF8PROC_CATEGORY_CC:
    case UTF8PROC_CATEGORY_CF:
        return CLASS_SEP;
    default: /* P*, S*, Co, Cn (Cs cannot occur in valid UTF-8) */
        return CLASS_SYMBOL;
    }
}

#define TOKENIZER_UTF8PROC_OPTIONS                                                       \
    (UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD |         \
     UTF8PROC_IGNORE | UTF8PROC_STRIPCC | UTF8PROC_LUMP)

attend_status attend_splitter_init(attend_splitter *tok, attend_error *err) {
    if (!tok) return attend_errorf(err, ATTEND_ERR_ARG, "tokenizer: NULL argument");
    memset(tok, 0, sizeof *tok);
    tok->max_text_bytes = ATTEND_SPLITTER_MAX_TEXT;
    return ATTEND_OK;
}

void attend_splitter_free(attend_splitter *tok) {
    if (!tok) return;
    free(tok->bytes);
    free(tok->start);
    free(tok->len);
    free(tok->cps);
    memset(tok, 0, sizeof *tok);
}

attend_status attend_splitter_split(attend_splitter *tok, const char *text, size_t len,
                                     size_t max_tokens, attend_error *err) {
    if (!tok || (!text && len))
        return attend_errorf(err, ATTEND_ERR_ARG, "tokenizer: NULL argument");
    tok->count = 0;
    tok->truncated = 0;
    size_t bad = 0;
    if (!attend_utf8_valid(text, len, &bad))
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "invalid UTF-8 at byte %zu of the text (0x%02x)", bad,
                             (unsigned)(unsigned char)text[bad]);
    size_t cap_bytes = tok->max_text_bytes ? tok->max_text_bytes : ATTEND_SPLITTER_MAX_TEXT;
    if (len > cap_bytes) {
        len = attend_utf8_cut(text, cap_bytes);
        tok->truncated = 1;
    }
    if (len == 0) return ATTEND_OK;

    /* Decompose (NFKD + case fold + ignorables + lump) into code points,
     * growing the buffer once if it was too small, then recompose (NFKC). */
    const utf8proc_option_t opts = (utf8proc_option_t)TOKENIZER_UTF8PROC_OPTIONS;
    utf8proc_ssize_t n;
    for (;;) {
        n = utf8proc_decompose((const utf8proc_uint8_t *)text, (utf8proc_ssize_t)len,
                               tok->cps, (utf8proc_ssize_t)tok->cps_cap, opts);
        if (n < 0)
            return attend_errorf(err, ATTEND_ERR_FORMAT, "cannot normalise text: %s",
                                 utf8proc_errmsg(n));
        if ((size_t)n <= tok->cps_cap) break;
        if (!attend_grow((void **)&tok->cps, &tok->cps_cap, (size_t)n, sizeof(int32_t)))
            return attend_errorf(err, ATTEND_ERR_NOMEM, "tokenizer: out of memory");
    }
    n = utf8proc_normalize_utf32(tok->cps, n, opts);
    if (n < 0)
        return attend_errorf(err, ATTEND_ERR_FORMAT, "cannot normalise text: %s",
                             utf8proc_errmsg(n));
    size_t ncp = (size_t)n;

    /* Worst case: every code point its own 4-byte token plus its NUL. */
    size_t need_bytes;
    if (attend_mul_overflow(ncp, 5, &need_bytes) ||
        !attend_grow((void **)&tok->bytes, &tok->bytes_cap, need_bytes + 1, 1))
        return attend_errorf(err, ATTEND_ERR_NOMEM, "tokenizer: out of memory");
    if (ncp > tok->tok_cap) {
        /* start[] and len[] grow in step; tok_cap moves only when both did. */
        size_t cap_start = tok->tok_cap, cap_len = tok->tok_cap;
        if (!attend_grow((void **)&tok->start, &cap_start, ncp, sizeof(size_t)) ||
            !attend_grow((void **)&tok->len, &cap_len, ncp, sizeof(size_t)))
            return attend_errorf(err, ATTEND_ERR_NOMEM, "tokenizer: out of memory");
        tok->tok_cap = cap_start;
    }

    utf8proc_uint8_t *out = (utf8proc_uint8_t *)tok->bytes;
    size_t nb = 0, count = 0;
    int cur = CLASS_SEP; /* class of the open token; CLASS_SEP = none open */
    for (size_t i = 0; i < ncp; i++) {
        int32_t cp = tok->cps[i];
        int cls = char_class(cp);
        if (cls == CLASS_SEP) {
            if (cur != CLASS_SEP) {
                tok->len[count] = nb - tok->start[count];
                out[nb++] = 0;
                count++;
                cur = CLASS_SEP;
            }
            continue;
        }
        int extend = 0;
        if (cls == CLASS_MARK) {
            if (cur != CLASS_SEP) extend = 1; /* a mark belongs to what precedes it */
            else cls = CLASS_LETTER;          /* a leading mark starts a word */
        } else if (cp == '\'' && cur == CLASS_LETTER && i + 1 < ncp &&
                   char_class(tok->cps[i + 1]) == CLASS_LETTER) {
            extend = 1; /* internal apostrophe: don't, o'clock */
        } else if (cls == cur && cls != CLASS_SYMBOL) {
            extend = 1;
        }
        if (!extend) {
            if (cur != CLASS_SEP) {
                tok->len[count] = nb - tok->start[count];
                out[nb++] = 0;
                count++;
                cur = CLASS_SEP;
            }
            if (max_tokens && count == max_tokens) break;
            tok->start[count] = nb;
            cur = cls;
        }
        nb += (size_t)utf8proc_encode_char(cp, out + nb);
    }
    if (cur != CLASS_SEP) {
        tok->len[count] = nb - tok->start[count];
        out[nb++] = 0;
        count++;
    }
    tok->count = count;
    return ATTEND_OK;
}

