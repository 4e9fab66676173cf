/* attend op mha | encoder-layer: run one module on tensors from files. */
#include "cli.h"
#include "nn/op.h"

#include <stdio.h>
#include <string.h>

static const char *op_usage =
    "usage: attend op mha --weights W.safetensors --input X.safetensors --out Y.safetensors\n"
    "                     --heads H [--causal]\n"
    "       attend op encoder-layer --weights W --input X --out Y --heads H\n"
    "                     [--activation relu|gelu] [--norm-first] [--eps 1e-5]\n"
    "\n"
    "Runs one PyTorch-compatible module (batch_first, dropout off) on tensors read\n"
    "from safetensors files, so attend can be checked against any implementation.\n"
    "\n"
    "mha: W holds nn.MultiheadAttention names (in_proj_weight or q/k/v_proj_weight,\n"
    "  in_proj_bias, out_proj.weight, out_proj.bias). X holds query (B,L,E), optional\n"
    "  key (B,S,kdim) and value (B,S,vdim) (self-attention when absent), optional\n"
    "  key_padding_mask (B,S) BOOL/U8 (1 = ignore), attn_mask (L,S) or (B*H,L,S)\n"
    "  BOOL/U8 (1 = may not attend) or F32 (added to scores), grad_output (B,L,E).\n"
    "  Y gets output, attn_weights (B,H,L,S), and with grad_output: grad_query\n"
    "  [grad_key grad_value] and grad.NAME for every weight.\n"
    "encoder-layer: W holds nn.TransformerEncoderLayer names (self_attn.*, linear1.*,\n"
    "  linear2.*, norm1.*, norm2.*). X holds src (B,T,E), optional\n"
    "  src_key_padding_mask (B,T), grad_output. Y gets output, and with grad_output\n"
    "  grad_src and grad.NAME.\n"
    "\n"
    "Defaults: --activation relu, post-norm, --eps 1e-5.\n"
    "Example: attend op mha --weights w.safetensors --input x.safetensors --out y.safetensors --heads 4\n";

int cli_op(int argc, char **argv) {
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(op_usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *which = argv[1];
    int is_mha = strcmp(which, "mha") == 0;
    if (!is_mha && strcmp(which, "encoder-layer") != 0)
        return cli_usage_error("op", "unknown op '%s' (expected mha or encoder-layer)", which);

    const char *wpath = NULL, *xpath = NULL, *opath = NULL, *v = NULL;
    attend_op_options opt = {0, 0, ATTEND_ACT_RELU, 0, 1e-5f};
    int have_heads = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(op_usage, stdout);
            return CLI_OK;
        } else if (cli_flag(argc, argv, &i, "--weights", &v)) {
            if (!(wpath = v)) return cli_usage_error("op", "--weights needs a file");
        } else if (cli_flag(argc, argv, &i, "--input", &v)) {
            if (!(xpath = v)) return cli_usage_error("op", "--input needs a file");
        } else if (cli_flag(argc, argv, &i, "--out", &v)) {
            if (!(opath = v)) return cli_usage_error("op", "--out needs a file");
        } else if (cli_flag(argc, argv, &i, "--heads", &v)) {
            if (cli_parse_size("op", "--heads", v, 1, 4096, &opt.heads)) return CLI_USAGE;
            have_heads = 1;
        } else if (is_mha && strcmp(argv[i], "--causal") == 0) {
            opt.causal = 1;
        } else if (!is_mha && strcmp(argv[i], "--norm-first") == 0) {
            opt.norm_first = 1;
        } else if (!is_mha && cli_flag(argc, argv, &i, "--activation", &v)) {
            if (v && strcmp(v, "relu") == 0) opt.activation = ATTEND_ACT_RELU;
            else if (v && strcmp(v, "gelu") == 0) opt.activation = ATTEND_ACT_GELU;
            else return cli_usage_error("op", "--activation expects relu or gelu");
        } else if (!is_mha && cli_flag(argc, argv, &i, "--eps", &v)) {
            if (cli_parse_float("op", "--eps", v, 1e-30, 1.0, &opt.layer_norm_eps)) return CLI_USAGE;
        } else {
            return cli_usage_error("op", "unknown option '%s' for 'op %s'", argv[i], which);
        }
    }
    if (!wpath || !xpath || !opath || !have_heads)
        return cli_usage_error("op", "op %s needs --weights, --input, --out and --heads", which);

    attend_error err = {0};
    attend_status st = is_mha ? attend_op_mha(wpath, xpath, opath, &opt, &err)
                              : attend_op_encoder_layer(wpath, xpath, opath, &opt, &err);
    return st == ATTEND_OK ? CLI_OK : cli_fail(&err);
}
