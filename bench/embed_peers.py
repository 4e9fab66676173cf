#!/usr/bin/env python3
"""The embedding peers of attend: sentence-transformers and ONNX Runtime.

    embed_peers.py --model DIR [--texts WORDNET_TSV] [--threads N] [--batch 32]
                   [--cache DIR] [--tools LIST] [--workloads LIST] [--quick]
    embed_peers.py --model DIR --write-texts DIR [--attend BIN]
                                        (write the text sets, then exit)

DIR is a sentence-transformers folder (all-MiniLM-L6-v2:
scripts/fetch_minilm.sh). Needs torch, transformers, sentence-transformers,
tokenizers, onnx, onnxruntime, numpy. Prints one TSV line per figure on stdout:

    workload <TAB> tool <TAB> threads <TAB> value <TAB> unit

workloads: short, medium, long (throughput, texts/s, batch --batch) and
latency_p50 / latency_p99 (ms, one text per call). Tools:

  sentence-transformers       SentenceTransformer(DIR).encode(texts,
                              batch_size=B) in eval mode under
                              torch.inference_mode(), torch.set_num_threads(N).
                              encode sorts the texts by length itself, pads
                              each batch to its longest text, mean-pools and
                              normalizes (the folder's pipeline).
  sentence-transformers-bf16  the same under torch.autocast("cpu", bfloat16).
  onnxruntime                 the folder's BertModel + mean pooling + L2
                              normalisation exported with torch.onnx.export
                              (TorchScript exporter, opset 17, dynamic batch
                              and sequence axes, eager attention), cached under
                              --cache; CPU execution provider,
                              intra_op_num_threads=N, inter_op_num_threads=1,
                              graph optimisation ORT_ENABLE_ALL. Tokenized with
                              the folder's tokenizer.json through `tokenizers`
                              (truncation 256, padding to the longest text of
                              the batch: tokenizer.json's own fixed padding to
                              128 is switched off), batches in the given order
                              (ONNX Runtime has no length sorting of its own).

Throughput counts everything from the list of strings to the embeddings
(tokenization included), the median of --reps runs over the whole set after
one warm-up batch. Each tool runs in its own process, so one runtime's idle
threads do not compete with the other's.

The text sets are made here, deterministically (fixed seed), from a word list
built from the glosses (column 2) of data/wordnet-nouns.tsv: words drawn by
frequency until the text has the target number of WordPiece tokens of the
model's tokenizer, [CLS] and [SEP] included: short 10-14 (about 12), medium
30-40 (about 35), long 120-128 (about 128), latency exactly 20. --write-texts
DIR writes them as DIR/{short,medium,long,latency}.txt (one text a line) so
that attend runs the same texts.
"""
import argparse
import hashlib
import itertools
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOLS = ("sentence-transformers", "sentence-transformers-bf16", "onnxruntime")
WORKLOADS = ("short", "medium", "long", "latency")
# (lowest, highest) tokens per text, [CLS] and [SEP] included.
SET_LENGTHS = {"short": (10, 14), "medium": (30, 40), "long": (120, 128), "latency": (20, 20)}
SEED = 20240607
MAX_SEQ = 256


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="sentence-transformers folder")
    ap.add_argument("--texts", default=os.path.join(ROOT, "data", "wordnet-nouns.tsv"),
                    help="WordNet TSV (label<TAB>gloss) the word list is built from")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--n", type=int, default=0,
                    help="texts per throughput set (default 1024 short/medium, 256 long)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--latency-calls", type=int, default=200)
    ap.add_argument("--cache", default=os.path.join(tempfile.gettempdir(), "attend-onnx-cache"),
                    help="where the exported .onnx model is kept")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--write-texts", metavar="DIR", help="write the text sets to DIR and exit")
    ap.add_argument("--attend", metavar="BIN",
                    help="count tokens with `BIN tokenize` instead of transformers' tokenizer "
                         "(the same ids; --write-texts then needs no Python package)")
    ap.add_argument("--quick", action="store_true",
                    help="tiny sizes (64 texts, 1 rep, 20 latency calls): a smoke run")
    ap.add_argument("--child", nargs=2, metavar=("TOOL", "TEXTDIR"), help=argparse.SUPPRESS)
    return ap.parse_args(argv)


