/* Datasets: labelled text read from TSV, CSV, fastText or JSONL files, the
 * label table, and the stratified train/validation split.
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

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* File formats. */
typedef enum {
    ATTEND_FORMAT_AUTO = 0, /* by the file's extension */
    ATTEND_FORMAT_TSV,
    ATTEND_FORMAT_CSV,
    ATTEND_FORMAT_FASTTEXT,
    ATTEND_FORMAT_JSONL,
    ATTEND_FORMAT_TEXT
} attend_data_format;

/* Lower-case name ("tsv", "csv", "fasttext", "jsonl", "text", "auto"). */
const char *attend_data_format_name(attend_data_format f);

/* Parses a format name as attend_data_format_name writes it ("ft" and "json"
 * are accepted too); unknown names are ATTEND_ERR_ARG. */
attend_status attend_data_format_parse(const char *name, attend_data_format *out,
                                       attend_error *err);

/* Format from a path's extension (case-insensitive); ATTEND_ERR_ARG with a
 * hint to give the format when the extension is not one of the known ones. */
attend_status attend_data_format_from_path(const char *path, attend_data_format *out,
                                           attend_error *err);

/* Longest line (or CSV record) accepted by default: 1 MiB. */
#define ATTEND_DATA_MAX_LINE ((size_t)1 << 20)
/* Warning messages kept in a dataset (all are counted). */
#define ATTEND_DATA_WARNINGS_KEPT 20

/* How to read a file. Zero-initialise, then set what you need. */
typedef struct {
    attend_data_format format; /* AUTO: by extension */
    const char *text_col;      /* CSV column / JSONL key of the text (NULL: "text") */
    const char *label_col;     /* CSV column / JSONL key of the label (NULL: "label") */
    int strict;                /* 1: the first malformed record is fatal */
    size_t max_line_bytes;     /* 0: ATTEND_DATA_MAX_LINE */
    /* Called for every warning as it happens (may be NULL). */
    void (*on_warning)(void *ctx, const char *msg);
    void *warning_ctx;
} attend_data_options;

/* One record. Strings are NUL-terminated UTF-8 owned by the dataset. */
typedef struct {
    const char *label; /* NULL in TEXT data */
    const char *text;
    size_t line;       /* 1-based line where the record starts */
} attend_record;

typedef struct attend_arena_block attend_arena_block;

/* Records of one file plus what was skipped and where it came from. */
typedef struct {
    attend_record *records;
    size_t count;
    attend_data_format format; /* the format actually read */
    const char *name;          /* the file name used in messages */
    size_t n_malformed;        /* records reported and skipped */
    size_t n_warnings_kept;    /* <= ATTEND_DATA_WARNINGS_KEPT */
    char warnings[ATTEND_DATA_WARNINGS_KEPT][512];
    uint64_t hash;             /* FNV-1a 64 of the file's bytes */
    char hash_hex[17];         /* the same, 16 lower-case hex digits */
    uint64_t nbytes;           /* bytes read */
    /* Private: */
    size_t cap;
    attend_arena_block *arena;
} attend_dataset;

/* Reads path into ds (not initialised yet). On failure ds is left empty
 * (attend_dataset_free is still safe). */
attend_status attend_dataset_read(attend_dataset *ds, const char *path,
                                  const attend_data_options *opt, attend_error *err);

/* Same from an open stream (not closed); name is used in messages and for
 * the extension when the format is AUTO. */
attend_status attend_dataset_read_stream(attend_dataset *ds, FILE *f, const char *name,
                                         const attend_data_options *opt, attend_error *err);

/* Frees the records and strings. */
void attend_dataset_free(attend_dataset *ds);

/* FNV-1a 64 of a whole file, as 16 hex digits in hex (17 bytes). */
attend_status attend_file_hash(const char *path, uint64_t *hash, char hex[17],
                               attend_error *err);

/* ---- line reader: bounded, streaming (for TEXT input from stdin) ---- */

typedef struct {
    FILE *f;
    const char *name;     /* for messages */
    size_t max_bytes;     /* bytes of a line kept */
    size_t line_no;       /* 1-based number of the line last returned */
    uint64_t hash;        /* FNV-1a 64 of every byte read so far */
    uint64_t nbytes;
    /* Private: */
    char *buf;
    size_t cap;
    int at_start, at_eof;
    unsigned char pend[3]; /* bytes read while looking for a BOM */
    int npend, ipend;
} attend_line_reader;

/* Starts reading f; max_bytes 0 = ATTEND_DATA_MAX_LINE. */
attend_status attend_line_reader_init(attend_line_reader *r, FILE *f, const char *name,
                                      size_t max_bytes, attend_error *err);

/* Next line without its "\n" or "\r\n" (a BOM at the very start is skipped),
 * NUL-terminated in a buffer valid until the next call. *line = NULL at the
 * end. A line longer than max_bytes is read to its end but only its first
 * max_bytes bytes are returned, with *too_long = 1. Returns ATTEND_ERR_IO on
 * a read error. Memory stays bounded by max_bytes whatever the input. */
attend_status attend_line_reader_next(attend_line_reader *r, const char **line, size_t *len,
                                      int *too_long, attend_error *err);

void attend_line_reader_free(attend_line_reader *r);

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
