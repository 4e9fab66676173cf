#!/usr/bin/python3
"""Generate attend's PyTorch parity fixtures.

Usage:  /usr/bin/python3 tests/gen_fixtures.py tests/fixtures
        (Debian's python3-torch, 1.13; `make fixtures` runs exactly this)

Writes one directory per case under the given directory, each holding
weights.safetensors, input.safetensors and expected.safetensors (the format
is described in tests/fixtures/README.md), and a few deliberately broken
input files for the CLI tests under tests/data/ (the fixtures directory's
sibling `data`).

Inputs and weights are float32 values. The reference is computed in float64
(modules and inputs converted to double) and stored as float32. Every case
is seeded, so running the script twice gives identical files.

PyTorch 1.13 returns NaN for a query whose every key is masked; attend's
defined answer is a per-head attention output of 0 (so the module output row
is out_proj.bias), attention weights 0 and finite gradients (what PyTorch's
later _safe_softmax does). For those cases the expected values come from
ref_mha / ref_encoder_layer below, a plain-torch implementation that is first
checked against nn.MultiheadAttention / nn.TransformerEncoderLayer to 1e-10
on every case that has no fully masked row.
"""
import json
import math
import os
import shutil
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ---------------------------------------------------------------------------
# safetensors writer (the format is small enough to write by hand)
# ---------------------------------------------------------------------------

_DTYPES = {
    np.dtype(np.float32): "F32",
    np.dtype(np.float64): "F64",
    np.dtype(np.uint8): "U8",
    np.dtype(np.bool_): "BOOL",
    np.dtype(np.int32): "I32",
    np.dtype(np.int64): "I64",
}


def save_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, numpy array) in file order; metadata: str -> str."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, arr in tensors:
        arr = np.ascontiguousarray(arr)
        dt = _DTYPES[arr.dtype]
        data = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape),
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


def f32(t):
    """A tensor (any float dtype) as a float32 numpy array."""
    return t.detach().to(torch.float32).cpu().numpy()


# ---------------------------------------------------------------------------
# Reference implementations in plain torch ops, with a "safe softmax"
# ---------------------------------------------------------------------------

def blocked_and_bias(B, H, L, S, key_padding_mask, attn_mask, causal, dtype):
    """Combines the masks into blocked (B,H,L,S) bool (True = may not attend)
    and an additive finite bias (B,H,L,S)."""
    blocked = torch.zeros(B, H, L, S, dtype=torch.bool)
    bias = torch.zeros(B, H, L, S, dtype=dtype)
    if key_padding_mask is not None:
        blocked = blocked | key_padding_mask.bool().view(B, 1, 1, S)
    if attn_mask is not None:
        m = attn_mask if attn_mask.dim() == 2 else attn_mask.view(B, H, L, S)
        if m.dtype == torch.bool or m.dtype == torch.uint8:
            blocked = blocked | m.bool()
        else:
            neg = torch.isneginf(m)
            blocked = blocked | neg
            bias = bias + torch.where(neg, torch.zeros_like(m), m).to(dtype)
    if causal:
        blocked = blocked | torch.triu(torch.ones(L, S, dtype=torch.bool), diagonal=1)
    return blocked, bias


def ref_mha(query, key, value, p, H, key_padding_mask=None, attn_mask=None, causal=False):
    """nn.MultiheadAttention (batch_first) forward with a safe softmax.
    p: dict of parameters named as the state_dict. Returns (out, weights)."""
    E = query.shape[-1]
    if "in_proj_weight" in p:
        wq, wk, wv = p["in_proj_weight"].chunk(3, dim=0)
    else:
        wq, wk, wv = p["q_proj_weight"], p["k_proj_weight"], p["v_proj_weight"]
    if "in_proj_bias" in p:
        bq, bk, bv = p["in_proj_bias"].chunk(3, dim=0)
    else:
        bq = bk = bv = None
    q = F.linear(query, wq, bq)
    k = F.linear(key, wk, bk)
    v = F.linear(value, wv, bv)
    B, L, _ = q.shape
    S = k.shape[1]
    D = E // H
    q = q.view(B, L, H, D).transpose(1, 2)  # (B,H,L,D)
    k = k.view(B, S, H, D).transpose(1, 2)  # (B,H,S,D)
    v = v.view(B, S, H, D).transpose(1, 2)
    scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D)  # (B,H,L,S)
    blocked, bias = blocked_and_bias(B, H, L, S, key_padding_mask, attn_mask, causal,
                                     scores.dtype)
    scores = scores + bias
    dead = blocked.all(dim=-1, keepdim=True)  # rows with no allowed key
    scores = scores.masked_fill(blocked, float("-inf"))
    scores = scores.masked_fill(dead, 0.0)  # keep softmax (and its gradient) finite
    w = torch.softmax(scores, dim=-1).masked_fill(dead, 0.0)
    ctx = torch.matmul(w, v).transpose(1, 2).reshape(B, L, E)
    out = F.linear(ctx, p["out_proj.weight"], p.get("out_proj.bias"))
    return out, w


