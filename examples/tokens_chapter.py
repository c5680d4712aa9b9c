"""Data and figures for the chapter "Tokens".

- trains the book's own tokenizer (4,096 ids, cl100k's pattern) on the whole stdlib corpus;
- exports the playground's rank files (cl100k_base, o200k_base, the book's), gzip'd, plus a
  manifest with each tokenizer's pre-split pattern rewritten for JavaScript;
- exports the BPE stepper's steps on a small string;
- draws bytes per character by script, and tokens for the same text across tokenizers;
- writes the numbers the chapter's prose quotes, each a one-line fragment it includes
  (``tokens/n_*.txt``, no trailing newline, so it reads inside a sentence), and the two
  figures' image lines with their alt text (``tokens/*_figure.md``).
"""

import gzip
import os

os.environ.setdefault("TIKTOKEN_CACHE_DIR", "")

import matplotlib.pyplot as plt  # noqa: E402
import regex  # noqa: E402

from llmbook import tokenizer  # noqa: E402
from tools.corpus import stdlib_documents  # noqa: E402
from tools.export import generated_path, save_figure, write_json  # noqa: E402
from llmbook.tokenizer.bpe import merge_pair  # noqa: E402
from llmbook.tokenizer.train import count_pieces, learn_merges, ranks_from_learned_merges  # noqa: E402

BOOK_VOCAB = 4096
BOOK_SPECIAL = ["<|endoftext|>"]

STEPPER_TEXT = "a rose is a rose is a rose; roses arose"
SAMPLES = {  # the same short message in several languages, then numbers and code
    "English": "The weather is lovely today, so we are going for a long walk by the river.",
    "German": "Das Wetter ist heute herrlich, also machen wir einen langen Spaziergang am Fluss.",
    "French": "Il fait très beau aujourd'hui, alors nous allons faire une longue promenade au bord de la rivière.",
    "Spanish": "Hoy hace un tiempo precioso, así que vamos a dar un largo paseo junto al río.",
    "Russian": "Сегодня прекрасная погода, поэтому мы идём на долгую прогулку вдоль реки.",
    "Greek": "Ο καιρός είναι υπέροχος σήμερα, οπότε θα κάνουμε μια μεγάλη βόλτα δίπλα στο ποτάμι.",
    "Hindi": "आज मौसम बहुत सुहावना है, इसलिए हम नदी के किनारे लंबी सैर पर जा रहे हैं।",
    "Arabic": "الطقس جميل جدا اليوم، لذلك سنذهب في نزهة طويلة على ضفاف النهر.",
    "Chinese": "今天天气很好，所以我们要沿着河边散步很久。",
    "Japanese": "今日はとても良い天気なので、川沿いを長く散歩します。",
    "Korean": "오늘 날씨가 아주 좋아서 우리는 강가를 따라 오래 산책할 거예요.",
    "Numbers": "3.14159 2718281828 1,000,000 2024-07-15 0x7fff 65536",
    "Python": "def area(r: float) -> float:\n    return 3.14159 * r ** 2\n",
}
SCRIPTS = {
    "Latin (ASCII)": "abcdefghijklmnopqrstuvwxyz",
    "Latin (accented)": "éèêëàâäôöûüçñßøåæœ",
    "Greek": "αβγδεζηθικλμνξοπρστυφχψω",
    "Cyrillic": "абвгдежзийклмнопрстуфхцчшщ",
    "Hebrew": "אבגדהוזחטיכלמנסעפצקרשת",
    "Arabic": "ابتثجحخدذرزسشصضطظعغفقكلمنهوي",
    "Devanagari": "अआइईउऊएऐओऔकखगघचछजझटठडढणतथदधनपफबभमयरलवशषसह",
    "Chinese (Han)": "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年",
    "Japanese kana": "あいうえおかきくけこさしすせそアイウエオカキクケコ",
    "Korean (Hangul)": "가나다라마바사아자차카타파하한국어문장",
    "Emoji": "😀😂🥲🚀🌍🎉🐍🔥💡📚",
}
PLAYGROUND_STRINGS = [
    "Hello, world! Tokenizers split text into pieces.",
    "  indented\n\tcode(x)  # comment\n",
    "don't WON'T it's  I'll",
    "1234567890 3.14159 1,000,000",
    "naïve café, Ελληνικά, русский, עברית, العربية",
    "हिन्दी 漢字 ひらがな 한국어",
    "👩‍👩‍👧‍👦 👍🏽 🏳️‍🌈",
    "e\u0301 combining a\u0300\u0301",
    "HTTPServer getHTTPResponse camelCaseWord",
    "<script>alert('x')</script> <|endoftext|>",
    "   \n\n   trailing   ",
    "",
]


