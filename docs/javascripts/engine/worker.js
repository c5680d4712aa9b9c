/* The one module worker that owns the model: the page talks to it only with messages.
 *
 * Page -> worker (every message carries an `id`; replies carry the same `id`):
 *   {type: "load", manifest: url, mode?: "exact"|"fast", maxContext?}
 *       -> {type: "progress", done, total, part, parts, cached, warning?} ... then
 *          {type: "ready", config, mode, maxContext, manifest: {file, bytes, version}, cachedParts,
 *           fetchedParts, persisted, cacheUsed, warning?, seconds: {download, load}}
 *   {type: "forward", text? | ids?, chat?: bool, system?, top?: 20, logits?: bool, attention?: null|"all"|{layer, head?}, mode?,
 *    steer?}
 *       -> {type: "result", ids, tokens, top: {ids: Int32Array, probs: Float32Array, logits: Float32Array, tokens},
 *           logits?: Float32Array(V) of the last position, attention?: {layers, heads, T, S, data: Float32Array}}
 *   {type: "generate", prompt: text | ids, chat?: bool, system?, params: {strategy, temperature, top_k, top_p,
 *    min_p, repetition_penalty}, max_new_tokens, seed?, mode?, steer?}
 *       -> {type: "token", index, token, text, position, tokensPerSecond} per token, then
 *          {type: "done", reason: "eos"|"length"|"context"|"stopped", prompt_ids, ids, text, prefill: {tokens, seconds},
 *           decode: {tokens, seconds, tokensPerSecond}}
 *   {type: "trace", text? | ids?, chat?, steps?: 6, dims?: 8}
 *       -> {type: "result", steps: [{phase, fed, fed_ids, cache_length, key_shape, value_shape, layers, bytes,
 *           key_sample: (S, dims) keys of layer 0, KV head 0, next, next_id}], n_layers, n_kv_heads, n_heads,
 *           head_dim, dtype_bytes, max_context, cache_bytes}: a prefill and greedy steps, the cache after each
 *   steer: {layer, vector: Float32Array(C) or an array of C numbers, alpha}: alpha * vector is added to the
 *       residual stream after block `layer` at every position, the prompt's and each generated token's
 *       (model.js's forward; a bad one is an error before any work)
 *   {type: "stop"}  -> the running generate ends with reason "stopped" (answered {type: "result"})
 *   {type: "reset"} -> {type: "result"}
 * Any failure: {type: "error", message}. Messages run one at a time, in order; only "stop" jumps the queue.
 * Arrays go back as transferables (no copy).
 */
import { loadModel } from "./model.js";
import { makeRng, pick } from "./sampling.js";
import { downloadModel } from "./download.js";
import { simdSupported } from "./wasm.js";

let model = null;
let loaded = null;  // {manifest: {file, bytes, version}, ...} of the model held
let stopRequested = false;
let queue = Promise.resolve();

const post = (msg, transfer = []) => self.postMessage(msg, transfer);

// ------------------------------------------------------------------ what this worker needs from the engine

function vocabSize() { return model.config.vocab_size; }

function eosId() { return model.tokenizer.eos ?? null; }

function encodePrompt(req) {
  if (Array.isArray(req.ids) || ArrayBuffer.isView(req.ids)) return checkIds(Array.from(req.ids));
  const text = req.text ?? req.prompt;
  if (Array.isArray(text)) return checkIds(text);
  if (typeof text !== "string") throw new Error("give the prompt as text or as token ids");
  if (!req.chat) return checkIds(model.tokenizer.encode(text));
  const messages = [...(req.system ? [{ role: "system", content: req.system }] : []), { role: "user", content: text }];
  return checkIds(model.tokenizer.chat(messages));
}

function checkIds(ids) {
  if (!ids.length) throw new Error("the prompt is empty: the model needs at least one token to continue");
  const V = vocabSize();
  const bad = ids.filter((i) => !Number.isInteger(i) || i < 0 || i >= V);
  if (bad.length) throw new Error(`token ids ${bad.slice(0, 5).join(", ")} are outside the vocabulary 0..${V - 1}`);
  return ids;
}

