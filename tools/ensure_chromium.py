"""Make sure Debian's Chromium is there for the browser tests; install it where we can.

    python -m tools.ensure_chromium

Playwright drives the system ``chromium`` (never a downloaded browser). As root on
Debian the package is installed with apt-get; otherwise one line says how.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

HOW = "Chromium is missing for the browser tests: install Debian's package with `sudo apt-get install -y chromium`."


def ensure_chromium() -> str:
    """Path of the chromium binary, installing Debian's package first when possible."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        print("chromium not found: installing Debian's chromium package (about a minute) ...", flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"]
        if subprocess.run(cmd, env=env).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env)
            subprocess.run(cmd, env=env)
        found = shutil.which("chromium")
        if found:
            return found
    raise SystemExit(HOW)


if __name__ == "__main__":
    print(f"chromium: {ensure_chromium()}")
    sys.exit(0)
