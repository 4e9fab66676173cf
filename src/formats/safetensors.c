/* Safetensors reader and writer.
 *
 * File layout: u64 little-endian header length N, N bytes of UTF-8 JSON
 * (padded with spaces), then the data section; every tensor's data_offsets
 * are relative to the data section start.
 *
 * The reader trusts nothing in the file: every size is checked against the
 * real file size with overflow-safe arithmetic before it is used, the header
 * is checked for strict UTF-8 and strict JSON syntax (cJSON alone is more
 * lenient than the reference's serde_json), and the tensors must tile the
 * data section exactly. It is stricter than the reference in a few places
 * where the reference silently ignores or overwrites: unknown keys in an
 * entry, duplicate tensor or metadata names, whitespace before the opening
 * '{', more than ATTEND_ST_MAX_DIMS dims, \u0000 inside strings (not
 * representable as a C string) and integers of 2^53 or more (cJSON keeps
 * numbers as doubles). */
#define _POSIX_C_SOURCE 200809L

#include "attend.h"
#include "base/util.h"
#include "base/atomic.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/utf8.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors data is little-endian; attend reads and writes it as host memory"
#endif

#define ST_MAX_HEADER 100000000u /* the reference reader's limit */
#define ST_ALIGN 64              /* alignment of the data section in memory */
#define ST_JSON_MAX_DEPTH 128    /* serde_json's recursion limit */
#define ST_NONE ((size_t)-1)

/* ------------------------------------------------------------------------ */
/* Dtypes                                                                   */
/* ------------------------------------------------------------------------ */

static const struct {
    const char *name;
    size_t size;
} st_dtypes[ATTEND_DTYPE_COUNT] = {
    [ATTEND_DTYPE_BOOL] = {"BOOL", 1}, [ATTEND_DTYPE_U8] = {"U8", 1},
    [ATTEND_DTYPE_I8] = {"I8", 1},     [ATTEND_DTYPE_U16] = {"U16", 2},
    [ATTEND_DTYPE_I16] = {"I16", 2},   [ATTEND_DTYPE_F16] = {"F16", 2},
    [ATTEND_DTYPE_BF16] = {"BF16", 2}, [ATTEND_DTYPE_U32] = {"U32", 4},
    [ATTEND_DTYPE_I32] = {"I32", 4},   [ATTEND_DTYPE_F32] = {"F32", 4},
    [ATTEND_DTYPE_U64] = {"U64", 8},   [ATTEND_DTYPE_I64] = {"I64", 8},
    [ATTEND_DTYPE_F64] = {"F64", 8},
};

const char *attend_dtype_name(attend_dtype dt) {
    if ((unsigned)dt >= ATTEND_DTYPE_COUNT) return "unknown";
    return st_dtypes[dt].name;
}

size_t attend_dtype_size(attend_dtype dt) {
    if ((unsigned)dt >= ATTEND_DTYPE_COUNT) return 0;
    return st_dtypes[dt].size;
}

/* Dtype by header name (exact, case-sensitive as in the reference); -1 if unknown. */
static int st_dtype_lookup(const char *s) {
    for (int i = 0; i < ATTEND_DTYPE_COUNT; i++)
        if (strcmp(s, st_dtypes[i].name) == 0) return i;
    return -1;
}

/* ------------------------------------------------------------------------ */
/* Small helpers for messages                                               */
/* ------------------------------------------------------------------------ */

/* A printable, length-limited copy of a name from the file for messages, so a
 * hostile name cannot garble a terminal or push the rest of the message out. */
static const char *st_show(char *buf, size_t cap, const char *s) {
    size_t i = 0, j = 0;
    for (; s[i] && j + 4 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[j++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    if (s[i]) {
        memcpy(buf + j, "...", 3);
        j += 3;
    }
    buf[j] = '\0';
    return buf;
}
#define ST_SHOW_CAP 72

/* "[2, 5, 16]"; cap must be at least 8. */
static const char *st_fmt_shape(char *buf, size_t cap, size_t ndim, const size_t *shape) {
    size_t j = 0;
    buf[j++] = '[';
    for (size_t i = 0; i < ndim; i++) {
        char tmp[32];
        size_t w = (size_t)snprintf(tmp, sizeof tmp, i ? ", %zu" : "%zu", shape[i]);
        if (j + w + 7 > cap) { /* keep room for ", ...]" */
            memcpy(buf + j, ", ...", 5);
            j += 5;
            break;
        }
        memcpy(buf + j, tmp, w);
        j += w;
    }
    buf[j++] = ']';
    buf[j] = '\0';
    return buf;
}
#define ST_SHAPE_CAP 200

/* ------------------------------------------------------------------------ */
/* Reader                                                                   */
/* ------------------------------------------------------------------------ */

struct attend_st_file {
    char *name;                 /* for messages */
    unsigned char *raw;         /* allocation holding the file bytes, or NULL */
    void *map;                  /* the file mapped read-only, or NULL */
    const unsigned char *bytes; /* the file (read into raw: placed so the data section is
                                   aligned; mapped: wherever the header ends) */
    size_t len;
    size_t header_len;          /* N */
    attend_st_tensor *tensors;  /* in data-offset order */
    size_t count;
    const attend_st_tensor **by_name; /* sorted by name for lookup */
    void **owned;               /* aligned copies of misaligned tensors, or NULL */
    const char **meta_keys, **meta_vals; /* in header order */
    size_t meta_count;
    char *strings;              /* arena for names, keys, values */
};

/* A parsed header entry before it is placed. */
typedef struct {
    const char *name;
    attend_dtype dtype;
    size_t ndim, shape[ATTEND_ST_MAX_DIMS];
    size_t numel, nbytes, begin, end;
} st_entry;

void attend_st_close(attend_st_file *f) {
    if (!f) return;
    if (f->owned)
        for (size_t i = 0; i < f->count; i++) free(f->owned[i]);
    free(f->owned);
    free(f->tensors);
    free(f->by_name);
    free(f->meta_keys);
    free(f->meta_vals);
    free(f->strings);
    free(f->raw);
    if (f->map) munmap(f->map, f->len);
    free(f->name);
    free(f);
}

static attend_st_file *st_file_new(const char *name) {
    attend_st_file *f = calloc(1, sizeof *f);
    if (!f) return NULL;
    f->name = attend_strdup(name);
    if (!f->name) { free(f); return NULL; }
    return f;
}

/* Checks the first 8 bytes (the header length) against the file size len. */
static attend_status st_check_prefix(const unsigned char *p, size_t len, const char *fn,
                                     size_t *header_len, attend_error *err) {
    if (len < 8)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: file is %zu bytes, too short to hold the 8-byte header length",
                             fn, len);
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | p[i];
    if (n > ST_MAX_HEADER)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: header length %llu at byte 0 exceeds the limit of %u bytes",
                             fn, (unsigned long long)n, ST_MAX_HEADER);
    if (n > len - 8)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: header length %llu at byte 0 runs past the end of the file "
                             "(%zu bytes)", fn, (unsigned long long)n, len);
    *header_len = (size_t)n;
    return ATTEND_OK;
}

