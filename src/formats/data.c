/* Dataset readers, label table and stratified split (see data.h). */
#include "formats/data.h"
#include "base/rng.h"
#include "base/util.h"
#include "base/json.h"
#include "base/utf8.h"
#include "base/util.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Formats                                                                  */
/* ------------------------------------------------------------------------ */

const char *attend_data_format_name(attend_data_format f) {
    switch (f) {
    case ATTEND_FORMAT_AUTO: return "auto";
    case ATTEND_FORMAT_TSV: return "tsv";
    case ATTEND_FORMAT_CSV: return "csv";
    case ATTEND_FORMAT_FASTTEXT: return "fasttext";
    case ATTEND_FORMAT_JSONL: return "jsonl";
    case ATTEND_FORMAT_TEXT: return "text";
    }
    return "unknown";
}

static int ascii_lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

static int str_ieq(const char *a, const char *b) {
    for (; *a && *b; a++, b++)
        if (ascii_lower((unsigned char)*a) != ascii_lower((unsigned char)*b)) return 0;
    return *a == *b;
}

attend_status attend_data_format_parse(const char *name, attend_data_format *out,
                                       attend_error *err) {
    static const struct {
        const char *name;
        attend_data_format f;
    } names[] = {{"auto", ATTEND_FORMAT_AUTO},         {"tsv", ATTEND_FORMAT_TSV},
                 {"csv", ATTEND_FORMAT_CSV},           {"fasttext", ATTEND_FORMAT_FASTTEXT},
                 {"ft", ATTEND_FORMAT_FASTTEXT},       {"jsonl", ATTEND_FORMAT_JSONL},
                 {"json", ATTEND_FORMAT_JSONL},        {"text", ATTEND_FORMAT_TEXT}};
    if (!name || !out) return attend_errorf(err, ATTEND_ERR_ARG, "format: NULL argument");
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (str_ieq(name, names[i].name)) {
            *out = names[i].f;
            return ATTEND_OK;
        }
    }
    return attend_errorf(err, ATTEND_ERR_ARG,
                         "unknown format \"%s\" (use tsv, csv, fasttext, jsonl or text)", name);
}

attend_status attend_data_format_from_path(const char *path, attend_data_format *out,
                                           attend_error *err) {
    if (!path || !out) return attend_errorf(err, ATTEND_ERR_ARG, "format: NULL argument");
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) {
        const char *ext = dot + 1;
        if (str_ieq(ext, "tsv")) *out = ATTEND_FORMAT_TSV;
        else if (str_ieq(ext, "csv")) *out = ATTEND_FORMAT_CSV;
        else if (str_ieq(ext, "txt") || str_ieq(ext, "ft") || str_ieq(ext, "fasttext"))
            *out = ATTEND_FORMAT_FASTTEXT;
        else if (str_ieq(ext, "jsonl") || str_ieq(ext, "ndjson")) *out = ATTEND_FORMAT_JSONL;
        else dot = NULL;
        if (dot) return ATTEND_OK;
    }
    return attend_errorf(err, ATTEND_ERR_ARG,
                         "%s: cannot tell the format from the file name (known extensions: "
                         ".tsv .csv .txt .ft .jsonl); give the format (--format tsv|csv|"
                         "fasttext|jsonl)",
                         path);
}

/* ------------------------------------------------------------------------ */
/* Line reader (also the byte source of the CSV reader)                     */
/* ------------------------------------------------------------------------ */

attend_status attend_line_reader_init(attend_line_reader *r, FILE *f, const char *name,
                                      size_t max_bytes, attend_error *err) {
    if (!r || !f) return attend_errorf(err, ATTEND_ERR_ARG, "line reader: NULL argument");
    memset(r, 0, sizeof *r);
    r->f = f;
    r->name = name ? name : "(stream)";
    r->max_bytes = max_bytes ? max_bytes : ATTEND_DATA_MAX_LINE;
    r->hash = ATTEND_FNV64_OFFSET;
    r->at_start = 1;
    return ATTEND_OK;
}

void attend_line_reader_free(attend_line_reader *r) {
    if (!r) return;
    free(r->buf);
    r->buf = NULL;
    r->cap = 0;
}

/* One byte of the stream, hashed, or EOF (check ferror). */
static int raw_getc(attend_line_reader *r) {
    int c = getc(r->f);
    if (c != EOF) {
        r->hash = (r->hash ^ (uint64_t)(unsigned char)c) * ATTEND_FNV64_PRIME;
        r->nbytes++;
    }
    return c;
}

/* Next byte after the BOM, or EOF. */
static int src_getc(attend_line_reader *r) {
    if (r->at_start) {
        r->at_start = 0;
        static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
        int n = 0, c;
        while (n < 3 && (c = raw_getc(r)) != EOF) {
            r->pend[n++] = (unsigned char)c;
            if ((unsigned char)c != bom[n - 1]) break;
        }
        if (n == 3 && memcmp(r->pend, bom, 3) == 0) n = 0; /* drop the BOM */
        r->npend = n;
        r->ipend = 0;
    }
    if (r->ipend < r->npend) return r->pend[r->ipend++];
    return raw_getc(r);
}

