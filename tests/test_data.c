/* Dataset readers (TSV, CSV, fastText, JSONL, text), malformed-record
 * handling, hashing, the label table and the stratified split. */
#include "formats/data.h"
#include "text/vocab.h"
#include "base/utf8.h"
#include "base/util.h"
#include "test.h"

#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>

static char tmp_dir[512];

static void setup_tmp(void) {
    const char *d = getenv("ATTEND_TMP");
    if (!d || !*d) d = "/tmp";
    snprintf(tmp_dir, sizeof tmp_dir, "%s", d);
    if (mkdir(tmp_dir, 0777) != 0 && errno != EEXIST)
        fprintf(stderr, "cannot create %s: %s\n", tmp_dir, strerror(errno));
}

/* Writes len bytes to tmp_dir/name; returns the path (static buffer per call site). */
static const char *write_file(char *path, size_t pathsize, const char *name, const char *data,
                              size_t len) {
    snprintf(path, pathsize, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        return path;
    }
    fwrite(data, 1, len, f);
    fclose(f);
    return path;
}
#define WRITE(path, name, lit) write_file(path, sizeof path, name, lit, sizeof(lit) - 1)

static int rec_is(const attend_dataset *ds, size_t i, const char *label, const char *text,
                  size_t line) {
    if (i >= ds->count) return 0;
    const attend_record *r = &ds->records[i];
    int ok = ((!label && !r->label) || (label && r->label && strcmp(label, r->label) == 0)) &&
             strcmp(text, r->text) == 0 && r->line == line;
    if (!ok)
        fprintf(stderr, "  record %zu: label \"%s\" text \"%s\" line %zu; expected \"%s\" \"%s\" %zu\n",
                i, r->label ? r->label : "(null)", r->text, r->line, label ? label : "(null)",
                text, line);
    return ok;
}

/* Is there a kept warning that contains both parts? */
static int has_warning(const attend_dataset *ds, const char *a, const char *b) {
    for (size_t i = 0; i < ds->n_warnings_kept; i++)
        if (strstr(ds->warnings[i], a) && (!b || strstr(ds->warnings[i], b))) return 1;
    return 0;
}

static void dump_warnings(const attend_dataset *ds) {
    for (size_t i = 0; i < ds->n_warnings_kept; i++) fprintf(stderr, "  warning: %s\n", ds->warnings[i]);
}

static void test_formats_by_name(void) {
    attend_data_format f = ATTEND_FORMAT_AUTO;
    attend_error err = {0};
    CHECK(attend_data_format_from_path("a/b/train.tsv", &f, &err) == ATTEND_OK &&
              f == ATTEND_FORMAT_TSV, "tsv");
    CHECK(attend_data_format_from_path("X.CSV", &f, &err) == ATTEND_OK && f == ATTEND_FORMAT_CSV,
          "CSV upper case");
    CHECK(attend_data_format_from_path("d.txt", &f, &err) == ATTEND_OK &&
              f == ATTEND_FORMAT_FASTTEXT, "txt");
    CHECK(attend_data_format_from_path("d.ft", &f, &err) == ATTEND_OK &&
              f == ATTEND_FORMAT_FASTTEXT, "ft");
    CHECK(attend_data_format_from_path("d.jsonl", &f, &err) == ATTEND_OK &&
              f == ATTEND_FORMAT_JSONL, "jsonl");
    CHECK(attend_data_format_from_path("dir.tsv/data", &f, &err) == ATTEND_ERR_ARG,
          "no extension accepted");
    CHECK(attend_data_format_from_path(".tsv", &f, &err) == ATTEND_ERR_ARG, "dot file accepted");
    CHECK(attend_data_format_from_path("d.parquet", &f, &err) == ATTEND_ERR_ARG &&
              strstr(err.msg, "--format"), "unknown extension: %s", err.msg);
    CHECK(attend_data_format_parse("FastText", &f, &err) == ATTEND_OK &&
              f == ATTEND_FORMAT_FASTTEXT, "parse fasttext");
    CHECK(attend_data_format_parse("text", &f, &err) == ATTEND_OK && f == ATTEND_FORMAT_TEXT,
          "parse text");
    CHECK(attend_data_format_parse("xml", &f, &err) == ATTEND_ERR_ARG, "parse xml");
    CHECK(strcmp(attend_data_format_name(ATTEND_FORMAT_JSONL), "jsonl") == 0, "name");
}

static int n_callbacks = 0;
static void on_warning(void *ctx, const char *msg) {
    (void)msg;
    (*(int *)ctx)++;
}

