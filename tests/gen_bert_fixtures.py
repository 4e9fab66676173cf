#!/usr/bin/env python3
"""Generate attend's Hugging Face BERT parity fixtures.

Usage:  python3 tests/gen_bert_fixtures.py OUTDIR          (generate, then verify)
        python3 tests/gen_bert_fixtures.py OUTDIR --verify (verify only)

Needs torch, transformers (tokenizers), safetensors, numpy and
sentence-transformers (the last only for the pooling check of the
verification). The committed fixtures live in tests/hf_fixtures/bert and are
described, with the versions that made them, in that directory's README.md.

Each case is a folder as `save_pretrained` writes it (config.json,
model.safetensors, tokenizer.json, tokenizer_config.json) plus vocab.txt and:

  inputs.safetensors    input_ids, attention_mask, [token_type_ids], labels (I64)
  expected.safetensors  hidden states, attentions, poolings, logits, loss and
                        the gradient of every parameter of
                        BertForSequenceClassification (F32)
  head.safetensors      classifier.weight/bias, only where the folder holds a
                        plain BertModel (which has no classifier)
  texts.json            the texts the input ids were tokenized from

The weights are random (seeded) float32 values, with every parameter
non-trivial: N(0, 0.2^2) for weights, biases and embeddings, 1 + N(0, 0.2^2)
for LayerNorm weights. For the F16 and BF16 cases the random values are first
rounded to that type, so the stored weights upcast to float32 are exactly the
weights the expected values were computed with.

Expected values are computed in float64 (the float32 weights converted
exactly), eager attention, eval mode (no dropout, also for the gradients), and
stored as float32. Before anything is stored, transformers' forward is
checked against a plain-torch reimplementation (ref_forward below) to 1e-10,
so the conventions written in the README are the ones transformers follows.
The verification at the end reloads every folder with transformers in
float32 (from_pretrained, as a user would) and compares every stored tensor.
"""
import argparse
import copy
import json
import math
import os
import random
import shutil
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import safe_open
import struct

import transformers
from transformers import (AutoModel, AutoTokenizer, BertConfig, BertForSequenceClassification,
                          BertTokenizer)

# ---------------------------------------------------------------------------
# safetensors writer: the library writes __metadata__ in hash order, so files
# would differ from run to run; this one keeps the order given.
# ---------------------------------------------------------------------------

_ST_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
              torch.int64: "I64"}


