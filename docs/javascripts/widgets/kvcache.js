/* KV cache animation: a real prefill and decode of SmolLM2-135M-Instruct, step by step.
 *   <div class="llmbook-widget" data-widget="kvcache" data-src="generated/generate/kv_trace.json"></div>
 * Every number comes from the cache itself (examples/decoding_comparator.py records the
 * tokens fed in, the cache's shapes and bytes, and layer 0's keys after each step). Once the live
 * model is loaded (live-model.js), the reader's own text can be traced the same way in this tab.
 */
(function () {
  "use strict";

  llmbook.widget("kvcache", (root, data) => {
    const el = llmbook.el;
    let steps = data.steps;
    let step = 0;
    let timer = null;
    const id = `kv-step-${Math.random().toString(36).slice(2, 8)}`;
    const slider = el("input", { type: "range", id, min: "0", max: String(steps.length - 1), step: "1", value: "0" });
    const prev = el("button", { type: "button" }, "Previous step");
    const next = el("button", { type: "button" }, "Next step");
    const play = el("button", { type: "button", "aria-pressed": "false" }, "Play");
    const title = el("p", { class: "llmbook-kv-title", role: "status", "aria-live": "polite" });
    const tokens = el("div", { class: "llmbook-kv-tokens", "aria-label": "tokens in the cache" });
    const shapes = el("p", { class: "llmbook-kv-shapes" });
    const grid = el("table", { class: "llmbook-kv-grid" });
    const where = el("p", { class: "llmbook-kv-where" });

    function show(i) {
      step = Math.max(0, Math.min(steps.length - 1, i));
      slider.value = String(step);
      const s = steps[step];
      const cachedBefore = s.cache_length - s.fed.length;
      const all = steps.slice(0, step + 1).flatMap((x) => x.fed);
      title.textContent = s.phase === "prefill"
        ? `Step 0, prefill: the ${s.fed.length} prompt tokens go through the model in one pass.`
        : `Step ${step}, decode: only the newest token goes through the model; its query attends to the ` +
          `${cachedBefore} cached keys and values plus its own.`;
      tokens.replaceChildren(
        ...all.map((t, j) => el("span", { class: `llmbook-kv-tok ${j < cachedBefore ? "cached" : "fed"}` },
          JSON.stringify(t))),
        el("span", { class: "llmbook-kv-tok next", title: "predicted next token" }, `next: ${JSON.stringify(s.next)}`));
      const kib = (s.bytes / 1024).toFixed(1);
      shapes.textContent = `Cache after this step: ${s.layers} layers, each keys ${JSON.stringify(s.key_shape)} ` +
        `and values ${JSON.stringify(s.value_shape)} (batch, KV heads, positions, head dim): ` +
        `${s.layers} × 2 × ${data.n_kv_heads} × ${data.head_dim} × ${s.cache_length} × ${data.dtype_bytes} bytes ` +
        `= ${kib} KiB.`;
      const head = el("tr", {}, el("th", {}, "position"), ...s.key_sample[0].map((_, d) => el("th", {}, `k[${d}]`)));
      grid.replaceChildren(
        el("caption", {}, `Layer 0, KV head 0: the first ${s.key_sample[0].length} of ${data.head_dim} ` +
          "dimensions of every cached key"),
        head,
        ...s.key_sample.map((row, pos) => el("tr", { class: pos >= cachedBefore ? "fed" : "" },
          el("th", {}, `${pos} ${JSON.stringify(all[pos])}`), ...row.map((v) => el("td", { "data-value": String(v) }, v.toFixed(2))))));
      prev.disabled = step === 0;
      next.disabled = step === steps.length - 1;
    }
    function stop() {
      if (timer) clearInterval(timer);
      timer = null;
      play.textContent = "Play";
      play.setAttribute("aria-pressed", "false");
    }
    slider.addEventListener("input", () => { stop(); show(Number(slider.value)); });
    prev.addEventListener("click", () => { stop(); show(step - 1); });
    next.addEventListener("click", () => { stop(); show(step + 1); });
    play.addEventListener("click", () => {
      if (timer) { stop(); return; }
      if (step === steps.length - 1) show(0);
      play.textContent = "Pause";
      play.setAttribute("aria-pressed", "true");
      timer = setInterval(() => { if (step >= steps.length - 1) stop(); else show(step + 1); }, 1200);
    });
    function liveForm() {
      const live = llmbook.live;
      const input = el("input", { type: "text", id: `${id}-own`, class: "llmbook-live-prompt", value: "Once upon a time" });
      const run = el("button", { type: "submit", class: "md-button", disabled: true }, "Trace my text");
      const status = el("p", { class: "llmbook-live-status", role: "status", "aria-live": "polite" });
      const form = el("form", { class: "llmbook-live-form" }, el("label", { for: input.id }, "Your own text"), input, run);
      live.onChange((st) => { run.disabled = st.phase !== "ready"; });
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        run.disabled = true;
        root.dataset.live = "running";
        try {
          const t = await live.trace({ text: input.value, steps: data.steps.length - 1, mode: "exact" });
          stop();
          steps = t.steps;
          slider.max = String(steps.length - 1);
          where.textContent = `Your text, run in this tab: the browser's cache has room for ${t.max_context.toLocaleString("en")} ` +
            `positions (${(t.cache_bytes / 2 ** 20).toFixed(1)} MiB), allocated once, so a long chat cannot use more.`;
          show(0);
          status.textContent = "";
          root.dataset.live = "done";
        } catch (err) {
          status.textContent = `The model could not run on this text: ${err.message}`;
          root.dataset.live = "error";
        }
        run.disabled = live.state.phase !== "ready";
      });
      return el("div", { class: "llmbook-kv-live" }, live.control(), form, status);
    }

    root.replaceChildren(
      el("div", {}, el("label", { for: id }, "Step"), slider, prev, next, play),
      where, title, tokens, shapes, grid);
    if (llmbook.live) root.prepend(liveForm());
    show(0);
  });
})();
