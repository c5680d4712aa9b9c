/* Loss curve with samples: the tiny Llama's training and validation loss against characters seen,
 * and what it wrote at each evaluation. The numbers and texts come from examples/train_tiny.py,
 * which trained the model with llmbook.training; this file only shows them.
 *   <div class="llmbook-widget" data-widget="loss-curve" data-src="generated/training/curve.json"></div>
 */
llmbook.widget("loss-curve", (root, data) => {
  const el = llmbook.el;
  const NS = "http://www.w3.org/2000/svg";
  const uid = `loss-${Math.random().toString(36).slice(2, 8)}`;
  const W = 640, H = 260, L = 48, R = 12, T = 12, B = 36;
  const svgEl = (tag, attrs) => {
    const node = document.createElementNS(NS, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
    return node;
  };
  const runSelect = el("select", { id: `${uid}-run` },
    data.runs.map((r, i) => el("option", { value: String(i) }, `${r.name}: ${r.steps} steps, ${r.date}`)));
  const slider = el("input", { type: "range", id: `${uid}-eval`, min: "0", value: "0" });
  const label = el("p", { class: "loss-curve-label", "aria-live": "polite" });
  const sample = el("pre", { class: "loss-curve-sample" });
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", class: "loss-curve-plot" });

  function draw(run, k) {
    const maxX = Math.max(...run.val.map((v) => v[1]), ...run.train.map((t) => t[0]));
    const maxY = Math.ceil(Math.max(data.uniform_loss, ...run.val.map((v) => v[2])));
    const x = (tokens) => L + (W - L - R) * tokens / maxX;
    const y = (loss) => T + (H - T - B) * (1 - loss / maxY);
    svg.setAttribute("aria-label", `loss from ${run.val[0][2].toFixed(2)} to ${run.val[run.val.length - 1][2].toFixed(2)}`);
    const nodes = [];
    for (let v = 0; v <= maxY; v += 1) {
      nodes.push(svgEl("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "loss-curve-grid" }));
      const t = svgEl("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end", class: "loss-curve-tick" });
      t.textContent = String(v);
      nodes.push(t);
    }
    const xl = svgEl("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle", class: "loss-curve-tick" });
    xl.textContent = `characters seen (up to ${Math.round(maxX / 1000)} thousand); dashed: uniform guess ln ${data.vocab_size}`;
    nodes.push(xl);
    nodes.push(svgEl("line", { x1: L, x2: W - R, y1: y(data.uniform_loss), y2: y(data.uniform_loss), class: "loss-curve-uniform" }));
    nodes.push(svgEl("polyline", { points: run.train.map((t) => `${x(t[0])},${y(t[1])}`).join(" "), class: "loss-curve-train" }));
    nodes.push(svgEl("polyline", { points: run.val.map((v) => `${x(v[1])},${y(v[2])}`).join(" "), class: "loss-curve-val" }));
    run.val.forEach((v, i) => nodes.push(svgEl("circle", { cx: x(v[1]), cy: y(v[2]), r: i === k ? 6 : 3,
      class: i === k ? "loss-curve-point loss-curve-current" : "loss-curve-point" })));
    svg.replaceChildren(...nodes);
  }

  function show(k) {
    const run = data.runs[Number(runSelect.value)];
    k = Math.max(0, Math.min(run.samples.length - 1, k));
    slider.max = String(run.samples.length - 1);
    slider.value = String(k);
    const s = run.samples[k];
    label.textContent = `Step ${s.step} of ${run.steps}: validation loss ${s.loss.toFixed(2)} nats per character ` +
      `(perplexity ${Math.exp(s.loss).toFixed(1)}). Sampled at temperature 0.8 after "${data.prompt}":`;
    sample.textContent = s.text;
    draw(run, k);
  }
  slider.addEventListener("input", () => show(Number(slider.value)));
  runSelect.addEventListener("change", () => show(0));
  const prev = el("button", { type: "button", onclick: () => show(Number(slider.value) - 1) }, "◀ Earlier");
  const next = el("button", { type: "button", onclick: () => show(Number(slider.value) + 1) }, "Later ▶");
  root.replaceChildren(
    el("div", {}, el("label", { for: runSelect.id }, "Run "), runSelect),
    svg,
    el("div", {}, el("label", { for: slider.id }, "Evaluation "), slider, prev, next),
    label, sample);
  show(0);
});
