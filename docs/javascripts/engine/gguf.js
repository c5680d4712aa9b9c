/* Read GGUF, the single-file format of llama.cpp, in the browser: the same reader as
 * llmbook/models/gguf.py, with the same checks.
 *
 * Layout (little-endian, versions 2 and 3): magic "GGUF", uint32 version, uint64 tensor count,
 * uint64 metadata count; metadata key/value pairs; tensor infos (name, uint32 dimension count,
 * uint64 dimensions fastest-varying first, uint32 type, uint64 offset); padding to
 * general.alignment (default 32); the data section.
 *
 * A model file is untrusted input: every count and size is a claim, checked against the bytes
 * the file has before anything is allocated or looped over, so a hostile file gives a GGUFError
 * naming the field, never a hang or a huge allocation. 64-bit numbers are read as BigInt and
 * checked before they become Numbers.
 */

export class GGUFError extends Error {
  constructor(message) {
    super(message);
    this.name = "GGUFError";
  }
}

export const SUPPORTED_VERSIONS = [2, 3];
export const DEFAULT_ALIGNMENT = 32;
const MAX_DIMS = 4;  // GGML_MAX_DIMS
const MAX_ELEMENTS = 2n ** 63n - 1n;  // GGML counts elements in an int64
const MAX_ARRAY_DEPTH = 8;  // arrays of arrays: real files use depth 1

