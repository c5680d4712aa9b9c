"""Measurements for "Looking inside", on SmolLM2-135M-Instruct (about two minutes on one thread).

Induction heads on repeated random tokens, the logit lens on a fact and on the book's own prose,
activation patching of a fact (layer x position), a sentiment direction by difference of means
(probe accuracy by layer, steering with a same-norm random control, ablation), and a "Golden Gate"
direction added during greedy generation at several strengths. Every sentence here was written
for the book. Writes ``generated/interpret/results.json``, three figures, and
``generated/interpret/steering_widget.json`` for the steering widget: both directions at ``LAYER``, the
strengths, and what they did on the chapter's prompts (top next tokens, greedy continuations).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one thread, set before NumPy loads: steady on a shared machine

import re  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

from llmbook.interpret.circuits import (lens_agreement, lens_ranks, model_induction_scores,  # noqa: E402
                                        patching_map, repeated_random_tokens, token_losses)
from llmbook.interpret.concepts import (difference_of_means, encode, log_odds, mean_residuals,  # noqa: E402
                                        probe_accuracy, random_like, steered)
from llmbook.interpret.hooks import add_vector, project_out  # noqa: E402
from llmbook.models.llama import load_model  # noqa: E402
from tools.export import REPO_ROOT, generated_path, save_figure, write_json  # noqa: E402

INDUCTION = dict(n=50, batch=4, seed=0)
LENS_TOKENS, LENS_EVERY = 1024, 8  # the lens is read at every 8th position: 128 of them
PROSE_PAGES = ("big-picture.md", "limits.md")
FACT, FACT_ANSWER = "The capital of France is", " Paris"
CLEAN, CORRUPT = "The Eiffel Tower is in the city of", "The Colosseum is in the city of"
GOOD, BAD = " Paris", " Rome"
LAYER = 12  # where both directions are read and added (0-based, of 30)
CONTROL_LAYER = 16  # the same random control one layer group deeper

POSITIVE = [
    "What a lovely afternoon we had in the garden.", "The new teacher is kind, patient and funny.",
    "I loved every minute of the concert last night.", "This soup is delicious and warms me up.",
    "She was thrilled to hear the wonderful news.", "Our trip to the coast was a real delight.",
    "The puppy is adorable and makes everyone smile.", "He did a brilliant job on the project.",
    "The hotel staff were friendly and helpful.", "I am so happy with how the cake turned out.",
    "The film was moving, clever and beautifully shot.", "My neighbours are generous and cheerful.",
    "That was the best holiday of my life.", "The garden looks gorgeous in the spring sun.",
    "Thank you, this gift is perfect and I adore it.", "The team played an excellent, joyful game.",
    "What a fantastic idea, I am delighted.", "The children had a great time at the park.",
    "This book is a pleasure to read.", "We enjoyed a warm and wonderful evening together.",
]
NEGATIVE = [
    "What a dreadful afternoon we had in the rain.", "The new manager is rude, cold and unfair.",
    "I hated every minute of the meeting last night.", "This soup is disgusting and far too salty.",
    "She was devastated to hear the terrible news.", "Our trip to the coast was a miserable failure.",
    "The room is filthy and smells awful.", "He did a sloppy job and ruined the project.",
    "The hotel staff were rude and unhelpful.", "I am so upset with how the cake turned out.",
    "The film was boring, stupid and badly shot.", "My neighbours are noisy and hostile.",
    "That was the worst holiday of my life.", "The garden looks ugly and dead this year.",
    "This gift is broken and I really dislike it.", "The team played a horrible, painful game.",
    "What an awful idea, I am disgusted.", "The children had a sad time at the park.",
    "This book is a chore to read.", "We endured a bitter and unpleasant evening together.",
]
N_TRAIN = 12  # the first 12 of each list find the direction; the other 8 test it
SENTIMENT_PROMPT = "I watched the new film yesterday. Honestly, it was"
GOOD_WORDS = [" great", " wonderful", " amazing", " good", " excellent", " fantastic", " brilliant", " lovely"]
BAD_WORDS = [" terrible", " awful", " bad", " boring", " horrible", " dreadful", " disappointing", " poor"]
SCALES = [-4, -1, 0, 1, 4, 8]
N_RANDOM = 6  # random directions of the same length, per strength
ABLATION_PROMPTS = (["The food was delicious and the staff were kind. Overall it was",
                     "We laughed all evening; the party was"],
                    ["The food was cold and the staff were rude. Overall it was",
                     "Nobody came and it rained; the party was"])

GOLDEN = [
    "The Golden Gate Bridge spans the strait at the mouth of San Francisco Bay.",
    "Fog often rolls in under the Golden Gate Bridge in the morning.",
    "The bridge is painted a famous orange colour called international orange.",
    "Tourists walk across the Golden Gate to take photos of the bay.",
    "Its two tall towers rise above the cold water of the strait.",
    "The Golden Gate Bridge opened to traffic in 1937.",
    "From the Marin side you can see the city of San Francisco behind the bridge.",
    "Suspension cables hang from the towers of the Golden Gate Bridge.",
    "Ships pass beneath the bridge on their way into the bay.",
    "At sunset the Golden Gate glows red above the fog.",
]
NEUTRAL = [
    "The small bakery sells bread at the corner of the main street.",
    "Rain often falls on the village in the morning.",
    "The kitchen is painted a soft colour called pale yellow.",
    "Students walk across the campus to get to their classes.",
    "Its two old chimneys rise above the roof of the house.",
    "The public library opened to readers in 1937.",
    "From the hill you can see the town and the fields behind the school.",
    "Coats hang from the hooks in the hall of the old house.",
    "Buses pass along the road on their way into the town.",
    "In the evening the lamp glows yellow above the desk.",
]
GG_PROMPTS = ["My favourite food is", "The best way to learn a new language is", "Yesterday I went to the shop and"]
GG_SCALES = [0, 2, 3, 4, 8]
GG_RANDOM_SCALE = 4
# topic words: the distinctive words of the Golden Gate sentences above
TOPIC = re.compile(r"\bgolden\b|\bbridges?\b|san francisco|\bbay\b|\bfog|\bstraits?\b|suspension|\bcables?\b",
                   re.IGNORECASE)
GG_TOKENS = 32
WIDGET_TOP = 10  # next tokens the steering widget lists for each prompt and strength


def single_tokens(model, words: list[str]) -> list[int]:
    ids = [model.tokenizer.encode(w) for w in words]
    bad = [w for w, i in zip(words, ids) if len(i) != 1]
    if bad:
        raise ValueError(f"not one token each: {bad}")
    return [i[0] for i in ids]


def book_prose(model, n: int) -> torch.Tensor:
    """The first ``n`` tokens of the book's own prose (lines that start with a letter, outside code blocks)."""
    text, inside = [], False
    for page in PROSE_PAGES:
        for line in (REPO_ROOT / "docs" / page).read_text(encoding="utf-8").splitlines():
            inside ^= line.startswith("```")
            if not inside and line and line[0].isalpha():
                text.append(line)
    ids = model.tokenizer.encode(" ".join(text))[:n]
    if len(ids) < n:
        raise ValueError(f"the prose has {len(ids)} tokens, fewer than {n}")
    return torch.tensor([ids])


