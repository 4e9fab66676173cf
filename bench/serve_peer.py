#!/usr/bin/env python3
"""The serving peer of attend: FastAPI + uvicorn (one worker process).

    serve_peer.py serve --classifier MODEL.safetensors [--embedder MINILM_DIR]
                        [--threads N] [--host 127.0.0.1] [--port 8000]
    serve_peer.py check-tokenizer --classifier MODEL.safetensors --data TSV
                        --attend-ids FILE
    serve_peer.py check-model --classifier MODEL.safetensors --texts FILE
                        --attend-probs FILE

Needs torch, safetensors, numpy, fastapi, uvicorn (and sentence-transformers
for --embedder).

Endpoints (shaped like text-embeddings-inference's):
  POST /predict {"inputs": str | [str]}  an attend classifier (MODEL from
      `attend train`) re-implemented in PyTorch; for each text the list of
      {"label", "score"} over all classes, highest score first ([list] for a
      str, [[list], ...] for a list). A text without tokens scores 0 everywhere,
      as attend_classify does.
  POST /embed {"inputs": str | [str]}  sentence-transformers' encode() of the
      --embedder folder (all-MiniLM-L6-v2: unit vectors); [[float]] per text.
  GET /health

The classifier is rebuilt from the model file alone: its __metadata__
"config" (JSON) gives the sizes, its tensors carry PyTorch names
(embedding.weight, pos_embedding.weight, encoder.layers.N.* as
nn.TransformerEncoderLayer, encoder.norm.* for pre-norm stacks,
head.fcJ.* / head.out.*), "vocab" the id -> token list and "labels" the
class names. The model is nn.Embedding + learned positions (or attend's
sinusoid table) + nn.TransformerEncoder(batch_first) + mean / cls / max
pooling over the real tokens + the head (ReLU between hidden layers), loaded
with load_state_dict(strict=True), eval mode, torch.inference_mode().

To be fair the peer tokenizes for itself: AttendTokenizer below is attend's
tokenizer (src/tokenizer.h) written again in Python: utf8proc's NFKC + full
case folding + removal of default-ignorable and control characters + its
"lump" table, then splitting by Unicode category. Python's unicodedata can be
of another Unicode version than the utf8proc attend links, so rare characters
may differ; check-tokenizer measures how often on real data (the ids from
`attend tokenize`: cut -f2- DATA | attend tokenize --model MODEL > FILE).
"""
import argparse
import json
import math
import os
import sys
import unicodedata

# ---------------------------------------------------------------------------
# attend's tokenizer in Python
# ---------------------------------------------------------------------------

PAD, UNK, CLS = 0, 1, 2
MAX_TEXT_BYTES = 1 << 16

# utf8proc's UTF8PROC_LUMP: code point -> ASCII replacement (besides the
# categories Zs -> space, Pd -> '-', Pc -> '_').
_LUMP = {0x2018: "'", 0x2019: "'", 0x02BC: "'", 0x02C8: "'", 0x2212: "-",
         0x2044: "/", 0x2215: "/", 0x2236: ":", 0x2039: "<", 0x2329: "<", 0x3008: "<",
         0x203A: ">", 0x232A: ">", 0x3009: ">", 0x2216: "\\", 0x02C4: "^", 0x02C6: "^",
         0x2038: "^", 0x2303: "^", 0x02CD: "_", 0x02CB: "`", 0x2223: "|", 0x223C: "~"}
_LUMP_CATEGORY = {"Zs": " ", "Pd": "-", "Pc": "_"}

