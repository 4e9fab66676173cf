#!/usr/bin/env python3
"""The fine-tuning peer of attend: a BERT-family encoder (all-MiniLM-L6-v2)
fine-tuned for text classification with transformers in PyTorch eager mode.

    finetune_peer.py --model DIR --train TSV --valid TSV [--epochs 1] [--threads N]
                     [--batch 32] [--max-length 128] [--lr 5e-5] [--weight-decay 0.01]
                     [--warmup 0.06] [--schedule linear|cosine] [--seed 1]
                     [--attn sdpa|eager] [--head-init bert|linear] [--limit N]

TSV lines are `label<TAB>text` (data/wordnet-nouns.tsv's format). Prints TSV
lines `workload<TAB>tool<TAB>threads<TAB>value<TAB>unit` on stdout:

    finetune_epoch_K       transformers N  seconds  s          (each epoch)
    finetune_valid_acc_K   transformers N  accuracy fraction  (after each epoch)
    finetune_epoch         transformers N  median seconds per epoch  s/epoch
    finetune_train_texts_per_s, finetune_valid_acc (after the last epoch)

What is trained, as a transformers user writes it without Trainer:
  - AutoModel.from_pretrained(DIR) (attention implementation: transformers'
    default, sdpa; --attn eager for the other), its dropout 0.1 active in
    training; mean pooling over the attention mask ([CLS]/[SEP] included);
    the head of transformers' BertForSequenceClassification on the pooled
    vector: dropout (hidden_dropout_prob), then nn.Linear(hidden, K) with
    its weight drawn from N(0, initializer_range^2) and a zero bias (BERT's
    _init_weights; attend's --init head is the same); --head-init linear
    keeps nn.Linear's own (Kaiming-uniform) start and drops the dropout, as
    a hand-written head would; cross-entropy (mean).
  - AdamW (torch.optim), lr 5e-5, betas (0.9, 0.999), eps 1e-8, weight decay
    0.01 on every parameter except biases and LayerNorm weights (Trainer's
    grouping); gradient norm clipped at 1.0 (Trainer's default).
  - Learning rate: linear warmup over the first 6 % of all steps (--warmup
    0.06, the fraction RoBERTa's GLUE fine-tuning used), then linear decay to
    0 at the last step (transformers' get_linear_schedule_with_warmup);
    --schedule cosine: cosine decay to 0 instead (get_cosine_schedule_with_warmup,
    the schedule attend train uses).
  - Batches of 32 texts in a fresh seeded shuffle every epoch, padded to the
    longest text of the batch, truncated at 128 tokens ([CLS]/[SEP] included).
  - The texts are tokenized once before training (as datasets.map does for
    Trainer); that time is printed on stderr and not in the epoch time.
    Validation runs after each epoch in eval mode and is not timed either.
Labels are mapped to ids in sorted order (as attend does).
"""
import argparse
import math
import os
import random
import statistics
import sys
import time


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", required=True, help="BERT-family folder (config.json, weights)")
    ap.add_argument("--train", required=True)
    ap.add_argument("--valid", required=True)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--warmup", type=float, default=0.06, help="warmup fraction of all steps")
    ap.add_argument("--schedule", choices=("linear", "cosine"), default="linear",
                    help="decay after the warmup")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--attn", choices=("sdpa", "eager"), default="sdpa")
    ap.add_argument("--head-init", choices=("bert", "linear"), default="bert",
                    help="bert: dropout + N(0, 0.02) weights, zero bias; linear: nn.Linear's default")
    ap.add_argument("--limit", type=int, default=0, help="use only the first N training texts")
    return ap.parse_args(argv)


ARGS = parse_args(sys.argv[1:])
for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_var] = str(max(1, ARGS.threads))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import transformers  # noqa: E402
from transformers import (AutoModel, AutoTokenizer, get_cosine_schedule_with_warmup,  # noqa: E402
                          get_linear_schedule_with_warmup)


def log(msg):
    print(f"finetune_peer: {msg}", file=sys.stderr, flush=True)


def emit(workload, value, unit):
    print(f"{workload}\ttransformers\t{ARGS.threads}\t{value:.4g}\t{unit}", flush=True)


def read_tsv(path, limit=0):
    labels, texts = [], []
    with open(path, encoding="utf-8") as f:
        for ln in f:
            ln = ln.rstrip("\n")
            if not ln:
                continue
            lab, sep, text = ln.partition("\t")
            if not sep:
                raise SystemExit(f"finetune_peer: {path}: a line without a tab: {ln[:60]!r}")
            labels.append(lab)
            texts.append(text)
            if limit and len(texts) == limit:
                break
    return labels, texts


