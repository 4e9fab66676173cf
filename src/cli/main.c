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
    {"info", cli_info, "describe a model file (or, without --model, this build)"},
    {"show", cli_show, "attention maps of one text: terminal, SVG, HTML or JSON"},
    {"report", cli_report, "HTML report of a model: curves, positions, confusion, attention, heads"},
    {"compare", cli_compare, "train several head counts / positional encodings and compare them"},
    {"op", cli_op, "run one module (mha, encoder-layer) on tensors from safetensors files"},
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
