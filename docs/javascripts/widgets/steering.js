/* Steering: alpha times a concept's direction added to SmolLM2's residual stream after one block, at
 * every position; what it does to the next token and to a greedy continuation.
 *   <div class="llmbook-widget" data-widget="steering" data-src="generated/interpret/steering_widget.json"></div>
 * The directions (differences of means at the chapter's layer), the strengths and the results on the
 * chapter's prompts come from examples/interpret.py, and are what the widget shows before the model is
 * loaded. Once live-model.js has loaded it, "Generate" runs the reader's prompt in this tab with the same
 * vector added after the same block by the engine (model.js: forward(ids, {steer})): the ten likeliest next
 * tokens, then a greedy continuation. tests/browser/test_steering.py checks both against the Python model
 * steered with llmbook.interpret.hooks.add_vector.
 */
(function () {
  "use strict";
  const STEP = 0.5;  // the slider's step: every strength the chapter uses is a multiple of it
  let counter = 0;

  /** α as the page writes it: a true minus sign, no trailing zeros. */
  function showAlpha(a) { return a < 0 ? `\u2212${-a}` : String(a); }

  function percent(p) { return `${(p * 100).toFixed(2)}%`; }

  llmbook.widget("steering", (root, data) => {
    const el = llmbook.el;
    const uid = `steering-${++counter}`;
    const concepts = data.concepts;
    if (!concepts || !concepts.length) throw new Error("the steering data has no concepts");
    const vectors = concepts.map((c) => {
      if (c.vector.length !== data.dim) throw new Error(`the ${c.label} vector has ${c.vector.length} values, not ${data.dim}`);
      return Float32Array.from(c.vector);  // float32, as the build computed it
    });
    const live = new Map();  // "concept|alpha|prompt" -> what the model in this tab gave
    let running = null;  // {key, ids, text} while a continuation streams in

    const concept = el("select", { id: `${uid}-concept` },
      concepts.map((c, i) => el("option", { value: String(i) }, c.label)));
    const alpha = el("input", { type: "range", id: `${uid}-alpha`, step: String(STEP), list: `${uid}-ticks` });
    const ticks = el("datalist", { id: `${uid}-ticks` });
    const alphaOut = el("output", { for: alpha.id, class: "llmbook-steering-value" });
    const example = el("select", { id: `${uid}-example` });
    const prompt = el("input", { type: "text", id: `${uid}-prompt`, class: "llmbook-live-prompt", spellcheck: "false" });
    const go = el("button", { type: "submit", class: "md-button md-button--primary", disabled: true }, "Generate");
    const form = el("form", { class: "llmbook-live-form llmbook-steering-form" },
      el("span", { class: "llmbook-live-field" }, el("label", { for: concept.id }, "Concept"), concept),
      el("span", { class: "llmbook-live-field llmbook-steering-alpha" },
        el("label", { for: alpha.id }, "Strength \u03b1"), alpha, ticks, alphaOut),
      el("span", { class: "llmbook-live-field" }, el("label", { for: example.id }, "The chapter's prompts"), example),
      el("label", { for: prompt.id }, "Prompt"), prompt, go);
    const status = el("p", { class: "llmbook-live-status llmbook-steering-status", role: "status", "aria-live": "polite" });
    const caption = el("p", { class: "llmbook-steering-caption" });
    const bars = el("ol", { class: "llmbook-steering-bars", "aria-label": "Most likely next tokens" });
    const heading = el("p", { class: "llmbook-steering-caption" });
    const given = el("span", { class: "llmbook-live-given" });
    const fresh = el("span", { class: "llmbook-live-new" });
    const output = el("div", { class: "llmbook-live-output llmbook-steering-continuation", "aria-label": "Continuation" },
      given, fresh);

    const current = () => concepts[Number(concept.value)];
    const keyOf = (i, a, text) => `${i}|${a}|${text}`;

    /** The concept's controls: its strengths on the slider, its prompts in the list. */
    function pickConcept(resetAlpha) {
      const c = current();
      alpha.min = String(Math.min(...c.alphas));
      alpha.max = String(Math.max(...c.alphas));
      if (resetAlpha) alpha.value = String(c.start);
      ticks.replaceChildren(...c.alphas.map((a) => el("option", { value: String(a) })));
      example.replaceChildren(...c.prompts.map((p, i) => el("option", { value: String(i) }, p.text)));
      if (resetAlpha) prompt.value = c.prompts[0].text;
      syncExample();
    }

    function syncExample() {
      const i = current().prompts.findIndex((p) => p.text === prompt.value);
      example.value = i >= 0 ? String(i) : "";
    }

    function showTop(top) {  // top: {ids, tokens, probs, logits?}
      const max = Math.max(...top.probs);
      bars.replaceChildren(...top.ids.map((id, j) => el("li", {
        "data-id": String(id), "data-prob": String(top.probs[j]), "data-logit": top.logits ? String(top.logits[j]) : null },
      el("span", { class: "llmbook-steering-token" }, JSON.stringify(top.tokens[j])),  // quotes show spaces
      el("span", { class: "llmbook-steering-track", "aria-hidden": "true" },
        el("span", { class: "llmbook-steering-bar", style: `width:${(100 * top.probs[j] / max).toFixed(2)}%` })),
      el("span", { class: "llmbook-steering-prob" }, percent(top.probs[j])))));
    }

    function showContinuation(ids, text, where) {
      given.textContent = prompt.value;
      fresh.textContent = text;
      output.dataset.ids = ids ? JSON.stringify(ids) : "";
      heading.replaceChildren(el("strong", {}, where));
    }

    function render() {
      const i = Number(concept.value), c = concepts[i], a = Number(alpha.value), text = prompt.value;
      alphaOut.textContent = showAlpha(a);
      root.dataset.concept = c.key;
      root.dataset.alpha = String(a);
      const mine = live.get(keyOf(i, a, text));
      const built = c.prompts.find((p) => p.text === text);
      const builtTop = built && built.top.find((t) => t.alpha === a);
      const builtRun = built && built.continuations.find((r) => r.alpha === a);
      const where = `\u03b1 = ${showAlpha(a)} times the ${c.label} direction, added after layer ${data.layer}`;
      if (mine) {
        root.dataset.source = "live";
        caption.textContent = `Next token, computed in this tab: ${where}.`;
        showTop(mine.top);
      } else if (builtTop) {
        root.dataset.source = "build";
        caption.textContent = `Next token, computed when the site was built (Python): ${where}.`;
        showTop(builtTop);
      } else {
        root.dataset.source = "none";
        caption.textContent = built
          ? `The build computed this prompt at \u03b1 = ${c.alphas.map(showAlpha).join(", ")}; load the model and ` +
            `press Generate to run \u03b1 = ${showAlpha(a)} here.`
          : "The build computed only the chapter's prompts; load the model and press Generate to run yours.";
        bars.replaceChildren();
      }
      if (running && running.key === keyOf(i, a, text)) {
        showContinuation(null, running.text, `Greedy continuation, being written in this tab (${data.tokens} tokens at most)`);
      } else if (mine) {
        showContinuation(mine.ids, mine.text, `Greedy continuation, written in this tab (${mine.ids.length} tokens)`);
      } else if (builtRun) {
        showContinuation(builtRun.ids, builtRun.text, `Greedy continuation, written when the site was built (${builtRun.ids.length} tokens)`);
      } else {
        showContinuation(null, "", built ? "The build wrote no continuation at this strength." : "No continuation yet.");
        given.textContent = "";
      }
    }

    concept.addEventListener("change", () => { pickConcept(true); render(); });
    alpha.addEventListener("input", render);
    example.addEventListener("change", () => {
      const p = current().prompts[Number(example.value)];
      if (p) prompt.value = p.text;
      render();
    });
    prompt.addEventListener("input", () => { syncExample(); render(); });

    let busy = false;
    const ready = () => llmbook.live && llmbook.live.state.phase === "ready";
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (busy || !ready()) return;
      const i = Number(concept.value), a = Number(alpha.value), text = prompt.value, key = keyOf(i, a, text);
      const steer = { layer: data.layer, vector: vectors[i], alpha: a };
      busy = true;
      go.disabled = true;
      root.dataset.live = "running";
      status.textContent = "Running the model on your prompt\u2026";
      try {
        const result = await llmbook.live.forward({ text, top: data.top, steer, mode: "exact" });
        const top = { ids: Array.from(result.top.ids), tokens: result.top.tokens, probs: Array.from(result.top.probs),
          logits: Array.from(result.top.logits) };
        live.set(key, { top, ids: [], text: "" });
        running = { key, text: "" };
        render();
        status.textContent = "Writing a greedy continuation\u2026";
        const done = await llmbook.live.generate({ prompt: text, params: { strategy: "greedy" }, max_new_tokens: data.tokens,
          steer, mode: "exact" }, (t) => {
          running.text += t.text;
          if (root.dataset.concept === concepts[i].key && Number(alpha.value) === a && prompt.value === text) {
            fresh.textContent = running.text;
          }
        });
        live.set(key, { top, ids: done.ids, text: done.text });
        status.textContent = `${result.ids.length} prompt tokens; the next-token list and the continuation come from ` +
          `the model in this tab, steered at \u03b1 = ${showAlpha(a)}.`;
        root.dataset.live = "done";
      } catch (err) {
        status.textContent = `The model could not run: ${err.message}`;
        root.dataset.live = "error";
      }
      running = null;
      busy = false;
      go.disabled = !ready();
      render();
    });

    root.classList.add("llmbook-steering");
    root.replaceChildren(form, status, caption, bars, heading, output);
    if (llmbook.live) {
      root.prepend(llmbook.live.control());
      llmbook.live.onChange(() => { go.disabled = busy || !ready(); });
    }
    pickConcept(true);
    render();
  });
})();
