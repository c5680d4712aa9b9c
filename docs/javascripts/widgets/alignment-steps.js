/* The alignment steps, clickable: for each step (SFT, reward model, PPO, DPO, GRPO) a few of its real
 * training examples, its loss or reward curve, and the same held-out prompts answered before and after it.
 * Everything comes from the build's run of examples/align_run.py; this file only shows it.
 *   <div class="llmbook-widget" data-widget="alignment-steps" data-src="generated/alignment/steps.json"></div>
 * Tabs follow the WAI-ARIA tabs pattern: arrow keys, Home and End move between steps (roving tabindex).
 */
llmbook.widget("alignment-steps", (root, data) => {
  const el = llmbook.el;
  const NS = "http://www.w3.org/2000/svg";
  const uid = `align-${Math.random().toString(36).slice(2, 8)}`;
  const W = 320, H = 170, L = 46, R = 10, T = 10, B = 38;
  const svgEl = (tag, attrs, text) => {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  };
  const verdict = (a) => (a.correct ? "correct" : a.formatted ? "formatted, wrong sum" : "not formatted");

  function chart(curve) {
    const ys = curve.y, n = ys.length;
    const top = Math.max(...ys), bottom = Math.min(...ys);
    const flat = top - bottom < 1e-9;  // a flat curve: one tick, the line in the middle
    const lo = flat ? bottom - 0.5 : bottom, hi = flat ? top + 0.5 : top;
    const x = (i) => L + (W - L - R) * (n > 1 ? i / (n - 1) : 0.5);
    const y = (v) => T + (H - T - B) * (1 - (v - lo) / (hi - lo));
    const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "llmbook-align-plot",
      "aria-label": `${curve.title}: ${ys[0].toFixed(3)} at ${curve.x_label} 1, ${ys[n - 1].toFixed(3)} at ${n}` });
    svg.append(...[
      svgEl("line", { x1: L, x2: L, y1: T, y2: H - B, class: "llmbook-align-axis" }),
      svgEl("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "llmbook-align-axis" }),
      svgEl("text", { x: L - 4, y: y(top) + 4, "text-anchor": "end", class: "llmbook-align-tick" }, top.toFixed(2)),
      svgEl("text", { x: x(0), y: H - B + 14, "text-anchor": "middle", class: "llmbook-align-tick" }, "1"),
      svgEl("text", { x: x(n - 1), y: H - B + 14, "text-anchor": "middle", class: "llmbook-align-tick" }, String(n)),
      svgEl("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle", class: "llmbook-align-tick" }, curve.x_label),
      svgEl("text", { x: 12, y: (T + H - B) / 2, "text-anchor": "middle", class: "llmbook-align-tick",
        transform: `rotate(-90 12 ${(T + H - B) / 2})` }, curve.y_label),
      flat ? null : svgEl("text", { x: L - 4, y: y(bottom) + 4, "text-anchor": "end", class: "llmbook-align-tick" },
        bottom.toFixed(2)),
      svgEl("polyline", { points: ys.map((v, i) => `${x(i)},${y(v)}`).join(" "), class: "llmbook-align-line" })].filter(Boolean));
    ys.forEach((v, i) => svg.append(svgEl("circle", { cx: x(i), cy: y(v), r: 2.5, class: "llmbook-align-point" })));
    return el("figure", { class: "llmbook-align-figure" }, svg, el("figcaption", {}, curve.title));
  }

  function answer(a) {
    return el("div", { class: "llmbook-align-answer" },
      el("pre", { class: "llmbook-align-text" }, a.text),
      el("span", { class: `llmbook-align-verdict ${a.correct ? "ok" : "bad"}` }, `judge: ${verdict(a)}`),
      a.detail ? el("span", { class: "llmbook-align-detail" }, a.detail) : null);
  }

  function panelFor(step) {
    const examples = el("ol", { class: "llmbook-align-examples" }, step.examples.map((ex) =>
      el("li", {}, el("dl", {}, ex.fields.flatMap((f) => [el("dt", {}, f.label),
        el("dd", {}, f.pre ? el("pre", { class: "llmbook-align-text" }, f.text) : f.text)])))));
    const rows = data.prompts.map((p, i) => el("tr", {},
      el("th", { scope: "row" }, p), el("td", {}, answer(step.before.answers[i])),
      el("td", {}, answer(step.after.answers[i]))));
    const table = el("table", { class: "llmbook-align-table" },
      el("caption", {}, data.prompts_caption),
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, "held-out prompt"),
        el("th", { scope: "col" }, `before: ${step.before.label}`),
        el("th", { scope: "col" }, `after: ${step.after.label}`))),
      el("tbody", {}, rows));
    return [
      el("p", { class: "llmbook-align-what" }, el("strong", {}, `${step.title}. `), step.what),
      el("p", { class: "llmbook-align-label" }, step.examples_title), examples,
      el("div", { class: "llmbook-align-curves" }, step.curves.map(chart)),
      el("div", { class: "llmbook-align-scroll" }, table),
    ];
  }

  const tabs = data.steps.map((s, i) => el("button", { type: "button", role: "tab", id: `${uid}-tab-${i}`,
    "aria-controls": `${uid}-panel`, "aria-selected": "false", tabindex: "-1", "data-step": s.id }, s.name));
  const tablist = el("div", { role: "tablist", class: "llmbook-align-tabs", "aria-label": "Alignment steps" }, tabs);
  const panel = el("div", { role: "tabpanel", id: `${uid}-panel`, class: "llmbook-align-panel", tabindex: "0" });

  function select(k, focus) {
    k = (k + tabs.length) % tabs.length;
    tabs.forEach((t, i) => {
      t.setAttribute("aria-selected", String(i === k));
      t.tabIndex = i === k ? 0 : -1;
    });
    panel.setAttribute("aria-labelledby", tabs[k].id);
    panel.replaceChildren(...panelFor(data.steps[k]));
    root.dataset.step = data.steps[k].id;
    if (focus) tabs[k].focus();
  }
  tabs.forEach((t, i) => t.addEventListener("click", () => select(i, false)));
  tablist.addEventListener("keydown", (e) => {
    const k = tabs.indexOf(document.activeElement);
    if (k < 0) return;
    const to = { ArrowRight: k + 1, ArrowLeft: k - 1, Home: 0, End: tabs.length - 1 }[e.key];
    if (to === undefined) return;
    e.preventDefault();
    select(to, true);
  });
  root.replaceChildren(el("p", { class: "llmbook-align-intro" }, data.intro), tablist, panel);
  select(0, false);
});
