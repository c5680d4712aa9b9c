/* The book's byte-level BPE in the browser, built from a GGUF file's tokenizer metadata: the
 * same rules as llmbook/tokenizer (bpe.py, gguf_tokenizer.py, pretokenize.py, chat.py), so the
 * ids are the Python tokenizer's.
 *
 * - tokenizer.ggml.tokens: the vocabulary, id = position, written in GPT-2's byte stand-ins
 *   (a space is "Ġ"); token_type 3 marks control tokens such as <|im_start|>.
 * - tokenizer.ggml.merges: the merges in the order learned. The merged tokens take the last ids
 *   in that order (checked here, as ranks_from_merges does), so an id is a merge priority.
 * - the pre-split: SmolLM2's "smollm" splits every digit off alone, then GPT-2's pattern.
 *   JavaScript has no possessive quantifiers (here they never change a match: nothing after
 *   them in their alternative can fail) and its \s is not Python regex's, so \s is spelled
 *   \p{White_Space}, which is what the `regex` package matches.
 *   Unicode: the Python side pins `regex` 2025.9.18 (Unicode 16.0); \p{L} and \p{N} here come
 *   from the browser's own tables, so a browser on another Unicode version splits the characters
 *   that version added or changed differently (letters of scripts new in Unicode 17, for example).
 *
 * Control tokens come only from the chat template: encode() treats "<|im_end|>" in text as ten
 * ordinary tokens, and chat() gives the template's markers their ids.
 */

const CONTROL = 3;  // tokenizer.ggml.token_type of special tokens
const WS = "\\p{White_Space}";
export const PRE_TOKENIZERS = {
  gpt2: `'(?:[sdmt]|ll|ve|re)| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|${WS}+$|${WS}+(?!\\P{White_Space})|${WS}`,
  smollm: `\\p{N}|'(?:[sdmt]|ll|ve|re)| ?\\p{L}+| ?[^${WS}\\p{L}\\p{N}]+|${WS}+$|${WS}+(?![^${WS}\\p{N}])|${WS}`,
};
export const SMOLLM2_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face";
const ROLES = ["system", "user", "assistant"];
const START = "<|im_start|>", END = "<|im_end|>";  // ChatML's two control tokens
const SHORT_PIECE = 16;  // bytes: below this the plain loop, else the heap (as bpe.py)
const CACHE_LIMIT = 100000;  // pieces remembered before the cache starts over

/** GPT-2's stand-in character for each byte: printable Latin-1 bytes stand for themselves. */
export const BYTE_TO_CHAR = (() => {
  const out = new Array(256);
  const printable = (b) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let shifted = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(printable(b) ? b : 256 + shifted++);
  return out;
})();
const CHAR_TO_BYTE = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

const utf8 = new TextEncoder();
// a string as Python's repr writes it (control characters escaped), so messages read as llmbook's
const ESCAPES = { "\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\" };
const repr = (s) => `'${String(s).replace(/[\x00-\x1f\x7f\\]/g,
  (c) => ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`)}'`;

