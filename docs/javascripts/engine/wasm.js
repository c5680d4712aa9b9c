/* Loading kernels.wasm (built from kernels.wat by tools/build_wasm.mjs) into a page or worker.
 *
 * The module imports one WebAssembly.Memory ("env", "memory") that the model allocates once and
 * fills: the weights, copied from the GGUF file, the KV cache and the activations. Single
 * threaded, no SharedArrayBuffer: it runs on any static host, GitHub Pages included.
 */

// The smallest module that uses a SIMD instruction (v128.const): validating it tells whether
// this browser has WebAssembly SIMD (Chrome 91, Firefox 89, Safari 16.4 and later do).
const SIMD_PROBE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20,
  0, 253, 12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 11]);

export function simdSupported() {
  return typeof WebAssembly === "object" && WebAssembly.validate(SIMD_PROBE);
}

export const DEFAULT_URL = new URL("./kernels.wasm", import.meta.url).href;
const compiled = new Map();  // url -> Promise<WebAssembly.Module>: compiled once per page or worker

/** The kernels' exports, instantiated on `memory` (a WebAssembly.Memory). */
export async function loadKernels(memory, url = DEFAULT_URL) {
  if (!simdSupported()) {
    throw new Error("this browser has no WebAssembly SIMD, which the engine's kernels need " +
      "(Chrome 91, Firefox 89, Safari 16.4 or later)");
  }
  if (!compiled.has(url)) {
    compiled.set(url, (async () => {
      const res = await fetch(url);
      if (!res.ok) throw new Error(`could not load the kernels ${url}: HTTP ${res.status}`);
      return WebAssembly.compile(await res.arrayBuffer());  // not compileStreaming: any MIME type works
    })());
  }
  let module;
  try {
    module = await compiled.get(url);
  } catch (err) {
    compiled.delete(url);  // a later call may try again
    throw err;
  }
  const instance = await WebAssembly.instantiate(module, { env: { memory } });
  return instance.exports;
}
