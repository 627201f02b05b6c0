#!/usr/bin/python3
"""The GPU check: one run on a GPU machine (Python with PyTorch and ONNX Runtime, no Node, no
internet) gives the figures for the README's Performance section.

  python3 test/gpu/gpu_check.py <prepared dir> <results dir> [--steps N] [--device cpu]

<prepared dir> comes from `node --import tsx test/gpu/prepare.ts <dir> [qwen0.5b|tiny]`: the
training-step and generation graphs the product runs on CUDA (mixed precision) with their
weights as external data that this script generates here, seeded, so only the small graph
files travel. Then:
  1. whether this ONNX Runtime has the CUDA provider (recorded either way);
  2. if it has: the training step and generation on CUDA with CPU fallback disabled, timed
     (medians), with the GPU memory used, tokens/s, and the step's achieved TFLOP/s against the
     GPU's bfloat16 peak (measured here with a large PyTorch matmul, and the spec sheet's);
     Then the same step with activation recomputation (layer, head and update graphs run as the
     product's RecomputeRunner does: forward sweep, head in chunks, backward sweep, update) at
     the step's length and at a long one: step time, tokens/s and GPU memory, next to the
     one-graph step's;
  3. if it has not (or anything fails): the same LoRA training step in PyTorch on the GPU, as
     the target to reach.
Results go to <results dir>/gpu-check.json (and what went wrong to errors in it). `--device cpu`
runs the same code on the CPU (to test this script where there is no GPU).
"""
import json
import math
import os
import platform
import sys
import time
import traceback

import numpy as np

# dense bfloat16 peak of known GPUs (spec sheets), TFLOP/s
SPEC_BF16_TFLOPS = {"H200": 989.4, "H100": 989.4, "A100": 312.0, "L40S": 362.1, "L4": 121.0, "A10": 125.0}


def log(msg):
    print(f"[gpu-check] {msg}", flush=True)


