#!/usr/bin/env python3
"""PyTorch's side of `make bench`: the workloads of bench/bench_attend.c, same
sizes, same thread count, same output lines.

    torch_bench.py [--threads N] [--quick] [--only LIST] [--data FILE] [--tmp DIR]

Needs PyTorch (Debian: apt-get install python3-torch libopenblas0-pthread; the
second package matters: without it torch falls back to the reference BLAS).
Tested with Debian's torch 1.13. Prints, per measurement,

    BENCH <workload> pytorch <threads> <time_ms> <gflops> <extra>

The model is the seed-002 classifier written as a PyTorch user would:
nn.Embedding + a learned positional nn.Parameter, dropout, nn.TransformerEncoder
of nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout=0.1,
batch_first=True), mean pooling over non-pad tokens, nn.Linear to the classes;
AdamW (weight decay 0.01 on matrices only, as attend), gradient clipping at 1.0,
warmup + cosine learning rate (LambdaLR), F.cross_entropy.

Differences from attend that a reader should know:
  - Tokenization for WordNet and latency is a lowercase regex split (words with
    inner apostrophes, digit runs, single punctuation characters), an
    approximation of attend's NFKC + case folding + Unicode-category splitter.
  - The embedding gets dense gradients and a dense AdamW update (the
    nn.Embedding default); attend updates only the rows a batch touches.
  - Inference runs under model.eval() + torch.no_grad(), so torch 1.13 may take
    its TransformerEncoder "fast path" (nested tensors); that is what a user gets.
  - The attention op is torch 1.13's F._scaled_dot_product_attention (the math
    path: matmul, softmax, matmul) on (1, H, T, D) tensors; 1.13 has no public
    F.scaled_dot_product_attention and no fused CPU kernel.
"""
import argparse
import contextlib
import os
import re
import subprocess
import sys
import time

GAMMA = 0x9E3779B97F4A7C15
MASK = (1 << 64) - 1
NSPECIAL = 3  # <pad> <unk> <cls>


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="")
    ap.add_argument("--data", default="data/wordnet-nouns.tsv")
    ap.add_argument("--tmp", default=os.environ.get("ATTEND_TMP") or os.environ.get("TMPDIR") or "/tmp")
    ap.add_argument("--attn-child", nargs=2, metavar=("T", "MODE"))
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                    help="bf16: the model under torch.autocast('cpu', bfloat16) and torch.mm on "
                         "bf16 tensors; workload names end in _bf16; attention skipped")
    return ap.parse_args(argv)


ARGS = parse_args(sys.argv[1:])
# Before torch loads: OpenBLAS (pthread build) would otherwise start one thread
# per core whatever torch.set_num_threads says.
# ATTEND_BENCH_TORCH_BLAS_THREADS overrides the BLAS's count (1 keeps OpenBLAS
# from adding its threads to torch's own).
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(max(1, ARGS.threads))
if os.environ.get("ATTEND_BENCH_TORCH_BLAS_THREADS"):
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["ATTEND_BENCH_TORCH_BLAS_THREADS"]

import warnings  # noqa: E402

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


# torch 1.13 warns that the encoder's inference fast path uses prototype nested tensors
warnings.filterwarnings("ignore", message=".*nested tensors.*")


def now():
    return time.perf_counter()


BF16 = ARGS.precision == "bf16"


def amp():
    """The precision of the model's matmuls: autocast to bfloat16 (PyTorch's
    mixed precision on CPU: fp32 weights, bf16 matmul inputs) or nothing."""
    return torch.autocast("cpu", dtype=torch.bfloat16) if BF16 else contextlib.nullcontext()


def infer_model(model):
    """In bf16, inference runs on a bfloat16 copy of the model: torch 1.13's
    encoder inference fast path fails under autocast ("expected scalar type
    BFloat16 but found Float"), and a bf16 model is what a PyTorch user would
    run for bf16 inference."""
    return model.bfloat16() if BF16 else model


def emit(workload, threads, ms, gflops, extra):
    workload += "_bf16" if BF16 else ""
    t = "-" if ms is None else "%.4f" % ms
    g = "-" if gflops is None else "%.2f" % gflops
    print("BENCH\t%s\tpytorch\t%d\t%s\t%s\t%s" % (workload, threads, t, g, extra or "-"), flush=True)


