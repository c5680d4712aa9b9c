"""MkDocs hooks: serve MathJax and the fonts from the site itself and load every widget script.

- MathJax 3.2.2 comes from the pinned ``django-static-mathjax`` wheel (its ``es5``
  build); the files are added to the build as ``assets/mathjax/...`` without being
  copied into ``docs/``.
- The text and code fonts, DejaVu Sans and DejaVu Sans Mono, come from the pinned
  ``matplotlib`` wheel (its ``mpl-data/fonts/ttf``), converted to WOFF with the pinned
  ``fonttools``, as ``assets/fonts/...``, with ``assets/fonts/fonts.css`` (written here)
  naming them. A page then looks the same on every machine, whatever fonts it has.
- Every ``docs/javascripts/widgets/*.js`` is appended to ``extra_javascript`` so a
  new widget needs no edit to mkdocs.yml.
- The build stops early, with one clear line, if the example outputs are missing.
"""

from __future__ import annotations

import importlib.util
import io
import logging
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.hooks.llmbook")

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
    lines = ["/* The book's fonts, served by the site itself (tools/mkdocs_hooks.py). Licence: LICENSE_DEJAVU. */"]
    for stem, family in FAMILIES.items():
        for face, (style, weight) in FACES.items():
            lines.append(f'@font-face {{ font-family: "{family}"; font-style: {style}; font-weight: {weight}; '
                         f'font-display: swap; src: url("{stem}{face}.woff") format("woff"); }}')
    text, code = FAMILIES.values()
    lines.append(f':root {{ --md-text-font: "{text}"; --md-code-font: "{code}"; }}')
    return "\n".join(lines) + "\n"


def mathjax_root() -> Path:
    spec = importlib.util.find_spec("mathjax")
    if spec is None or not spec.submodule_search_locations:
        raise PluginError("MathJax is missing: install the pinned environment with `make site`")
    return Path(list(spec.submodule_search_locations)[0]) / "static" / "mathjax" / "es5"


def fonts_root() -> Path:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise PluginError("matplotlib (which ships the book's fonts) is missing: install the pinned environment")
    return Path(list(spec.submodule_search_locations)[0]) / "mpl-data" / "fonts" / "ttf"


def woff(path: Path) -> bytes:
    """The TrueType font at ``path`` as WOFF: the same font, about half the bytes."""
    from fontTools.ttLib import TTFont

    font = TTFont(path)
    font.flavor = "woff"
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    docs = Path(config.docs_dir)
    if not (docs / "generated").is_dir():
        raise PluginError("docs/generated/ is missing: run `make examples` (or `make site`) first")
    widgets = sorted((docs / "javascripts" / "widgets").glob("*.js"))
    for path in widgets:
        uri = path.relative_to(docs).as_posix()
        if uri not in [str(s) for s in config.extra_javascript]:
            config.extra_javascript.append(uri)
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    root = mathjax_root()
    for part in MATHJAX_PARTS:
        base = root / part
        paths = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for path in paths:
            uri = "assets/mathjax/" + path.relative_to(root).as_posix()
            files.append(File.generated(config, uri, abs_src_path=str(path)))
    fonts = fonts_root()
    for name in FONTS:
        if not (fonts / name).is_file():
            raise PluginError(f"font {name} is missing from {fonts}: install the pinned matplotlib")
        files.append(File.generated(config, "assets/fonts/" + name.replace(".ttf", ".woff"), content=woff(fonts / name)))
    files.append(File.generated(config, "assets/fonts/LICENSE_DEJAVU", abs_src_path=str(fonts / "LICENSE_DEJAVU")))
    files.append(File.generated(config, "assets/fonts/fonts.css", content=fonts_css()))
    return files