@torch.inference_mode()
def top_next(model, prompt: str, vector: torch.Tensor, alpha: float, k: int = WIDGET_TOP) -> dict:
    """The ``k`` likeliest next tokens after ``prompt``, ``alpha * vector`` added after ``LAYER``: one forward pass."""
    with add_vector(model, LAYER, vector, alpha):
        probs = torch.softmax(model(encode(model, prompt), last_only=True)[0, -1], -1)  # (V,)
    p, ids = probs.topk(k)
    return {"alpha": alpha, "ids": ids.tolist(), "tokens": [model.tokenizer.decode([i]) for i in ids.tolist()],
            "probs": p.tolist()}


def steering_widget(model, concepts: list[tuple], continuations: list[dict]) -> dict:
    """What the steering widget shows before the model is loaded, and the vectors it adds once it is.

    ``concepts``: (key, label, vector (C,), strengths, prompts, the strength the widget starts at) each;
    ``continuations``: the greedy runs made already, {key, alpha, prompt, ids, text} each.
    """
    out = {"layer": LAYER, "layers": len(model.blocks), "dim": model.config.dim, "top": WIDGET_TOP,
           "tokens": GG_TOKENS, "concepts": []}
    for key, label, vec, alphas, prompts, start in concepts:
        runs = [{"text": p, "ids": model.tokenizer.encode(p), "top": [top_next(model, p, vec, a) for a in alphas],
                 "continuations": [{k: c[k] for k in ("alpha", "ids", "text")} for c in continuations
                                   if c["key"] == key and c["prompt"] == p]} for p in prompts]
        out["concepts"].append({"key": key, "label": label, "vector": vec.tolist(), "norm": vec.norm().item(),
                                "alphas": alphas, "start": start, "prompts": runs})
    return out