static void test_tsv(void) {
    char path[600];
    attend_dataset ds;
    attend_error err = {0};
    attend_data_options opt = {0};
    opt.max_line_bytes = 64;
    opt.on_warning = on_warning;
    opt.warning_ctx = &n_callbacks;
    /* BOM, CRLF, blank lines, extra tabs in the text, malformed lines. */
    WRITE(path, "a.tsv",
          "\xef\xbb\xbfpos\tgreat film\r\n"          /* 1 */
          "neg\t  awful \t really  \r\n"             /* 2 */
          "\r\n"                                      /* 3 blank */
          "no tab here\n"                             /* 4 malformed */
          "\tno label\n"                              /* 5 malformed */
          "pos\t   \n"                                /* 6 malformed */
          "neg\tbad \xff byte\n"                      /* 7 malformed */
          "pos\tnul \0 byte\n"                        /* 8 malformed */
          "pos\tthis line is far too long for the cap of sixty-four bytes set here\n" /* 9 */
          "  \t \n"                                   /* 10 blank */
          " neu \t fine\n"                            /* 11 */
          "pos\tno newline at the end");              /* 12 */
    attend_status st = attend_dataset_read(&ds, path, &opt, &err);
    CHECK(st == ATTEND_OK, "tsv read: %s", err.msg);
    CHECK(ds.format == ATTEND_FORMAT_TSV, "format %d", (int)ds.format);
    CHECK(ds.count == 4, "tsv records %zu", ds.count);
    CHECK(rec_is(&ds, 0, "pos", "great film", 1), "record 0");
    CHECK(rec_is(&ds, 1, "neg", "awful \t really", 2), "record 1");
    CHECK(rec_is(&ds, 2, "neu", "fine", 11), "record 2");
    CHECK(rec_is(&ds, 3, "pos", "no newline at the end", 12), "record 3");
    CHECK(ds.n_malformed == 6, "malformed %zu", ds.n_malformed);
    CHECK(n_callbacks == 6, "callbacks %d", n_callbacks);
    CHECK(has_warning(&ds, "a.tsv:4: ", "no TAB"), "line 4 warning");
    CHECK(has_warning(&ds, "a.tsv:5: ", "empty label"), "line 5 warning");
    CHECK(has_warning(&ds, "a.tsv:6: ", "empty text"), "line 6 warning");
    CHECK(has_warning(&ds, "a.tsv:7: ", "invalid UTF-8"), "line 7 warning");
    CHECK(has_warning(&ds, "a.tsv:8: ", "NUL"), "line 8 warning");
    CHECK(has_warning(&ds, "a.tsv:9: ", "longer than 64 bytes"), "line 9 warning");
    if (ds.n_malformed != 6) dump_warnings(&ds);
    /* The hash covers every byte of the file, and equals the standalone one. */
    uint64_t h = 0;
    char hex[17];
    CHECK(attend_file_hash(path, &h, hex, &err) == ATTEND_OK, "file hash: %s", err.msg);
    CHECK(h == ds.hash && strcmp(hex, ds.hash_hex) == 0 && strlen(hex) == 16,
          "hash %s vs %s", hex, ds.hash_hex);
    attend_dataset_free(&ds);

    /* Strict: the first malformed line is fatal and named. */
    opt.strict = 1;
    opt.on_warning = NULL;
    st = attend_dataset_read(&ds, path, &opt, &err);
    CHECK(st == ATTEND_ERR_FORMAT && strstr(err.msg, "a.tsv:4: no TAB"), "strict: %d %s",
          (int)st, err.msg);
    CHECK(ds.count == 0 && ds.records == NULL, "dataset left empty after an error");
    attend_dataset_free(&ds);

    /* More malformed lines than kept warnings: all counted, 20 kept. */
    char big[4096];
    size_t len = 0;
    for (int i = 0; i < 30; i++) len += (size_t)snprintf(big + len, sizeof big - len, "bad line %d\n", i);
    len += (size_t)snprintf(big + len, sizeof big - len, "ok\tthe only good line\n");
    write_file(path, sizeof path, "many.tsv", big, len);
    opt.strict = 0;
    st = attend_dataset_read(&ds, path, &opt, &err);
    CHECK(st == ATTEND_OK && ds.count == 1 && ds.records[0].line == 31, "many: %s", err.msg);
    CHECK(ds.n_malformed == 30 && ds.n_warnings_kept == ATTEND_DATA_WARNINGS_KEPT,
          "many: %zu malformed, %zu kept", ds.n_malformed, ds.n_warnings_kept);
    CHECK(strstr(ds.warnings[19], "many.tsv:20:") != NULL, "20th kept: %s", ds.warnings[19]);
    attend_dataset_free(&ds);
}

