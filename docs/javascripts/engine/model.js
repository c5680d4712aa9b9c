/* SmolLM2 (a Llama) in the browser, from the very GGUF file the Python chapters read: the
 * computation of llmbook/inference/numpy_engine.py, with the matrix products done on the
 * file's quantised blocks by kernels.wasm (or kernels.js in mode "js").
 *
 *   const model = await loadModel(buffer, {mode: "exact", maxContext: 2048});
 *   const {logits} = model.forward(model.tokenizer.encode("The capital of France is"));
 *   // logits: Float32Array(T * V), row t = the next-token logits after token t
 *
 * Modes (model.mode can be changed at any time):
 * - "exact": float32 activations, WASM SIMD: the NumPy engine's logits to float32 rounding;
 * - "fast": each 32-value block of a matrix product's input rounded to int16 with its own scale,
 *   then integer dot products (i32x4.dot_i16x8_s): ~1.5x the tokens a second, logits within ~2e-2;
 * - "js": the same float arithmetic in plain JavaScript (kernels.js): the readable reference.
 * Attention, its softmax included, is float32 in every mode.
 *
 * Steering (the chapter "Looking inside"): forward(ids, {steer: {layer, vector, alpha}}) adds alpha * vector
 * to the residual stream after block `layer` (0-based) at every new position, before the next block
 * reads it: what llmbook/interpret/hooks.py's add_vector does to the PyTorch model.
 *
 * The KV cache is bounded: room for `maxContext` positions is allocated once, with the weights,
 * in one WebAssembly.Memory that never grows (30 layers x 2 x 3 heads x 64 floats = 45 KiB a
 * position, 90 MiB for 2048). forward() past it throws before doing any work; the caller then
 * calls reset() (or keeps a shorter history), so a long chat cannot exhaust a phone's memory.
 * In all: 92 MiB of weights + the cache + ~9 MiB of activations (192 MiB for maxContext 2048,
 * 111 MiB for 256). The caller may drop the file's ArrayBuffer once loadModel returns.
 */
import { FLOAT_TAGS, GGUFError, INTEGER_TAGS, readGGUF } from "./gguf.js";
import { dequantizeRow, halfToFloat, matmul as jsMatmul, BLOCK, BLOCK_BYTES } from "./kernels.js";
import { Tokenizer } from "./tokenizer.js";
import { loadKernels } from "./wasm.js";

export const MODES = ["exact", "fast", "js"];
const CHUNK = 32;  // positions per pass through the layers: bounds the activations' memory
const MAX_CONTEXT = 2 ** 24;  // as llmbook/models/config.py
const MAX_UINT32 = 2 ** 32 - 1;
const FLT_MIN = 2 ** -126;  // the smallest normal float32
const MAX_LOGITS = 2 ** 25;  // floats (128 MiB): forward returns at most this many logits at once

// ---------------------------------------------------------------- the config, checked as config.py does

const SOURCES = {  // where each size comes from, for messages
  vocab_size: "len(tokenizer.ggml.tokens)", dim: "llama.embedding_length",
  kv_dim: "llama.attention.head_count_kv * llama.embedding_length / llama.attention.head_count",
  ffn_dim: "llama.feed_forward_length",
};
const BLOCK_SHAPES = {  // per block: blk.{i}.<name> -> its shape, in the config's terms
  "attn_norm.weight": ["dim"], "attn_q.weight": ["dim", "dim"], "attn_k.weight": ["kv_dim", "dim"],
  "attn_v.weight": ["kv_dim", "dim"], "attn_output.weight": ["dim", "dim"], "ffn_norm.weight": ["dim"],
  "ffn_gate.weight": ["ffn_dim", "dim"], "ffn_up.weight": ["ffn_dim", "dim"], "ffn_down.weight": ["dim", "ffn_dim"],
};

