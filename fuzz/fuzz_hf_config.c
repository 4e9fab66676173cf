/* libFuzzer target: config.json of a Hugging Face BERT-family folder
 * (src/model/hf_config.c, attend_hf_config_parse).
 * Input: the file's bytes.
 * Properties:
 *   - a refused config says why (status and message) and leaves nothing
 *     behind (no labels);
 *   - an accepted one is a configuration the model accepts
 *     (attend_model_config_check), with BERT's architecture, max_len
 *     within max_positions, a pad id inside the vocabulary, and id2label
 *     names that are non-empty and distinct;
 *   - its layout (every tensor's name and shape) can be listed without
 *     overflow: the sum of the shapes is the total. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz_common.h"
#include "model/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_setup();
    /* the parser reads a NUL-terminated text, as attend_read_file gives it */
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL, "out of memory");
    if (size) memcpy(text, data, size);
    text[size] = 0;
    attend_hf_config c;
    attend_error err;
    memset(&err, 0, sizeof err);
    attend_status st = attend_hf_config_parse(&c, text, size, "config.json", &err);
    if (st != ATTEND_OK) {
        fuzz_check_error(st, &err, "attend_hf_config_parse");
        FUZZ_CHECK(c.id2label == NULL && c.cfg.num_classes == 0, "a refused config kept labels");
        free(text);
        return 0;
    }
    const attend_model_config *m = &c.cfg;
    FUZZ_CHECK(m->arch == ATTEND_ARCH_BERT, "arch %d", (int)m->arch);
    st = attend_model_config_check(m, &err);
    FUZZ_CHECK(st == ATTEND_OK, "an accepted config.json fails the model's check: %s", err.msg);
    FUZZ_CHECK(m->max_len >= 2 && m->max_len <= m->max_positions, "max_len %zu of %zu positions",
               m->max_len, m->max_positions);
    FUZZ_CHECK(c.pad_token_id < 0 || (size_t)c.pad_token_id < m->vocab_size, "pad id %d",
               (int)c.pad_token_id);
    for (size_t i = 0; c.id2label && i < m->num_classes; i++) {
        FUZZ_CHECK(c.id2label[i] && c.id2label[i][0], "label %zu empty", i);
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(strcmp(c.id2label[i], c.id2label[j]) != 0, "labels %zu and %zu equal", j, i);
    }
    attend_layout L;
    memset(&L, 0, sizeof L);
    attend_model_layout(&L, m, NULL);
    size_t sum = 0;
    for (size_t i = 0; i < L.count; i++) {
        const attend_param_info *it = &L.items[i];
        size_t n = it->ndim == 2 ? it->shape[0] * it->shape[1] : it->shape[0];
        FUZZ_CHECK(n == it->numel && it->offset == sum, "tensor %s: %zu values at %zu", it->name,
                   it->numel, it->offset);
        sum += n;
    }
    FUZZ_CHECK(L.failed || sum == L.total, "layout total %zu, shapes sum to %zu", L.total, sum);
    attend_layout_free(&L);
    attend_hf_config_free(&c);
    free(text);
    return 0;
}