static void test_empty_datasets(void) {
    char path[600];
    attend_dataset ds;
    attend_error err = {0};
    WRITE(path, "empty.tsv", "");
    attend_status st = attend_dataset_read(&ds, path, NULL, &err);
    CHECK(st == ATTEND_ERR_FORMAT && strstr(err.msg, "empty.tsv") && strstr(err.msg, "no records"),
          "empty file: %s", err.msg);
    attend_dataset_free(&ds);
    WRITE(path, "blank.tsv", "\xef\xbb\xbf\n\r\n  \n");
    st = attend_dataset_read(&ds, path, NULL, &err);
    CHECK(st == ATTEND_ERR_FORMAT && strstr(err.msg, "no records"), "blank file: %s", err.msg);
    attend_dataset_free(&ds);
    WRITE(path, "allbad.tsv", "x\ny\n");
    st = attend_dataset_read(&ds, path, NULL, &err);
    CHECK(st == ATTEND_ERR_FORMAT && strstr(err.msg, "no valid records") &&
              strstr(err.msg, "2 malformed") && strstr(err.msg, "allbad.tsv:1:"),
          "all malformed: %s", err.msg);
    attend_dataset_free(&ds);
    st = attend_dataset_read(&ds, "/nonexistent/dir/x.tsv", NULL, &err);
    CHECK(st == ATTEND_ERR_IO && strstr(err.msg, "/nonexistent/dir/x.tsv"), "missing file: %s",
          err.msg);
    attend_dataset_free(&ds);
    WRITE(path, "data.unknown", "a\tb\n");
    st = attend_dataset_read(&ds, path, NULL, &err);
    CHECK(st == ATTEND_ERR_ARG && strstr(err.msg, "--format"), "unknown extension: %s", err.msg);
    attend_data_options opt = {0};
    opt.format = ATTEND_FORMAT_TSV;
    st = attend_dataset_read(&ds, path, &opt, &err);
    CHECK(st == ATTEND_OK && ds.count == 1, "format override: %s", err.msg);
    attend_dataset_free(&ds);
}

