"""The training chapter's loss-curve widget: it shows the exported run, point and sample, in Chromium."""

from __future__ import annotations

import json


def test_exported_curve_matches_the_run(site_dir):
    curve = json.loads((site_dir / "generated/training/curve.json").read_text())
    run = json.loads((site_dir / "generated/training/tiny_run.json").read_text())
    first = curve["runs"][0]
    assert first["val"] == run["val"] and first["samples"] == run["samples"]
    assert [s["step"] for s in first["samples"]] == [v[0] for v in first["val"]]  # a sample per evaluation
    assert curve["uniform_loss"] == run["uniform_loss"]


def test_slider_shows_each_evaluation(page, site_url, site_dir):
    curve = json.loads((site_dir / "generated/training/curve.json").read_text())
    page.goto(site_url + "training/", wait_until="load")
    root = page.locator('.llmbook-widget[data-widget="loss-curve"]')
    root.locator("svg circle").first.wait_for()
    run = curve["runs"][0]
    assert root.locator("svg circle").count() == len(run["val"])
    for k in (0, len(run["samples"]) - 1):
        root.locator("input[type=range]").fill(str(k))
        sample = run["samples"][k]
        assert f"Step {sample['step']} of {run['steps']}" in root.locator(".loss-curve-label").inner_text()
        assert root.locator(".loss-curve-sample").inner_text() == sample["text"]
        assert root.locator("circle.loss-curve-current").count() == 1
    root.get_by_role("button", name="◀ Earlier").click()
    assert f"Step {run['samples'][-2]['step']} " in root.locator(".loss-curve-label").inner_text()
    if len(curve["runs"]) > 1:  # the committed record, when the build has one
        root.locator("select").select_option("1")
        assert root.locator("svg circle").count() == len(curve["runs"][1]["val"])
    assert not page.console_errors and not page.offsite_requests
