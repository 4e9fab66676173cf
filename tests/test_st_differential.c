/* Differential test of the safetensors reader against the reference: Python's
 * `safetensors` library (the Rust reader behind it).
 *
 * Generates a few thousand safetensors files from a fixed seed: valid files
 * (every dtype, 0-8 dims, zero-size tensors, metadata, entries and keys in
 * any order, JSON whitespace anywhere, escapes and UTF-8 in names, padded or
 * not) and mutations of them, semantic (shapes, offsets, dtypes, gaps,
 * overlaps, shape-product overflow, trailing or missing data, header length,
 * metadata types, entry types, number syntax) and byte-level (bytes
 * inserted, replaced or deleted in the header, invalid UTF-8, truncation).
 * For each file attend's decision (attend_st_open accepts or rejects) must
 * equal the reference's (safetensors.deserialize succeeds or raises).
 *
 * attend is intentionally stricter in a few places (safetensors.c's header
 * comment); a file where attend rejects and the reference accepts is
 * allowed only when it belongs to one of these classes, each counted and
 * printed:
 *   - whitespace before the opening '{'
 *   - an unknown key in a tensor entry
 *   - a duplicate tensor name or metadata key (the reference keeps the last)
 *   - more than 8 dims (ATTEND_ST_MAX_DIMS)
 *   - an integer of 2^53 or more in a shape or offsets
 *   - \u0000 inside a string
 * Dtypes attend does not support (F8_*, F4, F6_*, E8M0, C64, ...) are
 * never generated. attend accepting a file the reference rejects is always
 * a failure.
 *
 * The reference runs once, as `$ATTEND_PYTHON` (default python3), over the
 * list of files. Without the library the test prints a skip line and passes:
 *     python3 -m venv /tmp/st && /tmp/st/bin/pip install safetensors
 *     ATTEND_PYTHON=/tmp/st/bin/python build/tests/test_st_differential
 * ATTEND_ST_DIFF_N sets the number of files (default 3000), ATTEND_ST_DIFF_KEEP=1
 * keeps them in $ATTEND_TMP for inspection. */
#define _POSIX_C_SOURCE 200809L
#include "attend.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- deterministic randomness ---- */

static uint64_t rng_state = 0x5eed0f5afe7e57ull;
static uint64_t rnd(void) {
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static size_t rn(size_t n) { return n ? (size_t)(rnd() % n) : 0; }
static int chance(int percent) { return (int)rn(100) < percent; }

/* ---- growing byte buffer ---- */

typedef struct {
    char *p;
    size_t n, cap;
} buf;

static void b_put(buf *b, const void *s, size_t len) {
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len + 1) cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) { perror("realloc"); exit(1); }
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}
static void b_str(buf *b, const char *s) { b_put(b, s, strlen(s)); }
static void b_fmt(buf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    b_put(b, tmp, (size_t)w);
}
/* JSON whitespace between tokens: usually none. */
static void b_ws(buf *b) {
    static const char *ws[] = {" ", "\n", "\t", "\r\n", "  "};
    if (chance(15)) b_str(b, ws[rn(5)]);
}

/* ---- the model of a file ---- */