/** A metadata value as Python's repr writes it (2.0 for a float 2, True, '2'), so messages read as llmbook's. */
function repr(v, tag) {
  if (typeof v === "string") return `'${v}'`;
  if (typeof v === "boolean") return v ? "True" : "False";
  if (typeof v !== "number" || !FLOAT_TAGS.includes(tag)) return Array.isArray(v) ? "[...]" : String(v);
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return v.toFixed(1);
  if (Math.abs(v) >= 1e16 || Math.abs(v) < 1e-4) {
    const [mantissa, e] = v.toExponential().split("e");
    return `${mantissa}e${e[0]}${e.slice(1).padStart(2, "0")}`;
  }
  return String(v);
}

function configOf(g, name) {
  const m = g.metadata, fail = (what) => new GGUFError(`${name}: ${what}`);
  const get = (key) => {
    if (!(key in m)) throw fail(`metadata key '${key}' is missing`);
    return m[key];
  };
  const int = (key, max, { bound = null, fallback = null, min = 1 } = {}) => {
    if (!(key in m) && fallback !== null) return fallback;
    const v = get(key);
    if (!INTEGER_TAGS.includes(g.types[key]) || typeof v !== "number" || v < min || v > max) {
      throw fail(`${key} = ${repr(v, g.types[key])}, expected an integer in ${min}..${max}${bound ? ` (${bound})` : ""}`);
    }
    return v;
  };
  const real = (key, fallback = null) => {
    if (!(key in m) && fallback !== null) return fallback;
    const v = get(key), tag = g.types[key];
    if (!(INTEGER_TAGS.includes(tag) || FLOAT_TAGS.includes(tag)) || !Number.isFinite(Number(v)) || v <= 0) {
      throw fail(`${key} = ${repr(v, tag)}, expected a finite positive number`);
    }
    return Number(v);
  };
  if (m["general.architecture"] !== "llama") throw fail(`architecture ${repr(m["general.architecture"])} is not supported, only 'llama'`);
  if (!g.tensors.length) throw fail(`the file has no tensors (llama.block_count = ${repr(m["llama.block_count"])})`);
  const tokens = get("tokenizer.ggml.tokens");
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === "string")) throw fail("tokenizer.ggml.tokens must be a list of str");
  if (!tokens.length) throw fail("tokenizer.ggml.tokens is empty");
  const n_heads = int("llama.attention.head_count", MAX_UINT32);
  const c = {
    vocab_size: tokens.length,
    n_layers: int("llama.block_count", g.tensors.length, { bound: "the file's tensor count" }),
    n_heads,
    n_kv_heads: int("llama.attention.head_count_kv", n_heads, { bound: "llama.attention.head_count", fallback: n_heads }),
    dim: int("llama.embedding_length", MAX_UINT32),
    ffn_dim: int("llama.feed_forward_length", MAX_UINT32),
    context_length: int("llama.context_length", MAX_CONTEXT),
    rope_base: real("llama.rope.freq_base", 10000),
    norm_eps: real("llama.attention.layer_norm_rms_epsilon"),
  };
  if (c.n_heads % c.n_kv_heads) {
    throw fail(`llama.attention.head_count = ${c.n_heads} is not a multiple of llama.attention.head_count_kv = ${c.n_kv_heads}`);
  }
  if (c.dim % c.n_heads || (c.dim / c.n_heads) % 2) {
    throw fail(`llama.embedding_length = ${c.dim} does not split into llama.attention.head_count = ${c.n_heads} heads ` +
      "of an even width (RoPE rotates pairs)");
  }
  c.head_dim = c.dim / c.n_heads;
  c.kv_dim = c.n_kv_heads * c.head_dim;
  if (int("llama.rope.dimension_count", MAX_UINT32, { fallback: c.head_dim }) !== c.head_dim) {
    throw fail(`llama.rope.dimension_count = ${m["llama.rope.dimension_count"]} is not the head width ${c.head_dim}`);
  }
  if (int("llama.vocab_size", MAX_UINT32, { fallback: c.vocab_size }) !== c.vocab_size) {
    throw fail(`llama.vocab_size = ${m["llama.vocab_size"]}, but tokenizer.ggml.tokens has ${c.vocab_size} tokens`);
  }
  c.tied_embeddings = !g.tensors.some((t) => t.name === "output.weight");
  for (const which of ["bos", "eos", "unknown", "padding"]) {
    const key = `tokenizer.ggml.${which}_token_id`;
    if (key in m) int(key, c.vocab_size - 1, { bound: "the last token id", min: 0 });
  }
  c.eos_token_id = m["tokenizer.ggml.eos_token_id"] ?? null;
  return c;
}

