/* attend — multi-head self-attention in C.
 *
 * Public API. Conventions used everywhere:
 *   - Dimension letters: B batch, T tokens (self-attention), L query length,
 *     S key length, E embed dim (d_model), H heads, D head dim (E / H),
 *     F feed-forward dim, N rows (flattened B*T), V vocabulary, K classes.
 *   - Tensors are row-major float32. Linear weights are (out, in), like
 *     PyTorch's nn.Linear, so y = x W^T + b.
 *   - A layer is a forward/backward pair: outputs first, then inputs, then
 *     sizes. Backward functions ADD into their gradient buffers (so callers
 *     zero them once per step); any gradient pointer may be NULL to skip it.
 *   - Functions that can fail return attend_status and fill an attend_error
 *     (which may be NULL). The library never exits or aborts on bad input.
 */
#ifndef ATTEND_H
#define ATTEND_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ATTEND_VERSION "0.1.0"

/* ------------------------------------------------------------------------ */
/* Errors                                                                   */
/* ------------------------------------------------------------------------ */

/* Result of a fallible call. ATTEND_OK is 0. */
typedef enum {
    ATTEND_OK = 0,
    ATTEND_ERR_ARG,     /* invalid argument or configuration */
    ATTEND_ERR_IO,      /* file could not be opened, read or written */
    ATTEND_ERR_FORMAT,  /* file contents violate the expected format */
    ATTEND_ERR_SHAPE,   /* tensor missing, or with the wrong shape or dtype */
    ATTEND_ERR_NOMEM,   /* an allocation failed or would be too large */
    ATTEND_ERR_NUMERIC, /* NaN or Inf where a finite number was required */
    ATTEND_ERR_INTERRUPTED /* stopped on request (a signal); state was saved */
} attend_status;

/* Status plus a human-readable message naming the file, tensor or offset. */
typedef struct {
    attend_status status;
    char msg[512];
} attend_error;

/* Sets err (if not NULL) to status with a printf-style message; returns status. */
attend_status attend_errorf(attend_error *err, attend_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Short name of a status code ("ok", "format error", ...). */
const char *attend_status_name(attend_status status);

/* ------------------------------------------------------------------------ */
/* Runtime                                                                  */
/* ------------------------------------------------------------------------ */

/* Sets the number of threads the calling thread's attend calls use for
 * OpenMP loops and the split of matrix products (0 = all cores); the BLAS
 * itself runs single-threaded. A program calling attend from several
 * threads (a server's workers, say) sets it in each; a thread that never
 * sets it uses all cores. */
void attend_set_threads(int n);

/* Number of threads the calling thread's attend calls will use. */
int attend_get_threads(void);

/* Precision of the projection and feed-forward matrix multiplies (the
 * attention products and everything else stay fp32):
 *  ATTEND_MATMUL_FP32  fp32 inputs and sums (the default; exact against PyTorch);
 *  ATTEND_MATMUL_BF16  inputs rounded to bfloat16, products summed in fp32, like
 *                      PyTorch's autocast to bf16. About twice the multiply
 *                      rate on CPUs with AVX512-BF16; elsewhere the same
 *                      arithmetic runs on the fp32 BLAS (no faster).
 * Weights, gradients and optimizer state stay fp32 either way. Global, like
 * the thread count; set it before training or inference starts. */
typedef enum { ATTEND_MATMUL_FP32 = 0, ATTEND_MATMUL_BF16 = 1 } attend_matmul_precision;
void attend_set_matmul_precision(attend_matmul_precision p);
attend_matmul_precision attend_get_matmul_precision(void);
/* 1 when bf16 matmuls run on this CPU's AVX512-BF16 instructions, 0 when
 * they take the portable path (no faster than fp32). */
int attend_matmul_bf16_native(void);

/* A line describing the build: version, OpenMP, BLAS, CPU features found. */
const char *attend_build_info(void);

/* ------------------------------------------------------------------------ */
/* Kernels (forward / backward pairs)                                       */
/* ------------------------------------------------------------------------ */

/* Linear layer. inp (N,IN), weight (OUT,IN), bias (OUT) or NULL, out (N,OUT). */
void attend_linear_forward(float *out, const float *inp, const float *weight,
                           const float *bias, size_t N, size_t IN, size_t OUT);

/* Backward of attend_linear_forward. dout (N,OUT); adds into dinp (N,IN),
 * dweight (OUT,IN), dbias (OUT). */
void attend_linear_backward(float *dinp, float *dweight, float *dbias,
                            const float *dout, const float *inp, const float *weight,
                            size_t N, size_t IN, size_t OUT);

/* Layer norm over the last dim. inp (N,C), weight/bias (C), out (N,C);
 * saves mean (N) and rstd (N) = 1/sqrt(var + eps) for the backward. */
void attend_layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                              const float *weight, const float *bias,
                              size_t N, size_t C, float eps);

