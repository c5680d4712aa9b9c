/* Exercise widget: an input box, a Check button, a hint and a worked solution.
 * The answer, tolerance, hint and solution steps come from JSON computed by
 * tools.by_hand at build time; nothing numeric is written in this file.
 *   <div class="llmbook-widget" data-widget="exercise" data-exercise="dot"
 *        data-src="generated/attention/exercises.json"></div>
 */
llmbook.widget("exercise", (root, data) => {
  const id = root.dataset.exercise;
  const ex = data.exercises.find((e) => e.id === id);
  if (!ex) throw new Error(`no exercise "${id}" in the data`);
  const el = llmbook.el;
  const inputId = `exercise-${id}-answer`;

  const input = el("input", { type: "text", id: inputId, inputmode: "decimal", autocomplete: "off",
    spellcheck: "false", "aria-describedby": `${inputId}-feedback`, size: "10" });
  const feedback = el("div", { class: "llmbook-feedback", id: `${inputId}-feedback`, role: "status",
    "aria-live": "polite" });
  const hint = el("div", { class: "llmbook-reveal llmbook-hint", hidden: true }, el("strong", {}, "Hint: "), ex.hint);
  const solution = el("div", { class: "llmbook-reveal llmbook-solution", hidden: true },
    el("strong", {}, "Worked solution"),
    el("ol", {}, ex.solution.map((step) => el("li", {}, step))));

  function check() {
    const value = llmbook.parseNumber(input.value);
    if (Number.isNaN(value)) {
      feedback.dataset.state = "invalid";
      feedback.textContent = input.value.trim() === ""
        ? "Type your answer first, for example 0.66 or .66."
        : `"${input.value.trim()}" is not a number I can read. Try a decimal such as 0.66, .66 or -1.4.`;
      return;
    }
    const correct = Math.abs(value - ex.answer) <= ex.tolerance;
    feedback.dataset.state = correct ? "correct" : "wrong";
    feedback.textContent = correct
      ? `Correct: ${value} is within ${ex.tolerance} of the exact answer.`
      : `Not yet: ${value} is off by more than ${ex.tolerance}. Check each step, or open the hint.`;
  }

  function toggle(button, panel, showLabel, hideLabel) {
    panel.hidden = !panel.hidden;
    button.textContent = panel.hidden ? showLabel : hideLabel;
    button.setAttribute("aria-expanded", String(!panel.hidden));
  }

  const checkBtn = el("button", { type: "button", class: "llmbook-check", onclick: check }, "Check");
  const hintBtn = el("button", { type: "button", class: "llmbook-hint-toggle", "aria-expanded": "false" }, "Show hint");
  hintBtn.addEventListener("click", () => toggle(hintBtn, hint, "Show hint", "Hide hint"));
  const solBtn = el("button", { type: "button", class: "llmbook-solution-toggle", "aria-expanded": "false" },
    "Show solution");
  solBtn.addEventListener("click", () => toggle(solBtn, solution, "Show solution", "Hide solution"));
  input.addEventListener("keydown", (ev) => { if (ev.key === "Enter") { ev.preventDefault(); check(); } });

  root.classList.add("llmbook-exercise");
  root.replaceChildren(
    el("div", {}, el("label", { for: inputId }, "Your answer"), input, checkBtn, hintBtn, solBtn),
    feedback, hint, solution);
});