/** Every tensor the config implies, with its shape and the types the kernels read; GGUFError if not. */
function checkTensors(g, c, name) {
  const fail = (what) => new GGUFError(`${name}: ${what}`);
  const want = { "token_embd.weight": ["vocab_size", "dim"], "output_norm.weight": ["dim"] };
  if (!c.tied_embeddings) want["output.weight"] = ["vocab_size", "dim"];
  for (let i = 0; i < c.n_layers; i++) for (const [k, s] of Object.entries(BLOCK_SHAPES)) want[`blk.${i}.${k}`] = s;
  const byName = new Map(g.tensors.map((t) => [t.name, t]));
  const missing = Object.keys(want).filter((n) => !byName.has(n));
  if (missing.length) {
    throw fail(`tensor '${missing[0]}' is missing (${missing.length} of the ${Object.keys(want).length} tensors that ` +
      `llama.block_count = ${c.n_layers} implies are missing)`);
  }
  const unexpected = g.tensors.map((t) => t.name).filter((n) => !(n in want));
  if (unexpected.length) {
    throw fail(`unexpected tensors [${unexpected.slice(0, 5).map((n) => `'${n}'`).join(", ")}] ` +
      `(llama.block_count = ${c.n_layers}, ${unexpected.length} unexpected in all)`);
  }
  for (const [n, symbols] of Object.entries(want)) {
    const t = byName.get(n), expected = symbols.map((s) => c[s]);
    if (t.shape.join() !== expected.join()) {
      const tuple = (xs) => `(${xs.join(", ")}${xs.length === 1 ? "," : ""})`;
      throw fail(`tensor '${n}' has shape ${tuple(t.shape)}, but the metadata makes it ${tuple(symbols)} = ` +
        `${tuple(expected)}, from ${[...new Set(symbols.map((x) => SOURCES[x]))].join(", ")}`);
    }
  }
  return byName;
}

/** GGUFError unless every matrix is in a format the kernels read (Q4_1, Q8_0) and every vector is F32. */
function checkTypes(tensors, name) {
  for (const t of tensors.values()) {
    const ok = t.shape.length === 1 ? t.type === "F32" : t.type in BLOCK_BYTES;
    if (!ok) {
      throw new GGUFError(`${name}: tensor '${t.name}' is ${t.type}; this engine reads ` +
        (t.shape.length === 1 ? "F32 vectors" : `matrices in ${Object.keys(BLOCK_BYTES).join(" or ")}`));
    }
  }
}

// ---------------------------------------------------------------- memory: one arena, laid out once

class Layout {
  constructor() { this.end = 64; }  // offset 0 stays unused: a zero offset is "none"
  take(bytes) {
    const at = this.end;
    this.end = Math.ceil((at + bytes) / 64) * 64;
    return at;
  }
}

/** The RoPE angles' cos and sin for positions 0..n-1, (n, D/2) float32 each, from float64 as rope_tables_np. */
function ropeTables(f32, cosAt, sinAt, n, D, base) {
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < D / 2; i++) {
      const angle = p * base ** (-(2 * i) / D);
      f32[cosAt / 4 + p * (D / 2) + i] = Math.cos(angle);
      f32[sinAt / 4 + p * (D / 2) + i] = Math.sin(angle);
    }
  }
}

// ---------------------------------------------------------------- the model

