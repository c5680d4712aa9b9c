/* A generation box on the live model: the reader's prompt, a decoding strategy, streamed tokens.
 *   <div class="llmbook-widget" data-widget="live-chat" data-src="generated/model/manifest.json"></div>
 * The strategies are the book's (llmbook.inference.strategies): greedy, or sampling with temperature
 * and the top-k, top-p and min-p filters; a repetition penalty with either; a seed for sampling.
 * The worker streams one message per token; the speed shown is decode tokens per second. "Fast kernels"
 * runs the matrix products on int16 activations (the engine's fast mode); the default is exact.
 */
(function () {
  "use strict";
  let counter = 0;
  // strategy -> the filter it switches on, with the book's default (STRATEGIES in llmbook/inference/strategies.py)
  const STRATEGIES = { greedy: null, sample: null, "top-k": ["top_k", 50], "top-p": ["top_p", 0.9], "min-p": ["min_p", 0.1] };
  const FIELDS = [  // key, label, placeholder (empty = off), min, max, step
    ["temperature", "Temperature", "1", 0.01, 5, 0.05],
    ["top_k", "Top-k", "off", 1, 49152, 1],
    ["top_p", "Top-p", "off", 0.01, 1, 0.01],
    ["min_p", "Min-p", "off", 0, 1, 0.01],
  ];

  llmbook.widget("live-chat", (root) => {
    const el = llmbook.el;
    const uid = `live-chat-${++counter}`;
    const control = llmbook.live.control();
    const prompt = el("textarea", { id: `${uid}-prompt`, class: "llmbook-live-prompt", rows: "3" },
      "Write one sentence about the sea.");
    const chat = el("input", { type: "checkbox", id: `${uid}-chat`, checked: true });
    const strategy = el("select", { id: `${uid}-strategy` },
      Object.keys(STRATEGIES).map((s) => el("option", { value: s }, s)));
    const inputs = {};
    const field = (key, label, attrs) => {
      const input = el("input", { id: `${uid}-${key}`, name: key, ...attrs });
      inputs[key] = input;
      return el("span", { class: "llmbook-live-field" }, el("label", { for: input.id }, label), input);
    };
    const sampling = el("fieldset", {}, el("legend", {}, "Sampling"),
      FIELDS.map(([key, label, ph, min, max, step]) => field(key, label,
        { type: "number", placeholder: ph, min: String(min), max: String(max), step: String(step) })),
      field("seed", "Seed", { type: "number", value: "0", min: "0", step: "1" }));
    const penalty = field("repetition_penalty", "Repetition penalty", { type: "number", placeholder: "off", min: "0.01", step: "0.05" });
    const fast = el("input", { type: "checkbox", id: `${uid}-fast` });
    const maxNew = field("max_new_tokens", "New tokens at most", { type: "number", value: "48", min: "1", max: "512", step: "1" });
    const go = el("button", { type: "submit", class: "md-button md-button--primary" }, "Generate");
    const stop = el("button", { type: "button", class: "md-button", disabled: true }, "Stop");
    const form = el("form", { class: "llmbook-live-form" },
      el("label", { for: prompt.id }, "Prompt"), prompt,
      el("span", { class: "llmbook-live-field" }, chat, el("label", { for: chat.id, class: "llmbook-plain" },
        "as a chat turn (the model's chat template)")),
      el("span", { class: "llmbook-live-field" }, el("label", { for: strategy.id }, "Strategy"), strategy),
      sampling, penalty, maxNew,
      el("span", { class: "llmbook-live-field" }, fast, el("label", { for: fast.id, class: "llmbook-plain" },
        "fast kernels (activations rounded to int16)")),
      go, stop);
    const given = el("span", { class: "llmbook-live-given" });
    const fresh = el("span", { class: "llmbook-live-new" });
    const output = el("div", { class: "llmbook-live-output", "aria-label": "Generated text" }, given, fresh);
    const speed = el("p", { class: "llmbook-live-speed", role: "status", "aria-live": "polite" });

    function number(key) {
      const text = inputs[key].value.trim();
      if (text === "") return null;
      const x = llmbook.parseNumber(text);
      if (!Number.isFinite(x)) throw new Error(`${key.replace(/_/g, " ")} must be a number, got "${text}"`);
      return x;
    }

    function params() {
      const p = { strategy: strategy.value };
      const rp = number("repetition_penalty");
      if (rp !== null) p.repetition_penalty = rp;
      if (strategy.value !== "greedy") {
        const t = number("temperature");
        if (t !== null) p.temperature = t;
        for (const key of ["top_k", "top_p", "min_p"]) { const v = number(key); if (v !== null) p[key] = v; }
      }
      return p;
    }

    strategy.addEventListener("change", () => {
      const filter = STRATEGIES[strategy.value];
      if (filter && inputs[filter[0]].value === "") inputs[filter[0]].value = String(filter[1]);
      sampling.disabled = strategy.value === "greedy";
    });
    sampling.disabled = true;

    let running = false, runs = 0;
    function setRunning(on) {
      running = on;
      root.dataset.state = on ? "running" : "idle";
      root.dataset.runs = String(runs);  // finished generations: a test waits for the next
      go.disabled = on || llmbook.live.state.phase !== "ready";
      stop.disabled = !on;
    }
    llmbook.live.onChange((s) => { if (!running) go.disabled = s.phase !== "ready"; });

    stop.addEventListener("click", () => { llmbook.live.stop(); });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (running) return;
      let req;
      try {
        const seed = number("seed");
        req = { prompt: prompt.value, chat: chat.checked, params: params(), max_new_tokens: number("max_new_tokens") ?? 48,
          seed: seed ?? 0, mode: fast.checked ? "fast" : "exact" };
      } catch (err) {
        speed.textContent = err.message;
        return;
      }
      setRunning(true);
      given.textContent = chat.checked ? "" : prompt.value;
      fresh.textContent = "";
      speed.textContent = "Reading the prompt\u2026";
      const ids = [];
      root.dataset.ids = "[]";
      try {
        const done = await llmbook.live.generate(req, (t) => {
          if (t.token >= 0) ids.push(t.token);
          fresh.textContent += t.text;
          if (t.tokensPerSecond) speed.textContent = `${ids.length} tokens, ${t.tokensPerSecond.toFixed(1)} tokens/s`;
        });
        root.dataset.ids = JSON.stringify(done.ids);
        root.dataset.reason = done.reason;
        const why = { eos: "the model ended its turn", length: "the token limit", stopped: "stopped",
          context: `the cache limit of ${llmbook.live.state.info.maxContext} positions (the cache was emptied)` }[done.reason];
        const rate = done.decode.tokensPerSecond;
        speed.textContent = `${done.ids.length} tokens (${why}); prompt of ${done.prefill.tokens} tokens read in ` +
          `${done.prefill.seconds.toFixed(2)} s` + (rate ? `, then ${rate.toFixed(1)} tokens/s.` : ".");
      } catch (err) {
        speed.textContent = `Generation failed: ${err.message}`;
      }
      runs++;
      setRunning(false);
    });

    root.classList.add("llmbook-live-chat");
    root.replaceChildren(control, form, output, speed);
    setRunning(false);
  });
})();
