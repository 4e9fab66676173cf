/* The tokenizer interface (tokenizer.h) and attend's own implementation:
 * the word splitter over a vocabulary built from training data. */
#include "text/tokenizer.h"
#include "text/splitter.h"

#include <stdlib.h>
#include <string.h>

void attend_tokenizer_free(attend_tokenizer *t) {
    if (t) t->ops->destroy(t);
}

/* ---- "attend": splitter + vocabulary ---- */

typedef struct {
    attend_tokenizer base;
    attend_vocab vocab;
} words_tokenizer;

static attend_status words_scratch_new(const attend_tokenizer *t, void **out, attend_error *err) {
    (void)t;
    *out = NULL;
    attend_splitter *sp = malloc(sizeof *sp);
    if (!sp) return attend_errorf(err, ATTEND_ERR_NOMEM, "tokenizer: out of memory");
    attend_status st = attend_splitter_init(sp, err);
    if (st) {
        free(sp);
        return st;
    }
    *out = sp;
    return ATTEND_OK;
}

static void words_scratch_free(void *scratch) {
    attend_splitter_free(scratch);
    free(scratch);
}

static attend_status words_encode(const attend_tokenizer *t, void *scratch, const char *text,
                                  size_t len, int32_t *ids, size_t max_ids, size_t *n,
                                  size_t *n_total, attend_error *err) {
    const words_tokenizer *w = (const words_tokenizer *)t;
    attend_splitter *sp = scratch;
    *n = 0;
    if (n_total) *n_total = 0;
    /* Without a total to report, splitting stops at max_ids tokens. */
    if (!n_total && max_ids == 0) return ATTEND_OK;
    attend_status st = attend_splitter_split(sp, text, len, n_total ? 0 : max_ids, err);
    if (st) return st;
    size_t k = sp->count < max_ids ? sp->count : max_ids;
    for (size_t i = 0; i < k; i++) {
        size_t tl;
        const char *s = attend_splitter_token(sp, i, &tl);
        int32_t id = attend_vocab_find(&w->vocab, s, tl);
        ids[i] = id < 0 ? t->unk_id : id;
    }
    *n = k;
    if (n_total) *n_total = sp->count;
    return ATTEND_OK;
}

static const char *words_piece(const attend_tokenizer *t, const void *scratch, size_t i) {
    (void)t;
    return attend_splitter_token(scratch, i, NULL);
}

static const char *words_token(const attend_tokenizer *t, int32_t id) {
    return id < 0 ? NULL : attend_vocab_token(&((const words_tokenizer *)t)->vocab, (size_t)id);
}

static int32_t words_find(const attend_tokenizer *t, const char *s, size_t len) {
    return attend_vocab_find(&((const words_tokenizer *)t)->vocab, s, len);
}

static attend_status words_vocab_json(const attend_tokenizer *t, char **out, attend_error *err) {
    return attend_vocab_to_json(&((const words_tokenizer *)t)->vocab, out, err);
}

static void words_destroy(attend_tokenizer *t) {
    words_tokenizer *w = (words_tokenizer *)t;
    attend_vocab_free(&w->vocab);
    free(w);
}

static const attend_tokenizer_ops words_ops = {
    "attend",   words_scratch_new, words_scratch_free, words_encode,  words_piece,
    words_token, words_find,       words_vocab_json,   words_destroy,
};

attend_status attend_tokenizer_words_new(attend_tokenizer **out, attend_vocab *vocab,
                                         attend_error *err) {
    *out = NULL;
    words_tokenizer *w = calloc(1, sizeof *w);
    if (!w) {
        attend_vocab_free(vocab);
        memset(vocab, 0, sizeof *vocab);
        return attend_errorf(err, ATTEND_ERR_NOMEM, "tokenizer: out of memory");
    }
    w->vocab = *vocab;
    memset(vocab, 0, sizeof *vocab);
    attend_tokenizer *t = &w->base;
    t->ops = &words_ops;
    t->vocab_size = attend_vocab_size(&w->vocab);
    t->pad_id = attend_vocab_find(&w->vocab, "<pad>", 5);
    t->unk_id = attend_vocab_find(&w->vocab, "<unk>", 5);
    t->cls_id = attend_vocab_find(&w->vocab, "<cls>", 5);
    t->sep_id = -1;
    if (t->pad_id < 0 || t->unk_id < 0) {
        words_destroy(t);
        return attend_errorf(err, ATTEND_ERR_FORMAT, "vocabulary lacks %s", t->pad_id < 0 ? "<pad>" : "<unk>");
    }
    *out = t;
    return ATTEND_OK;
}

const attend_vocab *attend_tokenizer_words_vocab(const attend_tokenizer *t) {
    return t && t->ops == &words_ops ? &((const words_tokenizer *)t)->vocab : NULL;
}