static const struct {
    const char *name;
    size_t size;
} dtypes[] = {{"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"U16", 2}, {"I16", 2},
              {"F16", 2},  {"BF16", 2}, {"U32", 4}, {"I32", 4}, {"F32", 4},
              {"U64", 8},  {"I64", 8},  {"F64", 8}};
#define NDTYPES (sizeof dtypes / sizeof *dtypes)

#define MAXT 6
typedef struct {
    char name[64];      /* JSON text of the name, without quotes */
    char dtype[32];     /* JSON text of the dtype value, with quotes if a string */
    size_t esize;
    size_t ndim;
    char shape[16][40]; /* JSON text of each dim */
    char offsets[3][40];
    size_t noff;
    int key_order[3];
    char extra[64];      /* raw JSON text of an extra member, or "" */
    char whole[64];      /* raw JSON text replacing the whole entry, or "" */
    int dropped;         /* left out of the header */
} tensor;

typedef struct {
    tensor t[MAXT];
    size_t nt;
    int meta;            /* 0 none, 1 object, 2 null, 3 raw meta_raw */
    char meta_raw[128];
    int meta_pos;        /* index of the entry the metadata precedes */
    size_t data_len;     /* bytes of data section */
    int pad;             /* pad the header with spaces to a multiple of 8 */
} file_model;

static void name_for(char *out, size_t cap, size_t i) {
    static const char *parts[] = {"w", "bias", "layer.0.weight", "caf\\u00e9", "\\u65e5\\u672c",
                                  "emoji\\ud83d\\ude00", "q\\\"uote", "back\\\\slash",
                                  "tab\\tnl\\n", "\xc3\xa9t\xc3\xa9", "\xe6\x97\xa5", "sl\\/ash", "",
                                  "a b", "__meta__"};
    snprintf(out, cap, "%s%zu", parts[rn(sizeof parts / sizeof *parts)], i);
}

/* A valid file: tensors tiling the data section in a random order. */
static void make_valid(file_model *m) {
    memset(m, 0, sizeof *m);
    m->nt = rn(MAXT + 1);
    if (chance(10)) m->nt = 0;
    size_t order[MAXT];
    for (size_t i = 0; i < m->nt; i++) order[i] = i;
    for (size_t i = m->nt; i > 1; i--) {
        size_t j = rn(i), tmp = order[i - 1];
        order[i - 1] = order[j];
        order[j] = tmp;
    }
    size_t sizes[MAXT];
    for (size_t i = 0; i < m->nt; i++) {
        tensor *t = &m->t[i];
        name_for(t->name, sizeof t->name, i);
        size_t d = rn(NDTYPES);
        snprintf(t->dtype, sizeof t->dtype, "\"%s\"", dtypes[d].name);
        t->esize = dtypes[d].size;
        t->ndim = rn(5);
        if (chance(3)) t->ndim = 8;
        size_t numel = 1;
        for (size_t k = 0; k < t->ndim; k++) {
            size_t dim = t->ndim == 8 ? 1 + rn(2) : rn(5);
            if (chance(5)) dim = 0;
            numel *= dim;
            snprintf(t->shape[k], sizeof t->shape[k], "%zu", dim);
        }
        sizes[i] = numel * t->esize;
        t->noff = 2;
        int perm[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
        memcpy(t->key_order, perm[chance(70) ? 0 : rn(6)], sizeof t->key_order);
    }
    size_t at = 0;
    for (size_t k = 0; k < m->nt; k++) {
        tensor *t = &m->t[order[k]];
        snprintf(t->offsets[0], sizeof t->offsets[0], "%zu", at);
        at += sizes[order[k]];
        snprintf(t->offsets[1], sizeof t->offsets[1], "%zu", at);
    }
    m->data_len = at;
    m->meta = chance(40) ? 1 : chance(5) ? 2 : 0;
    m->meta_pos = (int)rn(m->nt + 1);
    m->pad = chance(80);
}

static void emit_meta(buf *b, const file_model *m) {
    b_str(b, "\"__metadata__\"");
    b_ws(b);
    b_str(b, ":");
    b_ws(b);
    if (m->meta == 2) b_str(b, "null");
    else if (m->meta == 3) b_str(b, m->meta_raw);
    else b_str(b, "{\"format\":\"pt\",\"note\":\"caf\\u00e9 \xe6\x97\xa5\"}");
}

static void emit_header(buf *b, const file_model *m) {
    b_str(b, "{");
    int first = 1;
    for (size_t i = 0; i <= m->nt; i++) {
        if (m->meta && (size_t)m->meta_pos == i) {
            if (!first) b_str(b, ",");
            b_ws(b);
            emit_meta(b, m);
            first = 0;
        }
        if (i == m->nt) break;
        const tensor *t = &m->t[i];
        if (t->dropped) continue;
        if (!first) b_str(b, ",");
        first = 0;
        b_ws(b);
        b_fmt(b, "\"%s\"", t->name);
        b_ws(b);
        b_str(b, ":");
        b_ws(b);
        if (t->whole[0]) {
            b_str(b, t->whole);
            continue;
        }
        b_str(b, "{");
        for (int k = 0; k < 3; k++) {
            if (k) b_str(b, ",");
            b_ws(b);
            int key = t->key_order[k];
            if (key == 0) {
                b_str(b, "\"dtype\":");
                b_ws(b);
                b_str(b, t->dtype);
            } else if (key == 1) {
                b_str(b, "\"shape\":[");
                for (size_t d = 0; d < t->ndim; d++) {
                    if (d) b_str(b, ",");
                    b_ws(b);
                    b_str(b, t->shape[d]);
                }
                b_str(b, "]");
            } else {
                b_str(b, "\"data_offsets\":[");
                for (size_t d = 0; d < t->noff; d++) {
                    if (d) b_str(b, ",");
                    b_str(b, t->offsets[d]);
                }
                b_str(b, "]");
            }
            b_ws(b);
        }
        if (t->extra[0]) {
            b_str(b, ",");
            b_str(b, t->extra);
        }
        b_str(b, "}");
    }
    b_ws(b);
    b_str(b, "}");
}

/* Assembles prefix + header + data. */
static void assemble(buf *out, const buf *h, size_t data_len, int pad) {
    buf hp = {0};
    b_put(&hp, h->p, h->n);
    while (pad && hp.n % 8) b_str(&hp, " ");
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hp.n >> (8 * i));
    b_put(out, len8, 8);
    b_put(out, hp.p, hp.n);
    for (size_t i = 0; i < data_len; i++) {
        unsigned char c = (unsigned char)(i * 31 + 7);
        b_put(out, &c, 1);
    }
    free(hp.p);
}

/* ---- mutations ---- */

static const char *big_numbers[] = {"4294967296", "4294967297", "1099511627776", "4503599627370496",
                                    "9007199254740991", "2147483648", "65536", "18446744073709551",
                                    "1125899906842624"};
static const char *bad_numbers[] = {"-1", "1.0", "1e1", "01", "1.", ".5", "+1", "0x10", "1E0",
                                    "\"1\"", "true", "null", "[]", "{}", "18446744073709551616",
                                    "99999999999999999999999", "-0", "NaN", "Infinity", "1.5"};
static const char *bad_dtypes[] = {"\"F33\"", "\"f32\"", "\"FLOAT\"", "\"\"", "\"F32 \"", "1",
                                   "null", "[\"F32\"]", "\"I128\"", "\"U1\""};
static const char *bad_meta[] = {"[]", "\"x\"", "1", "true", "{\"k\":1}", "{\"k\":null}",
                                 "{\"k\":[\"v\"]}", "{\"k\":{}}", "{\"k\":\"v\",}", "{}"};
static const char *bad_entries[] = {"[]", "null", "1", "\"x\"", "{}", "{\"dtype\":\"F32\"}",
                                    "{\"dtype\":\"F32\",\"shape\":[]}",
                                    "{\"shape\":[],\"data_offsets\":[0,0]}",
                                    "{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0]}",
                                    "{\"dtype\":\"U8\",\"shape\":0,\"data_offsets\":[0,0]}",
                                    "{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":{}}"};

/* Semantic mutation of the model; returns a short description. */
static const char *mutate_model(file_model *m) {
    tensor *t = m->nt ? &m->t[rn(m->nt)] : NULL;
    switch (rn(14)) {
    case 0:
        if (!t || !t->ndim) break;
        snprintf(t->shape[rn(t->ndim)], 40, "%s", big_numbers[rn(sizeof big_numbers / sizeof *big_numbers)]);
        return "big dim";
    case 1:
        if (!t || !t->ndim) break;
        {
            char *d = t->shape[rn(t->ndim)];
            long v = atol(d) + (chance(50) ? 1 : -1);
            snprintf(d, 40, "%ld", v < 0 ? 0 : v);
        }
        return "dim +-1";
    case 2:
        if (!t) break;
        {
            char *o = t->offsets[rn(2)];
            long v = atol(o) + (long)rn(5) - 2;
            snprintf(o, 40, "%ld", v < 0 ? 0 : v);
        }
        return "offset moved";
    case 3:
        if (!t) break;
        {
            char tmp[40];
            memcpy(tmp, t->offsets[0], 40);
            memcpy(t->offsets[0], t->offsets[1], 40);
            memcpy(t->offsets[1], tmp, 40);
        }
        return "offsets swapped";
    case 4:
        if (!t) break;
        t->dropped = 1;
        return "tensor dropped";
    case 5:
        if (!t) break;
        {
            size_t d = rn(NDTYPES);
            snprintf(t->dtype, sizeof t->dtype, "\"%s\"", dtypes[d].name);
        }
        return "dtype changed";
    case 6:
        if (!t) break;
        snprintf(t->dtype, sizeof t->dtype, "%s", bad_dtypes[rn(sizeof bad_dtypes / sizeof *bad_dtypes)]);
        return "bad dtype";
    case 7:
        if (!t) break;
        if (t->ndim && chance(50))
            snprintf(t->shape[rn(t->ndim)], 40, "%s", bad_numbers[rn(sizeof bad_numbers / sizeof *bad_numbers)]);
        else
            snprintf(t->offsets[rn(2)], 40, "%s", bad_numbers[rn(sizeof bad_numbers / sizeof *bad_numbers)]);
        return "bad number";
    case 8:
        if (!t) break;
        if (chance(50)) {
            t->noff = 1 + 2 * rn(2); /* 1 or 3 offsets */
            memcpy(t->offsets[2], t->offsets[1], sizeof t->offsets[2]);
        } else {
            snprintf(t->whole, sizeof t->whole, "%s", bad_entries[rn(sizeof bad_entries / sizeof *bad_entries)]);
        }
        return "bad entry";
    case 9:
        m->meta = 3;
        snprintf(m->meta_raw, sizeof m->meta_raw, "%s", bad_meta[rn(sizeof bad_meta / sizeof *bad_meta)]);
        return "metadata type";
    case 10:
        m->data_len += 1 + rn(9);
        return "trailing bytes";
    case 11:
        if (!m->data_len) break;
        m->data_len -= 1 + rn(m->data_len);
        return "data truncated";
    case 12:
        if (m->nt < 2) break;
        {
            /* overlap or gap: make one tensor start where another does */
            tensor *u = &m->t[rn(m->nt)];
            if (u == t) break;
            memcpy(t->offsets[0], u->offsets[0], 40);
        }
        return "overlap";
    case 13:
        if (!t || t->ndim >= 7) break;
        {
            /* shape product overflow: three dims multiplying past 2^64 */
            t->ndim = 3;
            snprintf(t->shape[0], 40, "4294967296");
            snprintf(t->shape[1], 40, "4294967296");
            snprintf(t->shape[2], 40, "%zu", (size_t)1 + rn(16));
            memcpy(t->offsets[1], t->offsets[0], sizeof t->offsets[1]);
        }
        return "shape product overflow";
    }
    return "none";
}

/* Byte-level mutation of the header text. */
static const char *mutate_bytes(buf *h) {
    static const char pool[] = "{}[],:\"\\ 019-.eEx\xff\xc3\x80\xed\xa0\xe2\x7f\t\n";
    if (!h->n) return "none";
    size_t at = rn(h->n);
    switch (rn(6)) {
    case 0: /* replace a byte */
        h->p[at] = pool[rn(sizeof pool - 1)];
        if (h->p[at] == 0) h->p[at] = 'x';
        return "byte replaced";
    case 1: { /* insert a byte */
        char c = pool[rn(sizeof pool - 1)];
        buf nb = {0};
        b_put(&nb, h->p, at);
        b_put(&nb, &c, 1);
        b_put(&nb, h->p + at, h->n - at);
        free(h->p);
        *h = nb;
        return "byte inserted";
    }
    case 2: /* delete a byte */
        memmove(h->p + at, h->p + at + 1, h->n - at - 1);
        h->n--;
        h->p[h->n] = 0;
        return "byte deleted";
    case 3: { /* invalid or unusual UTF-8 inside a string or anywhere */
        static const char *seqs[] = {"\xff", "\xc0\x80", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80",
                                     "\xf0\x9f\x98\x80", "\xc3\xa9", "\xef\xbb\xbf", "\xc2", "\x80"};
        const char *s = seqs[rn(sizeof seqs / sizeof *seqs)];
        buf nb = {0};
        b_put(&nb, h->p, at);
        b_str(&nb, s);
        b_put(&nb, h->p + at, h->n - at);
        free(h->p);
        *h = nb;
        return "UTF-8 inserted";
    }
    case 4: { /* escapes */
        static const char *seqs[] = {"\\u00e9", "\\ud800", "\\udc00", "\\ud83d\\ude00", "\\x", "\\u12",
                                     "\\'", "\\U0041", "\\/"};
        const char *s = seqs[rn(sizeof seqs / sizeof *seqs)];
        buf nb = {0};
        b_put(&nb, h->p, at);
        b_str(&nb, s);
        b_put(&nb, h->p + at, h->n - at);
        free(h->p);
        *h = nb;
        return "escape inserted";
    }
    default: { /* a structural edit: trailing comma, comment, BOM, extra value */
        static const char *seqs[] = {",", "//c\n", "\xef\xbb\xbf", "{}", "\"k\":\"v\",", "]", "}", "\0"};
        size_t k = rn(sizeof seqs / sizeof *seqs);
        buf nb = {0};
        b_put(&nb, h->p, at);
        b_put(&nb, seqs[k], k == 7 ? 1 : strlen(seqs[k]));
        b_put(&nb, h->p + at, h->n - at);
        free(h->p);
        *h = nb;
        return "structure edited";
    }
    }
}

/* Mutations of the assembled file: prefix and length. */
static const char *mutate_file(buf *f) {
    switch (rn(4)) {
    case 0: {
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--) n = (n << 8) | (unsigned char)f->p[i];
        static const int64_t deltas[] = {1, -1, 8, -8, 2, -2};
        uint64_t v = n + (uint64_t)deltas[rn(6)];
        if (chance(20)) v = chance(50) ? 100000001ull : UINT64_MAX - rn(3);
        for (int i = 0; i < 8; i++) f->p[i] = (char)(unsigned char)(v >> (8 * i));
        return "header length changed";
    }
    case 1:
        f->n = rn(f->n);
        return "file truncated";
    case 2:
        f->n = f->n < 8 ? f->n : 8 + rn(f->n - 8 + 1);
        return "file truncated after the prefix";
    default:
        b_str(f, "\x01\x02\x03");
        return "bytes appended";
    }
}