ARGS = parse_args(sys.argv[1:])
# Before torch / onnxruntime load: the OpenMP and BLAS pools take their size
# from the environment at start-up.
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = str(max(1, ARGS.threads))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def log(msg):
    print(f"embed_peers: {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Text sets
# ---------------------------------------------------------------------------

def word_list(tsv):
    """Distinct lower-case words of the glosses seen at least 3 times, with
    their counts, most frequent first (ties alphabetical)."""
    counts = Counter()
    with open(tsv, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 2:
                counts.update(re.findall(r"[a-z]+", parts[1].lower()))
    items = sorted(((w, c) for w, c in counts.items() if c >= 3 and (len(w) >= 2 or w == "a")),
                   key=lambda wc: (-wc[1], wc[0]))
    return [w for w, _ in items], [c for _, c in items]


class AttendTokenizer:
    """The callable part of a transformers tokenizer that make_sets uses,
    answered by `attend tokenize` (which gives the same ids: test_minilm)."""

    def __init__(self, binary, model_dir):
        self.cmd = [binary, "tokenize", "--model", model_dir]

    def __call__(self, texts, add_special_tokens=True):
        if any("\n" in t or "\r" in t for t in texts):
            raise SystemExit("embed_peers: a text with a line break cannot go to attend tokenize")
        r = subprocess.run(self.cmd, input="".join(t + "\n" for t in texts), text=True,
                           capture_output=True)
        if r.returncode != 0:
            raise SystemExit(f"embed_peers: {' '.join(self.cmd)} failed: {r.stderr.strip()}")
        rows = [[int(x) for x in ln.split()] for ln in r.stdout.splitlines()]
        if len(rows) != len(texts):
            raise SystemExit(f"embed_peers: attend tokenize gave {len(rows)} lines for {len(texts)} texts")
        if not add_special_tokens:
            rows = [ids[1:-1] for ids in rows]  # drop [CLS] and [SEP]
        return {"input_ids": rows}


def make_sets(tsv, tokenizer, sizes):
    """{set name: [texts]}; tokenizer: a transformers tokenizer (pieces are
    counted with it)."""
    words, weights = word_list(tsv)
    counts = dict(zip(words, (len(x) for x in
                              tokenizer(words, add_special_tokens=False)["input_ids"])))

    def pieces(w):
        return counts[w]

    cum = list(itertools.accumulate(weights))  # what choices(weights=) builds per call
    rng = random.Random(SEED)
    sets = {}
    for name in WORKLOADS:
        lo, hi = SET_LENGTHS[name]
        texts = []
        for _ in range(sizes[name]):
            target = rng.randint(lo, hi)
            have = 3  # [CLS], [SEP] and the final "."
            out = []
            while have < target:
                w = rng.choices(words, cum_weights=cum)[0]
                c = pieces(w)
                if have + c > target:
                    if target - have == 1 and rng.random() < 0.5:
                        w, c = "a", 1
                    else:
                        continue
                out.append(w)
                have += c
            out[0] = out[0].capitalize()
            texts.append(" ".join(out) + ".")
        sets[name] = texts
    # The counts must hold for the whole text as the model tokenizes it.
    for name, texts in sets.items():
        lo, hi = SET_LENGTHS[name]
        for t, ids in zip(texts, tokenizer(texts)["input_ids"]):
            assert lo <= len(ids) <= hi, (name, len(ids), t)
    return sets


def set_sizes(args):
    if args.quick:
        return {"short": 64, "medium": 64, "long": 32, "latency": 1}
    if args.n:
        return {"short": args.n, "medium": args.n, "long": args.n, "latency": 1}
    return {"short": 1024, "medium": 1024, "long": 256, "latency": 1}


def write_sets(sets, d):
    os.makedirs(d, exist_ok=True)
    for name, texts in sets.items():
        with open(os.path.join(d, name + ".txt"), "w", encoding="utf-8", newline="\n") as f:
            for t in texts:
                f.write(t + "\n")


def read_sets(d):
    sets = {}
    for name in WORKLOADS:
        with open(os.path.join(d, name + ".txt"), encoding="utf-8") as f:
            sets[name] = [ln.rstrip("\n") for ln in f]
    return sets


# ---------------------------------------------------------------------------
# The tools (each runs in a child process)
# ---------------------------------------------------------------------------

def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


def export_onnx(model_dir, cache_dir):
    """The folder's encoder + mean pooling + normalisation as ONNX (cached)."""
    import torch
    from transformers import AutoModel

    key = sha256_file(os.path.join(model_dir, "model.safetensors"))[:16]
    name = os.path.basename(os.path.normpath(model_dir)) or "model"
    path = os.path.join(cache_dir, f"{name}-{key}-meanpool-opset17.onnx")
    if os.path.exists(path):
        return path
    os.makedirs(cache_dir, exist_ok=True)
    bert = AutoModel.from_pretrained(model_dir, attn_implementation="eager",
                                     dtype=torch.float32).eval()

    class Embed(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.bert(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(h.dtype)
            v = (h * m).sum(dim=1) / torch.clamp(m.sum(dim=1), min=1e-9)
            return torch.nn.functional.normalize(v, p=2, dim=-1)

    ids = torch.tensor([[101, 7592, 2088, 102, 0], [101, 2023, 2003, 1037, 102]])
    mask = (ids != 0).long()
    dyn = {k: {0: "batch", 1: "sequence"} for k in ("input_ids", "attention_mask",
                                                     "token_type_ids")}
    dyn["sentence_embedding"] = {0: "batch"}
    tmp = path + f".tmp{os.getpid()}"
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # dynamo=False: the TorchScript exporter, which takes dynamic_axes
        # (the dynamo exporter needs onnxscript and dynamic_shapes instead).
        torch.onnx.export(Embed(bert).eval(), (ids, mask, torch.zeros_like(ids)), tmp,
                          dynamo=False, opset_version=17, do_constant_folding=True,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["sentence_embedding"], dynamic_axes=dyn)
    os.replace(tmp, path)
    log(f"exported {path}")
    return path


class SentenceTransformersTool:
    def __init__(self, model_dir, threads, bf16):
        import torch
        from sentence_transformers import SentenceTransformer
        torch.set_num_threads(threads)
        self.torch = torch
        self.model = SentenceTransformer(model_dir, device="cpu")
        self.model.eval()
        self.bf16 = bf16

    def encode(self, texts, batch):
        torch = self.torch
        with torch.inference_mode():
            if self.bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    e = self.model.encode(texts, batch_size=batch, convert_to_numpy=False,
                                          convert_to_tensor=True, show_progress_bar=False)
            else:
                e = self.model.encode(texts, batch_size=batch, convert_to_numpy=False,
                                      convert_to_tensor=True, show_progress_bar=False)
        return e.float().numpy()


class OnnxRuntimeTool:
    def __init__(self, model_dir, threads, cache):
        import numpy as np
        import onnxruntime as ort
        from tokenizers import Tokenizer
        path = export_onnx(model_dir, cache)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        tok = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        # tokenizer.json pads every text to 128 and truncates at 128; use the
        # model's max_seq_length and pad to the longest text instead.
        tok.no_padding()
        tok.no_truncation()
        tok.enable_truncation(max_length=MAX_SEQ)
        tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self.tok = tok
        self.np = np

    def encode(self, texts, batch):
        np = self.np
        out = []
        for i in range(0, len(texts), batch):
            enc = self.tok.encode_batch(texts[i:i + batch])
            feeds = {"input_ids": np.array([e.ids for e in enc], dtype=np.int64),
                     "attention_mask": np.array([e.attention_mask for e in enc], dtype=np.int64),
                     "token_type_ids": np.array([e.type_ids for e in enc], dtype=np.int64)}
            out.append(self.sess.run(None, feeds)[0])
        return np.concatenate(out, axis=0)


def make_tool(name, args):
    if name == "sentence-transformers":
        return SentenceTransformersTool(args.model, args.threads, bf16=False)
    if name == "sentence-transformers-bf16":
        return SentenceTransformersTool(args.model, args.threads, bf16=True)
    if name == "onnxruntime":
        return OnnxRuntimeTool(args.model, args.threads, args.cache)
    raise SystemExit(f"embed_peers: unknown tool {name}")


def emit(workload, tool, threads, value, unit):
    print(f"{workload}\t{tool}\t{threads}\t{value:.4g}\t{unit}", flush=True)


def run_child(args):
    import transformers
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    name, textdir = args.child
    sets = read_sets(textdir)
    workloads = [w for w in args.workloads.split(",") if w]
    reps = 1 if args.quick else max(1, args.reps)
    calls = 20 if args.quick else max(1, args.latency_calls)
    tool = make_tool(name, args)
    for w in workloads:
        texts = sets[w]
        if w == "latency":
            text = texts[0]
            for _ in range(min(10, calls)):
                tool.encode([text], 1)
            times = []
            for _ in range(calls):
                t0 = time.perf_counter()
                tool.encode([text], 1)
                times.append((time.perf_counter() - t0) * 1e3)
            times.sort()
            # Nearest-rank percentiles.
            p50 = times[max(0, -(-50 * len(times) // 100) - 1)]
            p99 = times[max(0, -(-99 * len(times) // 100) - 1)]
            emit("latency_p50", name, args.threads, p50, "ms")
            emit("latency_p99", name, args.threads, p99, "ms")
            continue
        tool.encode(texts[:args.batch], args.batch)  # warm-up
        secs = []
        for _ in range(reps):
            t0 = time.perf_counter()
            tool.encode(texts, args.batch)
            secs.append(time.perf_counter() - t0)
        emit(w, name, args.threads, len(texts) / statistics.median(secs), "texts/s")
    # Agreement with sentence-transformers' float32 output (stderr only).
    if name != "sentence-transformers" and "medium" in sets:
        import numpy as np
        ref = SentenceTransformersTool(args.model, args.threads, bf16=False)
        sample = sets["medium"][:64]
        a = tool.encode(sample, args.batch)
        b = ref.encode(sample, args.batch)
        cos = float((a * b).sum(axis=1).min())
        log(f"{name}: max |diff| to sentence-transformers fp32 {float(np.abs(a - b).max()):.3g}, "
            f"lowest cosine {cos:.6f} (64 medium texts)")
    return 0


def main():
    if ARGS.child:
        return run_child(ARGS)
    if ARGS.attend:
        tok = AttendTokenizer(ARGS.attend, ARGS.model)
    else:
        from transformers import AutoTokenizer
        import transformers
        transformers.logging.set_verbosity_error()
        tok = AutoTokenizer.from_pretrained(ARGS.model)
    sets = make_sets(ARGS.texts, tok, set_sizes(ARGS))
    if ARGS.write_texts:
        write_sets(sets, ARGS.write_texts)
        log(f"wrote {', '.join(f'{k} ({len(v)})' for k, v in sets.items())} to {ARGS.write_texts}")
        return 0
    tools = [t for t in ARGS.tools.split(",") if t]
    for t in tools:
        if t not in TOOLS:
            raise SystemExit(f"embed_peers: unknown tool {t} (known: {', '.join(TOOLS)})")
    rc = 0
    with tempfile.TemporaryDirectory(prefix="embed_peers.") as d:
        write_sets(sets, d)
        for t in tools:
            cmd = [sys.executable, os.path.abspath(__file__), "--child", t, d,
                   "--model", ARGS.model, "--threads", str(ARGS.threads),
                   "--batch", str(ARGS.batch), "--reps", str(ARGS.reps),
                   "--latency-calls", str(ARGS.latency_calls), "--cache", ARGS.cache,
                   "--workloads", ARGS.workloads] + (["--quick"] if ARGS.quick else [])
            r = subprocess.run(cmd)
            if r.returncode != 0:
                log(f"{t} failed (exit {r.returncode})")
                rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
