/* Decoding comparator: the real next-token distribution of SmolLM2-135M-Instruct for a
 * prompt, reshaped live by temperature, top-k, top-p and min-p, beside continuations
 * that every strategy produced at build time (fixed seeds).
 *   <div class="llmbook-widget" data-widget="decoding" data-src="generated/generate/comparator.json"></div>
 * The logits (whole vocabulary) come from examples/decoding_comparator.py. The filters
 * below follow llmbook.inference.sampling line for line; tests/browser/test_decoding.py checks
 * that they give the probabilities Python gives. Once the live model is loaded (live-model.js), the
 * reader's own prompt joins the list: its logits come from the model running in this tab, and each
 * strategy the browser engine has (greedy and sampling) writes a continuation there too.
 */
(function () {
  "use strict";

  function softmax(z) {
    let max = -Infinity;
    for (const x of z) if (x > max) max = x;
    const p = new Float64Array(z.length);
    let sum = 0;
    for (let i = 0; i < z.length; i++) { p[i] = Math.exp(z[i] - max); sum += p[i]; }
    for (let i = 0; i < z.length; i++) p[i] /= sum;
    return p;
  }

  /** Logits after temperature, top-k, top-p and min-p (in that order); removed tokens get -Infinity. */
  function filterLogits(logits, s) {
    let z = Float64Array.from(logits);
    if (s.temperature !== 1) z = z.map((x) => x / s.temperature);
    if (s.topK > 0) {
      const k = Math.min(s.topK, z.length);
      const kth = Float64Array.from(z).sort().reverse()[k - 1];  // ties with the k-th stay
      z = z.map((x) => (x < kth ? -Infinity : x));
    }
    if (s.topP < 1) {
      const order = Array.from(z.keys()).sort((a, b) => z[a] - z[b]);  // least likely first
      const p = softmax(order.map((i) => z[i]));
      let cum = 0;
      const drop = new Uint8Array(z.length);
      for (let j = 0; j < order.length; j++) {
        cum += p[j];
        if (cum <= 1 - s.topP && j < order.length - 1) drop[order[j]] = 1;  // the top token always stays
      }
      z = z.map((x, i) => (drop[i] ? -Infinity : x));
    }
    if (s.minP > 0) {
      const p = softmax(z);
      let pmax = 0;
      for (const x of p) if (x > pmax) pmax = x;
      z = z.map((x, i) => (p[i] < s.minP * pmax ? -Infinity : x));
    }
    return z;
  }

  const SLIDERS = [
    { key: "temperature", label: "Temperature", min: 0.05, max: 2.5, step: 0.05, value: 1,
      show: (v) => v.toFixed(2) },
    { key: "topK", label: "Top-k (0 = off)", min: 0, max: 200, step: 1, value: 0,
      show: (v) => (v === 0 ? "off" : String(v)) },
    { key: "topP", label: "Top-p (1 = off)", min: 0.01, max: 1, step: 0.01, value: 1,
      show: (v) => (v >= 1 ? "off" : v.toFixed(2)) },
    { key: "minP", label: "Min-p (0 = off)", min: 0, max: 0.5, step: 0.01, value: 0,
      show: (v) => (v === 0 ? "off" : v.toFixed(2)) },
  ];
  const SHOWN = 15;  // bars
  const LIVE = new Set(["greedy", "sample", "top-k", "top-p", "min-p"]);  // strategies the browser engine runs
  let counter = 0;

  llmbook.widget("decoding", (root, data) => {
    const el = llmbook.el;
    const uid = `decoding-${++counter}`;
    const state = { prompt: 0, temperature: 1, topK: 0, topP: 1, minP: 0 };
    const prompts = data.prompts.slice();  // the build's, then the reader's own

    const select = el("select", { id: `${uid}-prompt` },
      prompts.map((p, i) => el("option", { value: String(i) }, p.label)));
    const controls = SLIDERS.map((s) => {
      const id = `${uid}-${s.key}`;
      const input = el("input", { type: "range", id, min: String(s.min), max: String(s.max), step: String(s.step),
        value: String(s.value), "data-key": s.key });
      const out = el("output", { for: id, class: "llmbook-decoding-value" }, s.show(s.value));
      input.addEventListener("input", () => {
        state[s.key] = Number(input.value);
        out.textContent = s.show(state[s.key]);
        render();
      });
      return el("div", { class: "llmbook-decoding-control" }, el("label", { for: id }, s.label), input, out);
    });
    const summary = el("p", { class: "llmbook-decoding-summary", role: "status", "aria-live": "polite" });
    const bars = el("ol", { class: "llmbook-decoding-bars", "aria-label": "Most likely next tokens" });
    const continuations = el("div", { class: "llmbook-decoding-continuations" });
    select.addEventListener("change", () => { state.prompt = Number(select.value); render(); });

    function tokenLabel(id) {
      return JSON.stringify(data.vocab[id]);  // quotes make spaces and newlines visible
    }

    function render() {
      const prompt = prompts[state.prompt];
      const before = softmax(prompt.logits);
      const after = softmax(filterLogits(prompt.logits, state));
      const kept = after.reduce((n, p) => n + (p > 0 ? 1 : 0), 0);
      const ranked = Array.from(after.keys()).sort((a, b) => after[b] - after[a] || before[b] - before[a])
        .slice(0, SHOWN);
      root.dataset.kept = String(kept);
      summary.textContent = `${kept.toLocaleString("en")} of ${after.length.toLocaleString("en")} tokens can ` +
        `still be drawn; the most likely has p = ${(after[ranked[0]] * 100).toFixed(1)}%.`;
      bars.replaceChildren(...ranked.map((id) => {
        const pa = after[id], pb = before[id];
        return el("li", { class: pa > 0 ? "kept" : "removed", "data-id": String(id), "data-prob": String(pa) },
          el("span", { class: "llmbook-decoding-token" }, tokenLabel(id)),
          el("span", { class: "llmbook-decoding-track", "aria-hidden": "true" },
            el("span", { class: "llmbook-decoding-before", style: `width:${(pb * 100).toFixed(2)}%` }),
            el("span", { class: "llmbook-decoding-after", style: `width:${(pa * 100).toFixed(2)}%` })),
          el("span", { class: "llmbook-decoding-prob" },
            pa > 0 ? `${(pa * 100).toFixed(2)}%` : `removed (was ${(pb * 100).toFixed(2)}%)`));
      }));
      continuations.replaceChildren(
        el("p", { class: "llmbook-decoding-heading" },  // not a heading: the page decides the heading levels
          el("strong", {}, prompt.live
            ? `Continuations made in this tab (${data.new_tokens} tokens at most, seed ${data.seed} of the browser's generator)`
            : `Continuations made at build time (${data.new_tokens} tokens at most, seed ${data.seed})`)),
        el("dl", {}, prompt.continuations.flatMap((c) => [
          el("dt", {}, c.label),
          el("dd", { "data-strategy": c.strategy, "data-ids": c.ids ? JSON.stringify(c.ids) : null },
            c.note ? el("em", {}, c.note) : [
              el("span", { class: "llmbook-decoding-prompt" }, prompt.chat ? "" : prompt.text),
              c.text,
              c.stop_reason === "eos" ? el("span", { class: "llmbook-decoding-eos" }, " [end-of-sequence token]") : ""]),
        ])));
    }

    function liveForm() {
      const live = llmbook.live;
      const input = el("input", { type: "text", id: `${uid}-own`, class: "llmbook-live-prompt",
        value: "My favourite food is" });
      const chat = el("input", { type: "checkbox", id: `${uid}-own-chat` });
      const run = el("button", { type: "submit", class: "md-button", disabled: true }, "Use my text");
      const status = el("p", { class: "llmbook-live-status", role: "status", "aria-live": "polite" });
      const form = el("form", { class: "llmbook-live-form" },
        el("label", { for: input.id }, "Your own text"), input,
        el("span", { class: "llmbook-live-field" }, chat,
          el("label", { for: chat.id, class: "llmbook-plain" }, "as a chat turn")), run);
      let busy = false;
      live.onChange((s) => { run.disabled = busy || s.phase !== "ready"; });
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        busy = true;
        run.disabled = true;
        root.dataset.live = "running";
        status.textContent = "Running the model on your prompt\u2026";
        try {
          const result = await live.forward({ text: input.value, chat: chat.checked, logits: true, top: 1, mode: "exact" });
          const mine = { label: `Yours: ${input.value}`, text: input.value, chat: chat.checked, ids: result.ids,
            logits: result.logits, continuations: [], live: true };
          prompts.push(mine);
          state.prompt = prompts.length - 1;
          select.append(el("option", { value: String(state.prompt) }, mine.label));
          select.value = String(state.prompt);
          render();
          for (const c of data.prompts[0].continuations) {
            if (!LIVE.has(c.strategy)) {
              mine.continuations.push({ label: c.label, strategy: c.strategy,
                note: "not run in the browser: its engine has greedy decoding and sampling" });
              continue;
            }
            status.textContent = `Writing a continuation with ${c.label}\u2026`;
            const done = await live.generate({ prompt: input.value, chat: chat.checked,
              params: { strategy: c.strategy, ...c.params }, max_new_tokens: data.new_tokens, seed: data.seed, mode: "exact" });
            mine.continuations.push({ label: c.label, strategy: c.strategy, text: done.text, ids: done.ids,
              stop_reason: done.reason === "eos" ? "eos" : "length" });
            if (state.prompt === prompts.indexOf(mine)) render();
          }
          if (state.prompt === prompts.indexOf(mine)) render();
          status.textContent = `${result.ids.length} prompt tokens; the distribution and continuations above come ` +
            "from the model in this tab.";
          root.dataset.live = "done";
        } catch (err) {
          status.textContent = `The model could not run on this prompt: ${err.message}`;
          root.dataset.live = "error";
        }
        busy = false;
        run.disabled = live.state.phase !== "ready";
      });
      return el("div", { class: "llmbook-decoding-live" }, live.control(), form, status);
    }

    root.classList.add("llmbook-decoding");
    root.replaceChildren(
      el("div", { class: "llmbook-decoding-controls" },
        el("div", { class: "llmbook-decoding-control" }, el("label", { for: select.id }, "Prompt"), select),
        ...controls),
      summary, bars, continuations);
    if (llmbook.live) root.prepend(liveForm());
    render();
  });

  window.llmbookDecoding = { filterLogits, softmax };  // for the browser test
})();
