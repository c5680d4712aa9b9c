"""The hardware chapter's CPU-against-GPU race, in Chromium: it steps by the exported rates, says the
measured ratio, plays and pauses from the keyboard, and stays still under reduced motion."""

from __future__ import annotations

import json

WIDGET = '.llmbook-widget[data-widget="hardware-race"]'


def load(site_dir) -> dict:
    return json.loads((site_dir / "generated/hardware/race.json").read_text())


def counts(root) -> tuple[int, int, int]:
    return (int(root.get_attribute("data-tick")), int(root.get_attribute("data-cpu-filled")),
            int(root.get_attribute("data-gpu-filled")))


def open_race(page, site_url, reduced: bool):
    page.emulate_media(reduced_motion="reduce" if reduced else "no-preference")
    page.goto(site_url + "hardware/", wait_until="load")
    root = page.locator(WIDGET)
    page.wait_for_function(f"document.querySelector('{WIDGET}').dataset.ready === 'true'")
    return root


def test_exported_rates_follow_the_gpu_table(site_dir):
    from llmbook.hardware.gpus import GPUS
    from llmbook.hardware.race import race

    data = load(site_dir)
    assert [g["name"] for g in data["gpus"]] == [g.name for g in GPUS]
    for g, spec in zip(data["gpus"], GPUS):
        r = race(data["cpu"]["flops"], spec.dense("bf16_tflops") * 1e12, side=data["side"], inner=data["inner"])
        assert (g["gpu_cells"], g["capped"]) == (r.gpu_cells, r.capped)
        assert g["ratio"] == r.ratio  # same float64 division of the same two numbers


def test_step_advances_by_the_data_and_caption_names_the_ratio(page, site_url, site_dir):
    data = load(site_dir)
    root = open_race(page, site_url, reduced=True)
    assert root.get_attribute("data-autoplay") == "off"
    g = data["gpus"][data["default"]]
    caption = root.locator(".llmbook-race-caption").inner_text()
    assert f"Measured ratio: {g['ratio']:,.0f}×" in caption
    assert data["date"] in caption and f"{data['cpu']['flops'] / 1e9:,.0f} GFLOP/s" in caption
    assert counts(root) == (0, 0, 0)
    root.get_by_role("button", name="Step").click()
    cells = data["side"] ** 2
    assert counts(root) == (1, data["cpu_cells"], min(cells, g["gpu_cells"]))
    root.get_by_role("button", name="Step").click()
    assert counts(root) == (2, 2 * data["cpu_cells"], min(cells, 2 * g["gpu_cells"]))
    # another GPU: same ticks, its own rate, its own ratio in the caption
    root.get_by_label("GPU").select_option("0")
    v100 = data["gpus"][0]
    assert counts(root) == (2, 2 * data["cpu_cells"], min(cells, 2 * v100["gpu_cells"]))
    assert f"Measured ratio: {v100['ratio']:,.0f}×" in root.locator(".llmbook-race-caption").inner_text()
    root.get_by_role("button", name="Reset").click()
    assert counts(root) == (0, 0, 0)
    assert not page.console_errors and not page.offsite_requests


def test_reduced_motion_stays_still_and_keyboard_plays(page, site_url):
    root = open_race(page, site_url, reduced=True)
    page.wait_for_timeout(400)  # four ticks' worth of time
    assert counts(root)[0] == 0
    step = root.get_by_role("button", name="Step")
    step.focus()
    page.keyboard.press("Enter")
    assert counts(root)[0] == 1
    page.keyboard.press("Shift+Tab")  # back to Play
    page.keyboard.press("Space")
    page.wait_for_function(f"+document.querySelector('{WIDGET}').dataset.tick >= 3", timeout=5_000)
    assert root.get_by_role("button", name="Pause").is_visible()
    page.keyboard.press("Space")
    stopped = counts(root)[0]
    page.wait_for_timeout(300)
    assert counts(root)[0] == stopped and root.get_by_role("button", name="Play").is_visible()
    assert not page.console_errors and not page.offsite_requests


def test_plays_by_itself_without_reduced_motion(page, site_url):
    root = open_race(page, site_url, reduced=False)
    assert root.get_attribute("data-autoplay") == "on"
    page.wait_for_function(f"+document.querySelector('{WIDGET}').dataset.tick >= 2", timeout=5_000)
    root.get_by_role("button", name="Pause").click()
    assert root.get_by_role("button", name="Play").is_visible()
    assert not page.console_errors and not page.offsite_requests
