"""Browser tests: build the site once, serve it on 127.0.0.1, drive Debian's Chromium.

Fixtures:
- ``site_dir``: the built site (the examples and ``tools.site_assets`` first, then
  ``mkdocs build --strict`` into a temporary folder), or the one already built in
  ``$LLMBOOK_SITE_DIR`` when that is set.
- ``site_url``: the base URL it is served at, e.g. ``http://127.0.0.1:40123/``.
- ``page``: a fresh Playwright page whose ``console_errors`` and ``offsite_requests``
  lists record every console error, page error and request to another host. A
  test that fails leaves a screenshot in ``test-artifacts/``.
"""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tools.browser import chromium

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session")
def site_dir(tmp_path_factory) -> Path:
    prebuilt = os.environ.get("LLMBOOK_SITE_DIR")
    if prebuilt:  # a site built already with `mkdocs build --strict --site-dir DIR`
        if not (Path(prebuilt) / "index.html").is_file():
            pytest.fail(f"LLMBOOK_SITE_DIR={prebuilt} holds no built site (no index.html)")
        return Path(prebuilt)
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", TIKTOKEN_CACHE_DIR="")
    subprocess.run([sys.executable, "-m", "tools.run_examples"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "-m", "tools.site_assets"], cwd=ROOT, env=env, check=True)
    out = tmp_path_factory.mktemp("site")
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{proc.stdout}\n{proc.stderr}")
    return out


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="session")
def site_url(site_dir) -> str:
    handler = functools.partial(_QuietHandler, directory=str(site_dir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    with chromium() as browser:
        yield browser


@pytest.fixture
def page(browser, site_url, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    own_host = urlparse(site_url).netloc
    page.console_errors = []
    page.offsite_requests = []
    page.on("console", lambda msg: msg.type == "error" and page.console_errors.append(msg.text))
    page.on("pageerror", lambda exc: page.console_errors.append(f"page error: {exc}"))

    def on_request(req):
        url = urlparse(req.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.netloc != own_host:
            page.offsite_requests.append(req.url)

    page.on("request", on_request)
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        name = "".join(c if c.isalnum() else "_" for c in request.node.nodeid)[-120:]
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        except Exception:  # the page may be gone; the failure itself is what matters
            pass
    context.close()
