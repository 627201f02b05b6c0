/**
 * Block-wise 4- and 8-bit weights in the layout of ONNX Runtime's `MatMulNBits` (com.microsoft):
 * for each output column, blocks of `blockSize` weights along K, each with one float scale and
 * the op's default zero point 2^(bits−1). The first piece of quantized answering (issue 21).
 */

export interface BlockQuantized {
  bits: 4 | 8;
  blockSize: number;
  /** Rows of the float weight [K, N] (the MatMul's inner dimension). */
  K: number;
  N: number;
  /** [N, ceil(K / blockSize), blockSize · bits / 8]; in 4 bits the even element is the low nibble. */
  data: Uint8Array;
  /** [N · ceil(K / blockSize)], one a block. */
  scales: Float32Array;
}

/**
 * Quantizes a row-major float weight [K, N]. Each block gets the scale that errs less of two: its
 * largest-magnitude value, sign included, on the lowest level (−2^(bits−1)), or that magnitude on
 * the top level (2^(bits−1)−1), which fits every value. K is padded with zeros to whole blocks.
 */
export function quantizeBlockwise(w: Float32Array, K: number, N: number, bits: 4 | 8, blockSize = 32): BlockQuantized {
  if (w.length !== K * N) throw new RangeError(`quantizeBlockwise: ${w.length} weights for [${K}, ${N}]`);
  return quantize(w, N, 1, K, N, bits, blockSize);
}

/** The same for a linear layer's weight in Hugging Face's [out, in] layout (x·Wᵀ): K = in, N = out. */
export function quantizeLinear(w: Float32Array, out: number, inF: number, bits: 4 | 8, blockSize = 32): BlockQuantized {
  if (w.length !== out * inF) throw new RangeError(`quantizeLinear: ${w.length} weights for [${out}, ${inF}]`);
  return quantize(w, 1, inF, inF, out, bits, blockSize);
}

/** Weight (k, n) is w[k·kStride + n·nStride]. */
function quantize(w: Float32Array, kStride: number, nStride: number, K: number, N: number, bits: 4 | 8, blockSize: number): BlockQuantized {
  if (bits !== 4 && bits !== 8) throw new RangeError(`quantize: ${bits} bits (4 or 8)`);
  if (!(blockSize >= 16 && (blockSize & (blockSize - 1)) === 0)) throw new RangeError(`quantize: block size ${blockSize} (a power of two, at least 16)`);
  const blocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  const zero = 2 ** (bits - 1);
  const top = 2 ** bits - 1;
  const data = new Uint8Array(N * blocks * blob);
  const scales = new Float32Array(N * blocks);
  // one block at a time, copied out (padding past K is 0, which every scale stores exactly)
  const block = new Float32Array(blockSize);
  const levels = new Uint8Array(blockSize);
  /** Quantizes `block` with `scale` into `levels`; returns the largest error. */
  const place = (scale: number): number => {
    const inv = scale === 0 ? 0 : 1 / scale;
    let worst = 0;
    for (let i = 0; i < blockSize; i++) {
      const x = block[i]!;
      const q = Math.max(0, Math.min(top, Math.round(x * inv) + zero));
      levels[i] = q;
      worst = Math.max(worst, Math.abs(x - (q - zero) * scale));
    }
    return worst;
  };
  for (let n = 0; n < N; n++) {
    for (let b = 0; b < blocks; b++) {
      const k0 = b * blockSize;
      const k1 = Math.min(K, k0 + blockSize);
      block.fill(0);
      let extreme = 0;
      for (let k = k0; k < k1; k++) {
        const x = w[k * kStride + n * nStride]!;
        block[k - k0] = x;
        if (Math.abs(x) > Math.abs(extreme)) extreme = x;
      }
      // the finer scale puts the largest value on the lowest level, which may clip values of the
      // other sign; the coarser one fits every value: keep whichever errs less on this block
      const fine = Math.fround(extreme / -zero);
      const coarse = Math.fround(Math.abs(extreme) / (zero - 1));
      const scale = place(fine) <= place(coarse) ? fine : coarse;
      if (scale === fine) place(fine);
      scales[n * blocks + b] = scale;
      const at = (n * blocks + b) * blob;
      if (bits === 8) data.set(levels, at);
      else for (let i = 0; i < blockSize; i += 2) data[at + (i >> 1)] = levels[i]! | (levels[i + 1]! << 4);
    }
  }
  return { bits, blockSize, K, N, data, scales };
}

/** The float weight [K, N] a quantized one stands for. */
export function dequantizeBlockwise(q: BlockQuantized): Float32Array {
  const { bits, blockSize, K, N, data, scales } = q;
  const blocks = Math.ceil(K / blockSize);
  const blob = (blockSize * bits) / 8;
  const zero = 2 ** (bits - 1);
  const w = new Float32Array(K * N);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const b = Math.floor(k / blockSize);
      const i = k - b * blockSize;
      const at = (n * blocks + b) * blob;
      const level = bits === 8 ? data[at + i]! : (data[at + (i >> 1)]! >> (i & 1 ? 4 : 0)) & 15;
      w[k * N + n] = (level - zero) * scales[n * blocks + b]!;
    }
  }
  return w;
}