/** Lone surrogates become U+FFFD, as in llmbook (valid_unicode) and tiktoken. */
const wellFormed = (s) => (s.toWellFormed ? s.toWellFormed()
  : s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD"));

/** Ids of one piece (stand-in characters, one per byte): merge the lowest-ranked pair, leftmost first. */
function bpeLoop(piece, ranks) {
  const whole = ranks.get(piece);
  if (whole !== undefined) return [whole];
  const parts = Array.from(piece);
  const rankOf = (i) => ranks.get(parts[i] + parts[i + 1]) ?? Infinity;
  const pairRanks = parts.slice(0, -1).map((_, i) => rankOf(i));  // pairRanks[i]: parts[i] + parts[i + 1]
  for (;;) {
    let best = Infinity, at = -1;
    for (let i = 0; i < pairRanks.length; i++) if (pairRanks[i] < best) { best = pairRanks[i]; at = i; }
    if (at < 0) break;
    parts.splice(at, 2, parts[at] + parts[at + 1]);
    pairRanks.splice(at, 1);
    if (at > 0) pairRanks[at - 1] = rankOf(at - 1);
    if (at < pairRanks.length) pairRanks[at] = rankOf(at);
  }
  return parts.map((p) => ranks.get(p));
}

/** The ids of bpeLoop in time n log n: a linked list of parts and a heap of (rank, position) keys. */
function bpeHeap(piece, ranks) {
  const whole = ranks.get(piece);
  if (whole !== undefined) return [whole];
  const n = piece.length, width = n + 1;  // key = rank * width + i: the lowest rank, then the leftmost
  const next = new Int32Array(n), prev = new Int32Array(n), pair = new Float64Array(n).fill(-1);
  const heap = [];
  const push = (key) => {
    let i = heap.length;
    heap.push(key);
    while (i > 0 && heap[(i - 1) >> 1] > key) { heap[i] = heap[(i - 1) >> 1]; i = (i - 1) >> 1; }
    heap[i] = key;
  };
  const pop = () => {
    const top = heap[0], last = heap.pop(), len = heap.length;
    if (!len) return top;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= len) break;
      if (c + 1 < len && heap[c + 1] < heap[c]) c++;
      if (heap[c] >= last) break;
      heap[i] = heap[c];
      i = c;
    }
    heap[i] = last;
    return top;
  };
  for (let i = 0; i < n; i++) {
    next[i] = i + 1;
    prev[i] = i - 1;
    const r = i + 1 < n ? ranks.get(piece.slice(i, i + 2)) : undefined;
    if (r !== undefined) { pair[i] = r; push(r * width + i); }
  }
  while (heap.length) {
    const key = pop(), i = key % width, rank = (key - i) / width;
    if (pair[i] !== rank) continue;  // stale: that pair was merged away or changed
    const j = next[i], k = next[j];  // merge the parts at i and j
    next[i] = k;
    pair[j] = -1;
    pair[i] = -1;
    if (k < n) {
      prev[k] = i;
      const r = ranks.get(piece.slice(i, next[k]));
      if (r !== undefined) { pair[i] = r; push(r * width + i); }
    }
    const p = prev[i];
    if (p >= 0) {
      const r = ranks.get(piece.slice(p, k));
      pair[p] = r ?? -1;
      if (r !== undefined) push(r * width + p);
    }
  }
  const ids = [];
  for (let i = 0; i < n; i = next[i]) ids.push(ranks.get(piece.slice(i, next[i])));
  return ids;
}

export class TokenizerError extends Error {
  constructor(message) { super(message); this.name = "TokenizerError"; }
}

export class Tokenizer {
  /**
   * tokens: string[] (stand-in spelling), merges: string[] ("Ġ t"), tokenTypes: number[],
   * pre: a key of PRE_TOKENIZERS, eos: id of the end-of-turn token (or null).
   */
  constructor(tokens, merges, tokenTypes, pre = "gpt2", eos = null) {
    const fail = (what) => new TokenizerError(what);
    if (!(pre in PRE_TOKENIZERS)) throw fail(`unknown pre-tokenizer ${repr(pre)}; known: ${Object.keys(PRE_TOKENIZERS).join(", ")}`);
    if (tokenTypes.length !== tokens.length) {
      throw fail(`tokenizer.ggml.token_type has ${tokenTypes.length} entries, tokenizer.ggml.tokens has ${tokens.length}`);
    }
    this.tokens = tokens;
    this.pre = pre;
    this.special = new Map();  // control token spelling -> id
    this.ranks = new Map();  // ordinary token (stand-in spelling) -> id, which is its merge rank
    const seen = new Map();
    tokens.forEach((t, i) => {
      if (seen.has(t)) throw fail(`tokenizer.ggml.tokens has ${repr(t)} twice, as ids ${seen.get(t)} and ${i}`);
      seen.set(t, i);
      if (tokenTypes[i] === CONTROL) { this.special.set(t, i); return; }
      for (const c of t) {
        if (!CHAR_TO_BYTE.has(c)) {
          throw fail(`tokenizer.ggml.tokens[${i}] = ${repr(t)} has a character that stands for no byte in GPT-2's byte-level alphabet`);
        }
      }
      this.ranks.set(t, i);
    });
    this.checkMerges(merges, fail);
    // Bytes that never occurred in training (SmolLM2 lacks 21) have no token: they get ids past the
    // vocabulary, as in gguf_tokenizer.py, and encode() rejects text that needs one.
    let extra = tokens.length;
    for (const c of BYTE_TO_CHAR.slice().sort((a, b) => CHAR_TO_BYTE.get(a) - CHAR_TO_BYTE.get(b))) {
      if (!this.ranks.has(c)) this.ranks.set(c, extra++);
    }
    this.regex = new RegExp(PRE_TOKENIZERS[pre], "gu");
    this.eos = eos;
    this.cache = new Map();
    this.bytesOf = new Array(tokens.length);  // id -> Uint8Array, filled on first decode
  }