static void test_csv(void) {
    char path[600];
    attend_dataset ds;
    attend_error err = {0};
    attend_data_options opt = {0};
    opt.text_col = "eng";
    opt.label_col = "Subject";
    WRITE(path, "seed.csv",
          "\xef\xbb\xbf" "id,eng,Subject\r\n"                       /* 1 header */
          "1,\"Force equals mass, times acceleration\",Physics\r\n" /* 2 */
          "2,\"He said \"\"hi\"\"\",Biology\r\n"                    /* 3 */
          "3,\"line one\r\nline two\nline three\",Maths\r\n"        /* 4-6 */
          "\r\n"                                                    /* 7 blank */
          "4,plain text,Chemistry,extra\n"                          /* 8 */
          "5,only two\n"                                            /* 9 too few */
          "6,\"x\"y,Physics\n"                                      /* 10 stray */
          "7,,Physics\n"                                            /* 11 empty text */
          "8,\"ok\",\"\"\n"                                         /* 12 empty label */
          "9,\"bad \xc3\x28\",Maths\n"                              /* 13 bad UTF-8 */
          "10,\"\",\"\"\n"                                          /* 14 empty text */
          "11,last one,Maths"                                       /* 15, no newline */
    );
    attend_status st = attend_dataset_read(&ds, path, &opt, &err);
    CHECK(st == ATTEND_OK, "csv: %s", err.msg);
    CHECK(ds.count == 5, "csv records %zu", ds.count);
    CHECK(rec_is(&ds, 0, "Physics", "Force equals mass, times acceleration", 2), "csv 0");
    CHECK(rec_is(&ds, 1, "Biology", "He said \"hi\"", 3), "csv 1");
    CHECK(rec_is(&ds, 2, "Maths", "line one\r\nline two\nline three", 4), "csv 2");
    CHECK(rec_is(&ds, 3, "Chemistry", "plain text", 8), "csv 3");
    CHECK(rec_is(&ds, 4, "Maths", "last one", 15), "csv 4");
    CHECK(ds.n_malformed == 6, "csv malformed %zu", ds.n_malformed);
    CHECK(has_warning(&ds, "seed.csv:9: ", "\"Subject\""), "too few fields");
    CHECK(has_warning(&ds, "seed.csv:10: ", "closing quote"), "stray quote");
    CHECK(has_warning(&ds, "seed.csv:11: ", "empty text"), "empty text");
    CHECK(has_warning(&ds, "seed.csv:12: ", "empty label"), "empty label");
    CHECK(has_warning(&ds, "seed.csv:13: ", "invalid UTF-8"), "bad UTF-8");
    CHECK(has_warning(&ds, "seed.csv:14: ", "empty label"), "empty quoted fields");
    if (ds.n_malformed != 6) dump_warnings(&ds);
    attend_dataset_free(&ds);

    /* Default column names, and an unterminated quote running to the end. */
    WRITE(path, "def.csv",
          "label,text\n"
          "a,\"first\"\n"
          "b,second\n"
          "c,\"never closed\nmore\nand more\n");
    st = attend_dataset_read(&ds, path, NULL, &err);
    CHECK(st == ATTEND_OK && ds.count == 2, "default columns: %s (%zu)", err.msg, ds.count);
    CHECK(rec_is(&ds, 0, "a", "first", 2) && rec_is(&ds, 1, "b", "second", 3), "default records");
    CHECK(ds.n_malformed == 1 && has_warning(&ds, "def.csv:4: ", "unterminated"),
          "unterminated quote");
    attend_dataset_free(&ds);

    /* Missing column: fatal, names the columns and the flags. */
    st = attend_dataset_read(&ds, path, &opt, &err);
    CHECK(st == ATTEND_ERR_FORMAT && strstr(err.msg, "def.csv:1:") && strstr(err.msg, "\"eng\"") &&
              strstr(err.msg, "\"label\"") && strstr(err.msg, "--text-col"),
          "missing column: %s", err.msg);
    attend_dataset_free(&ds);

    /* Duplicate selected column, header-only file, empty file. */
    WRITE(path, "dup.csv", "text,label,text\nx,y,z\n");
    st = attend_dataset_read(&ds, path, NULL, &err);
    CHECK(st == ATTEND_ERR_FORMAT && strstr(err.msg, "twice"), "duplicate column: %s", err.msg);
    attend_dataset_free(&ds);
    WRITE(path, "hdr.csv", "text,label\r\n");
    st = attend_dataset_read(&ds, path, NULL, &err);
    CHECK(st == ATTEND_ERR_FORMAT && strstr(err.msg, "no records"), "header only: %s", err.msg);
    attend_dataset_free(&ds);
    WRITE(path, "nothing.csv", "");
    st = attend_dataset_read(&ds, path, NULL, &err);
    CHECK(st == ATTEND_ERR_FORMAT && strstr(err.msg, "header"), "empty csv: %s", err.msg);
    attend_dataset_free(&ds);

    /* A record over the cap is skipped without storing it; the next is fine. */
    opt = (attend_data_options){0};
    opt.max_line_bytes = 32;
    WRITE(path, "cap.csv",
          "text,label\n"
          "\"a quoted field that goes on,\nand on, well past the thirty-two byte cap\",x\n"
          ",,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,,\n"
          "short,y\n");
    st = attend_dataset_read(&ds, path, &opt, &err);
    CHECK(st == ATTEND_OK && ds.count == 1 && rec_is(&ds, 0, "y", "short", 5), "cap: %s", err.msg);
    CHECK(ds.n_malformed == 2 && has_warning(&ds, "cap.csv:2: ", "longer than 32") &&
              has_warning(&ds, "cap.csv:4: ", "longer than 32"),
          "cap warnings %zu", ds.n_malformed);
    attend_dataset_free(&ds);

    /* Strict CSV. */
    opt.strict = 1;
    st = attend_dataset_read(&ds, path, &opt, &err);
    CHECK(st == ATTEND_ERR_FORMAT && strstr(err.msg, "cap.csv:2:"), "strict csv: %s", err.msg);
    attend_dataset_free(&ds);
}

static void test_fasttext(void) {
    char path[600];
    attend_dataset ds;
    attend_error err = {0};
    WRITE(path, "d.txt",
          "__label__pos I loved it\n"                     /* 1 */
          "__label__neg __label__angry   hated it  \n"    /* 2 */
          "  __label__neu\tmeh\r\n"                       /* 3 */
          "no label here\n"                               /* 4 */
          "__label__ empty label name\n"                  /* 5 */
          "__label__pos\n"                                /* 6 empty text */
          "__label__pos __label__x\n"                     /* 7 only labels */
          "\n"
          "__label__4 text with __label__inside kept\n"); /* 9 */
    attend_status st = attend_dataset_read(&ds, path, NULL, &err);
    CHECK(st == ATTEND_OK && ds.format == ATTEND_FORMAT_FASTTEXT, "fasttext: %s", err.msg);
    CHECK(ds.count == 4, "fasttext records %zu", ds.count);
    CHECK(rec_is(&ds, 0, "pos", "I loved it", 1), "ft 0");
    CHECK(rec_is(&ds, 1, "neg", "hated it", 2), "ft 1");
    CHECK(rec_is(&ds, 2, "neu", "meh", 3), "ft 2");
    CHECK(rec_is(&ds, 3, "4", "text with __label__inside kept", 9), "ft 3");
    CHECK(ds.n_malformed == 4 && has_warning(&ds, "d.txt:4: ", "no label") &&
              has_warning(&ds, "d.txt:5: ", "empty label") &&
              has_warning(&ds, "d.txt:6: ", "empty text") &&
              has_warning(&ds, "d.txt:7: ", "empty text"),
          "fasttext warnings %zu", ds.n_malformed);
    if (ds.n_malformed != 4) dump_warnings(&ds);
    attend_dataset_free(&ds);
}

