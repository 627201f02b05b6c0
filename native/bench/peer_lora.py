#!/usr/bin/python3
"""PyTorch peer for `lift bench lora` and `lift bench gpu`: the same LoRA training step (random
Llama-shaped model, LoRA on the given targets, masked cross-entropy, AdamW, clipping) timed the
same way. The spec's optional "device" ("cpu", "cuda") and "dtype" ("float32"; "bfloat16": the
forward under autocast, as mixed-precision training runs it) choose where and how.
Prints one JSON line: {"median_s": ..., "steps": n}. Usage: peer_lora.py '<json spec>'"""
import json
import math
import sys
import time

import torch

spec = json.loads(sys.argv[1])
torch.manual_seed(0)
torch.set_num_threads(spec.get("threads", 2))
dev = torch.device(spec.get("device", "cpu"))
autocast = spec.get("dtype", "float32") == "bfloat16"
torch.set_default_device(dev)
D, L, H, KV, F, V, T = (spec[k] for k in ("hidden", "layers", "heads", "kv_heads", "intermediate", "vocab", "seq"))
hd = D // H
r, alpha, targets = spec["rank"], spec["alpha"], spec["targets"]
shapes = dict(q_proj=(H * hd, D), k_proj=(KV * hd, D), v_proj=(KV * hd, D), o_proj=(D, H * hd),
              gate_proj=(F, D), up_proj=(F, D), down_proj=(D, F))
W = {"embed": torch.randn(V, D) * 0.02, "norm": torch.ones(D)}
layers = []
for _ in range(L):
    layer = {t: torch.randn(*s) * 0.02 for t, s in shapes.items()}
    layer["n1"], layer["n2"] = torch.ones(D), torch.ones(D)
    layers.append(layer)
lora = []
for _ in range(L):
    lora.append({t: (torch.randn(r, shapes[t][1]).mul_(0.01).requires_grad_(), torch.zeros(shapes[t][0], r, requires_grad=True)) for t in targets})
params = [p for d in lora for pair in d.values() for p in pair]
opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.98), weight_decay=1e-4)
inv = 1.0 / (10000 ** (torch.arange(0, hd, 2).float() / hd))
freqs = torch.arange(T).float()[:, None] * inv[None, :]
emb = torch.cat((freqs, freqs), -1)
cos, sin = emb.cos(), emb.sin()
mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
ids = torch.randint(0, V, (1, T))
labels = torch.randint(0, V, (1, T))
scale = alpha / r


def rms(x, w):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5))


def rot(x):
    return torch.cat((-x[..., hd // 2:], x[..., :hd // 2]), -1)


def lin(x, layer, lo, t):
    y = x @ layer[t].T
    if t in lo:
        a, b = lo[t]
        y = y + (x @ a.T) @ b.T * scale
    return y


def step():
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
        loss = forward()
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()


def forward():
    h = W["embed"][ids]
    for layer, lo in zip(layers, lora):
        x = rms(h, layer["n1"])
        q = lin(x, layer, lo, "q_proj").view(1, T, H, hd).transpose(1, 2)
        k = lin(x, layer, lo, "k_proj").view(1, T, KV, hd).transpose(1, 2)
        v = lin(x, layer, lo, "v_proj").view(1, T, KV, hd).transpose(1, 2)
        q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
        k, v = k.repeat_interleave(H // KV, 1), v.repeat_interleave(H // KV, 1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        a = torch.softmax(s.masked_fill(~mask, float("-inf")), -1) @ v
        h = h + lin(a.transpose(1, 2).reshape(1, T, D), layer, lo, "o_proj")
        y = rms(h, layer["n2"])
        h = h + lin(torch.nn.functional.silu(lin(y, layer, lo, "gate_proj")) * lin(y, layer, lo, "up_proj"), layer, lo, "down_proj")
    logits = rms(h, W["norm"]) @ W["embed"].T
    return torch.nn.functional.cross_entropy(logits.view(T, V).float(), labels.view(T))


def sync():
    if dev.type == "cuda":
        torch.cuda.synchronize()


step()
sync()
times = []
for _ in range(spec["steps"]):
    t0 = time.perf_counter()
    step()
    sync()
    times.append(time.perf_counter() - t0)
times.sort()
memory = torch.cuda.max_memory_allocated() if dev.type == "cuda" else None
print(json.dumps({"median_s": times[len(times) // 2], "steps": len(times), "torch": torch.__version__, "max_memory_bytes": memory}))