def ref_encoder_layer(x, p, H, key_padding_mask, activation, norm_first, eps):
    """nn.TransformerEncoderLayer (batch_first, dropout 0) forward."""
    attn = {k[len("self_attn."):]: v for k, v in p.items() if k.startswith("self_attn.")}
    act = F.relu if activation == "relu" else F.gelu
    E = x.shape[-1]

    def sa(y):
        return ref_mha(y, y, y, attn, H, key_padding_mask)[0]

    def ff(y):
        return F.linear(act(F.linear(y, p["linear1.weight"], p["linear1.bias"])),
                        p["linear2.weight"], p["linear2.bias"])

    def ln(y, i):
        return F.layer_norm(y, (E,), p[f"norm{i}.weight"], p[f"norm{i}.bias"], eps)

    if norm_first:
        x = x + sa(ln(x, 1))
        x = x + ff(ln(x, 2))
    else:
        x = ln(x + sa(x), 1)
        x = ln(x + ff(x), 2)
    return x


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def randomize_params(module, scale=None):
    """PyTorch initialises biases to 0 and norms to 1, which would hide bugs:
    give every parameter random float32 values."""
    with torch.no_grad():
        for name, prm in module.named_parameters():
            if name.startswith("norm") and name.endswith("weight"):
                prm.copy_(1.0 + 0.2 * torch.randn_like(prm))
            elif name.endswith("bias"):
                prm.copy_(0.2 * torch.randn_like(prm))
            else:
                fan_in = prm.shape[1]
                prm.copy_(torch.randn_like(prm) / math.sqrt(fan_in))


def leaf_params(module):
    """Double-precision leaf copies of a module's parameters, by state_dict name."""
    return {n: prm.detach().double().clone().requires_grad_(True)
            for n, prm in module.named_parameters()}


def max_rel_diff(a, b):
    a = a.detach().double()
    b = b.detach().double()
    if a.shape != b.shape:
        return float("inf")
    if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
        return float("inf")
    if a.numel() == 0:
        return 0.0
    return float((a - b).abs().max() / max(float(b.abs().max()), 1.0))


def assert_close(tag, got, ref, tol=1e-10):
    d = max_rel_diff(got, ref)
    if not d <= tol:
        raise AssertionError(f"{tag}: reference implementation differs from PyTorch "
                             f"by {d:.3g} (tol {tol:g})")


def bool_mask_np(m, as_u8):
    a = m.numpy().astype(np.bool_)
    return a.astype(np.uint8) if as_u8 else a


def metadata(op, heads, description, causal=False, activation="relu", norm_first=False,
             eps=None):
    md = {"op": op, "heads": str(heads), "causal": "1" if causal else "0",
          "activation": activation, "norm_first": "1" if norm_first else "0",
          "description": description}
    if eps is not None:
        md["layer_norm_eps"] = repr(float(eps))
    return md


# ---------------------------------------------------------------------------
# Case generators
# ---------------------------------------------------------------------------