/* Grows r->buf to hold at least n bytes (n <= max_bytes + 1). */
static int line_reserve(attend_line_reader *r, size_t n) {
    if (n <= r->cap) return 1;
    size_t cap = r->cap ? r->cap : 256;
    while (cap < n) cap = cap > SIZE_MAX / 2 ? n : cap * 2;
    if (cap > r->max_bytes + 1 && n <= r->max_bytes + 1) cap = r->max_bytes + 1;
    char *p = realloc(r->buf, cap);
    if (!p) return 0;
    r->buf = p;
    r->cap = cap;
    return 1;
}

attend_status attend_line_reader_next(attend_line_reader *r, const char **line, size_t *len,
                                      int *too_long, attend_error *err) {
    if (!r || !line) return attend_errorf(err, ATTEND_ERR_ARG, "line reader: NULL argument");
    *line = NULL;
    if (len) *len = 0;
    if (too_long) *too_long = 0;
    if (r->at_eof) return ATTEND_OK;
    size_t n = 0;
    int c = EOF, any = 0, over = 0;
    while ((c = src_getc(r)) != EOF) {
        any = 1;
        if (c == '\n') break;
        if (n < r->max_bytes) {
            if (!line_reserve(r, n + 2))
                return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory reading line %zu",
                                     r->name, r->line_no + 1);
            r->buf[n++] = (char)c;
        } else {
            over = 1; /* keep consuming to the end of the line */
        }
    }
    if (c == EOF) {
        if (ferror(r->f))
            return attend_errorf(err, ATTEND_ERR_IO, "%s: read error after line %zu: %s",
                                 r->name, r->line_no, strerror(errno));
        r->at_eof = 1;
        if (!any) return ATTEND_OK;
    }
    if (!line_reserve(r, n + 1))
        return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory", r->name);
    if (!over && n > 0 && r->buf[n - 1] == '\r') n--;
    r->buf[n] = 0;
    r->line_no++;
    *line = r->buf;
    if (len) *len = n;
    if (too_long) *too_long = over;
    return ATTEND_OK;
}

/* ------------------------------------------------------------------------ */
/* Dataset storage: records plus an arena of strings                        */
/* ------------------------------------------------------------------------ */

struct attend_arena_block {
    attend_arena_block *next;
    size_t used, cap;
    char data[];
};

/* Blocks start small (a dataset of a few lines costs a few KiB, not 1 MiB)
 * and double up to ARENA_BLOCK_MAX, so a big file needs few blocks. */
#define ARENA_BLOCK_MIN ((size_t)4 << 10)
#define ARENA_BLOCK_MAX ((size_t)1 << 20)

static char *arena_strndup(attend_dataset *ds, const char *s, size_t len) {
    attend_arena_block *b = ds->arena;
    if (!b || b->cap - b->used < len + 1) {
        size_t cap = b ? b->cap * 2 : ARENA_BLOCK_MIN;
        if (cap > ARENA_BLOCK_MAX) cap = ARENA_BLOCK_MAX;
        if (cap < len + 1) cap = len + 1;
        attend_arena_block *nb = malloc(sizeof *nb + cap);
        if (!nb) return NULL;
        nb->next = ds->arena;
        nb->used = 0;
        nb->cap = cap;
        ds->arena = nb;
        b = nb;
    }
    char *p = b->data + b->used;
    memcpy(p, s, len);
    p[len] = 0;
    b->used += len + 1;
    return p;
}

void attend_dataset_free(attend_dataset *ds) {
    if (!ds) return;
    free(ds->records);
    attend_arena_block *b = ds->arena;
    while (b) {
        attend_arena_block *next = b->next;
        free(b);
        b = next;
    }
    ds->records = NULL;
    ds->arena = NULL;
    ds->count = ds->cap = 0;
    ds->name = NULL;
}

/* State shared by the format readers. */
typedef struct {
    attend_dataset *ds;
    const attend_data_options *opt;
    attend_error *err;
    attend_line_reader rd;
    const char *text_col, *label_col;
} reader;

/* Reports a malformed record at line; fatal (returned) in strict mode. */
#if defined(__GNUC__)
__attribute__((format(printf, 3, 4)))
#endif
static attend_status report(reader *rx, size_t line, const char *fmt, ...) {
    char what[400], msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(msg, sizeof msg, "%s:%zu: %s", rx->ds->name, line, what);
    attend_dataset *ds = rx->ds;
    ds->n_malformed++;
    if (ds->n_warnings_kept < ATTEND_DATA_WARNINGS_KEPT)
        memcpy(ds->warnings[ds->n_warnings_kept++], msg, sizeof msg);
    if (rx->opt->on_warning) rx->opt->on_warning(rx->opt->warning_ctx, msg);
    if (rx->opt->strict) return attend_errorf(rx->err, ATTEND_ERR_FORMAT, "%s", msg);
    return ATTEND_OK;
}

static attend_status add_record(reader *rx, const char *label, size_t llen, const char *text,
                                size_t tlen, size_t line) {
    attend_dataset *ds = rx->ds;
    if (ds->count == ds->cap) {
        size_t cap = ds->cap ? ds->cap * 2 : 1024, bytes;
        if (attend_mul_overflow(cap, sizeof *ds->records, &bytes)) goto nomem;
        attend_record *p = realloc(ds->records, bytes);
        if (!p) goto nomem;
        ds->records = p;
        ds->cap = cap;
    }
    attend_record *rec = &ds->records[ds->count];
    rec->label = NULL;
    if (label && !(rec->label = arena_strndup(ds, label, llen))) goto nomem;
    if (!(rec->text = arena_strndup(ds, text, tlen))) goto nomem;
    rec->line = line;
    ds->count++;
    return ATTEND_OK;
nomem:
    return attend_errorf(rx->err, ATTEND_ERR_NOMEM, "%s: out of memory at line %zu",
                         ds->name, line);
}