function maxContext() { return model.maxContext; }

function setMode(mode) {
  if (mode === undefined) return;
  if (mode !== "exact" && mode !== "fast") throw new Error(`mode must be "exact" or "fast", got ${JSON.stringify(mode)}`);
  model.mode = mode;
}

function need() {
  if (!model) throw new Error("the model is not loaded yet: press the button to load it first");
}

// ------------------------------------------------------------------ small numerics

/** Probabilities (float64) of one row of logits. */
function softmax(z) {
  let max = -Infinity;
  for (let i = 0; i < z.length; i++) if (z[i] > max) max = z[i];
  const p = new Float64Array(z.length);
  let sum = 0;
  for (let i = 0; i < z.length; i++) { p[i] = Math.exp(z[i] - max); sum += p[i]; }
  for (let i = 0; i < z.length; i++) p[i] /= sum;
  return p;
}

/** Indices of the k largest values, largest first (ties: lower id first). */
function topIndices(z, k) {
  const idx = Array.from(z.keys());
  idx.sort((a, b) => z[b] - z[a] || a - b);
  return idx.slice(0, k);
}

/** Token ids -> text pieces, holding back bytes of a character the next token may complete. */
class TextStream {
  constructor(tokenizer, eos) { this.tokenizer = tokenizer; this.eos = eos; this.ids = []; this.sent = 0; }
  text() { return this.tokenizer.decode(this.ids.filter((i) => i !== this.eos)); }
  push(id) {
    this.ids.push(id);
    const text = this.text();
    let safe = text.length;
    while (safe > 0 && text[safe - 1] === "\ufffd" && text.length - safe < 3) safe--;
    return this.emit(text, safe);
  }
  flush() { const text = this.text(); return this.emit(text, text.length); }
  emit(text, upto) {
    const piece = upto > this.sent ? text.slice(this.sent, upto) : "";
    this.sent = Math.max(this.sent, upto);
    return piece;
  }
}

/** A task boundary without setTimeout's 4 ms clamp, so a "stop" message can be read between tokens. */
function nextTask() {
  return new Promise((resolve) => {
    const ch = new MessageChannel();
    ch.port1.onmessage = () => { ch.port1.close(); resolve(); };
    ch.port2.postMessage(null);
  });
}

// ------------------------------------------------------------------ the messages

async function load(req) {
  const url = new URL(req.manifest, self.location.href).href;
  const t0 = performance.now();
  const got = await downloadModel(url, { onProgress: (p) => post({ id: req.id, type: "progress", ...p }) });
  const info = { file: got.manifest.file, bytes: got.manifest.bytes, version: got.manifest.version };
  const t1 = performance.now();
  if (!model || !loaded || loaded.manifest.version !== info.version) {
    model = null;
    const options = { mode: req.mode ?? (simdSupported() ? "exact" : "js"), name: info.file };
    if (req.maxContext !== undefined) options.maxContext = req.maxContext;
    try {
      model = await loadModel(got.buffer, options);
    } catch (err) {
      if (err instanceof RangeError || /memory/i.test(String(err.message))) {
        throw new Error(`${err.message}. Close other tabs or try a device with more memory`);
      }
      throw err;
    }
  } else {
    setMode(req.mode);
  }
  loaded = { manifest: info };
  post({ id: req.id, type: "ready", config: JSON.parse(JSON.stringify(model.config)), mode: model.mode,
    maxContext: maxContext(), manifest: info, cachedParts: got.cachedParts, fetchedParts: got.fetchedParts,
    persisted: got.persisted, cacheUsed: got.cacheUsed,
    warning: simdSupported() ? undefined : "this browser has no WebAssembly SIMD, so the model runs in plain JavaScript, several times slower",
    seconds: { download: (t1 - t0) / 1000, load: (performance.now() - t1) / 1000 } });
}