def gen_mha(outdir, name, seed, description, B, L, E, H, S=None, kdim=None, vdim=None,
            cross=False, bias=True, key_padding=None, key_padding_u8=False,
            attn_mask=None, attn_mask_u8=False, causal=False, nan_keys=None,
            fully_masked=False):
    """One nn.MultiheadAttention case.

    key_padding: list of (b, s) positions to pad; attn_mask: a function
    (generator) -> mask tensor (bool or float), evaluated after the seed is set.
    nan_keys: list of (b, s) positions where the stored key/value rows are NaN
    (they must be padded); the expected values use rows of 0 there.
    fully_masked: the case has a query with no allowed key, so the expected
    values come from ref_mha (PyTorch gives NaN there)."""
    torch.manual_seed(seed)
    S = L if S is None else S
    kdim = E if kdim is None else kdim
    vdim = E if vdim is None else vdim
    if kdim != E or vdim != E:
        cross = True
    mha = nn.MultiheadAttention(E, H, dropout=0.0, bias=bias, kdim=kdim, vdim=vdim,
                                batch_first=True)
    randomize_params(mha)
    mha.train()
    query = torch.randn(B, L, E)
    key = torch.randn(B, S, kdim) if cross else None
    value = torch.randn(B, S, vdim) if cross else None
    grad_output = torch.randn(B, L, E)
    kpm = None
    if key_padding is not None:
        kpm = torch.zeros(B, S, dtype=torch.bool)
        for b, s in key_padding:
            kpm[b, s] = True
    am = attn_mask() if attn_mask is not None else None
    if nan_keys:
        for b, s in nan_keys:
            assert kpm is not None and kpm[b, s], "NaN keys must be padded"
            key[b, s] = 0.0
            value[b, s] = 0.0

    # Inputs as double leaves (the float32 values, exactly).
    q64 = query.double().requires_grad_(True)
    k64 = key.double().requires_grad_(True) if cross else q64
    v64 = value.double().requires_grad_(True) if cross else q64
    torch_mask = None
    if am is not None:
        torch_mask = am if am.dtype == torch.bool else am.double()
    if causal:
        cm = torch.triu(torch.ones(L, S, dtype=torch.bool), diagonal=1)
        torch_mask = cm if torch_mask is None else (torch_mask | cm)
    g64 = grad_output.double()

    # The reference in plain torch ops.
    params = leaf_params(mha)
    ref_out, ref_w = ref_mha(q64, k64, v64, params, H, kpm, am.double()
                             if am is not None and am.dtype != torch.bool else am, causal)
    ref_out.backward(g64)
    ref = {"output": ref_out, "attn_weights": ref_w, "grad_query": q64.grad}
    if cross:
        ref["grad_key"] = k64.grad
        ref["grad_value"] = v64.grad
    for n, prm in params.items():
        ref["grad." + n] = prm.grad

    if not fully_masked:
        # Check the reference against PyTorch itself.
        m64 = mha.double()
        tq = query.double().requires_grad_(True)
        tk = key.double().requires_grad_(True) if cross else tq
        tv = value.double().requires_grad_(True) if cross else tq
        out, w = m64(tq, tk, tv, key_padding_mask=kpm, attn_mask=torch_mask,
                     need_weights=True, average_attn_weights=False)
        out.backward(g64)
        torch_res = {"output": out, "attn_weights": w, "grad_query": tq.grad}
        if cross:
            torch_res["grad_key"] = tk.grad
            torch_res["grad_value"] = tv.grad
        for n, prm in m64.named_parameters():
            torch_res["grad." + n] = prm.grad
        assert set(torch_res) == set(ref), (name, set(torch_res) ^ set(ref))
        for k in ref:
            assert_close(f"{name}/{k}", ref[k], torch_res[k])
        mha.float()
    else:
        # Sanity: some query row is fully masked; PyTorch gives NaN there and
        # agrees with the reference on every other output row.
        dead = ref_w.sum(-1) == 0  # (B,H,L)
        assert dead.any(), name
        with torch.no_grad():
            out, _ = mha.double()(q64, k64, v64, key_padding_mask=kpm, attn_mask=torch_mask,
                                  need_weights=True, average_attn_weights=False)
        mha.float()
        live = ~dead.any(dim=1)  # (B,L)
        assert torch.isnan(out[~live]).all(), name
        assert_close(f"{name}/output (live rows)", ref_out[live], out[live])
        for k, t in ref.items():
            assert torch.isfinite(t).all(), (name, k)

    # Files.
    os.makedirs(os.path.join(outdir, name), exist_ok=True)
    d = os.path.join(outdir, name)
    save_safetensors(os.path.join(d, "weights.safetensors"),
                     [(n, f32(t)) for n, t in mha.state_dict().items()])
    inputs = [("query", f32(query))]
    if cross:
        kk, vv = key.clone(), value.clone()
        for b, s in (nan_keys or []):
            kk[b, s] = float("nan")
            vv[b, s] = float("nan")
        inputs += [("key", f32(kk)), ("value", f32(vv))]
    if kpm is not None:
        inputs.append(("key_padding_mask", bool_mask_np(kpm, key_padding_u8)))
    if am is not None:
        if am.dtype == torch.bool:
            inputs.append(("attn_mask", bool_mask_np(am, attn_mask_u8)))
        else:
            inputs.append(("attn_mask", f32(am)))
    inputs.append(("grad_output", f32(grad_output)))
    save_safetensors(os.path.join(d, "input.safetensors"), inputs)
    order = ["output", "attn_weights", "grad_query"]
    if cross:
        order += ["grad_key", "grad_value"]
    order += ["grad." + n for n in params]
    save_safetensors(os.path.join(d, "expected.safetensors"),
                     [(k, f32(ref[k])) for k in order],
                     metadata("mha", H, description, causal=causal))
    return mha, query