/* Allocates room for a len-byte file whose header is n bytes long, placed so
 * that its data section (at 8 + n) starts on an ST_ALIGN boundary. */
static attend_status st_place(attend_st_file *f, size_t len, size_t n, attend_error *err) {
    if (len > SIZE_MAX - 2 * ST_ALIGN)
        return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: file of %zu bytes is too large", f->name, len);
    size_t pad = (ST_ALIGN - (8 + n) % ST_ALIGN) % ST_ALIGN;
    f->raw = malloc(len + pad + ST_ALIGN - 1);
    if (!f->raw)
        return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory reading %zu bytes",
                             f->name, len);
    size_t mis = (size_t)((uintptr_t)f->raw % ST_ALIGN);
    f->bytes = f->raw + (mis ? ST_ALIGN - mis : 0) + pad;
    f->len = len;
    f->header_len = n;
    return ATTEND_OK;
}

/* Reads a JSON number that must be an unsigned integer below 2^53 (where a
 * double still holds every integer exactly). "-0" is refused, as serde does. */
static int st_json_uint(const cJSON *it, size_t *out) {
    if (!cJSON_IsNumber(it)) return 0;
    double d = it->valuedouble;
    if (signbit(d) || !(d >= 0.0) || d >= 9007199254740992.0 || d != (double)(uint64_t)d) return 0;
    if ((uint64_t)d > SIZE_MAX) return 0;
    *out = (size_t)d;
    return 1;
}

/* What a JSON value is, for messages. */
static const char *st_json_kind(const cJSON *it) {
    if (cJSON_IsString(it)) return "a string";
    if (cJSON_IsNumber(it)) return "a number";
    if (cJSON_IsArray(it)) return "an array";
    if (cJSON_IsObject(it)) return "an object";
    if (cJSON_IsBool(it)) return "a boolean";
    if (cJSON_IsNull(it)) return "null";
    return "invalid";
}

/* The entry's three keys, each once and nothing else (fn: the file, tn:
 * the tensor, both ready for messages). */
static attend_status st_entry_keys(const char *fn, const char *tn, const cJSON *it, const cJSON **jd,
                                   const cJSON **js, const cJSON **jo, attend_error *err) {
    char kb[ST_SHOW_CAP];
    *jd = *js = *jo = NULL;
    for (const cJSON *k = it->child; k; k = k->next) {
        const cJSON **slot = strcmp(k->string, "dtype") == 0          ? jd
                             : strcmp(k->string, "shape") == 0        ? js
                             : strcmp(k->string, "data_offsets") == 0 ? jo
                                                                      : NULL;
        if (!slot)
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s: tensor '%s': unknown key '%s' in entry (allowed: dtype, "
                                 "shape, data_offsets)", fn, tn, st_show(kb, sizeof kb, k->string));
        if (*slot)
            return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: tensor '%s': duplicate key '%s'",
                                 fn, tn, k->string);
        *slot = k;
    }
    const char *missing = !*jd ? "dtype" : !*js ? "shape" : !*jo ? "data_offsets" : NULL;
    if (missing)
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: tensor '%s': missing key '%s'", fn,
                             tn, missing);
    return ATTEND_OK;
}

/* "shape": an array of at most ATTEND_ST_MAX_DIMS non-negative integers. */
static attend_status st_entry_shape(const char *fn, const char *tn, const cJSON *js, st_entry *e,
                                    attend_error *err) {
    if (!cJSON_IsArray(js))
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: tensor '%s': shape is %s, expected an array of integers", fn,
                             tn, st_json_kind(js));
    size_t ndim = 0;
    for (const cJSON *d = js->child; d; d = d->next) ndim++;
    if (ndim > ATTEND_ST_MAX_DIMS)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: tensor '%s': shape has %zu dims, more than the %d supported "
                             "(ATTEND_ST_MAX_DIMS)", fn, tn, ndim, ATTEND_ST_MAX_DIMS);
    e->ndim = 0;
    for (const cJSON *d = js->child; d; d = d->next) {
        if (st_json_uint(d, &e->shape[e->ndim])) {
            e->ndim++;
            continue;
        }
        if (cJSON_IsNumber(d))
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s: tensor '%s': shape dim %zu is %.17g, expected a "
                                 "non-negative integer below 2^53", fn, tn, e->ndim, d->valuedouble);
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: tensor '%s': shape dim %zu is %s, expected a non-negative "
                             "integer", fn, tn, e->ndim, st_json_kind(d));
    }
    return ATTEND_OK;
}

