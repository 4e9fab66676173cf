/* attend: train, evaluate, explain and run transformer-encoder text
 * classifiers. One binary, one subcommand per job; each subcommand's file
 * in this folder describes its options as a table (flags.h). */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} commands[] = {
    {"train", cli_train, "train a text classifier on labelled text"},
    {"eval", cli_eval, "accuracy, macro-F1, per-class metrics and confusion matrix"},
    {"predict", cli_predict, "classify one text per input line"},
    {"serve", cli_serve, "HTTP inference server: /predict, /embed, /v1/embeddings, /metrics"},
    {"info", cli_info, "describe a model file (or, without --model, this build)"},
    {"show", cli_show, "attention maps of one text: terminal, SVG, HTML or JSON"},
    {"explain", cli_explain, "one head's attention worked step by step with the model's numbers"},
    {"report", cli_report, "HTML report of a model: curves, positions, confusion, attention, heads"},
    {"compare", cli_compare, "train several head counts / positional encodings and compare them"},
    {"op", cli_op, "run one module (mha, encoder-layer) on tensors from safetensors files"},
    {"tokenize", cli_tokenize, "the token ids a model reads, one line per input line"},
    {"embed", cli_embed, "sentence embeddings (BERT-family folders, e.g. all-MiniLM-L6-v2)"},
    {"export", cli_export, "a fine-tuned BERT classifier as a folder for transformers"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f) {
    fputs("usage: attend <command> [options]   (attend <command> --help for each)\n\ncommands:\n", f);
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "Example: attend train --data data/wordnet-nouns.tsv --out wordnet.safetensors\n"
          "Example: attend show --model wordnet.safetensors --text \"a large wild cat with a mane\"\n"
          "Example: attend op mha --weights w.safetensors --input x.safetensors --out y.safetensors --heads 4\n",
          f);
}

/* attend(1): the command list, then every command's help as a section,
 * from the same tables that parse the options. */
static int man_page(void) {
    printf(".TH ATTEND 1 \"\" \"attend %s\" \"User Commands\"\n"
           ".SH NAME\nattend \\- train, evaluate, explain and run transformer-encoder text models\n"
           ".SH SYNOPSIS\n.B attend\n.I command\n[\\fIoptions\\fR]\n"
           ".SH DESCRIPTION\n"
           "Multi-head self-attention in C: one program with one command per job. "
           "Every command takes \\fB\\-\\-help\\fR, which prints what this page says of it.\n"
           ".SH COMMANDS\n",
           ATTEND_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++) printf(".TP\n.B %s\n%s\n", commands[i].name, commands[i].summary);
    cli_help_roff = 1;
    printf(".SH OPTIONS\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        char *args[2] = {(char *)commands[i].name, "--help"};
        commands[i].run(2, args);
    }
    printf(".SH EXIT STATUS\n0 success, 1 a runtime failure (the message names the file and what "
           "was wrong), 2 a usage error; attend train stopped by SIGINT or SIGTERM exits 130 or 143 "
           "after writing its checkpoint.\n"
           ".SH ENVIRONMENT\n.TP\n.B NO_COLOR\nwhen set and not empty, attend show draws without colour.\n"
           ".SH SEE ALSO\nThe README and docs/ of the attend sources; the C API in attend.h, "
           "attend_train.h and attend_viz.h (pkg-config attend).\n");
    return fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--man") == 0) return man_page();
    if (strcmp(cmd, "--version") == 0) {
        printf("attend %s\n", ATTEND_VERSION);
        const char *mpi = attend_world_library();
        printf("mpi: %s\n", mpi ? mpi : "no (make MPI=1 builds build-mpi/attend for mpirun)");
        return CLI_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (strcmp(cmd, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "attend: unknown command '%s'\n", cmd);
    usage(stderr);
    return CLI_USAGE;
}
