/* Replays every fuzz input kept in the repository through the fuzz targets'
 * own entry points, without libFuzzer: fuzz/regress/<target>/ (inputs that
 * once crashed or broke a property; each must now pass) and
 * fuzz/corpus/<target>/ (the seed corpora: valid files and the hostile cases
 * of ANCHORS.md). Each target checks its properties and aborts on a broken
 * one, naming the input; under `make test SANITIZE=1` the sanitizers watch
 * too, and `make check-memory` runs this under valgrind.
 *
 * Usage (from the repository root, as ctest runs it):
 *   test_fuzz_regress                    every target, every kept input
 *   test_fuzz_regress TARGET FILE...     these files through one target */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define LLVMFuzzerTestOneInput fuzz_target_safetensors
#include "../fuzz/fuzz_safetensors.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_target_model
#include "../fuzz/fuzz_model.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_target_tsv
#include "../fuzz/fuzz_tsv.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_target_csv
#include "../fuzz/fuzz_csv.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_target_fasttext
#include "../fuzz/fuzz_fasttext.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_target_jsonl
#include "../fuzz/fuzz_jsonl.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_target_tokenizer
#include "../fuzz/fuzz_tokenizer.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_target_vocab
#include "../fuzz/fuzz_vocab.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_target_serve_request
#include "../fuzz/fuzz_serve_request.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_target_wordpiece
#include "../fuzz/fuzz_wordpiece.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_target_hf_config
#include "../fuzz/fuzz_hf_config.c"
#undef LLVMFuzzerTestOneInput

typedef int (*fuzz_fn)(const uint8_t *, size_t);

static const struct {
    const char *name;
    fuzz_fn fn;
} targets[] = {
    {"safetensors", fuzz_target_safetensors}, {"model", fuzz_target_model},
    {"tsv", fuzz_target_tsv},                 {"csv", fuzz_target_csv},
    {"fasttext", fuzz_target_fasttext},       {"jsonl", fuzz_target_jsonl},
    {"tokenizer", fuzz_target_tokenizer},     {"vocab", fuzz_target_vocab},
    {"serve_request", fuzz_target_serve_request},
    {"wordpiece", fuzz_target_wordpiece},     {"hf_config", fuzz_target_hf_config},
};
#define NTARGETS (sizeof targets / sizeof *targets)

static int passed = 0, failed = 0;

/* The closing line ctest users read, and the exit code. */
static int test_summary_line(void) {
    printf("test_fuzz_regress: %d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

/* Reads path whole; NULL (and a failure counted) if it cannot. */
static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "test_fuzz_regress: cannot open %s\n", path);
        failed++;
        return NULL;
    }
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *nb = realloc(buf, cap * 2);
        if (!nb) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        fprintf(stderr, "test_fuzz_regress: cannot read %s\n", path);
        free(buf);
        failed++;
        return NULL;
    }
    *len = n;
    return buf;
}

/* Runs one file through fn; a broken property aborts inside fn. */
static void replay(fuzz_fn fn, const char *path) {
    size_t len = 0;
    uint8_t *data = read_all(path, &len);
    if (!data) return;
    fuzz_input_name = path;
    /* An exact-size copy, so that an overread is past the allocation. */
    uint8_t *exact = malloc(len ? len : 1);
    if (len) memcpy(exact, data, len);
    fn(exact, len);
    free(exact);
    free(data);
    passed++;
}

static int keep_name(const struct dirent *d) {
    return d->d_name[0] != '.' && strncmp(d->d_name, "README", 6) != 0;
}

/* Replays every regular file of dir (sorted); returns how many. A missing
 * directory is 0 files, and an error only when required. */
static size_t replay_dir(fuzz_fn fn, const char *dir, int required) {
    struct dirent **names = NULL;
    int n = scandir(dir, &names, keep_name, alphasort);
    if (n < 0) {
        if (required) {
            fprintf(stderr, "test_fuzz_regress: cannot list %s (run from the repository root)\n", dir);
            failed++;
        }
        return 0;
    }
    size_t count = 0;
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
        if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            replay(fn, path);
            count++;
        }
        free(names[i]);
    }
    free(names);
    return count;
}

int main(int argc, char **argv) {
    if (argc >= 2) {
        for (size_t t = 0; t < NTARGETS; t++)
            if (strcmp(argv[1], targets[t].name) == 0) {
                for (int i = 2; i < argc; i++) replay(targets[t].fn, argv[i]);
                return test_summary_line();
            }
        fprintf(stderr, "usage: test_fuzz_regress [TARGET FILE...]; targets:");
        for (size_t t = 0; t < NTARGETS; t++) fprintf(stderr, " %s", targets[t].name);
        fputc('\n', stderr);
        return 2;
    }
    for (size_t t = 0; t < NTARGETS; t++) {
        char dir[256];
        snprintf(dir, sizeof dir, "fuzz/regress/%s", targets[t].name);
        size_t nr = replay_dir(targets[t].fn, dir, 0);
        snprintf(dir, sizeof dir, "fuzz/corpus/%s", targets[t].name);
        size_t nc = replay_dir(targets[t].fn, dir, 1);
        if (nc == 0) {
            fprintf(stderr, "test_fuzz_regress: %s has no corpus\n", targets[t].name);
            failed++;
        }
        printf("%-12s %5zu regression inputs, %5zu corpus inputs: ok\n", targets[t].name, nr, nc);
    }
    return test_summary_line();
}
