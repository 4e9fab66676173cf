#!/usr/bin/env python3
"""Generate the "rainbow steps" task: a text classification set whose label
needs two lookups at once, one by position and one by content.

Every text is a row of 10 to 30 lowercase words. Exactly two of them are
colours of the rainbow (red orange yellow green blue indigo violet, in that
order around a circle of seven):

  - the FIRST word of the text is always a colour, A      (position lookup)
  - one other word, anywhere after it, is a colour, B     (content lookup)
  - every other word is filler drawn from a fixed list of 40 non-colour words.

A and B are always different colours. The label is the number of steps from B
forward to A around the rainbow circle, (index(A) - index(B)) mod 7, one of
step1 .. step6. Example:

  step1	blue the cat ran green on a hill by the old mill
  step6	green the cat ran blue on a hill by the old mill

(blue is colour 4 and green colour 3, counting red as 0: 4 - 3 = 1, and
3 - 4 = -1 = 6 mod 7. The two texts hold the same words and differ only in
which colour comes first.)

Why this design (details and citations in data/README.md):
  * both looked-up words come from the same seven-word vocabulary, so a model
    that only knows WHICH two colours occur (a bag of words) cannot tell A
    from B, and swapping them changes the label (step d becomes step 7-d):
    such a model is capped at 50% accuracy (chance is 1/6);
  * telling A from B needs the position of the first word, and finding B
    needs its content (it is a colour) wherever it is; one attention head
    would have to serve both lookups with one softmax, several heads can
    take one each.

The output is deterministic: the generator uses its own splitmix64 stream
(not Python's random module), so every Python 3 writes the same bytes.

Usage:
  python3 data/make_heads_task.py            # writes data/heads-task-{train,val,test}.tsv
  python3 data/make_heads_task.py --stats    # also prints counts and the bag-of-words ceiling
  python3 data/make_heads_task.py --outdir DIR --seed N --train N --val N --test N
"""

import argparse
import os
import sys

COLOURS = ["red", "orange", "yellow", "green", "blue", "indigo", "violet"]

# 40 short filler words; none is a colour word.
FILLER = [
    "the", "a", "cat", "dog", "saw", "near", "old", "big", "ran", "sat",
    "on", "in", "with", "and", "hill", "mill", "tree", "road", "box", "cup",
    "fox", "owl", "sun", "rain", "day", "night", "we", "they", "it", "was",
    "by", "to", "from", "small", "far", "slow", "fast", "home", "boat", "song",
]

MIN_LEN = 10
MAX_LEN = 30
MASK64 = (1 << 64) - 1


class SplitMix64:
    """splitmix64 (Steele, Lea and Flood 2014): small, fast, well mixed."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def below(self, n):
        """Uniform integer in [0, n), by rejection (no modulo bias)."""
        limit = (1 << 64) - ((1 << 64) % n)
        while True:
            x = self.next()
            if x < limit:
                return x % n


def label_of(a, b):
    """Steps from colour b forward to colour a around the circle of seven."""
    return (a - b) % len(COLOURS)


def make_example(rng):
    n = MIN_LEN + rng.below(MAX_LEN - MIN_LEN + 1)
    a = rng.below(len(COLOURS))
    steps = 1 + rng.below(len(COLOURS) - 1)  # 1..6, so b != a
    b = (a - steps) % len(COLOURS)
    pos_b = 1 + rng.below(n - 1)  # 0-based position 1 .. n-1
    words = [FILLER[rng.below(len(FILLER))] for _ in range(n)]
    words[0] = COLOURS[a]
    words[pos_b] = COLOURS[b]
    assert label_of(a, b) == steps
    return "step%d" % steps, " ".join(words), (a, b, pos_b, n)


def make_split(seed, count, seen):
    """count distinct examples whose texts are not in seen (other splits)."""
    rng = SplitMix64(seed)
    rows = []
    while len(rows) < count:
        label, text, info = make_example(rng)
        if text in seen:
            continue
        seen.add(text)
        rows.append((label, text, info))
    return rows


def write_tsv(path, rows):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii", newline="\n") as f:
        for label, text, _ in rows:
            f.write("%s\t%s\n" % (label, text))
    os.replace(tmp, path)


def print_stats(splits):
    from collections import Counter

    train = splits["train"]
    # The best any order-blind model can do: it sees the unordered colour pair
    # only, so predict the most frequent training label of that pair.
    by_pair = {}
    for label, _, (a, b, _, _) in train:
        by_pair.setdefault(frozenset((a, b)), Counter())[label] += 1
    for name, rows in splits.items():
        counts = Counter(label for label, _, _ in rows)
        lens = [info[3] for _, _, info in rows]
        nbytes = sum(len(label) + 1 + len(text) + 1 for label, text, _ in rows)
        right = 0
        for label, _, (a, b, _, _) in rows:
            c = by_pair.get(frozenset((a, b)))
            if c is not None and c.most_common(1)[0][0] == label:
                right += 1
        print("%-5s %6d rows, %8d bytes, words %d-%d (mean %.1f), labels %s" % (
            name, len(rows), nbytes, min(lens), max(lens), sum(lens) / len(lens),
            " ".join("%s:%d" % (k, counts[k]) for k in sorted(counts))))
        print("      order-blind (bag-of-colours) ceiling: %.2f%%; majority class: %.2f%%" % (
            100.0 * right / len(rows), 100.0 * counts.most_common(1)[0][1] / len(rows)))


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--outdir", default=here, help="directory to write (default: this script's)")
    p.add_argument("--prefix", default="heads-task", help="file name prefix (default heads-task)")
    p.add_argument("--seed", type=int, default=20240601, help="base seed (default 20240601)")
    p.add_argument("--train", type=int, default=20000)
    p.add_argument("--val", type=int, default=5000)
    p.add_argument("--test", type=int, default=5000)
    p.add_argument("--stats", action="store_true", help="print counts and the bag-of-words ceiling")
    o = p.parse_args(argv)

    seen = set()
    splits = {}
    # Separate streams per split; texts are kept distinct across all splits.
    for i, (name, count) in enumerate((("train", o.train), ("val", o.val), ("test", o.test))):
        splits[name] = make_split(o.seed * 3 + i, count, seen)
    for name, rows in splits.items():
        write_tsv(os.path.join(o.outdir, "%s-%s.tsv" % (o.prefix, name)), rows)
    if o.stats:
        print_stats(splits)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