def gen_encoder(outdir, name, seed, description, B, T, E, H, Fdim, activation="relu",
                norm_first=False, key_padding=None, key_padding_u8=False,
                fully_masked=False, eps=1e-5):
    """One nn.TransformerEncoderLayer case (dropout 0, training mode)."""
    torch.manual_seed(seed)
    layer = nn.TransformerEncoderLayer(E, H, dim_feedforward=Fdim, dropout=0.0,
                                       activation=activation, layer_norm_eps=eps,
                                       batch_first=True, norm_first=norm_first)
    randomize_params(layer)
    layer.train()
    src = torch.randn(B, T, E)
    grad_output = torch.randn(B, T, E)
    kpm = None
    if key_padding is not None:
        kpm = torch.zeros(B, T, dtype=torch.bool)
        for b, s in key_padding:
            kpm[b, s] = True
    g64 = grad_output.double()

    params = leaf_params(layer)
    x64 = src.double().requires_grad_(True)
    out = ref_encoder_layer(x64, params, H, kpm, activation, norm_first, eps)
    out.backward(g64)
    ref = {"output": out, "grad_src": x64.grad}
    for n, prm in params.items():
        ref["grad." + n] = prm.grad

    if not fully_masked:
        m64 = layer.double()
        tx = src.double().requires_grad_(True)
        tout = m64(tx, src_key_padding_mask=kpm)
        tout.backward(g64)
        torch_res = {"output": tout, "grad_src": tx.grad}
        for n, prm in m64.named_parameters():
            torch_res["grad." + n] = prm.grad
        assert set(torch_res) == set(ref), name
        for k in ref:
            assert_close(f"{name}/{k}", ref[k], torch_res[k])
        layer.float()
    else:
        for k, t in ref.items():
            assert torch.isfinite(t).all(), (name, k)

    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    save_safetensors(os.path.join(d, "weights.safetensors"),
                     [(n, f32(t)) for n, t in layer.state_dict().items()])
    inputs = [("src", f32(src))]
    if kpm is not None:
        inputs.append(("src_key_padding_mask", bool_mask_np(kpm, key_padding_u8)))
    inputs.append(("grad_output", f32(grad_output)))
    save_safetensors(os.path.join(d, "input.safetensors"), inputs)
    order = ["output", "grad_src"] + ["grad." + n for n in params]
    md = metadata("encoder-layer", H, description, activation=activation,
                  norm_first=norm_first, eps=eps)
    save_safetensors(os.path.join(d, "expected.safetensors"),
                     [(k, f32(ref[k])) for k in order], md)


# ---------------------------------------------------------------------------
# Masks used by the cases (each a function so it draws after the case's seed)
# ---------------------------------------------------------------------------

def float_mask_2d(L, S):
    def make():
        m = torch.randn(L, S)
        m[0, 2] = float("-inf")
        m[1, 0] = float("-inf")
        m[1, 3] = float("-inf")
        m[3, 1:] = float("-inf")  # row 3 keeps only key 0
        return m
    return make


def float_mask_3d(B, H, L, S):
    def make():
        m = 0.5 * torch.randn(B * H, L, S)
        drop = torch.rand(B * H, L, S) < 0.3
        drop[..., 0] = False  # key 0 always allowed: no row fully masked
        return m.masked_fill(drop, float("-inf"))
    return make


def bool_mask_2d(L, S):
    def make():
        m = torch.rand(L, S) < 0.4
        m[torch.arange(min(L, S)), torch.arange(min(L, S))] = False  # diagonal allowed
        return m
    return make


def bool_mask_3d(B, H, L, S):
    def make():
        m = torch.rand(B * H, L, S) < 0.5
        m[:, torch.arange(min(L, S)), torch.arange(min(L, S))] = False
        return m
    return make