class Model {
  constructor(config, tokenizer, tensors, maxContext, kernels, mode) {
    const c = config, L = new Layout(), F = c.ffn_dim, C = c.dim, V = c.vocab_size, D = c.head_dim;
    const wide = Math.max(C, F);
    this.config = { ...c, maxContext };
    this.tokenizer = tokenizer;
    this.maxContext = maxContext;
    this.kernels = kernels;
    this.position = 0;  // positions in the KV cache
    this.buf = {  // activations for up to CHUNK positions, row-major (position, feature)
      x: L.take(CHUNK * C * 4), xn: L.take(CHUNK * C * 4), q: L.take(CHUNK * C * 4),
      k: L.take(CHUNK * c.kv_dim * 4), v: L.take(CHUNK * c.kv_dim * 4), att: L.take(CHUNK * C * 4),
      y: L.take(CHUNK * C * 4), gate: L.take(CHUNK * F * 4), up: L.take(CHUNK * F * 4),
      logits: L.take(CHUNK * V * 4),
      xs: L.take(CHUNK * (wide / BLOCK) * 4), xds: L.take(CHUNK * (wide / BLOCK) * 8), xq: L.take(CHUNK * wide * 2),
      row: L.take((maxContext + 4) * 4), maps: L.take(c.n_heads * CHUNK * maxContext * 4),
      cos: L.take(maxContext * (D / 2) * 4), sin: L.take(maxContext * (D / 2) * 4),
      halves: L.take(65536 * 4),  // every float16 as a float32, for the kernels' block scales
    };
    this.cacheAt = L.take(c.n_layers * 2 * c.kv_dim * maxContext * 4);  // (L, keys|values, KV, maxContext, D)
    const first = Math.min(...[...tensors.values()].map((t) => t.offset));
    const last = Math.max(...[...tensors.values()].map((t) => t.offset + t.nbytes));
    this.weightsAt = L.take(last - first);
    this.bytes = L.end;
    this.layout = { first, last };
    this.tensors = tensors;
    this.mode = mode;
  }

  get mode() { return this._mode; }
  set mode(m) {
    if (!MODES.includes(m)) throw new Error(`mode must be one of ${MODES.map((x) => `"${x}"`).join(", ")}, got ${JSON.stringify(m)}`);
    if (m !== "js" && !this.kernels) throw new Error(`mode "${m}" needs the WebAssembly kernels, which were not loaded`);
    this._mode = m;
  }

  /** Allocate the memory and copy the weights in (once). */
  fill(buffer, memory) {
    this.memory = memory;
    this.u8 = new Uint8Array(memory.buffer);
    this.f32 = new Float32Array(memory.buffer);
    const { first, last } = this.layout;
    this.u8.set(new Uint8Array(buffer, first, last - first), this.weightsAt);
    this.at = (name) => this.weightsAt + this.tensors.get(name).offset - first;  // a tensor's bytes in memory
    const c = this.config;
    ropeTables(this.f32, this.buf.cos, this.buf.sin, this.maxContext, c.head_dim, c.rope_base);
    for (let h = 0; h < 65536; h++) this.f32[this.buf.halves / 4 + h] = halfToFloat(h);
    this.w = Array.from({ length: c.n_layers }, (_, i) => {
      const t = (k) => ({ at: this.at(`blk.${i}.${k}`), type: this.tensors.get(`blk.${i}.${k}`).type });
      return { attnNorm: t("attn_norm.weight"), q: t("attn_q.weight"), k: t("attn_k.weight"), v: t("attn_v.weight"),
        o: t("attn_output.weight"), ffnNorm: t("ffn_norm.weight"), gate: t("ffn_gate.weight"), up: t("ffn_up.weight"),
        down: t("ffn_down.weight") };
    });
    const tensor = (n) => ({ at: this.at(n), type: this.tensors.get(n).type });
    this.embed = tensor("token_embd.weight");
    this.norm = tensor("output_norm.weight");
    this.output = c.tied_embeddings ? this.embed : tensor("output.weight");
  }

  /** Empty the KV cache: the next forward starts at position 0. */
  reset() { this.position = 0; }

