/* The attend command-line program. It is built on the public headers only
 * (attend.h, attend_train.h, attend_viz.h), like any program that uses the
 * library. Only the CLI prints to the terminal and chooses exit codes:
 * 0 ok, 1 runtime failure, 2 usage error. */
#ifndef ATTEND_CLI_H
#define ATTEND_CLI_H

#include "attend.h"
#include "attend_train.h"
#include "attend_viz.h"
#include "flags.h"

#include <stddef.h>
#include <stdio.h>

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Prints "attend: <message>" and a hint to run --help; returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prints "attend: <err->msg>"; returns CLI_FAIL. */
int cli_fail(const attend_error *err);

/* Prints a data warning ("attend: warning: file:line: ...") on stderr,
 * stopping after the first 20. */
void cli_print_warning(void *ctx, const char *msg);

/* Applies --threads (0 = all cores). */
void cli_set_threads(size_t n);

/* Writes s as a JSON string (quoted, escaped) to f. */
void cli_json_string(FILE *f, const char *s);

/* Prints the JSON object o on one line of standard output when ok (0), and
 * deletes it; -1 (nothing printed) when !ok or out of memory. */
struct cJSON;
int cli_print_json(struct cJSON *o, int ok);

/* Prints at most width columns of s (one column per code point), padded
 * with spaces to width. */
void cli_put_cut(const char *s, size_t width);

/* The --text argument: *text is arg itself, or for "-" all of standard
 * input without its final line breaks, malloc'ed in *owned (the caller
 * frees it; NULL otherwise). Returns -1 with a message when standard input
 * cannot be read, else 0. */
int cli_text_arg(const char *arg, char **owned, const char **text);

/* Whether s ends in suffix, ignoring case (".svg" matches "MAP.SVG"). */
int cli_ends_with(const char *s, const char *suffix);

/* The input of a command that reads one text per line: FILE, or standard
 * input for NULL or "-"; *name is what warnings call it. Prints
 * "attend: cannot open FILE for reading" and returns NULL when it cannot be
 * opened. cli_close_input closes it (never standard input). */
FILE *cli_open_input(const char *path, const char **name);
void cli_close_input(FILE *in);

/* The next input line (attend_line_reader_next), warning on stderr when it
 * was longer than the reader keeps. Returns 1 for a line, 0 at the end and
 * -1 on a read error (in err). */
int cli_next_line(attend_line_reader *lr, const char *name, const char **line, size_t *len,
                  attend_error *err);

/* Option setters shared by several commands (CLI_FUNC). */
int cli_set_format(void *dest, const char *v, char *why, size_t cap);     /* attend_data_format* */
int cli_set_precision(void *dest, const char *v, char *why, size_t cap);  /* applied at once */
int cli_set_hidden(void *dest, const char *v, char *why, size_t cap);     /* attend_model_config* */
int cli_set_class_weights(void *dest, const char *v, char *why, size_t cap); /* int* */

/* Entries of a cli_opt table. */
#define CLI_OPT(kind, name, meta, dest, lo, hi, help) {kind, name, meta, dest, help, lo, hi, NULL, NULL, NULL}
#define CLI_OPT_DEF(kind, name, meta, dest, lo, hi, help, def) {kind, name, meta, dest, help, lo, hi, NULL, NULL, def}
#define CLI_OPT_CHOICE(name, meta, dest, choices, help) {CLI_CHOICE, name, meta, dest, help, 0, 0, choices, NULL, NULL}
#define CLI_OPT_FUNC(name, meta, dest, set, help, def) {CLI_FUNC, name, meta, dest, help, 0, 0, NULL, set, def}
#define CLI_OPT_SWITCH(name, dest, help) {CLI_SWITCH, name, NULL, dest, help, 0, 0, NULL, NULL, NULL}
#define CLI_OPT_HEADING(title) {CLI_HEADING, NULL, NULL, NULL, title, 0, 0, NULL, NULL, NULL}
#define CLI_N(opts) (sizeof(opts) / sizeof((opts)[0]))

/* How the data files are read (train, eval, report, compare); d is an
 * attend_data_options. */
#define CLI_OPTS_DATA(d)                                                                      \
    CLI_OPT_FUNC("--format", "NAME", &(d).format, cli_set_format,                              \
                 "tsv | csv | fasttext | jsonl", "by extension"),                              \
    CLI_OPT_DEF(CLI_STRING, "--text-col", "NAME", &(d).text_col, 0, 0,                         \
                "CSV column / JSONL key of the text", "text"),                                 \
    CLI_OPT_DEF(CLI_STRING, "--label-col", "NAME", &(d).label_col, 0, 0,                       \
                "CSV column / JSONL key of the label", "label"),                               \
    CLI_OPT_SWITCH("--strict", &(d).strict, "stop at the first malformed record (default: skip it)")

/* --threads and --precision (every command that runs a model). */
#define CLI_OPTS_RUN(threads)                                                                 \
    CLI_OPT(CLI_SIZE, "--threads", "N", &(threads), 0, 1024, "(default 0 = all cores)"),        \
    CLI_OPT_FUNC("--precision", "P", NULL, cli_set_precision,                                   \
                 "fp32 (default) or bf16: the projection and feed-forward\n"                   \
                 "matmuls round their inputs to bfloat16 and sum in fp32;\n"                  \
                 "about 2x their speed on CPUs with AVX512-BF16, weights\n"                   \
                 "and optimizer stay fp32; recorded in the provenance", "")