static int is_space(int c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

/* Trims ASCII whitespace from both ends of s[0..*len); returns the new start. */
static const char *trim(const char *s, size_t *len) {
    size_t a = 0, b = *len;
    while (a < b && is_space((unsigned char)s[a])) a++;
    while (b > a && is_space((unsigned char)s[b - 1])) b--;
    *len = b - a;
    return s + a;
}

/* "" if s[0..len) is valid UTF-8 without NUL bytes, else a description. */
static const char *field_problem(const char *s, size_t len, char *buf, size_t bufsize) {
    size_t bad;
    if (!attend_utf8_valid(s, len, &bad)) {
        snprintf(buf, bufsize, "invalid UTF-8 at byte %zu (0x%02x)", bad,
                 (unsigned)(unsigned char)s[bad]);
        return buf;
    }
    if (memchr(s, 0, len)) return "contains a NUL byte";
    return "";
}

/* Common checks of a label and text, then the record is stored. */
static attend_status add_labelled(reader *rx, const char *label, size_t llen, const char *text,
                                  size_t tlen, size_t line) {
    label = trim(label, &llen);
    text = trim(text, &tlen);
    if (llen == 0) return report(rx, line, "empty label");
    if (tlen == 0) return report(rx, line, "empty text");
    return add_record(rx, label, llen, text, tlen, line);
}

/* ------------------------------------------------------------------------ */
/* Line formats: TSV, fastText, JSONL, TEXT                                 */
/* ------------------------------------------------------------------------ */

static attend_status parse_tsv(reader *rx, const char *s, size_t len, size_t line) {
    const char *tab = memchr(s, '\t', len);
    if (!tab) return report(rx, line, "no TAB between label and text (expected label<TAB>text)");
    size_t llen = (size_t)(tab - s);
    return add_labelled(rx, s, llen, tab + 1, len - llen - 1, line);
}

#define FT_PREFIX "__label__"
#define FT_PREFIX_LEN 9

static attend_status parse_fasttext(reader *rx, const char *s, size_t len, size_t line) {
    size_t i = 0;
    while (i < len && is_space((unsigned char)s[i])) i++;
    if (len - i < FT_PREFIX_LEN || memcmp(s + i, FT_PREFIX, FT_PREFIX_LEN) != 0)
        return report(rx, line, "no label (expected __label__NAME text)");
    const char *label = s + i + FT_PREFIX_LEN;
    size_t j = i + FT_PREFIX_LEN;
    while (j < len && !is_space((unsigned char)s[j])) j++;
    size_t llen = (size_t)(s + j - label);
    /* Further leading labels are dropped: the first one is the class. */
    for (;;) {
        while (j < len && is_space((unsigned char)s[j])) j++;
        if (len - j < FT_PREFIX_LEN || memcmp(s + j, FT_PREFIX, FT_PREFIX_LEN) != 0) break;
        while (j < len && !is_space((unsigned char)s[j])) j++;
    }
    return add_labelled(rx, label, llen, s + j, len - j, line);
}

static attend_status parse_jsonl(reader *rx, const char *s, size_t len, size_t line) {
    const char *end = NULL;
    int oom = 0;
    cJSON *obj = attend_json_parse(s, &end, &oom);
    if (!obj) {
        /* Fatal, not a skipped record: the line is fine, the memory is not. */
        if (oom)
            return attend_errorf(rx->err, ATTEND_ERR_NOMEM, "%s:%zu: out of memory parsing the line",
                                 rx->ds->name, line);
        size_t at = end && end >= s ? (size_t)(end - s) : 0;
        return report(rx, line, "invalid JSON near byte %zu", at);
    }
    (void)len;
    attend_status st;
    char buf[96], num[32];
    const char *why;
    if (!cJSON_IsObject(obj)) {
        st = report(rx, line, "not a JSON object");
        goto done;
    }
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(obj, rx->text_col);
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(obj, rx->label_col);
    if (!t) {
        st = report(rx, line, "no \"%s\" key", rx->text_col);
        goto done;
    }
    if (!cJSON_IsString(t) || !t->valuestring) {
        st = report(rx, line, "\"%s\" is not a string", rx->text_col);
        goto done;
    }
    if (!l) {
        st = report(rx, line, "no \"%s\" key", rx->label_col);
        goto done;
    }
    const char *label;
    if (cJSON_IsString(l) && l->valuestring) {
        label = l->valuestring;
    } else if (cJSON_IsNumber(l) && l->valuedouble == floor(l->valuedouble) &&
               fabs(l->valuedouble) <= 9007199254740992.0) {
        snprintf(num, sizeof num, "%lld", (long long)l->valuedouble);
        label = num;
    } else {
        st = report(rx, line, "\"%s\" is not a string or an integer", rx->label_col);
        goto done;
    }
    /* Escapes such as \ud800 can decode to invalid UTF-8: check again. */
    size_t tlen = strlen(t->valuestring), llen = strlen(label);
    if (*(why = field_problem(t->valuestring, tlen, buf, sizeof buf))) {
        st = report(rx, line, "text: %s", why);
        goto done;
    }
    if (*(why = field_problem(label, llen, buf, sizeof buf))) {
        st = report(rx, line, "label: %s", why);
        goto done;
    }
    st = add_labelled(rx, label, llen, t->valuestring, tlen, line);
done:
    cJSON_Delete(obj);
    return st;
}

static int is_blank(const char *s, size_t len) {
    for (size_t i = 0; i < len; i++)
        if (!is_space((unsigned char)s[i])) return 0;
    return 1;
}

static attend_status read_lines(reader *rx) {
    attend_line_reader *rd = &rx->rd;
    attend_data_format fmt = rx->ds->format;
    char buf[96];
    for (;;) {
        const char *s;
        size_t len;
        int over;
        attend_status st = attend_line_reader_next(rd, &s, &len, &over, rx->err);
        if (st) return st;
        if (!s) return ATTEND_OK;
        size_t line = rd->line_no;
        if (fmt == ATTEND_FORMAT_TEXT) {
            /* Every line is a record; problems give an empty text. */
            const char *why;
            if (over) {
                len = attend_utf8_valid(s, len, NULL) ? len : attend_utf8_cut(s, len);
                if ((st = report(rx, line, "line longer than %zu bytes; cut", rd->max_bytes)))
                    return st;
            }
            if (*(why = field_problem(s, len, buf, sizeof buf))) {
                if ((st = report(rx, line, "%s; read as an empty line", why))) return st;
                len = 0;
            }
            if ((st = add_record(rx, NULL, 0, s, len, line))) return st;
            continue;
        }
        if (over) {
            st = report(rx, line, "line longer than %zu bytes", rd->max_bytes);
        } else if (is_blank(s, len)) {
            continue;
        } else {
            const char *why = field_problem(s, len, buf, sizeof buf);
            if (*why) {
                st = report(rx, line, "%s", why);
            } else if (fmt == ATTEND_FORMAT_TSV) {
                st = parse_tsv(rx, s, len, line);
            } else if (fmt == ATTEND_FORMAT_FASTTEXT) {
                st = parse_fasttext(rx, s, len, line);
            } else {
                st = parse_jsonl(rx, s, len, line);
            }
        }
        if (st) return st;
    }
}

/* ------------------------------------------------------------------------ */
/* CSV (RFC 4180)                                                           */
/* ------------------------------------------------------------------------ */

/* One parsed record: fields are NUL-terminated in buf. */
typedef struct {
    char *buf;
    size_t len, cap;
    size_t raw, max;  /* input bytes of the record so far, and their cap */
    size_t *off, *flen;
    size_t nfields, fcap;
    size_t line;      /* line where the record starts */
    int too_long;     /* bytes past max were dropped */
    int unterminated; /* end of file inside a quoted field */
    int stray_quote;  /* text after a closing quote */
    int last_quoted;  /* the field being built was quoted */
} csv_record;

/* Once a record passes its cap nothing more is stored (too_long is set), so
 * its memory stays within about twice the cap: content plus one NUL per
 * field, and fields are separated by input bytes that count toward the cap. */
static int csv_reserve(csv_record *r, size_t n) {
    if (n <= r->cap) return 1;
    size_t cap = r->cap ? r->cap : 256;
    while (cap < n) cap *= 2;
    char *p = realloc(r->buf, cap);
    if (!p) return 0;
    r->buf = p;
    r->cap = cap;
    return 1;
}

static int csv_putc(csv_record *r, int c) {
    if (r->too_long) return 1;
    if (!csv_reserve(r, r->len + 1)) return 0;
    r->buf[r->len++] = (char)c;
    return 1;
}

/* Starts field nfields at the current end of buf. */
static int csv_begin_field(csv_record *r) {
    if (r->too_long) return 1;
    if (r->nfields == r->fcap) {
        size_t cap = r->fcap ? r->fcap * 2 : 16;
        size_t *o = realloc(r->off, cap * sizeof *o);
        if (!o) return 0;
        r->off = o;
        size_t *l = realloc(r->flen, cap * sizeof *l);
        if (!l) return 0;
        r->flen = l;
        r->fcap = cap;
    }
    r->off[r->nfields] = r->len;
    r->last_quoted = 0;
    return 1;
}

static int csv_end_field(csv_record *r, int strip_cr) {
    if (r->too_long) return 1;
    size_t start = r->off[r->nfields];
    size_t n = r->len - start;
    if (strip_cr && !r->last_quoted && n > 0 && r->buf[r->len - 1] == '\r') {
        r->len--;
        n--;
    }
    r->flen[r->nfields++] = n;
    if (!csv_reserve(r, r->len + 1)) return 0;
    r->buf[r->len++] = 0;
    return 1;
}

/* Reads one record. Returns 1 with a record, 0 at end of input, -1 on
 * allocation failure, -2 on a read error. *line_no counts '\n' seen. */
static int csv_next(attend_line_reader *rd, csv_record *r, size_t *line_no) {
    enum { FIELD_START, UNQUOTED, QUOTED, QUOTE_SEEN } state = FIELD_START;
    r->len = 0;
    r->raw = 0;
    r->nfields = 0;
    r->too_long = r->unterminated = r->stray_quote = 0;
    r->line = *line_no;
    int c, started = 0;
    for (;;) {
        c = src_getc(rd);
        if (c == EOF) {
            if (ferror(rd->f)) return -2;
            if (!started) return 0;
            if (state == QUOTED) r->unterminated = 1;
            if (!csv_end_field(r, 1)) return -1;
            return 1;
        }
        if (!started) {
            started = 1;
            if (!csv_begin_field(r)) return -1;
        }
        if (c == '\n') (*line_no)++;
        /* The cap counts the record's bytes but not the newline ending it. */
        if (!(c == '\n' && state != QUOTED) && ++r->raw > r->max) r->too_long = 1;
        switch (state) {
        case FIELD_START:
            if (c == '"') {
                r->last_quoted = 1;
                state = QUOTED;
                break;
            }
            state = UNQUOTED;
            /* fall through */
        case UNQUOTED:
            if (c == ',') {
                if (!csv_end_field(r, 0) || !csv_begin_field(r)) return -1;
                state = FIELD_START;
            } else if (c == '\n') {
                return csv_end_field(r, 1) ? 1 : -1;
            } else if (!csv_putc(r, c)) {
                return -1;
            }
            break;
        case QUOTED:
            if (c == '"') state = QUOTE_SEEN;
            else if (!csv_putc(r, c)) return -1;
            break;
        case QUOTE_SEEN:
            if (c == '"') { /* "" is an escaped quote */
                if (!csv_putc(r, '"')) return -1;
                state = QUOTED;
            } else if (c == ',') {
                if (!csv_end_field(r, 0) || !csv_begin_field(r)) return -1;
                state = FIELD_START;
            } else if (c == '\n') {
                return csv_end_field(r, 0) ? 1 : -1;
            } else if (c == '\r') {
                /* CRLF after a closing quote: the '\n' ends the record. */
            } else {
                r->stray_quote = 1; /* "abc"def: keep reading as unquoted */
                r->last_quoted = 0;
                if (!csv_putc(r, c)) return -1;
                state = UNQUOTED;
            }
            break;
        }
    }
}

static void csv_record_free(csv_record *r) {
    free(r->buf);
    free(r->off);
    free(r->flen);
}

/* csv_next, skipping blank lines (one empty unquoted field). Returns 1
 * with a record, 0 at the end, or an error status in st (no memory, a read
 * error) and -1. */
static int csv_next_record(reader *rx, csv_record *r, size_t *line_no, attend_status *st) {
    for (;;) {
        int got = csv_next(&rx->rd, r, line_no);
        if (got == -1) {
            *st = attend_errorf(rx->err, ATTEND_ERR_NOMEM, "%s: out of memory near line %zu", rx->ds->name,
                                *line_no);
            return -1;
        }
        if (got == -2) {
            *st = attend_errorf(rx->err, ATTEND_ERR_IO, "%s: read error near line %zu: %s", rx->ds->name,
                                *line_no, strerror(errno));
            return -1;
        }
        if (got == 0) return 0;
        if (r->nfields == 1 && r->flen[0] == 0 && !r->last_quoted) continue; /* blank line */
        return 1;
    }
}

/* The header names no column want: the error, listing the columns it has. */
static attend_status csv_no_column(reader *rx, const csv_record *r, const char *want) {
    char cols[300];
    size_t used = 0;
    cols[0] = 0;
    for (size_t i = 0; i < r->nfields && used + 8 < sizeof cols; i++) {
        int w = snprintf(cols + used, sizeof cols - used, "%s\"%.40s\"", i ? ", " : "",
                         r->buf + r->off[i]);
        if (w < 0) break;
        used += (size_t)w < sizeof cols - used ? (size_t)w : sizeof cols - used - 1;
    }
    return attend_errorf(rx->err, ATTEND_ERR_FORMAT,
                         "%s:%zu: no column \"%s\" in the header (columns: %s); choose "
                         "the columns with --text-col and --label-col",
                         rx->ds->name, r->line, want, cols);
}

/* Header: the first non-blank record; finds the text and label columns
 * (idx[0], idx[1]), each exactly once. */
static attend_status csv_read_header(reader *rx, csv_record *r, size_t *line_no, long idx[2]) {
    attend_status st = ATTEND_OK;
    const char *file = rx->ds->name;
    int got = csv_next_record(rx, r, line_no, &st);
    if (got < 0) return st;
    if (got == 0)
        return attend_errorf(rx->err, ATTEND_ERR_FORMAT,
                             "%s: empty file (a CSV file needs a header row naming the "
                             "columns \"%s\" and \"%s\")",
                             file, rx->text_col, rx->label_col);
    if (r->too_long || r->unterminated)
        return attend_errorf(rx->err, ATTEND_ERR_FORMAT, "%s:%zu: header %s", file, r->line,
                             r->too_long ? "longer than the size cap" : "has an unterminated quote");
    const char *want[2] = {rx->text_col, rx->label_col};
    idx[0] = idx[1] = -1;
    char buf[96];
    for (size_t i = 0; i < r->nfields; i++) {
        size_t n = r->flen[i];
        const char *name = trim(r->buf + r->off[i], &n);
        const char *why = field_problem(r->buf + r->off[i], r->flen[i], buf, sizeof buf);
        if (*why)
            return attend_errorf(rx->err, ATTEND_ERR_FORMAT, "%s:%zu: header field %zu: %s", file,
                                 r->line, i + 1, why);
        for (int k = 0; k < 2; k++) {
            if (strlen(want[k]) == n && memcmp(name, want[k], n) == 0) {
                if (idx[k] >= 0)
                    return attend_errorf(rx->err, ATTEND_ERR_FORMAT,
                                         "%s:%zu: column \"%s\" appears twice in the header", file,
                                         r->line, want[k]);
                idx[k] = (long)i;
            }
        }
    }
    if (idx[0] < 0 || idx[1] < 0) return csv_no_column(rx, r, idx[0] < 0 ? want[0] : want[1]);
    return ATTEND_OK;
}

/* One data record: its text and label added, or the reason it is skipped
 * (report: an error in strict mode). */
static attend_status csv_add_record(reader *rx, const csv_record *r, size_t text_idx, size_t label_idx,
                                    size_t header_fields) {
    const size_t need = (text_idx > label_idx ? text_idx : label_idx) + 1;
    if (r->unterminated) return report(rx, r->line, "unterminated quoted field (runs to the end of the file)");
    if (r->too_long) return report(rx, r->line, "record longer than %zu bytes", r->max);
    if (r->stray_quote) return report(rx, r->line, "text after the closing quote of a field");
    if (r->nfields < need)
        return report(rx, r->line, "%zu fields, but column \"%s\" is field %zu (the header has %zu)",
                      r->nfields, r->nfields <= text_idx ? rx->text_col : rx->label_col,
                      (r->nfields <= text_idx ? text_idx : label_idx) + 1, header_fields);
    const char *t = r->buf + r->off[text_idx], *l = r->buf + r->off[label_idx];
    size_t tlen = r->flen[text_idx], llen = r->flen[label_idx];
    char buf[96];
    const char *why;
    if (*(why = field_problem(l, llen, buf, sizeof buf))) return report(rx, r->line, "label: %s", why);
    if (*(why = field_problem(t, tlen, buf, sizeof buf))) return report(rx, r->line, "text: %s", why);
    return add_labelled(rx, l, llen, t, tlen, r->line);
}

static attend_status read_csv(reader *rx) {
    csv_record r;
    memset(&r, 0, sizeof r);
    r.max = rx->rd.max_bytes;
    size_t line_no = 1;
    long idx[2] = {-1, -1};
    attend_status st = csv_read_header(rx, &r, &line_no, idx);
    const size_t header_fields = r.nfields;
    int got;
    while (st == ATTEND_OK && (got = csv_next_record(rx, &r, &line_no, &st)) > 0)
        st = csv_add_record(rx, &r, (size_t)idx[0], (size_t)idx[1], header_fields);
    csv_record_free(&r);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Reading a dataset                                                        */
/* ------------------------------------------------------------------------ */

attend_status attend_dataset_read_stream(attend_dataset *ds, FILE *f, const char *name,
                                         const attend_data_options *opt, attend_error *err) {
    if (!ds) return attend_errorf(err, ATTEND_ERR_ARG, "dataset: NULL argument");
    memset(ds, 0, sizeof *ds);
    if (!f) return attend_errorf(err, ATTEND_ERR_ARG, "dataset: NULL stream");
    attend_data_options defaults;
    memset(&defaults, 0, sizeof defaults);
    if (!opt) opt = &defaults;
    if (!name) name = "(stream)";
    attend_data_format fmt = opt->format;
    attend_status st;
    if (fmt == ATTEND_FORMAT_AUTO && (st = attend_data_format_from_path(name, &fmt, err)))
        return st;
    if ((int)fmt < (int)ATTEND_FORMAT_AUTO || (int)fmt > (int)ATTEND_FORMAT_TEXT)
        return attend_errorf(err, ATTEND_ERR_ARG, "dataset: unknown format %d", (int)fmt);

    reader rx;
    memset(&rx, 0, sizeof rx);
    rx.ds = ds;
    rx.opt = opt;
    rx.err = err;
    rx.text_col = opt->text_col && *opt->text_col ? opt->text_col : "text";
    rx.label_col = opt->label_col && *opt->label_col ? opt->label_col : "label";
    ds->format = fmt;
    /* The name lives in the arena so records can outlive the caller's string. */
    if (!(ds->name = arena_strndup(ds, name, strlen(name))))
        return attend_errorf(err, ATTEND_ERR_NOMEM, "dataset: out of memory");
    if ((st = attend_line_reader_init(&rx.rd, f, ds->name, opt->max_line_bytes, err))) goto fail;

    st = fmt == ATTEND_FORMAT_CSV ? read_csv(&rx) : read_lines(&rx);
    attend_line_reader_free(&rx.rd);
    if (st) goto fail;
    ds->hash = rx.rd.hash;
    ds->nbytes = rx.rd.nbytes;
    snprintf(ds->hash_hex, sizeof ds->hash_hex, "%016llx", (unsigned long long)ds->hash);
    if (ds->count == 0 && fmt != ATTEND_FORMAT_TEXT) {
        if (ds->n_malformed)
            st = attend_errorf(err, ATTEND_ERR_FORMAT,
                               "%s: no valid records (%zu malformed, skipped; the first: %s)",
                               ds->name, ds->n_malformed, ds->warnings[0]);
        else
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "%s: no records (the file is empty)",
                               ds->name);
        goto fail;
    }
    return ATTEND_OK;
fail:
    attend_line_reader_free(&rx.rd);
    attend_dataset_free(ds);
    return st;
}

attend_status attend_dataset_read(attend_dataset *ds, const char *path,
                                  const attend_data_options *opt, attend_error *err) {
    if (!ds) return attend_errorf(err, ATTEND_ERR_ARG, "dataset: NULL argument");
    memset(ds, 0, sizeof *ds);
    if (!path) return attend_errorf(err, ATTEND_ERR_ARG, "dataset: NULL path");
    FILE *f = fopen(path, "rb");
    if (!f) return attend_errorf(err, ATTEND_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    attend_status st = attend_dataset_read_stream(ds, f, path, opt, err);
    fclose(f);
    return st;
}

attend_status attend_file_hash(const char *path, uint64_t *hash, char hex[17],
                               attend_error *err) {
    if (!path) return attend_errorf(err, ATTEND_ERR_ARG, "hash: NULL path");
    FILE *f = fopen(path, "rb");
    if (!f) return attend_errorf(err, ATTEND_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    unsigned char buf[1 << 16];
    uint64_t h = ATTEND_FNV64_OFFSET;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) h = attend_fnv1a64(buf, n, h);
    int bad = ferror(f);
    fclose(f);
    if (bad) return attend_errorf(err, ATTEND_ERR_IO, "%s: read error", path);
    if (hash) *hash = h;
    if (hex) snprintf(hex, 17, "%016llx", (unsigned long long)h);
    return ATTEND_OK;
}

/* ------------------------------------------------------------------------ */
/* Labels                                                                   */
/* ------------------------------------------------------------------------ */

static int cmp_strptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void attend_labels_free(attend_labels *lt) {
    if (!lt) return;
    for (size_t i = 0; i < lt->count; i++) free(lt->names[i]);
    free(lt->names);
    lt->names = NULL;
    lt->count = 0;
}

static char *dup_str(const char *s) {
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p) memcpy(p, s, n);
    return p;
}

attend_status attend_labels_from_dataset(attend_labels *lt, const attend_dataset *ds,
                                         attend_error *err) {
    if (!lt || !ds) return attend_errorf(err, ATTEND_ERR_ARG, "labels: NULL argument");
    memset(lt, 0, sizeof *lt);
    if (ds->count == 0) return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: no records", ds->name);
    const char **all = malloc(ds->count * sizeof *all);
    if (!all) return attend_errorf(err, ATTEND_ERR_NOMEM, "labels: out of memory");
    for (size_t i = 0; i < ds->count; i++) {
        if (!ds->records[i].label) {
            free(all);
            return attend_errorf(err, ATTEND_ERR_FORMAT, "%s:%zu: record has no label",
                                 ds->name, ds->records[i].line);
        }
        all[i] = ds->records[i].label;
    }
    qsort(all, ds->count, sizeof *all, cmp_strptr);
    size_t k = 0;
    for (size_t i = 0; i < ds->count; i++)
        if (i == 0 || strcmp(all[i], all[k - 1]) != 0) all[k++] = all[i];
    lt->names = calloc(k, sizeof *lt->names);
    if (!lt->names) goto nomem;
    for (size_t i = 0; i < k; i++) {
        if (!(lt->names[i] = dup_str(all[i]))) goto nomem;
        lt->count = i + 1;
    }
    free(all);
    return ATTEND_OK;
nomem:
    free(all);
    attend_labels_free(lt);
    return attend_errorf(err, ATTEND_ERR_NOMEM, "labels: out of memory");
}

long attend_labels_find(const attend_labels *lt, const char *name) {
    if (!lt || !name) return -1;
    size_t lo = 0, hi = lt->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(lt->names[mid], name);
        if (c == 0) return (long)mid;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return -1;
}

attend_status attend_labels_map(const attend_labels *lt, const attend_dataset *ds,
                                int32_t *ids, attend_error *err) {
    if (!lt || !ds || (!ids && ds->count))
        return attend_errorf(err, ATTEND_ERR_ARG, "labels: NULL argument");
    for (size_t i = 0; i < ds->count; i++) {
        const attend_record *r = &ds->records[i];
        long id = r->label ? attend_labels_find(lt, r->label) : -1;
        if (id < 0) {
            char known[256];
            size_t used = 0;
            known[0] = 0;
            for (size_t j = 0; j < lt->count; j++) {
                int w = snprintf(known + used, sizeof known - used, "%s%s", j ? ", " : "",
                                 lt->names[j]);
                if (w < 0 || (size_t)w >= sizeof known - used) {
                    memcpy(known + sizeof known - 4, "...", 4); /* cut: say so */
                    break;
                }
                used += (size_t)w;
            }
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s:%zu: label \"%.80s\" is not one the model knows (%zu "
                                 "known: %s)",
                                 ds->name, r->line, r->label ? r->label : "(none)", lt->count,
                                 known);
        }
        ids[i] = (int32_t)id;
    }
    return ATTEND_OK;
}