def js_pattern(pattern: str) -> str:
    """The pre-split pattern for a JavaScript RegExp with the ``u`` flag.

    JS has no possessive quantifiers (here they never change a match: nothing in
    the same alternative follows them, so dropping the ``+`` is equivalent), no
    ``(?i:...)`` groups in older browsers (spelled out with the case variants that
    ``regex`` itself matches), and a different ``\\s`` (spelled ``\\p{White_Space}``).
    """
    def caseless(match: regex.Match[str]) -> str:
        out = []
        for token in regex.findall(r"\[[^\]]*\]|.", match.group(1)):
            if token.startswith("["):
                chars = "".join(c for ch in token[1:-1] for c in variants(ch))
                out.append(f"[{chars}]")
            else:
                out.append(f"[{''.join(variants(token))}]" if len(variants(token)) > 1 else token)
        return "(?:" + "".join(out) + ")"

    def variants(ch: str) -> list[str]:
        if not ch.isalpha():
            return [ch]
        return [c for c in map(chr, range(0x250)) if regex.fullmatch(f"(?i:{ch})", c)] + (
            ["\u212a"] if ch in "kK" else [])

    js = regex.sub(r"\(\?i:((?:[^()]|\([^()]*\))*)\)", caseless, pattern)
    js = js.replace(r"\s", r"\p{White_Space}").replace(r"\S", r"\P{White_Space}")
    js = regex.sub(r"(\{\d+(?:,\d*)?\})\+", r"\1", js)  # {1,3}+ -> {1,3}
    return regex.sub(r"([+*?])\+", r"\1", js)  # ++ -> +, *+ -> *, ?+ -> ?


def export_ranks(tok: tokenizer.Tokenizer, filename: str) -> dict:
    """Tokens in id order, each as <length byte><bytes>, gzip'd (fixed mtime: reproducible)."""
    by_id = sorted(tok.ranks, key=tok.ranks.__getitem__)
    assert [tok.ranks[t] for t in by_id] == list(range(len(by_id))) and max(map(len, by_id)) < 256
    raw = b"".join(bytes([len(t)]) + t for t in by_id)
    packed = gzip.compress(raw, compresslevel=9, mtime=0)
    generated_path(f"tokens/{filename}").write_bytes(packed)
    return {"file": f"generated/tokens/{filename}", "tokens": len(by_id), "bytes_raw": len(raw),
            "bytes_gzip": len(packed)}


def stepper_steps(text: str, n: int) -> dict:
    """Each merge BPE learns on ``text`` (pre-split with cl100k's pattern), with the pieces after it."""
    counts = count_pieces([text], tokenizer.CL100K_PATTERN)
    merges = learn_merges(counts, n, progress=False)
    vocab = {b: bytes([b]) for b in range(256)}
    pieces = [list(p.encode()) for p in tokenizer.load("cl100k_base")._splitter.split(text)]

    def show(ids: list[int]) -> list[str]:
        return [vocab[i].decode("utf-8", "replace") for i in ids]

    steps = [{"merge": None, "pieces": [show(p) for p in pieces], "tokens": sum(map(len, pieces))}]
    for k, pair in enumerate(merges):
        new_id = 256 + k
        vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
        together = sum(sum(1 for a, b in zip(p, p[1:]) if (a, b) == pair) for p in pieces)
        pieces = [merge_pair(p, pair, new_id) for p in pieces]
        steps.append({"merge": {"id": new_id, "left": show([pair[0]])[0], "right": show([pair[1]])[0],
                                "token": show([new_id])[0], "count": together},
                      "pieces": [show(p) for p in pieces], "tokens": sum(map(len, pieces))})
    return {"text": text, "steps": steps}


def fragment(name: str, text: str) -> None:
    """A number for the chapter's prose: ``generated/tokens/n_<name>.txt``, one line, no newline
    (pymdownx.snippets would end the sentence's paragraph at a trailing newline)."""
    assert "\n" not in text, text
    generated_path(f"tokens/n_{name}.txt").write_text(text, encoding="utf-8")


def figure_line(name: str, alt: str) -> None:
    """The image line of ``generated/tokens/<name>.svg`` with its alt text, for the chapter to include."""
    assert "]" not in alt and "\n" not in alt, alt
    generated_path(f"tokens/{name}_figure.md").write_text(f"![{alt}](generated/tokens/{name}.svg)\n",
                                                          encoding="utf-8")