  /**
   * Append `ids` to the KV cache and return {logits: Float32Array(T * V), one row per new position,
   * attention?: [Float32Array(H * T * S) per layer]} with S = position after the call (row t of head h
   * holds the weights over positions 0..S-1; those after position start + t are 0).
   * lastOnly: logits of the last position only, Float32Array(V) (spares the output layer T - 1 rows).
   * steer: {layer, vector: Float32Array(C) or an array, alpha}: alpha * vector is added to the output of
   * block `layer` at each of the T new positions (positions already cached were steered, or not, when
   * they were computed).
   */
  forward(ids, { attention = false, lastOnly = false, steer = null } = {}) {
    const c = this.config, V = c.vocab_size, T = ids.length;
    if (!T) throw new Error("forward needs at least one token id");
    for (let t = 0; t < T; t++) {
      if (!Number.isInteger(ids[t]) || ids[t] < 0 || ids[t] >= V) {
        throw new Error(`token id ${ids[t]} at position ${t} is outside the vocabulary 0..${V - 1}`);
      }
    }
    const push = this.steering(steer);
    if (this.position + T > this.maxContext) {
      throw new Error(`the KV cache holds ${this.maxContext} positions: ${this.position} are used and ${T} more do not fit ` +
        "(reset() empties it)");
    }
    if (!lastOnly && T * V > MAX_LOGITS) {
      throw new Error(`the logits of all ${T} positions would take ${Math.round(T * V * 4 / 2 ** 20)} MiB: ` +
        "pass {lastOnly: true} for the last position's, or fewer tokens at a time");
    }
    const start = this.position, S = start + T;
    const logits = new Float32Array((lastOnly ? 1 : T) * V);
    const maps = attention ? Array.from({ length: c.n_layers }, () => new Float32Array(c.n_heads * T * S)) : null;
    for (let t0 = 0; t0 < T; t0 += CHUNK) {
      const n = Math.min(CHUNK, T - t0), last = t0 + n === T;
      this.chunk(ids.slice(t0, t0 + n), maps && { maps, t0, T, S }, push);
      if (!lastOnly || last) this.head(n, lastOnly ? n - 1 : 0, logits, lastOnly ? 0 : t0 * V);
    }
    return maps ? { logits, attention: maps } : { logits };
  }

  /**
   * A steer argument checked, before any work: null for none, else {layer, add: Float32Array(C)} with
   * add = alpha * vector in float32, as PyTorch computes `alpha * vector` for a float32 vector.
   */
  steering(steer) {
    if (steer === null || steer === undefined) return null;
    const c = this.config, C = c.dim;
    if (typeof steer !== "object") throw new Error(`steer must be {layer, vector, alpha}, got ${String(steer)}`);
    const { layer, vector, alpha } = steer;
    const show = (v) => (typeof v === "number" ? String(v) : JSON.stringify(v) ?? String(v));  // NaN stays NaN
    if (!Number.isInteger(layer) || layer < 0 || layer >= c.n_layers) {
      throw new Error(`steer.layer must be an integer in 0..${c.n_layers - 1} (a block, counted from 0), got ${show(layer)}`);
    }
    if (!(Array.isArray(vector) || ArrayBuffer.isView(vector)) || vector.length !== C) {
      const got = Array.isArray(vector) || ArrayBuffer.isView(vector) ? `${vector.length} values` : typeof vector;
      throw new Error(`steer.vector must hold ${C} numbers (the model's width), got ${got}`);
    }
    for (let i = 0; i < C; i++) {
      if (typeof vector[i] !== "number" || !Number.isFinite(vector[i])) {
        throw new Error(`steer.vector[${i}] is ${show(vector[i])}: every value must be a finite number`);
      }
    }
    if (typeof alpha !== "number" || !Number.isFinite(alpha)) {
      throw new Error(`steer.alpha must be a finite number, got ${show(alpha)}`);
    }
    const a = Math.fround(alpha), add = new Float32Array(C);  // the scalar in float32, each product rounded
    for (let i = 0; i < C; i++) add[i] = a * Math.fround(vector[i]);
    return { layer, add };
  }

