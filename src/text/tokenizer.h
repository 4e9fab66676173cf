/* The tokenizer interface: UTF-8 text -> token ids of one vocabulary.
 *
 * A tokenizer is immutable once made, so one serves any number of threads
 * at once; what an encode writes (split tokens, normalised text) lives in a
 * scratch that each thread makes for itself (attend_tokenizer_scratch_new).
 * Special-token ids (padding, unknown, classification, separator) are
 * looked up in the vocabulary when the tokenizer is made; code that needs
 * one reads it here, never from a constant.
 *
 * Implementations:
 *   "attend"     attend's own: the word splitter (splitter.h) and a
 *                vocabulary built from training data (vocab.h); specials
 *                "<pad>", "<unk>", "<cls>"; no separator.
 *   "wordpiece"  BERT's WordPiece, as Hugging Face's tokenizers do it
 *                (wordpiece.h).
 * An encode returns the ids of the text's own tokens; the special tokens an
 * architecture adds around them ([CLS] ... [SEP], or <cls>) are the model's
 * business (model/model.h, attend_model_encode). */
#ifndef ATTEND_TEXT_TOKENIZER_H
#define ATTEND_TEXT_TOKENIZER_H

#include "attend.h"
#include "text/vocab.h"

#include <stddef.h>
#include <stdint.h>

typedef struct attend_tokenizer attend_tokenizer;

/* What an implementation provides. */
typedef struct {
    const char *kind; /* "attend", "wordpiece" */
    /* A new per-thread scratch (freed by scratch_free). */
    attend_status (*scratch_new)(const attend_tokenizer *t, void **out, attend_error *err);
    void (*scratch_free)(void *scratch);
    /* Ids of text[0..len)'s tokens: at most max_ids are written, *n of them;
     * *n_total (when not NULL) receives how many the whole text has. Tokens
     * not in the vocabulary get unk_id. Invalid UTF-8 is ATTEND_ERR_FORMAT. */
    attend_status (*encode)(const attend_tokenizer *t, void *scratch, const char *text,
                            size_t len, int32_t *ids, size_t max_ids, size_t *n,
                            size_t *n_total, attend_error *err);
    /* The text of token i of the scratch's last encode (i < *n), as the
     * tokenizer saw it: for an unknown word its normalised form, not
     * "<unk>". Valid until the next encode with that scratch. */
    const char *(*piece)(const attend_tokenizer *t, const void *scratch, size_t i);
    /* Token of an id (NULL when out of range), and id of a token (-1 when
     * absent). */
    const char *(*token)(const attend_tokenizer *t, int32_t id);
    int32_t (*find)(const attend_tokenizer *t, const char *s, size_t len);
    /* The vocabulary as a JSON array of tokens in id order (malloc'ed). */
    attend_status (*vocab_json)(const attend_tokenizer *t, char **out, attend_error *err);
    void (*destroy)(attend_tokenizer *t);
} attend_tokenizer_ops;

struct attend_tokenizer {
    const attend_tokenizer_ops *ops;
    size_t vocab_size;
    int32_t pad_id, unk_id, cls_id, sep_id; /* -1 when the vocabulary has none */
};

/* attend's own tokenizer over vocab, which it takes (vocab is emptied, also
 * on failure). The vocabulary must hold "<pad>" and "<unk>". */
attend_status attend_tokenizer_words_new(attend_tokenizer **out, attend_vocab *vocab,
                                         attend_error *err);

/* The vocabulary of an "attend" tokenizer (NULL for other kinds). */
const attend_vocab *attend_tokenizer_words_vocab(const attend_tokenizer *t);

/* BERT's WordPiece over wp, which it takes (also on failure). pad_id is
 * the padding id when the vocabulary has no pad_token (-1: 0). */
struct attend_wordpiece;
attend_status attend_tokenizer_wordpiece_new(attend_tokenizer **out, struct attend_wordpiece *wp,
                                             int32_t pad_id, attend_error *err);

/* The WordPiece of a "wordpiece" tokenizer (NULL for other kinds). */
const struct attend_wordpiece *attend_tokenizer_wordpiece(const attend_tokenizer *t);

/* A WordPiece tokenizer's settings as a JSON object (malloc'ed), and the
 * tokenizer back from its vocabulary (vocab_json) and those settings. */
attend_status attend_tokenizer_wordpiece_settings(const attend_tokenizer *t, char **out,
                                                  attend_error *err);
attend_status attend_tokenizer_wordpiece_from_json(attend_tokenizer **out, const char *vocab_json,
                                                   const char *settings_json, attend_error *err);

/* Frees a tokenizer (NULL is fine). */
void attend_tokenizer_free(attend_tokenizer *t);

/* Shorthands for the ops. */
static inline attend_status attend_tokenizer_scratch_new(const attend_tokenizer *t, void **out,
                                                         attend_error *err) {
    return t->ops->scratch_new(t, out, err);
}
static inline void attend_tokenizer_scratch_free(const attend_tokenizer *t, void *scratch) {
    if (scratch) t->ops->scratch_free(scratch);
}
static inline attend_status attend_tokenizer_encode(const attend_tokenizer *t, void *scratch,
                                                    const char *text, size_t len, int32_t *ids,
                                                    size_t max_ids, size_t *n, size_t *n_total,
                                                    attend_error *err) {
    return t->ops->encode(t, scratch, text, len, ids, max_ids, n, n_total, err);
}
static inline const char *attend_tokenizer_piece(const attend_tokenizer *t, const void *scratch,
                                                 size_t i) {
    return t->ops->piece(t, scratch, i);
}
static inline const char *attend_tokenizer_token(const attend_tokenizer *t, int32_t id) {
    return t->ops->token(t, id);
}

#endif