def fully_masked_row_mask(L, S):
    def make():
        m = torch.zeros(L, S, dtype=torch.bool)
        m[1, :3] = True  # query 1 may only see keys 3, 4, which batch 0 pads
        m[4, :] = True   # query 4 sees no key at all, in every batch
        m[2, 4] = True
        return m
    return make


# ---------------------------------------------------------------------------
# Hostile inputs for the CLI tests (tests/data)
# ---------------------------------------------------------------------------

def gen_bad_inputs(datadir):
    """Input files that go with tests/fixtures/mha_self/weights.safetensors
    (E = 16, H = 4) and must be rejected with a message naming `query`: no
    query, query (2,5,15), query (5,16) (rank 2) and query stored as F64."""
    os.makedirs(datadir, exist_ok=True)
    torch.manual_seed(1000)
    q = torch.randn(2, 5, 16)
    save_safetensors(os.path.join(datadir, "bad_no_query.safetensors"),
                     [("grad_output", f32(torch.randn(2, 5, 16)))])
    save_safetensors(os.path.join(datadir, "bad_query_shape.safetensors"),
                     [("query", f32(torch.randn(2, 5, 15)))])
    save_safetensors(os.path.join(datadir, "bad_query_rank.safetensors"),
                     [("query", f32(torch.randn(5, 16)))])
    save_safetensors(os.path.join(datadir, "bad_query_f64.safetensors"),
                     [("query", q.double().numpy())])


# ---------------------------------------------------------------------------

