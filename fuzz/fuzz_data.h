/* The body shared by the dataset parser targets (fuzz_tsv.c, fuzz_csv.c,
 * fuzz_fasttext.c, fuzz_jsonl.c): the input is a whole file, read through
 * attend_dataset_read_stream on an fmemopen stream, twice: leniently with
 * the default line cap, then strictly with a 64-byte cap (so the overlong
 * line path is reached by small inputs). Properties:
 *   - a failure fills the error and leaves the dataset empty;
 *   - the dataset's byte count and FNV-1a hash are those of the whole input
 *     when it is accepted;
 *   - every record has a non-empty, valid UTF-8, NUL-free text and (except
 *     TEXT) a non-empty label without leading or trailing ASCII whitespace;
 *     line numbers never decrease;
 *   - TEXT data has one record per line, like `wc -l` plus an unterminated
 *     last line (after a BOM);
 *   - a strict read that succeeds has no malformed record;
 *   - the label table built from a dataset maps every record, and its JSON
 *     form reads back to the same table. */
#ifndef ATTEND_FUZZ_DATA_H
#define ATTEND_FUZZ_DATA_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fuzz_common.h"
#include "formats/data.h"
#include "base/util.h"
#include "text/vocab.h"

static void fuzz_data_on_warning(void *ctx, const char *msg) {
    size_t *n = ctx;
    (*n)++;
    FUZZ_CHECK(msg && msg[0], "empty warning");
    FUZZ_CHECK(strlen(msg) < 4096, "warning of %zu bytes", strlen(msg));
}

static int fuzz_data_is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void fuzz_data_check_labels(const attend_dataset *ds) {
    attend_labels lt, back;
    attend_error err;
    attend_status st = attend_labels_from_dataset(&lt, ds, &err);
    FUZZ_CHECK(st == ATTEND_OK, "labels_from_dataset: %s", err.msg);
    FUZZ_CHECK(lt.count >= 1 && lt.count <= ds->count, "%zu labels for %zu records", lt.count,
               ds->count);
    for (size_t k = 1; k < lt.count; k++)
        FUZZ_CHECK(strcmp(lt.names[k - 1], lt.names[k]) < 0, "labels not sorted and distinct");
    int32_t *ids = malloc(ds->count * sizeof *ids);
    FUZZ_CHECK(ids != NULL, "out of memory");
    st = attend_labels_map(&lt, ds, ids, &err);
    FUZZ_CHECK(st == ATTEND_OK, "labels_map: %s", err.msg);
    for (size_t i = 0; i < ds->count; i++) {
        FUZZ_CHECK(ids[i] >= 0 && (size_t)ids[i] < lt.count, "id %d", (int)ids[i]);
        FUZZ_CHECK(strcmp(lt.names[ids[i]], ds->records[i].label) == 0, "record %zu mapped wrong",
                   i);
        FUZZ_CHECK(attend_labels_find(&lt, ds->records[i].label) == ids[i], "find disagrees");
    }
    free(ids);
    char *json = NULL;
    st = attend_labels_to_json(&lt, &json, &err);
    FUZZ_CHECK(st == ATTEND_OK, "labels_to_json: %s", err.msg);
    st = attend_labels_from_json(&back, json, &err);
    FUZZ_CHECK(st == ATTEND_OK, "labels_from_json of %s: %s", json, err.msg);
    FUZZ_CHECK(back.count == lt.count, "label count changed in JSON");
    for (size_t k = 0; k < lt.count; k++)
        FUZZ_CHECK(strcmp(back.names[k], lt.names[k]) == 0, "label %zu changed in JSON", k);
    free(json);
    attend_labels_free(&back);
    attend_labels_free(&lt);
}

