"""The alignment chapter's steps widget, in Chromium: each tab shows its step's exported examples, curves and
before/after answers, the tabs work from the keyboard, and the widget fits a phone."""

from __future__ import annotations

import json

import pytest
import torch
from a11y import A11Y, CONTRAST

from llmbook.alignment.grpo import group_advantages
from llmbook.alignment.task import judge, make_problems

WIDGET = '.llmbook-widget[data-widget="alignment-steps"]'


@pytest.fixture(scope="module")
def exported(site_dir) -> tuple[dict, dict]:
    folder = site_dir / "generated/alignment"
    return json.loads((folder / "steps.json").read_text()), json.loads((folder / "run.json").read_text())


def test_exported_steps_are_the_runs(exported) -> None:
    steps, run = exported
    by_id = {s["id"]: s for s in steps["steps"]}
    assert list(by_id) == ["sft", "rm", "ppo", "dpo", "grpo"]
    assert by_id["sft"]["curves"][0]["y"] == run["sft_loss"] and by_id["rm"]["curves"][0]["y"] == run["rm_loss"]
    assert by_id["dpo"]["curves"][0]["y"] == run["dpo_loss"]
    assert [c["y"] for c in by_id["ppo"]["curves"]] == [[r[k] for r in run["ppo"]] for k in ("score", "kl", "correct")]
    assert by_id["grpo"]["curves"][0]["y"] == [r["reward"] for r in run["grpo"]]
    # the held-out prompts are the run's first test problems, never trained on; every verdict is the judge's
    train, test = make_problems(run["train"], run["test"], 0)
    shown = test[:len(steps["prompts"])]
    assert steps["prompts"] == run["held_out"] == [p.messages()[0]["content"] for p in shown]
    assert not set(shown) & set(train)
    for s in steps["steps"]:
        for side in ("before", "after"):
            answers = s[side]["answers"]
            assert [{k: a[k] for k in ("text", "correct", "formatted")} for a in answers] == \
                run["stages"][s[side]["stage"]]["answers"]
            for p, a in zip(shown, answers):
                v = judge(p, a["text"])
                assert (v.correct, v.formatted) == (a["correct"], a["formatted"])
    assert [s["after"]["stage"] for s in steps["steps"]] == ["SFT", f"RM best-of-{run['best_of']}", "PPO", "DPO",
                                                             "GRPO"]
    group = run["examples"]["grpo"]["completions"]
    advantages = group_advantages(torch.tensor([c["reward"] for c in group]), len(group)).tolist()
    assert [c["advantage"] for c in group] == pytest.approx(advantages, abs=1e-6)


def open_widget(page, site_url):
    page.goto(site_url + "alignment/", wait_until="load")
    page.wait_for_function(f"document.querySelector('{WIDGET}').dataset.ready === 'true'")
    return page.locator(WIDGET)


