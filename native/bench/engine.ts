/**
 * Engine micro-benchmark (not a test): the fixed cost of one training step on a tiny graph, and
 * the achieved GFLOP/s of a matmul-heavy training step against a plain MatMul graph of the same
 * size, measured interleaved in the same process. Medians and ratios: these machines are noisy.
 */
import type { Tensor } from 'onnxruntime-node';
import { GraphBuilder } from '../onnx/graph';
import { add, matmul, mul, reduceMean } from '../onnx/ops';
import { buildTrainStep } from '../onnx/train';
import { loadOrt } from '../runtime/ort';
import { createSession, TrainStepRunner } from '../runtime/session';

export interface EngineBenchResult {
  name: string;
  median_us: number;
  gflops?: number;
  vs_peer?: number;
  peer?: string;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

function randomData(n: number, seed: number): Float32Array {
  let a = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return (a / 2 ** 32 - 0.5) * 0.2;
  });
}

/** Times `a` and `b` alternately, `rounds` times each (after a warm-up); returns per-run µs lists. */
async function interleaved(rounds: number, a: () => Promise<unknown>, b: () => Promise<unknown>): Promise<[number[], number[]]> {
  for (let i = 0; i < 3; i++) {
    await a();
    await b();
  }
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < rounds; i++) {
    let t = performance.now();
    await a();
    ta.push((performance.now() - t) * 1000);
    t = performance.now();
    await b();
    tb.push((performance.now() - t) * 1000);
  }
  return [ta, tb];
}

export async function benchEngine(log: (line: string) => void = console.log): Promise<EngineBenchResult[]> {
  const { Tensor } = loadOrt();
  const results: EngineBenchResult[] = [];
  const threads = { threads: 2 };

  // 1. Fixed cost: a LoRA step on 8×8 matrices vs the smallest session.run (y = x + 1 on a scalar).
  {
    const [n, d, r] = [4, 8, 2];
    const g = new GraphBuilder('tiny_step');
    const x = g.input('x', 'float32', [n, d]);
    const A = g.input('A', 'float32', [d, r]);
    const B = g.input('B', 'float32', [r, d]);
    const W = g.initializer('W', 'float32', [d, d], randomData(d * d, 1));
    const y = add(matmul(x, W), matmul(matmul(x, A), B));
    const spec = buildTrainStep(g, reduceMean(mul(y, y)), [A, B], { optimizer: 'adamw', maxGradNorm: 1 });
    const { session } = await createSession(g.encode(), 'cpu', threads);
    const runner = new TrainStepRunner(session, spec, { A: randomData(d * r, 2), B: new Float32Array(r * d) });
    const feeds = { x: new Tensor('float32', randomData(n * d, 3), [n, d]) };

    const p = new GraphBuilder('noop');
    p.output(add(p.input('s', 'float32', []), p.const(1)), 'out');
    const peer = await createSession(p.encode(), 'cpu', threads);
    const s = { s: new Tensor('float32', Float32Array.of(1), []) };
    const [step, noop] = await interleaved(2000, () => runner.step(feeds, 1e-3), () => peer.session.run(s));
    results.push(
      { name: 'tiny LoRA train step (fixed cost)', median_us: median(step), vs_peer: median(step) / median(noop), peer: 'one-node session.run' },
      { name: 'one-node session.run', median_us: median(noop) },
    );
  }

  // 2. Throughput: a full-parameter step of y = x·W (W 1024², x 512×1024: forward + dW, 4.3 GFLOP)
  //    vs one MatMul of the same size run alone.
  for (const [m, k, nn] of [[512, 1024, 1024]] as const) {
    const g = new GraphBuilder('matmul_step');
    const x = g.input('x', 'float32', [m, k]);
    const W = g.input('W', 'float32', [k, nn]);
    const y = matmul(x, W);
    const spec = buildTrainStep(g, reduceMean(mul(y, y)), [W], { optimizer: 'sgd' });
    const { session } = await createSession(g.encode(), 'cpu', threads);
    const runner = new TrainStepRunner(session, spec, { W: randomData(k * nn, 4) });
    const feeds = { x: new Tensor('float32', randomData(m * k, 5), [m, k]) };

    const p = new GraphBuilder('matmul');
    p.output(matmul(p.input('x', 'float32', [m, k]), p.initializer('W', 'float32', [k, nn], randomData(k * nn, 4))), 'y');
    const peer = await createSession(p.encode(), 'cpu', threads);
    const rounds = 15;
    const [step, plain] = await interleaved(rounds, () => runner.step(feeds, 1e-4), () => peer.session.run(feeds as Record<string, Tensor>));
    const flop = 2 * m * k * nn;
    const stepG = (2 * flop) / median(step) / 1e3;
    const plainG = flop / median(plain) / 1e3;
    results.push(
      { name: `train step y=x·W ${m}×${k}×${nn} (fwd + dW)`, median_us: median(step), gflops: stepG, vs_peer: stepG / plainG, peer: 'plain MatMul GFLOP/s' },
      { name: `plain MatMul ${m}×${k}×${nn}`, median_us: median(plain), gflops: plainG },
    );
  }

  log('benchmark                                      median       GFLOP/s   ratio');
  for (const r of results) {
    log(
      `${r.name.padEnd(45)}${`${r.median_us.toFixed(1)} µs`.padStart(12)}${(r.gflops ? r.gflops.toFixed(1) : '').padStart(12)}${r.vs_peer ? `   ${r.vs_peer.toFixed(2)}× ${r.peer}` : ''}`,
    );
  }
  return results;
}