/* "data_offsets": [begin, end] with begin <= end. */
static attend_status st_entry_offsets(const char *fn, const char *tn, const cJSON *jo, st_entry *e,
                                      attend_error *err) {
    size_t off[2], noff = 0;
    for (const cJSON *d = cJSON_IsArray(jo) ? jo->child : NULL; d; d = d->next) {
        if (noff == 2 || !st_json_uint(d, &off[noff])) { noff = 3; break; }
        noff++;
    }
    if (noff != 2)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: tensor '%s': data_offsets must be [begin, end], two "
                             "non-negative integers", fn, tn);
    e->begin = off[0];
    e->end = off[1];
    if (e->begin > e->end)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: tensor '%s': data_offsets [%zu, %zu] have begin > end", fn,
                             tn, e->begin, e->end);
    return ATTEND_OK;
}

/* numel and nbytes from the shape and dtype, without overflow, and the
 * byte size the data offsets span must be exactly that. */
static attend_status st_entry_sizes(const char *fn, const char *tn, st_entry *e, attend_error *err) {
    char sb[ST_SHAPE_CAP];
    /* Multiply left to right with overflow checks, as the reference does. */
    size_t numel = 1;
    for (size_t i = 0; i < e->ndim; i++)
        if (attend_mul_overflow(numel, e->shape[i], &numel))
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s: tensor '%s': element count of shape %s overflows", fn, tn,
                                 st_fmt_shape(sb, sizeof sb, e->ndim, e->shape));
    size_t nbytes;
    if (attend_mul_overflow(numel, attend_dtype_size(e->dtype), &nbytes))
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: tensor '%s': byte size of shape %s of %s overflows", fn, tn,
                             st_fmt_shape(sb, sizeof sb, e->ndim, e->shape),
                             attend_dtype_name(e->dtype));
    if (nbytes != e->end - e->begin)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: tensor '%s': data_offsets [%zu, %zu] hold %zu bytes but shape "
                             "%s of %s needs %zu (size mismatch)", fn, tn, e->begin, e->end,
                             e->end - e->begin, st_fmt_shape(sb, sizeof sb, e->ndim, e->shape),
                             attend_dtype_name(e->dtype), nbytes);
    e->numel = numel;
    e->nbytes = nbytes;
    return ATTEND_OK;
}

/* Validates one tensor entry {"dtype", "shape", "data_offsets"}. */
static attend_status st_parse_entry(const attend_st_file *f, const cJSON *it, st_entry *e,
                                    attend_error *err) {
    const char *fn = f->name;
    char nb[ST_SHOW_CAP], kb[ST_SHOW_CAP];
    const char *tn = st_show(nb, sizeof nb, e->name);
    if (!cJSON_IsObject(it))
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: tensor '%s': entry is %s, expected an object with dtype, "
                             "shape and data_offsets", fn, tn, st_json_kind(it));
    const cJSON *jd, *js, *jo;
    attend_status st = st_entry_keys(fn, tn, it, &jd, &js, &jo, err);
    if (st) return st;
    if (!cJSON_IsString(jd))
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: tensor '%s': dtype is %s, expected a string", fn, tn,
                             st_json_kind(jd));
    int dt = st_dtype_lookup(jd->valuestring);
    if (dt < 0)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: tensor '%s': unknown or unsupported dtype '%s'", fn, tn,
                             st_show(kb, sizeof kb, jd->valuestring));
    e->dtype = (attend_dtype)dt;
    if ((st = st_entry_shape(fn, tn, js, e, err))) return st;
    if ((st = st_entry_offsets(fn, tn, jo, e, err))) return st;
    return st_entry_sizes(fn, tn, e, err);
}

static int st_cmp_entry_name(const void *a, const void *b) {
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

static int st_cmp_entry_offset(const void *a, const void *b) {
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return strcmp(x->name, y->name); /* zero-size ties: deterministic order */
}

static int st_cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int st_cmp_tensor_name(const void *a, const void *b) {
    return strcmp((*(const attend_st_tensor *const *)a)->name,
                  (*(const attend_st_tensor *const *)b)->name);
}

/* Copies s into the arena at *pos. */
static const char *st_arena_put(char *arena, size_t *pos, const char *s) {
    size_t n = strlen(s) + 1;
    char *p = arena + *pos;
    memcpy(p, s, n);
    *pos += n;
    return p;
}

/* Builds the tensor table from the parsed header and checks the layout. */
/* Pass 1: counts tensors, metadata entries and the bytes of their strings,
 * and checks __metadata__ (string -> string, or null). */
static attend_status st_count(const attend_st_file *f, const cJSON *root, const cJSON **meta,
                              size_t *ntens, size_t *nmeta, size_t *nstr, attend_error *err) {
    const char *fn = f->name;
    char nb[ST_SHOW_CAP];
    *meta = NULL;
    *ntens = *nmeta = 0;
    *nstr = 1;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (strcmp(it->string, "__metadata__") != 0) {
            ++*ntens;
            *nstr += strlen(it->string) + 1;
            continue;
        }
        if (*meta) return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: duplicate __metadata__", fn);
        *meta = it;
        if (cJSON_IsNull(it)) continue;
        if (!cJSON_IsObject(it))
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s: __metadata__ is %s, expected an object of strings", fn,
                                 st_json_kind(it));
        for (const cJSON *m = it->child; m; m = m->next) {
            if (!cJSON_IsString(m))
                return attend_errorf(err, ATTEND_ERR_FORMAT,
                                     "%s: __metadata__ value for key '%s' is %s, expected a "
                                     "string", fn, st_show(nb, sizeof nb, m->string),
                                     st_json_kind(m));
            ++*nmeta;
            *nstr += strlen(m->string) + strlen(m->valuestring) + 2;
        }
    }
    return ATTEND_OK;
}

