/* Vocabulary of attend's own tokenizer: id 0 "<pad>", 1 "<unk>", 2 "<cls>" (always present so ids are
 * stable whatever the pooling), then the kept tokens by count descending,
 * ties by token bytes ascending. Built from counts of the training split only
 * (attend_vocab_counter), serialised as a JSON array of strings for a model
 * file's metadata. */
#ifndef ATTEND_TEXT_VOCAB_H
#define ATTEND_TEXT_VOCAB_H

#include "attend.h"
#include "text/splitter.h"

#include <stddef.h>
#include <stdint.h>

/* ---- string table (private; the storage of the vocabulary and counter) ---- */

typedef struct {
    char *bytes;          /* strings, each NUL-terminated */
    size_t nbytes, bytes_cap;
    size_t *off;          /* string i = bytes + off[i] */
    size_t *len;
    uint64_t *hash;
    uint64_t *count;
    size_t n, cap;
    uint32_t *slots;      /* open addressing, linear probing: 0 empty, else index+1 */
    size_t nslots;        /* power of two, load <= 1/2 */
} attend_strtab;

/* ---- vocabulary ---- */

#define ATTEND_VOCAB_PAD 0
#define ATTEND_VOCAB_UNK 1
#define ATTEND_VOCAB_CLS 2
#define ATTEND_VOCAB_NSPECIAL 3
/* Largest vocabulary (ids must fit int32 and the table's 32-bit slots). */
#define ATTEND_VOCAB_MAX_SIZE ((size_t)1 << 30)

/* Token counts gathered from training texts. */
typedef struct {
    attend_strtab tab;
    uint64_t total; /* tokens added */
} attend_vocab_counter;

/* Empty counter. */
attend_status attend_vocab_counter_init(attend_vocab_counter *c, attend_error *err);
void attend_vocab_counter_free(attend_vocab_counter *c);

/* Adds one occurrence of the token s[0..len). */
attend_status attend_vocab_counter_add(attend_vocab_counter *c, const char *s, size_t len,
                                       attend_error *err);

/* Splits text with tok (no token limit) and counts every token. */
attend_status attend_vocab_counter_add_text(attend_vocab_counter *c, attend_splitter *tok,
                                            const char *text, size_t len, attend_error *err);

/* id <-> token map. */
typedef struct {
    attend_strtab tab;
} attend_vocab;

/* A vocabulary holding only the special tokens. */
attend_status attend_vocab_init(attend_vocab *v, attend_error *err);
void attend_vocab_free(attend_vocab *v);

/* Builds v (not initialised yet) from counts: keeps tokens seen at least
 * min_freq times (0 and 1 keep all), ordered by count descending then bytes
 * ascending, cut so that the size including the 3 special tokens is at most
 * max_vocab (0 = no limit; 1..3 is an argument error). */
attend_status attend_vocab_build(attend_vocab *v, const attend_vocab_counter *c,
                                 size_t min_freq, size_t max_vocab, attend_error *err);

/* Number of ids (V), special tokens included. */
static inline size_t attend_vocab_size(const attend_vocab *v) { return v->tab.n; }

/* Token of an id (NUL-terminated), or NULL when id is out of range. */
const char *attend_vocab_token(const attend_vocab *v, size_t id);

/* Id of the token s[0..len), or -1 when absent. */
int32_t attend_vocab_find(const attend_vocab *v, const char *s, size_t len);

/* Id of the token s[0..len), or ATTEND_VOCAB_UNK when absent. */
int32_t attend_vocab_id(const attend_vocab *v, const char *s, size_t len);

/* The vocabulary as a JSON array of its tokens in id order (compact, UTF-8).
 * *out is malloc'ed; the caller frees it with free(). */
attend_status attend_vocab_to_json(const attend_vocab *v, char **out, attend_error *err);

/* Parses attend_vocab_to_json's output into v (not initialised yet). Checks it
 * is one array of non-empty valid UTF-8 strings, without duplicates, with the
 * special tokens at ids 0..2; anything else is ATTEND_ERR_FORMAT. */
attend_status attend_vocab_from_json(attend_vocab *v, const char *json, attend_error *err);

#endif