/* Backward of attend_layernorm_forward; adds into dinp (N,C), dweight, dbias (C). */
void attend_layernorm_backward(float *dinp, float *dweight, float *dbias,
                               const float *dout, const float *inp, const float *weight,
                               const float *mean, const float *rstd, size_t N, size_t C);

/* ReLU, elementwise over n values. out may alias inp. */
void attend_relu_forward(float *out, const float *inp, size_t n);
/* Adds dout * (inp > 0) into dinp. */
void attend_relu_backward(float *dinp, const float *dout, const float *inp, size_t n);

/* GELU, exact form 0.5 x (1 + erf(x / sqrt 2)). out may alias inp. */
void attend_gelu_forward(float *out, const float *inp, size_t n);
/* Adds dout * GELU'(inp) into dinp. */
void attend_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n);

/* GELU, tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (BERT's
 * "gelu_new", PyTorch's approximate="tanh"). out may alias inp. */
void attend_gelu_tanh_forward(float *out, const float *inp, size_t n);
/* Adds dout * d/dx of the tanh form into dinp. */
void attend_gelu_tanh_backward(float *dinp, const float *dout, const float *inp, size_t n);

/* Inverted dropout with probability p. The keep/drop decision for element i
 * is a hash of (seed, i), so it is reproducible, independent of the thread
 * count, and recomputed in the backward instead of stored. p = 0 copies. */
void attend_dropout_forward(float *out, const float *inp, size_t n, float p, uint64_t seed);
/* Adds the gradient of attend_dropout_forward (same n, p, seed) into dinp. */
void attend_dropout_backward(float *dinp, const float *dout, size_t n, float p, uint64_t seed);

/* Residual add: out = a + b over n values. */
void attend_residual_forward(float *out, const float *a, const float *b, size_t n);
/* Adds dout into da and db. */
void attend_residual_backward(float *da, float *db, const float *dout, size_t n);

/* Row-wise softmax. inp (N,C) -> out (N,C); rows that are all -inf give 0. */
void attend_softmax_forward(float *out, const float *inp, size_t N, size_t C);
/* Adds into dinp (N,C) given dout and the forward's out. */
void attend_softmax_backward(float *dinp, const float *dout, const float *out,
                             size_t N, size_t C);

/* Mean cross-entropy of logits (N,K) against integer targets (N), as PyTorch's
 * F.cross_entropy: optional class weights (K) (NULL = all 1) and label
 * smoothing in [0,1). Writes probs (N,K) (softmax of logits) for the backward
 * and returns the loss. A target outside [0,K) is ignored (contributes 0). */
float attend_crossentropy_forward(float *probs, const float *logits, const int32_t *targets,
                                  const float *class_weights, float label_smoothing,
                                  size_t N, size_t K);
/* Adds d(loss)/d(logits) into dlogits (N,K), times dloss. */
void attend_crossentropy_backward(float *dlogits, const float *probs, const int32_t *targets,
                                  const float *class_weights, float label_smoothing,
                                  float dloss, size_t N, size_t K);

/* ------------------------------------------------------------------------ */
/* Scaled dot-product attention                                             */
/* ------------------------------------------------------------------------ */

/* Which keys each query may attend to. Every pointer may be NULL.
 * Convention (PyTorch nn.MultiheadAttention): for the byte masks, nonzero
 * means "may NOT attend". A float mask is added to the scores; -inf there
 * also means "may not attend". A query with no allowed key gets output 0,
 * weights 0 and zero gradients; masked keys are skipped, never multiplied by
 * zero, so a NaN in a masked key cannot reach the output or any gradient
 * (multi-head attention keeps it out of the projection weight gradients too). */
typedef struct {
    const uint8_t *key_padding; /* (B,S): nonzero = key is padding */
    const uint8_t *attn_bool;   /* (L,S), or (B*H,L,S) when per_head */
    const float *attn_float;    /* (L,S), or (B*H,L,S) when per_head */
    int per_head;               /* 1: attn_bool / attn_float are (B*H,L,S) */
    int causal;                 /* 1: query l may not attend keys s > l */
} attend_mask;

/* softmax(q k^T / sqrt(D) + mask) v, per batch and head.
 * q (B,L,H*D), k (B,S,H*D), v (B,S,H*D), out (B,L,H*D): heads are contiguous
 * column blocks of a row, exactly as the projections produce them.
 * probs (B,H,L,S) receives the attention weights (required; the backward
 * needs them). dropout_p > 0 drops weights (reproducibly, from seed) after
 * they are written to probs. mask may be NULL. */
