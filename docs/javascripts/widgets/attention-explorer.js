/* Attention explorer: SmolLM2's real attention weights as a heatmap.
 *
 * Data (examples/attention_explorer.py): {n_layers, n_heads, decimals, sentences: [{text, tokens,
 * weights[layer][head or n_heads = average][query] = [weights on keys 0..query]}]}.
 * Rows are queries, columns keys; cells right of the diagonal are the causal mask (always 0).
 * Once the live model is loaded (live-model.js), the reader's own text joins the sentences: its
 * weights come from the model running in this tab, every layer and head, in the same layout.
 */
(function () {
  "use strict";
  const el = (...a) => window.llmbook.el(...a);
  let uid = 0;

  function show(token) {
    // make whitespace visible in labels: a space as "·", a newline as "⏎"
    return token.replace(/ /g, "\u00b7").replace(/\n/g, "\u23ce") || "\u2205";
  }

  function select(id, label, options, onchange) {
    const s = el("select", { id, onchange });
    options.forEach(([value, text]) => s.append(el("option", { value }, text)));
    return [el("label", { for: id }, label), s];
  }

  const MAX_TOKENS = 48;
  const SHADE = 0.75;  // a weight of 1 colours its cell at 75 % of the theme's indigo  // the reader's text: a table a phone can still scroll through

  /** The worker's attention {layers, heads, T, S, data (L, H, T, S)} as a sentence of the build's data. */
  function liveSentence(text, result) {
    const { layers, heads, T, S, data } = result.attention;
    const weights = [];
    for (let l = 0; l < layers; l++) {
      const maps = [];
      for (let h = 0; h <= heads; h++) {
        maps.push(Array.from({ length: T }, (_, q) => {
          const row = new Array(q + 1);
          for (let k = 0; k <= q; k++) {
            if (h < heads) row[k] = data[((l * heads + h) * T + q) * S + k];
            else {  // the average of the heads
              let sum = 0;
              for (let g = 0; g < heads; g++) sum += data[((l * heads + g) * T + q) * S + k];
              row[k] = sum / heads;
            }
          }
          return row;
        }));
      }
      weights.push(maps);
    }
    return { text, tokens: result.tokens, ids: result.ids, weights, live: true };
  }

  window.llmbook.widget("attention-explorer", async (root, data) => {
    const id = `attn-${++uid}`;
    const sentences = data.sentences.slice();  // the build's, then the reader's own
    const state = { sentence: 0, layer: 0, head: data.n_heads };  // start on the average of heads
    const [sLabel, sSel] = select(`${id}-sentence`, "Sentence",
      sentences.map((s, i) => [i, s.text]), (e) => { state.sentence = +e.target.value; draw(); });
    const [lLabel, lSel] = select(`${id}-layer`, "Layer",
      Array.from({ length: data.n_layers }, (_, i) => [i, `${i + 1} of ${data.n_layers}`]),
      (e) => { state.layer = +e.target.value; draw(); });
    const headOptions = Array.from({ length: data.n_heads }, (_, h) => [h, `head ${h + 1}`]);
    headOptions.push([data.n_heads, "average of heads"]);
    const [hLabel, hSel] = select(`${id}-head`, "Head", headOptions,
      (e) => { state.head = +e.target.value; draw(); });
    hSel.value = String(data.n_heads);

    const caption = el("p", { class: "llmbook-attn-caption", "aria-live": "polite" });
    const table = el("table", { class: "llmbook-attn-table" });
    const controls = el("div", { class: "llmbook-attn-controls" }, sLabel, sSel, lLabel, lSel, hLabel, hSel);
    root.replaceChildren(controls, el("div", { class: "llmbook-attn-scroll" }, table), caption);
    if (window.llmbook.live) root.prepend(liveForm());

    function liveForm() {
      const live = window.llmbook.live;
      const input = el("input", { type: "text", id: `${id}-text`, class: "llmbook-live-prompt",
        value: "The robot picked up the ball because it was light" });
      const run = el("button", { type: "submit", class: "md-button", disabled: true }, "Show its attention");
      const status = el("p", { class: "llmbook-live-status", role: "status", "aria-live": "polite" });
      const form = el("form", { class: "llmbook-live-form" },
        el("label", { for: input.id }, "Your own text"), input, run);
      live.onChange((s) => { run.disabled = s.phase !== "ready"; });
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        run.disabled = true;
        root.dataset.live = "running";
        status.textContent = "Running the model on your text\u2026";
        try {
          const result = await live.forward({ text: input.value, attention: "all", top: 1, mode: "exact" });
          if (result.ids.length > MAX_TOKENS) {
            throw new Error(`your text is ${result.ids.length} tokens; the table shows at most ${MAX_TOKENS}`);
          }
          sentences.push(liveSentence(input.value, result));
          state.sentence = sentences.length - 1;
          sSel.append(el("option", { value: state.sentence }, `Yours: ${input.value}`));
          sSel.value = String(state.sentence);
          draw();
          status.textContent = `${result.ids.length} tokens, computed in this tab: pick any layer and head above.`;
          root.dataset.live = "done";
        } catch (err) {
          status.textContent = `The model could not run on this text: ${err.message}`;
          root.dataset.live = "error";
        }
        run.disabled = live.state.phase !== "ready";
      });
      return el("div", { class: "llmbook-attn-live" }, live.control(), form, status);
    }

    function highlight(q) {
      table.querySelectorAll("tr[data-query]").forEach((tr) => {
        tr.classList.toggle("llmbook-attn-active", tr.dataset.query === String(q));
      });
      if (q === null) { caption.textContent = ""; return; }
      const s = sentences[state.sentence];
      const row = s.weights[state.layer][state.head][q];
      const best = row.indexOf(Math.max(...row));
      caption.textContent = `"${s.tokens[q]}" attends most to "${s.tokens[best]}" ` +
        `(weight ${row[best].toFixed(data.decimals)}).`;
    }

    function draw() {
      const s = sentences[state.sentence];
      const m = s.weights[state.layer][state.head];
      const t = s.tokens.length;
      const head = el("tr", {}, el("th", { scope: "col" }, "query \u2193 key \u2192"),
        s.tokens.map((tok, k) => el("th", { scope: "col", class: "llmbook-attn-key", title: tok }, show(tok))));
      const rows = s.tokens.map((tok, q) => {
        const label = el("th", { scope: "row", tabindex: "0", title: tok,
          onmouseenter: () => highlight(q), onfocus: () => highlight(q),
          onmouseleave: () => highlight(null), onblur: () => highlight(null) }, show(tok));
        const cells = [];
        for (let k = 0; k < t; k++) {
          const masked = k > q;
          const w = masked ? 0 : m[q][k];
          const td = el("td", { "data-query": q, "data-key": k, "data-value": w,
            class: masked ? "llmbook-attn-masked" : null,
            title: masked ? "masked: a future token" : `${s.tokens[q]} \u2192 ${s.tokens[k]}: ${w}` },
          masked ? "" : w.toFixed(2));
          if (!masked) {
            // shade at most 3/4 of the way to the full colour: the theme's text keeps 4.5:1 on every cell (white
            // text on cells above 0.55, as before, fell to 2.7:1 at 0.56; no single switch keeps both above 4.5)
            td.style.setProperty("--w", String(SHADE * w));
          }
          cells.push(td);
        }
        return el("tr", { "data-query": q }, label, cells);
      });
      table.replaceChildren(el("caption", {}, `Layer ${state.layer + 1}, ` +
        (state.head === data.n_heads ? "average of all heads" : `head ${state.head + 1}`) +
        ": each row sums to 1"), el("thead", {}, head), el("tbody", {}, rows));
      caption.textContent = "";
    }
    draw();
  });
})();