  /** The blocks on n <= CHUNK new positions (their ids), starting at this.position; push: steering() or null. */
  chunk(ids, want, push = null) {
    const c = this.config, b = this.buf, f = this.f32, n = ids.length, C = c.dim;
    for (let t = 0; t < n; t++) dequantizeRow(this.embed.type, this.u8, this.embed.at, C, ids[t], f, b.x / 4 + t * C);
    for (let l = 0; l < c.n_layers; l++) {
      const w = this.w[l];
      this.rmsNorm(b.x, w.attnNorm.at, b.xn, n);
      this.prepare(b.xn, C, n);
      this.matmul(w.q, b.xn, b.q, C, C, n);
      this.matmul(w.k, b.xn, b.k, c.kv_dim, C, n);
      this.matmul(w.v, b.xn, b.v, c.kv_dim, C, n);
      this.rope(b.q, c.n_heads, n);
      this.rope(b.k, c.n_kv_heads, n);
      this.store(l, n);
      this.attend(l, n, want);
      this.prepare(b.att, C, n);
      this.matmul(w.o, b.att, b.y, C, C, n);
      this.add(b.x, b.y, n * C);
      this.rmsNorm(b.x, w.ffnNorm.at, b.xn, n);
      this.prepare(b.xn, C, n);
      this.matmul(w.gate, b.xn, b.gate, c.ffn_dim, C, n);
      this.matmul(w.up, b.xn, b.up, c.ffn_dim, C, n);
      this.swiglu(n * c.ffn_dim);
      this.prepare(b.gate, c.ffn_dim, n);
      this.matmul(w.down, b.gate, b.y, C, c.ffn_dim, n);
      this.add(b.x, b.y, n * C);
      if (push && l === push.layer) {  // steering: the block's output, before block l + 1 reads it
        for (let t = 0; t < n; t++) for (let i = 0; i < C; i++) f[b.x / 4 + t * C + i] += push.add[i];
      }
    }
    this.position += n;
  }

  /** Final norm and output layer on rows from..n-1 of the chunk, into logits from element `into`. */
  head(n, from, logits, into) {
    const c = this.config, b = this.buf, C = c.dim, V = c.vocab_size, rows = n - from;
    this.rmsNorm(b.x + from * C * 4, this.norm.at, b.xn, rows);
    this.prepare(b.xn, C, rows);
    this.matmul(this.output, b.xn, b.logits, V, C, rows);
    logits.set(this.f32.subarray(b.logits / 4, b.logits / 4 + rows * V), into);
  }

  // ---- the pieces (offsets are bytes into the memory; f32 indexes are offset / 4)

  /** RMSNorm of n rows of width C at x into out: w * x / sqrt(mean(x^2) + eps). */
  rmsNorm(x, w, out, n) {
    const f = this.f32, C = this.config.dim, eps = this.config.norm_eps;
    for (let t = 0; t < n; t++) {
      const xi = x / 4 + t * C, oi = out / 4 + t * C;
      let ss = 0;
      for (let i = 0; i < C; i++) ss += f[xi + i] * f[xi + i];
      const scale = Math.sqrt(Math.fround(Math.fround(ss / C) + eps));
      for (let i = 0; i < C; i++) f[oi + i] = f[w / 4 + i] * Math.fround(f[xi + i] / scale);
    }
  }

  /** Rotate adjacent pairs (2i, 2i+1) of each of `heads` heads of n rows at x by their position's angles. */
  rope(x, heads, n) {
    const f = this.f32, D = this.config.head_dim, half = D / 2, b = this.buf;
    for (let t = 0; t < n; t++) {
      const cos = b.cos / 4 + (this.position + t) * half, sin = b.sin / 4 + (this.position + t) * half;
      for (let h = 0; h < heads; h++) {
        const at = x / 4 + (t * heads + h) * D;
        for (let i = 0; i < half; i++) {
          const a = f[at + 2 * i], bb = f[at + 2 * i + 1], co = f[cos + i], si = f[sin + i];
          f[at + 2 * i] = Math.fround(a * co) - Math.fround(bb * si);
          f[at + 2 * i + 1] = Math.fround(a * si) + Math.fround(bb * co);
        }
      }
    }
  }