void attend_sdpa_forward(float *out, float *probs, const float *q, const float *k,
                         const float *v, const attend_mask *mask, size_t B, size_t H,
                         size_t L, size_t S, size_t D, float dropout_p, uint64_t seed);

/* Backward of attend_sdpa_forward. Adds into dq (B,L,H*D), dk and dv
 * (B,S,H*D); its scratch is per thread, O(S*D). */
void attend_sdpa_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                          const float *v, const float *probs, const attend_mask *mask,
                          size_t B, size_t H, size_t L, size_t S, size_t D,
                          float dropout_p, uint64_t seed);

/* Fused attention: the same result as attend_sdpa_forward without any
 * (B,H,L,S) array. Each row's scores live in a per-thread buffer; lse
 * (B,H,L) (may be NULL for inference) receives each row's log-sum-exp for
 * the backward (+inf for a row with no allowed key). Memory O(S*D) per
 * thread, so long sequences fit. */
void attend_sdpa_forward_fused(float *out, float *lse, const float *q, const float *k,
                               const float *v, const attend_mask *mask, size_t B, size_t H,
                               size_t L, size_t S, size_t D, float dropout_p, uint64_t seed);

/* Backward of attend_sdpa_forward_fused: recomputes each row's weights from
 * the saved lse. Adds into dq, dk, dv (any may be NULL). */
void attend_sdpa_backward_fused(float *dq, float *dk, float *dv, const float *dout,
                                const float *q, const float *k, const float *v,
                                const float *lse, const attend_mask *mask, size_t B, size_t H,
                                size_t L, size_t S, size_t D, float dropout_p, uint64_t seed);

/* ------------------------------------------------------------------------ */
/* Multi-head attention (nn.MultiheadAttention, batch_first)                */
/* ------------------------------------------------------------------------ */

/* Shape of a multi-head attention module. */
typedef struct {
    size_t embed_dim;  /* E */
    size_t num_heads;  /* H; E % H must be 0 */
    size_t kdim;       /* key input dim (0 = E) */
    size_t vdim;       /* value input dim (0 = E) */
    int bias;          /* 1: in_proj_bias and out_proj.bias exist */
    float dropout;     /* dropout on attention weights (training only) */
} attend_mha_config;

/* Parameter views. When kdim = vdim = E they point into one in_proj_weight
 * (3E,E): q rows [0,E), k rows [E,2E), v rows [2E,3E), as PyTorch packs them.
 * The same struct holds gradients. */
typedef struct {
    float *q_proj_weight;   /* (E,E) */
    float *k_proj_weight;   /* (E,kdim) */
    float *v_proj_weight;   /* (E,vdim) */
    float *in_proj_bias;    /* (3E) or NULL */
    float *out_proj_weight; /* (E,E) */
    float *out_proj_bias;   /* (E) or NULL */
} attend_mha_params;

/* Flags of the *_acts_size / *_acts_bind functions. */
#define ATTEND_ACTS_GRAD 1  /* keep what the backward needs, plus its scratch */
#define ATTEND_ACTS_FUSED 2 /* fused attention: no (B,H,L,S) weights, O(T) memory */

/* Activations saved by the forward for the backward, plus backward scratch. */
typedef struct {
    float *q, *k, *v;  /* projected (B,L,E), (B,S,E), (B,S,E) */
    float *probs;      /* (B,H,L,S) attention weights; NULL when fused */
    float *lse;        /* (B,H,L) row log-sum-exp; fused only */
    float *ctx;        /* (B,L,E) concatenated head outputs */
    float *dq, *dk, *dv, *dctx; /* backward scratch, same shapes */
} attend_mha_acts;

/* Checks a configuration (E % H, nonzero sizes); fills err on failure. */
attend_status attend_mha_config_check(const attend_mha_config *cfg, attend_error *err);

/* Number of floats attend_mha_acts_bind needs for these sizes and
 * ATTEND_ACTS_* flags. */
size_t attend_mha_acts_size(const attend_mha_config *cfg, size_t B, size_t L, size_t S,
                            int flags);

/* Carves the activation views from mem (attend_mha_acts_size floats). */
void attend_mha_acts_bind(attend_mha_acts *acts, const attend_mha_config *cfg, size_t B,
                          size_t L, size_t S, int flags, float *mem);

/* out (B,L,E) = MHA(query (B,L,E), key (B,S,kdim), value (B,S,vdim)).
 * For self-attention pass the same pointer for all three (S = L).
 * training != 0 applies attention dropout from seed. */
void attend_mha_forward(float *out, attend_mha_acts *acts, const attend_mha_config *cfg,
                        const attend_mha_params *p, const float *query, const float *key,
                        const float *value, const attend_mask *mask, size_t B, size_t L,
                        size_t S, int training, uint64_t seed);

