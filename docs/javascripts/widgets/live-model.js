/* The live model on the page: one worker for the whole page, shared by every live widget.
 *
 * llmbook.live.control() gives a widget its own "Load the model, 94 MiB" button (the size read from
 * generated/model/manifest.json) with a progress bar and a status line; every control on the page
 * shows the same state, so a click on any of them loads the model for all. After loading:
 *   llmbook.live.forward({text, chat, top, logits, attention})       -> Promise of the worker's result
 *   llmbook.live.generate({prompt, chat, params, max_new_tokens, seed}, onToken) -> Promise of "done"
 *   llmbook.live.trace({text, steps})  -> a prefill and greedy steps with the KV cache after each
 *   llmbook.live.stop(), llmbook.live.onChange(fn) (fn(state) now and on every change)
 * The messages are described in docs/javascripts/engine/worker.js. Nothing is fetched before a click.
 */
(function () {
  "use strict";
  const MANIFEST = "generated/model/manifest.json";
  const WORKER = "javascripts/engine/worker.js";

  const state = { phase: "idle", done: 0, total: 0, part: 0, parts: 0, info: null, error: null, warning: null };
  const listeners = new Set();
  const pending = new Map();  // request id -> {resolve, reject, onEvent}
  let worker = null, nextId = 0, loading = null;

  function change(update) {
    Object.assign(state, update);
    for (const fn of listeners) fn(state);
  }

  function fail(message) {
    for (const p of pending.values()) p.reject(new Error(message));
    pending.clear();
  }

  function theWorker() {
    if (worker) return worker;
    worker = new Worker(llmbook.siteUrl(WORKER), { type: "module", name: "llmbook model" });
    worker.onmessage = (event) => {
      const msg = event.data;
      const p = pending.get(msg.id);
      if (!p) return;
      if (msg.type === "error") { pending.delete(msg.id); p.reject(new Error(msg.message)); return; }
      if (msg.type === "progress" || msg.type === "token") { if (p.onEvent) p.onEvent(msg); return; }
      pending.delete(msg.id);
      p.resolve(msg);
    };
    worker.onerror = (event) => {  // the worker's own script failed (a module that did not load, say)
      event.preventDefault();
      fail(`the model's worker stopped: ${event.message || "its scripts could not be loaded"}`);
      worker.terminate();
      worker = null;
    };
    return worker;
  }

  function request(msg, onEvent, transfer = []) {
    const id = ++nextId;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject, onEvent });
      theWorker().postMessage({ ...msg, id }, transfer);
    });
  }

  function mib(bytes) { return `${Math.round(bytes / 2 ** 20)} MiB`; }

  const live = {
    state,
    manifest: () => llmbook.fetchJSON(MANIFEST),

    /** Load the model once for the page; later calls get the same promise (after a failure, a new try). */
    load(options = {}) {
      if (loading) return loading;
      change({ phase: "loading", error: null, warning: null, done: 0 });
      loading = request({ type: "load", manifest: llmbook.siteUrl(MANIFEST), ...options }, (p) => {
        change({ done: p.done, total: p.total, part: p.part, parts: p.parts, ...(p.warning ? { warning: p.warning } : {}) });
      }).then((info) => {
        change({ phase: "ready", info, done: info.manifest.bytes, total: info.manifest.bytes,
          ...(info.warning ? { warning: info.warning } : {}) });
        return info;
      }, (err) => {
        loading = null;
        change({ phase: "error", error: err.message });
        throw err;
      });
      return loading;
    },

    forward: (req) => request({ type: "forward", ...req }),
    trace: (req) => request({ type: "trace", ...req }),
    generate: (req, onToken) => request({ type: "generate", ...req }, onToken),
    reset: () => request({ type: "reset" }),
    stop: () => (worker ? request({ type: "stop" }) : Promise.resolve()),

    onChange(fn) { listeners.add(fn); fn(state); return () => listeners.delete(fn); },

    /** A load button, progress bar and status line for one widget, kept in step with the shared state. */
    control() {
      const el = llmbook.el;
      const button = el("button", { type: "button", class: "llmbook-live-load md-button md-button--primary" }, "Load the model");
      const bar = el("span", { class: "llmbook-live-bar" });
      const progress = el("div", { class: "llmbook-live-progress", role: "progressbar", "aria-label": "Model download",
        "aria-valuemin": "0", "aria-valuemax": "100", "aria-valuenow": "0", hidden: true }, bar);
      const status = el("p", { class: "llmbook-live-status", role: "status", "aria-live": "polite" });
      const root = el("div", { class: "llmbook-live" }, button, progress, status);
      let size = null;
      live.manifest().then((m) => { size = m.bytes; render(state); }, (err) => {
        button.disabled = true;
        status.textContent = `The model is not part of this build of the site (${err.message}).`;
      });
      button.addEventListener("click", () => { live.load().catch(() => {}); });

      function render(s) {
        root.dataset.phase = s.phase;
        const pct = s.total ? Math.floor((100 * s.done) / s.total) : 0;
        progress.setAttribute("aria-valuenow", String(pct));
        bar.style.width = `${pct}%`;
        progress.hidden = s.phase === "idle";
        if (s.phase === "idle" || s.phase === "error") {
          button.hidden = false;
          button.disabled = size === null;
          button.textContent = size === null ? "Load the model" : `Load the model, ${mib(size)}`;
        } else {
          button.hidden = s.phase === "ready";
          button.disabled = true;
        }
        if (s.phase === "loading") {
          status.textContent = s.total ? `Downloading and checking part ${Math.min(s.part + 1, s.parts)} of ${s.parts}: ` +
            `${mib(s.done)} of ${mib(s.total)} (${pct} %).` : "Starting the download\u2026";
        } else if (s.phase === "ready") {
          const i = s.info;
          const where = i.fetchedParts === 0 ? "from this browser's cache" :
            `${i.fetchedParts} part${i.fetchedParts === 1 ? "" : "s"} downloaded` +
            (i.cachedParts ? `, ${i.cachedParts} from this browser's cache` : "");
          status.textContent = `Model loaded (${mib(i.manifest.bytes)}, ${where}) in ` +
            `${(i.seconds.download + i.seconds.load).toFixed(1)} s; it runs in this tab.` +
            (s.warning ? ` Note: ${s.warning}.` : "");
        } else if (s.phase === "error") {
          status.textContent = `The model could not be loaded: ${s.error}`;
        } else {
          status.textContent = "";
        }
        status.classList.toggle("llmbook-error", s.phase === "error");
      }
      live.onChange(render);
      return root;
    },
  };

  window.llmbook.live = live;
})();
