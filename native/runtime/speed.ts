/**
 * This machine's arithmetic speed, measured: one MatMul of a transformer layer's shape run
 * through ONNX Runtime on the device that learning would use. Estimates of how long a model not
 * yet downloaded would take to learn a workspace scale from it (lift/choices.ts).
 */
import { DataType, encodeModel, floatTensor } from '../onnx/model';
import { loadOrt } from './ort';
import { createSession, type Device, type Provider } from './session';

export interface MatMulSpeed {
  /** Multiply-adds × 2 per second, the median of the timed runs. */
  flops: number;
  provider: Provider;
}

const measured = new Map<Device, Promise<MatMulSpeed>>();

/**
 * Floating-point operations per second of a [256 × 1024] · [1024 × 1024] float32 MatMul (one
 * warm-up run, then the median of five). Measured once per process and device.
 */
export function matmulSpeed(device: Device = 'cpu'): Promise<MatMulSpeed> {
  let p = measured.get(device);
  if (!p) {
    p = measure(device);
    measured.set(device, p);
    p.catch(() => measured.delete(device));
  }
  return p;
}

async function measure(device: Device): Promise<MatMulSpeed> {
  const { Tensor } = loadOrt();
  const M = 256;
  const K = 1024;
  const N = 1024;
  let seed = 7;
  const random = (): number => {
    seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
    return seed / 2 ** 32 - 0.5;
  };
  const W = Float32Array.from({ length: K * N }, random);
  const model = encodeModel({
    graph: {
      name: 'lift_speed_probe',
      nodes: [{ opType: 'MatMul', inputs: ['x', 'W'], outputs: ['y'] }],
      inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: [M, K] }],
      outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: [M, N] }],
      initializers: [floatTensor('W', [K, N], W)],
    },
  });
  const { session, provider } = await createSession(model, device);
  try {
    const x = new Tensor('float32', Float32Array.from({ length: M * K }, random), [M, K]);
    await session.run({ x });
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      await session.run({ x });
      times.push(performance.now() - t);
    }
    const ms = times.sort((a, b) => a - b)[2]!;
    return { flops: (2 * M * K * N) / (Math.max(ms, 1e-3) / 1000), provider };
  } finally {
    await session.release();
  }
}