def median(xs):
    s = sorted(xs)
    return s[len(s) // 2]


def generate_weights(graph_dir, external, seed):
    """Writes each external tensor's file with seeded random values (normal, std 0.02)."""
    rng = np.random.default_rng(seed)
    total = 0
    for t in external:
        dtype = {"float16": np.float16, "float32": np.float32}[t["dtype"]]
        n = int(np.prod(t["shape"])) if t["shape"] else 1
        data = (rng.standard_normal(n, dtype=np.float32) * 0.02).astype(dtype)
        raw = data.tobytes()
        if len(raw) != t["bytes"]:
            raise ValueError(f"{t['name']}: {len(raw)} bytes generated, the graph expects {t['bytes']}")
        with open(os.path.join(graph_dir, t["file"]), "wb") as f:
            f.write(raw)
        total += len(raw)
    return total


def gpu_memory_used():
    try:
        import torch
        if torch.cuda.is_available():
            free, total = torch.cuda.mem_get_info()
            return {"used_bytes": total - free, "total_bytes": total, "name": torch.cuda.get_device_name(0)}
    except Exception:
        pass
    return None


def matmul_peak_tflops(device):
    """The best bfloat16 (GPU) or float32 (CPU) matmul throughput this device reaches."""
    import torch
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    n = 8192 if device == "cuda" else 1024
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    for _ in range(3):
        a @ b
    if device == "cuda":
        torch.cuda.synchronize()
    times = []
    for _ in range(10):
        t = time.perf_counter()
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return 2 * n ** 3 / median(times) / 1e12


def feeds_for_train(m, rng):
    """The batch, the learning rate and step, and the initial state (LoRA A small random, B and moments zero)."""
    T = m["seqLen"]
    vocab = m["config"]["vocabSize"]
    ids = rng.integers(0, vocab, size=(1, T), dtype=np.int64)
    feeds = {"input_ids": ids, "labels": np.roll(ids, -1, axis=1), "loss_mask": np.ones((1, T), dtype=np.float32)}
    if m["train"]["spec"].get("lossScale"):
        feeds[m["train"]["spec"]["lossScale"]] = np.array(m["lossScale"], dtype=np.float32)
    for s in m["train"]["spec"]["state"]:
        shape = [int(d) for d in s["shape"]]
        if s["kind"] == "param" and s["input"].endswith("lora_A"):
            feeds[s["input"]] = (rng.uniform(-1, 1, size=shape) / math.sqrt(shape[1])).astype(np.float32)
        else:
            feeds[s["input"]] = np.zeros(shape, dtype=np.float32)
    return feeds


def run_onnxruntime(m, prepared, device, steps, results):
    import onnxruntime as ort
    providers = ["CUDAExecutionProvider"] if device == "cuda" else ["CPUExecutionProvider"]
    opts = ort.SessionOptions()
    opts.add_session_config_entry("session.disable_cpu_ep_fallback", "1" if device == "cuda" else "0")
    rng = np.random.default_rng(1)

    # training step
    mem0 = gpu_memory_used()
    t = time.perf_counter()
    sess = ort.InferenceSession(os.path.join(prepared, m["train"]["dir"], m["train"]["file"]), opts, providers=providers)
    results["train_session_s"] = time.perf_counter() - t
    results["train_providers"] = sess.get_providers()
    spec = m["train"]["spec"]
    feeds = feeds_for_train(m, rng)
    outputs = [spec["loss"]] + ([spec["gradNorm"]] if spec.get("gradNorm") else []) + [s["output"] for s in spec["state"]]
    times, losses = [], []
    for i in range(steps + 2):
        feeds[spec["lr"]] = np.array(1e-4, dtype=np.float32)
        if spec.get("step"):
            feeds[spec["step"]] = np.array(i + 1, dtype=np.float32)
        t = time.perf_counter()
        out = sess.run(outputs, feeds)
        dt = time.perf_counter() - t
        losses.append(float(out[0]))
        for s, v in zip(spec["state"], out[len(outputs) - len(spec["state"]):]):
            feeds[s["input"]] = v
        if i >= 2:
            times.append(dt)
    mem1 = gpu_memory_used()
    step_s = median(times)
    results["train"] = {
        "seq": m["seqLen"],
        "step_s": step_s,
        "tokens_per_s": m["seqLen"] / step_s,
        "achieved_tflops": m["trainStepFlops"] / step_s / 1e12,
        "losses": losses,
        "finite": all(math.isfinite(x) for x in losses),
        "gpu_memory_used_bytes": (mem1["used_bytes"] - mem0["used_bytes"]) if mem0 and mem1 else None,
    }
    del sess

    # the same step with activation recomputation, at the step's length and a long one
    results["recompute"] = []
    for r in m.get("recompute", []):
        try:
            results["recompute"].append(run_recompute(m, prepared, r, device, steps, ort, opts, providers))
            rc = results["recompute"][-1]
            log(f"recomputation, {rc['seq']} tokens: {rc['step_s']:.3f} s/step = {rc['tokens_per_s']:.0f} tokens/s, GPU memory {rc['gpu_memory_used_bytes']}")
        except Exception:
            results["errors"].append(traceback.format_exc(limit=3))
            log(f"recomputation at {r['seqLen']} tokens failed: see errors")

    # generation: a prompt, then tokens one at a time with the KV cache (greedy)
    g = m["generate"]
    sess = ort.InferenceSession(os.path.join(prepared, g["dir"], g["file"]), opts, providers=providers)
    cfg = m["config"]
    L, KV, hd = cfg["numLayers"], cfg["numKvHeads"], cfg["headDim"]
    prompt = min(512, m["seqLen"])
    new_tokens = 64
    base = {"lora_scale": np.array(0, dtype=np.float32)}
    for inp in g["inputs"]:
        if inp["name"].endswith("lora_A"):
            base[inp["name"]] = np.zeros((1, inp["shape"][1]), dtype=np.float32)
        elif inp["name"].endswith("lora_B"):
            base[inp["name"]] = np.zeros((inp["shape"][0], 1), dtype=np.float32)
    out_names = ["logits"] + [f"present_{kv}_{i}" for i in range(L) for kv in ("key", "value")]

    def step(ids, pos, past):
        f = dict(base)
        f["input_ids"] = np.array([ids], dtype=np.int64)
        f["positions"] = np.arange(pos, pos + len(ids), dtype=np.int64)
        for i in range(L):
            f[f"past_key_{i}"], f[f"past_value_{i}"] = past[i]
        out = sess.run(out_names, f)
        return out[0], [(out[1 + 2 * i], out[2 + 2 * i]) for i in range(L)]

    empty = [(np.zeros((1, KV, 0, hd), np.float32), np.zeros((1, KV, 0, hd), np.float32)) for _ in range(L)]
    ids = [int(x) for x in rng.integers(0, cfg["vocabSize"], size=prompt)]
    prefill, decode = [], []
    for _ in range(3):
        t = time.perf_counter()
        logits, past = step(ids, 0, empty)
        prefill.append(time.perf_counter() - t)
        tok = int(np.argmax(logits))
        t = time.perf_counter()
        for k in range(new_tokens):
            logits, past = step([tok], prompt + k, past)
            tok = int(np.argmax(logits))
        decode.append((time.perf_counter() - t) / new_tokens)
    results["generate"] = {
        "prompt_tokens": prompt,
        "new_tokens": new_tokens,
        "prefill_tokens_per_s": prompt / median(prefill),
        "decode_ms_per_token": 1000 * median(decode),
        "decode_tokens_per_s": 1 / median(decode),
        "providers": sess.get_providers(),
    }


def lora_name(layer, target, ab):
    return f"layers.{layer}.{target}.lora_{ab}"


def run_recompute(m, prepared, r, device, steps, ort, opts, providers):
    """The recomputing step (native/runtime/recompute.ts, step for step): returns its figures."""
    d = os.path.join(prepared, r["dir"])
    mem0 = gpu_memory_used()
    layer = ort.InferenceSession(os.path.join(d, r["layer"]["file"]), opts, providers=providers)
    head = ort.InferenceSession(os.path.join(d, r["head"]["file"]), opts, providers=providers)
    update = ort.InferenceSession(os.path.join(d, r["update"]["file"]), opts, providers=providers)
    cfg = m["config"]
    L, D, V, T, C = cfg["numLayers"], cfg["hiddenSize"], cfg["vocabSize"], r["seqLen"], r["chunk"]
    emb = next(t for t in r["head"]["external"] if t["name"] == r["embed"])
    embed = np.fromfile(os.path.join(d, emb["file"]), dtype={"float16": np.float16, "float32": np.float32}[emb["dtype"]]).reshape(V, D).astype(np.float32)
    rng = np.random.default_rng(1)
    ids = rng.integers(0, V, size=(1, T), dtype=np.int64)
    labels, mask = np.roll(ids, -1, axis=1), np.ones((1, T), dtype=np.float32)
    spec = r["update"]["spec"]
    state = {}
    for s in spec["state"]:
        shape = [int(x) for x in s["shape"]]
        if s["kind"] == "param" and s["input"].endswith("lora_A"):
            state[s["input"]] = (rng.uniform(-1, 1, size=shape) / math.sqrt(shape[1])).astype(np.float32)
        else:
            state[s["input"]] = np.zeros(shape, dtype=np.float32)
    targets = m["lora"]["targets"]
    grad_names = [f"grad.{t}.{ab}" for t in targets for ab in "AB"]
    zeros = np.zeros((1, T, D), dtype=np.float32)

    def lora_feeds(i):
        return {f"lora.{t}.{ab}": state[lora_name(i, t, ab)] for t in targets for ab in "AB"}

    def one_step(k):
        hs = [embed[ids[0]][None]]
        for i in range(L):
            f = {"hidden": hs[i], "layer": np.array(i, dtype=np.int64), "backward": np.array(False), "grad_out": zeros, **lora_feeds(i)}
            hs.append(layer.run(["hidden_out"], f)[0])
        grad = np.zeros((1, T, D), dtype=np.float32)
        loss = 0.0
        for c0 in range(0, T, C):
            c1 = min(T, c0 + C)
            ls, gh = head.run(["loss_sum", "grad_hidden"], {"hidden": np.ascontiguousarray(hs[L][:, c0:c1]), "labels": labels[:, c0:c1], "loss_mask": mask[:, c0:c1],
                                                           "loss_weight": np.array(r["lossScale"] / T, dtype=np.float32)})
            loss += float(ls)
            grad[:, c0:c1] = gh
        feeds = {}
        for i in reversed(range(L)):
            f = {"hidden": hs[i], "layer": np.array(i, dtype=np.int64), "backward": np.array(True), "grad_out": grad, **lora_feeds(i)}
            outs = layer.run(grad_names + ["grad_in"], f)
            for (t, ab), g in zip([(t, ab) for t in targets for ab in "AB"], outs):
                feeds[lora_name(i, t, ab) + ".grad"] = g
            grad = outs[-1]
        feeds[spec["lr"]] = np.array(1e-4, dtype=np.float32)
        feeds[spec["step"]] = np.array(k + 1, dtype=np.float32)
        if spec.get("lossScale"):
            feeds[spec["lossScale"]] = np.array(r["lossScale"], dtype=np.float32)
        feeds.update(state)
        outs = update.run([s["output"] for s in spec["state"]], feeds)
        for s, v in zip(spec["state"], outs):
            state[s["input"]] = v
        return loss / T

    times, losses = [], []
    for k in range(steps + 2):
        t = time.perf_counter()
        losses.append(one_step(k))
        if k >= 2:
            times.append(time.perf_counter() - t)
    mem1 = gpu_memory_used()
    step_s = median(times)
    return {"seq": T, "chunk": C, "step_s": step_s, "tokens_per_s": T / step_s, "achieved_tflops": r["trainStepFlops"] / step_s / 1e12, "losses": losses,
            "finite": all(math.isfinite(x) for x in losses), "gpu_memory_used_bytes": (mem1["used_bytes"] - mem0["used_bytes"]) if mem0 and mem1 else None,
            "providers": layer.get_providers()}


def run_torch_lora(m, device, steps, results):
    """The same LoRA step in PyTorch (bfloat16 weights on CUDA, float32 on the CPU): the target."""
    import torch
    cfg = m["config"]
    dt = torch.bfloat16 if device == "cuda" else torch.float32
    D, L, H, KV, F, V, T = cfg["hiddenSize"], cfg["numLayers"], cfg["numHeads"], cfg["numKvHeads"], cfg["intermediateSize"], cfg["vocabSize"], m["seqLen"]
    hd = cfg["headDim"]
    r, alpha, targets = m["lora"]["rank"], m["lora"]["alpha"], m["lora"]["targets"]
    torch.manual_seed(0)
    shapes = dict(q_proj=(H * hd, D), k_proj=(KV * hd, D), v_proj=(KV * hd, D), o_proj=(D, H * hd), gate_proj=(F, D), up_proj=(F, D), down_proj=(D, F))
    W = {"embed": torch.randn(V, D, device=device, dtype=dt) * 0.02}
    layers = [{t: torch.randn(*s, device=device, dtype=dt) * 0.02 for t, s in shapes.items()} for _ in range(L)]
    lora = [{t: (torch.randn(r, shapes[t][1], device=device) * 0.01, torch.zeros(shapes[t][0], r, device=device)) for t in targets} for _ in range(L)]
    params = [p.requires_grad_() for d in lora for pair in d.values() for p in pair]
    opt = torch.optim.AdamW(params, lr=1e-4)
    pos = torch.arange(T, device=device)
    inv = 1.0 / (cfg["ropeTheta"] ** (torch.arange(0, hd, 2, device=device).float() / hd))
    ang = torch.cat([pos[:, None] * inv[None]] * 2, -1)
    cos, sin = ang.cos(), ang.sin()

    def rope(x):
        x1, x2 = x[..., : hd // 2], x[..., hd // 2:]
        return x * cos + torch.cat([-x2, x1], -1) * sin

    def lin(x, i, t):
        y = x.to(dt) @ layers[i][t].T
        if t in lora[i]:
            A, B = lora[i][t]
            y = y.float() + (x.float() @ A.T @ B.T) * (alpha / r)
        return y.float()

    def rms(x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)

    causal = torch.ones(T, T, device=device, dtype=torch.bool).tril()

    def attention(q, k, v):
        sdpa = getattr(torch.nn.functional, "scaled_dot_product_attention", None)  # PyTorch 2+
        if sdpa:
            return sdpa(q, k, v, is_causal=True)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        return s.masked_fill(~causal, float("-inf")).softmax(-1) @ v

    ids = torch.randint(0, V, (1, T), device=device)
    labels = torch.roll(ids, -1, 1)

    def step():
        h = W["embed"][ids].float()
        for i in range(L):
            x = rms(h)
            q = rope(lin(x, i, "q_proj").view(1, T, H, hd).transpose(1, 2))
            k = rope(lin(x, i, "k_proj").view(1, T, KV, hd).transpose(1, 2)).repeat_interleave(H // KV, 1)
            v = lin(x, i, "v_proj").view(1, T, KV, hd).transpose(1, 2).repeat_interleave(H // KV, 1)
            a = attention(q, k, v)
            h = h + lin(a.transpose(1, 2).reshape(1, T, H * hd), i, "o_proj")
            y = rms(h)
            h = h + lin(torch.nn.functional.silu(lin(y, i, "gate_proj")) * lin(y, i, "up_proj"), i, "down_proj")
        logits = (rms(h).to(dt) @ W["embed"].T).float()
        loss = torch.nn.functional.cross_entropy(logits.view(-1, V), labels.view(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return float(loss)

    times = []
    for i in range(steps + 2):
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        step()
        if device == "cuda":
            torch.cuda.synchronize()
        if i >= 2:
            times.append(time.perf_counter() - t)
    s = median(times)
    results["torch_train"] = {"device": device, "dtype": str(dt), "seq": T, "step_s": s, "tokens_per_s": T / s, "achieved_tflops": m["trainStepFlops"] / s / 1e12,
                              "max_memory_bytes": torch.cuda.max_memory_allocated() if device == "cuda" else None}


def main(argv):
    args, opts, i = [], {}, 0
    while i < len(argv):
        if argv[i].startswith("--") and i + 1 < len(argv):
            opts[argv[i][2:]] = argv[i + 1]
            i += 2
        else:
            args.append(argv[i])
            i += 1
    if len(args) != 2:
        print(__doc__)
        return 2
    prepared, out = args
    steps = int(opts.get("steps", "5"))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(prepared, "manifest.json")) as f:
        m = json.load(f)
    results = {"shape": m["shape"], "seq": m["seqLen"], "lora": m["lora"], "precision": m["precision"], "python": sys.version.split()[0], "platform": platform.platform(), "errors": []}
    try:
        import torch
        results["torch"] = torch.__version__
        cuda = torch.cuda.is_available()
    except Exception as e:
        results["torch"] = None
        cuda = False
        results["errors"].append(f"PyTorch: {e}")
    device = opts.get("device", "cuda" if cuda else "cpu")
    results["device"] = device
    if device == "cuda":
        info = gpu_memory_used()
        results["gpu"] = info["name"] if info else None
        results["gpu_memory_total_bytes"] = info["total_bytes"] if info else None
        spec = next((v for k, v in SPEC_BF16_TFLOPS.items() if info and k in info["name"]), None)
        results["spec_bf16_tflops"] = spec
    try:
        results["matmul_peak_tflops"] = matmul_peak_tflops(device)
    except Exception as e:
        results["errors"].append(f"matmul peak: {e}")

    parts = [(p, m[p]) for p in ("train", "generate")] + [(f"{r['dir']}/{g}", {"dir": r["dir"], "external": r[g]["external"]}) for r in m.get("recompute", []) for g in ("layer", "head", "update")]
    for name, part in parts:
        t = time.perf_counter()
        n = generate_weights(os.path.join(prepared, part["dir"]), part["external"], seed=1)
        log(f"generated {n / 2**20:.0f} MiB of {name} weights in {time.perf_counter() - t:.1f} s")

    try:
        import onnxruntime as ort
        results["onnxruntime"] = ort.__version__
        results["onnxruntime_providers"] = ort.get_available_providers()
        has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    except Exception as e:
        results["onnxruntime"] = None
        has_cuda = False
        results["errors"].append(f"ONNX Runtime: {e}")
    results["onnxruntime_has_cuda"] = has_cuda
    ran_ort = False
    if results["onnxruntime"] and (has_cuda or device == "cpu"):
        try:
            run_onnxruntime(m, prepared, "cuda" if device == "cuda" else "cpu", steps, results)
            ran_ort = True
            tr = results["train"]
            log(f"ONNX Runtime ({device}): training step {tr['step_s']:.3f} s = {tr['tokens_per_s']:.0f} tokens/s, {tr['achieved_tflops']:.2f} TFLOP/s; "
                f"generation prefill {results['generate']['prefill_tokens_per_s']:.0f} tokens/s, decode {results['generate']['decode_tokens_per_s']:.1f} tokens/s")
        except Exception:
            results["errors"].append(traceback.format_exc(limit=3))
            log("ONNX Runtime run failed: see errors")
    if not ran_ort or device == "cuda":
        try:
            run_torch_lora(m, device, steps, results)
            log(f"PyTorch ({device}): training step {results['torch_train']['step_s']:.3f} s = {results['torch_train']['tokens_per_s']:.0f} tokens/s")
        except Exception:
            results["errors"].append(traceback.format_exc(limit=3))
    peak = results.get("matmul_peak_tflops")
    for key in ("train", "torch_train"):
        if key in results and peak:
            results[key]["fraction_of_measured_matmul_peak"] = results[key]["achieved_tflops"] / peak
            if results.get("spec_bf16_tflops"):
                results[key]["fraction_of_spec_bf16_peak"] = results[key]["achieved_tflops"] / results["spec_bf16_tflops"]
    with open(os.path.join(out, "gpu-check.json"), "w") as f:
        json.dump(results, f, indent=1)
    log(f"wrote {os.path.join(out, 'gpu-check.json')} ({len(results['errors'])} errors)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
