"""The tokenizer playground and BPE stepper of "Tokens", in Chromium: same ids as Python, text escaped."""

from __future__ import annotations

import json
import time

import pytest

from llmbook import tokenizer

TRICKY = [
    "Hello, world!",
    "  indented\n\tcode(x)  # comment\n\n",
    "don't WON'T it'S ſ I'll",
    "1234567890 3.14159 1,000,000",
    "naïve café Ελληνικά русский עברית العربية",
    "हिन्दी 漢字 ひらがな 한국어",
    "👩‍👩‍👧‍👦 👍🏽 🏳️‍🌈",
    "e\u0301 a\u0300\u0301 Z\u0351",
    "HTTPServer getHTTPResponse camelCase",
    "\x85\xa0\u2028\u3000 odd spaces\u00a0",
    "   \n\n   trailing   ",
    "<|endoftext|> is just text here",
]
NAMES = ["cl100k_base", "o200k_base", "book-4096"]


def python_tokenizer(name: str, site_dir) -> tokenizer.Tokenizer:
    if name == "book-4096":  # the exported one is what the browser uses; check it is the trained one
        return tokenizer.load(site_dir / "generated/tokens/book-4096.json")
    return tokenizer.load(name)


def open_playground(page, site_url):
    page.goto(site_url + "tokens/", wait_until="load")
    root = page.locator('.llmbook-widget[data-widget="tokens-playground"]')
    root.locator("textarea").wait_for()
    page.wait_for_function("document.querySelector('[data-widget=tokens-playground]').dataset.state === 'ready'")
    return root


def ids_after_typing(page, root, text: str) -> list[int]:
    page.evaluate("document.querySelector('[data-widget=tokens-playground]').dataset.state = 'busy'")
    root.locator("textarea").fill(text)
    page.wait_for_function("document.querySelector('[data-widget=tokens-playground]').dataset.state === 'ready'")
    return json.loads(root.get_attribute("data-ids"))


@pytest.mark.parametrize("name", NAMES)
def test_playground_ids_equal_python(page, site_url, site_dir, name):
    root = open_playground(page, site_url)
    root.get_by_label("Tokenizer").select_option(name)
    tok = python_tokenizer(name, site_dir)
    for text in TRICKY:
        assert ids_after_typing(page, root, text) == tok.encode_ordinary(text), (name, text)
    chips = root.locator(".tokens-chip")
    assert chips.count() == len(tok.encode_ordinary(TRICKY[-1]))
    assert not page.console_errors and not page.offsite_requests


def test_a_long_word_does_not_freeze_the_page(page, site_url):
    # one 400 kB piece: the quadratic merge loop would take minutes (128 kB took 9.9 s in Node) and
    # time out the wait in ids_after_typing; the heap merge takes about a second
    root = open_playground(page, site_url)
    text = "a" * 400_000
    started = time.perf_counter()
    ids = ids_after_typing(page, root, text)
    assert time.perf_counter() - started < 30
    assert ids == tokenizer.load("cl100k_base").encode_ordinary(text)
    assert root.locator(".tokens-chip").count() == 5000  # the first 5,000 of 50,000 are drawn
    assert "Showing the first 5,000." in root.locator(".llmbook-feedback").inner_text()
    assert not page.console_errors


def test_special_tokens_checkbox(page, site_url):
    root = open_playground(page, site_url)
    root.get_by_label("Encode special-token spellings", exact=False).check()
    text = "a<|endoftext|>b"
    assert ids_after_typing(page, root, text) == tokenizer.load("cl100k_base").encode(text, allowed_special="all")


def test_typed_markup_is_shown_as_text(page, site_url):
    root = open_playground(page, site_url)
    ids_after_typing(page, root, "<script>window.pwned=1</script><img src=x onerror=window.pwned=2>")
    assert page.evaluate("window.pwned") is None
    assert root.locator("script, img").count() == 0
    shown = "".join(root.locator(".tokens-chip-text").all_inner_texts())
    assert "<script>window.pwned=1</script>" in shown
    assert not page.console_errors


def test_stepper_shows_pythons_merges(page, site_url, site_dir):
    steps = json.loads((site_dir / "generated/tokens/stepper.json").read_text())["steps"]
    page.goto(site_url + "tokens/", wait_until="load")
    root = page.locator('.llmbook-widget[data-widget="tokens-stepper"]')
    root.locator("input[type=range]").wait_for()
    assert "Step 0" in root.locator(".tokens-step-label").inner_text()
    next_button = root.get_by_role("button", name="Next")
    for k in (1, 2, 3):
        next_button.click()
        merge = steps[k]["merge"]
        assert f"Step {k} of" in root.locator(".tokens-step-label").inner_text()
        assert f"→ \"{merge['token'].replace(' ', '·')}\"" in root.locator(".tokens-step-label").inner_text()
        assert root.locator(".tokens-merges li").count() == k
    assert not page.console_errors and not page.offsite_requests