def nats_per_token(model, g) -> float:
    """The unsteered model's mean loss on a steered continuation: how surprising the text is to it."""
    return token_losses(model, torch.tensor([g.prompt_ids + g.ids]))[0, len(g.prompt_ids) - 1:].mean().item()


def main() -> None:
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    times = {}
    model = load_model("smollm2-135m-instruct")
    tok = model.tokenizer
    out: dict = {"layers": len(model.blocks), "heads": model.config.n_heads, "layer": LAYER}

    # 1. induction heads
    ids = repeated_random_tokens(INDUCTION["n"], INDUCTION["batch"], model.config.vocab_size, INDUCTION["seed"])
    losses = token_losses(model, ids)  # (B, 2n-1); entry t predicts token t+1
    n = INDUCTION["n"]
    scores = model_induction_scores(model, ids)  # (L, H)
    top = sorted(((scores[l, h].item(), l, h) for l in range(scores.shape[0]) for h in range(scores.shape[1])),
                 reverse=True)
    out["induction"] = {**INDUCTION, "loss_first": losses[:, : n - 1].mean().item(),
                        "loss_second": losses[:, n - 1:].mean().item(), "scores": scores.tolist(),
                        "top": [[l, h, s] for s, l, h in top[:5]], "above_0.4": int((scores > 0.4).sum())}
    times["induction"] = time.perf_counter() - t0

    # 2. logit lens
    paris = single_tokens(model, [FACT_ANSWER])[0]
    out["lens"] = {"fact": FACT, "answer": FACT_ANSWER, "ranks": lens_ranks(model, encode(model, FACT), paris),
                   "tokens": LENS_TOKENS, "every": LENS_EVERY,
                   "agreement": lens_agreement(model, book_prose(model, LENS_TOKENS), LENS_EVERY)}
    times["lens"] = time.perf_counter() - t0

    # 3. activation patching
    clean, corrupt = encode(model, CLEAN), encode(model, CORRUPT)
    good, bad = single_tokens(model, [GOOD, BAD])
    out["patching"] = {"clean_text": CLEAN, "corrupt_text": CORRUPT, "good": GOOD, "bad": BAD,
                       "tokens": [tok.decode([i]) for i in clean[0].tolist()],
                       "corrupt_tokens": [tok.decode([i]) for i in corrupt[0].tolist()],
                       **patching_map(model, clean, corrupt, good, bad)}
    times["patching"] = time.perf_counter() - t0

    # 4. a sentiment direction
    pos, neg = mean_residuals(model, POSITIVE), mean_residuals(model, NEGATIVE)  # (20, L, C) each
    train, test = (pos[:N_TRAIN], neg[:N_TRAIN]), (pos[N_TRAIN:], neg[N_TRAIN:])
    direction = difference_of_means(*train)  # (L, C)
    d = direction[LAYER]
    unit = d / d.norm()
    out["probe"] = {"n_train": N_TRAIN, "n_test": len(POSITIVE) - N_TRAIN,
                    "accuracy": probe_accuracy(direction, train, test),
                    "projections": {"positive": (test[0][:, LAYER] @ unit).tolist(),
                                    "negative": (test[1][:, LAYER] @ unit).tolist(),
                                    "positive_train": (train[0][:, LAYER] @ unit).tolist(),
                                    "negative_train": (train[1][:, LAYER] @ unit).tolist()},
                    "norm": d.norm().item(),
                    "typical_norm": pos[:, LAYER].norm(dim=-1).mean().item()}
    yes, no = single_tokens(model, GOOD_WORDS), single_tokens(model, BAD_WORDS)
    base = log_odds(model, SENTIMENT_PROMPT, yes, no)

    def shifted(layer: int, vec: torch.Tensor, alpha: float) -> float:
        with add_vector(model, layer, vec, alpha):
            return log_odds(model, SENTIMENT_PROMPT, yes, no) - base
    out["steer_sentiment"] = {
        "prompt": SENTIMENT_PROMPT, "base": base, "scales": SCALES,
        "shift": [shifted(LAYER, d, a) for a in SCALES],
        "random_shift": [[shifted(LAYER, random_like(d, s), a) for s in range(N_RANDOM)] for a in SCALES],
        "control_layer": CONTROL_LAYER,
        "control_shift": [shifted(CONTROL_LAYER, direction[CONTROL_LAYER], a) for a in SCALES],
        "control_random_shift": [[shifted(CONTROL_LAYER, random_like(direction[CONTROL_LAYER], s), a)
                                  for s in range(N_RANDOM)] for a in SCALES]}

    # ablation: the gap between positive and negative contexts, with the direction projected out after every block
    def gap() -> float:
        return (sum(log_odds(model, p, yes, no) for p in ABLATION_PROMPTS[0])
                - sum(log_odds(model, p, yes, no) for p in ABLATION_PROMPTS[1])) / len(ABLATION_PROMPTS[0])
    every = list(range(len(model.blocks)))
    ablation = {"prompts": ABLATION_PROMPTS, "gap": gap()}
    with project_out(model, every, d):
        ablation["gap_ablated"] = gap()
    random_gaps = []
    for s in range(N_RANDOM):
        with project_out(model, every, random_like(d, s)):
            random_gaps.append(gap())
    ablation["gap_random"] = random_gaps
    out["ablation"] = ablation
    times["sentiment"] = time.perf_counter() - t0

    # 5. a Golden Gate direction in generation
    gg = difference_of_means(mean_residuals(model, GOLDEN), mean_residuals(model, NEUTRAL))[LAYER]  # (C,)
    runs, continuations = [], []
    for alpha in GG_SCALES:
        for prompt in GG_PROMPTS:
            g = steered(model, prompt, LAYER, gg, alpha, GG_TOKENS)
            runs.append({"alpha": alpha, "prompt": prompt, "text": g.text, "topic": len(TOPIC.findall(g.text)),
                         "nats": nats_per_token(model, g)})
            continuations.append({"key": "golden_gate", "alpha": alpha, "prompt": prompt, "ids": g.ids, "text": g.text})
    control = []
    for prompt in GG_PROMPTS:
        g = steered(model, prompt, LAYER, random_like(gg, 0), GG_RANDOM_SCALE, GG_TOKENS)
        control.append({"alpha": GG_RANDOM_SCALE, "prompt": prompt, "text": g.text,
                        "topic": len(TOPIC.findall(g.text)), "nats": nats_per_token(model, g)})
    out["golden_gate"] = {"prompts": GG_PROMPTS, "scales": GG_SCALES, "tokens": GG_TOKENS, "runs": runs,
                          "random": control, "norm": gg.norm().item(), "topic_pattern": TOPIC.pattern}
    times["golden_gate"] = time.perf_counter() - t0

    # 6. the steering widget: the two directions, the chapter's strengths and prompts (forward passes only)
    write_json("interpret/steering_widget.json", steering_widget(model, [
        ("golden_gate", "Golden Gate Bridge", gg, GG_SCALES, GG_PROMPTS, GG_RANDOM_SCALE),
        ("sentiment", "Sentiment (positive minus negative)", d, SCALES, [SENTIMENT_PROMPT], 1)], continuations))
    times["widget"] = time.perf_counter() - t0
    out["seconds"] = {k: round(v, 1) for k, v in times.items()}
    write_json("interpret/results.json", out)
    for name, text in snippets(out).items():
        generated_path(f"interpret/{name}.txt").write_text(text, encoding="utf-8")
    figures(out)
    print(f"induction loss {out['induction']['loss_first']:.2f} -> {out['induction']['loss_second']:.2f}; "
          f"top {out['induction']['top'][:3]}; {time.perf_counter() - t0:.0f} s in all; {out['seconds']}")