def save_st(path, tensors, metadata=None):
    """tensors: dict name -> torch tensor (written in dict order)."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        # Raw little-endian bytes of any dtype (bf16 has no numpy type).
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _ST_DTYPES[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    hjson = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)


# ---------------------------------------------------------------------------
# Vocabulary and texts
# ---------------------------------------------------------------------------

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCT = [".", ",", "!", "?", "'", "-"]
CJK = ["水", "山"]
PIECES = ["##s", "##ing", "##ed", "##er", "##ly"]
WORDS = """the a cat dog sat on mat run walk quick brown fox over lazy jump bird sing tree
house blue red green small big old new day night time good read book write play music cafe
naive resume facade river stone light dark cold warm rain snow wind sun moon star sea ship
road car train city town field hill lake bread milk tea cup table chair door window wall
floor garden flower leaf root seed grow fall open close talk listen look see hear think
know learn teach help work rest sleep wake eat drink cook wash clean build break fix move
stay go come""".split()
# Words written with accents in the texts; lower-casing strips the accents,
# so they must come out as the plain vocabulary word.
ACCENTED = {"cafe": "Café", "naive": "naïve", "resume": "RÉSUMÉ", "facade": "façade"}
UNKNOWN = ["zebra", "xylophone", "quartz", "火"]
SUFFIX_OK = {"##s": ["cat", "dog", "bird", "tree", "star", "ship", "road", "car", "book"],
             "##ing": ["walk", "sing", "read", "play", "jump", "talk", "look", "eat", "cook"],
             "##ed": ["walk", "jump", "play", "look", "help", "work", "cook", "fix"],
             "##er": ["walk", "play", "read", "teach", "work", "build"],
             "##ly": ["quick", "warm", "cold", "dark"]}


def make_vocab(size):
    """SPECIALS, punctuation, two CJK characters, five ##pieces, then words:
    exactly `size` tokens (id = line number of vocab.txt)."""
    head = SPECIALS + PUNCT + CJK + PIECES
    n_words = size - len(head)
    assert 0 < n_words <= len(WORDS), size
    return head + WORDS[:n_words]


def make_text(rng, vocab, n):
    """A text of n pieces made of the vocabulary's words, with capitals,
    suffixes (split into ##pieces), accents, punctuation, CJK characters and
    a few unknown words, so the tokenizer and the embeddings are exercised."""
    words = [w for w in vocab if w.isalpha() and w.isascii()]
    out = []
    for _ in range(n):
        r = rng.random()
        w = rng.choice(words)
        if r < 0.12:
            sfx = rng.choice([s for s in PIECES if s in vocab])
            bases = [b for b in SUFFIX_OK[sfx] if b in vocab]
            if bases:
                w = rng.choice(bases) + sfx[2:]
        elif r < 0.20:
            w = w.capitalize()
        elif r < 0.25 and any(a in vocab for a in ACCENTED):
            w = ACCENTED[rng.choice([a for a in ACCENTED if a in vocab])]
        elif r < 0.30:
            w = rng.choice(UNKNOWN)
        elif r < 0.34:
            w = rng.choice(CJK) + rng.choice(CJK)
        out.append(w)
        if rng.random() < 0.15:
            out[-1] += rng.choice(PUNCT[:5])
    return " ".join(out)


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

# rows: words per text; pairs: words per second text (token types 0/1).
# pad_to_max: pad every row to max_position_embeddings (else to the longest).
# save: "seqcls" = BertForSequenceClassification (`bert.` prefix, classifier
# in the folder); "base" = plain BertModel names + head.safetensors;
# "legacy" = "base" with LayerNorm.gamma / LayerNorm.beta in the file.
CASES = [
    dict(name="e12_h3_l2_pairs", seed=1,
         desc="E=12 H=3 (head dim 4), 2 layers, F=28, eps 1e-12, sentence pairs (token types "
              "0/1), every row padded to max_position_embeddings=16, one row truncated to "
              "the full length; BertForSequenceClassification naming (bert. prefix)",
         hidden=12, heads=3, layers=2, inter=28, eps=1e-12, act="gelu", vocab=64, max_pos=16,
         type_vocab=2, labels=3, rows=[4, 2, 20], pairs=[3, 1, 12], pad_to_max=True,
         save="seqcls", dtype="float32"),
    dict(name="e20_h4_l3_base", seed=2,
         desc="E=20 H=4 (head dim 5), 3 layers, F=36, eps 1e-5, single texts with token "
              "types passed (all 0), B=4 right-padded to the longest, one row almost all "
              "padding (4 tokens, 20 pads); one row at the full length 24 (truncated); plain "
              "BertModel naming + head.safetensors",
         hidden=20, heads=4, layers=3, inter=36, eps=1e-5, act="gelu", vocab=80, max_pos=24,
         type_vocab=2, labels=2, rows=[9, 1, 14, 6], pairs=None, pad_to_max=False,
         save="base", dtype="float32"),
    dict(name="e24_h2_l1_no_token_types", seed=3,
         desc="E=24 H=2 (head dim 12), 1 layer, F=40, eps 1e-7, type_vocab_size 1 and no "
              "token_type_ids in inputs.safetensors (the model's default: all 0); one row at "
              "the full length max_position_embeddings=20",
         hidden=24, heads=2, layers=1, inter=40, eps=1e-7, act="gelu", vocab=100, max_pos=20,
         type_vocab=1, labels=4, rows=[30, 7], pairs=None, pad_to_max=False,
         no_token_types=True, save="seqcls", dtype="float32"),
    dict(name="e64_h2_hd32", seed=4,
         desc="E=64 H=2 (head dim 32), 1 layer, F=96, eps 1e-12, pairs, B=2",
         hidden=64, heads=2, layers=1, inter=96, eps=1e-12, act="gelu", vocab=50, max_pos=32,
         type_vocab=2, labels=2, rows=[8, 3], pairs=[6, 2], pad_to_max=False,
         save="seqcls", dtype="float32"),
    dict(name="legacy_gamma_beta", seed=5,
         desc="E=16 H=4, 2 layers, F=32, eps 1e-12; model.safetensors uses the old "
              "LayerNorm.gamma / LayerNorm.beta names and plain BertModel naming "
              "(+ head.safetensors)",
         hidden=16, heads=4, layers=2, inter=32, eps=1e-12, act="gelu", vocab=70, max_pos=24,
         type_vocab=2, labels=2, rows=[5, 11, 2], pairs=None, pad_to_max=False,
         save="legacy", dtype="float32"),
    dict(name="f16_weights", seed=6,
         desc="E=16 H=2, 2 layers, F=24, eps 1e-12; saved with dtype float16 (every tensor "
              "of model.safetensors is F16); expected values from the F16 weights upcast to "
              "float32 exactly",
         hidden=16, heads=2, layers=2, inter=24, eps=1e-12, act="gelu", vocab=60, max_pos=20,
         type_vocab=2, labels=3, rows=[6, 12, 3], pairs=None, pad_to_max=False,
         save="seqcls", dtype="float16"),
    dict(name="bf16_weights", seed=7,
         desc="E=16 H=4, 2 layers, F=40, eps 1e-12, pairs; saved with dtype bfloat16 (every "
              "tensor BF16); expected values from the BF16 weights upcast to float32 exactly",
         hidden=16, heads=4, layers=2, inter=40, eps=1e-12, act="gelu", vocab=60, max_pos=24,
         type_vocab=2, labels=2, rows=[5, 2], pairs=[4, 6], pad_to_max=False,
         save="seqcls", dtype="bfloat16"),
    dict(name="gelu_new_act", seed=8,
         desc="E=12 H=2 (head dim 6), 2 layers, F=20, eps 1e-12, hidden_act \"gelu_new\" "
              "(tanh approximation, not BERT's erf GELU): for a loader that either supports "
              "it or refuses it by name",
         hidden=12, heads=2, layers=2, inter=20, eps=1e-12, act="gelu_new", vocab=56,
         max_pos=16, type_vocab=2, labels=2, rows=[4, 9], pairs=None, pad_to_max=False,
         save="seqcls", dtype="float32"),
]

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


def make_config(c):
    return BertConfig(
        vocab_size=c["vocab"], hidden_size=c["hidden"], num_hidden_layers=c["layers"],
        num_attention_heads=c["heads"], intermediate_size=c["inter"], hidden_act=c["act"],
        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1,
        max_position_embeddings=c["max_pos"], type_vocab_size=c["type_vocab"],
        layer_norm_eps=c["eps"], pad_token_id=0, num_labels=c["labels"],
        problem_type="single_label_classification")


def randomize(model, seed, dtype):
    """Every parameter random; rounded through dtype so the stored weights
    are exactly the ones used."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            r = torch.randn(p.shape, generator=gen, dtype=torch.float32) * 0.2
            if name.endswith("LayerNorm.weight"):
                r = r + 1.0
            p.copy_(r.to(dtype).to(torch.float32))


# ---------------------------------------------------------------------------
# A plain-torch BERT, to pin down the conventions transformers follows
# ---------------------------------------------------------------------------

def ref_forward(p, cfg, ids, mask, types):
    """p: parameters by BertForSequenceClassification name (float64).
    Returns hidden states (list), attentions (list), pooler output, logits."""
    B, T = ids.shape
    E, H = cfg.hidden_size, cfg.num_attention_heads
    D = E // H
    eps = cfg.layer_norm_eps
    if cfg.hidden_act == "gelu":
        act = F.gelu                                  # exact erf form
    elif cfg.hidden_act == "gelu_new":
        def act(x):
            return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) *
                                               (x + 0.044715 * x ** 3)))
    else:
        raise ValueError(cfg.hidden_act)

    def ln(x, pre):
        return F.layer_norm(x, (E,), p[pre + ".weight"], p[pre + ".bias"], eps)

    def lin(x, pre):
        return x @ p[pre + ".weight"].T + p[pre + ".bias"]

    if types is None:
        types = torch.zeros_like(ids)
    pos = torch.arange(T)                             # 0..T-1 whatever the padding
    x = (p["bert.embeddings.word_embeddings.weight"][ids]
         + p["bert.embeddings.position_embeddings.weight"][pos][None]
         + p["bert.embeddings.token_type_embeddings.weight"][types])
    x = ln(x, "bert.embeddings.LayerNorm")
    hs, atts = [x], []
    # 0 where the key is a token, finfo.min where it is padding; added to the
    # scaled scores of every query (padded queries included).
    bias = torch.where(mask.bool(), torch.zeros((), dtype=x.dtype),
                       torch.tensor(torch.finfo(x.dtype).min, dtype=x.dtype))[:, None, None, :]
    for i in range(cfg.num_hidden_layers):
        pre = f"bert.encoder.layer.{i}."
        q = lin(x, pre + "attention.self.query").view(B, T, H, D).transpose(1, 2)
        k = lin(x, pre + "attention.self.key").view(B, T, H, D).transpose(1, 2)
        v = lin(x, pre + "attention.self.value").view(B, T, H, D).transpose(1, 2)
        s = (q @ k.transpose(-1, -2)) * D ** -0.5 + bias
        w = torch.softmax(s, dim=-1)
        atts.append(w)
        ctx = (w @ v).transpose(1, 2).reshape(B, T, E)
        h = ln(x + lin(ctx, pre + "attention.output.dense"), pre + "attention.output.LayerNorm")
        f = lin(act(lin(h, pre + "intermediate.dense")), pre + "output.dense")
        x = ln(h + f, pre + "output.LayerNorm")
        hs.append(x)
    pooled = torch.tanh(lin(x[:, 0], "bert.pooler.dense"))
    logits = lin(pooled, "classifier")
    return hs, atts, pooled, logits