/* ---- known, intended differences ---- */

static int is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static const char *known_numbers(const cJSON *arr) {
    if (!cJSON_IsArray(arr)) return NULL;
    for (const cJSON *d = arr->child; d; d = d->next)
        if (cJSON_IsNumber(d) && d->valuedouble >= 9007199254740992.0) return "integer >= 2^53";
    return NULL;
}

/* The class of intended strictness a file attend rejects falls in, or NULL. */
static const char *known_difference(const unsigned char *file, size_t len) {
    if (len < 8) return NULL;
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | file[i];
    if (n > len - 8 || n == 0) return NULL;
    const char *h = (const char *)file + 8;
    if (is_ws(h[0])) return "whitespace before '{'";
    for (size_t i = 0; i + 6 <= n; i++)
        if (memcmp(h + i, "\\u0000", 6) == 0) return "\\u0000 in a string";
    cJSON *root = cJSON_ParseWithLength(h, (size_t)n);
    if (!root) return NULL;
    const char *why = NULL;
    for (const cJSON *it = root->child; it && !why; it = it->next) {
        for (const cJSON *jt = it->next; jt && !why; jt = jt->next)
            if (it->string && jt->string && strcmp(it->string, jt->string) == 0)
                why = "duplicate name";
        if (why || !it->string) break;
        if (strcmp(it->string, "__metadata__") == 0) {
            for (const cJSON *a = it->child; a && !why; a = a->next)
                for (const cJSON *c = a->next; c && !why; c = c->next)
                    if (a->string && c->string && strcmp(a->string, c->string) == 0)
                        why = "duplicate metadata key";
            continue;
        }
        if (!cJSON_IsObject(it)) continue;
        for (const cJSON *k = it->child; k && !why; k = k->next) {
            if (strcmp(k->string, "dtype") && strcmp(k->string, "shape") &&
                strcmp(k->string, "data_offsets"))
                why = "unknown key in an entry";
            else if (strcmp(k->string, "shape") == 0 && cJSON_GetArraySize(k) > 8)
                why = "more than 8 dims";
            else if (strcmp(k->string, "dtype"))
                why = known_numbers(k);
        }
    }
    cJSON_Delete(root);
    return why;
}