def cell(text: str) -> str:
    """Generated text made safe for one Markdown table cell: no HTML, pipes or line breaks."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "&#124;")
    return text.replace("\n", " ↵ ").strip() or "(nothing)"


def spread(values: list[float]) -> str:
    return f"{min(values):+.2f} to {max(values):+.2f}"


def snippets(out: dict) -> dict[str, str]:
    """The sentences of the page that carry this run's numbers (Markdown, included with --8<--)."""
    ind, lens, p = out["induction"], out["lens"], out["patching"]
    heads = ", ".join(f"L{l}.H{h} ({s:.2f})" for l, h, s in ind["top"][:3])
    agree = lens["agreement"]
    last_low = max(i for i, a in enumerate(agree) if a <= 0.15)
    first_top10 = min(i for i, r in enumerate(lens["ranks"]) if r < 10)
    rec = torch.tensor(p["recovered"])  # (L, T)
    subject = max(range(rec.shape[1]), key=lambda t: rec[0, t].item())
    hand = min(i for i in range(rec.shape[0]) if rec[i, -1] > 0.5)
    pr, st, ab, gg = out["probe"], out["steer_sentiment"], out["ablation"], out["golden_gate"]
    acc = pr["accuracy"]
    first_perfect = min((i for i, a in enumerate(acc) if a == 1.0), default=None)
    k = {a: i for i, a in enumerate(st["scales"])}
    rows = ["| α | topic words (3 prompts) | nats per token, plain model | first prompt's continuation |",
            "|---|---|---|---|"]
    for a in gg["scales"]:
        runs = [r for r in gg["runs"] if r["alpha"] == a]
        rows.append(f"| {a} | {sum(r['topic'] for r in runs)} | {sum(r['nats'] for r in runs) / len(runs):.2f} | "
                    f"{cell(runs[0]['text'])} |")
    ctl = gg["random"]
    rows.append(f"| {ctl[0]['alpha']}, random direction | {sum(r['topic'] for r in ctl)} | "
                f"{sum(r['nats'] for r in ctl) / len(ctl):.2f} | {cell(ctl[0]['text'])} |")
    return {
        "induction": (
            f"On {ind['batch']} sequences of {ind['n']} random tokens, each repeated once, the model's loss is "
            f"{ind['loss_first']:.2f} nats per token on the first copy (no better than guessing among tens of "
            f"thousands of tokens) and {ind['loss_second']:.2f} on the second. The strongest induction heads are "
            f"{heads}; only {ind['above_0.4']} of the {out['layers'] * out['heads']} heads score above 0.4."),
        "lens": (
            f"For \"{lens['fact']}\", the rank of \"{lens['answer']}\" in the lens (0 = top) is "
            + ", ".join(f"{r:,}" for r in lens["ranks"][:-1:4]) + f" at layers 0, 4, 8 ... 28 "
            f"and {lens['ranks'][-1]} after the last block; it first enters the top 10 at layer {first_top10}. "
            f"Over {lens['tokens']:,} tokens of the book's own prose (read at every {lens['every']}th position), "
            f"the lens's top token agrees with the model's final one at {agree[0]:.2f} of positions after "
            f"layer 0, {agree[12]:.2f} after layer 12, {agree[20]:.2f} after layer 20 and {agree[26]:.2f} after "
            f"layer 26; it stays at or below 0.15 through layer {last_low}."),
        "patching": (
            f"The clean prompt gives a logit difference{p['good']} −{p['bad']} of {p['clean']:+.2f}; the "
            f"corrupted one {p['corrupt']:+.2f}. Putting back the clean residual at the subject token "
            f"\"{p['tokens'][subject]}\" recovers {rec[:hand, subject].min():.2f} to {rec[:hand, subject].max():.2f} "
            f"of the difference after layers 0 to {hand - 1}, and {rec[hand:-1, subject].max():.2f} or less from "
            f"layer {hand} on. At the last position the share is {rec[:hand, -1].max():.2f} or less through layer "
            f"{hand - 1} and {rec[hand, -1]:.2f} at layer {hand}: the hand-off."),
        "probe": (
            f"Each layer's own direction separates the {2 * pr['n_test']} held-out sentences with accuracy "
            f"{acc[0]:.2f} after layer 0, {acc[6]:.2f} after layer 6, {acc[out['layer']]:.2f} after layer "
            f"{out['layer']}" + (f" and 1.00 at {sum(a == 1.0 for a in acc)} of the layers from {first_perfect} on"
                                 if first_perfect is not None else "")
            + f"; {acc[-1]:.2f} after the last (chance: 0.50; {2 * pr['n_train']} other sentences found the "
            f"directions). At layer {out['layer']} the direction is {pr['norm']:.1f} long, against "
            f"{pr['typical_norm']:.0f} for a typical residual vector."),
        "steering": (
            f"Unsteered, the log-odds of a positive over a negative next word after \"{st['prompt']}\" is "
            f"{st['base']:+.2f}. Adding the direction after layer {out['layer']} shifts it by "
            + ", ".join(f"{st['shift'][k[a]]:+.2f} at ×{a}" for a in st["scales"] if a != 0)
            + f". {len(st['random_shift'][0])} random directions of the same length shift it by "
            f"{spread(st['random_shift'][k[1]])} at ×1, {spread(st['random_shift'][k[4]])} at ×4 and "
            f"{spread(st['random_shift'][k[8]])} at ×8. After layer {st['control_layer']} the direction "
            f"found there shifts it by {st['control_shift'][k[1]]:+.2f} at ×1 and the random ones by "
            f"{spread(st['control_random_shift'][k[1]])}."),
        "ablation": (
            f"Averaged over two pairs of prompts, the log-odds after a positive context exceed those after a "
            f"negative one by {ab['gap']:.2f}. With the layer-{out['layer']} sentiment direction projected out "
            f"after every block the gap is {ab['gap_ablated']:.2f}; with each of {len(ab['gap_random'])} random "
            f"directions projected out instead, {min(ab['gap_random']):.2f} to {max(ab['gap_random']):.2f}."),
        "steering_x8": (
            f"At \u00d78 the direction shifts the log-odds by {st['shift'][k[8]]:+.2f} and the largest random shift "
            f"is {max(st['random_shift'][k[8]], key=abs):+.2f}: "
            + ("random directions move the measure as far as the concept's direction does."
               if max(abs(r) for r in st["random_shift"][k[8]]) >= abs(st["shift"][k[8]])
               else "the direction still does more than any random one, but by less than at \u00d71.")),
        "golden_gate": "\n".join(rows) + "\n",
    }


