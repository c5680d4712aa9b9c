/* Tokenizer playground: type text, see its tokens as coloured chips with ids and byte counts.
 * Everything the tokenizers know comes from files exported by examples/tokens_chapter.py:
 * the manifest (data-src) names each tokenizer's pre-split pattern, special tokens and a
 * gzip'd rank file (tokens in id order, each <length byte><bytes>), fetched on first use.
 *   <div class="llmbook-widget" data-widget="tokens-playground"
 *        data-src="generated/tokens/playground.json"></div>
 * The BPE below is the same rule as llmbook/tokenizer/bpe.py: a piece that is a token is
 * one id; otherwise merge the lowest-ranked adjacent pair (leftmost on ties) until none is left.
 * Like bpe.py it has two implementations: bpeSimple, the readable loop (time n^2 in the
 * piece's length), for short pieces, and bpeFast, a heap of pairs (time n log n), for long
 * ones, so a long word typed or pasted in does not freeze the page. Under Node (no `llmbook`
 * global) the file exports them instead of registering the widget; the tests use that.
 */
(function () {
  "use strict";
  const loaded = new Map();  // tokenizer name -> Promise of {ranks, decoder, regex, specials}

  async function fetchBytes(path) {
    const res = await fetch(llmbook.siteUrl(path));
    if (!res.ok) throw new Error(`could not load ${path}: HTTP ${res.status}`);
    let buf = new Uint8Array(await res.arrayBuffer());
    if (buf[0] === 0x1f && buf[1] === 0x8b) {  // gzip, unless the server already undid it
      const stream = new Blob([buf]).stream().pipeThrough(new DecompressionStream("gzip"));
      buf = new Uint8Array(await new Response(stream).arrayBuffer());
    }
    return buf;
  }

  const bin = (bytes) => { let s = ""; for (const b of bytes) s += String.fromCharCode(b); return s; };

  async function loadTokenizer(spec) {
    const data = await fetchBytes(spec.file);
    const ranks = new Map();
    const decoder = [];
    for (let i = 0, id = 0; i < data.length; id++) {
      const n = data[i];
      const tok = data.subarray(i + 1, i + 1 + n);
      ranks.set(bin(tok), id);
      decoder.push(tok);
      i += 1 + n;
    }
    const specials = new Map(Object.entries(spec.special_tokens));
    const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const names = [...specials.keys()].sort((a, b) => b.length - a.length);
    return {
      ranks, decoder, specials,
      regex: new RegExp(spec.pattern, "gu"),
      specialRegex: names.length ? new RegExp(names.map(escape).join("|"), "gu") : null,
    };
  }

  function bpeSimple(piece, ranks) {
    const whole = ranks.get(piece);
    if (whole !== undefined) return [whole];
    const parts = Array.from(piece);  // piece is a binary string: one char per byte
    const rankOf = (i) => { const r = ranks.get(parts[i] + parts[i + 1]); return r === undefined ? Infinity : r; };
    const pairRanks = parts.slice(0, -1).map((_, i) => rankOf(i));
    while (pairRanks.length) {
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

  // A binary min-heap of numbers: key = rank * width + position, so ties go to the leftmost.
  function heapPush(heap, key) {
    let i = heap.length;
    heap.push(key);
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (heap[up] <= key) break;
      heap[i] = heap[up];
      i = up;
    }
    heap[i] = key;
  }

  function heapPop(heap) {
    const top = heap[0], last = heap.pop(), n = heap.length;
    if (n === 0) return top;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && heap[child + 1] < heap[child]) child++;
      if (heap[child] >= last) break;
      heap[i] = heap[child];
      i = child;
    }
    heap[i] = last;
    return top;
  }

  function bpeFast(piece, ranks) {
    // Same ids as bpeSimple. Parts are a linked list over byte positions: the part at i is
    // piece.slice(i, next[i]); pair[i] is the rank of it joined with its right neighbour (-1: none).
    // Stale heap entries (their pair merged away or changed) are skipped when popped.
    const whole = ranks.get(piece);
    if (whole !== undefined) return [whole];
    const n = piece.length, width = n + 1;
    const next = new Int32Array(n), prev = new Int32Array(n), pair = new Float64Array(n).fill(-1);
    const heap = [];
    for (let i = 0; i < n; i++) {
      next[i] = i + 1;
      prev[i] = i - 1;
      if (i + 1 < n) {
        const r = ranks.get(piece.slice(i, i + 2));
        if (r !== undefined) { pair[i] = r; heapPush(heap, r * width + i); }
      }
    }
    while (heap.length) {
      const key = heapPop(heap), i = key % width, rank = (key - i) / width;
      if (pair[i] !== rank) continue;  // stale
      const j = next[i], k = next[j];
      next[i] = k;
      pair[j] = -1;
      pair[i] = -1;
      if (k < n) {
        prev[k] = i;
        const r = ranks.get(piece.slice(i, next[k]));
        if (r !== undefined) { pair[i] = r; heapPush(heap, r * width + i); }
      }
      const p = prev[i];
      if (p >= 0) {
        const r = ranks.get(piece.slice(p, k));
        pair[p] = r === undefined ? -1 : r;
        if (r !== undefined) heapPush(heap, r * width + p);
      }
    }
    const ids = [];
    for (let i = 0; i < n; i = next[i]) ids.push(ranks.get(piece.slice(i, next[i])));
    return ids;
  }

  const SHORT_PIECE = 16;  // bytes, as in bpe.py
  const bpe = (piece, ranks) => (piece.length < SHORT_PIECE ? bpeSimple(piece, ranks) : bpeFast(piece, ranks));

  const utf8 = new TextEncoder();

  function encodeOrdinary(tok, text) {
    const ids = [];
    for (const m of text.matchAll(tok.regex)) for (const id of bpe(bin(utf8.encode(m[0])), tok.ranks)) ids.push(id);
    return ids;  // (not ids.push(...many): spreading a long piece's ids overflows the call stack)
  }

  function encode(tok, text, allowSpecial) {
    if (!allowSpecial || !tok.specialRegex) return encodeOrdinary(tok, text);
    let ids = [];
    let start = 0;
    for (const m of text.matchAll(tok.specialRegex)) {
      ids = ids.concat(encodeOrdinary(tok, text.slice(start, m.index)), [tok.specials.get(m[0])]);
      start = m.index + m[0].length;
    }
    return ids.concat(encodeOrdinary(tok, text.slice(start)));
  }

  function tokenBytes(tok, id) {
    if (id < tok.decoder.length) return tok.decoder[id];
    for (const [name, sid] of tok.specials) if (sid === id) return utf8.encode(name);
    throw new Error(`unknown token id ${id}`);
  }

  if (typeof llmbook === "undefined") {  // Node, for the tests
    module.exports = { bpe, bpeSimple, bpeFast, bin, SHORT_PIECE };
    return;
  }

  const visible = (s) => s.replace(/ /g, "\u00b7").replace(/\n/g, "\u21b5").replace(/\t/g, "\u2192").replace(/\r/g, "\u240d");
  const MAX_CHIPS = 5000;  // a pasted megabyte is 200k tokens: the ids are all computed, not all drawn
  const kb = (n) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)} MB` : `${Math.round(n / 1e3)} kB`);

  llmbook.widget("tokens-playground", async (root, data) => {
    const el = llmbook.el;
    const uid = `tokens-${Math.random().toString(36).slice(2, 8)}`;
    const select = el("select", { id: `${uid}-tok` },
      data.tokenizers.map((t) => el("option", { value: t.name }, `${t.label}, ${kb(t.bytes_gzip)} download`)));
    const input = el("textarea", { id: `${uid}-text`, rows: "4", spellcheck: "false" });
    input.value = data.examples[0];
    const special = el("input", { type: "checkbox", id: `${uid}-special` });
    const exampleSel = el("select", { id: `${uid}-ex` }, el("option", { value: "" }, "(choose a tricky example)"),
      data.examples.filter((e) => e).map((e, i) => el("option", { value: String(i) }, visible(e).slice(0, 40))));
    const status = el("div", { class: "llmbook-feedback", role: "status", "aria-live": "polite" });
    const chips = el("div", { class: "tokens-chips", "aria-label": "tokens", role: "list" });
    const idsOut = el("output", { class: "tokens-ids", for: `${uid}-text` });

    let version = 0;
    async function update() {
      const mine = ++version;
      const spec = data.tokenizers.find((t) => t.name === select.value);
      if (!loaded.has(spec.name)) {
        status.textContent = `Loading ${spec.name}: ${kb(spec.bytes_gzip)} gzip'd (${kb(spec.bytes_raw)} unpacked), ${spec.tokens.toLocaleString("en")} tokens…`;
        loaded.set(spec.name, loadTokenizer(spec));
      }
      const tok = await loaded.get(spec.name);
      if (mine !== version) return;  // a newer update started meanwhile
      // lone surrogates become U+FFFD before splitting, as in llmbook and tiktoken
      const text = input.value.toWellFormed ? input.value.toWellFormed() : input.value;
      let ids;
      try {
        ids = encode(tok, text, special.checked);
      } catch (err) {
        status.textContent = `Could not tokenize: ${err.message}`;
        return;
      }
      const dec = new TextDecoder("utf-8");
      chips.replaceChildren(...ids.slice(0, MAX_CHIPS).map((id, i) => {
        const bytes = tokenBytes(tok, id);
        const shown = visible(dec.decode(bytes));
        return el("span", { role: "listitem", class: "tokens-chip", "data-id": String(id),
          title: `id ${id}, ${bytes.length} byte${bytes.length === 1 ? "" : "s"}`,
          style: `--hue: ${(i * 47) % 360}` },  // neighbouring chips get distant colours
        el("span", { class: "tokens-chip-text" }, shown),
        el("small", { class: "tokens-chip-meta" }, `${id} · ${bytes.length}B`));
      }));
      idsOut.value = JSON.stringify(ids);
      idsOut.textContent = JSON.stringify(ids);
      root.dataset.ids = JSON.stringify(ids);
      const nbytes = utf8.encode(text).length;
      status.textContent = `${ids.length} tokens, ${nbytes} bytes, ${[...text].length} characters` +
        (ids.length ? ` (${(nbytes / ids.length).toFixed(2)} bytes per token)` : "") + ` with ${spec.name}.` +
        (ids.length > MAX_CHIPS ? ` Showing the first ${MAX_CHIPS.toLocaleString("en")}.` : "");
      root.dataset.state = "ready";
    }

    select.addEventListener("change", update);
    input.addEventListener("input", update);
    special.addEventListener("change", update);
    exampleSel.addEventListener("change", () => {
      if (exampleSel.value !== "") { input.value = data.examples.filter((e) => e)[Number(exampleSel.value)]; update(); }
    });

    root.replaceChildren(
      el("div", {}, el("label", { for: select.id }, "Tokenizer"), select),
      el("div", {}, el("label", { for: exampleSel.id }, "Example"), exampleSel),
      el("div", {}, el("label", { for: input.id }, "Text"), input),
      el("div", {}, special, el("label", { for: special.id, class: "llmbook-plain" },
        " Encode special-token spellings such as <|endoftext|> as special ids")),
      status, chips, idsOut);
    await update();
  });
})();