/* Backward of attend_mha_forward. Adds into dquery (B,L,E), dkey (B,S,kdim),
 * dvalue (B,S,vdim) (any may be NULL, or alias one another for
 * self-attention) and into the parameter gradients g. */
void attend_mha_backward(float *dquery, float *dkey, float *dvalue, attend_mha_params *g,
                         attend_mha_acts *acts, const float *dout,
                         const attend_mha_config *cfg, const attend_mha_params *p,
                         const float *query, const float *key, const float *value,
                         const attend_mask *mask, size_t B, size_t L, size_t S,
                         int training, uint64_t seed);

/* ------------------------------------------------------------------------ */
/* Transformer encoder layer (nn.TransformerEncoderLayer, batch_first)      */
/* ------------------------------------------------------------------------ */

/* Feed-forward activation. */
typedef enum {
    ATTEND_ACT_RELU = 0,
    ATTEND_ACT_GELU = 1,     /* exact erf form (PyTorch's default, BERT's "gelu") */
    ATTEND_ACT_GELU_TANH = 2 /* tanh approximation (BERT's "gelu_new"); BERT-family models only */
} attend_activation;

/* Shape of one encoder layer. */
typedef struct {
    size_t d_model;          /* E */
    size_t nhead;            /* H */
    size_t dim_feedforward;  /* F */
    attend_activation activation;
    int norm_first;          /* 0: post-norm (PyTorch default), 1: pre-norm */
    float layer_norm_eps;    /* default 1e-5 */
    float dropout;           /* default 0.1; used only when training */
    /* Where dropout applies. These trailing fields are 0 in an initialiser
     * that leaves them out, which keeps nn.TransformerEncoderLayer's sites
     * (attention weights, each sublayer's output, inside the feed-forward
     * block, all with dropout). Hugging Face's BertLayer has no dropout
     * inside the feed-forward block and its own rate for the weights. */
    int bert_dropout;        /* 1: BERT's sites: no feed-forward inner dropout */
    float attn_dropout;      /* rate on the attention weights when bert_dropout */
} attend_encoder_config;

/* Parameter (or gradient) views of one layer, named as PyTorch names them. */
typedef struct {
    attend_mha_params self_attn;
    float *linear1_weight; /* (F,E) */
    float *linear1_bias;   /* (F) */
    float *linear2_weight; /* (E,F) */
    float *linear2_bias;   /* (E) */
    float *norm1_weight, *norm1_bias; /* (E) */
    float *norm2_weight, *norm2_bias; /* (E) */
} attend_encoder_layer_params;

/* Saved activations of one layer for sizes (B,T). */
typedef struct {
    attend_mha_acts attn;
    float *ln1, *mean1, *rstd1; /* norm1 output (B,T,E) and stats (B*T) */
    float *r1;                  /* first residual sum (B,T,E) */
    float *ln2, *mean2, *rstd2; /* norm2 output (pre-norm: the FF input) and stats */
    float *h;                   /* linear1 output (B,T,F) */
    float *a;                   /* activation after dropout (B,T,F): linear2's input */
    float *r2;                  /* second residual sum (B,T,E): post-norm's norm2 input */
} attend_encoder_acts;

/* Backward scratch shared by all layers of a stack. */
typedef struct {
    float *d1, *d2, *d3; /* (B,T,E) */
    float *dh, *dh2;     /* (B,T,F) */
} attend_encoder_scratch;

/* Checks a configuration; fills err on failure. */
attend_status attend_encoder_config_check(const attend_encoder_config *cfg, attend_error *err);

/* The multi-head attention configuration inside an encoder layer. */
attend_mha_config attend_encoder_mha_config(const attend_encoder_config *cfg);

/* Floats needed by attend_encoder_acts_bind (ATTEND_ACTS_* flags) and
 * attend_encoder_scratch_bind. */
size_t attend_encoder_acts_size(const attend_encoder_config *cfg, size_t B, size_t T,
                                int flags);
size_t attend_encoder_scratch_size(const attend_encoder_config *cfg, size_t B, size_t T);

/* Carve views from mem. */
void attend_encoder_acts_bind(attend_encoder_acts *acts, const attend_encoder_config *cfg,
                              size_t B, size_t T, int flags, float *mem);
void attend_encoder_scratch_bind(attend_encoder_scratch *s, const attend_encoder_config *cfg,
                                 size_t B, size_t T, float *mem);

/* out (B,T,E) = layer(x (B,T,E)); key_padding (B,S=T) may be NULL.
 * seed drives this layer's dropouts when training. */