/* Duplicate tensor names or metadata keys (cJSON keeps repeated keys as
 * separate items). Sorts ents by name and keys. */
static attend_status st_check_duplicates(const attend_st_file *f, st_entry *ents, size_t ntens,
                                         const char **keys, size_t nmeta, attend_error *err) {
    char nb[ST_SHOW_CAP];
    qsort(ents, ntens, sizeof *ents, st_cmp_entry_name);
    for (size_t i = 1; i < ntens; i++)
        if (strcmp(ents[i - 1].name, ents[i].name) == 0)
            return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: duplicate tensor name '%s'", f->name,
                                 st_show(nb, sizeof nb, ents[i].name));
    qsort(keys, nmeta, sizeof *keys, st_cmp_str);
    for (size_t i = 1; i < nmeta; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: duplicate __metadata__ key '%s'",
                                 f->name, st_show(nb, sizeof nb, keys[i]));
    return ATTEND_OK;
}

/* Layout: sorted by begin, the tensors must tile [0, data length) with no
 * gap, overlap or trailing byte. Sorts ents by offset. */
static attend_status st_check_tiling(const attend_st_file *f, st_entry *ents, size_t ntens,
                                     attend_error *err) {
    const char *fn = f->name;
    char nb[ST_SHOW_CAP], nb2[ST_SHOW_CAP];
    qsort(ents, ntens, sizeof *ents, st_cmp_entry_offset);
    size_t at = 0;
    for (size_t i = 0; i < ntens; i++) {
        const st_entry *e = &ents[i];
        if (e->begin == at) {
            at = e->end;
            continue;
        }
        if (i == 0)
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s: tensor '%s': first tensor begins at data offset %zu, not 0 "
                                 "(gap)", fn, st_show(nb, sizeof nb, e->name), e->begin);
        if (e->begin > at)
            return attend_errorf(err, ATTEND_ERR_FORMAT,
                                 "%s: gap of %zu bytes between tensor '%s' (ends at %zu) and "
                                 "tensor '%s' (begins at %zu)", fn, e->begin - at,
                                 st_show(nb, sizeof nb, ents[i - 1].name), at,
                                 st_show(nb2, sizeof nb2, e->name), e->begin);
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: tensor '%s' [%zu, %zu] overlaps tensor '%s' [%zu, %zu]", fn,
                             st_show(nb, sizeof nb, e->name), e->begin, e->end,
                             st_show(nb2, sizeof nb2, ents[i - 1].name), ents[i - 1].begin,
                             ents[i - 1].end);
    }
    size_t data_start = 8 + f->header_len, data_len = f->len - data_start;
    if (at < data_len)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: %zu trailing bytes after the last tensor (data section is %zu "
                             "bytes from byte %zu, tensors end at %zu)", fn, data_len - at,
                             data_len, data_start, at);
    if (at > data_len)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: data truncated: tensors need %zu bytes but the data section "
                             "from byte %zu has only %zu", fn, at, data_start, data_len);
    return ATTEND_OK;
}

/* Place: views into the data section where they are aligned for their
 * dtype, or aligned copies. A mapped file's data section starts at 8 + N
 * from a page boundary, and N need not be a multiple of 8 in a file attend
 * did not write (the reference pads, but only requires valid JSON), so
 * alignment is checked on the address itself. */
static attend_status st_place_tensors(attend_st_file *f, const st_entry *ents, size_t ntens,
                                      attend_error *err) {
    char nb[ST_SHOW_CAP];
    const unsigned char *data = f->bytes + 8 + f->header_len;
    for (size_t i = 0; i < ntens; i++) {
        const st_entry *e = &ents[i];
        attend_st_tensor *t = &f->tensors[i];
        t->name = e->name;
        t->dtype = e->dtype;
        t->ndim = e->ndim;
        memcpy(t->shape, e->shape, sizeof t->shape);
        t->numel = e->numel;
        t->nbytes = e->nbytes;
        t->data = data; /* zero-size tensors: never read */
        if (e->nbytes == 0) continue;
        if ((uintptr_t)(data + e->begin) % attend_dtype_size(e->dtype) == 0) {
            t->data = data + e->begin;
            continue;
        }
        f->owned[i] = malloc(e->nbytes); /* malloc aligns for every dtype */
        if (!f->owned[i])
            return attend_errorf(err, ATTEND_ERR_NOMEM,
                                 "%s: tensor '%s': out of memory for an aligned copy of %zu bytes",
                                 f->name, st_show(nb, sizeof nb, e->name), e->nbytes);
        memcpy(f->owned[i], data + e->begin, e->nbytes);
        t->data = f->owned[i];
    }
    for (size_t i = 0; i < ntens; i++) f->by_name[i] = &f->tensors[i];
    qsort(f->by_name, ntens, sizeof *f->by_name, st_cmp_tensor_name);
    return ATTEND_OK;
}

/* The tensor table of a parsed header: count, allocate, collect the
 * entries (checked one by one by st_parse_entry), then the checks across
 * entries, then the views. */
