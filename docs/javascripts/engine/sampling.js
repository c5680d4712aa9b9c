/* Picking the next token in the browser: the book's strategies (llmbook/inference/strategies.py)
 * and logits processors (llmbook/inference/sampling.py), with the same names, defaults, order
 * and checks, and a small seeded random number generator so that a seed gives the same text.
 *
 * Order, as transformers applies them: repetition penalty, temperature, top-k, top-p, min-p;
 * a filtered token's logit becomes -Infinity. Arithmetic is in float64 (torch works in float32:
 * a token whose cumulative probability sits within ~1e-7 of a top-p cut can fall either side, and
 * tokens tied with the last one top-p keeps all stay, where torch's sort keeps some of them).
 */

// strategy -> [its parameters, the defaults that make it that strategy] (beam and contrastive
// search need many rows per step and stay in Python)
const SAMPLING = ["temperature", "top_k", "top_p", "min_p", "repetition_penalty"];
export const STRATEGIES = {
  greedy: [["repetition_penalty"], {}],
  sample: [SAMPLING, {}],
  "top-k": [SAMPLING, { top_k: 50 }],
  "top-p": [SAMPLING, { top_p: 0.9 }],
  "min-p": [SAMPLING, { min_p: 0.1 }],
};

const isNumber = (x) => typeof x === "number" && Number.isFinite(x);
const show = (x) => (typeof x === "string" ? `'${x}'` : String(x));

// name -> check(value) returning an error text or null; a value of null turns the filter off
const CHECKS = {
  temperature: (x) => (isNumber(x) && x > 0 ? null : "a finite number > 0"),
  top_k: (x) => (x === null || (Number.isInteger(x) && x >= 1) ? null : "an integer >= 1 (or null: off)"),
  top_p: (x) => (x === null || (isNumber(x) && x > 0 && x <= 1) ? null : "a number in (0, 1] (or null: off)"),
  min_p: (x) => (x === null || (isNumber(x) && x >= 0 && x <= 1) ? null : "a number in [0, 1] (or null: off)"),
  repetition_penalty: (x) => (x === null || (isNumber(x) && x > 0) ? null : "a finite number > 0 (or null: off)"),
};

/**
 * The parameters of a strategy, checked, defaults filled in: {strategy, temperature, top_k, top_p,
 * min_p, repetition_penalty}. A key whose value is undefined counts as not given.
 */
export function checkParams(params) {
  if (!params || typeof params !== "object") throw new Error("sampling parameters must be an object");
  const strategy = params.strategy ?? "greedy";
  if (!(strategy in STRATEGIES)) {
    throw new Error(`unknown strategy ${show(strategy)}; choose one of: ${Object.keys(STRATEGIES).join(", ")}`);
  }
  const [names, defaults] = STRATEGIES[strategy];
  const given = Object.keys(params).filter((k) => k !== "strategy" && params[k] !== undefined);
  const unknown = given.filter((k) => !names.includes(k)).sort();
  if (unknown.length) {
    throw new Error(`${unknown.join(", ")} does not apply to strategy '${strategy}' (its parameters: ${names.join(", ")})`);
  }
  const out = { strategy, temperature: 1, top_k: null, top_p: null, min_p: null, repetition_penalty: null, ...defaults };
  for (const k of given) out[k] = params[k];
  for (const k of names) {
    const wrong = CHECKS[k](out[k]);
    if (wrong) throw new Error(`${k} must be ${wrong}, got ${show(out[k])}`);
  }
  return out;
}

/** The logits after the processors of (checked) params: a Float64Array, -Infinity where filtered. */
export function processLogits(logits, p, history = []) {
  const z = Float64Array.from(logits);
  if (p.repetition_penalty !== null && p.repetition_penalty !== 1) {
    for (const id of new Set(history)) {  // each seen token once: a repeat does not compound
      z[id] = z[id] < 0 ? z[id] * p.repetition_penalty : z[id] / p.repetition_penalty;
    }
  }
  if (p.strategy === "greedy") return z;
  if (p.temperature !== 1) for (let i = 0; i < z.length; i++) z[i] /= p.temperature;
  if (p.top_k !== null) {  // keep the k highest (and any tied with the k-th)
    const kth = Float64Array.from(z).sort()[Math.max(z.length - p.top_k, 0)];
    for (let i = 0; i < z.length; i++) if (z[i] < kth) z[i] = -Infinity;
  }
  if (p.top_p !== null && p.top_p < 1) {  // drop from the least likely while the mass so far is <= 1 - p
    const sorted = softmax(Float64Array.from(z).sort());  // probabilities, least likely first
    const values = Float64Array.from(z).sort();
    let cumulative = 0, n = 0;
    for (; n < sorted.length - 1; n++) {  // the most likely token always stays
      cumulative += sorted[n];
      if (cumulative > 1 - p.top_p) break;
    }
    const cut = values[n];  // the least likely token kept; tokens tied with it stay too
    for (let i = 0; i < z.length; i++) if (z[i] < cut) z[i] = -Infinity;
  }
  if (p.min_p !== null) {  // keep tokens at least min_p times as likely as the top one
    const probs = softmax(z);
    const top = probs.reduce((a, b) => Math.max(a, b), 0);
    for (let i = 0; i < z.length; i++) if (probs[i] < p.min_p * top) z[i] = -Infinity;
  }
  return z;
}

/** softmax of a row (float64); -Infinity gives probability 0. */
export function softmax(z) {
  let max = -Infinity;
  for (const v of z) if (v > max) max = v;
  const p = new Float64Array(z.length);
  let sum = 0;
  for (let i = 0; i < z.length; i++) { p[i] = Math.exp(z[i] - max); sum += p[i]; }
  for (let i = 0; i < z.length; i++) p[i] /= sum;
  return p;
}

/**
 * A seeded generator of floats in [0, 1): mulberry32, 32 bits of state, fast and good enough
 * to draw tokens. seed: an integer in [0, 2**53); its high bits are folded into the state.
 */
export function makeRng(seed) {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be an integer in [0, 2**53), got ${show(seed)}`);
  let state = (seed % 2 ** 32) ^ Math.floor(seed / 2 ** 32);
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * The next token id: logits of one position (length V), params as for checkParams, history the
 * ids so far (prompt and generated, for the repetition penalty), rng from makeRng (sampling only).
 * Greedy takes the highest logit (the lowest id on a tie, as argmax does).
 */
export function pick(logits, params, history, rng) {
  const p = checkParams(params);
  const z = processLogits(logits, p, history);
  if (p.strategy === "greedy") {
    let best = 0;
    for (let i = 1; i < z.length; i++) if (z[i] > z[best]) best = i;
    return best;
  }
  if (typeof rng !== "function") throw new Error("sampling needs a random number generator: makeRng(seed)");
  const probs = softmax(z);
  let u = rng(), last = 0;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] === 0) continue;
    last = i;
    u -= probs[i];
    if (u < 0) return i;
  }
  return last;  // u was within rounding of 1: the last token that can be drawn
}
