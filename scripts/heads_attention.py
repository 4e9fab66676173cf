#!/usr/bin/env python3
"""Where each attention head of a rainbow-steps model looks.

For the first N texts of a data file (data/heads-task-*.tsv) this runs
`attend show --json` on each and measures, for every layer and head:

  on A, on B, on filler  attention weight that goes to the first word (A),
                         to the other colour word (B) and to the filler words,
                         averaged over all query positions, then over texts;
  picks A                over the filler queries, the share of texts in which
                         the head puts more weight on A than on B: near 1 for
                         a head that looks up the first word (by position);
  same pick per pair     the share of texts in which the head favours the same
                         colour as it does in most texts with the same two
                         colours, whichever comes first: near 1 for a head that
                         ranks colours by their word (by content); about 0.5
                         for a head that follows position alone (it picks A,
                         which is either colour of the pair equally often);
  A->B, B->A             the weight the query at A puts on B, and the query
                         at B on A (does a colour look at the other colour?);
  cls->A, cls->B         for models trained with --pool cls, the weight the
                         <cls> query (the one the classifier reads) puts on A
                         and on B.

With --importance RESULTS_JSON (from attend compare), it adds each head's
accuracy drop when the head is masked, as compare measured it. Standard
library only.

Usage:
  python3 scripts/heads_attention.py --model M.safetensors [M2 ...]
      [--data data/heads-task-val.tsv] [-n 300] [--attend build/attend]
"""

import argparse
import json
import subprocess
import sys
from collections import Counter, defaultdict

COLOURS = {"red", "orange", "yellow", "green", "blue", "indigo", "violet"}


def show_json(attend, model, text):
    out = subprocess.run([attend, "show", "--model", model, "--text", text, "--json"],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def analyse(attend, model, rows):
    acc = 0
    per_head = defaultdict(lambda: defaultdict(float))
    picks = defaultdict(list)  # (layer, head) -> [(pair, picked colour, picked A?)]
    n_heads = None
    for label, text in rows:
        d = show_json(attend, model, text)
        toks = d["tokens"]
        first = 1 if toks and toks[0] == "<cls>" else 0
        cpos = [i for i, t in enumerate(toks) if t in COLOURS]
        if len(cpos) != 2 or cpos[0] != first:
            raise SystemExit("not a rainbow-steps text: %s" % text)
        a, b = cpos
        acc += d["predicted"] == label
        att = d["attention"]  # [layer][head][query][key]
        n_heads = (len(att), len(att[0]))
        fillers = [i for i in range(first, len(toks)) if i not in (a, b)]
        for li, layer in enumerate(att):
            for hi, head in enumerate(layer):
                s = per_head[(li, hi)]
                n = len(head)
                wa = sum(q[a] for q in head) / n
                wb = sum(q[b] for q in head) / n
                s["on_a"] += wa
                s["on_b"] += wb
                s["on_filler"] += 1.0 - wa - wb
                s["a_to_b"] += head[a][b]
                s["b_to_a"] += head[b][a]
                if first:
                    s["cls_a"] += head[0][a]
                    s["cls_b"] += head[0][b]
                fa = sum(head[q][a] for q in fillers)
                fb = sum(head[q][b] for q in fillers)
                pick = toks[a] if fa >= fb else toks[b]
                picks[(li, hi)].append((frozenset((toks[a], toks[b])), pick, fa >= fb))
    n = len(rows)
    out = []
    for li in range(n_heads[0]):
        for hi in range(n_heads[1]):
            s = per_head[(li, hi)]
            pk = picks[(li, hi)]
            by_pair = defaultdict(Counter)
            for pair, pick, _ in pk:
                by_pair[pair][pick] += 1
            same = sum(by_pair[pair][pick] == max(by_pair[pair].values()) for pair, pick, _ in pk)
            out.append({
                "layer": li + 1, "head": hi + 1,
                "on_a": s["on_a"] / n, "on_b": s["on_b"] / n, "on_filler": s["on_filler"] / n,
                "picks_a": sum(x for _, _, x in pk) / n, "same_pick": same / n,
                "a_to_b": s["a_to_b"] / n, "b_to_a": s["b_to_a"] / n,
                "cls": ("%.3f | %.3f" % (s["cls_a"] / n, s["cls_b"] / n)) if "cls_a" in s else "- | -",
            })
    return acc / n, out


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", required=True, nargs="+")
    p.add_argument("--data", default="data/heads-task-val.tsv")
    p.add_argument("-n", type=int, default=300, help="texts to read (default 300)")
    p.add_argument("--attend", default="build/attend")
    p.add_argument("--importance", help="results.json of the attend compare that trained the models")
    o = p.parse_args(argv)

    rows = []
    with open(o.data, encoding="utf-8") as f:
        for line in f:
            label, text = line.rstrip("\n").split("\t", 1)
            rows.append((label, text))
            if len(rows) == o.n:
                break

    drops = {}
    if o.importance:
        with open(o.importance, encoding="utf-8") as f:
            for r in json.load(f)["runs"]:
                drops[(r["heads"], r["seed"])] = r["heads_stats"]["accuracy_drop"]

    print("| model | acc | layer | head | on A | on B | on filler | picks A | same pick per pair "
          "| A->B | B->A | cls->A | cls->B | accuracy drop if masked |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for model in o.model:
        acc, heads = analyse(o.attend, model, rows)
        name = model.rsplit("/", 1)[-1].replace(".safetensors", "")
        key = None
        if name.startswith("h") and "-s" in name:  # compare's hH-POS-sS
            try:
                key = (int(name[1:name.index("-")]), int(name.rsplit("-s", 1)[1]))
            except ValueError:
                key = None
        for h in heads:
            drop = ""
            if key in drops:
                drop = "%.3f" % drops[key][h["layer"] - 1][h["head"] - 1]
            print("| %s | %.1f%% | %d | %d | %.3f | %.3f | %.3f | %.2f | %.2f | %.3f | %.3f | %s | %s |" % (
                name, 100 * acc, h["layer"], h["head"], h["on_a"], h["on_b"], h["on_filler"],
                h["picks_a"], h["same_pick"], h["a_to_b"], h["b_to_a"], h["cls"], drop))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