/* Architecture and training flags shared by train and compare (o is an
 * attend_train_options); --heads, --pos and --val-split differ. */
#define CLI_OPTS_MODEL(o)                                                                     \
    CLI_OPT(CLI_SIZE, "--d-model", "N", &(o).model.d_model, 1, 16384, "embedding width"),      \
    CLI_OPT(CLI_SIZE, "--layers", "N", &(o).model.num_layers, 0, ATTEND_MAX_LAYERS,            \
            "encoder layers"),                                                                 \
    CLI_OPT(CLI_SIZE, "--d-ff", "N", &(o).model.dim_feedforward, 1, 16384, "feed-forward width"), \
    CLI_OPT(CLI_SIZE, "--max-len", "N", &(o).model.max_len, 1, 16384,                          \
            "tokens per text, longer texts are cut"),                                          \
    CLI_OPT_CHOICE("--pool", "KIND", &(o).model.pool, cli_pool_names, "mean | cls | max"),     \
    CLI_OPT_FUNC("--head-hidden", "LIST", &(o).model, cli_set_hidden,                          \
                 "hidden layers before the output, e.g. 256,128", "none"),                     \
    CLI_OPT_CHOICE("--activation", "NAME", &(o).model.activation, cli_activation_names,        \
                   "relu | gelu"),                                                             \
    CLI_OPT_SWITCH("--norm-first", &(o).model.norm_first, "pre-norm layers (default post-norm)"), \
    CLI_OPT(CLI_FLOAT, "--dropout", "P", &(o).model.dropout, 0.0, 0.95, ""),                   \
    CLI_OPT(CLI_SIZE, "--min-freq", "N", &(o).min_freq, 1, 1000000000,                         \
            "keep tokens seen at least N times"),                                              \
    CLI_OPT(CLI_SIZE, "--max-vocab", "N", &(o).max_vocab, 0, 16777216,                         \
            "keep at most N tokens (default 0 = all)")

#define CLI_OPTS_TRAINING(o)                                                                  \
    CLI_OPT(CLI_SIZE, "--epochs", "N", &(o).epochs, 1, 100000, ""),                            \
    CLI_OPT(CLI_SIZE, "--batch", "N", &(o).batch, 1, 4096, ""),                                \
    CLI_OPT(CLI_SIZE, "--piece", "N", &(o).piece, 1, 4096,                                     \
            "examples per piece: a batch's gradient is the sum of its\n"                      \
            "pieces' gradients in piece order, the same with any\n"                           \
            "number of processes (mpirun) and threads"),                                      \
    CLI_OPT(CLI_SIZE, "--bucket", "N", &(o).bucket, 0, 100000,                                 \
            "batches of similar length: the shuffled examples are\n"                          \
            "sorted by length within chunks of N batches, which\n"                            \
            "saves padding (0 = off: each batch a random draw)"),                             \
    CLI_OPT(CLI_FLOAT, "--lr", "X", &(o).lr, 1e-9, 10.0, "peak learning rate of AdamW"),       \
    CLI_OPT(CLI_FLOAT, "--warmup", "FRAC", &(o).warmup, 0.0, 1.0,                              \
            "linear warmup over this fraction of steps, then cosine\ndecay"),                  \
    CLI_OPT(CLI_FLOAT, "--weight-decay", "X", &(o).weight_decay, 0.0, 10.0,                    \
            "AdamW decay; never on biases, norms, embeddings"),                                \
    CLI_OPT(CLI_FLOAT, "--clip", "X", &(o).clip, 0.0, 1e6, "gradient-norm clipping (0 = off)"), \
    CLI_OPT(CLI_FLOAT, "--label-smoothing", "X", &(o).label_smoothing, 0.0, 0.99, ""),         \
    CLI_OPT_FUNC("--class-weights", "KIND", &(o).class_weights_auto, cli_set_class_weights,    \
                 "none | auto (inverse frequency)", "none"),                                   \
    CLI_OPT(CLI_SIZE, "--patience", "N", &(o).patience, 0, 100000,                             \
            "stop after N epochs without a better val loss (default 0 = off)"),                \
    CLI_OPT(CLI_U64, "--seed", "N", &(o).seed, 0, 18446744073709551615.0,                      \
            "same seed and threads = same run")

/* Checks between training flags (d_model and heads, max-vocab, cls
 * pooling); prints a usage error and returns -1 when they clash. */
int cli_training_check(const char *cmd, const attend_train_options *o, size_t heads);

/* Subcommands. argv[0] is the subcommand name. */
int cli_op(int argc, char **argv);
int cli_train(int argc, char **argv);
int cli_eval(int argc, char **argv);
int cli_predict(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_info(int argc, char **argv);
int cli_show(int argc, char **argv);
int cli_explain(int argc, char **argv);
int cli_report(int argc, char **argv);
int cli_compare(int argc, char **argv);
int cli_tokenize(int argc, char **argv);
int cli_embed(int argc, char **argv);
int cli_export(int argc, char **argv);

/* Loads model_path and writes the report page into dir (report.c), as
 * attend report and attend train --report do; prints the page's path.
 * Returns a CLI code. */
int cli_write_report(const char *model_path, const attend_report_options *o, const char *dir);

#endif
