/* One table-driven flag parser for every subcommand. A command describes
 * its options once, as an array of cli_opt; the same array parses argv,
 * checks ranges, and prints --help with the live defaults (the value each
 * destination holds before parsing), so help and code cannot disagree. */
#ifndef ATTEND_CLI_FLAGS_H
#define ATTEND_CLI_FLAGS_H

#include <stddef.h>
#include <stdio.h>

typedef enum {
    CLI_HEADING = 0, /* not an option: a section title in --help (help = the title) */
    CLI_SWITCH,      /* no value; dest int* becomes 1 */
    CLI_SIZE,        /* size_t* in [lo, hi] */
    CLI_U64,         /* uint64_t* in [lo, hi] */
    CLI_FLOAT,       /* float* in [lo, hi] */
    CLI_DOUBLE,      /* double* in [lo, hi] */
    CLI_STRING,      /* const char** (the argv string); lo = 1: may be empty */
    CLI_CHOICE,      /* int*: the index of the value in choices */
    CLI_FUNC         /* set(dest, value) parses it: 0 ok, -1 refused (its message says why) */
} cli_kind;

typedef struct cli_opt {
    cli_kind kind;
    const char *name;      /* "--lr", "-k" */
    const char *meta;      /* "X", "FILE"; NULL for switches */
    void *dest;
    const char *help;      /* one line; "(default ...)" is added unless it has one, or def is "" */
    double lo, hi;         /* numeric range */
    const char *const *choices; /* CLI_CHOICE: NULL-terminated names */
    int (*set)(void *dest, const char *value, char *why, size_t why_cap); /* CLI_FUNC */
    const char *def;       /* default as text, when *dest does not show it (NULL: from *dest) */
} cli_opt;

/* A subcommand's description: what --help prints around the table. */
typedef struct {
    const char *name;       /* "train" */
    const char *usage;      /* the line after "usage: " */
    const char *about;      /* paragraph(s), may be NULL */
    const char *example;    /* the line after "Example: " */
    const cli_opt *opts;
    size_t n_opts;
    const char **positional; /* where one positional argument goes (NULL: none allowed) */
    const char *positional_name; /* "FILE" in messages */
} cli_command;

/* Parses argv[1..argc) (argv[0] is the subcommand). Returns 0 when parsed,
 * 1 when --help was printed (exit 0), -1 after printing a usage error. A
 * flag given twice takes its last value. */
int cli_parse(const cli_command *cmd, int argc, char **argv);

/* 1 when argv[1..argc) gives the option name (walked as cli_parse walks
 * it, so an option's value is never taken for an option); 0 otherwise.
 * For defaults that depend on another flag, before cli_parse. */
int cli_given(const cli_command *cmd, int argc, char **argv, const char *name);

/* Prints the command's help to f, with the current values as defaults;
 * as a section of the man page (roff) while cli_help_roff is set. */
void cli_help(const cli_command *cmd, FILE *f);
extern int cli_help_roff;

/* Choice lists shared by several commands. */
extern const char *const cli_pool_names[];       /* mean cls max pooler (attend_pool_kind order) */
extern const char *const cli_activation_names[]; /* relu gelu */
extern const char *const cli_pos_names[];        /* learned sinusoidal none */

#endif
