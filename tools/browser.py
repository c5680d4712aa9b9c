"""Headless Chromium for the build's browser benchmarks and the browser tests.

Debian's ``chromium`` driven by Playwright (never a downloaded browser), and a small local
server for the files a page needs: nothing is requested off 127.0.0.1.

    with serve({"/": html, "/model.gguf": path, "/javascripts/": folder}) as url, chromium() as browser:
        page = browser.new_page(); page.goto(url)
"""

from __future__ import annotations

import contextlib
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tools.ensure_chromium import ensure_chromium

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--disable-sync"]
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
         ".wasm": "application/wasm", ".json": "application/json"}


def _handler(routes: dict[str, str | Path]) -> type[http.server.BaseHTTPRequestHandler]:
    """Routes: an exact path to a file or to a page's text (str); a path ending in "/" to a folder."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0]
            target = routes.get(path)
            if target is None:
                for prefix, folder in routes.items():
                    if prefix.endswith("/") and path.startswith(prefix) and isinstance(folder, Path):
                        candidate = (folder / path[len(prefix):]).resolve()
                        if candidate.is_file() and candidate.is_relative_to(folder.resolve()):
                            target = candidate
                        break
            if target is None:
                self.send_error(404)
                return
            if isinstance(target, str):
                body = target.encode("utf-8")
                self._head(len(body), TYPES[".html"])
                self.wfile.write(body)
                return
            self._head(target.stat().st_size, TYPES.get(target.suffix, "application/octet-stream"))
            with target.open("rb") as f:
                shutil.copyfileobj(f, self.wfile)

        def _head(self, length: int, kind: str) -> None:
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(length))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def serve(routes: dict[str, str | Path]) -> Iterator[str]:
    """Serve ``routes`` on 127.0.0.1 (a free port) while the block runs; yields the base URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(routes))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium (Playwright's Browser) for the block; Debian's package is installed if missing."""
    from playwright.sync_api import sync_playwright

    executable = ensure_chromium()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            yield browser
        finally:
            browser.close()