static void test_jsonl(void) {
    char path[600];
    attend_dataset ds;
    attend_error err = {0};
    WRITE(path, "d.jsonl",
          "{\"text\": \"caf\\u00e9 time\", \"label\": \"food\"}\n"  /* 1 */
          "{\"label\": 3, \"text\": \"integer label\", \"x\": [1]}\r\n" /* 2 */
          "{\"text\": \"negative\", \"label\": -12}\n"            /* 3 */
          "{\"text\": \"float\", \"label\": 1.5}\n"               /* 4 bad */
          "{\"text\": \"bool\", \"label\": true}\n"               /* 5 bad */
          "{\"text\": \"no label\"}\n"                            /* 6 bad */
          "{\"label\": \"x\"}\n"                                  /* 7 bad */
          "{\"text\": 5, \"label\": \"x\"}\n"                     /* 8 bad */
          "{\"text\": \"trailing\", \"label\": \"x\"} junk\n"     /* 9 bad */
          "[\"text\", \"label\"]\n"                               /* 10 bad */
          "{\"text\": \"unclosed\n"                               /* 11 bad */
          "\n"                                                    /* 12 blank */
          "{\"text\": \"lone \\ud800 surrogate\", \"label\": \"x\"}\n" /* 13 bad */
          "{\"text\": \"  \", \"label\": \"x\"}\n"                /* 14 bad */
          "{\"text\": \"big\", \"label\": 1e300}\n"               /* 15 bad */
          "{\"text\": \"zero\", \"label\": 0}");                  /* 16 */
    attend_status st = attend_dataset_read(&ds, path, NULL, &err);
    CHECK(st == ATTEND_OK && ds.format == ATTEND_FORMAT_JSONL, "jsonl: %s", err.msg);
    CHECK(ds.count == 4, "jsonl records %zu", ds.count);
    CHECK(rec_is(&ds, 0, "food", "caf\xc3\xa9 time", 1), "jsonl 0");
    CHECK(rec_is(&ds, 1, "3", "integer label", 2), "jsonl 1 (integer label)");
    CHECK(rec_is(&ds, 2, "-12", "negative", 3), "jsonl 2");
    CHECK(rec_is(&ds, 3, "0", "zero", 16), "jsonl 3");
    CHECK(ds.n_malformed == 11, "jsonl malformed %zu", ds.n_malformed);
    CHECK(has_warning(&ds, "d.jsonl:4: ", "not a string or an integer"), "float label");
    CHECK(has_warning(&ds, "d.jsonl:5: ", "not a string or an integer"), "bool label");
    CHECK(has_warning(&ds, "d.jsonl:6: ", "no \"label\" key"), "missing label");
    CHECK(has_warning(&ds, "d.jsonl:7: ", "no \"text\" key"), "missing text");
    CHECK(has_warning(&ds, "d.jsonl:8: ", "not a string"), "text not a string");
    CHECK(has_warning(&ds, "d.jsonl:9: ", "invalid JSON"), "trailing junk");
    CHECK(has_warning(&ds, "d.jsonl:10: ", "not a JSON object"), "array line");
    CHECK(has_warning(&ds, "d.jsonl:11: ", "invalid JSON"), "unclosed");
    CHECK(has_warning(&ds, "d.jsonl:13: ", NULL), "lone surrogate");
    CHECK(has_warning(&ds, "d.jsonl:14: ", "empty text"), "blank text");
    CHECK(has_warning(&ds, "d.jsonl:15: ", "integer"), "huge number");
    if (ds.n_malformed != 11) dump_warnings(&ds);
    attend_dataset_free(&ds);

    /* Custom keys. */
    attend_data_options opt = {0};
    opt.text_col = "sentence";
    opt.label_col = "y";
    WRITE(path, "k.jsonl", "{\"sentence\": \"hello\", \"y\": \"greet\"}\n");
    st = attend_dataset_read(&ds, path, &opt, &err);
    CHECK(st == ATTEND_OK && rec_is(&ds, 0, "greet", "hello", 1), "custom keys: %s", err.msg);
    attend_dataset_free(&ds);
}