def test_each_tab_shows_its_steps_data(page, site_url, exported) -> None:
    steps, _ = exported
    root = open_widget(page, site_url)
    tabs = root.get_by_role("tab")
    assert tabs.count() == len(steps["steps"])
    panel = root.get_by_role("tabpanel")
    for k, step in enumerate(steps["steps"]):
        tabs.nth(k).click()
        assert root.get_attribute("data-step") == step["id"]
        assert tabs.nth(k).get_attribute("aria-selected") == "true"
        assert panel.get_attribute("aria-labelledby") == tabs.nth(k).get_attribute("id")
        # the examples: every field's label and text, in order
        examples = panel.locator(".llmbook-align-examples > li")
        assert examples.count() == len(step["examples"])
        for i, ex in enumerate(step["examples"]):
            assert examples.nth(i).locator("dt").all_inner_texts() == [f["label"] for f in ex["fields"]]
            shown = examples.nth(i).locator("dd").evaluate_all("ds => ds.map(d => d.textContent)")
            assert shown == [f["text"] for f in ex["fields"]]
        # the curves: one chart each, a point per step, axis labels from the data
        figures = panel.locator("figure")
        assert figures.count() == len(step["curves"])
        for i, curve in enumerate(step["curves"]):
            fig = figures.nth(i)
            assert fig.locator("svg circle").count() == len(curve["y"])
            assert fig.locator("figcaption").inner_text() == curve["title"]
            labels = fig.locator("svg text").all_text_contents()
            assert curve["x_label"] in labels and curve["y_label"] in labels and str(len(curve["y"])) in labels
            ticks = [float(t) for t in labels if t.replace(".", "", 1).lstrip("-").isdigit() and "." in t]
            # the y ticks: the curve's top and bottom to 2 decimals (JavaScript's and Python's rounding of a tie
            # can differ in the last digit)
            expected = [max(curve["y"]), min(curve["y"])] if max(curve["y"]) > min(curve["y"]) else [curve["y"][0]]
            assert ticks == pytest.approx(expected, abs=0.0051)
        # before and after: the same held-out prompts, each answer with the judge's verdict
        rows = panel.locator("table tbody tr")
        assert rows.count() == len(steps["prompts"])
        head = panel.locator("table thead th").all_inner_texts()
        assert head[1:] == [f"before: {step['before']['label']}", f"after: {step['after']['label']}"]
        for i, prompt in enumerate(steps["prompts"]):
            row = rows.nth(i)
            assert row.locator("th").inner_text() == prompt
            for j, side in enumerate(("before", "after")):
                a = step[side]["answers"][i]
                cell = row.locator("td").nth(j)
                assert cell.locator("pre").evaluate("p => p.textContent") == a["text"]
                verdict = "correct" if a["correct"] else "formatted, wrong sum" if a["formatted"] else "not formatted"
                assert cell.locator(".llmbook-align-verdict").inner_text() == f"judge: {verdict}"
                if a.get("detail"):
                    assert cell.locator(".llmbook-align-detail").inner_text() == a["detail"]
    assert not page.console_errors and not page.offsite_requests


def test_tabs_work_from_the_keyboard(page, site_url, exported) -> None:
    steps, _ = exported
    ids = [s["id"] for s in steps["steps"]]
    root = open_widget(page, site_url)
    tabs = root.get_by_role("tab")

    def state() -> tuple[str, str, list[str]]:
        focused = page.evaluate("() => document.activeElement.dataset.step || ''")
        return root.get_attribute("data-step"), focused, [t.get_attribute("tabindex") for t in tabs.all()]

    def roving(k: int) -> list[str]:
        return ["0" if i == k else "-1" for i in range(len(ids))]

    assert root.get_attribute("data-step") == ids[0] and state()[2] == roving(0)
    tabs.nth(0).focus()
    page.keyboard.press("ArrowRight")
    assert state() == (ids[1], ids[1], roving(1))
    page.keyboard.press("End")
    assert state() == (ids[-1], ids[-1], roving(len(ids) - 1))
    page.keyboard.press("ArrowRight")  # wraps around
    assert state() == (ids[0], ids[0], roving(0))
    page.keyboard.press("ArrowLeft")
    assert state() == (ids[-1], ids[-1], roving(len(ids) - 1))
    page.keyboard.press("Home")
    assert state() == (ids[0], ids[0], roving(0))
    page.keyboard.press("Tab")  # out of the tab list, into the panel
    assert page.evaluate("() => document.activeElement.getAttribute('role')") == "tabpanel"
    assert not page.console_errors and not page.offsite_requests


def test_fits_a_phone_and_passes_the_a11y_checks_on_every_tab(page, site_url, exported) -> None:
    steps, _ = exported
    page.set_viewport_size({"width": 375, "height": 800})
    root = open_widget(page, site_url)
    for k in range(len(steps["steps"])):
        root.get_by_role("tab").nth(k).click()
        assert page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth") <= 1, k
        box = root.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 375 + 1, (k, box)
        a11y = page.evaluate(A11Y)
        assert not a11y["unlabelled"] and not a11y["noAlt"], (k, a11y)
        for scheme in ("slate", "default"):
            page.evaluate(f"() => document.body.setAttribute('data-md-color-scheme', '{scheme}')")
            assert not page.evaluate(CONTRAST), (k, scheme)
    assert not page.console_errors and not page.offsite_requests
