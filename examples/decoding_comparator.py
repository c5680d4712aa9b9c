"""Data for the decoding comparator widget and the KV cache animation of "From logits to text".

- ``generate/comparator.json``: for each prompt, the real next-token logits over the
  whole vocabulary (the widget applies temperature, top-k, top-p and min-p to them in
  JavaScript), the token strings, and continuations made by every strategy with fixed
  seeds.
- ``generate/kv_trace.json``: the KV cache during a real prefill and decode, step by
  step: the tokens fed in, the cache's shapes and bytes, and a few real key values.
"""

from __future__ import annotations

import torch

from tools.export import write_json
from llmbook.inference.generate import generate
from llmbook.layers.kv_cache import KVCache
from llmbook.models.llama import load_model

PROMPTS = [
    {"id": "france", "label": "The capital of France is", "text": "The capital of France is", "chat": False},
    {"id": "robot", "label": "Once upon a time, a small robot", "text": "Once upon a time, a small robot",
     "chat": False},
    {"id": "chat-sea", "label": "Chat: Write one sentence about the sea.",
     "text": "Write one sentence about the sea.", "chat": True},
]
# label -> (strategy, parameters); sampling strategies use seed 0. The labels use the chapter's symbols
# (notation.md): tau the temperature, k top-k's count, alpha contrastive search's penalty.
STRATEGIES = [
    ("greedy", "greedy", {}),
    ("sample, τ = 1", "sample", {}),
    ("sample, τ = 1.8", "sample", {"temperature": 1.8}),
    ("top-k, k = 40", "top-k", {"top_k": 40}),
    ("top-p 0.9", "top-p", {"top_p": 0.9}),
    ("min-p 0.1", "min-p", {"min_p": 0.1}),
    ("beam search, 4 beams", "beam", {"num_beams": 4}),
    ("contrastive, α = 0.6, k = 4", "contrastive", {"penalty_alpha": 0.6, "top_k": 4}),
]
NEW_TOKENS = 30
SEED = 0


def kv_trace(model, text: str, steps: int) -> dict:
    """Run a prefill and ``steps`` greedy decode steps, recording what the cache holds after each."""
    c = model.config
    tok = model.tokenizer
    ids = tok.encode(text)
    cache = KVCache(c.n_layers)
    records, feed = [], ids
    with torch.inference_mode():
        for step in range(steps + 1):
            logits = model(torch.tensor([feed]), cache)[0, -1]
            k0 = cache.keys[0]  # (1, KV, S, D) of layer 0
            records.append({
                "phase": "prefill" if step == 0 else "decode",
                "fed": [tok.token_text(i) for i in feed],
                "fed_ids": feed,
                "cache_length": cache.length,
                "key_shape": list(cache.keys[0].shape),
                "value_shape": list(cache.values[0].shape),
                "layers": sum(k is not None for k in cache.keys),
                "bytes": sum(k.numel() * k.element_size() + v.numel() * v.element_size()
                             for k, v in zip(cache.keys, cache.values)),
                # layer 0, KV head 0, first 8 dimensions of every cached key: real numbers for the picture
                "key_sample": [[round(x, 3) for x in row] for row in k0[0, 0, :, :8].tolist()],
                "next": tok.token_text(int(logits.argmax())),
                "next_id": int(logits.argmax()),
            })
            feed = [int(logits.argmax())]
    return {"model": "SmolLM2-135M-Instruct", "n_layers": c.n_layers, "n_kv_heads": c.n_kv_heads,
            "n_heads": c.n_heads, "head_dim": c.head_dim, "dtype_bytes": 4, "steps": records}


def main() -> None:
    torch.set_num_threads(1)
    model = load_model()
    tok = model.tokenizer
    out = {"vocab": [tok.token_text(i) for i in range(model.config.vocab_size)], "prompts": [],
           "new_tokens": NEW_TOKENS, "seed": SEED}
    for p in PROMPTS:
        ids = model.encode_chat([{"role": "user", "content": p["text"]}]) if p["chat"] else tok.encode(p["text"])
        with torch.inference_mode():
            logits = model(torch.tensor([ids]))[0, -1]
        continuations = []
        for label, strategy, params in STRATEGIES:
            g = generate(model, ids, strategy, NEW_TOKENS, seed=SEED, **params)
            continuations.append({"label": label, "strategy": strategy, "params": params, "text": g.text,
                                  "ids": g.ids, "stop_reason": g.stop_reason})
            print(f"{p['id']:9s} {label:32s} {g.text!r}", flush=True)
        out["prompts"].append({**p, "ids": ids, "logits": [round(x, 4) for x in logits.tolist()],
                               "continuations": continuations})
    write_json("generate/comparator.json", out)
    write_json("generate/kv_trace.json", kv_trace(model, "The capital of France is", steps=6))


if __name__ == "__main__":
    main()