static void test_text_and_reader(void) {
    char path[600];
    attend_dataset ds;
    attend_error err = {0};
    attend_data_options opt = {0};
    opt.format = ATTEND_FORMAT_TEXT;
    opt.max_line_bytes = 16;
    WRITE(path, "in.txt",
          "\xef\xbb\xbf" "first line\r\n"
          "\n"
          "bad \xff here\n"
          "this line is longer than sixteen\n"
          "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\n" /* 18 bytes */
          "last");
    attend_status st = attend_dataset_read(&ds, path, &opt, &err);
    CHECK(st == ATTEND_OK && ds.count == 6, "text: %s (%zu)", err.msg, ds.count);
    CHECK(rec_is(&ds, 0, NULL, "first line", 1), "text 0");
    CHECK(rec_is(&ds, 1, NULL, "", 2), "empty line kept");
    CHECK(rec_is(&ds, 2, NULL, "", 3), "invalid line read as empty");
    CHECK(rec_is(&ds, 3, NULL, "this line is lon", 4), "long line cut");
    CHECK(rec_is(&ds, 4, NULL, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9", 5),
          "cut at a character boundary");
    CHECK(rec_is(&ds, 5, NULL, "last", 6), "text 5");
    CHECK(ds.n_malformed == 3, "text warnings %zu", ds.n_malformed);
    attend_labels lt;
    CHECK(attend_labels_from_dataset(&lt, &ds, &err) == ATTEND_ERR_FORMAT, "labels of text data");
    attend_dataset_free(&ds);
    WRITE(path, "none.txt", "");
    st = attend_dataset_read(&ds, path, &opt, &err);
    CHECK(st == ATTEND_OK && ds.count == 0, "empty text input is not an error: %s", err.msg);
    attend_dataset_free(&ds);

    /* The line reader on a huge line keeps memory bounded and returns a prefix. */
    size_t big = 3u << 20;
    char *data = malloc(big + 32);
    memset(data, 'x', big);
    memcpy(data + big, "\nafter\n", 7);
    write_file(path, sizeof path, "huge.txt", data, big + 7);
    free(data);
    FILE *f = fopen(path, "rb");
    attend_line_reader rd;
    CHECK(attend_line_reader_init(&rd, f, "huge.txt", 1024, &err) == ATTEND_OK, "reader init");
    const char *line;
    size_t len;
    int over;
    st = attend_line_reader_next(&rd, &line, &len, &over, &err);
    CHECK(st == ATTEND_OK && line && len == 1024 && over == 1 && rd.cap <= 1025,
          "huge line: len %zu over %d cap %zu", len, over, rd.cap);
    st = attend_line_reader_next(&rd, &line, &len, &over, &err);
    CHECK(st == ATTEND_OK && line && strcmp(line, "after") == 0 && over == 0 && rd.line_no == 2,
          "line after the huge one");
    st = attend_line_reader_next(&rd, &line, &len, &over, &err);
    CHECK(st == ATTEND_OK && line == NULL, "end");
    CHECK(rd.nbytes == big + 7, "bytes read %llu", (unsigned long long)rd.nbytes);
    attend_line_reader_free(&rd);
    fclose(f);

    /* FNV-1a 64 reference values. */
    WRITE(path, "a.bin", "a");
    uint64_t h;
    char hex[17];
    CHECK(attend_file_hash(path, &h, hex, &err) == ATTEND_OK && h == 0xaf63dc4c8601ec8cull &&
              strcmp(hex, "af63dc4c8601ec8c") == 0, "fnv1a64(\"a\") = %s", hex);
    WRITE(path, "e.bin", "");
    CHECK(attend_file_hash(path, &h, hex, &err) == ATTEND_OK && h == 0xcbf29ce484222325ull,
          "fnv1a64(\"\")");
    CHECK(attend_fnv1a64("foobar", 6, ATTEND_FNV64_OFFSET) == 0x85944171f73967e8ull,
          "fnv1a64(foobar)");
}

static void test_labels(void) {
    char path[600];
    attend_dataset ds;
    attend_error err = {0};
    WRITE(path, "l.tsv", "b\tx\na\ty\nc\tz\na\tw\nB\tv\n");
    CHECK(attend_dataset_read(&ds, path, NULL, &err) == ATTEND_OK, "read: %s", err.msg);
    attend_labels lt;
    CHECK(attend_labels_from_dataset(&lt, &ds, &err) == ATTEND_OK, "labels: %s", err.msg);
    CHECK(lt.count == 4 && strcmp(lt.names[0], "B") == 0 && strcmp(lt.names[1], "a") == 0 &&
              strcmp(lt.names[2], "b") == 0 && strcmp(lt.names[3], "c") == 0,
          "sorted labels");
    CHECK(attend_labels_find(&lt, "c") == 3 && attend_labels_find(&lt, "d") == -1, "find");
    int32_t ids[5];
    CHECK(attend_labels_map(&lt, &ds, ids, &err) == ATTEND_OK, "map: %s", err.msg);
    CHECK(ids[0] == 2 && ids[1] == 1 && ids[2] == 3 && ids[3] == 1 && ids[4] == 0, "ids");

    char *json = NULL;
    CHECK(attend_labels_to_json(&lt, &json, &err) == ATTEND_OK &&
              strcmp(json, "[\"B\",\"a\",\"b\",\"c\"]") == 0, "labels json %s", json);
    attend_labels lt2;
    CHECK(attend_labels_from_json(&lt2, json, &err) == ATTEND_OK && lt2.count == 4 &&
              strcmp(lt2.names[3], "c") == 0, "labels from json: %s", err.msg);
    free(json);

    /* Unknown label in eval data. */
    attend_dataset ev;
    WRITE(path, "ev.tsv", "a\tfine\nzzz\tunknown\n");
    CHECK(attend_dataset_read(&ev, path, NULL, &err) == ATTEND_OK, "read ev");
    int32_t ids2[2];
    attend_status st = attend_labels_map(&lt2, &ev, ids2, &err);
    CHECK(st == ATTEND_ERR_FORMAT && strstr(err.msg, "ev.tsv:2:") && strstr(err.msg, "\"zzz\"") &&
              strstr(err.msg, "B, a, b, c"), "unknown label: %s", err.msg);
    attend_dataset_free(&ev);
    attend_labels_free(&lt2);

    const char *bad[] = {"", "{}", "[]", "[\"a\",\"a\"]", "[\"b\",\"a\"]", "[\"a\",1]", "[\"\"]",
                         "[\"a\"] x", "[\"\\ud800\"]"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        st = attend_labels_from_json(&lt2, bad[i], &err);
        CHECK(st == ATTEND_ERR_FORMAT && lt2.count == 0, "bad labels %zu accepted: %s", i, bad[i]);
        attend_labels_free(&lt2);
    }
    attend_labels_free(&lt);
    attend_dataset_free(&ds);
}

static void test_split(void) {
    /* 4 classes: 100, 10, 2 and 1 examples, interleaved. */
    enum { N = 113, K = 4 };
    int32_t y[N];
    size_t i = 0;
    for (int k = 0; k < 100; k++) y[i++] = 0;
    for (int k = 0; k < 10; k++) y[i++] = 1;
    y[i++] = 2;
    y[i++] = 2;
    y[i++] = 3;
    /* shuffle the order deterministically */
    for (size_t a = N - 1; a > 0; a--) {
        size_t b = (a * 7919u + 13u) % (a + 1);
        int32_t t = y[a];
        y[a] = y[b];
        y[b] = t;
    }
    uint8_t v1[N], v2[N], v3[N];
    size_t nv1, nv2, nv3;
    attend_error err = {0};
    CHECK(attend_split_stratified(y, N, K, 0.2, 42, v1, &nv1, &err) == ATTEND_OK, "%s", err.msg);
    CHECK(attend_split_stratified(y, N, K, 0.2, 42, v2, &nv2, &err) == ATTEND_OK, "%s", err.msg);
    CHECK(attend_split_stratified(y, N, K, 0.2, 43, v3, &nv3, &err) == ATTEND_OK, "%s", err.msg);
    CHECK(nv1 == nv2 && memcmp(v1, v2, N) == 0, "same seed, different split");
    CHECK(memcmp(v1, v3, N) != 0, "different seeds, same split");
    /* per class: 100 -> 20, 10 -> 2, 2 -> 1, 1 -> 0 */
    size_t val[K] = {0}, train[K] = {0};
    for (size_t j = 0; j < N; j++) (v1[j] ? val : train)[y[j]]++;
    CHECK(val[0] == 20 && val[1] == 2 && val[2] == 1 && val[3] == 0,
          "val per class %zu %zu %zu %zu", val[0], val[1], val[2], val[3]);
    for (int k = 0; k < K; k++) CHECK(train[k] >= 1, "class %d missing from train", k);
    CHECK(nv1 == 23, "n_val %zu", nv1);
    /* Every class present in train for any seed and a large fraction. */
    int ok = 1;
    for (uint64_t seed = 0; seed < 50; seed++) {
        size_t nv;
        attend_split_stratified(y, N, K, 0.9, seed, v3, &nv, &err);
        size_t tr[K] = {0}, va[K] = {0};
        for (size_t j = 0; j < N; j++) (v3[j] ? va : tr)[y[j]]++;
        for (int k = 0; k < K; k++)
            if (tr[k] == 0) ok = 0;
        if (va[0] != 90 || va[1] != 9 || va[2] != 1) ok = 0;
    }
    CHECK(ok, "frac 0.9 over 50 seeds");
    /* Tiny fraction still gives one per class with >= 2 examples. */
    CHECK(attend_split_stratified(y, N, K, 0.001, 1, v3, &nv3, &err) == ATTEND_OK && nv3 == 3,
          "frac 0.001 n_val %zu", nv3);
    CHECK(attend_split_stratified(y, N, K, 0.0, 1, v3, &nv3, &err) == ATTEND_OK && nv3 == 0,
          "frac 0");
    CHECK(attend_split_stratified(y, N, K, 1.0, 1, v3, &nv3, &err) == ATTEND_ERR_ARG, "frac 1");
    CHECK(attend_split_stratified(y, N, K, -0.1, 1, v3, &nv3, &err) == ATTEND_ERR_ARG, "frac < 0");
    CHECK(attend_split_stratified(y, N, K, (double)NAN, 1, v3, &nv3, &err) == ATTEND_ERR_ARG,
          "frac NaN");
    CHECK(attend_split_stratified(y, N, 3, 0.2, 1, v3, &nv3, &err) == ATTEND_ERR_ARG,
          "label out of range");
    /* A known split stays the same across releases (guards the RNG). */
    size_t first = N;
    for (size_t j = 0; j < N; j++)
        if (v1[j]) {
            first = j;
            break;
        }
    CHECK(first == 5, "seed 42: first validation index %zu (was 5: the split changed)", first);
}

/* Random files built from format-significant pieces never crash a reader;
 * every record kept has a non-empty label and text of valid UTF-8, and line
 * numbers that rise and stay within the file. */
static void test_fuzz(void) {
    static const char *const pieces[] = {
        "a", "b c", ",", "\"", "\"\"", "\n", "\r\n", "\r", "\t", " ", "__label__", "x",
        "{\"text\": \"t\", \"label\": 1}", "{", "}", ":", "\"text\"", "\"label\"", "\\",
        "\xc3\xa9", "\xff", "\xc3", "\xef\xbb\xbf", "text,label\n", "\\u00e9", "\0"};
    const size_t npieces = sizeof pieces / sizeof pieces[0];
    const attend_data_format fmts[] = {ATTEND_FORMAT_TSV, ATTEND_FORMAT_CSV,
                                       ATTEND_FORMAT_FASTTEXT, ATTEND_FORMAT_JSONL,
                                       ATTEND_FORMAT_TEXT};
    char data[2048], path[600];
    int ok = 1, n_ok = 0;
    for (int iter = 0; iter < 600; iter++) {
        size_t len = 0, newlines = 0;
        size_t parts = 1 + (size_t)(iter % 60);
        for (size_t p = 0; p < parts; p++) {
            test_rng_ = test_rng_ * 6364136223846793005ull + 1442695040888963407ull;
            const char *piece = pieces[(test_rng_ >> 33) % npieces];
            size_t pl = piece[0] ? strlen(piece) : 1; /* "\0" is one NUL byte */
            memcpy(data + len, piece, pl);
            len += pl;
        }
        for (size_t i = 0; i < len; i++) newlines += data[i] == '\n';
        write_file(path, sizeof path, "fuzz.dat", data, len);
        for (size_t k = 0; k < sizeof fmts / sizeof fmts[0]; k++) {
            attend_data_options opt = {0};
            opt.format = fmts[k];
            opt.max_line_bytes = 40;
            attend_dataset ds;
            attend_error err = {0};
            attend_status st = attend_dataset_read(&ds, path, &opt, &err);
            if (st != ATTEND_OK && st != ATTEND_ERR_FORMAT) ok = 0;
            if (st == ATTEND_OK) n_ok++;
            size_t prev = 0;
            for (size_t i = 0; i < ds.count; i++) {
                const attend_record *r = &ds.records[i];
                if (fmts[k] != ATTEND_FORMAT_TEXT &&
                    (!r->label || !r->label[0] || !r->text[0] ||
                     !attend_utf8_valid(r->label, strlen(r->label), NULL)))
                    ok = 0;
                if (!attend_utf8_valid(r->text, strlen(r->text), NULL)) ok = 0;
                if (r->line < 1 || r->line < prev || r->line > newlines + 1) ok = 0;
                prev = r->line;
            }
            if (!ok) {
                fprintf(stderr, "  fuzz failure: format %s, iteration %d\n",
                        attend_data_format_name(fmts[k]), iter);
                attend_dataset_free(&ds);
                CHECK(ok, "fuzzed reader");
                return;
            }
            attend_dataset_free(&ds);
        }
    }
    CHECK(ok, "fuzzed readers");
    CHECK(n_ok > 100, "too few fuzz files read (%d)", n_ok);
}

int main(void) {
    setup_tmp();
    test_formats_by_name();
    test_tsv();
    test_empty_datasets();
    test_csv();
    test_fasttext();
    test_jsonl();
    test_text_and_reader();
    test_labels();
    test_split();
    test_fuzz();
    return test_summary("test_data");
}
