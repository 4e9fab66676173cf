/* Safetensors reader and writer: round trips through files, and hostile
 * inputs built in memory that the reader must reject with a useful message. */
#define _POSIX_C_SOURCE 200809L

#include "attend.h"
#include "test.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[512];

/* mkdir -p */
static void make_dirs(const char *path) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            mkdir(buf, 0777);
            *p = '/';
        }
    mkdir(buf, 0777);
}

static void tmp_path(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir, name);
}

/* Whole file into memory (caller frees); NULL if unreadable. */
static unsigned char *read_file(const char *path, size_t *len) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    size_t cap = 1024, n = 0, got;
    unsigned char *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            unsigned char *nb = realloc(buf, cap *= 2);
            if (!nb) { free(buf); buf = NULL; }
            else buf = nb;
        }
    }
    fclose(fp);
    *len = n;
    return buf;
}

/* Number of entries in dir whose name contains part. */
static int count_entries(const char *dir, const char *part) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strstr(e->d_name, part)) n++;
    closedir(d);
    return n;
}

/* ---- round trip ---- */

static void test_dtypes(void) {
    CHECK(strcmp(attend_dtype_name(ATTEND_DTYPE_F32), "F32") == 0, "F32 name");
    CHECK(strcmp(attend_dtype_name(ATTEND_DTYPE_BF16), "BF16") == 0, "BF16 name");
    CHECK(strcmp(attend_dtype_name(ATTEND_DTYPE_BOOL), "BOOL") == 0, "BOOL name");
    CHECK(attend_dtype_size(ATTEND_DTYPE_F64) == 8, "F64 size");
    CHECK(attend_dtype_size(ATTEND_DTYPE_F16) == 2, "F16 size");
    CHECK(attend_dtype_size(ATTEND_DTYPE_U8) == 1, "U8 size");
    CHECK(attend_dtype_size(ATTEND_DTYPE_COUNT) == 0, "invalid dtype size");
}

typedef struct {
    const char *name;
    attend_dtype dtype;
    size_t ndim;
    size_t shape[ATTEND_ST_MAX_DIMS];
} spec;