def is_zero_grad(name):
    """Gradients that are exactly 0 in exact arithmetic (stored as 0)."""
    return name.startswith("grad.") and name.endswith(".attention.self.key.bias")


def max_rel(got, exp):
    """max |got - exp| / max(max |exp|, 1e-6), the comparison rule of the README."""
    got = np.asarray(got, dtype=np.float64)
    exp = np.asarray(exp, dtype=np.float64)
    if got.shape != exp.shape:
        return float("inf")
    if got.size == 0:
        return 0.0
    if not np.isfinite(got).all():
        return float("inf")
    return float(np.abs(got - exp).max() / max(float(np.abs(exp).max()), 1e-6))


# ---------------------------------------------------------------------------
# Poolings (sentence-transformers' definitions, written out)
# ---------------------------------------------------------------------------

def poolings(last, mask):
    """last (B,T,E), mask (B,T) -> dict of (B,E)."""
    m = mask.to(last.dtype)[:, :, None]
    summed = (last * m).sum(dim=1)
    count = torch.clamp(m.sum(dim=1), min=1e-9)
    mean = summed / count
    norm = mean / torch.clamp(mean.norm(dim=-1, keepdim=True), min=1e-12)
    mx = last.masked_fill(m == 0, float("-inf")).max(dim=1).values
    return {"mean_pooled": mean, "mean_pooled_normalized": norm, "cls_pooled": last[:, 0],
            "max_pooled": mx}