void attend_encoder_layer_forward(float *out, attend_encoder_acts *acts,
                                  const attend_encoder_config *cfg,
                                  const attend_encoder_layer_params *p, const float *x,
                                  const uint8_t *key_padding, size_t B, size_t T,
                                  int training, uint64_t seed);

/* Backward of attend_encoder_layer_forward: adds into dx (B,T,E) (which must
 * not alias dout) and the parameter gradients g. */
void attend_encoder_layer_backward(float *dx, attend_encoder_layer_params *g,
                                   attend_encoder_acts *acts, attend_encoder_scratch *s,
                                   const float *dout, const attend_encoder_config *cfg,
                                   const attend_encoder_layer_params *p, const float *x,
                                   const uint8_t *key_padding, size_t B, size_t T,
                                   int training, uint64_t seed);

/* A stack of n layers with the same configuration (nn.TransformerEncoder).
 * outs[i] (B,T,E) is layer i's output; layer i+1 reads outs[i]. */
void attend_encoder_forward(float **outs, attend_encoder_acts *acts,
                            const attend_encoder_config *cfg,
                            const attend_encoder_layer_params *p, size_t n_layers,
                            const float *x, const uint8_t *key_padding, size_t B, size_t T,
                            int training, uint64_t seed);

/* Backward of the stack. dout (B,T,E) is the gradient of outs[n-1]; adds the
 * gradient of x into dx. Needs two (B,T,E) buffers of ping-pong scratch
 * (dbuf0, dbuf1) besides s. */
void attend_encoder_backward(float *dx, attend_encoder_layer_params *g,
                             attend_encoder_acts *acts, attend_encoder_scratch *s,
                             float *dbuf0, float *dbuf1, const float *dout,
                             const attend_encoder_config *cfg,
                             const attend_encoder_layer_params *p, size_t n_layers,
                             float *const *outs, const float *x,
                             const uint8_t *key_padding, size_t B, size_t T, int training,
                             uint64_t seed);

/* ------------------------------------------------------------------------ */
/* Safetensors files                                                        */
/* ------------------------------------------------------------------------ */

/* Element types of the safetensors format. */
typedef enum {
    ATTEND_DTYPE_BOOL = 0,
    ATTEND_DTYPE_U8,
    ATTEND_DTYPE_I8,
    ATTEND_DTYPE_U16,
    ATTEND_DTYPE_I16,
    ATTEND_DTYPE_F16,
    ATTEND_DTYPE_BF16,
    ATTEND_DTYPE_U32,
    ATTEND_DTYPE_I32,
    ATTEND_DTYPE_F32,
    ATTEND_DTYPE_U64,
    ATTEND_DTYPE_I64,
    ATTEND_DTYPE_F64,
    ATTEND_DTYPE_COUNT
} attend_dtype;

/* Name used in safetensors headers ("F32", "BOOL", ...). */
const char *attend_dtype_name(attend_dtype dt);
/* Bytes per element. */
size_t attend_dtype_size(attend_dtype dt);

#define ATTEND_ST_MAX_DIMS 8

/* One tensor of an open safetensors file. */
typedef struct {
    const char *name;
    attend_dtype dtype;
    size_t ndim;
    size_t shape[ATTEND_ST_MAX_DIMS];
    size_t numel;
    const void *data; /* little-endian, aligned for dtype; owned by the file */
    size_t nbytes;
} attend_st_tensor;

/* A safetensors file read and validated in full (opaque). */
typedef struct attend_st_file attend_st_file;

/* Reads and validates path with every rule of the reference reader (header
 * size, UTF-8 JSON, dtypes, overflow-safe shapes, no gaps, overlaps,
 * duplicates or trailing bytes). On failure returns non-OK with a message
 * naming the file and the byte offset or tensor. */
attend_status attend_st_open(attend_st_file **out, const char *path, attend_error *err);

/* Same, from a memory buffer (copied); name is used in messages. */
attend_status attend_st_open_memory(attend_st_file **out, const void *buf, size_t len,
                                    const char *name, attend_error *err);

/* Frees the file and everything it returned. NULL is fine. */
void attend_st_close(attend_st_file *f);

/* Number of tensors, and the i-th in file order of data offsets. */
size_t attend_st_count(const attend_st_file *f);
const attend_st_tensor *attend_st_at(const attend_st_file *f, size_t i);

/* Tensor by name, or NULL. */
const attend_st_tensor *attend_st_find(const attend_st_file *f, const char *name);

/* A __metadata__ value by key, or NULL. */
const char *attend_st_meta(const attend_st_file *f, const char *key);
/* Number of metadata entries and the i-th key/value. */
size_t attend_st_meta_count(const attend_st_file *f);
void attend_st_meta_at(const attend_st_file *f, size_t i, const char **key, const char **value);

