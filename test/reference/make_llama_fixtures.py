#!/usr/bin/python3
"""Reference fixtures for the Llama-family engine, computed with PyTorch autograd.

An independent implementation of Hugging Face's LlamaForCausalLM / Qwen2ForCausalLM forward
pass (RMSNorm, rotary embeddings with optional llama3 scaling, causal grouped-query attention,
SwiGLU, optional q/k/v biases and tied embeddings) writes, for seeded tiny models:
  <name>/config.json, <name>/model.safetensors (or shards + index), <name>/expected.safetensors
with the logits, the masked cross-entropy loss, and the loss's gradients for LoRA pairs on
q_proj and v_proj. The tests read these files; they do not need PyTorch.

Run: /usr/bin/python3 test/reference/make_llama_fixtures.py   (Debian: apt-get install python3-torch)
"""
import json
import math
import os
import struct

import torch

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

CONFIGS = {
    "llama-gqa": dict(model_type="llama", hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                      num_key_value_heads=2, intermediate_size=48, vocab_size=64, rms_norm_eps=1e-5,
                      rope_theta=10000.0, max_position_embeddings=128, tie_word_embeddings=False,
                      shards=2, dtype="F32"),
    "qwen2-tied-bias": dict(model_type="qwen2", hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                            num_key_value_heads=1, intermediate_size=48, vocab_size=64, rms_norm_eps=1e-6,
                            rope_theta=1000000.0, max_position_embeddings=128, tie_word_embeddings=True,
                            shards=1, dtype="F16"),
    "llama3-rope-scaling": dict(model_type="llama", hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                                num_key_value_heads=2, intermediate_size=24, vocab_size=48, rms_norm_eps=1e-5,
                                rope_theta=500000.0, max_position_embeddings=128, tie_word_embeddings=False,
                                rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0,
                                                  high_freq_factor=4.0, original_max_position_embeddings=16),
                                shards=1, dtype="BF16"),
}
T = 10
LORA_RANK, LORA_ALPHA, LORA_TARGETS = 4, 8.0, ("q_proj", "v_proj")


def write_safetensors(path, tensors, dtype="F32"):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        if dtype == "F32":
            raw = t.to(torch.float32).numpy().tobytes()
        elif dtype == "F16":
            raw = t.to(torch.float16).numpy().tobytes()
        elif dtype == "BF16":  # numpy has no bfloat16: take the upper halves of float32 words
            words = t.to(torch.bfloat16).to(torch.float32).numpy().view("uint32") >> 16
            raw = words.astype("uint16").tobytes()
        header[name] = dict(dtype=dtype, shape=list(t.shape), data_offsets=[offset, offset + len(raw)])
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def rounded(t, dtype):
    """The weights as the stored dtype gives them back in float32."""
    if dtype == "F16":
        return t.to(torch.float16).to(torch.float32)
    if dtype == "BF16":
        return t.to(torch.bfloat16).to(torch.float32)
    return t


def inv_freq(c):
    hd = c["hidden_size"] // c["num_attention_heads"]
    inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.float64) / hd))
    rs = c.get("rope_scaling")
    if rs:
        factor, low_f, high_f, orig = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
        low_wl, high_wl = orig / low_f, orig / high_f
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wl, inv / factor, inv)
        smooth = (orig / wavelen - low_f) / (high_f - low_f)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = (wavelen >= high_wl) & (wavelen <= low_wl)
        inv = torch.where(medium, smoothed, scaled)
    return inv.to(torch.float32)