static void test_round_trip(void) {
    /* U8 first, so the F32 after it starts at an odd offset and needs the
     * reader's aligned copy. */
    static const spec specs[] = {
        {"bytes", ATTEND_DTYPE_U8, 1, {5}},
        {"weight", ATTEND_DTYPE_F32, 2, {2, 3}},
        {"flags", ATTEND_DTYPE_BOOL, 1, {3}},
        {"ids", ATTEND_DTYPE_I64, 1, {4}},
        {"half", ATTEND_DTYPE_F16, 2, {3, 1}},
        {"brain", ATTEND_DTYPE_BF16, 1, {2}},
        {"dbl", ATTEND_DTYPE_F64, 1, {3}},
        {"empty", ATTEND_DTYPE_F32, 2, {0, 3}},
        {"empty2", ATTEND_DTYPE_I32, 1, {0}},
        {"scalar", ATTEND_DTYPE_F32, 0, {0}},
        {"i16", ATTEND_DTYPE_I16, 1, {3}},
        {"u16", ATTEND_DTYPE_U16, 1, {1}},
        {"u32", ATTEND_DTYPE_U32, 1, {2}},
        {"u64", ATTEND_DTYPE_U64, 1, {1}},
        {"i8", ATTEND_DTYPE_I8, 1, {3}},
        {"d1", ATTEND_DTYPE_F32, 1, {2}},
        {"d2", ATTEND_DTYPE_F32, 2, {2, 1}},
        {"d3", ATTEND_DTYPE_F32, 3, {1, 2, 3}},
        {"d4", ATTEND_DTYPE_F32, 4, {2, 1, 2, 1}},
        {"d5", ATTEND_DTYPE_F32, 5, {1, 1, 2, 1, 3}},
        {"d6", ATTEND_DTYPE_F32, 6, {2, 1, 1, 1, 1, 2}},
        {"d7", ATTEND_DTYPE_F32, 7, {1, 2, 1, 2, 1, 2, 1}},
        {"d8", ATTEND_DTYPE_F32, 8, {2, 2, 2, 2, 2, 2, 2, 2}},
        {"caf\xc3\xa9 \"q\"\n", ATTEND_DTYPE_F32, 1, {1}},
    };
    enum { NT = sizeof specs / sizeof specs[0] };
    unsigned char *bufs[NT];
    size_t sizes[NT];
    attend_error err = {0};
    attend_st_writer *w = attend_st_writer_new();
    CHECK(w != NULL, "writer_new");
    if (!w) return;
    for (size_t i = 0; i < NT; i++) {
        size_t n = attend_dtype_size(specs[i].dtype);
        for (size_t d = 0; d < specs[i].ndim; d++) n *= specs[i].shape[d];
        sizes[i] = n;
        bufs[i] = malloc(n ? n : 1);
        for (size_t b = 0; b < n; b++) bufs[i][b] = (unsigned char)(i * 31 + b * 7 + 1);
        attend_status st = attend_st_writer_add(w, specs[i].name, specs[i].dtype, specs[i].ndim,
                                                specs[i].shape, n ? bufs[i] : NULL, &err);
        CHECK(st == ATTEND_OK, "add %s: %s", specs[i].name, err.msg);
    }
    float f[6] = {1.5f, -2.0f, 3.25f, 0.0f, 1e-8f, -7.0f};
    memcpy(bufs[1], f, sizeof f);
    CHECK(attend_st_writer_meta(w, "format", "pt", &err) == ATTEND_OK, "meta: %s", err.msg);
    CHECK(attend_st_writer_meta(w, "note", "tab\there \"quoted\" back\\slash \xc3\xa9\x01", &err) ==
              ATTEND_OK, "meta: %s", err.msg);
    CHECK(attend_st_writer_meta(w, "", "empty key", &err) == ATTEND_OK, "meta: %s", err.msg);

    char path[600];
    tmp_path(path, sizeof path, "round_trip.safetensors");
    CHECK(attend_st_writer_save(w, path, &err) == ATTEND_OK, "save: %s", err.msg);
    attend_st_writer_free(w);

    /* Raw layout: header length a multiple of 8, padded with spaces. */
    size_t flen = 0;
    unsigned char *raw = read_file(path, &flen);
    CHECK(raw != NULL && flen >= 8, "read back %s", path);
    if (raw && flen >= 8) {
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--) n = (n << 8) | raw[i];
        CHECK(n % 8 == 0, "header length %llu is a multiple of 8", (unsigned long long)n);
        CHECK(8 + n <= flen && raw[8] == '{', "header starts with '{'");
        CHECK(raw[8 + n - 1] == ' ' || raw[8 + n - 1] == '}', "header ends in padding");
    }

    for (int pass = 0; pass < 2; pass++) {
        attend_st_file *fl = NULL;
        attend_status st = pass == 0 ? attend_st_open(&fl, path, &err)
                                     : attend_st_open_memory(&fl, raw, flen, "mem", &err);
        CHECK(st == ATTEND_OK, "open pass %d: %s", pass, err.msg);
        if (st != ATTEND_OK) continue;
        CHECK(attend_st_count(fl) == NT, "count %zu", attend_st_count(fl));
        for (size_t i = 0; i < NT; i++) {
            const attend_st_tensor *t = attend_st_find(fl, specs[i].name);
            CHECK(t != NULL, "find %s", specs[i].name);
            if (!t) continue;
            CHECK(t->dtype == specs[i].dtype, "%s dtype", specs[i].name);
            CHECK(t->ndim == specs[i].ndim, "%s ndim %zu", specs[i].name, t->ndim);
            int same = t->ndim == specs[i].ndim;
            for (size_t d = 0; same && d < t->ndim; d++) same = t->shape[d] == specs[i].shape[d];
            CHECK(same, "%s shape", specs[i].name);
            CHECK(t->nbytes == sizes[i], "%s nbytes %zu", specs[i].name, t->nbytes);
            CHECK(t->numel * attend_dtype_size(t->dtype) == t->nbytes, "%s numel", specs[i].name);
            CHECK(t->data != NULL, "%s data non-NULL", specs[i].name);
            CHECK((uintptr_t)t->data % attend_dtype_size(t->dtype) == 0, "%s aligned", specs[i].name);
            CHECK(t->nbytes == 0 || memcmp(t->data, bufs[i], t->nbytes) == 0, "%s bytes", specs[i].name);
        }
        /* File order follows data offsets; the writer lays data out in
         * insertion order (zero-size tensors tie, so skip those). */
        size_t at = 0;
        for (size_t i = 0; i < attend_st_count(fl); i++) {
            const attend_st_tensor *t = attend_st_at(fl, i);
            if (!t || t->nbytes == 0) continue;
            while (at < NT && strcmp(specs[at].name, t->name) != 0) at++;
        }
        CHECK(at < NT, "file order follows insertion order");
        CHECK(attend_st_at(fl, NT) == NULL, "attend_st_at bounds");
        CHECK(strcmp(attend_st_at(fl, 0)->name, "bytes") == 0, "first in file order");
        CHECK(attend_st_find(fl, "nope") == NULL, "find missing");

        const float *data = NULL;
        size_t shp[2] = {2, 3};
        CHECK(attend_st_get_f32(fl, "weight", 2, shp, &data, &err) == ATTEND_OK, "get_f32: %s", err.msg);
        CHECK(data && data[0] == 1.5f && data[2] == 3.25f && data[5] == -7.0f, "get_f32 values");
        size_t bad[2] = {3, 2};
        CHECK(attend_st_get_f32(fl, "weight", 2, bad, &data, &err) == ATTEND_ERR_SHAPE, "wrong shape");
        CHECK(strstr(err.msg, "has shape [2, 3], expected [3, 2]") && strstr(err.msg, "'weight'"),
              "shape msg: %s", err.msg);
        CHECK(attend_st_get_f32(fl, "weight", 1, shp, &data, &err) == ATTEND_ERR_SHAPE, "wrong ndim");
        CHECK(attend_st_get_f32(fl, "ids", 1, shp, &data, &err) == ATTEND_ERR_SHAPE, "wrong dtype");
        CHECK(strstr(err.msg, "I64") && strstr(err.msg, "F32"), "dtype msg: %s", err.msg);
        CHECK(attend_st_get_f32(fl, "query", 1, shp, &data, &err) == ATTEND_ERR_SHAPE, "missing");
        CHECK(strstr(err.msg, "missing tensor 'query'") != NULL, "missing msg: %s", err.msg);
        const char *want = pass == 0 ? path : "mem";
        CHECK(strncmp(err.msg, want, strlen(want)) == 0, "msg names file: %s", err.msg);
        size_t e0[2] = {0, 3};
        CHECK(attend_st_get_f32(fl, "empty", 2, e0, &data, &err) == ATTEND_OK, "zero-size get");

        CHECK(attend_st_meta_count(fl) == 3, "meta count");
        CHECK(attend_st_meta(fl, "format") && strcmp(attend_st_meta(fl, "format"), "pt") == 0, "meta format");
        const char *note = attend_st_meta(fl, "note");
        CHECK(note && strcmp(note, "tab\there \"quoted\" back\\slash \xc3\xa9\x01") == 0, "meta escapes");
        CHECK(attend_st_meta(fl, "") && strcmp(attend_st_meta(fl, ""), "empty key") == 0, "meta empty key");
        CHECK(attend_st_meta(fl, "missing") == NULL, "meta missing");
        const char *k = NULL, *v = NULL;
        attend_st_meta_at(fl, 0, &k, &v);
        CHECK(k && v && strcmp(k, "format") == 0 && strcmp(v, "pt") == 0, "meta_at 0");
        attend_st_meta_at(fl, 3, &k, &v);
        CHECK(k == NULL && v == NULL, "meta_at out of range");
        attend_st_close(fl);
    }
    free(raw);
    for (size_t i = 0; i < NT; i++) free(bufs[i]);
    CHECK(count_entries(tmpdir, ".tmp.") == 0, "no temp files left");
}

