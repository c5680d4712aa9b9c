/* Embedding explorer: click a token to see its real SmolLM2 embedding row and its nearest tokens.
 *
 * Data (examples/embeddings.py): {dim, words: [{word, group, id, norm, vector[dim],
 * neighbours: [{id, token, cosine}]}]}.
 */
(function () {
  "use strict";
  const el = (...a) => window.llmbook.el(...a);

  function colour(v, scale) {
    // blue for negative, orange for positive, white at zero
    const a = Math.min(1, Math.abs(v) / scale);
    return v < 0 ? `rgba(63, 81, 181, ${a})` : `rgba(255, 112, 67, ${a})`;
  }

  window.llmbook.widget("embeddings", async (root, data) => {
    const groups = new Map();
    data.words.forEach((w, i) => {
      if (!groups.has(w.group)) groups.set(w.group, []);
      groups.get(w.group).push(i);
    });
    const buttons = [];
    const rows = [...groups].map(([group, idx]) => el("div", {}, el("strong", {}, `${group}: `),
      idx.map((i) => {
        const w = data.words[i];
        const b = el("button", { type: "button", "aria-pressed": "false", "data-word": w.word,
          onclick: () => choose(i) }, `${w.word.trim()} (${w.id})`);
        buttons.push(b);
        return b;
      })));
    const detail = el("div", { class: "llmbook-emb-detail", "aria-live": "polite" });
    root.replaceChildren(el("div", { class: "llmbook-emb-groups", role: "group",
      "aria-label": "Tokens to inspect" }, rows), detail);

    function choose(i) {
      const w = data.words[i];
      buttons.forEach((b, k) => b.setAttribute("aria-pressed", String(k === i)));
      const scale = Math.max(...w.vector.map(Math.abs));
      const strip = el("div", { class: "llmbook-emb-strip", role: "img",
        "aria-label": `the ${data.dim} numbers of token ${w.id}, coloured by sign and size` },
      w.vector.map((v) => {
        const s = el("span", { title: String(v) });
        s.style.background = colour(v, scale);
        return s;
      }));
      const first = w.vector.slice(0, 6).map((v) => v.toFixed(3)).join(", ");
      const table = el("table", { class: "llmbook-emb-table" },
        el("caption", {}, `Nearest tokens to "${w.word}" among all 49,152, by cosine similarity`),
        el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "token"), el("th", { scope: "col" }, "id"),
          el("th", { scope: "col" }, "cosine"))),
        el("tbody", {}, w.neighbours.map((n) => el("tr", { "data-id": n.id },
          el("td", {}, JSON.stringify(n.token)), el("td", { class: "num" }, String(n.id)),
          el("td", { class: "num", "data-value": n.cosine }, n.cosine.toFixed(3))))));
      detail.replaceChildren(
        el("p", {}, `Token ${w.id}, "${w.word}": a vector of ${data.dim} numbers, length ${w.norm.toFixed(2)}; ` +
          `it starts ${first}, …`),
        strip, table);
    }
    choose(0);
  });
})();
