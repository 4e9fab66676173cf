/* Writes a Hugging Face BERT folder with random weights, of any shape, for
 * the tests that need a full-size model without downloading one
 * (tests/test_bert_base.sh: bert-base, 110 M parameters):
 *
 *   make_bert_folder DIR VOCAB_TXT [--hidden 768] [--layers 12] [--heads 12]
 *                    [--ff 3072] [--positions 512] [--dtype BF16|F32]
 *
 * DIR receives config.json (BertModel), tokenizer_config.json (uncased),
 * vocab.txt (a copy of VOCAB_TXT; vocab_size is its line count) and
 * model.safetensors with the names of BertForPreTraining's encoder
 * ("bert." prefix, "LayerNorm.weight"): linear weights and tables uniform
 * in +-0.0346 (standard deviation 0.02, BERT's initializer_range),
 * LayerNorm weights 1, every bias 0. Deterministic (a fixed hash of the
 * tensor and element index). Written by hand from the safetensors format
 * (8-byte little-endian header length, JSON header, raw data), so that the
 * reader under test does not check its own writer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char name[96];
    size_t rows, cols; /* cols 0: a vector of rows */
    int kind;          /* 0 random, 1 ones, 2 zeros */
} tensor;

typedef struct {
    size_t hidden, layers, heads, ff, positions, vocab;
    int bf16;
} shape;

#define MAX_TENSORS 1024

static tensor T[MAX_TENSORS];
static size_t NT;

static void add(const char *name, size_t rows, size_t cols, int kind) {
    if (NT == MAX_TENSORS) {
        fprintf(stderr, "make_bert_folder: too many tensors\n");
        exit(2);
    }
    snprintf(T[NT].name, sizeof T[NT].name, "%s", name);
    T[NT].rows = rows;
    T[NT].cols = cols;
    T[NT].kind = kind;
    NT++;
}

static void add_linear(const char *prefix, size_t out, size_t in) {
    char n[96];
    snprintf(n, sizeof n, "%s.weight", prefix);
    add(n, out, in, 0);
    snprintf(n, sizeof n, "%s.bias", prefix);
    add(n, out, 0, 2);
}

static void add_norm(const char *prefix, size_t n_) {
    char n[96];
    snprintf(n, sizeof n, "%s.LayerNorm.weight", prefix);
    add(n, n_, 0, 1);
    snprintf(n, sizeof n, "%s.LayerNorm.bias", prefix);
    add(n, n_, 0, 2);
}

static void build_tensors(const shape *s) {
    const size_t E = s->hidden;
    add("bert.embeddings.word_embeddings.weight", s->vocab, E, 0);
    add("bert.embeddings.position_embeddings.weight", s->positions, E, 0);
    add("bert.embeddings.token_type_embeddings.weight", 2, E, 0);
    add_norm("bert.embeddings", E);
    for (size_t l = 0; l < s->layers; l++) {
        char p[96], q[128];
        snprintf(p, sizeof p, "bert.encoder.layer.%zu", l);
        static const char *const qkv[3] = {"query", "key", "value"};
        for (int i = 0; i < 3; i++) {
            snprintf(q, sizeof q, "%s.attention.self.%s", p, qkv[i]);
            add_linear(q, E, E);
        }
        snprintf(q, sizeof q, "%s.attention.output.dense", p);
        add_linear(q, E, E);
        snprintf(q, sizeof q, "%s.attention.output", p);
        add_norm(q, E);
        snprintf(q, sizeof q, "%s.intermediate.dense", p);
        add_linear(q, s->ff, E);
        snprintf(q, sizeof q, "%s.output.dense", p);
        add_linear(q, E, s->ff);
        snprintf(q, sizeof q, "%s.output", p);
        add_norm(q, E);
    }
    add_linear("bert.pooler.dense", E, E);
}

static size_t numel(const tensor *t) { return t->rows * (t->cols ? t->cols : 1); }