def wanted(name):
    return not ARGS.only or name in ARGS.only.split(",")


CPU_SHARE = [0.0]


def repeat(fn, warmup, min_reps, max_reps, budget_s):
    """Untimed warmup calls, then timed calls until min_reps and budget_s (or
    max_reps). Returns the sorted times in ms; CPU_SHARE[0] becomes the CPU
    time over wall time x threads (how much of the cores asked for we got)."""
    for _ in range(warmup):
        fn()
    times = []
    start, c0 = now(), time.process_time()
    while len(times) < max_reps and (len(times) < min_reps or now() - start < budget_s):
        t0 = now()
        fn()
        times.append((now() - t0) * 1e3)
    wall = now() - start
    CPU_SHARE[0] = (time.process_time() - c0) / (wall * max(1, ARGS.threads)) if wall > 0 else 0.0
    times.sort()
    return times


def quantile(sorted_times, q):
    n = len(sorted_times)
    i = min(n, max(1, int(q * n + 0.999999)))
    return sorted_times[i - 1]


# ---- deterministic synthetic data (splitmix64, as bench_attend.c) ----

def mix64(x):
    x = (x + GAMMA) & MASK
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & MASK
    return x ^ (x >> 31)


def synth_u64(seed, i):
    return mix64((seed + i * GAMMA) & MASK)


def synth_word(i):
    x, s = i + 676, ""
    while x:
        s = chr(ord("a") + x % 26) + s
        x //= 26
    return s


def synth_tokens(seed, n, V):
    return [NSPECIAL + synth_u64(seed, i) % (V - NSPECIAL) for i in range(n)]


# ---- the classifier ----

class Classifier(nn.Module):
    def __init__(self, V, K, E=64, H=8, L=2, Fdim=256, max_len=128, dropout=0.1):
        super().__init__()
        self.embedding = nn.Embedding(V, E, padding_idx=0)
        self.pos_embedding = nn.Parameter(torch.randn(max_len, E))
        # attend initialises both tables N(0, 0.02^2) (BERT's choice), not
        # nn.Embedding's N(0, 1): do the same so that the losses compare
        with torch.no_grad():
            nn.init.normal_(self.embedding.weight, std=0.02)
            self.embedding.weight[0].zero_()
            nn.init.normal_(self.pos_embedding, std=0.02)
        self.drop = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(E, H, Fdim, dropout=dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, L)
        self.out = nn.Linear(E, K)

    def forward(self, tokens, pad):
        # tokens (B,T) int64, pad (B,T) bool, True = padding
        T = tokens.shape[1]
        x = self.drop(self.embedding(tokens) + self.pos_embedding[:T])
        h = self.encoder(x, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).to(h.dtype)
        u = (h * keep).sum(1) / keep.sum(1).clamp(min=1.0)
        return self.out(u)


def lr_at(step, total, warmup):
    """attend_lr_at as a LambdaLR factor: linear warmup, cosine to 0."""
    import math
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if total <= warmup:
        return 1.0
    progress = min(1.0, (step - warmup) / (total - warmup))
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def make_optimizer(model, total_steps, warmup):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        # matrices decay; biases, norms and the embedding tables do not (as attend)
        if p.dim() == 2 and not name.startswith(("embedding.", "pos_embedding")):
            decay.append(p)
        else:
            no_decay.append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=1e-3)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_at(s, total_steps, warmup))
    return opt, sched


def train_step(model, opt, sched, tokens, pad, targets):
    opt.zero_grad(set_to_none=True)
    with amp():
        logits = model(tokens, pad)
        loss = F.cross_entropy(logits, targets)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    return loss


def forward_flops(E, H, Fdim, L, K, B, T):
    BT = B * T
    layer = 2 * BT * E * 3 * E + 4 * B * T * T * E + 2 * BT * E * E + 4 * BT * E * Fdim
    return L * layer + 2 * B * E * K


def sizes():
    return (1000, 4, 16) if ARGS.quick else (23311, 32, 128)  # V, B, T


# ---- workloads ----