static const char *label_at(const void *ctx, size_t i) {
    return ((const attend_labels *)ctx)->names[i];
}

attend_status attend_labels_to_json(const attend_labels *lt, char **out, attend_error *err) {
    if (!lt || !out) return attend_errorf(err, ATTEND_ERR_ARG, "labels: NULL argument");
    return attend_json_string_array(lt->count, label_at, lt, "labels", out, err);
}

attend_status attend_labels_from_json(attend_labels *lt, const char *json, attend_error *err) {
    if (!lt || !json) return attend_errorf(err, ATTEND_ERR_ARG, "labels: NULL argument");
    memset(lt, 0, sizeof *lt);
    const char *end = NULL;
    int oom = 0;
    cJSON *arr = attend_json_parse(json, &end, &oom);
    if (!arr && oom) return attend_errorf(err, ATTEND_ERR_NOMEM, "labels: out of memory parsing the JSON");
    if (!arr)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "labels: invalid JSON near byte %zu (expected an array of strings)",
                             end && end >= json ? (size_t)(end - json) : 0);
    attend_status st = ATTEND_OK;
    size_t n = 0;
    if (!cJSON_IsArray(arr)) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "labels: not a JSON array of strings");
        goto done;
    }
    for (const cJSON *it = arr->child; it; it = it->next) n++;
    if (n == 0) {
        st = attend_errorf(err, ATTEND_ERR_FORMAT, "labels: the array is empty");
        goto done;
    }
    if (!(lt->names = calloc(n, sizeof *lt->names))) {
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "labels: out of memory");
        goto done;
    }
    size_t i = 0;
    for (const cJSON *it = arr->child; it; it = it->next, i++) {
        size_t bad;
        if (!cJSON_IsString(it) || !it->valuestring || !it->valuestring[0]) {
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "labels: entry %zu is not a non-empty string",
                               i);
            goto done;
        }
        if (!attend_utf8_valid(it->valuestring, strlen(it->valuestring), &bad)) {
            st = attend_errorf(err, ATTEND_ERR_FORMAT, "labels: entry %zu is not valid UTF-8", i);
            goto done;
        }
        if (i > 0 && strcmp(lt->names[i - 1], it->valuestring) >= 0) {
            st = attend_errorf(err, ATTEND_ERR_FORMAT,
                               "labels: entry %zu \"%.64s\" is a duplicate or out of sorted order",
                               i, it->valuestring);
            goto done;
        }
        if (!(lt->names[i] = dup_str(it->valuestring))) {
            st = attend_errorf(err, ATTEND_ERR_NOMEM, "labels: out of memory");
            goto done;
        }
        lt->count = i + 1;
    }