static void test_empty_writer(void) {
    attend_error err = {0};
    attend_st_writer *w = attend_st_writer_new();
    char path[600];
    tmp_path(path, sizeof path, "empty.safetensors");
    CHECK(attend_st_writer_save(w, path, &err) == ATTEND_OK, "save empty: %s", err.msg);
    attend_st_writer_free(w);
    attend_st_file *f = NULL;
    CHECK(attend_st_open(&f, path, &err) == ATTEND_OK, "open empty: %s", err.msg);
    CHECK(attend_st_count(f) == 0 && attend_st_meta_count(f) == 0, "empty counts");
    attend_st_close(f);
    attend_st_close(NULL);
    attend_st_writer_free(NULL);
}

static void test_writer_errors(void) {
    attend_error err = {0};
    attend_st_writer *w = attend_st_writer_new();
    float x[4] = {0};
    size_t s1[1] = {4};
    size_t s9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    size_t big[2] = {(size_t)1 << 62, 8};
    CHECK(attend_st_writer_add(w, "x", ATTEND_DTYPE_F32, 1, s1, x, &err) == ATTEND_OK, "add");
    CHECK(attend_st_writer_add(w, "x", ATTEND_DTYPE_F32, 1, s1, x, &err) == ATTEND_ERR_ARG &&
              strstr(err.msg, "duplicate"), "dup add: %s", err.msg);
    CHECK(attend_st_writer_add(w, "__metadata__", ATTEND_DTYPE_F32, 1, s1, x, &err) ==
              ATTEND_ERR_ARG, "reserved name");
    CHECK(attend_st_writer_add(w, "y", ATTEND_DTYPE_F32, 9, s9, x, &err) == ATTEND_ERR_ARG &&
              strstr(err.msg, "dims"), "9 dims: %s", err.msg);
    CHECK(attend_st_writer_add(w, "y", ATTEND_DTYPE_F32, 2, big, x, &err) == ATTEND_ERR_ARG,
          "overflowing shape");
    CHECK(attend_st_writer_add(w, "y", ATTEND_DTYPE_F32, 1, s1, NULL, &err) == ATTEND_ERR_ARG,
          "NULL data");
    CHECK(attend_st_writer_add(w, "y", ATTEND_DTYPE_COUNT, 1, s1, x, &err) == ATTEND_ERR_ARG,
          "bad dtype");
    CHECK(attend_st_writer_add(w, "bad\xff", ATTEND_DTYPE_F32, 1, s1, x, &err) == ATTEND_ERR_ARG &&
              strstr(err.msg, "UTF-8"), "bad UTF-8 name: %s", err.msg);
    CHECK(attend_st_writer_meta(w, "k", "v", &err) == ATTEND_OK, "meta");
    CHECK(attend_st_writer_meta(w, "k", "w", &err) == ATTEND_ERR_ARG &&
              strstr(err.msg, "duplicate"), "dup meta: %s", err.msg);
    attend_st_writer_free(w);
}