static void fuzz_data_read(const uint8_t *data, size_t size, attend_data_format fmt, int strict,
                           size_t max_line) {
    /* fmemopen needs a writable pointer even for "r"; it does not write. */
    static char empty[1];
    FILE *f = fmemopen(size ? (void *)data : empty, size ? size : 1, "r");
    FUZZ_CHECK(f != NULL, "fmemopen failed");
    if (!size) (void)fgetc(f); /* an empty stream: consume the one placeholder byte */
    attend_dataset ds;
    attend_data_options opt;
    memset(&opt, 0, sizeof opt);
    opt.format = fmt;
    opt.strict = strict;
    opt.max_line_bytes = max_line;
    size_t nwarn = 0;
    opt.on_warning = fuzz_data_on_warning;
    opt.warning_ctx = &nwarn;
    attend_error err;
    memset(&err, 0, sizeof err);
    attend_status st = attend_dataset_read_stream(&ds, f, "fuzz.data", &opt, &err);
    fclose(f);
    if (st != ATTEND_OK) {
        fuzz_check_error(st, &err, "attend_dataset_read_stream");
        FUZZ_CHECK(ds.count == 0 && ds.records == NULL, "failed but kept %zu records", ds.count);
        attend_dataset_free(&ds);
        return;
    }
    /* The empty-input placeholder byte was consumed above, never hashed. */
    FUZZ_CHECK(ds.nbytes == size, "nbytes %llu for %zu bytes", (unsigned long long)ds.nbytes, size);
    FUZZ_CHECK(ds.hash == attend_fnv1a64(data, size, ATTEND_FNV64_OFFSET), "hash differs");
    FUZZ_CHECK(ds.format == fmt, "format %d, asked %d", (int)ds.format, (int)fmt);
    FUZZ_CHECK(ds.n_warnings_kept <= ATTEND_DATA_WARNINGS_KEPT, "%zu warnings kept",
               ds.n_warnings_kept);
    FUZZ_CHECK(ds.n_warnings_kept <= nwarn, "%zu kept, %zu reported", ds.n_warnings_kept, nwarn);
    if (strict && fmt != ATTEND_FORMAT_TEXT)
        FUZZ_CHECK(ds.n_malformed == 0, "strict read skipped %zu records", ds.n_malformed);
    size_t prev_line = 0;
    for (size_t i = 0; i < ds.count; i++) {
        const attend_record *r = &ds.records[i];
        FUZZ_CHECK(r->text != NULL, "record %zu has no text", i);
        size_t tl = strlen(r->text);
        FUZZ_CHECK(fuzz_utf8_ok((const unsigned char *)r->text, tl), "record %zu text not UTF-8",
                   i);
        FUZZ_CHECK(r->line >= 1 && r->line >= prev_line, "record %zu line %zu after %zu", i,
                   r->line, prev_line);
        prev_line = r->line;
        if (fmt == ATTEND_FORMAT_TEXT) {
            FUZZ_CHECK(r->label == NULL, "TEXT record with a label");
            FUZZ_CHECK(r->line == i + 1, "TEXT record %zu on line %zu", i, r->line);
            FUZZ_CHECK(tl <= (max_line ? max_line : ATTEND_DATA_MAX_LINE), "line not cut");
            continue;
        }
        FUZZ_CHECK(tl > 0, "record %zu has an empty text", i);
        FUZZ_CHECK(r->label && r->label[0], "record %zu has no label", i);
        size_t ll = strlen(r->label);
        FUZZ_CHECK(fuzz_utf8_ok((const unsigned char *)r->label, ll), "label not UTF-8");
        FUZZ_CHECK(!fuzz_data_is_space(r->label[0]) && !fuzz_data_is_space(r->label[ll - 1]),
                   "label '%s' not trimmed", r->label);
    }
    if (fmt == ATTEND_FORMAT_TEXT) {
        /* A UTF-8 BOM at the start is not content: a file of just a BOM
         * is empty (fuzz/regress/tsv/bom_only). */
        size_t lines = 0, skip = size >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0 ? 3 : 0;
        for (size_t i = skip; i < size; i++) lines += data[i] == '\n';
        if (size > skip && data[size - 1] != '\n') lines++;
        FUZZ_CHECK(ds.count == lines, "TEXT: %zu records for %zu lines", ds.count, lines);
    } else {
        FUZZ_CHECK(ds.count > 0, "labelled data accepted with no record");
        fuzz_data_check_labels(&ds);
    }
    attend_dataset_free(&ds);
}

static FUZZ_UNUSED void fuzz_dataset(const uint8_t *data, size_t size, attend_data_format fmt) {
    fuzz_setup();
    fuzz_data_read(data, size, fmt, 0, 0);
    fuzz_data_read(data, size, fmt, 1, 64);
}

#endif
