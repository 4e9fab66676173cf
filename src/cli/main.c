/* attend: train, evaluate, explain and run transformer-encoder text
 * classifiers. One binary, one subcommand per job. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char *main_usage =
    "usage: attend <command> [options]   (attend <command> --help for each)\n"
    "\n"
    "commands:\n"
    "  train     train a text classifier on labelled text\n"
    "  eval      accuracy, macro-F1, per-class metrics and confusion matrix\n"
    "  predict   classify one text per input line\n"
    "  info      describe a model file (or, without --model, this build)\n"
    "  show      attention maps of one text: terminal, SVG, HTML or JSON\n"
    "  report    HTML report of a model: curves, positions, confusion, attention, heads\n"
    "  compare   train several head counts / positional encodings and compare them\n"
    "  op        run one module (mha, encoder-layer) on tensors from safetensors files\n"
    "\n"
    "Example: attend train --data data/wordnet-nouns.tsv --out wordnet.safetensors\n"
    "Example: attend show --model wordnet.safetensors --text \"a large wild cat with a mane\"\n"
    "Example: attend op mha --weights w.safetensors --input x.safetensors --out y.safetensors --heads 4\n";

int main(int argc, char **argv) {
    if (argc < 2) {
        fputs(main_usage, stderr);
        return CLI_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        fputs(main_usage, stdout);
        return CLI_OK;
    }
    if (strcmp(cmd, "--version") == 0) {
        printf("attend %s\n", ATTEND_VERSION);
        return CLI_OK;
    }
    if (strcmp(cmd, "op") == 0) return cli_op(argc - 1, argv + 1);
    if (strcmp(cmd, "train") == 0) return cli_train(argc - 1, argv + 1);
    if (strcmp(cmd, "eval") == 0) return cli_eval(argc - 1, argv + 1);
    if (strcmp(cmd, "predict") == 0) return cli_predict(argc - 1, argv + 1);
    if (strcmp(cmd, "info") == 0) return cli_info(argc - 1, argv + 1);
    if (strcmp(cmd, "show") == 0) return cli_show(argc - 1, argv + 1);
    if (strcmp(cmd, "report") == 0) return cli_report(argc - 1, argv + 1);
    if (strcmp(cmd, "compare") == 0) return cli_compare(argc - 1, argv + 1);
    fprintf(stderr, "attend: unknown command '%s'\n", cmd);
    fputs(main_usage, stderr);
    return CLI_USAGE;
}
