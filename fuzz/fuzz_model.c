/* libFuzzer target: the model loader, attend_model_load, and inference on
 * what it accepts.
 *
 * Input encoding (two forms, told apart by the first byte):
 *   - starting with '{': the JSON header, then optionally a NUL byte and the
 *     data section; the target writes the 8-byte header length itself, so a
 *     mutation of the header cannot break the length prefix and the fuzzer
 *     spends its time in the model checks (config, vocabulary, labels,
 *     tensor names and shapes, non-finite values);
 *   - anything else: the whole file, length prefix included.
 * (A writer pads the header to a multiple of 8, so a real file's first byte,
 * the low byte of that length, is never '{' = 123.)
 *
 * attend_model_load takes a path, so the file is written to a memfd and
 * opened as /proc/self/fd/N; where that is not available (no memfd_create,
 * no /proc), to a temporary file in /dev/shm, $TMPDIR or /tmp.
 * Properties: a rejection fills the error and returns no model; an accepted
 * model's configuration passes attend_model_config_check, its labels are
 * sorted and distinct, and classifying a few texts works and gives
 * probabilities that are 0 (no tokens) or sum to 1 when finite. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz_common.h"
#include "model/model.h"

#include <fcntl.h>
#include <math.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static int fuzz_model_fd = -1;
static char fuzz_model_path[4096];

static void fuzz_model_cleanup(void) {
    if (fuzz_model_fd >= 0 && strncmp(fuzz_model_path, "/proc/", 6) != 0)
        unlink(fuzz_model_path);
}

/* Writes all of p[0..n) at offset off of fd; 1 on success. */
static int fuzz_model_pwrite(int fd, const void *p, size_t n, off_t off) {
    const unsigned char *b = p;
    while (n) {
        ssize_t w = pwrite(fd, b, n, off);
        if (w <= 0) return 0;
        b += w;
        n -= (size_t)w;
        off += w;
    }
    return 1;
}

/* 1 if path can be opened and shows the byte just written to fd. */
static int fuzz_model_probe(int fd, const char *path) {
    if (ftruncate(fd, 0) != 0 || !fuzz_model_pwrite(fd, "x", 1, 0)) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int c = fgetc(f);
    fclose(f);
    return c == 'x';
}

/* Opens the scratch file once; aborts if none can be had (the target could
 * not test anything). */
static void fuzz_model_open_scratch(void) {
    if (fuzz_model_fd >= 0) return;
#if defined(__linux__) && defined(MFD_CLOEXEC)
    int fd = memfd_create("attend_fuzz_model", MFD_CLOEXEC);
    if (fd >= 0) {
        snprintf(fuzz_model_path, sizeof fuzz_model_path, "/proc/self/fd/%d", fd);
        if (fuzz_model_probe(fd, fuzz_model_path)) {
            fuzz_model_fd = fd;
            return;
        }
        close(fd);
    }
#endif
    const char *tmpdir = getenv("TMPDIR");
    const char *dirs[] = {"/dev/shm", tmpdir && *tmpdir ? tmpdir : "/tmp", "/tmp"};
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
        snprintf(fuzz_model_path, sizeof fuzz_model_path, "%s/attend_fuzz_model.XXXXXX", dirs[i]);
        int tfd = mkstemp(fuzz_model_path);
        if (tfd < 0) continue;
        if (fuzz_model_probe(tfd, fuzz_model_path)) {
            fuzz_model_fd = tfd;
            atexit(fuzz_model_cleanup);
            return;
        }
        close(tfd);
        unlink(fuzz_model_path);
    }
    fprintf(stderr, "fuzz_model: cannot create a scratch file (memfd, /dev/shm, $TMPDIR, /tmp)\n");
    abort();
}