/* Saving replaces the old file whole; failures leave it and no temp file. */
static void test_atomic_save(void) {
    attend_error err = {0};
    char path[600];
    tmp_path(path, sizeof path, "atomic.safetensors");
    float a[3] = {1, 2, 3}, b[5] = {9, 8, 7, 6, 5};
    size_t sa[1] = {3}, sb[1] = {5};

    attend_st_writer *w = attend_st_writer_new();
    attend_st_writer_add(w, "a", ATTEND_DTYPE_F32, 1, sa, a, &err);
    CHECK(attend_st_writer_save(w, path, &err) == ATTEND_OK, "save a: %s", err.msg);
    attend_st_writer_free(w);

    w = attend_st_writer_new();
    attend_st_writer_add(w, "b", ATTEND_DTYPE_F32, 1, sb, b, &err);
    CHECK(attend_st_writer_save(w, path, &err) == ATTEND_OK, "save b over a: %s", err.msg);

    attend_st_file *f = NULL;
    CHECK(attend_st_open(&f, path, &err) == ATTEND_OK, "open: %s", err.msg);
    const float *d = NULL;
    CHECK(attend_st_get_f32(f, "b", 1, sb, &d, &err) == ATTEND_OK && d[4] == 5.0f, "new content");
    CHECK(attend_st_find(f, "a") == NULL && attend_st_count(f) == 1, "old content gone");
    attend_st_close(f);

    /* Nonexistent directory: clean failure naming the path and the reason. */
    char missing[700];
    snprintf(missing, sizeof missing, "%s/no_such_dir/x.safetensors", tmpdir);
    CHECK(attend_st_writer_save(w, missing, &err) == ATTEND_ERR_IO, "save into missing dir");
    CHECK(strstr(err.msg, missing) && strstr(err.msg, strerror(ENOENT)), "missing dir msg: %s", err.msg);

    /* Target is a non-empty directory: rename fails, temp file removed. */
    char dirpath[600], inner[700];
    tmp_path(dirpath, sizeof dirpath, "a_directory");
    mkdir(dirpath, 0777);
    snprintf(inner, sizeof inner, "%s/keep", dirpath);
    FILE *fp = fopen(inner, "w");
    if (fp) fclose(fp);
    CHECK(attend_st_writer_save(w, dirpath, &err) == ATTEND_ERR_IO, "save over a directory");
    CHECK(strstr(err.msg, dirpath) && strstr(err.msg, "rename"), "dir msg: %s", err.msg);
    struct stat sbuf;
    CHECK(stat(inner, &sbuf) == 0, "directory left untouched");
    CHECK(count_entries(tmpdir, ".tmp.") == 0, "no temp files left after failures");
    attend_st_writer_free(w);

    /* And the earlier file is still the good one. */
    CHECK(attend_st_open(&f, path, &err) == ATTEND_OK && attend_st_count(f) == 1, "still valid");
    attend_st_close(f);
}

