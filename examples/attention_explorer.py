"""Data for the attention explorer widget: SmolLM2's attention weights for a few sentences.

Writes generated/model/attention.json: for each sentence its tokens and, per layer,
the 9 heads' (T, T) weight matrices followed by their average, rounded to 3 decimals.
Only the causal part is stored: row q holds the weights on keys 0..q (the rest are 0).
"""

from __future__ import annotations

from tools.export import write_json
from llmbook.models.llama import attention_maps, load_model

SENTENCES = [
    "The cat sat on the comfortable mat",
    "The trophy did not fit in the suitcase because it was too big",
    "Alice gave Bob the book, and he thanked her",
]
DECIMALS = 3


def export(model, text: str) -> dict:  # noqa: ANN001
    ids = model.tokenizer.encode(text)
    maps = attention_maps(model, ids)  # (L, H, T, T)
    with_mean = [[*layer, layer.mean(dim=0)] for layer in maps]  # heads, then their average
    weights = [
        [[[round(float(v), DECIMALS) for v in row[: q + 1]] for q, row in enumerate(m)] for m in layer]
        for layer in with_mean
    ]
    return {"text": text, "tokens": [model.tokenizer.token_text(i) for i in ids], "ids": ids, "weights": weights}


def main() -> None:
    model = load_model("smollm2-135m-instruct")
    data = {
        "n_layers": model.config.n_layers,
        "n_heads": model.config.n_heads,
        "n_kv_heads": model.config.n_kv_heads,
        "decimals": DECIMALS,
        "sentences": [export(model, s) for s in SENTENCES],
    }
    path = write_json("model/attention.json", data)
    print(f"wrote {path.name}: {len(SENTENCES)} sentences, {path.stat().st_size / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