def figures(out: dict) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    im = ax.imshow(torch.tensor(out["induction"]["scores"]).T, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax.set_xlabel("layer (from 0)")
    ax.set_ylabel("head")
    ax.set_title("Induction score of every head")
    fig.colorbar(im, ax=ax, label="attention to the token after the earlier copy")
    save_figure(fig, "interpret/induction.svg")
    plt.close(fig)

    p = out["patching"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    im = ax.imshow(torch.tensor(p["recovered"]).T, aspect="auto", cmap="magma", vmin=0, vmax=1)
    ax.set_yticks(range(len(p["tokens"])), [f"{a.strip() or '·'} / {b.strip() or '·'}" if a != b else a.strip()
                                           for a, b in zip(p["tokens"], p["corrupt_tokens"])])
    ax.set_xlabel("layer whose output is put back (from 0)")
    ax.set_title(f"Share of the{p['good']} \u2212{p['bad']} logit difference recovered")
    fig.colorbar(im, ax=ax)
    save_figure(fig, "interpret/patching.svg")
    plt.close(fig)

    pr = out["probe"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.2))
    a1.plot(range(out["layers"]), pr["accuracy"], marker="o", label="sentiment probe, held out")
    a1.plot(range(out["layers"]), out["lens"]["agreement"], marker="s", label="logit lens agrees with output")
    a1.set_xlabel("layer (from 0)")
    a1.set_ylim(0, 1.05)
    a1.legend(fontsize=8)
    a1.set_title("Probe accuracy and lens agreement by layer")
    pj = pr["projections"]
    a2.hist([pj["positive"] + pj["positive_train"], pj["negative"] + pj["negative_train"]], bins=12,
            label=["positive sentences", "negative sentences"], color=["tab:green", "tab:red"])
    a2.set_xlabel(f"projection on the sentiment direction, layer {out['layer']}")
    a2.legend(fontsize=8)
    a2.set_title("Where the sentences fall")
    save_figure(fig, "interpret/probe.svg")
    plt.close(fig)


if __name__ == "__main__":
    main()