// GGML type -> [name, values per block, bytes per block]: the types llmbook's reader knows
export const GGML_TYPES = {
  0: ["F32", 1, 4], 1: ["F16", 1, 2], 30: ["BF16", 1, 2],
  2: ["Q4_0", 32, 18], 3: ["Q4_1", 32, 20], 8: ["Q8_0", 32, 34], 14: ["Q6_K", 256, 210],
};
// names of the types it does not know, for the message (ggml.h)
const OTHER_TYPES = { 6: "Q5_0", 7: "Q5_1", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K", 13: "Q5_K", 15: "Q8_K" };

// metadata value type tag -> [bytes, read one at a byte offset]; 8 (string) and 9 (array) are special
const SCALARS = {
  0: [1, (v, o) => v.getUint8(o)], 1: [1, (v, o) => v.getInt8(o)],
  2: [2, (v, o) => v.getUint16(o, true)], 3: [2, (v, o) => v.getInt16(o, true)],
  4: [4, (v, o) => v.getUint32(o, true)], 5: [4, (v, o) => v.getInt32(o, true)],
  6: [4, (v, o) => v.getFloat32(o, true)], 7: [1, (v, o) => v.getUint8(o) !== 0],
  10: [8, (v, o) => int64(v.getBigUint64(o, true))], 11: [8, (v, o) => int64(v.getBigInt64(o, true))],
  12: [8, (v, o) => v.getFloat64(o, true)],
};
export const STRING = 8, ARRAY = 9, BOOL = 7;
export const INTEGER_TAGS = [0, 1, 2, 3, 4, 5, 10, 11], FLOAT_TAGS = [6, 12];

/** A 64-bit integer as a Number when that is exact, else as the BigInt. */
function int64(b) {
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** A cursor over the bytes that throws GGUFError instead of reading past the end. */
class Reader {
  constructor(buffer, name) {
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
    this.name = name;
    this.pos = 0;
  }

  fail(what) { return new GGUFError(`${this.name}: ${what}`); }

  /** Offset of the next n bytes (n a Number or BigInt), after checking they are in the file. */
  take(n, what) {
    const size = this.bytes.length;
    const fits = typeof n === "number" ? n >= 0 && this.pos + n <= size : n >= 0n && BigInt(this.pos) + n <= BigInt(size);
    if (!fits) {
      throw this.fail(`truncated: ${what} needs ${n} bytes at offset ${this.pos}, but the file has ${size} bytes`);
    }
    const at = this.pos;
    this.pos += Number(n);
    return at;
  }

  /** A count of n items (BigInt), each at least minSize bytes, checked against the bytes left. */
  count(n, minSize, what) {
    const left = this.bytes.length - this.pos;
    if (n * BigInt(minSize) > BigInt(left)) {
      throw this.fail(`${what} is ${n}, but ${n} items of at least ${minSize} bytes do not fit in the ` +
        `${left} bytes left at offset ${this.pos}`);
    }
    return Number(n);
  }

  u32(what) { return this.view.getUint32(this.take(4, what), true); }
  u64(what) { return this.view.getBigUint64(this.take(8, what), true); }

  string(what) {
    const n64 = this.u64(`length of ${what}`);
    const n = n64 <= BigInt(this.bytes.length) ? Number(n64) : n64;
    const at = this.take(n, what);
    try {
      return utf8.decode(this.bytes.subarray(at, at + n));
    } catch {
      throw this.fail(`${what} is not valid UTF-8`);
    }
  }

  /** One metadata value of type tag vtype; arrays become plain arrays. */
  value(vtype, what, depth = 0) {
    if (vtype in SCALARS) {
      const [size, read] = SCALARS[vtype];
      return read(this.view, this.take(size, what));
    }
    if (vtype === STRING) return this.string(what);
    if (vtype === ARRAY) {
      if (depth === MAX_ARRAY_DEPTH) throw this.fail(`${what} nests arrays more than ${MAX_ARRAY_DEPTH} deep`);
      const etype = this.u32(`element type of ${what}`);
      const n = this.u64(`length of ${what}`);
      if (etype in SCALARS) {  // numbers: one bounds check for all of them
        const [size, read] = SCALARS[etype];
        const at = this.take(n * BigInt(size), `${n} elements of ${what}`);
        return Array.from({ length: Number(n) }, (_, i) => read(this.view, at + i * size));
      }
      if (etype !== STRING && etype !== ARRAY) throw this.fail(`unknown element type ${etype} in array ${what}`);
      const len = this.count(n, etype === STRING ? 8 : 12, `length of ${what}`);  // a length, or type + length
      const out = new Array(len);
      for (let i = 0; i < len; i++) out[i] = this.value(etype, `${what}[${i}]`, depth + 1);
      return out;
    }
    throw this.fail(`unknown metadata value type ${vtype} for ${what}`);
  }
}

// names are quoted as Python's repr quotes them, so a message reads as llmbook's reader writes it
const quote = (s) => `'${s}'`;

/**
 * Parse a GGUF file held in `buffer` (an ArrayBuffer); `name` labels the messages.
 * Returns {version, metadata (key -> value), types (key -> its value type tag), tensors: [{name,
 * shape (slowest axis first), type (e.g. "Q4_1"), offset (absolute byte offset), nbytes}],
 * alignment, dataOffset}.
 * Throws GGUFError if the file is malformed or uses something this reader does not know.
 */
export function readGGUF(buffer, { name = "GGUF file" } = {}) {
  if (!(buffer instanceof ArrayBuffer)) throw new TypeError("readGGUF needs an ArrayBuffer");
  const r = new Reader(buffer, name);
  const magic = Array.from(r.bytes.subarray(r.take(4, "magic"), 4));
  if (String.fromCharCode(...magic) !== "GGUF") {
    const shown = magic.map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`));
    throw r.fail(`not a GGUF file: magic is b'${shown.join("")}', expected b'GGUF'`);
  }
  const version = r.u32("version");
  if (!SUPPORTED_VERSIONS.includes(version)) {
    const hint = version >= 2 ** 16 ? " (a big-endian file?)" : "";
    throw r.fail(`unsupported GGUF version ${version}${hint}; this reader handles ${SUPPORTED_VERSIONS.join(", ")}`);
  }
  const nTensors = r.u64("tensor count");
  const nKV = r.count(r.u64("metadata count"), 8 + 4 + 1, "metadata count");  // key length, type, value

  const metadata = Object.create(null);  // no prototype: a key such as "__proto__" is just a key
  const types = Object.create(null);  // key -> its value type tag (a float 2.0 and an integer 2 are both 2 here)
  for (let i = 0; i < nKV; i++) {
    const key = r.string(`metadata key #${i}`);
    if (key in metadata) throw r.fail(`metadata key ${quote(key)} appears twice`);
    types[key] = r.u32(`type of ${quote(key)}`);
    metadata[key] = r.value(types[key], quote(key));
  }

  const alignment = metadata["general.alignment"] ?? DEFAULT_ALIGNMENT;
  if (!Number.isInteger(alignment) || alignment <= 0 || (alignment & (alignment - 1)) !== 0) {
    throw r.fail(`general.alignment must be a positive power of two, got ${String(alignment)}`);
  }

  const n = r.count(nTensors, 8 + 4 + 4 + 8, "tensor count");  // name length, dimension count, type, offset
  const infos = [];
  for (let i = 0; i < n; i++) {
    const tname = r.string(`name of tensor #${i}`);
    const nDims = r.u32(`dimension count of ${quote(tname)}`);
    if (nDims > MAX_DIMS) throw r.fail(`tensor ${quote(tname)} has ${nDims} dimensions; GGML allows at most ${MAX_DIMS}`);
    const dims = [];
    for (let d = 0; d < nDims; d++) dims.push(r.u64(`dimension ${d} of ${quote(tname)}`));
    const typeId = r.u32(`type of ${quote(tname)}`);
    const offset = r.u64(`offset of ${quote(tname)}`);
    infos.push({ tname, dims, typeId, offset });
  }

  const dataOffset = Math.ceil(r.pos / alignment) * alignment;
  const size = BigInt(r.bytes.length);
  const tensors = [];
  const seen = new Set();
  for (const { tname, dims, typeId, offset } of infos) {
    if (!(typeId in GGML_TYPES)) {
      const known = OTHER_TYPES[typeId] ?? `#${typeId}`;
      const supported = Object.values(GGML_TYPES).map((t) => t[0]).join(", ");
      throw r.fail(`tensor ${quote(tname)} has type ${known}, which this reader cannot read (supported: ${supported})`);
    }
    const [type, blockValues, blockBytes] = GGML_TYPES[typeId];
    if (dims.length && dims[0] % BigInt(blockValues)) {
      throw r.fail(`tensor ${quote(tname)}: row length ${dims[0]} is not a multiple of ${type}'s block of ${blockValues}`);
    }
    if (offset % BigInt(alignment)) {
      throw r.fail(`tensor ${quote(tname)}: offset ${offset} is not a multiple of the alignment ${alignment}`);
    }
    const elements = dims.reduce((a, b) => a * b, 1n);  // BigInt: cannot overflow
    if (elements > MAX_ELEMENTS) {
      throw r.fail(`tensor ${quote(tname)}: dimensions [${dims.join(", ")}] make ${elements} elements, ` +
        "more than GGML's int64 count");
    }
    const nbytes = (elements / BigInt(blockValues)) * BigInt(blockBytes);
    const start = BigInt(dataOffset) + offset;
    if (start + nbytes > size) {
      throw r.fail(`tensor ${quote(tname)} (${type}, ${nbytes} bytes at data offset ${offset}) runs past the end ` +
        `of the file: it ends at byte ${start + nbytes}, the file has ${size} bytes`);
    }
    if (seen.has(tname)) throw r.fail(`tensor ${quote(tname)} appears twice`);
    seen.add(tname);
    tensors.push({ name: tname, shape: dims.map(Number).reverse(), type, offset: Number(start), nbytes: Number(nbytes) });
  }
  return { version, metadata, types, tensors, alignment, dataOffset };
}
