/* CPU against GPU: two grids of one matrix product's output cells, filled at the ratio of the
 * CPU's matmul FLOP/s measured when the site was built to a GPU's datasheet dense BF16 peak.
 * The numbers come from examples/hardware_roofline.py (llmbook.hardware.race); this file only shows them.
 *   <div class="llmbook-widget" data-widget="hardware-race" data-src="generated/hardware/race.json"></div>
 * With prefers-reduced-motion: reduce nothing moves by itself; Step and Play still work.
 */
llmbook.widget("hardware-race", (root, data) => {
  const el = llmbook.el;
  const uid = `race-${Math.random().toString(36).slice(2, 8)}`;
  const cells = data.side * data.side;
  const fmt = (x, digits = 0) => x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  const reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  let tick = 0, timer = null;

  const select = el("select", { id: `${uid}-gpu` },
    data.gpus.map((g, i) => el("option", { value: String(i) }, `${g.name} (${g.year})`)));
  select.value = String(data.default);
  const play = el("button", { type: "button", class: "llmbook-race-play" }, "Play");
  const step = el("button", { type: "button", class: "llmbook-race-step" }, "Step");
  const reset = el("button", { type: "button", class: "llmbook-race-reset" }, "Reset");

  function grid(cls) {
    const canvas = el("canvas", { width: String(data.side), height: String(data.side), class: "llmbook-race-canvas",
      role: "img" });
    const count = el("p", { class: `llmbook-race-count ${cls}` });
    return { canvas, count, box: el("div", { class: "llmbook-race-side" }, count, canvas) };
  }
  const cpu = grid("llmbook-race-cpu"), gpu = grid("llmbook-race-gpu");
  const caption = el("p", { class: "llmbook-race-caption" });

  const current = () => data.gpus[Number(select.value)];
  const filled = (perTick) => Math.min(cells, tick * perTick);

  function paint(side, n) {
    const ctx = side.canvas.getContext("2d");
    const style = getComputedStyle(root);
    ctx.fillStyle = style.getPropertyValue("--md-default-fg-color--lightest").trim() || "#ddd";
    ctx.clearRect(0, 0, data.side, data.side);
    ctx.fillRect(0, 0, data.side, data.side);
    ctx.fillStyle = style.getPropertyValue("--md-primary-fg-color").trim() || "#3f51b5";
    const rows = Math.floor(n / data.side);
    ctx.fillRect(0, 0, data.side, rows);
    ctx.fillRect(0, rows, n % data.side, 1);
  }

  function show() {
    const g = current();
    const nc = filled(data.cpu_cells), ng = filled(g.gpu_cells);
    root.dataset.tick = String(tick);
    root.dataset.cpuFilled = String(nc);
    root.dataset.gpuFilled = String(ng);
    cpu.count.textContent = `This CPU: ${fmt(nc)} of ${fmt(cells)} cells after ${fmt(tick)} ticks`;
    gpu.count.textContent = `${g.name}: ${fmt(ng)} of ${fmt(cells)} cells` + (ng >= cells ? `, done in ${fmt(Math.ceil(cells / g.gpu_cells))} ticks` : "");
    cpu.canvas.setAttribute("aria-label", `CPU grid, ${nc} of ${cells} cells computed`);
    gpu.canvas.setAttribute("aria-label", `${g.name} grid, ${ng} of ${cells} cells computed`);
    paint(cpu, nc);
    paint(gpu, ng);
    if (nc >= cells) stop();
  }

  function describe() {
    const g = current(), c = data.cpu;
    const datasheet = g.sparse || g.per > 1
      ? `published as ${fmt(g.published_tflops)} TFLOP/s` + (g.per > 1 ? ` for ${g.per} GPUs` : "") + (g.sparse ? " with 2:4 sparsity, halved" : "")
      : "as published";
    caption.textContent =
      `Measured ratio: ${fmt(g.ratio)}×. One tick is the time this CPU takes to compute ${fmt(data.cpu_cells)} output cell` +
      `${data.cpu_cells === 1 ? "" : "s"} of a ${data.side} × ${data.side} product with ${fmt(data.inner)} multiply-adds per cell: ` +
      `${fmt(data.tick_s * 1e9, 1)} ns at ${fmt(c.flops / 1e9)} GFLOP/s, its best ${c.dtype} matmul (${c.threads} thread` +
      `${c.threads === 1 ? "" : "s"}, n = ${c.n}), measured on the machine that built this page on ${data.date}. ` +
      `In the same time the ${g.name} completes ${fmt(g.gpu_cells_exact, 1)} cells at its datasheet's dense BF16 peak of ` +
      `${fmt(g.dense_tflops, 1)} TFLOP/s (${datasheet}; ${g.source})` +
      (g.capped ? `; the grid holds only ${fmt(cells)}, so it fills the whole grid in one tick.` : ".") +
      (g.note ? ` Note: ${g.note}.` : "");
  }

  function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    play.textContent = "Play";
  }
  function start() {
    if (filled(data.cpu_cells) >= cells) tick = 0;
    timer = setInterval(() => { tick += 1; show(); }, 100);
    play.textContent = "Pause";
  }
  play.addEventListener("click", () => (timer === null ? start() : stop()));
  step.addEventListener("click", () => { stop(); tick += 1; show(); });
  reset.addEventListener("click", () => { stop(); tick = 0; show(); });
  select.addEventListener("change", () => { describe(); show(); });

  root.replaceChildren(
    el("div", { class: "llmbook-race-controls" }, el("label", { for: select.id }, "GPU "), select, play, step, reset),
    el("div", { class: "llmbook-race-grids" }, cpu.box, gpu.box),
    caption);
  describe();
  show();
  // the palette switch changes the theme's colours: repaint the grids in the new ones
  new MutationObserver(show).observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
  root.dataset.autoplay = reduced ? "off" : "on";
  if (!reduced) start();
});
