/* Attention explorer: SmolLM2's real attention weights as a heatmap.
 *
 * Data (examples/attention_explorer.py): {n_layers, n_heads, decimals, sentences: [{text, tokens,
 * weights[layer][head or n_heads = average][query] = [weights on keys 0..query]}]}.
 * Rows are queries, columns keys; cells right of the diagonal are the causal mask (always 0).
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

  window.llmbook.widget("attention-explorer", async (root, data) => {
    const id = `attn-${++uid}`;
    const state = { sentence: 0, layer: 0, head: data.n_heads };  // start on the average of heads
    const [sLabel, sSel] = select(`${id}-sentence`, "Sentence",
      data.sentences.map((s, i) => [i, s.text]), (e) => { state.sentence = +e.target.value; draw(); });
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

    function highlight(q) {
      table.querySelectorAll("tr[data-query]").forEach((tr) => {
        tr.classList.toggle("llmbook-attn-active", tr.dataset.query === String(q));
      });
      if (q === null) { caption.textContent = ""; return; }
      const s = data.sentences[state.sentence];
      const row = s.weights[state.layer][state.head][q];
      const best = row.indexOf(Math.max(...row));
      caption.textContent = `"${s.tokens[q]}" attends most to "${s.tokens[best]}" ` +
        `(weight ${row[best].toFixed(data.decimals)}).`;
    }

    function draw() {
      const s = data.sentences[state.sentence];
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
            td.style.setProperty("--w", String(w));
            if (w > 0.55) td.style.color = "#fff";  // keep the number readable on dark cells
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