/* ---- driver ---- */

#define NCLASSES 8
static const char *class_names[NCLASSES];
static size_t class_counts[NCLASSES];

static void count_class(const char *why) {
    for (size_t i = 0; i < NCLASSES; i++) {
        if (!class_names[i]) class_names[i] = why;
        if (strcmp(class_names[i], why) == 0) {
            class_counts[i]++;
            return;
        }
    }
}

static int have_reference(const char *py) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "'%s' -c 'import safetensors' >/dev/null 2>&1", py);
    return system(cmd) == 0;
}

int main(void) {
    const char *py = getenv("ATTEND_PYTHON");
    if (!py || !*py) py = "python3";
    if (strchr(py, '\'')) py = "python3";
    if (!have_reference(py)) {
        printf("test_st_differential: skipped: %s cannot import safetensors (pip install "
               "safetensors, or set ATTEND_PYTHON to a python that can)\n", py);
        printf("test_st_differential: 0 passed, 0 failed, 1 skipped\n");
        return 0;
    }
    const char *env_n = getenv("ATTEND_ST_DIFF_N");
    size_t N = env_n && atol(env_n) > 0 ? (size_t)atol(env_n) : 3000;
    const char *tmp = getenv("ATTEND_TMP");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/st_differential.%ld", tmp && *tmp ? tmp : "/tmp", (long)getpid());
    if (tmp && *tmp) mkdir(tmp, 0777);
    if (mkdir(dir, 0777) != 0) {
        fprintf(stderr, "test_st_differential: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }

    /* Generate the files; remember what each is and attend's decision. */
    char **what = calloc(N, sizeof *what);
    int *ours = calloc(N, sizeof *ours);
    char (*msg)[160] = calloc(N, sizeof *msg);
    char list_path[1100];
    snprintf(list_path, sizeof list_path, "%s/list", dir);
    FILE *list = fopen(list_path, "w");
    if (!what || !ours || !msg || !list) {
        fprintf(stderr, "test_st_differential: setup failed\n");
        return 1;
    }
    size_t n_accept = 0;
    for (size_t i = 0; i < N; i++) {
        file_model m;
        make_valid(&m);
        const char *w1 = "valid", *w2 = "", *w3 = "";
        int kind = (int)rn(10); /* 0-2 valid, 3-6 semantic, 7-8 bytes, 9 file */
        if (kind >= 3 && kind <= 6) {
            w1 = mutate_model(&m);
            if (chance(30)) w2 = mutate_model(&m);
        }
        buf h = {0}, f = {0};
        emit_header(&h, &m);
        if (kind == 7 || kind == 8) {
            w1 = mutate_bytes(&h);
            if (chance(30)) w2 = mutate_bytes(&h);
        }
        assemble(&f, &h, m.data_len, m.pad);
        if (kind == 9) w3 = mutate_file(&f);
        char path[1200];
        snprintf(path, sizeof path, "%s/%05zu.safetensors", dir, i);
        FILE *out = fopen(path, "wb");
        if (!out || fwrite(f.p ? f.p : "", 1, f.n, out) != f.n || fclose(out) != 0) {
            fprintf(stderr, "test_st_differential: cannot write %s\n", path);
            return 1;
        }
        fprintf(list, "%s\n", path);
        size_t wl = strlen(w1) + strlen(w2) + strlen(w3) + 8;
        what[i] = malloc(wl);
        snprintf(what[i], wl, "%s%s%s%s%s", w1, *w2 ? ", " : "", w2, *w3 ? ", " : "", w3);
        attend_st_file *sf = NULL;
        attend_error err;
        ours[i] = attend_st_open(&sf, path, &err) == ATTEND_OK;
        if (!ours[i]) {
            memcpy(msg[i], err.msg, sizeof msg[i] - 1);
            msg[i][sizeof msg[i] - 1] = 0;
        }
        n_accept += (size_t)ours[i];
        attend_st_close(sf);
        free(h.p);
        free(f.p);
    }
    fclose(list);

    /* The reference over all files: one line "1" or "0 <error>" per file. */
    char cmd[3000];
    snprintf(cmd, sizeof cmd,
             "'%s' -c 'import sys, safetensors\n"
             "for p in open(sys.argv[1]).read().split(\"\\n\"):\n"
             "    if not p: continue\n"
             "    try:\n"
             "        safetensors.deserialize(open(p, \"rb\").read()); print(1)\n"
             "    except Exception as e:\n"
             "        print(\"0\", str(e).replace(\"\\n\", \" \")[:150])\n"
             "' '%s'",
             py, list_path);
    FILE *ref = popen(cmd, "r");
    if (!ref) {
        fprintf(stderr, "test_st_differential: cannot run %s\n", py);
        return 1;
    }
    size_t pass = 0, fail = 0, known = 0;
    char line[512];
    size_t i = 0;
    for (; i < N && fgets(line, sizeof line, ref); i++) {
        line[strcspn(line, "\n")] = 0;
        int theirs = line[0] == '1';
        if (theirs == ours[i]) {
            pass++;
            continue;
        }
        char path[1200];
        snprintf(path, sizeof path, "%s/%05zu.safetensors", dir, i);
        const char *why = NULL;
        if (!ours[i]) {
            FILE *fp = fopen(path, "rb");
            unsigned char *b = malloc(1 << 20);
            size_t len = fp && b ? fread(b, 1, 1 << 20, fp) : 0;
            if (fp) fclose(fp);
            why = known_difference(b, len);
            free(b);
        }
        if (why) {
            known++;
            count_class(why);
            continue;
        }
        fail++;
        fprintf(stderr, "MISMATCH %s (%s): attend %s, safetensors %s\n    attend: %s\n    safetensors: %s\n",
                path, what[i], ours[i] ? "accepts" : "rejects", theirs ? "accepts" : "rejects",
                ours[i] ? "ok" : msg[i], theirs ? "ok" : line + 2);
    }
    int prc = pclose(ref);
    if (i != N || prc != 0) {
        fprintf(stderr, "test_st_differential: the reference answered %zu of %zu files (exit %d)\n",
                i, N, prc);
        fail++;
    }
    printf("test_st_differential: %zu files (%zu accepted by both or attend), reference %s\n", N,
           n_accept, py);
    printf("  same decision: %zu; known stricter-by-design rejections: %zu\n", pass, known);
    for (size_t k = 0; k < NCLASSES && class_names[k]; k++)
        printf("    %-28s %zu\n", class_names[k], class_counts[k]);

    const char *keep = getenv("ATTEND_ST_DIFF_KEEP");
    if (!(keep && *keep == '1') && fail == 0) {
        for (size_t k = 0; k < N; k++) {
            char path[1200];
            snprintf(path, sizeof path, "%s/%05zu.safetensors", dir, k);
            remove(path);
        }
        remove(list_path);
        rmdir(dir);
    } else {
        printf("  files kept in %s\n", dir);
    }
    for (size_t k = 0; k < N; k++) free(what[k]);
    free(what);
    free(ours);
    free(msg);
    printf("test_st_differential: %zu passed, %zu failed\n", pass + known, fail);
    return fail ? 1 : 0;
}
