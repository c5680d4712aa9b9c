"""llmbook.tokenizer vs tiktoken (encoding) and vs HF tokenizers (training), on the stdlib corpus.

- Exactness: every corpus file encoded by both, for gpt2, cl100k_base and o200k_base;
  mismatching files are counted (must be 0) and listed.
- Encoding speed: one pass over the corpus, one file per call, one thread each;
  llmbook starts with an empty piece cache (its cold cost is included; a second,
  warm pass is reported too), tiktoken gets the better of two passes.
- Training speed: a 4,096-token vocabulary (cl100k's pre-split pattern) from the whole
  corpus, llmbook vs HF ``tokenizers``' BPE trainer on one thread (RAYON_NUM_THREADS=1).
- One long piece (hostile input): a single "word" of 1 kB to 1 MB (``a`` repeated, random
  letters, an emoji run) with cl100k_base: llmbook (heap merge), tiktoken, and the plain
  merge loop (quadratic, so only up to 16 kB); and the time per piece of the loop and the
  heap on short pieces, which decides ``bpe.SHORT_PIECE``.

Writes ``generated/tokens/bench.json``, ``generated/tokens/bench.svg`` and
``generated/tokens/bench_long.svg`` (the figures in the chapter: the build runs the full
benchmark, about three minutes) and ``generated/tokens/bench_caption.txt``, the same run's
numbers that the chapter shows beside them. ``--record`` also saves a record under
``examples/records/tokenizer/`` to commit. ``LLMBOOK_QUICK=1`` runs on every 10th file only, a quick check that never records.
"""

import os

os.environ["RAYON_NUM_THREADS"] = "1"  # before tokenizers is imported
os.environ["TIKTOKEN_CACHE_DIR"] = ""

import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402

from llmbook import tokenizer  # noqa: E402
from tools.bench import best_time, environment, save_record  # noqa: E402
from tools.corpus import stdlib_documents  # noqa: E402
from tools.export import generated_path, save_figure, write_json  # noqa: E402
from llmbook.tokenizer.bpe import SHORT_PIECE, encode_piece, encode_piece_fast  # noqa: E402
from llmbook.tokenizer.reference import tiktoken_encoding  # noqa: E402

QUICK = os.environ.get("LLMBOOK_QUICK") == "1"
VOCAB = 4096
LONG_SIZES = [1_000, 4_000, 16_000, 64_000, 256_000] + ([] if QUICK else [1_000_000])  # bytes in one piece
LOOP_MAX = 16_000  # the quadratic loop takes ~1.5 s at 16 kB and 4x that at each doubling


def log(msg: str) -> None:
    print(msg, flush=True)


def encode_all(encode, docs: list[str]) -> tuple[list[list[int]], float]:
    t0 = time.perf_counter()
    out = [encode(d) for d in docs]
    return out, time.perf_counter() - t0


def train_llmbook(docs: list[str]) -> float:
    t0 = time.perf_counter()
    tok = tokenizer.train(docs, VOCAB, progress=False)
    seconds = time.perf_counter() - t0
    assert tok.vocab_size == VOCAB
    return seconds