# ---------------------------------------------------------------------------
# One case
# ---------------------------------------------------------------------------

def tokenize_case(c, folder, rng):
    vocab = make_vocab(c["vocab"])
    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("".join(t + "\n" for t in vocab))
    # transformers 5 ignores a vocab_file= argument (every token becomes
    # [UNK]); vocab= takes the path.
    tok = BertTokenizer(vocab=os.path.join(folder, "vocab.txt"), do_lower_case=True,
                        model_max_length=c["max_pos"])
    texts = [make_text(rng, vocab, n) for n in c["rows"]]
    pairs = [make_text(rng, vocab, n) for n in c["pairs"]] if c["pairs"] else None
    padding = "max_length" if c["pad_to_max"] else "longest"
    enc = tok(texts, pairs, padding=padding, truncation=True, max_length=c["max_pos"],
              return_tensors="pt")
    tok.save_pretrained(folder)
    tj = {"texts": texts, "text_pairs": pairs, "max_length": c["max_pos"], "padding": padding,
          "truncation": "longest_first"}
    with open(os.path.join(folder, "texts.json"), "w", encoding="utf-8") as f:
        json.dump(tj, f, ensure_ascii=False, indent=1)
        f.write("\n")
    return enc


def gen_case(outdir, c):
    folder = os.path.join(outdir, c["name"])
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    rng = random.Random(1000 + c["seed"])
    enc = tokenize_case(c, folder, rng)
    ids, mask = enc["input_ids"], enc["attention_mask"]
    types = None if c.get("no_token_types") else enc["token_type_ids"]
    B, T = ids.shape
    labels = torch.tensor([rng.randrange(c["labels"]) for _ in range(B)], dtype=torch.long)

    cfg = make_config(c)
    torch.manual_seed(c["seed"])
    model = BertForSequenceClassification(cfg)
    model.set_attn_implementation("eager")
    randomize(model, c["seed"], DTYPES[c["dtype"]])
    model.eval()

    # --- expected values in float64 ---
    m64 = copy.deepcopy(model).double().eval()
    kw = dict(input_ids=ids, attention_mask=mask)
    if types is not None:
        kw["token_type_ids"] = types
    with torch.no_grad():
        base = m64.bert(**kw, output_hidden_states=True, output_attentions=True)
    out = m64(**kw, labels=labels, output_hidden_states=True)
    out.loss.backward()
    L = cfg.num_hidden_layers
    assert len(base.hidden_states) == L + 1 and len(base.attentions) == L

    # transformers against the plain reimplementation, and the task model
    # against the base model.
    p64 = {n: q.detach() for n, q in m64.named_parameters()}
    with torch.no_grad():
        r_hs, r_att, r_pool, r_logits = ref_forward(p64, cfg, ids, mask, types)
        r_loss = F.cross_entropy(r_logits, labels)
    checks = [(f"hidden_states.{i}", r_hs[i], base.hidden_states[i]) for i in range(L + 1)]
    checks += [(f"attentions.{i}", r_att[i], base.attentions[i]) for i in range(L)]
    checks += [("pooler_output", r_pool, base.pooler_output), ("logits", r_logits, out.logits),
               ("loss", r_loss, out.loss),
               ("task hidden", out.hidden_states[-1], base.last_hidden_state)]
    for tag, a, b in checks:
        d = max_rel(a.detach().numpy(), b.detach().numpy())
        assert d <= 1e-10, f"{c['name']}: reference vs transformers {tag}: {d:.3g}"

    exp = {}
    for i, h in enumerate(base.hidden_states):
        exp[f"hidden_states.{i}"] = h
    exp["last_hidden_state"] = base.last_hidden_state
    exp["pooler_output"] = base.pooler_output
    for k, v in poolings(base.last_hidden_state, mask).items():
        exp[k] = v
    for i, a in enumerate(base.attentions):
        exp[f"attentions.{i}"] = a
    exp["logits"] = out.logits
    exp["loss"] = out.loss.reshape(())
    for n, q in m64.named_parameters():
        assert q.grad is not None, n
        exp["grad." + n] = q.grad
    # The key bias adds the same q.b_k to every score of a query, which the
    # softmax ignores: its gradient is 0 in exact arithmetic (float64 leaves
    # ~1e-17). Store the exact 0; see is_zero_grad() for the comparison.
    for n in list(exp):
        if is_zero_grad(n):
            g, gw = exp[n], exp[n[: -len("bias")] + "weight"]
            assert float(g.abs().max()) <= 1e-12 * float(gw.abs().max()), (n, g)
            exp[n] = torch.zeros_like(g)
    exp32 = {k: v.detach().to(torch.float32) for k, v in exp.items()}
    for k, v in exp32.items():
        assert torch.isfinite(v).all(), (c["name"], k)

    meta = {"description": c["desc"], "hidden_act": c["act"], "weights_dtype": c["dtype"],
            "model_class": "BertModel" if c["save"] in ("base", "legacy")
            else "BertForSequenceClassification",
            "token_type_ids": "absent (default 0)" if types is None else "given",
            "attn_implementation": "eager", "precision": "float64, stored as F32",
            "transformers": transformers.__version__, "torch": torch.__version__}
    save_st(os.path.join(folder, "expected.safetensors"), exp32, metadata=meta)

    inp = {"input_ids": ids, "attention_mask": mask}
    if types is not None:
        inp["token_type_ids"] = types
    inp["labels"] = labels
    save_st(os.path.join(folder, "inputs.safetensors"),
            {k: v.to(torch.int64) for k, v in inp.items()}, metadata={"description": c["desc"]})

    # --- the model folder ---
    dt = DTYPES[c["dtype"]]
    if c["save"] == "seqcls":
        m_save = copy.deepcopy(model).to(dt)
        m_save.save_pretrained(folder)
    else:
        m_save = copy.deepcopy(model.bert).to(dt)
        m_save.save_pretrained(folder)
        head = {n: q.detach().to(torch.float32).contiguous()
                for n, q in model.classifier.named_parameters(prefix="classifier")}
        save_st(os.path.join(folder, "head.safetensors"), head,
                metadata={"format": "pt", "num_labels": str(c["labels"])})
    if c["save"] == "legacy":
        path = os.path.join(folder, "model.safetensors")
        with safe_open(path, framework="pt") as f:
            sd = {k: f.get_tensor(k) for k in f.keys()}
            md = f.metadata() or {}
        renamed = {}
        for k, v in sd.items():
            if k.endswith("LayerNorm.weight"):
                k = k[: -len("weight")] + "gamma"
            elif k.endswith("LayerNorm.bias"):
                k = k[: -len("bias")] + "beta"
            renamed[k] = v.contiguous()
        md.setdefault("format", "pt")
        save_st(path, renamed, metadata=md)
    print(f"{c['name']}: B={B} T={T} E={c['hidden']} H={c['heads']} L={L} "
          f"({c['save']}, {c['dtype']})")


