"""Data and figure for "Embeddings": real SmolLM2 embedding rows, their nearest neighbours, a 2-D projection.

- generated/model/embeddings.json: for each word of a few sets, its token id, vector
  (3 decimals), length, and 8 nearest tokens of the whole vocabulary by cosine
- generated/model/embeddings_2d.svg: the words projected onto two principal directions
- generated/model/contextual_bank.svg: cosine similarity of " bank" in three sentences,
  block by block through the residual stream (static after 0 blocks, contextual after)
"""

from __future__ import annotations

import matplotlib.pyplot as plt

from tools.export import save_figure, write_json
from llmbook.models.llama import Llama, load_model
from llmbook.models.embedding_space import cosine_similarity, nearest_tokens, pca_2d, residual_stream

WORD_SETS = {
    "countries": [" France", " Germany", " Italy", " Spain", " Japan", " China"],
    "capitals": [" Paris", " Berlin", " Rome", " Madrid", " Tokyo", " Beijing"],
    "royalty": [" king", " queen", " prince", " princess", " emperor"],
    "numbers": [" one", " two", " three", " four", " five", " seven"],
    "colours": [" red", " blue", " green", " yellow", " purple"],
}


def main() -> None:
    model = load_model("smollm2-135m-instruct")
    weight, tok = model.embed.weight, model.tokenizer
    words, groups, ids = [], [], []
    for group, ws in WORD_SETS.items():
        for w in ws:
            token_ids = tok.encode(w)
            assert len(token_ids) == 1, f"{w!r} is {len(token_ids)} tokens"
            words.append(w)
            groups.append(group)
            ids.append(token_ids[0])

    entries = []
    for w, g, i in zip(words, groups, ids):
        row = weight[i]
        entries.append({
            "word": w, "group": g, "id": i, "norm": round(row.norm().item(), 4),
            "vector": [round(v, 3) for v in row.tolist()],
            "neighbours": [{"id": j, "token": tok.token_text(j), "cosine": round(s, 4)}
                           for j, s in nearest_tokens(weight, i, 8)],
        })
    write_json("model/embeddings.json", {"dim": weight.shape[1], "words": entries})

    xy = pca_2d(weight[ids])
    fig, ax = plt.subplots(figsize=(7, 5))
    colors = dict(zip(WORD_SETS, ["#3f51b5", "#ff7043", "#8e24aa", "#2e7d32", "#f9a825"]))
    for group in WORD_SETS:
        sel = [k for k, g in enumerate(groups) if g == group]
        ax.scatter(xy[sel, 0], xy[sel, 1], color=colors[group], label=group, s=30)
        for k in sel:
            ax.annotate(words[k].strip(), (xy[k, 0].item(), xy[k, 1].item()), xytext=(4, 3),
                        textcoords="offset points", fontsize=8)
    ax.set(xlabel="first principal direction", ylabel="second principal direction",
           title="SmolLM2-135M token embeddings (576-D), projected to 2-D")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    save_figure(fig, "model/embeddings_2d.svg")
    print(f"wrote embeddings for {len(words)} words")
    plot_contextual(model)


BANK_SENTENCES = {"river": "I sat on the river bank", "grassy": "We walked along the grassy bank",
                  "money": "I put my money in the bank"}


def plot_contextual(model: Llama) -> None:
    """Cosine of " bank" between sentences at every depth of the residual stream (shown in "A real model")."""
    tok = model.tokenizer
    bank = tok.encode(" bank")[0]
    states = {}
    for name, sentence in BANK_SENTENCES.items():
        ids = tok.encode(sentence)
        states[name] = residual_stream(model, ids)[:, ids.index(bank)]  # (layers + 1, C): after 0..L blocks
    fig, ax = plt.subplots(figsize=(7, 4))
    pairs = [("river", "grassy", "#2e7d32", "-"), ("river", "money", "#ff7043", "--"),
             ("grassy", "money", "#8e24aa", ":")]
    for a, b, colour, style in pairs:
        ax.plot(cosine_similarity(states[a], states[b]), color=colour, linestyle=style,
                label=f"{a} bank ~ {b} bank" + (" (same sense)" if b != "money" else ""))
    ax.set(xlabel="blocks applied (0 = the embedding table)", ylabel="cosine similarity of \" bank\"",
           title="One embedding row, different contexts (SmolLM2-135M)")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    save_figure(fig, "model/contextual_bank.svg")


if __name__ == "__main__":
    main()
