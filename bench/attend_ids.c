/* attend_ids: the token ids attend's classifier feeds its model, one line per
 * input line, for checking another implementation of attend's tokenizer
 * (bench/serve_peer.py check-tokenizer).
 *
 *   attend_ids MODEL.safetensors [--tsv] [--tokens] < TEXTS > IDS
 *
 * Each input line is one text (with --tsv: the part after the first tab, as
 * attend train reads label<TAB>text). Output per line: the ids of
 * attend_classify's encoding (<cls> first for cls pooling, cut at max_len),
 * separated by spaces; with --tokens the normalised tokens instead (no
 * vocabulary lookup, no cut), separated by U+0001. A line that is not valid
 * UTF-8 gives "!". Not built by CMake; from the repository root after `make`:
 *
 *   cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iinclude -Isrc bench/attend_ids.c build/libattend.a \
 *      $(pkg-config --libs openblas libutf8proc libcjson) -lm -fopenmp -o build/attend_ids
 */
#include "model.h"
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    const char *path = NULL;
    int tsv = 0, tokens = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--tsv") == 0) tsv = 1;
        else if (strcmp(argv[i], "--tokens") == 0) tokens = 1;
        else if (!path && argv[i][0] != '-') path = argv[i];
        else {
            fprintf(stderr, "usage: attend_ids MODEL.safetensors [--tsv] [--tokens] < TEXTS\n");
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: attend_ids MODEL.safetensors [--tsv] [--tokens] < TEXTS\n");
        return 2;
    }
    attend_error err;
    attend_model *m = NULL;
    if (attend_model_load(&m, path, &err) != ATTEND_OK) {
        fprintf(stderr, "attend_ids: %s\n", err.msg);
        return 1;
    }
    attend_tokenizer tok;
    if (attend_tokenizer_init(&tok, &err) != ATTEND_OK) {
        fprintf(stderr, "attend_ids: %s\n", err.msg);
        return 1;
    }
    size_t max_len = attend_model_get_config(m)->max_len;
    int32_t *ids = malloc(max_len * sizeof *ids);
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    int rc = 0;
    while (ids && (got = getline(&line, &cap, stdin)) >= 0) {
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n') line[--len] = 0;
        const char *text = line;
        if (tsv) {
            char *tab = memchr(line, '\t', len);
            if (tab) {
                len -= (size_t)(tab + 1 - line);
                text = tab + 1;
            }
        }
        if (tokens) {
            if (attend_tokenizer_split(&tok, text, len, 0, &err) != ATTEND_OK) {
                puts("!");
                continue;
            }
            for (size_t i = 0; i < tok.count; i++) {
                if (i) putchar('\x01');
                fputs(attend_tokenizer_token(&tok, i, NULL), stdout);
            }
            putchar('\n');
            continue;
        }
        size_t n = 0;
        if (attend_model_encode(m, &tok, text, len, ids, &n, &err) != ATTEND_OK) {
            puts("!");
            continue;
        }
        for (size_t i = 0; i < n; i++) printf(i ? " %d" : "%d", (int)ids[i]);
        putchar('\n');
    }
    if (!ids) {
        fprintf(stderr, "attend_ids: out of memory\n");
        rc = 1;
    }
    free(line);
    free(ids);
    attend_tokenizer_free(&tok);
    attend_model_free(m);
    return rc;
}