  /** Keys and values of the n new positions into the cache: layer l, (KV, maxContext, D) each. */
  store(l, n) {
    const c = this.config, f = this.f32, D = c.head_dim, KV = c.n_kv_heads, cap = this.maxContext;
    for (const [src, which] of [[this.buf.k, 0], [this.buf.v, 1]]) {
      for (let t = 0; t < n; t++) {
        for (let g = 0; g < KV; g++) {
          const from = src / 4 + (t * KV + g) * D, to = this.cacheOf(l, which) / 4 + (g * cap + this.position + t) * D;
          f.copyWithin(to, from, from + D);
        }
      }
    }
  }

  cacheOf(l, which) { return this.cacheAt + ((2 * l + which) * this.config.n_kv_heads * this.maxContext * this.config.head_dim) * 4; }

  /** Attention of the n new positions over every cached one, into buf.att; maps copied out if wanted. */
  attend(l, n, want) {
    const c = this.config, b = this.buf, start = this.position, S = start + n;
    const maps = want ? b.maps : 0;
    const args = [b.q, this.cacheOf(l, 0), this.cacheOf(l, 1), b.att, b.row, maps, c.n_heads, c.n_kv_heads, c.head_dim,
      n, start, this.maxContext, S];
    if (this._mode === "js") this.jsAttention(...args);
    else this.kernels.attention(...args);
    if (!want) return;
    const f = this.f32, out = want.maps[l];
    for (let h = 0; h < c.n_heads; h++) {  // rows (h, t) of this chunk into the layer's (H, T, S) map
      for (let t = 0; t < n; t++) {
        const from = maps / 4 + (h * n + t) * S;
        out.set(f.subarray(from, from + S), (h * want.T + want.t0 + t) * want.S);
      }
    }
  }