static void test_open_errors(void) {
    attend_error err = {0};
    attend_st_file *f = (attend_st_file *)&err; /* must be reset to NULL */
    char path[600];
    tmp_path(path, sizeof path, "does_not_exist.safetensors");
    CHECK(attend_st_open(&f, path, &err) == ATTEND_ERR_IO && f == NULL, "missing file");
    CHECK(strstr(err.msg, path) != NULL, "missing file msg: %s", err.msg);

    /* A truncated copy of a valid file, through the file path. */
    float x[4] = {1, 2, 3, 4};
    size_t s[1] = {4};
    attend_st_writer *w = attend_st_writer_new();
    attend_st_writer_add(w, "x", ATTEND_DTYPE_F32, 1, s, x, &err);
    tmp_path(path, sizeof path, "trunc.safetensors");
    attend_st_writer_save(w, path, &err);
    attend_st_writer_free(w);
    size_t len = 0;
    unsigned char *raw = read_file(path, &len);
    FILE *fp = fopen(path, "wb");
    if (fp && raw) {
        fwrite(raw, 1, len - 1, fp);
        fclose(fp);
    }
    CHECK(attend_st_open(&f, path, &err) == ATTEND_ERR_FORMAT && f == NULL, "truncated file");
    CHECK(strstr(err.msg, "truncated") != NULL, "truncated msg: %s", err.msg);
    fp = fopen(path, "wb");
    if (fp) {
        fwrite("abc", 1, 3, fp);
        fclose(fp);
    }
    CHECK(attend_st_open(&f, path, &err) == ATTEND_ERR_FORMAT && strstr(err.msg, "short"),
          "3-byte file: %s", err.msg);
    free(raw);
    CHECK(attend_st_open_memory(&f, NULL, 0, "nul", &err) == ATTEND_ERR_FORMAT, "empty buffer");
}

/* ---- hostile inputs ---- */

/* 8-byte length of hdr, hdr, then data_len bytes. */
static unsigned char *mk(const char *hdr, size_t hdr_len, size_t data_len, size_t *len) {
    *len = 8 + hdr_len + data_len;
    unsigned char *b = calloc(*len, 1);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)((uint64_t)hdr_len >> (8 * i));
    memcpy(b + 8, hdr, hdr_len);
    return b;
}

static void expect_reject_buf(const unsigned char *buf, size_t len, const char *word,
                              const char *label) {
    attend_error err = {0};
    attend_st_file *f = NULL;
    attend_status st = attend_st_open_memory(&f, buf, len, "evil.safetensors", &err);
    CHECK(st == ATTEND_ERR_FORMAT && f == NULL, "%s: expected rejection, got %s (%s)", label,
          attend_status_name(st), err.msg);
    CHECK(strncmp(err.msg, "evil.safetensors: ", 18) == 0, "%s: msg names file: %s", label, err.msg);
    CHECK(strstr(err.msg, word) != NULL, "%s: msg lacks '%s': %s", label, word, err.msg);
    attend_st_close(f);
}

static void expect_reject(const char *hdr, size_t data_len, const char *word, const char *label) {
    size_t len;
    unsigned char *b = mk(hdr, strlen(hdr), data_len, &len);
    expect_reject_buf(b, len, word, label);
    free(b);
}

static attend_st_file *expect_accept(const char *hdr, size_t data_len, const char *label) {
    size_t len;
    unsigned char *b = mk(hdr, strlen(hdr), data_len, &len);
    attend_error err = {0};
    attend_st_file *f = NULL;
    attend_status st = attend_st_open_memory(&f, b, len, "ok.safetensors", &err);
    CHECK(st == ATTEND_OK, "%s: expected acceptance: %s", label, err.msg);
    free(b);
    return f;
}

#define T1(name, body) "{\"" name "\":" body "}"
#define E(dt, shape, offs) "{\"dtype\":\"" dt "\",\"shape\":" shape ",\"data_offsets\":" offs "}"

