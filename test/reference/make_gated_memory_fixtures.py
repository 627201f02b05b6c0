#!/usr/bin/python3
"""Reference fixtures for Gated Memory (LIFT v3), computed with PyTorch autograd.

Written from the formulas in LIFT.md §6, in the paper's column-vector form and independently of
the engine's rewriting: in every attention head, on the pre-RoPE query q (head size d, r = ⌊√d⌋),
    m(q) = W2 · SiLU(W1 · q)              W1: d → 2d, W2: 2d → d
    g(q) = σ(3 · (w · SiLU(U · q) − 1))   U: d → r, w: r → 1
    out  = (1 − g) / (1 − g0) · attention + g · m(q),   g0 = σ(−3)
merged over heads before o_proj. The division by (1 − g0) is this project's change to the paper
(so that W2 = 0, w = 0 is the base model exactly); the rest is the paper's.

For seeded tiny models (grouped-query attention; Qwen2-style q/k/v biases and tied embeddings)
it writes <name>/config.json, <name>/model.safetensors and <name>/expected.safetensors with the
logits, the masked cross-entropy loss and its gradients for every memory and gate tensor (stored
in the engine's row layout, [heads, in, out]: the transposes of the column form), plus the logits
of the base model and of the initial adapter (which must be equal). The tests do not need PyTorch.

Run: /usr/bin/python3 test/reference/make_gated_memory_fixtures.py   (Debian: apt-get install python3-torch)
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_llama_fixtures import inv_freq, random_weights, rms_norm, rotate_half, write_model, write_safetensors  # noqa: E402

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
CONFIGS = {
    "gm-llama-gqa": dict(model_type="llama", hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, intermediate_size=32, vocab_size=48, rms_norm_eps=1e-5,
                         rope_theta=10000.0, max_position_embeddings=128, tie_word_embeddings=False, shards=1, dtype="F32"),
    "gm-qwen2-tied-bias": dict(model_type="qwen2", hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                               num_key_value_heads=1, intermediate_size=32, vocab_size=48, rms_norm_eps=1e-6,
                               rope_theta=1000000.0, max_position_embeddings=128, tie_word_embeddings=True, shards=1, dtype="F32"),
}
T = 10
G0 = 1 / (1 + math.exp(3))


def memory_mix(q, attn, mem):
    """q, attn: [1, H, n, d]; mem: per-head column-form matrices W1 [H, 2d, d], W2 [H, d, 2d], U [H, r, d], w [H, 1, r]."""
    silu = torch.nn.functional.silu
    m = torch.einsum("hij,bhnj->bhni", mem["W2"], silu(torch.einsum("hij,bhnj->bhni", mem["W1"], q)))
    z = torch.einsum("hij,bhnj->bhni", mem["w"], silu(torch.einsum("hij,bhnj->bhni", mem["U"], q)))
    g = torch.sigmoid(3 * (z - 1))
    return (1 - g) / (1 - G0) * attn + g * m


def forward(c, W, ids, memory):
    D, H, KV = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd = D // H
    n = ids.shape[1]
    pos = torch.arange(n, dtype=torch.float32)
    freqs = pos[:, None] * inv_freq(c)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()

    def lin(x, name, bias=None):
        y = x @ W[name].T
        return y + W[bias] if bias is not None else y

    h = W["model.embed_tokens.weight"][ids]
    mask = torch.tril(torch.ones(n, n, dtype=torch.bool))
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}"
        x = rms_norm(h, W[f"{p}.input_layernorm.weight"], c["rms_norm_eps"])
        bias = (lambda t: f"{p}.self_attn.{t}.bias") if c["model_type"] == "qwen2" else (lambda t: None)
        q0 = lin(x, f"{p}.self_attn.q_proj.weight", bias("q_proj")).view(1, n, H, hd).transpose(1, 2)
        k = lin(x, f"{p}.self_attn.k_proj.weight", bias("k_proj")).view(1, n, KV, hd).transpose(1, 2)
        v = lin(x, f"{p}.self_attn.v_proj.weight", bias("v_proj")).view(1, n, KV, hd).transpose(1, 2)
        q = q0 * cos + rotate_half(q0) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        s = s.masked_fill(~mask, float("-inf"))
        a = torch.softmax(s, dim=-1) @ v
        if memory is not None:
            a = memory_mix(q0, a, memory[i])
        h = h + lin(a.transpose(1, 2).reshape(1, n, H * hd), f"{p}.self_attn.o_proj.weight")
        y = rms_norm(h, W[f"{p}.post_attention_layernorm.weight"], c["rms_norm_eps"])
        g = lin(y, f"{p}.mlp.gate_proj.weight")
        u = lin(y, f"{p}.mlp.up_proj.weight")
        h = h + lin(torch.nn.functional.silu(g) * u, f"{p}.mlp.down_proj.weight")
    h = rms_norm(h, W["model.norm.weight"], c["rms_norm_eps"])
    head = W["model.embed_tokens.weight"] if c["tie_word_embeddings"] else W["lm_head.weight"]
    return h @ head.T


def make(name, c):
    D, H, V = c["hidden_size"], c["num_attention_heads"], c["vocab_size"]
    hd = D // H
    r = math.isqrt(hd)
    W, _ = random_weights(name, c)
    out = os.path.join(HERE, name)
    write_model(out, c, W)

    ids = torch.randint(0, V, (1, T))
    labels = torch.roll(ids, -1, dims=1)
    loss_mask = torch.ones(1, T)
    loss_mask[0, :3] = 0
    loss_mask[0, -1] = 0
    # trained-looking values: every part non-zero, so that every part gets a gradient
    memory = [{
        "W1": (torch.randn(H, 2 * hd, hd) * 0.4).requires_grad_(),
        "W2": (torch.randn(H, hd, 2 * hd) * 0.3).requires_grad_(),
        "U": (torch.randn(H, r, hd) * 0.5).requires_grad_(),
        "w": (torch.randn(H, 1, r) * 0.8).requires_grad_(),
    } for _ in range(c["num_hidden_layers"])]
    logits = forward(c, W, ids, memory)
    logp = torch.log_softmax(logits, dim=-1)
    picked = logp.gather(-1, labels[..., None])[..., 0]
    loss = -(picked * loss_mask).sum() / loss_mask.sum().clamp(min=1)
    loss.backward()
    base_logits = forward(c, W, ids, None)
    # the initial adapter: W1 and U random, W2 = 0, w = 0
    initial = [{"W1": torch.randn(H, 2 * hd, hd), "W2": torch.zeros(H, hd, 2 * hd), "U": torch.randn(H, r, hd), "w": torch.zeros(H, 1, r)}
               for _ in range(c["num_hidden_layers"])]
    init_logits = forward(c, W, ids, initial)
    expected = {"input_ids": ids.to(torch.float32), "labels": labels.to(torch.float32), "loss_mask": loss_mask,
                "logits": logits.detach(), "base_logits": base_logits.detach(), "initial_logits": init_logits.detach(),
                "loss": loss.detach().reshape(1)}
    for i, mem in enumerate(memory):
        for part, t in mem.items():
            expected[f"layers.{i}.memory.{part}"] = t.detach().transpose(1, 2)  # engine layout: [H, in, out]
            expected[f"grad.layers.{i}.memory.{part}"] = t.grad.transpose(1, 2)
        for part, t in initial[i].items():
            expected[f"initial.layers.{i}.memory.{part}"] = t.transpose(1, 2)
    write_safetensors(os.path.join(out, "expected.safetensors"), expected)
    print(f"{name}: loss {loss.item():.6f}, base vs initial adapter max |diff| {(init_logits - base_logits).abs().max().item():.3g}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    for name, c in CONFIGS.items():
        make(name, c)