function pickAttention(maps, want, T, S) {
  const L = maps.length, H = maps[0].length / (T * S);
  const one = T * S;
  if (want === "all") {
    const data = new Float32Array(L * H * one);
    maps.forEach((m, l) => data.set(m, l * H * one));
    return { layers: L, heads: H, T, S, first: { layer: 0, head: 0 }, data };
  }
  const layer = want.layer;
  if (!Number.isInteger(layer) || layer < 0 || layer >= L) throw new Error(`layer must be 0..${L - 1}, got ${layer}`);
  if (want.head === undefined || want.head === null) {
    return { layers: 1, heads: H, T, S, first: { layer, head: 0 }, data: maps[layer].slice() };
  }
  const head = want.head;
  if (!Number.isInteger(head) || head < 0 || head >= H) throw new Error(`head must be 0..${H - 1}, got ${head}`);
  return { layers: 1, heads: 1, T, S, first: { layer, head }, data: maps[layer].slice(head * one, (head + 1) * one) };
}

function forward(req) {
  need();
  setMode(req.mode);
  const ids = encodePrompt(req);
  if (ids.length > maxContext()) {
    throw new Error(`the prompt has ${ids.length} tokens; the model here keeps at most ${maxContext()}`);
  }
  model.reset();
  const out = model.forward(ids, { attention: Boolean(req.attention), lastOnly: true, steer: req.steer });
  const V = vocabSize(), T = ids.length;
  const last = out.logits;  // (V): the last position's
  const probs = softmax(last);
  const k = Math.min(req.top ?? 20, V);
  const top = topIndices(last, k);
  const reply = {
    id: req.id, type: "result", ids,
    tokens: ids.map((i) => model.tokenizer.decode([i])),
    top: { ids: Int32Array.from(top), probs: Float32Array.from(top, (i) => probs[i]),
      logits: Float32Array.from(top, (i) => last[i]), tokens: top.map((i) => model.tokenizer.decode([i])) },
  };
  const transfer = [reply.top.ids.buffer, reply.top.probs.buffer, reply.top.logits.buffer];
  if (req.logits) { reply.logits = last; transfer.push(last.buffer); }
  if (req.attention) {
    reply.attention = pickAttention(out.attention, req.attention, T, T);
    transfer.push(reply.attention.data.buffer);
  }
  model.reset();
  post(reply, transfer);
}

async function generate(req) {
  need();
  setMode(req.mode);
  const ids = encodePrompt(req);
  const maxNew = req.max_new_tokens ?? 32;
  if (!Number.isInteger(maxNew) || maxNew < 1) throw new Error(`max_new_tokens must be an integer >= 1, got ${maxNew}`);
  const bound = maxContext();
  if (ids.length + 1 > bound) {
    throw new Error(`the prompt has ${ids.length} tokens; the model here keeps at most ${bound}, so there is no room ` +
      "to generate: shorten it");
  }
  const params = req.params ?? { strategy: "greedy" };
  const rng = makeRng(req.seed ?? 0);
  const eos = eosId();
  const stream = new TextStream(model.tokenizer, eos);
  const history = ids.slice();
  const out = [];
  stopRequested = false;
  model.reset();
  const t0 = performance.now();
  const steer = req.steer;  // the same push at the prompt's positions and at every new one
  let logits = model.forward(ids, { lastOnly: true, steer }).logits;  // (V)
  const t1 = performance.now();
  let reason = "length";
  for (let n = 0; n < maxNew; n++) {
    const token = pick(logits, params, history, rng);
    history.push(token);
    out.push(token);
    const elapsed = (performance.now() - t1) / 1000;
    post({ id: req.id, type: "token", index: n, token, text: stream.push(token), position: model.position,
      tokensPerSecond: n > 0 && elapsed > 0 ? n / elapsed : null });
    if (token === eos) { reason = "eos"; break; }
    if (n + 1 === maxNew) break;
    if (model.position + 1 > bound) { reason = "context"; break; }
    await nextTask();
    if (stopRequested) { reason = "stopped"; break; }
    logits = model.forward([token], { lastOnly: true, steer }).logits;
  }
  const t2 = performance.now();
  const tail = stream.flush();
  if (tail) post({ id: req.id, type: "token", index: out.length, token: -1, text: tail, position: model.position, tokensPerSecond: null });
  model.reset();  // the next request starts from an empty cache
  const decodeTokens = out.length - 1;  // the first came from the prefill
  const decodeSeconds = (t2 - t1) / 1000;
  post({ id: req.id, type: "done", reason, prompt_ids: ids, ids: out, text: stream.text(),
    prefill: { tokens: ids.length, seconds: (t1 - t0) / 1000 },
    decode: { tokens: decodeTokens, seconds: decodeSeconds,
      tokensPerSecond: decodeTokens > 0 && decodeSeconds > 0 ? decodeTokens / decodeSeconds : null } });
}