/* Replaces the scratch file's contents with the file the input encodes. */
static void fuzz_model_write(const uint8_t *data, size_t size) {
    int fd = fuzz_model_fd;
    int ok = ftruncate(fd, 0) == 0;
    if (size && data[0] == '{') {
        const uint8_t *nul = memchr(data, '\0', size);
        size_t hlen = nul ? (size_t)(nul - data) : size;
        unsigned char prefix[8];
        for (int i = 0; i < 8; i++) prefix[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
        ok = ok && fuzz_model_pwrite(fd, prefix, 8, 0) && fuzz_model_pwrite(fd, data, hlen, 8);
        if (nul) ok = ok && fuzz_model_pwrite(fd, nul + 1, size - hlen - 1, (off_t)(8 + hlen));
    } else if (size) {
        ok = ok && fuzz_model_pwrite(fd, data, size, 0);
    }
    FUZZ_CHECK(ok, "cannot write the scratch file %s", fuzz_model_path);
}

/* Classifies text and checks the result. */
static void fuzz_model_classify(const attend_model *m, attend_context *ctx, const char *text, size_t len) {
    size_t K = attend_model_num_labels(m), ntok = 12345;
    float *probs = malloc((K ? K : 1) * sizeof(float));
    FUZZ_CHECK(probs != NULL, "out of memory");
    attend_error err;
    attend_status st = attend_classify(m, ctx, text, len, probs, &ntok, &err);
    if (st != ATTEND_OK) {
        fuzz_check_error(st, &err, "attend_classify");
        /* NUMERIC: finite but extreme weights (1e38) overflowed the logits */
        FUZZ_CHECK(st == ATTEND_ERR_FORMAT || st == ATTEND_ERR_NOMEM || st == ATTEND_ERR_NUMERIC,
                   "classify: %s", err.msg);
    } else {
        double sum = 0.0;
        int finite = 1;
        for (size_t k = 0; k < K; k++) {
            FUZZ_CHECK(!(probs[k] < 0.0f) && !(probs[k] > 1.0f + 1e-5f), "probability %g", (double)probs[k]);
            finite &= isfinite(probs[k]) != 0;
            sum += probs[k];
        }
        FUZZ_CHECK(ntok <= attend_model_get_config(m)->max_len, "%zu tokens used", ntok);
        if (ntok == 0) FUZZ_CHECK(sum == 0.0, "no tokens but probabilities sum to %g", sum);
        /* Non-finite logits are refused (ATTEND_ERR_NUMERIC above), so an
         * answer is always a distribution. */
        else
            FUZZ_CHECK(finite && fabs(sum - 1.0) < 1e-3, "probabilities sum to %g", sum);
    }
    free(probs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    fuzz_model_open_scratch();
    fuzz_model_write(data, size);

    attend_model *m = (attend_model *)1;
    attend_error err;
    memset(&err, 0, sizeof err);
    attend_status st = attend_model_load(&m, fuzz_model_path, &err);
    if (st != ATTEND_OK) {
        fuzz_check_error(st, &err, "attend_model_load");
        FUZZ_CHECK(m == NULL, "rejected but returned a model");
        FUZZ_CHECK(st != ATTEND_ERR_IO, "I/O error on the scratch file: %s", err.msg);
        return 0;
    }
    FUZZ_CHECK(m != NULL, "accepted but returned no model");
    const attend_model_config *c = attend_model_get_config(m);
    FUZZ_CHECK(attend_model_config_check(c, &err) == ATTEND_OK, "loaded config: %s", err.msg);
    size_t K = attend_model_num_labels(m);
    FUZZ_CHECK(K == c->num_classes, "%zu labels, %zu classes", K, c->num_classes);
    for (size_t k = 0; k < K; k++) {
        const char *l = attend_model_label(m, k);
        FUZZ_CHECK(l && *l, "label %zu empty", k);
        if (k) FUZZ_CHECK(strcmp(attend_model_label(m, k - 1), l) < 0, "labels not sorted");
    }
    FUZZ_CHECK(attend_model_label(m, K) == NULL, "label past the end");
    FUZZ_CHECK(attend_model_vocab_size(m) == c->vocab_size, "vocabulary size");
    attend_context *ctx = NULL;
    st = attend_context_new(&ctx, m, &err);
    if (st != ATTEND_OK) {
        FUZZ_CHECK(st == ATTEND_ERR_NOMEM, "context: %s", err.msg);
        attend_model_free(m);
        return 0;
    }

    /* Texts: nothing, unknown words, the model's own tokens (so real
     * embedding rows are used) up to past max_len, and invalid UTF-8. */
    fuzz_model_classify(m, ctx, "", 0);
    fuzz_model_classify(m, ctx, "zzqx unknown words !", 20);
    fuzz_model_classify(m, ctx, "\xff\xfe", 2);
    char text[2048];
    size_t len = 0;
    for (size_t id = 3; id < attend_model_vocab_size(m); id++) { /* past <pad> <unk> <cls> */
        const char *t = attend_model_token(m, (int32_t)id);
        size_t tl = strlen(t);
        if (len + tl + 2 > sizeof text) break;
        memcpy(text + len, t, tl);
        len += tl;
        text[len++] = ' ';
    }
    fuzz_model_classify(m, ctx, text, len);
    fuzz_model_classify(m, ctx, text, len / 2); /* shorter after a longer one: reused workspace */
    attend_context_free(ctx);
    attend_model_free(m);
    return 0;
}
