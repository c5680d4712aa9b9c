/* BPE stepper: the merges BPE learns on a short string, one step at a time.
 * Steps (pieces after each merge, the merged pair and how often it occurred) are computed
 * by llmbook.tokenizer in examples/tokens_chapter.py; this file only shows them.
 *   <div class="llmbook-widget" data-widget="tokens-stepper" data-src="generated/tokens/stepper.json"></div>
 */
llmbook.widget("tokens-stepper", (root, data) => {
  const el = llmbook.el;
  const uid = `stepper-${Math.random().toString(36).slice(2, 8)}`;
  const last = data.steps.length - 1;
  const slider = el("input", { type: "range", id: `${uid}-step`, min: "0", max: String(last), value: "0" });
  const label = el("span", { "aria-live": "polite", class: "tokens-step-label" });
  const pieces = el("div", { class: "tokens-pieces" });
  const table = el("ol", { class: "tokens-merges" });
  const vis = (s) => s.replace(/ /g, "\u00b7");

  function show(k) {
    const step = data.steps[k];
    slider.value = String(k);
    label.textContent = k === 0
      ? `Step 0 of ${last}: only single bytes, ${step.tokens} tokens.`
      : `Step ${k} of ${last}: merge "${vis(step.merge.left)}" + "${vis(step.merge.right)}" → "${vis(step.merge.token)}" (id ${step.merge.id}, seen ${step.merge.count}×); ${step.tokens} tokens.`;
    pieces.replaceChildren(...step.pieces.map((piece) => el("span", { class: "tokens-piece" },
      piece.map((t) => el("span", { class: "tokens-chip" }, vis(t))))));
    table.replaceChildren(...data.steps.slice(1, k + 1).map((s) =>
      el("li", { value: String(s.merge.id) }, `"${vis(s.merge.left)}" + "${vis(s.merge.right)}" → "${vis(s.merge.token)}"`)));
  }
  const prev = el("button", { type: "button", onclick: () => show(Math.max(0, Number(slider.value) - 1)) }, "◀ Previous");
  const next = el("button", { type: "button", onclick: () => show(Math.min(last, Number(slider.value) + 1)) }, "Next ▶");
  slider.addEventListener("input", () => show(Number(slider.value)));
  root.replaceChildren(
    el("p", {}, "Text: ", el("code", {}, data.text)),
    el("div", {}, el("label", { for: slider.id }, "Merge step"), slider, prev, next),
    label, pieces, el("div", {}, el("strong", {}, "Merge table (id: pair → new token)"), table));
  show(0);
});