static attend_status st_build(attend_st_file *f, const cJSON *root, attend_error *err) {
    const cJSON *meta;
    size_t ntens, nmeta, nstr;
    attend_status st = st_count(f, root, &meta, &ntens, &nmeta, &nstr, err);
    if (st) return st;
    /* Sizes here are bounded by the header, itself bounded by the file. */
    st_entry *ents = calloc(ntens ? ntens : 1, sizeof *ents);
    const char **sorted_keys = calloc(nmeta ? nmeta : 1, sizeof *sorted_keys);
    f->strings = malloc(nstr);
    f->tensors = calloc(ntens ? ntens : 1, sizeof *f->tensors);
    f->by_name = calloc(ntens ? ntens : 1, sizeof *f->by_name);
    f->owned = calloc(ntens ? ntens : 1, sizeof *f->owned);
    f->meta_keys = calloc(nmeta ? nmeta : 1, sizeof *f->meta_keys);
    f->meta_vals = calloc(nmeta ? nmeta : 1, sizeof *f->meta_vals);
    if (!ents || !sorted_keys || !f->strings || !f->tensors || !f->by_name || !f->owned ||
        !f->meta_keys || !f->meta_vals) {
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory for %zu tensors", f->name, ntens);
        goto done;
    }
    // pass 2: copy names and metadata, validate entries
    size_t pos = 0, ti = 0;
    for (const cJSON *it = root->child; it && !st; it = it->next) {
        if (it == meta) continue;
        ents[ti].name = st_arena_put(f->strings, &pos, it->string);
        st = st_parse_entry(f, it, &ents[ti++], err);
    }
    if (st) goto done;
    if (meta && cJSON_IsObject(meta)) {
        size_t mi = 0;
        for (const cJSON *m = meta->child; m; m = m->next, mi++) {
            f->meta_keys[mi] = st_arena_put(f->strings, &pos, m->string);
            f->meta_vals[mi] = st_arena_put(f->strings, &pos, m->valuestring);
            sorted_keys[mi] = f->meta_keys[mi];
        }
    }
    f->meta_count = nmeta;
    if (!(st = st_check_duplicates(f, ents, ntens, sorted_keys, nmeta, err)) &&
        !(st = st_check_tiling(f, ents, ntens, err)))
        st = st_place_tensors(f, ents, ntens, err);
done:
    f->count = ntens; /* on failure too, so close frees every copy made */
    free(ents);
    free(sorted_keys);
    return st;
}

/* Validates the placed file bytes and builds the tensor table. */
static attend_status st_parse(attend_st_file *f, attend_error *err) {
    const char *fn = f->name;
    const unsigned char *h = f->bytes + 8;
    size_t n = f->header_len;

    size_t bad;
    if (!attend_utf8_valid((const char *)h, n, &bad))
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: header is not valid UTF-8 at byte %zu",
                             fn, 8 + bad);
    if (n == 0 || h[0] != '{')
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: header must be a JSON object starting with '{' at byte 8", fn);
    attend_json_syntax j;
    if (!attend_json_check((const char *)h, n, ST_JSON_MAX_DEPTH, &j))
        return attend_errorf(err, ATTEND_ERR_FORMAT, "%s: invalid JSON in header at byte %zu: %s",
                             fn, 8 + j.err_at, j.why);
    if (j.nonint_at != ATTEND_JSON_NONE)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: header number at byte %zu is not an integer (shapes and "
                             "offsets must be non-negative integers)", fn, 8 + j.nonint_at);
    if (j.nul_at != ATTEND_JSON_NONE)
        return attend_errorf(err, ATTEND_ERR_FORMAT,
                             "%s: header string at byte %zu contains \\u0000, which is not "
                             "supported in names", fn, 8 + j.nul_at);

    /* The syntax is valid, so a NULL here means cJSON ran out of memory. */
    cJSON *root = cJSON_ParseWithLength((const char *)h, n);
    if (!root)
        return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory parsing the %zu-byte header",
                             fn, n);
    attend_status st = cJSON_IsObject(root)
                           ? st_build(f, root, err)
                           : attend_errorf(err, ATTEND_ERR_FORMAT, "%s: header is not an object", fn);
    cJSON_Delete(root);
    return st;
}

attend_status attend_st_open_memory(attend_st_file **out, const void *buf, size_t len,
                                    const char *name, attend_error *err) {
    if (!out) return attend_errorf(err, ATTEND_ERR_ARG, "attend_st_open_memory: out is NULL");
    *out = NULL;
    if (!name) name = "<memory>";
    if (!buf && len)
        return attend_errorf(err, ATTEND_ERR_ARG, "%s: buffer is NULL but length is %zu", name, len);
    size_t n;
    attend_status st = st_check_prefix(buf, len, name, &n, err);
    if (st != ATTEND_OK) return st;
    attend_st_file *f = st_file_new(name);
    if (!f) return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory", name);
    if ((st = st_place(f, len, n, err)) == ATTEND_OK) {
        memcpy((unsigned char *)f->bytes, buf, len);
        st = st_parse(f, err);
    }
    if (st != ATTEND_OK) {
        attend_st_close(f);
        return st;
    }
    *out = f;
    return ATTEND_OK;
}

/* A pipe or other stream whose size is unknown: read it all, then parse. */
static attend_status st_open_stream(attend_st_file **out, FILE *fp, const char *path,
                                    attend_error *err) {
    size_t cap = 1 << 16, len = 0;
    unsigned char *buf = malloc(cap);
    if (!buf) return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory", path);
    for (;;) {
        if (len == cap) {
            unsigned char *nb = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!nb) {
                free(buf);
                return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory reading %zu bytes",
                                     path, len);
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len, fp);
        len += got;
        if (got == 0) break;
    }
    if (ferror(fp)) {
        int e = errno;
        free(buf);
        return attend_errorf(err, ATTEND_ERR_IO, "%s: cannot read: %s", path, strerror(e));
    }
    attend_status st = attend_st_open_memory(out, buf, len, path, err);
    free(buf);
    return st;
}

/* A regular file is mapped read-only, not read: the tensors are used where
 * the page cache holds them, so a loaded model costs its file's size once
 * (reading it into a buffer and then copying the weights cost it twice).
 * Only misaligned tensors get copies (st_build). The mapping is private and
 * read-only; a file replaced by an atomic save (rename) keeps the old
 * mapping valid. Truncating a mapped file in place is what no writer of
 * attend does; it would fault the reader, as it would any mmap user. */