def bench_sgemm(th):
    cases = [("sgemm_4096x64x192", 4096, 192, 64, 1), ("sgemm_1024x1024x1024", 1024, 1024, 1024, 1),
             ("sgemm_128x(128x8x128)", 128, 128, 8, 128)]
    if ARGS.quick:
        cases = [("sgemm_4096x64x192", 512, 192, 64, 1), ("sgemm_1024x1024x1024", 128, 128, 128, 1),
                 ("sgemm_128x(128x8x128)", 128, 128, 8, 16)]
    g = torch.Generator().manual_seed(11)
    for name, M, N, K, count in cases:
        if BF16 and count > 1:
            continue  # attention's products stay fp32 in attend
        if count == 1:
            A, Bm, C = torch.randn(M, K, generator=g), torch.randn(K, N, generator=g), torch.empty(M, N)
            if BF16:
                A, Bm, C = A.bfloat16(), Bm.bfloat16(), C.bfloat16()
            fn = lambda: torch.mm(A, Bm, out=C)  # noqa: E731
            how = "torch.mm"
        else:
            A, Bm = torch.randn(count, M, K, generator=g), torch.randn(count, K, N, generator=g)
            C = torch.empty(count, M, N)
            fn = lambda: torch.bmm(A, Bm, out=C)  # noqa: E731
            how = "torch.bmm"
        t = repeat(fn, 3, 5, 100000, 0.05 if ARGS.quick else 0.5)
        ms = quantile(t, 0.5)
        emit(name, th, ms, 2.0 * M * N * K * count / (ms * 1e6), "%s min_ms=%.4f reps=%d cpu=%.2f" % (how, t[0], len(t), CPU_SHARE[0]))


def bench_train(th):
    V, B, T = sizes()
    for Fdim in (256, 2048):
        torch.manual_seed(1)
        model = Classifier(V, 4, Fdim=Fdim, max_len=T)
        model.train()
        n_batches = 2300
        opt, sched = make_optimizer(model, 10 * n_batches, int(0.05 * 10 * n_batches))
        toks = torch.tensor(synth_tokens(2, 8 * B * T, V), dtype=torch.long).view(8, B, T)
        targets = torch.tensor([synth_u64(3, i) % 4 for i in range(8 * B)], dtype=torch.long).view(8, B)
        pad = torch.zeros(B, T, dtype=torch.bool)
        state = {"i": 0}

        def step():
            i = state["i"] % 8
            state["i"] += 1
            train_step(model, opt, sched, toks[i], pad, targets[i])

        t = repeat(step, 2, 5, 100000, 0.05 if ARGS.quick else 4.0)
        ms = quantile(t, 0.5)
        n_params = sum(p.numel() for p in model.parameters())
        emit("train_step_ff%d" % Fdim, th, ms, 3.0 * forward_flops(64, 8, Fdim, 2, 4, B, T) / (ms * 1e6),
             "B=%d T=%d V=%d params=%d min_ms=%.3f reps=%d cpu=%.2f" % (B, T, V, n_params, t[0], len(t),
                                                                       CPU_SHARE[0]))


def bench_infer(th):
    V, B, T = sizes()
    torch.manual_seed(1)
    model = Classifier(V, 4, Fdim=256, max_len=T).eval()
    toks = torch.tensor(synth_tokens(2, B * T, V), dtype=torch.long).view(B, T)
    pad = torch.zeros(B, T, dtype=torch.bool)

    model = infer_model(model)

    def run():
        with torch.no_grad():
            torch.softmax(model(toks, pad).float(), -1)

    t = repeat(run, 2, 5, 100000, 0.05 if ARGS.quick else 3.0)
    ms = quantile(t, 0.5)
    emit("infer_batch%d_ff256" % B, th, ms, forward_flops(64, 8, 256, 2, 4, B, T) / (ms * 1e6),
         "B=%d T=%d texts_per_s=%.0f min_ms=%.3f reps=%d cpu=%.2f" % (B, T, B / (ms * 1e-3), t[0], len(t),
                                                                      CPU_SHARE[0]))


TOKEN_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)*|\d+|[^\w\s]|_")


def tokenize(text):
    return TOKEN_RE.findall(text.lower())