/* Looks up name and checks it is F32 with the given shape (ndim dims from
 * shape); on failure the message names the file, tensor, expected and found
 * shape/dtype. Returns the (aligned) data through *data. */
attend_status attend_st_get_f32(const attend_st_file *f, const char *name, size_t ndim,
                                const size_t *shape, const float **data, attend_error *err);

/* As attend_st_get_f32 for a tensor of F32, F16 or BF16 (weights saved in
 * half precision); *t receives it. */
attend_status attend_st_get_floats(const attend_st_file *f, const char *name, size_t ndim,
                                   const size_t *shape, const attend_st_tensor **t,
                                   attend_error *err);
/* Copies t (F32, F16 or BF16) into out (t->numel floats) as float32,
 * exactly; a NaN or infinity in it is ATTEND_ERR_NUMERIC naming the index. */
attend_status attend_st_copy_f32(const attend_st_tensor *t, float *out, attend_error *err);

/* A writer collecting tensors and metadata, then saving atomically. */
typedef struct attend_st_writer attend_st_writer;

/* New empty writer, or NULL when out of memory. */
attend_st_writer *attend_st_writer_new(void);
/* Frees the writer (not the tensor data it points to). */
void attend_st_writer_free(attend_st_writer *w);
/* Adds a tensor; data must stay valid until the writer is saved. Copies name. */
attend_status attend_st_writer_add(attend_st_writer *w, const char *name, attend_dtype dtype,
                                   size_t ndim, const size_t *shape, const void *data,
                                   attend_error *err);
/* Adds a __metadata__ entry (copied). */
attend_status attend_st_writer_meta(attend_st_writer *w, const char *key, const char *value,
                                    attend_error *err);
/* Writes path atomically: temp file in the same directory, fsync, rename,
 * fsync the directory. On failure the previous file at path is untouched.
 * Temp files of earlier saves to path whose process is gone (killed before
 * the rename) are removed first; see docs/reliability.md. */
attend_status attend_st_writer_save(attend_st_writer *w, const char *path, attend_error *err);

/* ------------------------------------------------------------------------ */
/* One module on tensors from files (attend op): checks against PyTorch     */
/* ------------------------------------------------------------------------ */

typedef struct {
    size_t heads;                 /* H (required) */
    int causal;                   /* mha only: causal mask */
    attend_activation activation; /* encoder-layer only */
    int norm_first;               /* encoder-layer only */
    float layer_norm_eps;         /* encoder-layer only; default 1e-5 */
} attend_op_options;

/* nn.MultiheadAttention (batch_first) on the tensors of input_path with the
 * weights of weights_path; writes output, attn_weights and, when the input
 * holds grad_output, grad_query [grad_key grad_value] and grad.NAME. */
attend_status attend_op_mha(const char *weights_path, const char *input_path,
                            const char *out_path, const attend_op_options *opt,
                            attend_error *err);

/* nn.TransformerEncoderLayer (batch_first, dropout off) likewise: reads src,
 * optional src_key_padding_mask and grad_output; writes output, and
 * grad_src and grad.NAME when grad_output is given. */
attend_status attend_op_encoder_layer(const char *weights_path, const char *input_path,
                                      const char *out_path, const attend_op_options *opt,
                                      attend_error *err);

/* ------------------------------------------------------------------------ */
/* Text classifier                                                          */
/* ------------------------------------------------------------------------ */

/* Positional encoding added to the token embeddings. */
typedef enum {
    ATTEND_POS_LEARNED = 0,   /* a trained (max_len,E) table (the default) */
    ATTEND_POS_SINUSOIDAL,    /* Vaswani et al.'s fixed sin/cos table */
    ATTEND_POS_NONE           /* no position information */
} attend_pos_kind;

/* How token states become one vector per text. */
typedef enum {
    ATTEND_POOL_MEAN = 0, /* mean over real tokens (padding excluded) */
    ATTEND_POOL_CLS,      /* the state of a <cls> token put first */
    ATTEND_POOL_MAX,      /* per-dimension max over real tokens */
    ATTEND_POOL_POOLER    /* BERT's pooler: tanh(dense(state of [CLS])); BERT models with one */
} attend_pool_kind;

#define ATTEND_MAX_HEAD_HIDDEN 4
#define ATTEND_MAX_LAYERS 64

/* Architectures a model file can hold. */
typedef enum {
    ATTEND_ARCH_CLASSIFIER = 0, /* the from-scratch classifier ("attend.classifier.v1") */
    ATTEND_ARCH_BERT = 1        /* a BERT-family encoder (Hugging Face folder, or fine-tuned) */
} attend_arch;

/* Architecture of a classifier: embedding + positions, encoder stack,
 * pooling, optional hidden layers, linear layer to the classes. */