  /** ranks_from_merges: merge n must make id first + n, so the ids are the merge ranks. */
  checkMerges(merges, fail) {
    let last = -1;
    for (const i of this.ranks.values()) last = Math.max(last, i);
    const first = last + 1 - merges.length;
    const rebuilt = new Map();
    for (const [t, i] of this.ranks) if ([...t].length === 1) rebuilt.set(t, i);
    merges.forEach((line, n) => {
      const sides = typeof line === "string" ? line.split(" ") : [];
      if (sides.length !== 2) throw fail(`merge #${n} is ${repr(line)}, not two tokens separated by one space`);
      rebuilt.set(sides[0] + sides[1], first + n);
    });
    const same = rebuilt.size === this.ranks.size && [...this.ranks].every(([t, i]) => rebuilt.get(t) === i);
    if (!same) throw fail("the merges do not reproduce the token ids, so the ids are not merge ranks");
  }

  /** The tokenizer in a GGUF file's metadata (readGGUF(...).metadata), its arrays checked first. */
  static fromGGUF(metadata) {
    const get = (key) => {
      if (!(key in metadata)) throw new TokenizerError(`metadata key ${repr(key)} is missing`);
      return metadata[key];
    };
    const list = (key, kind) => {
      const v = get(key);
      if (!Array.isArray(v) || !v.every((x) => typeof x === kind)) {
        throw new TokenizerError(`${key} must be a list of ${kind === "string" ? "str" : "int"}`);
      }
      return v;
    };
    if (metadata["tokenizer.ggml.model"] !== "gpt2") {
      throw new TokenizerError(`tokenizer.ggml.model = ${repr(metadata["tokenizer.ggml.model"])}; only GPT-2-style ` +
        "byte-level BPE ('gpt2') is supported");
    }
    const tokens = list("tokenizer.ggml.tokens", "string");
    if (!tokens.length) throw new TokenizerError("tokenizer.ggml.tokens is empty");
    const types = list("tokenizer.ggml.token_type", "number");
    const merges = list("tokenizer.ggml.merges", "string");
    for (const key of ["tokenizer.ggml.pre", "tokenizer.chat_template"]) {
      if (key in metadata && typeof metadata[key] !== "string") throw new TokenizerError(`${key} must be a string, got ${metadata[key]}`);
    }
    const pre = metadata["tokenizer.ggml.pre"] ?? "gpt2";
    const eos = metadata["tokenizer.ggml.eos_token_id"] ?? null;
    if (eos !== null && !(Number.isInteger(eos) && eos >= 0 && eos < tokens.length)) {
      throw new TokenizerError(`tokenizer.ggml.eos_token_id = ${eos}, expected an integer in 0..${tokens.length - 1}`);
    }
    return new Tokenizer(tokens, merges, types, pre, eos);
  }

  get vocabSize() { return this.tokens.length; }

  /** The pieces BPE works on (it never merges across two). */
  preTokenize(text) { return wellFormed(text).match(this.regex) ?? []; }

  /** Ids of one piece, remembered: text repeats pieces a lot. */
  piece(p) {
    let ids = this.cache.get(p);
    if (ids === undefined) {
      let s = "";
      for (const b of utf8.encode(p)) s += BYTE_TO_CHAR[b];
      ids = s.length < SHORT_PIECE ? bpeLoop(s, this.ranks) : bpeHeap(s, this.ranks);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(p, ids);
    }
    return ids;
  }