def bench_latency(th):
    V, _, _ = sizes()
    torch.manual_seed(1)
    model = infer_model(Classifier(V, 4, Fdim=256, max_len=128).eval())
    vocab = {"<pad>": 0, "<unk>": 1, "<cls>": 2}
    for i in range(V - NSPECIAL):
        vocab[synth_word(i)] = len(vocab)
    text = " ".join(synth_word(synth_u64(5, j) % (V - NSPECIAL)) for j in range(20)) + "."
    state = {}

    def classify():
        ids = [vocab.get(w, 1) for w in tokenize(text)][:128]
        toks = torch.tensor([ids], dtype=torch.long)
        pad = torch.zeros(1, len(ids), dtype=torch.bool)
        with torch.no_grad():
            state["p"] = torch.softmax(model(toks, pad).float(), -1)
        state["n"] = len(ids)

    reps = 200 if ARGS.quick else 5000
    t = repeat(classify, 20, reps, reps, 0.0)
    p50, p99 = quantile(t, 0.5), quantile(t, 0.99)
    n = state["n"]
    emit("latency_p50_ff256", th, p50, forward_flops(64, 8, 256, 2, 4, 1, n) / (p50 * 1e6),
         "tokens=%d reps=%d min_ms=%.4f cpu=%.2f" % (n, len(t), t[0], CPU_SHARE[0]))
    emit("latency_p99_ff256", th, p99, None, "tokens=%d reps=%d max_ms=%.4f" % (n, len(t), t[-1]))


def bench_wordnet(th):
    import random
    from collections import Counter
    B, T, seed = 32, 128, 1
    out_path = os.path.join(ARGS.tmp, "torch_bench_wordnet.%d.pt" % os.getpid())
    t0, c0 = now(), time.process_time()
    texts, labels = [], []
    with open(ARGS.data, encoding="utf-8") as f:
        for line in f:
            parts = line.rstrip("\n").split("\t", 1)
            if len(parts) != 2 or not parts[0] or not parts[1].strip():
                continue
            labels.append(parts[0])
            texts.append(parts[1])
            if ARGS.quick and len(texts) >= 400:
                break
    names = sorted(set(labels))
    lid = {n: i for i, n in enumerate(names)}
    toks = [tokenize(s) for s in texts]
    counts = Counter(w for ts in toks for w in ts)
    words = sorted(counts, key=lambda w: (-counts[w], w.encode()))
    vocab = {w: i + NSPECIAL for i, w in enumerate(words)}
    data = [([vocab.get(w, 1) for w in ts[:T]], lid[y]) for ts, y in zip(toks, labels) if ts]
    V = len(vocab) + NSPECIAL
    torch.manual_seed(seed)
    model = Classifier(V, len(names), Fdim=256, max_len=T)
    model.train()
    n = len(data)
    n_batches = (n + B - 1) // B
    opt, sched = make_optimizer(model, n_batches, int(0.05 * n_batches))
    # attend's batching: shuffle, sort by length within chunks of 50 batches,
    # shuffle the batch order; each batch is padded to its longest text
    rng = random.Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    chunk = 50 * B
    for s in range(0, n, chunk):
        order[s:s + chunk] = sorted(order[s:s + chunk], key=lambda i: (len(data[i][0]), i))
    starts = list(range(0, n, B))
    rng.shuffle(starts)
    loss_sum, n_tokens, t_train = 0.0, 0, now()
    for s in starts:
        idx = order[s:s + B]
        Tb = max(len(data[i][0]) for i in idx)
        tok = torch.zeros(len(idx), Tb, dtype=torch.long)
        for r, i in enumerate(idx):
            ids = data[i][0]
            tok[r, :len(ids)] = torch.tensor(ids, dtype=torch.long)
            n_tokens += len(ids)
        pad = tok == 0
        y = torch.tensor([data[i][1] for i in idx], dtype=torch.long)
        loss_sum += float(train_step(model, opt, sched, tok, pad, y))
    train_s = now() - t_train
    torch.save(model.state_dict(), out_path)
    ms = (now() - t0) * 1e3
    share = (time.process_time() - c0) / (ms * 1e-3 * th)
    os.remove(out_path)
    emit("wordnet_epoch", th, ms, None,
         "examples=%d vocab=%d train_loss=%.4f train_s=%.2f tokens_per_s=%.0f cpu=%.2f regex_tokenizer"
         % (n, V, loss_sum / max(1, len(starts)), train_s, n_tokens / train_s, share))


# ---- the attention op alone ----

H, D = 8, 64


def proc_kb(path, key):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def attn_flops(T, backward):
    f = 4.0 * H * T * T * D
    return 3 * f if backward else f