def rms_norm(x, w, eps):
    return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def forward(c, W, ids, lora):
    D, H, KV = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd = D // H
    n = ids.shape[1]
    pos = torch.arange(n, dtype=torch.float32)
    freqs = pos[:, None] * inv_freq(c)[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    scale = LORA_ALPHA / LORA_RANK

    def lin(x, name, li, target, bias=None):
        y = x @ W[name].T
        if bias is not None:
            y = y + W[bias]
        if (li, target) in lora:
            A, B = lora[(li, target)]
            y = y + (x @ A.T) @ B.T * scale
        return y

    h = W["model.embed_tokens.weight"][ids]
    mask = torch.tril(torch.ones(n, n, dtype=torch.bool))
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}"
        x = rms_norm(h, W[f"{p}.input_layernorm.weight"], c["rms_norm_eps"])
        bias = (lambda t: f"{p}.self_attn.{t}.bias") if c["model_type"] == "qwen2" else (lambda t: None)
        q = lin(x, f"{p}.self_attn.q_proj.weight", i, "q_proj", bias("q_proj")).view(1, n, H, hd).transpose(1, 2)
        k = lin(x, f"{p}.self_attn.k_proj.weight", i, "k_proj", bias("k_proj")).view(1, n, KV, hd).transpose(1, 2)
        v = lin(x, f"{p}.self_attn.v_proj.weight", i, "v_proj", bias("v_proj")).view(1, n, KV, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // KV, dim=1)
        v = v.repeat_interleave(H // KV, dim=1)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        s = s.masked_fill(~mask, float("-inf"))
        a = torch.softmax(s, dim=-1) @ v
        h = h + lin(a.transpose(1, 2).reshape(1, n, H * hd), f"{p}.self_attn.o_proj.weight", i, "o_proj")
        y = rms_norm(h, W[f"{p}.post_attention_layernorm.weight"], c["rms_norm_eps"])
        g = lin(y, f"{p}.mlp.gate_proj.weight", i, "gate_proj")
        u = lin(y, f"{p}.mlp.up_proj.weight", i, "up_proj")
        h = h + lin(torch.nn.functional.silu(g) * u, f"{p}.mlp.down_proj.weight", i, "down_proj")
    h = rms_norm(h, W["model.norm.weight"], c["rms_norm_eps"])
    head = W["model.embed_tokens.weight"] if c["tie_word_embeddings"] else W["lm_head.weight"]
    return h @ head.T


def random_weights(name, c):
    """A tiny model's seeded weights (the seed comes from `name`; the generator goes on for the caller), rounded to its dtype."""
    torch.manual_seed(sum(map(ord, name)))
    D, H, KV, F, V = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["intermediate_size"], c["vocab_size"]
    hd = D // H
    W = {"model.embed_tokens.weight": torch.randn(V, D) * 0.5, "model.norm.weight": 1 + 0.1 * torch.randn(D)}
    if not c["tie_word_embeddings"]:
        W["lm_head.weight"] = torch.randn(V, D) * 0.2
    shapes = dict(q_proj=(H * hd, D), k_proj=(KV * hd, D), v_proj=(KV * hd, D), o_proj=(D, H * hd),
                  gate_proj=(F, D), up_proj=(F, D), down_proj=(D, F))
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}"
        W[f"{p}.input_layernorm.weight"] = 1 + 0.1 * torch.randn(D)
        W[f"{p}.post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(D)
        for t, shp in shapes.items():
            mod = "mlp" if t in ("gate_proj", "up_proj", "down_proj") else "self_attn"
            W[f"{p}.{mod}.{t}.weight"] = torch.randn(*shp) * 0.2
            if c["model_type"] == "qwen2" and t in ("q_proj", "k_proj", "v_proj"):
                W[f"{p}.{mod}.{t}.bias"] = torch.randn(shp[0]) * 0.1
    return {k: rounded(v, c["dtype"]) for k, v in W.items()}, shapes


def write_model(out, c, W):
    """config.json and the weights (in c["shards"] files) of a model folder."""
    os.makedirs(out, exist_ok=True)
    cfg = {k: v for k, v in c.items() if k not in ("shards", "dtype")}
    cfg["eos_token_id"] = 2
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    names = sorted(W)
    if c["shards"] == 1:
        write_safetensors(os.path.join(out, "model.safetensors"), W, c["dtype"])
    else:
        per = math.ceil(len(names) / c["shards"])
        weight_map = {}
        for s in range(c["shards"]):
            fname = f"model-{s + 1:05d}-of-{c['shards']:05d}.safetensors"
            part = {n: W[n] for n in names[s * per:(s + 1) * per]}
            write_safetensors(os.path.join(out, fname), part, c["dtype"])
            weight_map.update({n: fname for n in part})
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)


def make(name, c):
    V = c["vocab_size"]
    W, shapes = random_weights(name, c)
    out = os.path.join(HERE, name)
    write_model(out, c, W)

    ids = torch.randint(0, V, (1, T))
    labels = torch.roll(ids, -1, dims=1)
    loss_mask = torch.ones(1, T)
    loss_mask[0, :3] = 0  # a "prefix" without loss
    loss_mask[0, -1] = 0
    lora = {}
    for i in range(c["num_hidden_layers"]):
        for t in LORA_TARGETS:
            out_f, in_f = shapes[t]
            A = (torch.randn(LORA_RANK, in_f) * 0.3).requires_grad_()
            B = (torch.randn(out_f, LORA_RANK) * 0.3).requires_grad_()  # non-zero so that A gets a gradient
            lora[(i, t)] = (A, B)
    logits = forward(c, W, ids, lora)
    logp = torch.log_softmax(logits, dim=-1)
    picked = logp.gather(-1, labels[..., None])[..., 0]
    loss = -(picked * loss_mask).sum() / loss_mask.sum().clamp(min=1)
    loss.backward()
    base_logits = forward(c, W, ids, {})
    expected = {"input_ids": ids.to(torch.float32), "labels": labels.to(torch.float32), "loss_mask": loss_mask,
                "logits": logits.detach(), "base_logits": base_logits.detach(), "loss": loss.detach().reshape(1)}
    for (i, t), (A, B) in lora.items():
        expected[f"layers.{i}.{t}.lora_A"] = A.detach()
        expected[f"layers.{i}.{t}.lora_B"] = B.detach()
        expected[f"grad.layers.{i}.{t}.lora_A"] = A.grad
        expected[f"grad.layers.{i}.{t}.lora_B"] = B.grad
    write_safetensors(os.path.join(out, "expected.safetensors"), expected)
    print(f"{name}: loss {loss.item():.6f}")


if __name__ == "__main__":
    torch.set_num_threads(2)
    for name, c in CONFIGS.items():
        make(name, c)
