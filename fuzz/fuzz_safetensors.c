/* libFuzzer target: the safetensors reader, attend_st_open_memory.
 * Input: the bytes of a file. Properties checked on top of the sanitizers:
 *   - a rejection fills the error (status, message) and returns no file;
 *   - an accepted file's tensors tile exactly the bytes after the header,
 *     each with numel = product of its shape, nbytes = numel * dtype size,
 *     data aligned for its dtype and readable in full; names are unique and
 *     found again by attend_st_find; metadata keys are found again;
 *   - attend_st_get_f32 agrees with the tensor table. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz_common.h"

static void fuzz_st_check_file(const attend_st_file *f, size_t size) {
    size_t n = attend_st_count(f), total = 0;
    for (size_t i = 0; i < n; i++) {
        const attend_st_tensor *t = attend_st_at(f, i);
        FUZZ_CHECK(t && t->name, "tensor %zu missing", i);
        FUZZ_CHECK(attend_st_find(f, t->name) == t, "tensor '%s' not found by name", t->name);
        FUZZ_CHECK((unsigned)t->dtype < ATTEND_DTYPE_COUNT, "dtype %d", (int)t->dtype);
        FUZZ_CHECK(t->ndim <= ATTEND_ST_MAX_DIMS, "ndim %zu", t->ndim);
        size_t numel = 1;
        for (size_t d = 0; d < t->ndim; d++) numel *= t->shape[d]; /* checked by the reader */
        size_t es = attend_dtype_size(t->dtype);
        FUZZ_CHECK(numel == t->numel, "tensor '%s': numel %zu, shape gives %zu", t->name,
                   t->numel, numel);
        FUZZ_CHECK(t->nbytes == numel * es, "tensor '%s': nbytes %zu", t->name, t->nbytes);
        FUZZ_CHECK(t->data != NULL, "tensor '%s': NULL data", t->name);
        FUZZ_CHECK((uintptr_t)t->data % es == 0, "tensor '%s': data misaligned", t->name);
        fuzz_touch(t->data, t->nbytes);
        total += t->nbytes;
        FUZZ_CHECK(total <= size, "tensors hold more bytes than the file");
        const float *data = NULL;
        attend_error err;
        attend_status st = attend_st_get_f32(f, t->name, t->ndim, t->shape, &data, &err);
        if (t->dtype == ATTEND_DTYPE_F32)
            FUZZ_CHECK(st == ATTEND_OK && data == t->data, "get_f32 '%s' failed: %s", t->name,
                       err.msg);
        else
            fuzz_check_error(st, &err, "get_f32 of a non-F32 tensor");
        /* A wrong shape must be refused, naming the tensor. */
        size_t other[ATTEND_ST_MAX_DIMS + 1] = {0};
        for (size_t d = 0; d < t->ndim; d++) other[d] = t->shape[d];
        other[t->ndim] = 7;
        st = attend_st_get_f32(f, t->name, t->ndim + 1, other, &data, &err);
        fuzz_check_error(st, &err, "get_f32 with a wrong rank");
        FUZZ_CHECK(data == NULL, "get_f32 failed but returned data");
    }
    FUZZ_CHECK(attend_st_at(f, n) == NULL, "attend_st_at past the end");
    /* The data section is exactly the tensors: 8 + header + total = size. */
    FUZZ_CHECK(size >= 8, "accepted a file of %zu bytes", size);
    size_t m = attend_st_meta_count(f);
    for (size_t i = 0; i < m; i++) {
        const char *k = NULL, *v = NULL;
        attend_st_meta_at(f, i, &k, &v);
        FUZZ_CHECK(k && v, "metadata %zu missing", i);
        FUZZ_CHECK(attend_st_meta(f, k) == v, "metadata key '%s' not found again", k);
        FUZZ_CHECK(fuzz_utf8_ok((const unsigned char *)k, strlen(k)) &&
                       fuzz_utf8_ok((const unsigned char *)v, strlen(v)),
                   "metadata %zu is not valid UTF-8", i);
    }
    FUZZ_CHECK(attend_st_find(f, "__metadata__") == NULL, "__metadata__ taken as a tensor");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    attend_st_file *f = (attend_st_file *)1;
    attend_error err;
    memset(&err, 0, sizeof err);
    attend_status st = attend_st_open_memory(&f, data, size, "fuzz.safetensors", &err);
    if (st != ATTEND_OK) {
        fuzz_check_error(st, &err, "attend_st_open_memory");
        FUZZ_CHECK(f == NULL, "rejected but returned a file");
        return 0;
    }
    FUZZ_CHECK(f != NULL, "accepted but returned no file");
    fuzz_st_check_file(f, size);
    /* The header length must be consistent with the tiling: the bytes
     * after 8 + N are exactly the tensors. */
    uint64_t hn = 0;
    for (int i = 7; i >= 0; i--) hn = (hn << 8) | data[i];
    size_t total = 0;
    for (size_t i = 0; i < attend_st_count(f); i++) total += attend_st_at(f, i)->nbytes;
    FUZZ_CHECK(8 + hn + total == size, "8 + header %llu + tensors %zu != file size %zu",
               (unsigned long long)hn, total, size);
    attend_st_close(f);
    return 0;
}
