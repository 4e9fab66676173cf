/* attend info: what a model file holds, or how attend was built. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

int cli_info(int argc, char **argv) {
    const char *model_path = NULL;
    const cli_opt opts[] = {
        CLI_OPT(CLI_STRING, "--model", "PATH", &model_path, 0, 0,
                "the model file (or Hugging Face model folder) to describe"),
    };
    const cli_command cmd = {
        "info", "attend info [--model MODEL]",
        "With --model: the configuration, parameter count by tensor, labels,\n"
        "vocabulary size, provenance and training summary of a model file.\n"
        "Without: how this attend was built (version, OpenMP, BLAS, threads).\n",
        "attend info --model wordnet.safetensors", opts, CLI_N(opts), NULL, NULL};
    int pr = cli_parse(&cmd, argc, argv);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    if (!model_path) {
        printf("%s\n", attend_build_info());
        return CLI_OK;
    }
    attend_error err = {0};
    attend_model *m = NULL;
    if (attend_model_load(&m, model_path, &err)) return cli_fail(&err);
    const attend_model_config *c = attend_model_get_config(m);
    printf("model       %s\n", model_path);
    printf("arch        %s\n", attend_arch_name(c->arch));
    printf("config      d_model %zu, heads %zu (head dim %zu), layers %zu, d_ff %zu, max_len %zu\n",
           c->d_model, c->nhead, c->d_model / c->nhead, c->num_layers, c->dim_feedforward,
           c->max_len);
    const int bert = c->arch == ATTEND_ARCH_BERT;
    const char *act = c->activation == ATTEND_ACT_GELU_TANH ? "gelu_tanh" : cli_activation_names[c->activation];
    printf("            pos %s, pool %s, activation %s, %s, dropout %g, layer_norm_eps %g\n",
           cli_pos_names[c->pos], cli_pool_names[c->pool], act,
           c->norm_first ? "pre-norm" : "post-norm", (double)c->dropout,
           (double)c->layer_norm_eps);
    if (bert)
        printf("bert        %zu positions, %zu token types, pooler %s, attention dropout %g;\n"
               "            embeddings: %s pooling%s\n",
               c->max_positions, c->type_vocab_size, c->pooler ? "yes" : "no",
               (double)c->attn_dropout, cli_pool_names[attend_model_embed_pool(m)],
               attend_model_embed_normalize(m) ? ", normalised" : "");
    printf("head        ");
    for (size_t j = 0; j < c->n_hidden; j++) printf("%zu -> ", c->hidden[j]);
    if (bert && !c->num_classes) printf("none (an encoder)\n");
    else printf("%zu classes\n", c->num_classes);
    printf("vocabulary  %zu tokens %s\n", attend_model_vocab_size(m),
           bert ? "(WordPiece)" : "(with <pad> <unk> <cls>)");
    printf("parameters  %zu\n", attend_model_num_params(m));
    for (size_t i = 0; i < attend_model_num_tensors(m); i++) {
        const char *name;
        size_t ndim, shape[2];
        attend_model_tensor(m, i, &name, &ndim, shape);
        char sh[64];
        if (ndim == 2) snprintf(sh, sizeof sh, "(%zu, %zu)", shape[0], shape[1]);
        else snprintf(sh, sizeof sh, "(%zu)", shape[0]);
        printf("  %-40s %-14s %10zu\n", name, sh, ndim == 2 ? shape[0] * shape[1] : shape[0]);
    }
    printf("labels      ");
    for (size_t k = 0; k < c->num_classes; k++) printf("%s%s", k ? " " : "", attend_model_label(m, k));
    printf("\n");
    const char *prov = attend_model_meta(m, "provenance"), *train = attend_model_meta(m, "training");
    if (prov) printf("provenance  %s\n", prov);
    if (train) printf("training    %s\n", train);
    attend_model_free(m);
    return CLI_OK;
}