def train_book(texts: list[str]) -> tuple[tokenizer.Tokenizer, int]:
    """``tokenizer.train(texts, BOOK_VOCAB, special_tokens=BOOK_SPECIAL)`` in its three steps, so
    that the number of distinct pieces, which the chapter quotes, costs no second pre-split."""
    counts = count_pieces(texts, tokenizer.CL100K_PATTERN, BOOK_SPECIAL)
    merges = learn_merges(counts, BOOK_VOCAB - 256 - len(BOOK_SPECIAL))
    ranks = ranks_from_learned_merges(merges)
    specials = {t: len(ranks) + k for k, t in enumerate(BOOK_SPECIAL)}
    return tokenizer.Tokenizer(ranks, tokenizer.CL100K_PATTERN, specials, name="book-4096"), len(counts)


def unicode_characters() -> int:
    """Characters Unicode assigns in the tables of ``regex`` (the ones the pre-split uses): every code
    point but unassigned ones, surrogates, private use and controls, the way Unicode counts them."""
    every = "".join(map(chr, range(0x110000)))
    return len(regex.findall(r"[^\p{Cn}\p{Cs}\p{Co}\p{Cc}]", every))


def download_size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.2f} MB" if n_bytes >= 100_000 else f"{n_bytes / 1e3:.0f} kB"


def main() -> None:
    print(f"training the book's tokenizer ({BOOK_VOCAB:,} ids) on the stdlib corpus ...", flush=True)
    texts = [text for _, text in stdlib_documents()]
    book, n_pieces = train_book(texts)
    assert book.vocab_size == BOOK_VOCAB, book
    book.save(generated_path("tokens/book-4096.json"))
    fragment("corpus_files", f"{len(texts):,}")
    fragment("corpus_chars", f"{sum(map(len, texts)) / 1e6:.1f} million")
    fragment("corpus_pieces", f"{n_pieces:,}")
    fragment("unicode_characters", f"{unicode_characters():,}")

    print("exporting the playground ...", flush=True)
    entries = []
    for label, tok in [("cl100k_base (GPT-4)", tokenizer.load("cl100k_base")),
                       ("o200k_base (GPT-4o)", tokenizer.load("o200k_base")),
                       ("book-4096 (this chapter)", book)]:
        entry = {"name": tok.name, "label": label, "pattern": js_pattern(tok.pattern),
                 "special_tokens": dict(tok.special_tokens), **export_ranks(tok, f"{tok.name}.bin.gz")}
        entries.append(entry)
        print(f"  {tok.name}: {entry['tokens']} tokens, {entry['bytes_raw']:,} B raw, "
              f"{entry['bytes_gzip']:,} B gzip", flush=True)
    write_json("tokens/playground.json", {"tokenizers": entries, "examples": PLAYGROUND_STRINGS})
    for entry in entries:
        fragment(f"download_{entry['name']}", download_size(entry["bytes_gzip"]))

    print("exporting the BPE stepper ...", flush=True)
    write_json("tokens/stepper.json", stepper_steps(STEPPER_TEXT, 12))

    print("drawing figures ...", flush=True)
    names = list(SCRIPTS)
    per_char = [len(s.encode()) / len(s) for s in SCRIPTS.values()]
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.barh(names[::-1], per_char[::-1], color="C0")
    ax.set_xlabel("UTF-8 bytes per character")
    ax.set_xticks([1, 2, 3, 4])
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, "tokens/bytes_per_script.svg")
    by_width: dict[float, list[str]] = {}
    for name, width in zip(names, per_char):
        by_width.setdefault(width, []).append(name)
    figure_line("bytes_per_script", "UTF-8 bytes per character for several scripts: " + "; ".join(
        f"{width:g} for {', '.join(group)}" for width, group in sorted(by_width.items())))

    toks = {"gpt2": tokenizer.load("gpt2"), "cl100k_base": tokenizer.load("cl100k_base"),
            "o200k_base": tokenizer.load("o200k_base"), "book-4096": book}
    counts = {name: [len(t.encode(s)) for s in SAMPLES.values()] for name, t in toks.items()}
    write_json("tokens/compare.json", {"samples": SAMPLES, "tokens": counts,
                                       "vocab_size": {name: t.vocab_size for name, t in toks.items()}})
    fig, ax = plt.subplots(figsize=(8, 4.6))
    rows = list(SAMPLES)
    width = 0.2
    for j, (name, values) in enumerate(counts.items()):
        ax.barh([i + (j - 1.5) * width for i in range(len(rows))], values, width, label=name)
    ax.set_yticks(range(len(rows)), rows)
    ax.invert_yaxis()
    ax.set_xlabel("tokens for the same text (fewer is better)")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, "tokens/compare.svg")
    languages = [row for row in SAMPLES if row not in ("Numbers", "Python")]
    figure_line("compare", f"Tokens for the same sentence in {len(languages)} languages, a line of numbers and "
                f"a line of Python, for gpt2, cl100k_base, o200k_base and the book's {book.vocab_size:,}-token "
                "vocabulary")
    print("done", flush=True)


if __name__ == "__main__":
    main()
