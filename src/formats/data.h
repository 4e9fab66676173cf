/* Datasets (the public part is in attend_train.h: formats, readers, the
 * line reader), the label table, and the stratified train/validation split.
 *
 * Formats (chosen by extension unless given):
 *   TSV (.tsv)       label<TAB>text; no header; the text is everything after
 *                    the first TAB.
 *   CSV (.csv)       RFC 4180: a header row naming the columns, fields
 *                    separated by commas, quoted fields may hold commas, ""
 *                    (an escaped quote) and newlines. The text and label
 *                    columns are picked by header name.
 *   fastText (.txt, .ft, .fasttext)
 *                    __label__X [__label__Y ...] text; the first label is
 *                    used, further leading labels are dropped.
 *   JSONL (.jsonl, .ndjson)
 *                    one object per line with a string text and a string or
 *                    integer label (an integer becomes its decimal string).
 *   TEXT (never by extension)
 *                    one text per line, no labels: prediction input. Every
 *                    line is a record, empty lines included, so outputs can
 *                    be matched to input lines.
 * All formats: a UTF-8 BOM at the start is skipped, CRLF line ends are
 * accepted, blank lines are ignored (except in TEXT), labels are trimmed of
 * ASCII whitespace. A malformed record (no label, empty text, invalid UTF-8,
 * a NUL byte, a line or record over the size cap, bad JSON, a missing field,
 * an unterminated quote) is reported as "file:line: what", counted and
 * skipped; with strict set, the first one is a fatal ATTEND_ERR_FORMAT. A
 * labelled file with no valid record is an error. In TEXT data, a malformed
 * line becomes an empty text (reported) so the line count is kept, and an
 * overlong line is cut at the cap. */
#ifndef ATTEND_DATA_H
#define ATTEND_DATA_H

#include "attend.h"
#include "attend_train.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* FNV-1a 64 of a whole file, as 16 hex digits in hex (17 bytes). */
attend_status attend_file_hash(const char *path, uint64_t *hash, char hex[17],
                               attend_error *err);

/* ---- labels ---- */

/* Label names in sorted (byte) order; a label's id is its index. */
typedef struct {
    char **names;
    size_t count;
} attend_labels;

/* The distinct labels of ds, sorted. ATTEND_ERR_FORMAT if ds has no labels. */
attend_status attend_labels_from_dataset(attend_labels *lt, const attend_dataset *ds,
                                         attend_error *err);

/* Id of name, or -1. */
long attend_labels_find(const attend_labels *lt, const char *name);

/* ids[i] = id of ds->records[i].label. A label not in lt is ATTEND_ERR_FORMAT
 * naming the file, line and label, and listing the known labels. */
attend_status attend_labels_map(const attend_labels *lt, const attend_dataset *ds,
                                int32_t *ids, attend_error *err);

/* JSON array of the names in id order; *out is malloc'ed, free() it. */
attend_status attend_labels_to_json(const attend_labels *lt, char **out, attend_error *err);

/* Parses attend_labels_to_json's output: an array of non-empty, valid UTF-8
 * strings in strictly ascending byte order (so no duplicates). */
attend_status attend_labels_from_json(attend_labels *lt, const char *json, attend_error *err);

void attend_labels_free(attend_labels *lt);

/* ---- stratified split ---- */

/* Marks is_val[i] = 1 for the validation examples of n labelled examples
 * (label_ids in [0,K)), 0 for training. Per class of n_c examples,
 * round(frac * n_c) go to validation, but at least 1 when frac > 0 and
 * n_c >= 2, and never all n_c, so every class stays in training. Which ones is
 * a seeded shuffle per class: the same (labels, frac, seed) give the same
 * split on every machine. frac must be in [0,1). *n_val (may be NULL) = the
 * number marked. */
attend_status attend_split_stratified(const int32_t *label_ids, size_t n, size_t K, double frac,
                                      uint64_t seed, uint8_t *is_val, size_t *n_val,
                                      attend_error *err);

#endif
