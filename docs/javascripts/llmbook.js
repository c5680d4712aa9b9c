/* llmbook: the small shared runtime every widget uses.
 *
 * A widget is a vanilla JS function registered with llmbook.widget(name, init).
 * Markdown places <div class="llmbook-widget" data-widget="name" data-src="generated/x.json"></div>;
 * on every page load init(element, data) is called with the JSON that the tested
 * Python exported at build. Paths in data-src are relative to the site root.
 */
(function () {
  "use strict";
  const registry = {};
  const jsonCache = new Map();  // several widgets on a page often share one data file

  function siteRoot() {
    const cfg = document.getElementById("__config");
    let base = ".";
    if (cfg) {
      try { base = JSON.parse(cfg.textContent).base || "."; } catch (e) { /* keep "." */ }
    }
    return new URL(base.replace(/\/?$/, "/"), document.baseURI);
  }

  const llmbook = {
    /** Absolute URL of a path relative to the site root. */
    siteUrl(path) { return new URL(path, siteRoot()).href; },

    /** Fetch JSON from a site-root-relative path; rejects with a readable error. */
    fetchJSON(path) {
      const url = llmbook.siteUrl(path);
      if (!jsonCache.has(url)) {
        jsonCache.set(url, fetch(url).then((res) => {
          if (!res.ok) throw new Error(`could not load ${path}: HTTP ${res.status}`);
          return res.json();
        }));
      }
      return jsonCache.get(url);
    },

    /** Escape text for safe insertion into HTML. Prefer textContent; use this when building markup. */
    escape(text) {
      return String(text).replace(/[&<>"']/g, (c) => ({
        "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
      })[c]);
    },

    /** Create an element with attributes and children (strings become text nodes, never HTML). */
    el(tag, attrs, ...children) {
      const node = document.createElement(tag);
      for (const [k, v] of Object.entries(attrs || {})) {
        if (v === null || v === undefined || v === false) continue;
        if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
        else if (k === "class") node.className = v;
        else node.setAttribute(k, v === true ? "" : v);
      }
      for (const c of children.flat()) {
        if (c === null || c === undefined || c === false) continue;
        node.append(c instanceof Node ? c : document.createTextNode(String(c)));
      }
      return node;
    },

    /** Parse a number the way a reader types it: "0.66", ".66", "-1.2e-3", " 3 ". NaN if not a number. */
    parseNumber(text) {
      const t = String(text).trim().replace(/\u2212/g, "-");
      if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return NaN;
      return Number(t);
    },

    /** Register a widget initialiser; widgets of that name already on the page start at once. */
    widget(name, init) {
      registry[name] = init;
      if (document.readyState !== "loading") llmbook.initAll();
    },

    /** Initialise every registered widget element on the page that has not started yet. */
    async initAll(root) {
      const nodes = (root || document).querySelectorAll(".llmbook-widget[data-widget]:not([data-ready])");
      for (const node of nodes) {
        const init = registry[node.dataset.widget];
        if (!init) continue;  // its script may not have loaded yet
        node.setAttribute("data-ready", "pending");
        try {
          const data = node.dataset.src ? await llmbook.fetchJSON(node.dataset.src) : null;
          await init(node, data);
          node.setAttribute("data-ready", "true");
        } catch (err) {
          node.setAttribute("data-ready", "error");
          node.replaceChildren(llmbook.el("p", { class: "llmbook-error", role: "alert" },
            `This widget could not start: ${err.message}`));
          console.error(err);
        }
      }
    },

    /** After every script has loaded, a widget nobody registered is a bug: say so on the page. */
    reportUnknown() {
      for (const node of document.querySelectorAll(".llmbook-widget[data-widget]:not([data-ready])")) {
        node.setAttribute("data-ready", "error");
        node.replaceChildren(llmbook.el("p", { class: "llmbook-error", role: "alert" },
          `Unknown widget "${node.dataset.widget}".`));
        console.error(`llmbook: unknown widget "${node.dataset.widget}"`);
      }
    },
  };

  window.llmbook = llmbook;
  document.addEventListener("DOMContentLoaded", () => llmbook.initAll());
  window.addEventListener("load", () => llmbook.initAll().then(() => llmbook.reportUnknown()));
})();
