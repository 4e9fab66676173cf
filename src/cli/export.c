/* attend export: a model as a Hugging Face folder for transformers. */
#include "cli.h"

#include <stdio.h>

int cli_export(int argc, char **argv) {
    const char *model_path = NULL, *out_dir = NULL;
    const cli_opt opts[] = {
        CLI_OPT(CLI_STRING, "--model", "FILE", &model_path, 0, 0,
                "a BERT classifier from attend train --init --pool pooler"),
        CLI_OPT(CLI_STRING, "--out", "DIR", &out_dir, 0, 0, "the folder to write (created)"),
    };
    const cli_command cmd = {
        "export", "attend export --model MODEL --out DIR",
        "Writes the model as a Hugging Face folder (config.json, model.safetensors,\n"
        "vocab.txt, tokenizer_config.json, special_tokens_map.json) that transformers'\n"
        "AutoModelForSequenceClassification and AutoTokenizer load as they are. Only a\n"
        "BERT model whose head reads the pooler has a transformers equivalent\n"
        "(BertForSequenceClassification); any other exits 2 and says what has none.\n",
        "attend export --model ft.safetensors --out ft-hf", opts, CLI_N(opts), NULL, NULL};
    int pr = cli_parse(&cmd, argc, argv);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    if (!model_path || !out_dir) return cli_usage_error("export", "export needs --model and --out");
    attend_error err = {0};
    attend_model *m = NULL;
    if (attend_model_load(&m, model_path, &err)) return cli_fail(&err);
    attend_status st = attend_model_export_hf(m, out_dir, &err);
    attend_model_free(m);
    if (st == ATTEND_ERR_ARG) return cli_usage_error("export", "%s", err.msg);
    if (st) return cli_fail(&err);
    printf("wrote %s (BertForSequenceClassification)\n", out_dir);
    return CLI_OK;
}
