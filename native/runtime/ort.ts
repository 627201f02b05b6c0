/**
 * ONNX Runtime in the trainer process: loading it, which execution providers can run here,
 * and a self-test that builds and runs one real graph.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as OrtModule from 'onnxruntime-node';
import { DataType, encodeModel, floatTensor } from '../onnx/model';
import type { ExecutionProviderInfo, RuntimeSelfTest } from '../protocol';
import { binaryDirOf, checkInstall, runtimePackage } from './cuda';

let ort: typeof OrtModule | undefined;
/** Decided once per process (loadOrt runs on every training step and generated token). */
let source: { pkgDir: string; gpuInstall?: string; reason?: string } | undefined;

/**
 * Which ONNX Runtime the trainer loads: the one installed with it, or — when GPU support was
 * set up ("LIFT: Enable GPU") and `LIFT_ORT_DIR` names that install — the copy with the CUDA
 * provider beside it. An incomplete install is not loaded; the reason is kept for status.
 */
export function ortSource(): { pkgDir: string; gpuInstall?: string; reason?: string } {
  source ??= (() => {
    const bundled = runtimePackage().dir;
    const custom = process.env.LIFT_ORT_DIR;
    if (!custom) return { pkgDir: bundled };
    const check = checkInstall(custom);
    if (!check.ok) return { pkgDir: bundled, reason: `the GPU install is not usable (${check.reason}); using the CPU runtime` };
    return { pkgDir: path.join(custom, 'node_modules', 'onnxruntime-node'), gpuInstall: custom };
  })();
  return source;
}

/**
 * ONNX Runtime 1.30 starts a telemetry system in every process that creates its environment (the
 * first session): a persistent device id and a usage database under
 * `$HOME/.cache/Microsoft/DeveloperTools/.onnxruntime`, a `.ses` file and an empty
 * `mat-debug-<pid>.log` in the temp folder. This variable, read when that environment is created
 * (not when the addon loads; checked), turns all of it off. Set before the first require, so that
 * every process loading ONNX Runtime through here is covered; TrainerClient also passes it on.
 */
export function disableOrtTelemetry(): void {
  process.env.ORT_DISABLE_TELEMETRY = '1';
}

/** Loads onnxruntime-node once (lazily, so a broken install is reported by `status`, not a crash at start). */
export function loadOrt(): typeof OrtModule {
  if (!ort) {
    disableOrtTelemetry();
    const { pkgDir, gpuInstall } = ortSource();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    ort = (gpuInstall ? require(pkgDir) : require('onnxruntime-node')) as typeof OrtModule;
  }
  return ort;
}

/** The folder holding `libonnxruntime` for this platform; provider libraries must sit beside it. */
export function ortBinaryDir(): string {
  return binaryDirOf(ortSource().pkgDir);
}

/** The providers this product uses: CPU (bundled) and CUDA (a separate install of its libraries). */
const CUDA_LIB = process.platform === 'win32' ? 'onnxruntime_providers_cuda.dll' : 'libonnxruntime_providers_cuda.so';

/**
 * CPU, CUDA and WebGPU as this ONNX Runtime build knows them, and whether each can run here now.
 * WebGPU ships inside the build (Dawn: Vulkan on Linux, D3D12 on Windows, Metal on macOS); whether
 * a GPU adapter answers is only known when a session is created.
 */
export function executionProviders(): ExecutionProviderInfo[] {
  const known = new Map(loadOrt().listSupportedBackends().map((b) => [b.name, b.bundled]));
  const providers: ExecutionProviderInfo[] = [{ name: 'cpu', bundled: true, available: known.has('cpu') }];
  if (!known.has('cuda')) {
    providers.push({ name: 'cuda', bundled: false, available: false, reason: `this ONNX Runtime build has no CUDA provider on ${process.platform}-${process.arch}` });
  } else if (fs.existsSync(path.join(ortBinaryDir(), CUDA_LIB))) {
    providers.push({ name: 'cuda', bundled: false, available: true });
  } else {
    providers.push({ name: 'cuda', bundled: false, available: false, reason: `${CUDA_LIB} is not installed next to the ONNX Runtime library (GPU support is a separate install)` });
  }
  providers.push(
    known.has('webgpu')
      ? { name: 'webgpu', bundled: true, available: true }
      : { name: 'webgpu', bundled: false, available: false, reason: `this ONNX Runtime build has no WebGPU provider on ${process.platform}-${process.arch}` },
  );
  return providers;
}

/** Builds y = x·W + b as an ONNX graph with our own encoder, runs it on CPU and checks the numbers. */
export async function runtimeSelfTest(): Promise<RuntimeSelfTest> {
  const start = performance.now();
  const { InferenceSession, Tensor } = loadOrt();
  const W = [1, 2, 3, 4, 5, 6]; // 3×2
  const b = [0.5, -0.5];
  const x = [1, -1, 2]; // 1×3
  const model = encodeModel({
    graph: {
      name: 'lift_self_test',
      nodes: [
        { opType: 'MatMul', inputs: ['x', 'W'], outputs: ['xW'] },
        { opType: 'Add', inputs: ['xW', 'b'], outputs: ['y'] },
      ],
      inputs: [{ name: 'x', elemType: DataType.FLOAT, shape: ['batch', 3] }],
      outputs: [{ name: 'y', elemType: DataType.FLOAT, shape: ['batch', 2] }],
      initializers: [floatTensor('W', [3, 2], W), floatTensor('b', [2], b)],
    },
  });
  const session = await InferenceSession.create(model, { executionProviders: ['cpu'] });
  try {
    const result = await session.run({ x: new Tensor('float32', Float32Array.from(x), [1, 3]) });
    const output = Array.from(result.y!.data as Float32Array);
    const expected = [0, 1].map((j) => x.reduce((sum, xi, i) => sum + xi * W[i * 2 + j]!, 0) + b[j]!);
    const ok = output.length === 2 && output.every((v, j) => Math.abs(v - expected[j]!) < 1e-5);
    return { ok, provider: 'cpu', output, expected, ms: performance.now() - start };
  } finally {
    await session.release();
  }
}