def attn_bytes(T, backward):
    # scores and weights (H,T,T) in the forward; their gradients too in the backward
    tt = 4.0 * H * T * T
    return 4 * tt if backward else 2 * tt


def sdpa(q, k, v):
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v)
    if hasattr(F, "_scaled_dot_product_attention"):
        return F._scaled_dot_product_attention(q, k, v, None, 0.0, False, False)[0]
    w = torch.softmax(q @ k.transpose(-2, -1) / D ** 0.5, -1)
    return w @ v


def attn_child(th, T, backward):
    torch.ones(8, 8) @ torch.ones(8, 8)  # start the thread pools before the baseline
    rss0 = proc_kb("/proc/self/status", "VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    g = torch.Generator().manual_seed(21)
    q, k, v = (torch.rand(1, H, T, D, generator=g) * 2 - 1 for _ in range(3))
    dout = torch.rand(1, H, T, D, generator=g) * 2 - 1
    if backward:
        for x in (q, k, v):
            x.requires_grad_(True)

    def run():
        if backward:
            for x in (q, k, v):
                x.grad = None
            sdpa(q, k, v).backward(dout)
        else:
            with torch.no_grad():
                sdpa(q, k, v)

    budget = 0.1 if ARGS.quick else 2.0
    t0, c0 = now(), time.process_time()
    run()
    first = now() - t0
    if first > budget / 2:
        t = [first * 1e3]
        CPU_SHARE[0] = (time.process_time() - c0) / (first * th)
    else:
        t = repeat(run, 0, 3, 100000, budget)
    ms = quantile(t, 0.5)
    hwm = proc_kb("/proc/self/status", "VmHWM")
    peak = (hwm - rss0) / 1024.0 if hwm >= 0 and rss0 >= 0 else -1
    emit("attn_%s_T%d" % ("fwdbwd" if backward else "fwd", T), th, ms, attn_flops(T, backward) / (ms * 1e6),
         "peak_mib=%.1f min_ms=%.3f reps=%d cpu=%.2f" % (peak, t[0], len(t), CPU_SHARE[0]))


def bench_attn(th):
    Ts = [32, 64] if ARGS.quick else [128, 512, 2048, 8192]
    env = os.environ.get("ATTEND_BENCH_ATTN_T", "").replace(",", " ").split()
    if env:
        Ts = [int(x) for x in env]
    avail = proc_kb("/proc/meminfo", "MemAvailable") * 1024.0
    for T in Ts:
        for backward in (0, 1):
            name = "attn_%s_T%d" % ("fwdbwd" if backward else "fwd", T)
            need = attn_bytes(T, backward)
            if avail > 0 and need > 0.5 * avail:
                emit(name, th, None, None, "skipped: needs %.1f GiB (%.1f GiB available)"
                     % (need / 2 ** 30, avail / 2 ** 30))
                continue
            cmd = [sys.executable, os.path.abspath(__file__), "--threads", str(th), "--tmp", ARGS.tmp,
                   "--attn-child", str(T), "fwdbwd" if backward else "fwd"] + (["--quick"] if ARGS.quick else [])
            r = subprocess.run(cmd)
            if r.returncode != 0:
                emit(name, th, None, None, "failed: exit status %d (out of memory?)" % r.returncode)


def main():
    th = max(1, ARGS.threads)
    torch.set_num_threads(th)
    if ARGS.attn_child:
        attn_child(th, int(ARGS.attn_child[0]), ARGS.attn_child[1] == "fwdbwd")
        return 0
    torch.ones(64, 64) @ torch.ones(64, 64)
    blas = sorted({ln.split()[-1] for ln in open("/proc/self/maps") if "blas" in ln.lower()})
    print("MACHINE\tpytorch\ttorch %s; mkldnn %s; BLAS %s" %
          (torch.__version__, torch.backends.mkldnn.is_available(),
           " ".join(os.path.basename(b) for b in blas) or "unknown"), flush=True)
    if wanted("sgemm"):
        bench_sgemm(th)
    if wanted("train"):
        bench_train(th)
    if wanted("infer"):
        bench_infer(th)
    if wanted("latency"):
        bench_latency(th)
    if wanted("wordnet"):
        bench_wordnet(th)
    if wanted("attn") and not BF16:
        bench_attn(th)
    return 0


if __name__ == "__main__":
    sys.exit(main())