/** The engine's keys of layer `l`, KV head `g`, positions 0..S-1, first `dims` dimensions: (S, dims) rows. */
function cachedKeys(l, g, S, dims) {
  if (typeof model.cacheOf !== "function") throw new Error("this engine does not show its KV cache");
  const D = model.config.head_dim, at = model.cacheOf(l, 0) / 4 + g * model.maxContext * D;
  return Array.from({ length: S }, (_, p) => Array.from(model.f32.subarray(at + p * D, at + p * D + dims)));
}

/** A prefill of the prompt and `steps` greedy decode steps, recording the cache after each (kv_trace's format). */
function trace(req) {
  need();
  setMode(req.mode);
  const ids = encodePrompt(req);
  const steps = req.steps ?? 6, dims = req.dims ?? 8;
  if (!Number.isInteger(steps) || steps < 0 || steps > 64) throw new Error(`steps must be an integer in 0..64, got ${steps}`);
  if (ids.length + steps > maxContext()) throw new Error(`the prompt has ${ids.length} tokens; the cache keeps at most ${maxContext()}`);
  const c = model.config, text = (i) => model.tokenizer.decode([i]);
  const records = [];
  let feed = ids;
  model.reset();
  for (let step = 0; step <= steps; step++) {
    const logits = model.forward(feed, { lastOnly: true }).logits;
    let next = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[next]) next = i;
    const S = model.position;
    records.push({ phase: step === 0 ? "prefill" : "decode", fed: feed.map(text), fed_ids: feed, cache_length: S,
      key_shape: [1, c.n_kv_heads, S, c.head_dim], value_shape: [1, c.n_kv_heads, S, c.head_dim], layers: c.n_layers,
      bytes: c.n_layers * 2 * c.n_kv_heads * S * c.head_dim * 4, key_sample: cachedKeys(0, 0, S, dims),
      next: text(next), next_id: next });
    feed = [next];
  }
  model.reset();
  post({ id: req.id, type: "result", steps: records, n_layers: c.n_layers, n_kv_heads: c.n_kv_heads, n_heads: c.n_heads,
    head_dim: c.head_dim, dtype_bytes: 4, max_context: maxContext(),
    cache_bytes: c.n_layers * 2 * c.n_kv_heads * maxContext() * c.head_dim * 4 });
}

async function handle(req) {
  try {
    if (req.type === "load") await load(req);
    else if (req.type === "forward") forward(req);
    else if (req.type === "generate") await generate(req);
    else if (req.type === "trace") trace(req);
    else if (req.type === "reset") { if (model) model.reset(); post({ id: req.id, type: "result" }); }
    else throw new Error(`unknown message type ${JSON.stringify(req.type)}`);
  } catch (err) {
    post({ id: req.id, type: "error", message: err && err.message ? err.message : String(err) });
  }
}

self.onmessage = (event) => {
  const req = event.data || {};
  if (req.type === "stop") {  // read between two tokens of a running generate
    stopRequested = true;
    post({ id: req.id, type: "result" });
    return;
  }
  queue = queue.then(() => handle(req));
};