typedef struct {
    attend_arch arch;       /* default ATTEND_ARCH_CLASSIFIER */
    size_t vocab_size;      /* V, special tokens included */
    size_t num_classes;     /* K */
    size_t d_model;         /* E (default 64) */
    size_t nhead;           /* H (default 8) */
    size_t num_layers;      /* default 2 */
    size_t dim_feedforward; /* F (default 256) */
    size_t max_len;         /* tokens per text, longer texts are cut (default 128) */
    attend_pos_kind pos;    /* default learned */
    attend_pool_kind pool;  /* default mean */
    size_t n_hidden;        /* hidden layers in the head (default 0) */
    size_t hidden[ATTEND_MAX_HEAD_HIDDEN];
    attend_activation activation; /* default relu */
    int norm_first;         /* default 0 (post-norm) */
    float layer_norm_eps;   /* default 1e-5 */
    float dropout;          /* default 0.1 */
    /* ---- BERT-family encoders (ATTEND_ARCH_BERT) only; 0 for the classifier.
     * For BERT: num_classes 0 = an encoder without a classification head;
     * max_len = tokens per text with [CLS] and [SEP] (at most max_positions);
     * pos learned, norm_first 0, n_hidden 0; dropout = hidden_dropout_prob. */
    size_t max_positions;   /* position rows (max_position_embeddings) */
    size_t type_vocab_size; /* token-type rows */
    int pooler;             /* 1: has the pooler dense (pooler.dense.*) */
    float attn_dropout;     /* attention_probs_dropout_prob */
} attend_model_config;

/* Fills the defaults listed above (vocab_size and num_classes 0). */
void attend_model_config_default(attend_model_config *cfg);

/* Checks ranges and divisibility; fills err with the offending field. */
attend_status attend_model_config_check(const attend_model_config *cfg, attend_error *err);

/* A model: configuration, weights, tokenizer and labels (opaque). Once
 * loaded it is immutable: every call below takes it const and may run on
 * any number of threads at once, each with its own attend_context. */
typedef struct attend_model attend_model;

/* Loads and fully validates a model file (safetensors with attend's
 * __metadata__). Never trusts sizes in the file. The file is mapped
 * read-only and the weights are used where they lie (no copy), so a
 * loaded model costs about its file's size in memory. */
attend_status attend_model_load(attend_model **out, const char *path, attend_error *err);

/* Frees a model. NULL is fine. Free every context made from it first. */
void attend_model_free(attend_model *m);

/* The model's configuration (NULL for a NULL model). */
const attend_model_config *attend_model_get_config(const attend_model *m);

/* Name of the architecture ("classifier", "bert"). */
const char *attend_arch_name(attend_arch arch);

/* Number of classes and the name of class i (0 and NULL for a NULL model). */
size_t attend_model_num_labels(const attend_model *m);
const char *attend_model_label(const attend_model *m, size_t i);

/* Number of tensors, and the name, dims and shape of tensor i (in the
 * order of the model file); shape has room for 2 dims. 0 / ATTEND_ERR_ARG
 * for a NULL model or i out of range. */
size_t attend_model_num_tensors(const attend_model *m);
attend_status attend_model_tensor(const attend_model *m, size_t i, const char **name,
                                  size_t *ndim, size_t shape[2]);

/* Total number of parameters (floats). */
size_t attend_model_num_params(const attend_model *m);

/* Size of the vocabulary, special tokens included, and the token of an id
 * (NULL when out of range). */
size_t attend_model_vocab_size(const attend_model *m);
const char *attend_model_token(const attend_model *m, int32_t id);

/* The model file's "provenance" (data, seed, threads, precision, version)
 * or "training" (settings and results) record as JSON text, or NULL. */
const char *attend_model_meta(const attend_model *m, const char *key);

/* Per-thread state for running a model: token buffers, activations and the
 * tokenizer's scratch, grown to the largest input seen and reused. One
 * context per thread; a context is used with the model it was made from. */
typedef struct attend_context attend_context;

/* A new context for m (which must outlive it). */
attend_status attend_context_new(attend_context **out, const attend_model *m,
                                 attend_error *err);
/* Frees a context. NULL is fine. */
void attend_context_free(attend_context *ctx);

/* Classifies one UTF-8 text: probs (K) receives the class probabilities and
 * *n_tokens (may be NULL) the tokens used. A text with no tokens is not an
 * error: *n_tokens = 0 and every probability is 0 (a BERT model classifies
 * it as [CLS] [SEP], as transformers does). Invalid UTF-8 is
 * ATTEND_ERR_FORMAT; a NULL model (as a failed load leaves it), a context
 * made for another model, or an encoder without a classification head (a
 * BERT folder's BertModel) is ATTEND_ERR_ARG. */