def main():
    if len(sys.argv) != 2:
        print("usage: /usr/bin/python3 tests/gen_fixtures.py OUTDIR", file=sys.stderr)
        return 2
    outdir = sys.argv[1]
    torch.set_num_threads(1)
    os.makedirs(outdir, exist_ok=True)
    # Remove the case directories this script owns (keeps README.md and any
    # case added from another implementation, which is never named like ours).
    cases = []

    def case(fn, name, *args, **kw):
        d = os.path.join(outdir, name)
        if os.path.isdir(d):
            shutil.rmtree(d)
        fn(outdir, name, *args, **kw)
        cases.append(name)

    # --- nn.MultiheadAttention ---
    case(gen_mha, "mha_self", 1, "self-attention, B=2 T=5 E=16 H=4", B=2, L=5, E=16, H=4)
    case(gen_mha, "mha_cross_kdim_vdim", 2,
         "cross-attention with separate q/k/v projections, E=16 kdim=12 vdim=20 L=4 S=6 H=2",
         B=2, L=4, S=6, E=16, H=2, kdim=12, vdim=20)
    case(gen_mha, "mha_cross_same_dim", 3,
         "cross-attention with kdim=vdim=E (packed in_proj_weight), L=3 S=7, key padding",
         B=2, L=3, S=7, E=16, H=4, cross=True, key_padding=[(0, 6), (1, 0), (1, 5)])
    case(gen_mha, "mha_key_padding", 4, "key_padding_mask as BOOL (True = padding)",
         B=3, L=6, E=16, H=4, key_padding=[(0, 5), (0, 4), (1, 0), (2, 2)])
    case(gen_mha, "mha_key_padding_u8", 5, "key_padding_mask as U8 (1 = padding)",
         B=3, L=6, E=16, H=4, key_padding=[(0, 5), (1, 1), (1, 3), (2, 0)],
         key_padding_u8=True)
    case(gen_mha, "mha_causal", 6, "causal mask (--causal), no attn_mask tensor",
         B=2, L=7, E=16, H=4, causal=True)
    case(gen_mha, "mha_causal_key_padding", 7, "causal mask combined with key padding",
         B=2, L=6, E=16, H=2, causal=True, key_padding=[(0, 5), (1, 4), (1, 5)])
    case(gen_mha, "mha_float_mask", 8, "F32 attn_mask (L,S) added to the scores, some -inf",
         B=2, L=5, E=16, H=4, attn_mask=float_mask_2d(5, 5))
    case(gen_mha, "mha_float_mask_key_padding", 9, "F32 attn_mask (L,S) plus BOOL key padding",
         B=2, L=5, E=16, H=4, attn_mask=float_mask_2d(5, 5), key_padding=[(1, 4)])
    case(gen_mha, "mha_float_mask_3d", 10, "F32 attn_mask (B*H,L,S) with -inf entries",
         B=2, L=5, S=6, E=16, H=2, cross=True, attn_mask=float_mask_3d(2, 2, 5, 6))
    case(gen_mha, "mha_bool_mask_2d", 11, "BOOL attn_mask (L,S), True = may not attend",
         B=2, L=6, E=16, H=4, attn_mask=bool_mask_2d(6, 6))
    case(gen_mha, "mha_bool_mask_2d_u8", 12, "U8 attn_mask (L,S), 1 = may not attend",
         B=2, L=6, E=16, H=4, attn_mask=bool_mask_2d(6, 6), attn_mask_u8=True)
    case(gen_mha, "mha_bool_mask_3d", 13, "BOOL attn_mask (B*H,L,S), per batch and head",
         B=2, L=5, E=16, H=4, attn_mask=bool_mask_3d(2, 4, 5, 5))
    case(gen_mha, "mha_fully_masked_row", 14,
         "queries with no allowed key (attn_mask + key padding): per-head output 0, so the "
         "output row is out_proj.bias; weights 0; gradients finite (PyTorch 1.13 gives NaN)",
         B=2, L=5, E=16, H=4, attn_mask=fully_masked_row_mask(5, 5),
         key_padding=[(0, 3), (0, 4)], fully_masked=True)
    case(gen_mha, "mha_fully_masked_causal", 15,
         "causal + key padding of key 0 in batch 1: query 0 of batch 1 has no allowed key",
         B=2, L=5, E=16, H=4, causal=True, key_padding=[(1, 0), (0, 4)], fully_masked=True)
    case(gen_mha, "mha_one_head", 16, "H=1", B=2, L=5, E=16, H=1, key_padding=[(1, 4)])
    case(gen_mha, "mha_odd", 17, "odd sizes E=24 H=3 T=13", B=2, L=13, E=24, H=3)
    case(gen_mha, "mha_no_bias", 18, "bias=False: no in_proj_bias, no out_proj.bias",
         B=2, L=5, E=16, H=4, bias=False)
    case(gen_mha, "mha_no_bias_cross_kdim", 19, "bias=False with kdim=8 vdim=12",
         B=2, L=4, S=5, E=16, H=4, kdim=8, vdim=12, bias=False)
    case(gen_mha, "mha_nan_in_masked_key", 20,
         "key/value rows are NaN at padded positions; expected = same input with 0 there "
         "(output finite, grad_key/grad_value 0 there, weight gradients finite)",
         B=2, L=4, S=6, E=16, H=2, cross=True,
         key_padding=[(0, 4), (0, 5), (1, 2)], nan_keys=[(0, 5), (1, 2)])

    # --- nn.TransformerEncoderLayer ---
    case(gen_encoder, "encoder_post_relu", 101,
         "post-norm (PyTorch default), ReLU, E=16 H=4 F=32 T=7 B=2, key padding",
         B=2, T=7, E=16, H=4, Fdim=32, key_padding=[(0, 6), (0, 5), (1, 6)])
    case(gen_encoder, "encoder_pre_gelu", 102, "norm_first, GELU (erf), key padding",
         B=2, T=7, E=16, H=4, Fdim=32, activation="gelu", norm_first=True,
         key_padding=[(1, 3), (1, 6)])
    case(gen_encoder, "encoder_odd", 103, "odd sizes E=24 H=3 F=40 T=13 B=3, U8 key padding",
         B=3, T=13, E=24, H=3, Fdim=40, key_padding=[(0, 12), (1, 0), (1, 7), (2, 11)],
         key_padding_u8=True)
    case(gen_encoder, "encoder_no_mask", 104, "post-norm ReLU without any mask",
         B=2, T=6, E=16, H=2, Fdim=24)
    case(gen_encoder, "encoder_pre_relu_odd", 105, "norm_first, ReLU, E=24 H=3 F=40 T=13",
         B=2, T=13, E=24, H=3, Fdim=40, norm_first=True)
    case(gen_encoder, "encoder_post_gelu_fully_padded", 106,
         "post-norm GELU; every key of batch 1 is padding, so its attention output is "
         "out_proj.bias (PyTorch 1.13 gives NaN for the whole batch's gradients)",
         B=2, T=5, E=16, H=4, Fdim=32, activation="gelu",
         key_padding=[(0, 4)] + [(1, s) for s in range(5)], fully_masked=True)

    datadir = os.path.join(os.path.dirname(os.path.abspath(outdir.rstrip("/"))), "data")
    gen_bad_inputs(datadir)
    print(f"wrote {len(cases)} cases to {outdir}, bad inputs to {datadir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