static void test_hostile(void) {
    unsigned char small[5] = {1, 0, 0, 0, 0};
    expect_reject_buf(small, sizeof small, "short", "< 8 bytes");

    unsigned char hdr[16] = {0};
    uint64_t n = 100000001;
    for (int i = 0; i < 8; i++) hdr[i] = (unsigned char)(n >> (8 * i));
    expect_reject_buf(hdr, sizeof hdr, "limit", "N > 100,000,000");
    memset(hdr, 0xff, 8);
    expect_reject_buf(hdr, sizeof hdr, "limit", "N = 2^64-1");
    memset(hdr, 0, 8);
    hdr[0] = 100;
    expect_reject_buf(hdr, sizeof hdr, "past the end", "N past EOF");
    hdr[0] = 9;
    expect_reject_buf(hdr, sizeof hdr, "past the end", "N one past EOF");

    expect_reject(T1("a\xff", E("F32", "[1]", "[0,4]")), 4, "UTF-8", "invalid UTF-8");
    expect_reject(T1("a\xc0\xaf", E("F32", "[1]", "[0,4]")), 4, "UTF-8", "overlong UTF-8");
    expect_reject(T1("a\xed\xa0\x80", E("F32", "[1]", "[0,4]")), 4, "UTF-8", "surrogate UTF-8");
    expect_reject("{\"a\":", 0, "JSON", "invalid JSON");
    expect_reject("{\"a\":{},}", 0, "JSON", "trailing comma");
    expect_reject("[]", 0, "object", "header is an array");
    expect_reject("\"x\"", 0, "object", "header is a string");
    expect_reject(" {}", 0, "'{'", "leading space");
    expect_reject("", 0, "'{'", "empty header");
    expect_reject("{} x", 0, "trailing characters", "junk after JSON");
    expect_reject(T1("a\x01", E("F32", "[1]", "[0,4]")), 4, "control character", "raw control char");
    expect_reject(T1("a", E("F32", "[01]", "[0,4]")), 4, "leading zero", "leading zero");
    expect_reject(T1("a\\u0000b", E("F32", "[1]", "[0,4]")), 4, "\\u0000", "NUL escape");
    expect_reject(T1("a\\ud800", E("F32", "[1]", "[0,4]")), 4, "surrogate", "lone surrogate");
    expect_reject(T1("a\\q", E("F32", "[1]", "[0,4]")), 4, "escape", "bad escape");
    {
        char deep[600] = "{\"a\":";
        for (int i = 0; i < 200; i++) strcat(deep, "[");
        for (int i = 0; i < 200; i++) strcat(deep, "]");
        strcat(deep, "}");
        expect_reject(deep, 0, "nested", "deep nesting");
    }
    {
        size_t len;
        unsigned char *b = mk("{}\0", 3, 0, &len);
        expect_reject_buf(b, len, "JSON", "NUL after JSON");
        free(b);
    }

    expect_reject("{\"a\":" E("F32", "[1]", "[0,4]") ",\"b\":" E("F32", "[1]", "[8,12]") "}", 12,
                  "gap", "gap between tensors");
    expect_reject("{\"a\":" E("F32", "[2]", "[0,8]") ",\"b\":" E("F32", "[1]", "[4,8]") "}", 8,
                  "overlap", "overlapping tensors");
    expect_reject("{\"a\":" E("F32", "[2]", "[0,8]") ",\"b\":" E("F32", "[2]", "[0,8]") "}", 8,
                  "overlap", "same offsets");
    expect_reject(T1("a", E("F32", "[1]", "[4,8]")), 8, "not 0", "first offset not 0");
    expect_reject(T1("a", E("F32", "[1]", "[8,4]")), 8, "begin > end", "begin > end");
    /* Dims are read as doubles, so they must stay below 2^53; products of
     * such dims can still overflow size_t. */
    expect_reject(T1("a", E("F32", "[4611686018427387904,8]", "[0,0]")), 0, "2^53",
                  "dim 2^62");
    expect_reject(T1("a", E("F32", "[4294967296,4294967296]", "[0,0]")), 0, "overflow",
                  "shape product overflow");
    expect_reject(T1("a", E("F32", "[2147483648,2147483648]", "[0,0]")), 0, "overflow",
                  "byte size overflow");
    expect_reject(T1("a", E("F32", "[4294967296,4294967296,0]", "[0,0]")), 0, "overflow",
                  "overflow before a zero dim (as the reference)");
    expect_reject(T1("x", E("F32", "[2,2]", "[0,12]")), 12,
                  "tensor 'x': data_offsets [0, 12] hold 12 bytes but shape [2, 2] of F32 needs 16",
                  "size mismatch");
    expect_reject(T1("a", E("F32", "[1]", "[0,4]")), 5, "trailing", "trailing bytes");
    expect_reject("{}", 1, "trailing", "trailing bytes, no tensors");
    expect_reject(T1("a", E("F32", "[2]", "[0,8]")), 4, "truncated", "truncated data");
    expect_reject("{\"a\":" E("F32", "[1]", "[0,4]") ",\"a\":" E("F32", "[1]", "[4,8]") "}", 8,
                  "duplicate tensor name 'a'", "duplicate names");
    expect_reject(T1("a", E("F8_E4M3", "[1]", "[0,1]")), 1, "dtype", "unsupported dtype");
    expect_reject(T1("a", E("f32", "[1]", "[0,4]")), 4, "unknown or unsupported dtype 'f32'",
                  "lower-case dtype");
    expect_reject(T1("a", "{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}"), 4, "dtype",
                  "numeric dtype");
    expect_reject("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__", "non-string metadata value");
    expect_reject("{\"__metadata__\":[\"k\"]}", 0, "__metadata__", "metadata not an object");
    expect_reject("{\"__metadata__\":{},\"__metadata__\":{}}", 0, "duplicate", "two __metadata__");
    expect_reject("{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}", 0, "duplicate",
                  "duplicate metadata key");
    expect_reject(T1("a", E("F32", "[-1]", "[0,4]")), 4, "non-negative", "negative dim");
    expect_reject(T1("a", E("F32", "[-0]", "[0,0]")), 0, "non-negative", "dim -0");
    expect_reject(T1("a", E("F32", "[true]", "[0,4]")), 4, "boolean", "boolean dim");
    expect_reject(T1("a", E("F32", "[1.5]", "[0,4]")), 4, "integer", "fractional dim");
    expect_reject(T1("a", E("F32", "[1.0]", "[0,4]")), 4, "integer", "dim written 1.0");
    expect_reject(T1("a", E("F32", "[1e0]", "[0,4]")), 4, "integer", "dim written 1e0");
    expect_reject(T1("a", E("F32", "[\"1\"]", "[0,4]")), 4, "string", "string dim");
    expect_reject(T1("a", E("F32", "[9007199254740992,0]", "[0,0]")), 0, "2^53", "dim 2^53");
    expect_reject(T1("a", E("F32", "[99999999999999999999999999]", "[0,0]")), 0, "too long",
                  "very long number");
    expect_reject(T1("a", E("F32", "[1,1,1,1,1,1,1,1,1]", "[0,4]")), 4, "9 dims", "too many dims");
    expect_reject(T1("a", E("F32", "5", "[0,4]")), 4, "shape", "shape not an array");
    expect_reject(T1("a", E("F32", "[1]", "[0,4,4]")), 4, "data_offsets", "3 offsets");
    expect_reject(T1("a", E("F32", "[1]", "[4]")), 4, "data_offsets", "1 offset");
    expect_reject(T1("a", E("F32", "[1]", "[-1,3]")), 4, "data_offsets", "negative offset");
    expect_reject(T1("a", E("F32", "[1]", "\"0,4\"")), 4, "data_offsets", "string offsets");
    expect_reject(T1("a", "{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"x\":1}"), 4,
                  "unknown key 'x'", "extra key in entry");
    expect_reject(T1("a", "{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}"),
                  4, "duplicate key", "duplicate key in entry");
    expect_reject(T1("a", "{\"dtype\":\"F32\",\"data_offsets\":[0,4]}"), 4, "missing key 'shape'",
                  "missing shape");
    expect_reject(T1("a", "[1]"), 0, "object", "entry not an object");
    expect_reject(T1("a", "null"), 0, "object", "entry null");
}