/* a uniform value in [-1, 1) from (tensor, element) */
static float hash_uniform(uint64_t t, uint64_t i) {
    uint64_t x = t * 0x9E3779B97F4A7C15ull + i + 0x632BE59BD9B4E019ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    return (float)(x >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

static float value(size_t t, size_t i) {
    if (T[t].kind == 1) return 1.0f;
    if (T[t].kind == 2) return 0.0f;
    return 0.0346410162f * hash_uniform(t, i); /* sqrt(3) * 0.02 */
}

static int write_weights(const char *path, const shape *s) {
    const size_t esize = s->bf16 ? 2 : 4;
    size_t cap = 256 + NT * 200, len = 0, off = 0;
    char *h = malloc(cap);
    if (!h) return -1;
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":{\"format\":\"pt\"}");
    for (size_t t = 0; t < NT; t++) {
        const size_t bytes = numel(&T[t]) * esize;
        char dims[64];
        if (T[t].cols) snprintf(dims, sizeof dims, "%zu,%zu", T[t].rows, T[t].cols);
        else snprintf(dims, sizeof dims, "%zu", T[t].rows);
        len += (size_t)snprintf(h + len, cap - len,
                                ",\"%s\":{\"dtype\":\"%s\",\"shape\":[%s],\"data_offsets\":[%zu,%zu]}",
                                T[t].name, s->bf16 ? "BF16" : "F32", dims, off, off + bytes);
        off += bytes;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8) h[len++] = ' '; /* the data starts 8-byte aligned */
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(h);
        return -1;
    }
    unsigned char n8[8];
    for (int i = 0; i < 8; i++) n8[i] = (unsigned char)((uint64_t)len >> (8 * i));
    int ok = fwrite(n8, 1, 8, f) == 8 && fwrite(h, 1, len, f) == len;
    free(h);
    unsigned char buf[1 << 16];
    for (size_t t = 0; ok && t < NT; t++) {
        size_t fill = 0;
        for (size_t i = 0; i < numel(&T[t]); i++) {
            const float v = value(t, i);
            uint32_t b;
            memcpy(&b, &v, 4);
            if (s->bf16) b = (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16; /* nearest, ties to even */
            for (size_t k = 0; k < esize; k++) buf[fill++] = (unsigned char)(b >> (8 * k));
            if (fill == sizeof buf) {
                ok = fwrite(buf, 1, fill, f) == fill;
                fill = 0;
            }
        }
        if (ok && fill) ok = fwrite(buf, 1, fill, f) == fill;
    }
    return fclose(f) == 0 && ok ? 0 : -1;
}

/* copies the vocabulary and counts its lines */
static int copy_vocab(const char *src, const char *dst, size_t *lines) {
    FILE *in = fopen(src, "rb"), *out = in ? fopen(dst, "wb") : NULL;
    int c, last = '\n', ok = in && out;
    *lines = 0;
    while (ok && (c = getc(in)) != EOF) {
        if (c == '\n') (*lines)++;
        last = c;
        ok = putc(c, out) != EOF;
    }
    if (ok && last != '\n') (*lines)++;
    if (in) fclose(in);
    if (out && fclose(out) != 0) ok = 0;
    return ok ? 0 : -1;
}

static int write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    int ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static int write_configs(const char *dir, const shape *s) {
    char path[4096], text[2048];
    snprintf(path, sizeof path, "%s/config.json", dir);
    snprintf(text, sizeof text,
             "{\n  \"architectures\": [\"BertModel\"],\n  \"model_type\": \"bert\",\n"
             "  \"hidden_size\": %zu,\n  \"num_hidden_layers\": %zu,\n"
             "  \"num_attention_heads\": %zu,\n  \"intermediate_size\": %zu,\n"
             "  \"max_position_embeddings\": %zu,\n  \"vocab_size\": %zu,\n"
             "  \"type_vocab_size\": 2,\n  \"hidden_act\": \"gelu\",\n"
             "  \"hidden_dropout_prob\": 0.1,\n  \"attention_probs_dropout_prob\": 0.1,\n"
             "  \"layer_norm_eps\": 1e-12,\n  \"pad_token_id\": 0,\n  \"dtype\": \"%s\"\n}\n",
             s->hidden, s->layers, s->heads, s->ff, s->positions, s->vocab,
             s->bf16 ? "bfloat16" : "float32");
    if (write_text(path, text)) return -1;
    snprintf(path, sizeof path, "%s/tokenizer_config.json", dir);
    snprintf(text, sizeof text,
             "{\n  \"do_lower_case\": true,\n  \"model_max_length\": %zu,\n"
             "  \"tokenizer_class\": \"BertTokenizer\",\n  \"unk_token\": \"[UNK]\",\n"
             "  \"cls_token\": \"[CLS]\",\n  \"sep_token\": \"[SEP]\",\n"
             "  \"pad_token\": \"[PAD]\",\n  \"mask_token\": \"[MASK]\"\n}\n",
             s->positions);
    return write_text(path, text);
}

static size_t arg_size(const char *v) {
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (*v == '\0' || *end != '\0' || x == 0 || x > 100000) {
        fprintf(stderr, "make_bert_folder: %s: expected a size from 1 to 100000\n", v);
        exit(2);
    }
    return (size_t)x;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: make_bert_folder DIR VOCAB_TXT [--hidden N] [--layers N] [--heads N]"
                        " [--ff N] [--positions N] [--dtype BF16|F32]\n");
        return 2;
    }
    shape s = {768, 12, 12, 3072, 512, 0, 1};
    for (int i = 3; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--hidden")) s.hidden = arg_size(v);
        else if (!strcmp(a, "--layers")) s.layers = arg_size(v);
        else if (!strcmp(a, "--heads")) s.heads = arg_size(v);
        else if (!strcmp(a, "--ff")) s.ff = arg_size(v);
        else if (!strcmp(a, "--positions")) s.positions = arg_size(v);
        else if (!strcmp(a, "--dtype") && (!strcmp(v, "BF16") || !strcmp(v, "F32"))) s.bf16 = !strcmp(v, "BF16");
        else {
            fprintf(stderr, "make_bert_folder: unknown option %s %s\n", a, v);
            return 2;
        }
    }
    if (argc % 2 == 0) {
        fprintf(stderr, "make_bert_folder: %s needs a value\n", argv[argc - 1]);
        return 2;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab.txt", argv[1]);
    if (copy_vocab(argv[2], path, &s.vocab)) {
        fprintf(stderr, "make_bert_folder: cannot copy %s to %s\n", argv[2], path);
        return 1;
    }
    build_tensors(&s);
    snprintf(path, sizeof path, "%s/model.safetensors", argv[1]);
    if (write_configs(argv[1], &s) || write_weights(path, &s)) {
        fprintf(stderr, "make_bert_folder: cannot write into %s\n", argv[1]);
        return 1;
    }
    return 0;
}