class Classifier(nn.Module):
    def __init__(self, encoder, num_classes, bert_head):
        super().__init__()
        cfg = encoder.config
        self.encoder = encoder
        self.head = nn.Linear(cfg.hidden_size, num_classes)
        self.drop = nn.Dropout(cfg.hidden_dropout_prob if bert_head else 0.0)
        if bert_head:
            nn.init.normal_(self.head.weight, std=cfg.initializer_range)
            nn.init.zeros_(self.head.bias)

    def forward(self, input_ids, attention_mask):
        h = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        m = attention_mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(dim=1) / torch.clamp(m.sum(dim=1), min=1e-9)
        return self.head(self.drop(pooled))


def batches(ids, order, batch, pad_id):
    """Yields (input_ids, attention_mask) padded to the longest of the batch."""
    for i in range(0, len(order), batch):
        idx = order[i:i + batch]
        T = max(len(ids[j]) for j in idx)
        x = torch.full((len(idx), T), pad_id, dtype=torch.long)
        m = torch.zeros((len(idx), T), dtype=torch.long)
        for r, j in enumerate(idx):
            x[r, :len(ids[j])] = torch.tensor(ids[j])
            m[r, :len(ids[j])] = 1
        yield idx, x, m


def evaluate(model, ids, y, batch, pad_id):
    model.eval()
    correct = 0
    with torch.inference_mode():
        for idx, x, m in batches(ids, list(range(len(ids))), batch, pad_id):
            pred = model(x, m).argmax(dim=-1)
            correct += int((pred == y[idx]).sum())
    return correct / max(1, len(ids))


def main():
    torch.set_num_threads(ARGS.threads)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    random.seed(ARGS.seed)
    torch.manual_seed(ARGS.seed)

    tr_lab, tr_txt = read_tsv(ARGS.train, ARGS.limit)
    va_lab, va_txt = read_tsv(ARGS.valid)
    names = sorted(set(tr_lab))
    index = {n: i for i, n in enumerate(names)}
    unknown = sum(1 for lab in va_lab if lab not in index)
    if unknown:
        log(f"{unknown} validation texts have labels not seen in training (counted wrong)")
    y_tr = torch.tensor([index[lab] for lab in tr_lab])
    y_va = torch.tensor([index.get(lab, -1) for lab in va_lab])

    tok = AutoTokenizer.from_pretrained(ARGS.model)
    t0 = time.perf_counter()
    ids_tr = tok(tr_txt, truncation=True, max_length=ARGS.max_length)["input_ids"]
    ids_va = tok(va_txt, truncation=True, max_length=ARGS.max_length)["input_ids"]
    log(f"tokenized {len(ids_tr)} + {len(ids_va)} texts in {time.perf_counter() - t0:.2f} s; "
        f"{len(names)} classes")

    encoder = AutoModel.from_pretrained(ARGS.model, attn_implementation=ARGS.attn,
                                        dtype=torch.float32, add_pooling_layer=False)
    model = Classifier(encoder, len(names), ARGS.head_init == "bert")
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if n.endswith("bias") or "LayerNorm" in n or "layer_norm" in n
         else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": ARGS.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=ARGS.lr, betas=(0.9, 0.999), eps=1e-8)
    steps_per_epoch = math.ceil(len(ids_tr) / ARGS.batch)
    total = steps_per_epoch * ARGS.epochs
    make_sched = (get_cosine_schedule_with_warmup if ARGS.schedule == "cosine"
                  else get_linear_schedule_with_warmup)
    sched = make_sched(opt, int(round(ARGS.warmup * total)), total)
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    gen = random.Random(ARGS.seed)

    epoch_s = []
    acc = 0.0
    for ep in range(1, ARGS.epochs + 1):
        order = list(range(len(ids_tr)))
        gen.shuffle(order)
        model.train()
        t0 = time.perf_counter()
        loss_sum, n = 0.0, 0
        for idx, x, m in batches(ids_tr, order, ARGS.batch, pad_id):
            logits = model(x, m)
            loss = F.cross_entropy(logits, y_tr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(idx)
            n += len(idx)
        secs = time.perf_counter() - t0
        epoch_s.append(secs)
        acc = evaluate(model, ids_va, y_va, ARGS.batch, pad_id)
        log(f"epoch {ep}: {secs:.2f} s, train loss {loss_sum / max(1, n):.4f}, "
            f"valid accuracy {acc:.4f}")
        emit(f"finetune_epoch_{ep}", secs, "s")
        emit(f"finetune_valid_acc_{ep}", acc, "fraction")
    med = statistics.median(epoch_s)
    emit("finetune_epoch", med, "s/epoch")
    emit("finetune_train_texts_per_s", len(ids_tr) / med, "texts/s")
    emit("finetune_valid_acc", acc, "fraction")
    return 0


if __name__ == "__main__":
    sys.exit(main())