  /** The attention kernel in JavaScript: what kernels.wat's $attention does. */
  jsAttention(q, kc, vc, out, row, maps, H, KV, D, n, start, cap, S) {
    const f = this.f32, G = H / KV, scale = 1 / Math.sqrt(D);
    for (let t = 0; t < n; t++) {
      const seen = start + t + 1;  // causal: position start + t sees positions 0..start + t
      for (let h = 0; h < H; h++) {
        const qi = q / 4 + (t * H + h) * D, g = Math.floor(h / G);
        const keys = kc / 4 + g * cap * D, values = vc / 4 + g * cap * D, r = row / 4;
        let max = -Infinity;
        for (let s = 0; s < seen; s++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += f[qi + d] * f[keys + s * D + d];
          f[r + s] = dot * scale;
          if (f[r + s] > max) max = f[r + s];
        }
        let sum = 0;
        for (let s = 0; s < seen; s++) { f[r + s] = Math.exp(f[r + s] - max); sum += f[r + s]; }
        sum = Math.fround(sum);
        for (let s = 0; s < seen; s++) f[r + s] /= sum;
        const oi = out / 4 + (t * H + h) * D;
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let s = 0; s < seen; s++) acc += f[r + s] * f[values + s * D + d];
          f[oi + d] = acc;
        }
        if (maps) {
          const m = maps / 4 + (h * n + t) * S;
          f.set(f.subarray(r, r + seen), m);
          f.fill(0, m + seen, m + S);
        }
      }
    }
  }

  add(x, y, count) {
    const f = this.f32;
    for (let i = 0; i < count; i++) f[x / 4 + i] += f[y / 4 + i];
  }

  /**
   * gate <- silu(gate) * up, silu(g) = g / (1 + e^-g). A very negative gate gives a subnormal float
   * (below 2^-126, ~1e-38): it is flushed to 0, because x86 multiplies subnormals some 100 times more
   * slowly and WebAssembly may not flush them itself. What is lost is below 1e-38 of each product.
   */
  swiglu(count) {
    if (this._mode !== "js") return this.kernels.swiglu(this.buf.gate, this.buf.up, count);
    const f = this.f32, g = this.buf.gate / 4, u = this.buf.up / 4;
    for (let i = 0; i < count; i++) {
      const v = Math.fround(f[g + i] / (1 + Math.exp(-f[g + i]))) * f[u + i];
      f[g + i] = Math.abs(v) < FLT_MIN ? 0 : v;
    }
  }

  /** What a matrix product's input needs first: block sums (exact), int16 blocks (fast), nothing (js). */
  prepare(x, cols, n) {
    const b = this.buf;
    if (this._mode === "exact") this.kernels.sums(x, n * cols, b.xs);
    else if (this._mode === "fast") this.kernels.quantize(x, n * cols, b.xq, b.xds);
  }

  /** out (n, rows) = x (n, cols) W^T for a weight matrix w = {at, type}, after prepare(x, cols, n). */
  matmul(w, x, out, rows, cols, n) {
    const k = this.kernels, b = this.buf;
    if (this._mode === "js") {
      jsMatmul(w.type, this.u8, w.at, rows, cols, this.f32.subarray(x / 4, x / 4 + n * cols),
        this.f32.subarray(out / 4, out / 4 + n * rows), n);
    } else if (this._mode === "exact") {
      if (w.type === "Q4_1") k.q4_1_f32(w.at, rows, cols, x, b.xs, out, n);
      else k.q8_0_f32(w.at, rows, cols, x, out, n);
    } else if (w.type === "Q4_1") {
      k.q4_1_i16(w.at, rows, cols, b.xq, b.xds, out, n);
    } else {
      k.q8_0_i16(w.at, rows, cols, b.xq, b.xds, out, n);
    }
  }
}

/**
 * The model in a GGUF file held in `buffer` (an ArrayBuffer), ready to run.
 * mode: "exact" | "fast" | "js"; maxContext: positions the KV cache holds (1..the model's context
 * length); wasmUrl: where kernels.wasm is (default: beside this file); name: labels error messages.
 * A bad file is a GGUFError naming what is wrong, raised before any memory is allocated.
 */
export async function loadModel(buffer, { mode = "exact", maxContext = 2048, wasmUrl, name = "model.gguf" } = {}) {
  if (!MODES.includes(mode)) throw new Error(`mode must be one of ${MODES.join(", ")}, got ${JSON.stringify(mode)}`);
  const g = readGGUF(buffer, { name });
  const config = configOf(g, name);
  const tensors = checkTensors(g, config, name);
  let tokenizer;
  try {
    tokenizer = Tokenizer.fromGGUF(g.metadata);
  } catch (err) {
    throw new GGUFError(`${name}: tokenizer: ${err.message}`);
  }
  checkTypes(tensors, name);
  if (!Number.isInteger(maxContext) || maxContext < 1 || maxContext > config.context_length) {
    throw new Error(`maxContext must be an integer in 1..${config.context_length} (the model's context length), got ${maxContext}`);
  }
  const model = new Model(config, tokenizer, tensors, maxContext, null, "js");
  let memory;
  try {
    const pages = Math.ceil(model.bytes / 65536);
    memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  } catch (err) {
    const mib = (x) => `${Math.round(x / 2 ** 20)} MiB`;
    throw new RangeError(`the browser refused ${mib(model.bytes)} of memory for the model (weights ` +
      `${mib(model.layout.last - model.layout.first)}, KV cache for ${maxContext} positions ` +
      `${mib(config.n_layers * 2 * config.kv_dim * maxContext * 4)}): ${err.message}`);
  }
  model.fill(buffer, memory);
  if (mode !== "js") {
    model.kernels = await loadKernels(memory, wasmUrl);
    model.kernels.set_halves(model.buf.halves);
  }
  model.mode = mode;
  return model;
}