attend_status attend_classify(const attend_model *m, attend_context *ctx, const char *text,
                              size_t len, float *probs, size_t *n_tokens, attend_error *err);

/* Classifies count texts at once (texts[i] of lens[i] bytes): probs
 * (count,K) row i for text i, n_tokens (count) may be NULL. The texts are
 * run in batches of similar length, which is faster than one at a time.
 * A text that fails (invalid UTF-8) fails the call, naming its index. */
attend_status attend_classify_batch(const attend_model *m, attend_context *ctx,
                                    const char *const *texts, const size_t *lens, size_t count,
                                    float *probs, size_t *n_tokens, attend_error *err);

/* The k most probable of K labels, most probable first (ties: the lower
 * label index first): order (room for K indices) receives their indices
 * in order[0..k). k <= K. */
void attend_top_labels(const float *probs, size_t K, size_t k, size_t *order);

/* Width of the model's text embedding (its pooled vector; d_model). */
size_t attend_model_embed_dim(const attend_model *m);

/* The text's embedding: the pooled vector of its token states, as the
 * model pools them (out: attend_model_embed_dim floats), divided by its
 * length when normalize is set (v / max(|v|, 1e-12), as
 * sentence-transformers' Normalize). A BERT model pools with its folder's
 * pooling (attend_model_embed_pool) and gives sentence-transformers'
 * vectors; an empty text is [CLS] [SEP] there, as sentence-transformers
 * embeds it. For a classifier a text without tokens gives zeros. Either
 * way *n_tokens counts the text's own tokens (0 for an empty text). */
attend_status attend_embed(const attend_model *m, attend_context *ctx, const char *text,
                           size_t len, int normalize, float *out, size_t *n_tokens,
                           attend_error *err);

/* The same for count texts (out (count, embed_dim)), in batches of similar
 * length. */
attend_status attend_embed_batch(const attend_model *m, attend_context *ctx,
                                 const char *const *texts, const size_t *lens, size_t count,
                                 int normalize, float *out, size_t *n_tokens, attend_error *err);

/* ---- Pretrained encoders (BERT family): settings read from a model folder ----
 * attend_model_load also accepts a Hugging Face model folder (a directory):
 * config.json, model.safetensors, vocab.txt and the tokenizer's settings,
 * plus sentence-transformers' modules.json, 1_Pooling/config.json and
 * sentence_bert_config.json when present (see docs in src/model/hf_folder.c).
 * The setters below change how the model runs; call them before any context
 * is made from the model (a loaded model is otherwise read-only). */

/* Tokens per text, special tokens included (BERT: [CLS] ... [SEP]): the
 * folder's max_seq_length, else max_position_embeddings. */
size_t attend_model_max_len(const attend_model *m);
/* Sets it: 2 .. max_position_embeddings for a BERT model; a classifier's
 * is fixed by its position table (ATTEND_ERR_ARG unless unchanged). */
attend_status attend_model_set_max_len(attend_model *m, size_t max_len, attend_error *err);

/* How attend_embed pools (a folder's sentence-transformers pooling, else
 * mean; for attend classifiers their own pooling), and whether the folder's
 * pipeline normalises (a Normalize module): the CLI's default. */
attend_pool_kind attend_model_embed_pool(const attend_model *m);
int attend_model_embed_normalize(const attend_model *m);
/* Sets the embedding's pooling. cls needs a first token that is [CLS]
 * (BERT, or a classifier trained with cls pooling); pooler needs the
 * pooler weights. The classification head keeps its own pooling. */
attend_status attend_model_set_embed_pool(attend_model *m, attend_pool_kind pool,
                                          attend_error *err);

/* Writes a BERT classifier whose head reads the pooler (attend train --init
 * --pool pooler) as a Hugging Face folder that transformers'
 * AutoModelForSequenceClassification and AutoTokenizer load: config.json,
 * model.safetensors, vocab.txt, tokenizer_config.json,
 * special_tokens_map.json (dir is created). Any other model is
 * ATTEND_ERR_ARG naming what has no transformers equivalent. */
attend_status attend_model_export_hf(const attend_model *m, const char *dir, attend_error *err);

/* The token ids the model reads for a text, special tokens included and
 * cut at its maximum length: at most max_ids are written into ids, *n of
 * them; *n_total (may be NULL) receives how many the whole text would have
 * (more than *n when it was cut). */
attend_status attend_tokenize(const attend_model *m, attend_context *ctx, const char *text,
                              size_t len, int32_t *ids, size_t max_ids, size_t *n,
                              size_t *n_total, attend_error *err);

#ifdef __cplusplus
}
#endif
#endif /* ATTEND_H */
