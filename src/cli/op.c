/* attend op mha | encoder-layer: run one module on tensors from files. */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char *op_about =
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
    "  grad_src and grad.NAME.\n";

int cli_op(int argc, char **argv) {
    const char *which = argc >= 2 ? argv[1] : "";
    int is_mha = strcmp(which, "mha") == 0, is_layer = strcmp(which, "encoder-layer") == 0;
    const char *wpath = NULL, *xpath = NULL, *opath = NULL;
    attend_op_options opt = {0, 0, ATTEND_ACT_RELU, 0, 1e-5f};
    int act = ATTEND_ACT_RELU;
    const cli_opt opts[] = {
        CLI_OPT(CLI_STRING, "--weights", "W", &wpath, 0, 0, "module weights under PyTorch's names"),
        CLI_OPT(CLI_STRING, "--input", "X", &xpath, 0, 0, "input tensors (and grad_output)"),
        CLI_OPT(CLI_STRING, "--out", "Y", &opath, 0, 0, "output tensors to write"),
        CLI_OPT_DEF(CLI_SIZE, "--heads", "H", &opt.heads, 1, 4096, "attention heads (required)", ""),
        CLI_OPT_SWITCH("--causal", &opt.causal, "mha: causal mask"),
        CLI_OPT_CHOICE("--activation", "NAME", &act, cli_activation_names, "encoder-layer: relu | gelu"),
        CLI_OPT_SWITCH("--norm-first", &opt.norm_first, "encoder-layer: pre-norm (default post-norm)"),
        CLI_OPT(CLI_FLOAT, "--eps", "X", &opt.layer_norm_eps, 1e-30, 1.0, "encoder-layer: layer norm eps"),
    };
    const cli_command cmd = {
        "op", "attend op mha|encoder-layer --weights W.safetensors --input X.safetensors --out Y.safetensors --heads H [options]",
        op_about, "attend op mha --weights w.safetensors --input x.safetensors --out y.safetensors --heads 4", opts,
        CLI_N(opts), NULL, NULL};
    if (!is_mha && !is_layer) {
        if (!strcmp(which, "--help") || !strcmp(which, "-h")) {
            cli_help(&cmd, stdout);
            return CLI_OK;
        }
        if (argc < 2) {
            cli_help(&cmd, stderr);
            return CLI_USAGE;
        }
        return cli_usage_error("op", "unknown op '%s' (expected mha or encoder-layer)", which);
    }
    int pr = cli_parse(&cmd, argc - 1, argv + 1);
    if (pr) return pr > 0 ? CLI_OK : CLI_USAGE;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        int layer_only = !strcmp(a, "--activation") || !strcmp(a, "--norm-first") || !strcmp(a, "--eps");
        if ((is_mha && layer_only) || (is_layer && !strcmp(a, "--causal")))
            return cli_usage_error("op", "unknown option '%s' for 'op %s'", a, which);
    }
    opt.activation = (attend_activation)act;
    if (!wpath || !xpath || !opath || !opt.heads)
        return cli_usage_error("op", "op %s needs --weights, --input, --out and --heads", which);
    attend_error err = {0};
    attend_status st = is_mha ? attend_op_mha(wpath, xpath, opath, &opt, &err)
                              : attend_op_encoder_layer(wpath, xpath, opath, &opt, &err);
    return st == ATTEND_OK ? CLI_OK : cli_fail(&err);
}
