#!/usr/bin/python3
"""PyTorch peer for `lift bench generate`: the same Llama architecture (RMSNorm, RoPE, GQA,
SwiGLU, tied or untied head) in plain torch with a KV cache, greedy decoding, prefill and decode
timed separately under torch.inference_mode. Weights: read from the given model.safetensors
(a small header + raw tensors, parsed here with numpy; fp16/bf16/fp32 → float32) when a path is
given, else random normal(0, 0.02) of the same shapes.
Prints {"ready": true, ...} after a warm-up run, then answers each line "run" on stdin with one
JSON line {"prefill_s": s, "decode_s": [s per decode step], "tokens": [...]} (so that the bench
interleaves its runs with ours). Usage: peer_generate.py '<json spec>' (spec: see generate.ts)"""
import json
import math
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

spec = json.loads(sys.argv[1])
torch.manual_seed(0)
torch.set_num_threads(spec.get("threads", 2))
D, L, H, KV, hd, FF, V = (spec[k] for k in ("hidden", "layers", "heads", "kv_heads", "head_dim", "intermediate", "vocab"))
eps, theta, tie = spec["rms_eps"], spec["rope_theta"], spec["tie"]
prompt, new_tokens = spec["prompt"], spec["new_tokens"]
groups = H // KV


def read_safetensors(file):
    """name → float32 tensor, from the safetensors layout: u64 header size, JSON header, data."""
    with open(file, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        buf = raw[base + a:base + b]
        if e["dtype"] == "F32":
            arr = np.frombuffer(buf, dtype="<f4")
        elif e["dtype"] == "F16":
            arr = np.frombuffer(buf, dtype="<f2").astype(np.float32)
        elif e["dtype"] == "BF16":
            arr = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            raise SystemExit(f"unsupported dtype {e['dtype']} for {name}")
        out[name] = torch.from_numpy(arr.copy()).reshape(e["shape"])
    return out


shapes = dict(q_proj=(H * hd, D), k_proj=(KV * hd, D), v_proj=(KV * hd, D), o_proj=(D, H * hd),
              gate_proj=(FF, D), up_proj=(FF, D), down_proj=(D, FF))
module = dict(q_proj="self_attn", k_proj="self_attn", v_proj="self_attn", o_proj="self_attn",
              gate_proj="mlp", up_proj="mlp", down_proj="mlp")
if spec.get("weights"):
    st = read_safetensors(spec["weights"])
    get = st.__getitem__
    source = "loaded from " + spec["weights"].split("/")[-1]
else:
    def get(name):
        if name.endswith("layernorm.weight") or name == "model.norm.weight":
            return torch.ones(D)
        if name == "model.embed_tokens.weight" or name == "lm_head.weight":
            return torch.randn(V, D) * 0.02
        t = name.split(".")[-2]
        return torch.randn(*shapes[t]) * 0.02
    source = "random normal(0, 0.02), same shapes"

embed = get("model.embed_tokens.weight")
head = embed if tie else get("lm_head.weight")
final_norm = get("model.norm.weight")
layers = []
for i in range(L):
    p = f"model.layers.{i}"
    layer = {t: get(f"{p}.{module[t]}.{t}.weight").contiguous() for t in shapes}
    layer["n1"] = get(f"{p}.input_layernorm.weight")
    layer["n2"] = get(f"{p}.post_attention_layernorm.weight")
    layers.append(layer)

# rotary tables for every position this run needs (cos/sin of position × inverse frequency, twice)
positions_needed = len(prompt) + new_tokens + 1
inv = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
freqs = torch.arange(positions_needed, dtype=torch.float64)[:, None] * inv[None, :]
emb = torch.cat((freqs, freqs), -1)
COS, SIN = emb.cos().float(), emb.sin().float()


def rms(x, w):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rot(x):
    return torch.cat((-x[..., hd // 2:], x[..., :hd // 2]), -1)


def forward(ids, start, cache):
    """Logits of the last position after `ids` at positions start…; cache: per layer (k, v) or None."""
    T = len(ids)
    cos, sin = COS[start:start + T], SIN[start:start + T]
    h = embed[torch.tensor(ids)][None]  # [1, T, D]
    present = []
    for i, layer in enumerate(layers):
        x = rms(h, layer["n1"])
        q = F.linear(x, layer["q_proj"]).view(1, T, H, hd).transpose(1, 2)
        k = F.linear(x, layer["k_proj"]).view(1, T, KV, hd).transpose(1, 2)
        v = F.linear(x, layer["v_proj"]).view(1, T, KV, hd).transpose(1, 2)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        if cache is not None:
            k = torch.cat((cache[i][0], k), 2)
            v = torch.cat((cache[i][1], v), 2)
        present.append((k, v))
        if groups > 1:
            k, v = k.repeat_interleave(groups, 1), v.repeat_interleave(groups, 1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)  # [1, H, T, S]
        if T > 1:
            S = k.shape[2]
            allowed = torch.arange(S)[None, :] <= (start + torch.arange(T))[:, None]
            s = s.masked_fill(~allowed, float("-inf"))
        a = torch.softmax(s, -1) @ v
        h = h + F.linear(a.transpose(1, 2).reshape(1, T, H * hd), layer["o_proj"])
        y = rms(h, layer["n2"])
        h = h + F.linear(F.silu(F.linear(y, layer["gate_proj"])) * F.linear(y, layer["up_proj"]), layer["down_proj"])
    last = rms(h[:, -1], final_norm)
    return F.linear(last, head)[0], present


def generate():
    """One greedy generation of `new_tokens` tokens (forced: no stop tokens): prefill time, per-token decode times."""
    t0 = time.perf_counter()
    logits, cache = forward(prompt, 0, None)
    tokens = [int(torch.argmax(logits))]
    prefill = time.perf_counter() - t0
    steps = []
    while len(tokens) < new_tokens:
        t = time.perf_counter()
        logits, cache = forward([tokens[-1]], len(prompt) + len(tokens) - 1, cache)
        tokens.append(int(torch.argmax(logits)))
        steps.append(time.perf_counter() - t)
    return prefill, steps, tokens


# Serves runs so that the bench can interleave them with its own: after the weights are ready
# and one warm-up run, prints {"ready": ...}; then each line "run" on stdin gets one line of
# timings; end of input ends the process.
with torch.inference_mode():
    generate()
    print(json.dumps({"ready": True, "weights": source, "torch": torch.__version__, "threads": torch.get_num_threads()}), flush=True)
    for line in iter(sys.stdin.readline, ""):
        if line.strip() != "run":
            continue
        p, steps, tokens = generate()
        print(json.dumps({"prefill_s": p, "decode_s": steps, "tokens": tokens}), flush=True)