# ---------------------------------------------------------------------------
# Verification: reload with transformers in float32, compare everything
# ---------------------------------------------------------------------------

def read_st(path):
    with safe_open(path, framework="np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, (f.metadata() or {})


def verify_case(folder, tol=1e-4):
    name = os.path.basename(folder)
    inp, _ = read_st(os.path.join(folder, "inputs.safetensors"))
    exp, meta = read_st(os.path.join(folder, "expected.safetensors"))
    ids = torch.from_numpy(inp["input_ids"])
    mask = torch.from_numpy(inp["attention_mask"])
    labels = torch.from_numpy(inp["labels"])
    types = torch.from_numpy(inp["token_type_ids"]) if "token_type_ids" in inp else None
    worst = {}

    def cmp(tag, got):
        if is_zero_grad(tag):
            # Rounding noise around 0: measured against the scale of the
            # same layer's key weight gradient.
            scale = np.abs(exp[tag[: -len("bias")] + "weight"]).max()
            d = float(np.abs(got).max() / max(float(scale), 1e-6))
        else:
            d = max_rel(got, exp[tag])
        worst[tag] = d
        return d

    # Tokenization: the folder's tokenizer reproduces input_ids.
    with open(os.path.join(folder, "texts.json"), encoding="utf-8") as f:
        tj = json.load(f)
    tok = AutoTokenizer.from_pretrained(folder)
    enc = tok(tj["texts"], tj["text_pairs"], padding=tj["padding"], truncation=True,
              max_length=tj["max_length"], return_tensors="pt")
    assert torch.equal(enc["input_ids"], ids), f"{name}: tokenizer ids differ"
    assert torch.equal(enc["attention_mask"], mask), f"{name}: tokenizer mask differs"
    if types is not None:
        assert torch.equal(enc["token_type_ids"], types), f"{name}: token types differ"

    kw = dict(input_ids=ids, attention_mask=mask)
    if types is not None:
        kw["token_type_ids"] = types
    # Base model, as a user loads it (AutoModel, float32 whatever the file's dtype).
    base = AutoModel.from_pretrained(folder, attn_implementation="eager", dtype=torch.float32)
    base.eval()
    with torch.no_grad():
        o = base(**kw, output_hidden_states=True, output_attentions=True)
    L = base.config.num_hidden_layers
    for i in range(L + 1):
        cmp(f"hidden_states.{i}", o.hidden_states[i].numpy())
    for i in range(L):
        cmp(f"attentions.{i}", o.attentions[i].numpy())
    cmp("last_hidden_state", o.last_hidden_state.numpy())
    cmp("pooler_output", o.pooler_output.numpy())

    # sentence-transformers' own Pooling / Normalize modules.
    from sentence_transformers.sentence_transformer.modules import Pooling
    for mode, tag in (("mean", "mean_pooled"), ("cls", "cls_pooled"), ("max", "max_pooled")):
        feats = {"token_embeddings": o.last_hidden_state, "attention_mask": mask}
        v = Pooling(base.config.hidden_size, pooling_mode=mode)(feats)["sentence_embedding"]
        cmp(tag, v.numpy())
        if mode == "mean":
            cmp("mean_pooled_normalized", F.normalize(v, p=2, dim=-1).numpy())

    # SDPA (transformers' default) against eager, for the report.
    sdpa = AutoModel.from_pretrained(folder, attn_implementation="sdpa", dtype=torch.float32)
    sdpa.eval()
    with torch.no_grad():
        os_ = sdpa(**kw)
    sdpa_vs_eager = max_rel(os_.last_hidden_state.numpy(), o.last_hidden_state.numpy())

    # Task model: logits, loss, gradients.
    cls = BertForSequenceClassification.from_pretrained(
        folder, attn_implementation="eager", dtype=torch.float32,
        num_labels=exp["logits"].shape[1])
    head_path = os.path.join(folder, "head.safetensors")
    if os.path.exists(head_path):
        hd, _ = read_st(head_path)
        with torch.no_grad():
            cls.classifier.weight.copy_(torch.from_numpy(hd["classifier.weight"]))
            cls.classifier.bias.copy_(torch.from_numpy(hd["classifier.bias"]))
    cls.eval()
    out = cls(**kw, labels=labels)
    out.loss.backward()
    cmp("logits", out.logits.detach().numpy())
    cmp("loss", out.loss.detach().numpy())
    names = set()
    for n, q in cls.named_parameters():
        names.add("grad." + n)
        cmp("grad." + n, q.grad.numpy())
    stored = {k for k in exp if k.startswith("grad.")}
    assert stored == names, f"{name}: gradient names differ: {sorted(stored ^ names)}"
    missing = set(exp) - set(worst)
    assert not missing, f"{name}: not verified: {sorted(missing)}"
    tag, d = max(worst.items(), key=lambda kv: kv[1])
    ok = d <= tol
    print(f"{name:28s} worst {tag:48s} {d:.3g}  sdpa-vs-eager {sdpa_vs_eager:.3g}"
          f"{'' if ok else '  FAIL'}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("outdir")
    ap.add_argument("--verify", action="store_true", help="only verify existing folders")
    args = ap.parse_args()
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    if not args.verify:
        os.makedirs(args.outdir, exist_ok=True)
        for c in CASES:
            gen_case(args.outdir, c)
    ok = True
    for c in CASES:
        ok &= verify_case(os.path.join(args.outdir, c["name"]))
    print("verification", "passed" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