# Default_Ignorable_Code_Point (DerivedCoreProperties.txt), which utf8proc's
# UTF8PROC_IGNORE removes -- but only where the code point is assigned:
# utf8proc has no properties for unassigned ones (U+E0002..E001F stay).
_IGNORABLE = ((0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
              (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
              (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
              (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
              (0xE0000, 0xE0FFF))


def _ignorable(cp):
    for lo, hi in _IGNORABLE:
        if lo <= cp <= hi:
            return unicodedata.category(chr(cp)) != "Cn"
    return False


_DECOMP_CACHE = {}


def _decompose(ch):
    """utf8proc_decompose_char with COMPAT | CASEFOLD | IGNORE | LUMP, as a
    string: ignorable -> '', lump, else full case folding, else the
    (compatibility) decomposition, each result decomposed again."""
    r = _DECOMP_CACHE.get(ch)
    if r is not None:
        return r
    cp = ord(ch)
    if _ignorable(cp):
        r = ""
    elif cp in _LUMP or unicodedata.category(ch) in _LUMP_CATEGORY:
        # The replacement is decomposed without LUMP; all are ASCII.
        r = _LUMP.get(cp) or _LUMP_CATEGORY[unicodedata.category(ch)]
    else:
        folded = ch.casefold()
        if folded != ch:
            r = "".join(_decompose(c) for c in folded)
        else:
            d = unicodedata.decomposition(ch)
            if d:
                parts = d.split()
                if parts[0].startswith("<"):
                    parts = parts[1:]
                r = "".join(_decompose(chr(int(p, 16))) for p in parts)
            else:
                r = ch
    _DECOMP_CACHE[ch] = r
    return r


def _strip_controls(s):
    """utf8proc_normalize_utf32's STRIPCC step: CR LF, LF, CR, NEL, VT, FF and
    TAB become a space, other C0/C1 controls vanish."""
    out = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        o = ord(c)
        if o == 0x0D and i + 1 < n and s[i + 1] == "\n":
            i += 1
            o = 0x0A
        if o in (0x0A, 0x0D, 0x85, 0x0B, 0x0C, 0x09):
            out.append(" ")
        elif o < 0x20 or 0x7F <= o < 0xA0:
            pass
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _canonical_order(s):
    """Stable sort of each run of combining marks by combining class."""
    out, run = [], []
    for c in s:
        if unicodedata.combining(c):
            run.append(c)
            continue
        if run:
            out.extend(sorted(run, key=unicodedata.combining))
            run = []
        out.append(c)
    out.extend(sorted(run, key=unicodedata.combining))
    return out


_PAIRS = None


def _composition_pairs():
    """(first, second) -> primary composite, from unicodedata: every
    two-character canonical decomposition that NFC composes back."""
    global _PAIRS
    if _PAIRS is None:
        pairs = {}
        for cp in range(0x80, 0x30000):
            ch = chr(cp)
            d = unicodedata.decomposition(ch)
            if not d or d.startswith("<"):
                continue
            parts = d.split()
            if len(parts) != 2:
                continue
            a, b = chr(int(parts[0], 16)), chr(int(parts[1], 16))
            if unicodedata.normalize("NFC", a + b) == ch:
                pairs[(a, b)] = ch
        _PAIRS = pairs
    return _PAIRS


def _compose(chars):
    """utf8proc's composition (no reordering: utf8proc orders the marks
    before removing control characters, so a removed control can leave two
    marks out of canonical order, and they stay so)."""
    pairs = _composition_pairs()
    out = []
    starter = -1       # index in out of the last starter
    max_class = -1     # highest class of an uncombined mark since the starter
    for c in chars:
        cc = unicodedata.combining(c)
        if starter >= 0 and cc > max_class:
            s = out[starter]
            so, co = ord(s), ord(c)
            comp = None
            if 0x1100 <= so < 0x1113 and 0x1161 <= co < 0x1176:  # Hangul L + V
                comp = chr(0xAC00 + ((so - 0x1100) * 21 + (co - 0x1161)) * 28)
            elif 0xAC00 <= so < 0xD7A4 and (so - 0xAC00) % 28 == 0 and 0x11A8 <= co < 0x11C3:
                comp = chr(so + (co - 0x11A7))                          # Hangul LV + T
            else:
                comp = pairs.get((s, c))
            if comp is not None:
                out[starter] = comp
                continue
        out.append(c)
        if cc:
            max_class = max(max_class, cc)
        else:
            starter = len(out) - 1
            max_class = -1
    return "".join(out)


def normalize(text):
    """attend's normalisation (utf8proc STABLE|COMPOSE|COMPAT|CASEFOLD|IGNORE|
    STRIPCC|LUMP) of a str: decompose each character, order the marks,
    remove control characters, compose."""
    if text.isascii():
        return _strip_controls(text.lower())
    s = "".join(_decompose(c) for c in text)
    return _compose(_strip_controls("".join(_canonical_order(s))))


SEP, LETTER, MARK, DIGIT, SYMBOL = range(5)


def char_class(ch):
    o = ord(ch)
    if o < 0x80:
        if ("a" <= ch <= "z") or ("A" <= ch <= "Z"):
            return LETTER
        if "0" <= ch <= "9":
            return DIGIT
        if o <= 0x20 or o == 0x7F:
            return SEP
        return SYMBOL
    cat = unicodedata.category(ch)
    if cat in ("Lu", "Ll", "Lt", "Lm", "Lo", "Nl"):
        return LETTER
    if cat in ("Mn", "Mc", "Me"):
        return MARK
    if cat in ("Nd", "No"):
        return DIGIT
    if cat in ("Zs", "Zl", "Zp", "Cc", "Cf"):
        return SEP
    return SYMBOL


def split(text, max_tokens=0):
    """attend_tokenizer_split: the tokens of a str (see src/tokenizer.h)."""
    raw = text.encode("utf-8")  # raises on lone surrogates (invalid UTF-8)
    if len(raw) > MAX_TEXT_BYTES:
        text = raw[:MAX_TEXT_BYTES].decode("utf-8", errors="ignore")
    s = normalize(text)
    toks, cur, buf = [], SEP, []
    n = len(s)
    for i, ch in enumerate(s):
        cls = char_class(ch)
        if cls == SEP:
            if cur != SEP:
                toks.append("".join(buf))
                cur = SEP
            continue
        extend = False
        if cls == MARK:
            if cur != SEP:
                extend = True  # a mark belongs to what precedes it
            else:
                cls = LETTER  # a leading mark starts a word
        elif ch == "'" and cur == LETTER and i + 1 < n and char_class(s[i + 1]) == LETTER:
            extend = True  # don't, o'clock
        elif cls == cur and cls != SYMBOL:
            extend = True
        if not extend:
            if cur != SEP:
                toks.append("".join(buf))
                cur = SEP
            if max_tokens and len(toks) == max_tokens:
                return toks
            buf = []
            cur = cls
        buf.append(ch)
    if cur != SEP:
        toks.append("".join(buf))
    return toks


class AttendTokenizer:
    def __init__(self, vocab, max_len, add_cls):
        self.index = {t: i for i, t in enumerate(vocab)}
        self.max_len = max_len
        self.add_cls = add_cls

    def encode(self, text):
        """attend_model_encode: ids (<cls> first for cls pooling), at most max_len."""
        ids = [CLS] if self.add_cls else []
        if len(ids) == self.max_len:
            return ids
        for t in split(text, self.max_len - len(ids)):
            ids.append(self.index.get(t, UNK))
        return ids


# ---------------------------------------------------------------------------
# attend's classifier in PyTorch
# ---------------------------------------------------------------------------

def read_model_file(path):
    from safetensors import safe_open
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    for key in ("config", "vocab", "labels"):
        if key not in meta:
            raise SystemExit(f"serve_peer: {path}: metadata has no '{key}' (not an attend model)")
    return (json.loads(meta["config"]), json.loads(meta["vocab"]), json.loads(meta["labels"]),
            tensors)


def build_classifier(cfg, tensors):
    import torch
    import torch.nn as nn

    E, max_len = cfg["d_model"], cfg["max_len"]

    class AttendClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.pool = cfg["pool"]
            self.embedding = nn.Embedding(cfg["vocab_size"], E)
            self.pos_kind = cfg["pos"]
            if self.pos_kind == "learned":
                self.pos_embedding = nn.Embedding(max_len, E)
            elif self.pos_kind == "sinusoidal":
                # attend's table: 0.02 * sqrt(2) * sin / cos(t / 10000^(2i/E))
                t = torch.arange(max_len, dtype=torch.float64)[:, None]
                e = torch.arange(E)
                freq = torch.pow(10000.0, -(e - e % 2).to(torch.float64) / E)
                ang = t * freq
                tab = torch.where(e % 2 == 1, torch.cos(ang), torch.sin(ang))
                self.register_buffer("sinusoid", (0.02 * math.sqrt(2.0) * tab).float(),
                                     persistent=False)
            layer = nn.TransformerEncoderLayer(
                E, cfg["nhead"], cfg["dim_feedforward"], dropout=cfg["dropout"],
                activation=cfg["activation"], layer_norm_eps=cfg["layer_norm_eps"],
                batch_first=True, norm_first=cfg["norm_first"])
            norm = nn.LayerNorm(E, eps=cfg["layer_norm_eps"]) if cfg["norm_first"] else None
            self.encoder = nn.TransformerEncoder(layer, cfg["num_layers"], norm=norm,
                                                 enable_nested_tensor=False)
            head = {}
            width = E
            for j, h in enumerate(cfg["head_hidden"]):
                head[f"fc{j + 1}"] = nn.Linear(width, h)
                width = h
            head["out"] = nn.Linear(width, cfg["num_classes"])
            self.head = nn.ModuleDict(head)
            self.n_hidden = len(cfg["head_hidden"])

        def forward(self, ids, pad):
            """ids (B,T) long, pad (B,T) bool (True = padding) -> logits (B,K)."""
            T = ids.shape[1]
            x = self.embedding(ids)
            if self.pos_kind == "learned":
                x = x + self.pos_embedding.weight[:T]
            elif self.pos_kind == "sinusoidal":
                x = x + self.sinusoid[:T]
            h = self.encoder(x, src_key_padding_mask=pad) if cfg["num_layers"] else x
            if self.encoder.norm is not None and not cfg["num_layers"]:
                h = self.encoder.norm(h)
            keep = (~pad).unsqueeze(-1).to(h.dtype)
            if self.pool == "cls":
                u = h[:, 0]
            elif self.pool == "max":
                u = h.masked_fill(pad.unsqueeze(-1), float("-inf")).max(dim=1).values
                u = torch.where(keep.sum(dim=1) > 0, u, torch.zeros_like(u))
            else:
                u = (h * keep).sum(dim=1) / torch.clamp(keep.sum(dim=1), min=1.0)
            for j in range(self.n_hidden):
                u = torch.relu(self.head[f"fc{j + 1}"](u))
            return self.head["out"](u)

    model = AttendClassifier()
    model.load_state_dict(tensors, strict=True)
    return model.eval()


class ClassifierService:
    def __init__(self, path):
        import torch
        self.torch = torch
        cfg, vocab, labels, tensors = read_model_file(path)
        self.cfg = cfg
        self.labels = labels
        self.model = build_classifier(cfg, tensors)
        self.tok = AttendTokenizer(vocab, cfg["max_len"], cfg["pool"] == "cls")

    def probs(self, texts):
        """Class probabilities (list of lists); zeros for a text without tokens."""
        torch = self.torch
        ids = [self.tok.encode(t) for t in texts]
        real = [len(i) - (1 if self.tok.add_cls and i else 0) for i in ids]
        out = [[0.0] * len(self.labels) for _ in texts]
        rows = [k for k, r in enumerate(real) if r > 0]
        if not rows:
            return out
        T = max(len(ids[k]) for k in rows)
        x = torch.zeros((len(rows), T), dtype=torch.long)
        pad = torch.ones((len(rows), T), dtype=torch.bool)
        for r, k in enumerate(rows):
            x[r, :len(ids[k])] = torch.tensor(ids[k])
            pad[r, :len(ids[k])] = False
        with torch.inference_mode():
            p = torch.softmax(self.model(x, pad), dim=-1).tolist()
        for r, k in enumerate(rows):
            out[k] = p[r]
        return out

    def predict(self, texts):
        res = []
        for p in self.probs(texts):
            order = sorted(range(len(p)), key=lambda j: -p[j])
            res.append([{"label": self.labels[j], "score": p[j]} for j in order])
        return res


# ---------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------

def make_app(classifier_path, embedder_dir):
    from fastapi import FastAPI, HTTPException
    from pydantic import BaseModel

    clf = ClassifierService(classifier_path) if classifier_path else None
    emb = None
    if embedder_dir:
        import transformers
        transformers.logging.set_verbosity_error()
        transformers.utils.logging.disable_progress_bar()
        from sentence_transformers import SentenceTransformer
        emb = SentenceTransformer(embedder_dir, device="cpu")
        emb.eval()

    class Inputs(BaseModel):
        inputs: str | list[str]

    app = FastAPI(title="attend serving peer")

    def texts_of(req):
        single = isinstance(req.inputs, str)
        texts = [req.inputs] if single else list(req.inputs)
        for t in texts:
            try:
                t.encode("utf-8")
            except UnicodeEncodeError:
                raise HTTPException(status_code=422, detail="inputs must be valid Unicode text")
        return single, texts

    @app.get("/health")
    def health():
        return {"status": "ok"}

    # Plain (not async) handlers: FastAPI runs them in its thread pool, so a
    # request computing does not block the event loop.
    @app.post("/predict")
    def predict(req: Inputs):
        if clf is None:
            raise HTTPException(status_code=404, detail="no --classifier loaded")
        single, texts = texts_of(req)
        res = clf.predict(texts)
        return res[0] if single else res

    @app.post("/embed")
    def embed(req: Inputs):
        if emb is None:
            raise HTTPException(status_code=404, detail="no --embedder loaded")
        single, texts = texts_of(req)
        import torch
        with torch.inference_mode():
            v = emb.encode(texts, batch_size=32, convert_to_numpy=True,
                           show_progress_bar=False)
        return v.tolist()

    return app


# ---------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------

def read_lines(path):
    with open(path, encoding="utf-8", errors="surrogateescape", newline="\n") as f:
        return [ln[:-1] if ln.endswith("\n") else ln for ln in f]


def check_tokenizer(args):
    cfg, vocab, _, _ = read_model_file(args.classifier)
    tok = AttendTokenizer(vocab, cfg["max_len"], cfg["pool"] == "cls")
    lines = read_lines(args.data)
    if args.plain:
        texts = lines
    else:
        texts = [ln.split("\t", 1)[1] if "\t" in ln else ln for ln in lines]
    want = read_lines(args.attend_ids)
    if len(want) != len(texts):
        raise SystemExit(f"serve_peer: {len(texts)} texts but {len(want)} id lines")
    same_ids = 0
    shown = 0
    for k, t in enumerate(texts):
        try:
            got = " ".join(str(i) for i in tok.encode(t))
        except UnicodeEncodeError:
            got = "!"
        if got == want[k]:
            same_ids += 1
        elif shown < args.show:
            shown += 1
            print(f"ids differ on line {k + 1}: {t[:80]!r}\n  attend {want[k][:120]}\n"
                  f"  python {got[:120]}", file=sys.stderr)
    n = len(texts)
    print(f"ids equal on {same_ids} of {n} lines ({100.0 * same_ids / max(1, n):.3f} %)")
    return 0 if same_ids >= 0.999 * n else 1


def check_model(args):
    """Probabilities of the PyTorch rebuild against `attend predict --json -k K`."""
    svc = ClassifierService(args.classifier)
    texts = read_lines(args.texts)
    want = [json.loads(ln) if ln.strip() else None for ln in read_lines(args.attend_probs)]
    if len(want) != len(texts):
        raise SystemExit(f"serve_peer: {len(texts)} texts but {len(want)} prediction lines")
    got = svc.probs(texts)
    worst = 0.0
    for k, w in enumerate(want):
        if not w or not w.get("labels"):
            continue
        p = dict(zip(w["labels"], w["probs"]))
        for j, lab in enumerate(svc.labels):
            if lab in p:
                worst = max(worst, abs(p[lab] - got[k][j]))
    print(f"{len(texts)} texts: max |p_python - p_attend| = {worst:.3g}")
    return 0 if worst <= 1e-4 else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--classifier", help="attend model file (attend train --out)")
    s.add_argument("--embedder", help="sentence-transformers folder (all-MiniLM-L6-v2)")
    s.add_argument("--threads", type=int, default=1)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    c = sub.add_parser("check-tokenizer")
    c.add_argument("--classifier", required=True)
    c.add_argument("--data", required=True, help="label<TAB>text lines (or texts: --plain)")
    c.add_argument("--plain", action="store_true", help="each line is a whole text")
    c.add_argument("--attend-ids", required=True,
                   help="cut -f2- DATA | attend tokenize --model MODEL (for --plain: "
                        "attend tokenize --model MODEL DATA)")
    c.add_argument("--show", type=int, default=10, help="differences printed on stderr")
    m = sub.add_parser("check-model")
    m.add_argument("--classifier", required=True)
    m.add_argument("--texts", required=True, help="one text a line")
    m.add_argument("--attend-probs", required=True,
                   help="attend predict --model MODEL --json -k K < TEXTS (K = classes)")
    args = ap.parse_args()

    if args.cmd == "check-tokenizer":
        return check_tokenizer(args)
    if args.cmd == "check-model":
        return check_model(args)
    if not args.classifier and not args.embedder:
        ap.error("serve needs --classifier and/or --embedder")
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(max(1, args.threads))
    import torch
    torch.set_num_threads(args.threads)
    import uvicorn
    app = make_app(args.classifier, args.embedder)
    uvicorn.run(app, host=args.host, port=args.port, workers=1, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