done:
    cJSON_Delete(arr);
    if (st) attend_labels_free(lt);
    return st;
}

/* ------------------------------------------------------------------------ */
/* Stratified split                                                         */
/* ------------------------------------------------------------------------ */

/* splitmix64 stream. */
static uint64_t split_next(uint64_t *s) {
    *s += 0x9E3779B97F4A7C15ull;
    return attend_mix64(*s);
}

/* Uniform in [0, m) without modulo bias (m > 0). */
static uint64_t split_below(uint64_t *s, uint64_t m) {
    uint64_t threshold = (0 - m) % m; /* 2^64 mod m */
    for (;;) {
        uint64_t r = split_next(s);
        if (r >= threshold) return r % m;
    }
}

attend_status attend_split_stratified(const int32_t *label_ids, size_t n, size_t K, double frac,
                                      uint64_t seed, uint8_t *is_val, size_t *n_val,
                                      attend_error *err) {
    if (n_val) *n_val = 0;
    if ((n && (!label_ids || !is_val)) || K == 0)
        return attend_errorf(err, ATTEND_ERR_ARG, "split: NULL argument or no classes");
    if (!(frac >= 0.0 && frac < 1.0))
        return attend_errorf(err, ATTEND_ERR_ARG,
                             "validation fraction %g is outside [0, 1)", frac);
    for (size_t i = 0; i < n; i++)
        if (label_ids[i] < 0 || (size_t)label_ids[i] >= K)
            return attend_errorf(err, ATTEND_ERR_ARG, "split: label id %d of example %zu is "
                                 "outside [0, %zu)", (int)label_ids[i], i, K);
    if (n) memset(is_val, 0, n);
    if (frac == 0.0 || n == 0) return ATTEND_OK;

    /* Counting sort of example indices by class, each class in file order. */
    size_t *start = calloc(K + 1, sizeof *start);
    size_t *idx = malloc(n * sizeof *idx);
    if (!start || !idx) {
        free(start);
        free(idx);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "split: out of memory");
    }
    for (size_t i = 0; i < n; i++) start[(size_t)label_ids[i] + 1]++;
    for (size_t c = 0; c < K; c++) start[c + 1] += start[c];
    {
        size_t *fill = calloc(K, sizeof *fill);
        if (!fill) {
            free(start);
            free(idx);
            return attend_errorf(err, ATTEND_ERR_NOMEM, "split: out of memory");
        }
        for (size_t i = 0; i < n; i++) {
            size_t c = (size_t)label_ids[i];
            idx[start[c] + fill[c]++] = i;
        }
        free(fill);
    }
    size_t total = 0;
    for (size_t c = 0; c < K; c++) {
        size_t nc = start[c + 1] - start[c];
        if (nc < 2) continue;
        size_t nv = (size_t)floor(frac * (double)nc + 0.5);
        if (nv < 1) nv = 1;
        if (nv > nc - 1) nv = nc - 1;
        /* Partial Fisher-Yates: the first nv of a seeded shuffle of the class. */
        size_t *cls = idx + start[c];
        uint64_t s = attend_seed_child(seed, (uint64_t)c);
        for (size_t j = 0; j < nv; j++) {
            size_t r = j + (size_t)split_below(&s, (uint64_t)(nc - j));
            size_t tmp = cls[j];
            cls[j] = cls[r];
            cls[r] = tmp;
            is_val[cls[j]] = 1;
        }
        total += nv;
    }
    free(start);
    free(idx);
    if (n_val) *n_val = total;
    return ATTEND_OK;
}