attend_status attend_st_open(attend_st_file **out, const char *path, attend_error *err) {
    if (!out) return attend_errorf(err, ATTEND_ERR_ARG, "attend_st_open: out is NULL");
    *out = NULL;
    if (!path) return attend_errorf(err, ATTEND_ERR_ARG, "attend_st_open: path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return attend_errorf(err, ATTEND_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return attend_errorf(err, ATTEND_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        FILE *fp = fdopen(fd, "rb");
        if (!fp) {
            close(fd);
            return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory", path);
        }
        attend_status st = st_open_stream(out, fp, path, err);
        fclose(fp);
        return st;
    }
    if (sb.st_size < 0 || (uintmax_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: file is too large", path);
    }

    /* Check the header length against the real size before mapping. */
    size_t len = (size_t)sb.st_size, n = 0;
    unsigned char prefix[8] = {0};
    size_t want = len < 8 ? len : 8;
    attend_status st = ATTEND_OK;
    attend_st_file *f = NULL;
    ssize_t got = pread(fd, prefix, want, 0);
    if (got < 0 || (size_t)got != want) {
        st = got < 0 ? attend_errorf(err, ATTEND_ERR_IO, "%s: cannot read: %s", path, strerror(errno))
                     : attend_errorf(err, ATTEND_ERR_IO, "%s: file shrank while being read", path);
        goto fail;
    }
    if ((st = st_check_prefix(prefix, len, path, &n, err)) != ATTEND_OK) goto fail;
    if (!(f = st_file_new(path))) {
        st = attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        st = attend_errorf(err, errno == ENOMEM ? ATTEND_ERR_NOMEM : ATTEND_ERR_IO,
                           "%s: cannot map %zu bytes: %s", path, len, strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    f->map = map;
    f->bytes = map;
    f->len = len;
    f->header_len = n;
    if ((st = st_parse(f, err)) != ATTEND_OK) goto fail;
    *out = f;
    return ATTEND_OK;
fail:
    if (fd >= 0) close(fd);
    attend_st_close(f);
    return st;
}

size_t attend_st_count(const attend_st_file *f) { return f ? f->count : 0; }

const attend_st_tensor *attend_st_at(const attend_st_file *f, size_t i) {
    return f && i < f->count ? &f->tensors[i] : NULL;
}

const attend_st_tensor *attend_st_find(const attend_st_file *f, const char *name) {
    if (!f || !name) return NULL;
    size_t lo = 0, hi = f->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(name, f->by_name[mid]->name);
        if (c == 0) return f->by_name[mid];
        if (c < 0) hi = mid;
        else lo = mid + 1;
    }
    return NULL;
}

const char *attend_st_meta(const attend_st_file *f, const char *key) {
    if (!f || !key) return NULL;
    for (size_t i = 0; i < f->meta_count; i++)
        if (strcmp(f->meta_keys[i], key) == 0) return f->meta_vals[i];
    return NULL;
}

size_t attend_st_meta_count(const attend_st_file *f) { return f ? f->meta_count : 0; }

void attend_st_meta_at(const attend_st_file *f, size_t i, const char **key, const char **value) {
    int ok = f && i < f->meta_count;
    if (key) *key = ok ? f->meta_keys[i] : NULL;
    if (value) *value = ok ? f->meta_vals[i] : NULL;
}

attend_status attend_st_get_f32(const attend_st_file *f, const char *name, size_t ndim,
                                const size_t *shape, const float **data, attend_error *err) {
    if (data) *data = NULL;
    if (!f || !name || (ndim && !shape))
        return attend_errorf(err, ATTEND_ERR_ARG, "attend_st_get_f32: NULL argument");
    char nb[ST_SHOW_CAP], want[ST_SHAPE_CAP], got[ST_SHAPE_CAP];
    const attend_st_tensor *t = attend_st_find(f, name);
    if (!t)
        return attend_errorf(err, ATTEND_ERR_SHAPE, "%s: missing tensor '%s'", f->name,
                             st_show(nb, sizeof nb, name));
    if (t->dtype != ATTEND_DTYPE_F32)
        return attend_errorf(err, ATTEND_ERR_SHAPE, "%s: tensor '%s' has dtype %s, expected F32",
                             f->name, st_show(nb, sizeof nb, name), attend_dtype_name(t->dtype));
    int same = t->ndim == ndim;
    for (size_t i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same)
        return attend_errorf(err, ATTEND_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s",
                             f->name, st_show(nb, sizeof nb, name),
                             st_fmt_shape(got, sizeof got, t->ndim, t->shape),
                             st_fmt_shape(want, sizeof want, ndim, shape));
    if (data) *data = t->data;
    return ATTEND_OK;
}

attend_status attend_st_get_floats(const attend_st_file *f, const char *name, size_t ndim,
                                   const size_t *shape, const attend_st_tensor **out,
                                   attend_error *err) {
    if (out) *out = NULL;
    if (!f || !name || !out || (ndim && !shape))
        return attend_errorf(err, ATTEND_ERR_ARG, "attend_st_get_floats: NULL argument");
    char nb[ST_SHOW_CAP], want[ST_SHAPE_CAP], got[ST_SHAPE_CAP];
    const attend_st_tensor *t = attend_st_find(f, name);
    if (!t)
        return attend_errorf(err, ATTEND_ERR_SHAPE, "%s: missing tensor '%s'", f->name,
                             st_show(nb, sizeof nb, name));
    if (t->dtype != ATTEND_DTYPE_F32 && t->dtype != ATTEND_DTYPE_F16 && t->dtype != ATTEND_DTYPE_BF16)
        return attend_errorf(err, ATTEND_ERR_SHAPE,
                             "%s: tensor '%s' has dtype %s, expected F32, F16 or BF16", f->name,
                             st_show(nb, sizeof nb, name), attend_dtype_name(t->dtype));
    int same = t->ndim == ndim;
    for (size_t i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same)
        return attend_errorf(err, ATTEND_ERR_SHAPE, "%s: tensor '%s' has shape %s, expected %s",
                             f->name, st_show(nb, sizeof nb, name),
                             st_fmt_shape(got, sizeof got, t->ndim, t->shape),
                             st_fmt_shape(want, sizeof want, ndim, shape));
    *out = t;
    return ATTEND_OK;
}

/* IEEE half -> float, exactly (every half is a float): subnormals scaled,
 * infinities and NaNs kept. */
static float half_to_float(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, ex = (h >> 10) & 0x1f, man = h & 0x3ffu;
    uint32_t bits;
    if (ex == 0x1f) bits = sign | 0x7f800000u | (man << 13);
    else if (ex) bits = sign | ((ex + 112) << 23) | (man << 13);
    else {
        float v = ldexpf((float)man, -24); /* subnormal (or zero) */
        return sign ? -v : v;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

attend_status attend_st_copy_f32(const attend_st_tensor *t, float *out, attend_error *err) {
    if (!t || (!out && t->numel))
        return attend_errorf(err, ATTEND_ERR_ARG, "attend_st_copy_f32: NULL argument");
    const size_t n = t->numel;
    if (t->dtype == ATTEND_DTYPE_F32) {
        memcpy(out, t->data, n * sizeof(float));
    } else if (t->dtype == ATTEND_DTYPE_F16 || t->dtype == ATTEND_DTYPE_BF16) {
        const uint16_t *h = t->data; /* aligned for its dtype */
        if (t->dtype == ATTEND_DTYPE_F16)
            for (size_t i = 0; i < n; i++) out[i] = half_to_float(h[i]);
        else
            for (size_t i = 0; i < n; i++) {
                uint32_t bits = (uint32_t)h[i] << 16; /* bfloat16 is float's top half */
                memcpy(out + i, &bits, sizeof bits);
            }
    } else {
        return attend_errorf(err, ATTEND_ERR_SHAPE, "tensor '%.200s' has dtype %s, not a float type",
                             t->name, attend_dtype_name(t->dtype));
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(out[i]))
            return attend_errorf(err, ATTEND_ERR_NUMERIC, "tensor '%.200s' holds a non-finite value at index %zu",
                                 t->name, i);
    return ATTEND_OK;
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct {
    char *name;
    attend_dtype dtype;
    size_t ndim, shape[ATTEND_ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
} st_wtensor;

typedef struct {
    char *key, *value;
} st_wmeta;

struct attend_st_writer {
    st_wtensor *t;
    size_t count, cap;
    st_wmeta *m;
    size_t mcount, mcap;
};

attend_st_writer *attend_st_writer_new(void) { return calloc(1, sizeof(attend_st_writer)); }

void attend_st_writer_free(attend_st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->count; i++) free(w->t[i].name);
    for (size_t i = 0; i < w->mcount; i++) {
        free(w->m[i].key);
        free(w->m[i].value);
    }
    free(w->t);
    free(w->m);
    free(w);
}

attend_status attend_st_writer_add(attend_st_writer *w, const char *name, attend_dtype dtype,
                                   size_t ndim, const size_t *shape, const void *data,
                                   attend_error *err) {
    if (!w || !name)
        return attend_errorf(err, ATTEND_ERR_ARG, "attend_st_writer_add: NULL argument");
    char nb[ST_SHOW_CAP], sb[ST_SHAPE_CAP];
    const char *tn = st_show(nb, sizeof nb, name);
    if ((unsigned)dtype >= ATTEND_DTYPE_COUNT)
        return attend_errorf(err, ATTEND_ERR_ARG, "tensor '%s': invalid dtype %d", tn, (int)dtype);
    if (ndim > ATTEND_ST_MAX_DIMS)
        return attend_errorf(err, ATTEND_ERR_ARG, "tensor '%s': %zu dims, more than the %d supported",
                             tn, ndim, ATTEND_ST_MAX_DIMS);
    if (ndim && !shape)
        return attend_errorf(err, ATTEND_ERR_ARG, "tensor '%s': shape is NULL", tn);
    if (strcmp(name, "__metadata__") == 0)
        return attend_errorf(err, ATTEND_ERR_ARG, "tensor name '__metadata__' is reserved");
    if (!attend_utf8_valid(name, strlen(name), NULL))
        return attend_errorf(err, ATTEND_ERR_ARG, "tensor '%s': name is not valid UTF-8", tn);
    size_t numel = 1, nbytes;
    for (size_t i = 0; i < ndim; i++) {
        /* The reader takes dims below 2^53 only (JSON numbers as doubles). */
        if ((uint64_t)shape[i] >= (UINT64_C(1) << 53) || attend_mul_overflow(numel, shape[i], &numel))
            return attend_errorf(err, ATTEND_ERR_ARG, "tensor '%s': shape %s is too large", tn,
                                 st_fmt_shape(sb, sizeof sb, ndim, shape));
    }
    if (attend_mul_overflow(numel, attend_dtype_size(dtype), &nbytes))
        return attend_errorf(err, ATTEND_ERR_ARG, "tensor '%s': shape %s is too large", tn,
                             st_fmt_shape(sb, sizeof sb, ndim, shape));
    if (nbytes && !data)
        return attend_errorf(err, ATTEND_ERR_ARG, "tensor '%s': data is NULL", tn);
    for (size_t i = 0; i < w->count; i++)
        if (strcmp(w->t[i].name, name) == 0)
            return attend_errorf(err, ATTEND_ERR_ARG, "duplicate tensor name '%s'", tn);
    void *grown = w->t;
    if (!attend_grow(&grown, &w->cap, w->count + 1, sizeof *w->t)) grown = NULL;
    if (!grown) return attend_errorf(err, ATTEND_ERR_NOMEM, "tensor '%s': out of memory", tn);
    w->t = grown;
    st_wtensor *t = &w->t[w->count];
    memset(t, 0, sizeof *t);
    if (!(t->name = attend_strdup(name)))
        return attend_errorf(err, ATTEND_ERR_NOMEM, "tensor '%s': out of memory", tn);
    t->dtype = dtype;
    t->ndim = ndim;
    for (size_t i = 0; i < ndim; i++) t->shape[i] = shape[i];
    t->data = data;
    t->nbytes = nbytes;
    w->count++;
    return ATTEND_OK;
}

attend_status attend_st_writer_meta(attend_st_writer *w, const char *key, const char *value,
                                    attend_error *err) {
    if (!w || !key || !value)
        return attend_errorf(err, ATTEND_ERR_ARG, "attend_st_writer_meta: NULL argument");
    char kb[ST_SHOW_CAP];
    const char *ks = st_show(kb, sizeof kb, key);
    if (!attend_utf8_valid(key, strlen(key), NULL) ||
        !attend_utf8_valid(value, strlen(value), NULL))
        return attend_errorf(err, ATTEND_ERR_ARG, "metadata '%s': key or value is not valid UTF-8", ks);
    for (size_t i = 0; i < w->mcount; i++)
        if (strcmp(w->m[i].key, key) == 0)
            return attend_errorf(err, ATTEND_ERR_ARG, "duplicate metadata key '%s'", ks);
    void *grown = w->m;
    if (!attend_grow(&grown, &w->mcap, w->mcount + 1, sizeof *w->m)) grown = NULL;
    if (!grown) return attend_errorf(err, ATTEND_ERR_NOMEM, "metadata '%s': out of memory", ks);
    w->m = grown;
    char *k = attend_strdup(key), *v = attend_strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "metadata '%s': out of memory", ks);
    }
    w->m[w->mcount].key = k;
    w->m[w->mcount].value = v;
    w->mcount++;
    return ATTEND_OK;
}

/* The pieces of a safetensors file: length, header, each tensor's bytes. */
typedef struct {
    const attend_st_writer *w;
    const unsigned char *lenb;
    const attend_buf *header;
} st_save_src;

static const void *st_save_piece(void *ctx, size_t i, size_t *len) {
    const st_save_src *s = ctx;
    if (i == 0) return *len = 8, (const void *)s->lenb;
    if (i == 1) return *len = s->header->len, (const void *)s->header->s;
    if (i - 2 >= s->w->count) return NULL;
    *len = s->w->t[i - 2].nbytes;
    return s->w->t[i - 2].nbytes ? s->w->t[i - 2].data : (const void *)"";
}

attend_status attend_st_writer_save(attend_st_writer *w, const char *path, attend_error *err) {
    if (!w || !path)
        return attend_errorf(err, ATTEND_ERR_ARG, "attend_st_writer_save: NULL argument");

    /* Header: metadata, then tensors in insertion order, which is also the
     * data order; padded with spaces so the data starts at a multiple of 8. */
    attend_buf b;
    attend_buf_init(&b);
    size_t off = 0;
    attend_buf_puts(&b, "{");
    if (w->mcount) {
        attend_buf_puts(&b, "\"__metadata__\":{");
        for (size_t i = 0; i < w->mcount; i++) {
            if (i) attend_buf_puts(&b, ",");
            attend_buf_json_string(&b, w->m[i].key);
            attend_buf_puts(&b, ":");
            attend_buf_json_string(&b, w->m[i].value);
        }
        attend_buf_puts(&b, "}");
    }
    for (size_t i = 0; i < w->count; i++) {
        const st_wtensor *t = &w->t[i];
        if (i || w->mcount) attend_buf_puts(&b, ",");
        attend_buf_json_string(&b, t->name);
        attend_buf_puts(&b, ":{\"dtype\":\"");
        attend_buf_puts(&b, attend_dtype_name(t->dtype));
        attend_buf_puts(&b, "\",\"shape\":[");
        for (size_t d = 0; d < t->ndim; d++) {
            if (d) attend_buf_puts(&b, ",");
            attend_buf_printf(&b, "%zu", t->shape[d]);
        }
        attend_buf_puts(&b, "],\"data_offsets\":[");
        attend_buf_printf(&b, "%zu", off);
        attend_buf_puts(&b, ",");
        if (attend_add_overflow(off, t->nbytes, &off)) {
            attend_buf_free(&b);
            return attend_errorf(err, ATTEND_ERR_ARG, "%s: total tensor size overflows", path);
        }
        attend_buf_printf(&b, "%zu", off);
        attend_buf_puts(&b, "]}");
    }
    attend_buf_puts(&b, "}");
    while (!b.failed && b.len % 8) attend_buf_puts(&b, " ");
    if (b.failed) {
        attend_buf_free(&b);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "%s: out of memory building the header", path);
    }
    if (b.len > ST_MAX_HEADER) {
        attend_buf_free(&b);
        return attend_errorf(err, ATTEND_ERR_ARG, "%s: header would be %zu bytes, over the limit "
                             "of %u", path, b.len, ST_MAX_HEADER);
    }
    unsigned char lenb[8];
    for (int i = 0; i < 8; i++) lenb[i] = (unsigned char)((uint64_t)b.len >> (8 * i));

    st_save_src src = {w, lenb, &b};
    attend_status st = attend_write_atomic(path, st_save_piece, &src, err);
    attend_buf_free(&b);
    return st;
}
