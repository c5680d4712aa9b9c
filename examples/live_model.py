"""The model file for the live widgets: the GGUF the chapters read, cut into parts for the browser.

Writes generated/model/manifest.json, the parts it names (tools.model_parts) and
generated/model/download.txt, the Playground's sentence about what the button downloads.
"""

from __future__ import annotations

from llmbook.models.registry import model_path
from tools.export import generated_path
from tools.model_parts import PART_BYTES, mib, write_parts


def sentence(manifest: dict) -> str:
    n = len(manifest["parts"])
    return (f"The button downloads `{manifest['file']}`, {manifest['bytes']:,} bytes ({mib(manifest['bytes'])}), "
            f"in {n} parts of at most {mib(PART_BYTES)}, each checked against its SHA-256 "
            f"(model version `{manifest['version']}`).")


def main() -> None:
    manifest = write_parts(model_path("smollm2-135m-instruct"))
    generated_path("model/download.txt").write_text(sentence(manifest) + "\n", encoding="utf-8")
    print(f"wrote {len(manifest['parts'])} parts of {manifest['file']} ({manifest['bytes']:,} bytes), "
          f"version {manifest['version']}")


if __name__ == "__main__":
    main()