def train_hf(docs: list[str]) -> float:
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(tokenizer.CL100K_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    t0 = time.perf_counter()
    hf.train_from_iterator(docs, trainer=trainer, length=len(docs))
    seconds = time.perf_counter() - t0
    assert hf.get_vocab_size() == VOCAB, hf.get_vocab_size()
    return seconds


def long_pieces(text: list[str]) -> dict:
    """One long piece (no pre-split boundary inside), encoded by llmbook, tiktoken and the plain loop."""
    tok, ref = tokenizer.load("cl100k_base"), tiktoken_encoding("cl100k_base")
    rng = random.Random(0)
    kinds = {
        "a repeated": lambda n: "a" * n,
        "random letters": lambda n: "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n)),
        "emoji run": lambda n: "😀👍🏽🚀" * (n // 20),  # 20 bytes per repeat
    }
    rows = []
    for kind, make in kinds.items():
        for n in LONG_SIZES if kind == "a repeated" else LONG_SIZES[-1:]:
            piece = make(n)
            assert tok._splitter.split(piece) == [piece]  # one piece indeed
            repeats = 3 if n <= 64_000 else 1

            def ours() -> None:
                tok._cache.clear()
                tok.encode_ordinary(piece)

            row = {"kind": kind, "bytes": len(piece.encode()), "llmbook_s": best_time(ours, repeats),
                   "tiktoken_s": best_time(lambda: ref.encode_ordinary(piece), repeats)}
            assert tok.encode_ordinary(piece) == ref.encode_ordinary(piece)
            if n <= LOOP_MAX:
                data = piece.encode()
                row["loop_s"] = best_time(lambda: encode_piece(data, tok._ranks), repeats)
            row["time_ratio"] = row["llmbook_s"] / row["tiktoken_s"]
            rows.append(row)
            log(f"  {kind}, {row['bytes']:,} bytes: llmbook {row['llmbook_s']:.3f} s, "
                f"tiktoken {row['tiktoken_s']:.3f} s ({row['time_ratio']:.1f}x)"
                + (f", plain loop {row['loop_s']:.3f} s" if "loop_s" in row else ""))
    # short pieces: microseconds per piece for the loop and the heap (glued words, so no piece is a token)
    words = " ".join(text).split()
    short = []
    for n in (4, 8, 12, 16, 24, 32, 64):
        pieces = []
        while len(pieces) < 500:
            p = "".join(rng.choice(words) for _ in range(n)).encode()[:n]
            if p not in tok._ranks:
                pieces.append(p)
        loop = best_time(lambda: [encode_piece(p, tok._ranks) for p in pieces], 7) / len(pieces) * 1e6
        heap = best_time(lambda: [encode_piece_fast(p, tok._ranks) for p in pieces], 7) / len(pieces) * 1e6
        short.append({"bytes": n, "loop_us": round(loop, 2), "heap_us": round(heap, 2)})
        log(f"  short pieces of {n} bytes: loop {loop:.2f} us, heap {heap:.2f} us per piece")
    return {"tokenizer": "cl100k_base", "rows": rows, "short": short, "short_piece": SHORT_PIECE}


def plot_long(long: dict) -> None:
    runs = [r for r in long["rows"] if r["kind"] == "a repeated"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    x = [r["bytes"] for r in runs]
    ax.loglog(x, [r["tiktoken_s"] for r in runs], "o-", label="tiktoken (Rust)")
    ax.loglog(x, [r["llmbook_s"] for r in runs], "s-", label="llmbook, heap merge (n log n)")
    loop = [r for r in runs if "loop_s" in r]
    ax.loglog([r["bytes"] for r in loop], [r["loop_s"] for r in loop], "^--", label="plain merge loop (n²)")
    last = runs[-1]
    ax.annotate(f"{last['time_ratio']:.1f}× tiktoken's time", (last["bytes"], last["llmbook_s"]),
                textcoords="offset points", xytext=(-8, 0), ha="right", va="center", fontsize=8)
    ax.set_xlabel('bytes in one piece ("aaaa…")')
    ax.set_ylabel("seconds, one thread")
    ax.set_title("Encoding one long word with cl100k_base")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    save_figure(fig, "tokens/bench_long.svg")


def caption(results: dict) -> str:
    """The numbers of this run, for the chapter to show beside the figures drawn from it."""
    enc = "; ".join(f"{name} {r['mismatched_files']} files differing, {r['time_ratio']:.2f}x tiktoken's time "
                    f"with an empty cache, {r['warm_time_ratio']:.2f}x warm" for name, r in results["encode"].items())
    t = results["train"]
    rows = results["long_piece"]["rows"]
    longest = max((r for r in rows if r["kind"] == "a repeated"), key=lambda r: r["bytes"])
    loops = [r for r in rows if "loop_s" in r]
    growth = ", ".join(f"{r['bytes']:,} B {r['loop_s'] * 1e3:.1f} ms" for r in loops)
    return (f"Measured while this site was built, one thread, on {results['files']:,} files "
            f"({results['bytes'] / 1e6:.1f} MB). Encoding: {enc}. Training {t['vocab_size']:,} tokens: "
            f"{t['llmbook_s']:.1f} s vs HF tokenizers' {t['hf_tokenizers_s']:.1f} s ({t['time_ratio']:.2f}x). "
            f"One piece of {longest['bytes']:,} B: llmbook {longest['llmbook_s'] * 1e3:.0f} ms, "
            f"tiktoken {longest['tiktoken_s'] * 1e3:.0f} ms ({longest['time_ratio']:.1f}x); "
            f"the plain merge loop on 'a' repeated: {growth}.")


def main() -> None:
    names, docs = zip(*stdlib_documents())
    if QUICK:
        names, docs = names[::10], docs[::10]
    chars = sum(map(len, docs))
    nbytes = sum(len(d.encode()) for d in docs)
    log(f"corpus: {len(docs)} files, {chars:,} characters, {nbytes:,} UTF-8 bytes" + (" (QUICK sample)" if QUICK else ""))

    encodings = {}
    for name in tokenizer.BUILTIN:
        ref = tiktoken_encoding(name)
        tok = tokenizer.load(name)
        tok._cache.clear()  # measure from a cold cache
        ref_ids, ref_s = encode_all(ref.encode_ordinary, docs)
        ids, our_s = encode_all(tok.encode_ordinary, docs)
        _, warm_s = encode_all(tok.encode_ordinary, docs)
        ref_s = min(ref_s, encode_all(ref.encode_ordinary, docs)[1])  # tiktoken's better of two passes
        bad = [i for i, (a, b) in enumerate(zip(ids, ref_ids)) if a != b]
        encodings[name] = {
            "mismatched_files": len(bad),
            "mismatch_examples": [names[i] for i in bad[:5]],
            "tokens": sum(map(len, ref_ids)),
            "tiktoken_s": round(ref_s, 3),
            "llmbook_s": round(our_s, 3),
            "llmbook_warm_s": round(warm_s, 3),
            "tiktoken_MBps": round(nbytes / ref_s / 1e6, 2),
            "llmbook_MBps": round(nbytes / our_s / 1e6, 2),
            "time_ratio": round(our_s / ref_s, 2),
            "warm_time_ratio": round(warm_s / ref_s, 2),
        }
        log(f"{name}: {len(bad)} mismatching files; tiktoken {nbytes / ref_s / 1e6:.2f} MB/s, "
            f"llmbook {nbytes / our_s / 1e6:.2f} MB/s cold, {nbytes / warm_s / 1e6:.2f} MB/s warm "
            f"-> {our_s / ref_s:.2f}x tiktoken's time")

    log("one long piece (cl100k_base):")
    long = long_pieces(list(docs[:200]))

    log(f"training a {VOCAB}-token vocabulary: llmbook ...")
    ours = train_llmbook(docs)
    log(f"  llmbook {ours:.1f} s; HF tokenizers (1 thread) ...")
    hf = train_hf(docs)
    log(f"  HF {hf:.1f} s -> {ours / hf:.2f}x HF's time")
    results = {
        "quick": QUICK,
        "files": len(docs),
        "characters": chars,
        "bytes": nbytes,
        "encode": encodings,
        "train": {"vocab_size": VOCAB, "llmbook_s": round(ours, 2), "hf_tokenizers_s": round(hf, 2),
                  "time_ratio": round(ours / hf, 2)},
        "long_piece": long,
        "environment": environment("cpu"),
    }
    write_json("tokens/bench.json", results)
    generated_path("tokens/bench_caption.txt").write_text(caption(results) + "\n", encoding="utf-8")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2), gridspec_kw={"width_ratios": [3, 1.3]})
    names = list(encodings)
    x = range(len(names))
    ax1.bar([i - 0.2 for i in x], [encodings[n]["tiktoken_MBps"] for n in names], 0.4, label="tiktoken (Rust)")
    ax1.bar([i + 0.2 for i in x], [encodings[n]["llmbook_MBps"] for n in names], 0.4, label="llmbook (Python)")
    for i, n in enumerate(names):
        ax1.annotate(f"{encodings[n]['time_ratio']:.2f}× time\n{encodings[n]['mismatched_files']} mismatches",
                     (i + 0.2, encodings[n]["llmbook_MBps"]), ha="center", va="bottom", fontsize=8)
    ax1.set_xticks(list(x), names)
    ax1.set_ylabel("MB/s, one thread")
    ax1.set_title("Encoding the stdlib corpus")
    ax1.legend(loc="lower right", fontsize=8)
    ax1.margins(y=0.3)
    ax2.bar(["HF tokenizers\n(Rust)", "llmbook\n(Python)"], [hf, ours], color=["C0", "C1"])
    ax2.set_ylabel("seconds")
    ax2.set_title(f"Training {VOCAB:,} tokens")
    fig.tight_layout()
    save_figure(fig, "tokens/bench.svg")
    plot_long(long)
    if "--record" in sys.argv and not QUICK:
        log(f"record: {save_record('tokenizer', results, 'cpu')}")
    log("done")


if __name__ == "__main__":
    main()
