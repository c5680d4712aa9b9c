"""Write the files the site serves from itself into ``docs/assets/`` (git-ignored), before the site build.

    python -m tools.site_assets

- MathJax 3.2.2 comes from the pinned ``django-static-mathjax`` wheel (its ``es5``
  build), copied to ``docs/assets/mathjax/...``.
- The text and code fonts, DejaVu Sans and DejaVu Sans Mono, come from the pinned
  ``matplotlib`` wheel (its ``mpl-data/fonts/ttf``), converted to WOFF with the pinned
  ``fonttools``, as ``docs/assets/fonts/...``, with ``docs/assets/fonts/fonts.css``
  (written here) naming them. A page then looks the same on every machine, whatever
  fonts it has.

They are ordinary static files, so any site builder that reads mkdocs.yml copies them
(mkdocs.yml's ``extra_css`` and ``extra_javascript`` name the two entry points). The
step is skipped when ``docs/assets/`` already holds what this code and these package
versions write (``docs/assets/.stamp``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "docs" / "assets"
STAMP = ASSETS / ".stamp"

MATHJAX_PARTS = ["tex-mml-chtml.js", "input", "output/chtml", "ui", "a11y", "sre", "adaptors"]
# font file stem -> the family name pages use (the book's own, so a locally installed DejaVu of
# another version is never used instead); face suffix -> (CSS font-style, font-weight range)
FAMILIES = {"DejaVuSans": "llmbook Sans", "DejaVuSansMono": "llmbook Mono"}
FACES = {"": ("normal", "100 500"), "-Bold": ("normal", "600 900"), "-Oblique": ("italic", "100 500"),
         "-BoldOblique": ("italic", "600 900")}
FONTS = [stem + face + ".ttf" for stem in FAMILIES for face in FACES]


def fonts_css() -> str:
    """``assets/fonts/fonts.css``: one @font-face per file, and the two variables mkdocs-material reads
    for all text (``--md-text-font``) and all code (``--md-code-font``)."""
    lines = ["/* The book's fonts, served by the site itself (tools/site_assets.py). Licence: LICENSE_DEJAVU. */"]
    for stem, family in FAMILIES.items():
        for face, (style, weight) in FACES.items():
            lines.append(f'@font-face {{ font-family: "{family}"; font-style: {style}; font-weight: {weight}; '
                         f'font-display: swap; src: url("{stem}{face}.woff") format("woff"); }}')
    text, code = FAMILIES.values()
    lines.append(f':root {{ --md-text-font: "{text}"; --md-code-font: "{code}"; }}')
    return "\n".join(lines) + "\n"


def package_dir(name: str, why: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{why} is missing: install the pinned environment (make site)")
    return Path(list(spec.submodule_search_locations)[0])


def mathjax_root() -> Path:
    return package_dir("mathjax", "MathJax (django-static-mathjax)") / "static" / "mathjax" / "es5"


def fonts_root() -> Path:
    return package_dir("matplotlib", "matplotlib (which ships the book's fonts)") / "mpl-data" / "fonts" / "ttf"


def woff(path: Path) -> bytes:
    """The TrueType font at ``path`` as WOFF: the same font, about half the bytes."""
    from fontTools.ttLib import TTFont

    font = TTFont(path)
    font.flavor = "woff"
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def stamp() -> str:
    """What decides the written files: this module's code and the three packages' versions."""
    h = hashlib.sha256(Path(__file__).read_bytes())
    for dist in ("django-static-mathjax", "matplotlib", "fonttools"):
        h.update(f"{dist}=={importlib.metadata.version(dist)}".encode())
    return h.hexdigest()


def write(assets: Path = ASSETS) -> bool:
    """Write MathJax and the fonts into ``assets``; False (nothing done) when they are up to date."""
    key = stamp()
    marker = assets / ".stamp"
    if marker.is_file() and marker.read_text() == key:
        return False
    mathjax, fonts = mathjax_root(), fonts_root()
    missing = [name for name in FONTS if not (fonts / name).is_file()]
    if missing:
        raise SystemExit(f"fonts {', '.join(missing)} are missing from {fonts}: install the pinned matplotlib")
    for sub in ("mathjax", "fonts"):
        shutil.rmtree(assets / sub, ignore_errors=True)
    for part in MATHJAX_PARTS:
        source, target = mathjax / part, assets / "mathjax" / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_file():
            shutil.copyfile(source, target)
        else:
            shutil.copytree(source, target)
    (assets / "fonts").mkdir(parents=True)
    for name in FONTS:
        (assets / "fonts" / name.replace(".ttf", ".woff")).write_bytes(woff(fonts / name))
    shutil.copyfile(fonts / "LICENSE_DEJAVU", assets / "fonts" / "LICENSE_DEJAVU")
    (assets / "fonts" / "fonts.css").write_text(fonts_css(), encoding="utf-8")
    marker.write_text(key)
    return True


def main() -> int:
    wrote = write()
    print(f"site assets: {'written to' if wrote else 'up to date in'} {ASSETS.relative_to(ROOT)}/", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