static void test_hostile_accepts(void) {
    attend_st_file *f;
    f = expect_accept("{}", 0, "empty object");
    CHECK(f && attend_st_count(f) == 0, "no tensors");
    attend_st_close(f);
    f = expect_accept("{}      ", 0, "trailing spaces");
    attend_st_close(f);
    f = expect_accept("{}\n\t\r ", 0, "trailing JSON whitespace");
    attend_st_close(f);
    f = expect_accept("{\"__metadata__\":null}", 0, "null metadata");
    CHECK(f && attend_st_meta_count(f) == 0, "null metadata has no entries");
    attend_st_close(f);
    f = expect_accept("{ \"a\" : " E("F32", "[ 1 ]", "[ 0 , 4 ]") " }", 4, "inner whitespace");
    attend_st_close(f);
    /* Zero-size tensors may share an offset with each other and a neighbour. */
    f = expect_accept("{\"z\":" E("F32", "[0,5]", "[4,4]") ",\"a\":" E("F32", "[1]", "[0,4]")
                      ",\"y\":" E("U8", "[0]", "[4,4]") ",\"b\":" E("U8", "[3]", "[4,7]") "}",
                      7, "zero-size tensors");
    if (f) {
        CHECK(attend_st_count(f) == 4, "4 tensors");
        CHECK(strcmp(attend_st_at(f, 0)->name, "a") == 0 && strcmp(attend_st_at(f, 3)->name, "b") == 0,
              "file order by offset");
        const attend_st_tensor *z = attend_st_find(f, "z");
        CHECK(z && z->numel == 0 && z->nbytes == 0 && z->data != NULL, "zero-size tensor");
        attend_st_close(f);
    }
    /* An F32 at an odd offset comes back aligned, with the right bytes. */
    {
        size_t len;
        unsigned char *b = mk("{\"a\":" E("U8", "[1]", "[0,1]") ",\"b\":" E("F32", "[2]", "[1,9]") "}",
                              strlen("{\"a\":" E("U8", "[1]", "[0,1]") ",\"b\":" E("F32", "[2]", "[1,9]") "}"),
                              9, &len);
        float v[2] = {3.5f, -1.25f};
        memcpy(b + len - 8, v, 8);
        attend_error err = {0};
        CHECK(attend_st_open_memory(&f, b, len, "odd", &err) == ATTEND_OK, "odd offset: %s", err.msg);
        const float *d = NULL;
        size_t s[1] = {2};
        CHECK(attend_st_get_f32(f, "b", 1, s, &d, &err) == ATTEND_OK, "get b: %s", err.msg);
        CHECK(d && (uintptr_t)d % 4 == 0 && d[0] == 3.5f && d[1] == -1.25f, "aligned copy");
        attend_st_close(f);
        free(b);
    }
    /* The same from a file (mapped): its data section starts at 8 + N from
     * a page boundary, N padded here so that 8 + N is 1 mod 4: both F32
     * tensors lie at misaligned addresses and must come back as aligned
     * copies (the fuzzer found a misaligned read when the check looked at
     * offsets only). */
    {
        const char *hdr = "{\"a\":" E("F32", "[1]", "[0,4]") ",\"b\":" E("F32", "[1]", "[4,8]") "}";
        char hdr2[256];
        size_t n = strlen(hdr);
        while ((8 + n) % 4 != 1) n++;
        memset(hdr2, ' ', sizeof hdr2);
        memcpy(hdr2, hdr, strlen(hdr));
        size_t len;
        unsigned char *b = mk(hdr2, n, 8, &len);
        float v[2] = {2.5f, -7.0f};
        memcpy(b + len - 8, v, 8);
        char path[600];
        tmp_path(path, sizeof path, "misaligned.safetensors");
        FILE *fp = fopen(path, "wb");
        CHECK(fp && fwrite(b, 1, len, fp) == len && fclose(fp) == 0, "write %s", path);
        attend_error err = {0};
        CHECK(attend_st_open(&f, path, &err) == ATTEND_OK, "mapped, misaligned data: %s", err.msg);
        const float *d = NULL;
        size_t s1[1] = {1};
        CHECK(f && attend_st_get_f32(f, "a", 1, s1, &d, &err) == ATTEND_OK && d && (uintptr_t)d % 4 == 0 &&
                  d[0] == 2.5f, "a mapped F32 at a misaligned address comes back aligned");
        CHECK(f && attend_st_get_f32(f, "b", 1, s1, &d, &err) == ATTEND_OK && d && (uintptr_t)d % 4 == 0 &&
                  d[0] == -7.0f, "and its neighbour too");
        attend_st_close(f);
        remove(path);
        free(b);
    }
    /* Escaped names decode. */
    f = expect_accept(T1("caf\\u00e9\\n", E("F32", "[1]", "[0,4]")), 4, "escaped name");
    CHECK(f && attend_st_find(f, "caf\xc3\xa9\n") != NULL, "escaped name found");
    attend_st_close(f);
    /* 2^53 - 1 is the largest dim accepted (zero-size tensor). */
    f = expect_accept(T1("a", E("F32", "[0,9007199254740991]", "[0,0]")), 0, "dim 2^53-1");
    attend_st_close(f);
}

/* Removes the private test directory and what the tests left in it. */
static void remove_tmpdir(void) {
    char p[1024];
    snprintf(p, sizeof p, "%s/a_directory/keep", tmpdir);
    unlink(p);
    snprintf(p, sizeof p, "%s/a_directory", tmpdir);
    rmdir(p);
    DIR *d = opendir(tmpdir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, e->d_name);
        unlink(p);
    }
    if (d) closedir(d);
    CHECK(rmdir(tmpdir) == 0, "remove %s: %s", tmpdir, strerror(errno));
}

int main(void) {
    /* A private directory, so that other tests sharing ATTEND_TMP cannot
     * disturb the "no temp file left" checks. */
    const char *env = getenv("ATTEND_TMP");
    snprintf(tmpdir, sizeof tmpdir, "%s/test_safetensors.%ld", env && *env ? env : "/tmp",
             (long)getpid());
    make_dirs(tmpdir);

    test_dtypes();
    test_round_trip();
    test_empty_writer();
    test_writer_errors();
    test_atomic_save();
    test_open_errors();
    test_hostile();
    test_hostile_accepts();
    remove_tmpdir();
    return test_summary("test_safetensors");
}