  /** Token ids of text. Text is text: "<|im_end|>" in it is ordinary tokens, never the control token. */
  encode(text) {
    if (typeof text !== "string") throw new TypeError(`text must be a string, not ${typeof text}`);
    const ids = [];
    for (const p of this.preTokenize(text)) for (const id of this.piece(p)) ids.push(id);
    const bad = ids.findIndex((i) => i >= this.tokens.length);
    if (bad >= 0) this.noToken(text, ids[bad]);
    return ids;
  }

  noToken(text, id) {
    const byte = [...this.ranks].find(([, i]) => i === id)[0];
    const b = CHAR_TO_BYTE.get(byte);
    const hex = `b'\\x${b.toString(16).padStart(2, "0")}'`;
    let where = "";
    [...wellFormed(text)].some((c, n) => {
      if (!utf8.encode(c).includes(b)) return false;
      const shown = c.codePointAt(0) < 0x20 || c.codePointAt(0) === 0x7f ? `\\x${c.codePointAt(0).toString(16).padStart(2, "0")}` : c;
      where = `, in the character '${shown}' at position ${n}`;
      return true;
    });
    throw new TokenizerError(`the vocabulary has no token for the byte ${hex}${where} of the text`);
  }

  /** The bytes token i stands for (a control token: its spelling in UTF-8). */
  tokenBytes(i) {
    let b = this.bytesOf[i];
    if (b === undefined) {
      const t = this.tokens[i];
      b = this.special.get(t) === i ? utf8.encode(t) : Uint8Array.from(t, (c) => CHAR_TO_BYTE.get(c));
      this.bytesOf[i] = b;
    }
    return b;
  }

  /** Text of token ids; bytes that cut a UTF-8 character apart become U+FFFD. */
  decode(ids) {
    const parts = [];
    let n = 0;
    Array.from(ids).forEach((i, pos) => {
      if (!Number.isInteger(i) || i < 0 || i >= this.tokens.length) {
        throw new RangeError(`unknown token id ${i} at position ${pos}: the vocabulary has ids 0..${this.tokens.length - 1}`);
      }
      const b = this.tokenBytes(i);
      parts.push(b);
      n += b.length;
    });
    const all = new Uint8Array(n);
    let at = 0;
    for (const b of parts) { all.set(b, at); at += b.length; }
    return new TextDecoder("utf-8").decode(all);
  }

  /** How token i reads on its own, e.g. " Paris". */
  tokenText(i) { return this.decode([i]); }

  /** A conversation [{role, content}] as ChatML (text, isControl) segments, as chat.py's chatml_segments. */
  chatSegments(messages, { addGenerationPrompt = true, defaultSystem = SMOLLM2_SYSTEM } = {}) {
    messages.forEach((m, i) => {
      if (!m || typeof m !== "object" || !ROLES.includes(m.role) || typeof m.content !== "string") {
        throw new TokenizerError(`message ${i} must have a role in ${ROLES.join(", ")} and a string content`);
      }
    });
    if (messages.length && messages[0].role !== "system" && defaultSystem !== null) {
      messages = [{ role: "system", content: defaultSystem }, ...messages];
    }
    const segments = [];
    for (const m of messages) segments.push([START, true], [`${m.role}\n${m.content}`, false], [END, true], ["\n", false]);
    if (addGenerationPrompt) segments.push([START, true], ["assistant\n", false]);
    return segments;
  }

  /** Token ids of a conversation: control tokens from the template, message text as plain text. */
  chat(messages, options = {}) {
    const ids = [];
    for (const [text, control] of this.chatSegments(messages, options)) {
      if (!control) { for (const id of this.encode(text)) ids.push(id); continue; }
      if (!this.special.has(text)) throw new TokenizerError(`this vocabulary has no control token ${text}: it is not a ChatML model`);
      ids.push(this.special.get(text));
    }
    return ids;
  }
}
