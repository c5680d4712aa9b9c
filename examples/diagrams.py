"""Diagrams of the book, hand-drawn as SVG in a light and a dark theme, numbers from llmbook.

Each diagram is written twice, ``diagrams/<name>.svg`` (light) and ``diagrams/<name>-dark.svg``;
a page shows the right one with mkdocs-material's ``#only-light`` / ``#only-dark`` suffixes.
Every size on them (SmolLM2's width, heads, KV heads, layers, token ids, cache bytes) is read
from the GGUF file's metadata or computed by the package, never typed.
"""

from __future__ import annotations

import math
from html import escape

import torch

from llmbook.hardware.roofline import matmul_op
from llmbook.layers.positions import rope_angles
from llmbook.models.config import LlamaConfig
from llmbook.models.gguf import read_gguf
from llmbook.models.registry import model_path
from llmbook.tokenizer.bpe import merge_pair
from llmbook.tokenizer.gguf_tokenizer import GGUFTokenizer
from tools.export import generated_path, write_json

THEMES = {  # every colour pair has at least 4.5:1 contrast against its own page background
    "light": dict(fg="#1f2328", muted="#4d5560", line="#3f51b5", box="#e8eaf6", accent="#bf360c",
                  accent_box="#fbe9e7", green="#1b5e20", green_box="#e8f5e9", faint="#eceff1",
                  groups=("#3949ab", "#b23c17", "#2e7d32"), bg_text="#ffffff", none_fill="none"),
    "dark": dict(fg="#e6e8eb", muted="#b4bac3", line="#9fa8da", box="#2b3150", accent="#ffab91",
                 accent_box="#4a2a22", green="#a5d6a7", green_box="#213a24", faint="#2c313a",
                 groups=("#9fa8da", "#ffab91", "#a5d6a7"), bg_text="#1e2129", none_fill="none"),
}
FONT = "DejaVu Sans, Verdana, Arial, sans-serif"


class Svg:
    """A tiny SVG writer whose colours are theme roles (``"fg"``, ``"box"``, ...) resolved when drawn."""

    def __init__(self, width: int, height: int, title: str) -> None:
        self.width, self.height, self.title = width, height, title
        self.items: list[tuple[str, dict[str, str]]] = []  # (template, colour roles)

    def _add(self, template: str, **roles: str) -> None:
        self.items.append((template, roles))

    def rect(self, x: float, y: float, w: float, h: float, fill: str = "box", stroke: str = "line", rx: float = 6) -> None:
        self._add(f'<rect x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}" rx="{rx:g}" fill="{{fill}}" '
                  f'stroke="{{stroke}}" stroke-width="1.5"/>', fill=fill, stroke=stroke)

    def text(self, x: float, y: float, s: str, size: float = 14, color: str = "fg", anchor: str = "middle",
             weight: str = "normal") -> None:
        self._add(f'<text x="{x:g}" y="{y:g}" font-size="{size:g}" text-anchor="{anchor}" font-weight="{weight}" '
                  f'fill="{{color}}">{escape(s)}</text>', color=color)

    def box(self, x: float, y: float, w: float, h: float, label: str, fill: str = "box", stroke: str = "line",
            size: float = 14, sub: str = "") -> None:
        self.rect(x, y, w, h, fill, stroke)
        if sub:
            self.text(x + w / 2, y + h / 2 - 2, label, size)
            self.text(x + w / 2, y + h / 2 + size, sub, size - 2, "muted")
        else:
            self.text(x + w / 2, y + h / 2 + size * 0.35, label, size)

    def arrow(self, x1: float, y1: float, x2: float, y2: float, color: str = "line", width: float = 1.8) -> None:
        self._add(f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="{{color}}" '
                  f'stroke-width="{width:g}" marker-end="url(#head-{color})"/>', color=color)

    def line(self, x1: float, y1: float, x2: float, y2: float, color: str = "line", width: float = 1.8) -> None:
        self._add(f'<line x1="{x1:g}" y1="{y1:g}" x2="{x2:g}" y2="{y2:g}" stroke="{{color}}" '
                  f'stroke-width="{width:g}"/>', color=color)

    def path(self, d: str, color: str = "line", width: float = 1.8, arrow: bool = False, fill: str = "none") -> None:
        end = f' marker-end="url(#head-{color})"' if arrow else ""
        fill_attr = "none" if fill == "none" else "{fill}"
        self._add(f'<path d="{d}" stroke="{{color}}" stroke-width="{width:g}" fill="{fill_attr}"{end}/>',
                  color=color, **({} if fill == "none" else {"fill": fill}))

    def circle(self, cx: float, cy: float, r: float, fill: str = "box", stroke: str = "line") -> None:
        self._add(f'<circle cx="{cx:g}" cy="{cy:g}" r="{r:g}" fill="{{fill}}" stroke="{{stroke}}" stroke-width="1.5"/>',
                  fill=fill, stroke=stroke)

    def render(self, theme: dict) -> str:
        def colour(role: str) -> str:
            if role.startswith("group"):
                groups = theme["groups"]
                return groups[int(role[5:]) % len(groups)]
            return theme[role]

        roles = sorted({r for _, rs in self.items for k, r in rs.items() if k == "color"} | {"line"})
        markers = "".join(
            f'<marker id="head-{r}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
            f'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{colour(r)}"/></marker>' for r in roles)
        body = "\n".join(t.format(**{k: colour(r) for k, r in rs.items()}) for t, rs in self.items)
        return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {self.width} {self.height}" '
                f'width="{self.width}" height="{self.height}" font-family="{FONT}" role="img">'
                f"<title>{escape(self.title)}</title><defs>{markers}</defs>\n{body}\n</svg>\n")


SAVED: list[str] = []  # the diagrams written, for the summary line


def save(svg: Svg, name: str) -> None:
    """Write ``diagrams/<name>.svg`` and ``diagrams/<name>-dark.svg``."""
    SAVED.append(name)
    for theme, suffix in (("light", ""), ("dark", "-dark")):
        generated_path(f"diagrams/{name}{suffix}.svg").write_text(svg.render(THEMES[theme]), encoding="utf-8")


gguf = read_gguf(model_path("smollm2-135m-instruct"))
cfg = LlamaConfig.from_gguf(gguf)
tok = GGUFTokenizer.from_gguf(gguf.metadata)
C, H, KV, D, L, F, V = cfg.dim, cfg.n_heads, cfg.n_kv_heads, cfg.head_dim, cfg.n_layers, cfg.ffn_dim, cfg.vocab_size

# ---- the transformer block and its residual stream ------------------------------------------
s = Svg(760, 250, "A transformer block: two branches read the residual stream and add their output back")
y = 190
s.text(20, 24, f"one Llama block of SmolLM2 (repeated {L} times)", 15, anchor="start", weight="bold")
s.arrow(10, y, 745, y, "fg", 3)
s.text(20, y + 30, f"residual stream x: (T, {C})", 13, "muted", anchor="start")
for x0, norm, op, sub in ((70, "RMSNorm", "attention", f"{H} heads \u00d7 {D}"),
                         (400, "RMSNorm", "feed-forward", f"SwiGLU {C}\u2192{F}\u2192{C}")):
    s.path(f"M{x0},{y} L{x0},70 L{x0 + 20},70", arrow=True)
    s.box(x0 + 22, 50, 90, 40, norm, "faint", "muted", 13)
    s.arrow(x0 + 112, 70, x0 + 132, 70)
    s.box(x0 + 134, 45, 160, 50, op, "accent_box", "accent", 14, sub)
    s.path(f"M{x0 + 294},70 L{x0 + 310},70 L{x0 + 310},{y - 14}", arrow=True)
    s.circle(x0 + 310, y, 13, "box", "fg")
    s.text(x0 + 310, y + 6, "+", 18, weight="bold")
s.text(745, 218, "each branch reads a normalised copy and adds its output to x;", 12, "muted", anchor="end")
s.text(745, 236, "x itself is never normalised inside the blocks", 12, "muted", anchor="end")
save(s, "block")

# ---- the residual stream: one channel that every block reads and adds to --------------------
s = Svg(760, 310, f"The residual stream: a channel of {C} numbers per token that the embedding writes, "
                  f"every one of the {L} blocks reads and adds to, and the output layer reads")
s.text(380, 22, f"the residual stream: every one of the {L} blocks reads it and adds to it", 15, weight="bold")
band_top, band_bottom = 160, 200
s.rect(20, band_top, 720, band_bottom - band_top, "box", "line", 8)
s.arrow(30, 192, 728, 192, "muted", 1.5)
s.text(380, 183, f"residual stream x: (T, {C}), one row per token", 13)
for x0, label in ((30, "block 0"), (230, "block 1"), (520, f"block {L - 1}")):
    s.rect(x0, 36, 190, 78, "none_fill", "muted", 6)
    s.text(x0 + 95, 52, label, 12, weight="bold")
    for bx, op in ((x0 + 8, "attention"), (x0 + 100, "feed-forward")):
        s.box(bx, 60, 82, 40, op, "accent_box", "accent", 11)
        s.arrow(bx + 20, band_top, bx + 20, 102)  # read: a normalised copy of the stream
        s.arrow(bx + 62, 102, bx + 62, band_top - 12, "fg")  # write: added back
        s.circle(bx + 62, band_top, 11, "box", "fg")
        s.text(bx + 62, band_top + 5, "+", 15, weight="bold")
s.text(460, 80, "\u22ef", 22, "muted")
s.text(380, 242, "\u2191 each part reads a normalised copy of the stream", 12, "muted")
s.text(380, 262, "\u2193 + and adds its result back", 12, "muted")
s.box(20, 228, 170, 40, "embedding", "faint", "muted", 13, "writes the token's row")
s.arrow(105, 228, 105, band_bottom + 2)
s.box(570, 228, 170, 40, "final norm, output", "faint", "muted", 13, "reads the end: logits")
s.arrow(655, band_bottom, 655, 226)
s.text(380, 298, "each block adds its result; nothing in the stream is overwritten", 12, "muted")
save(s, "residual_stream")

# ---- split into heads and back --------------------------------------------------------------
s = Svg(760, 300, f"A vector of {C} numbers split into {H} heads of {D}, attended separately, joined and mixed by W_O")
seg = 620 / H
s.text(380, 22, f"split {C} = {H} heads \u00d7 {D}, then join them back", 15, weight="bold")
for i in range(H):
    x = 120 + i * seg
    s.rect(x, 40, seg, 30, f"group{i}", "fg", 0)
    s.text(x + seg / 2, 60, f"{D}", 12, "bg_text")
    s.arrow(x + seg / 2, 72, x + seg / 2, 110)
    s.box(x + 6, 112, seg - 12, 56, f"head {i}", "box", f"group{i}", 12, "softmax")
    s.arrow(x + seg / 2, 170, x + seg / 2, 208)
    s.rect(x, 210, seg, 30, f"group{i}", "fg", 0)
    s.text(x + seg / 2, 230, f"{D}", 12, "bg_text")
s.text(112, 60, f"q, k, v ({C})", 12, "muted", anchor="end")
s.text(112, 230, f"concat ({C})", 12, "muted", anchor="end")
s.text(380, 270, f"then W_O ({C} \u00d7 {C}) mixes what the heads found", 13, "muted")
s.text(380, 290, "each head has its own T \u00d7 T weights: same FLOPs as one big head, H score matrices", 12, "muted")
save(s, "heads")

# ---- RoPE rotation of one pair ---------------------------------------------------------------
positions = torch.arange(4)
cos, sin = rope_angles(positions, D, base=cfg.rope_base)  # (T, D/2)
theta_last = float(torch.atan2(sin[1, -1], cos[1, -1]))
s = Svg(760, 300, "RoPE turns each pair of a query or key by an angle proportional to the position")
cx, cy, r = 170, 160, 110
s.circle(cx, cy, r, "none_fill", "muted")
s.line(cx - r - 15, cy, cx + r + 15, cy, "muted", 1)
s.line(cx, cy + r + 15, cx, cy - r - 15, "muted", 1)
q = torch.tensor([0.9, 0.35])
for p in positions.tolist():
    c0, s0 = float(cos[p, 0]), float(sin[p, 0])
    a, b = float(q[0]) * c0 - float(q[1]) * s0, float(q[0]) * s0 + float(q[1]) * c0
    ex, ey = cx + a * r, cy - b * r
    s.arrow(cx, cy, ex, ey, f"group{p}" if p < 3 else "fg", 2.2)
    s.text(cx + a * (r + 22), cy - b * (r + 22) + 5, f"p = {p}", 13, f"group{p}" if p < 3 else "fg")
s.text(440, 60, "pair 0 of a query, at positions 0 to 3", 14, anchor="start", weight="bold")
s.text(440, 90, f"angle = p \u00b7 \u03b8\u1d62, \u03b8\u1d62 = {cfg.rope_base:g}^(\u22122i/{D})", 13, anchor="start")
s.text(440, 116, f"pair 0 turns {float(torch.atan2(sin[1, 0], cos[1, 0])):.2f} rad per position,", 13, anchor="start")
s.text(440, 136, f"pair {D // 2 - 1} only {theta_last:.1e} rad", 13, anchor="start")
s.text(440, 170, "q\u00b7k after rotating both depends only on", 13, "muted", anchor="start")
s.text(440, 188, "the angle between them: their distance", 13, "muted", anchor="start")
s.text(440, 206, "in positions, not where they are", 13, "muted", anchor="start")
save(s, "rope")

# ---- grouped-query attention ----------------------------------------------------------------
group = H // KV
s = Svg(760, 250, f"Grouped-query attention: {H} query heads share {KV} key/value heads, {group} queries per group")
s.text(380, 22, f"SmolLM2: {H} query heads, {KV} key/value heads", 15, weight="bold")
qw = 62
for i in range(H):
    x = 380 + (i - (H - 1) / 2) * (qw + 12) - qw / 2
    g = i // group
    s.box(x, 45, qw, 36, f"q{i}", "box", f"group{g}", 13)
    kx = 380 + (g - (KV - 1) / 2) * 220
    s.line(x + qw / 2, 82, kx, 150, f"group{g}", 1.6)
for g in range(KV):
    kx = 380 + (g - (KV - 1) / 2) * 220
    s.box(kx - 70, 150, 140, 44, f"k{g}, v{g}", "accent_box", f"group{g}", 14, f"shared by {group}")
s.text(380, 225, f"the cache keeps {KV} keys and values per token instead of {H}: {H // KV}\u00d7 less memory", 13, "muted")
save(s, "gqa")

# ---- the KV cache growing -------------------------------------------------------------------
per_token = 2 * L * KV * D * 4  # bytes: keys and values, every layer, float32
prompt = tok.encode("The capital of France is")
words = [tok.token_text(i) for i in prompt]
s = Svg(760, 280, "The KV cache grows by one column of keys and values per generated token")
s.text(20, 24, "decoding: compute k and v for the new token only, append them", 15, anchor="start", weight="bold")
cell = 86
for step in range(4):
    yy = 50 + step * 48
    s.text(150, yy + 24, f"step {step + 1}", 13, "muted", anchor="end")
    n = len(prompt) - 3 + step
    for j in range(n + 1):
        new = j == n
        label = repr(words[j]) if j < len(words) else "new"
        s.box(160 + j * (cell + 4), yy, cell, 34, label if j < len(words) else f"token {j}",
              "accent_box" if new else "faint", "accent" if new else "muted", 12)
s.text(380, 262, f"each token adds 2 \u00d7 {L} layers \u00d7 {KV} KV heads \u00d7 {D} \u00d7 4 bytes = {per_token:,} bytes",
       13, "muted")
save(s, "kv_cache")

# ---- the training loop ----------------------------------------------------------------------
s = Svg(760, 260, "The training loop: batch, forward, loss, backward, optimizer step, repeat")
s.text(380, 22, "one training step, repeated", 15, weight="bold")
steps = [("batch", "token windows (B, T)"), ("forward", "logits (B, T, V)"), ("loss", "cross-entropy"),
         ("backward", "gradients"), ("optimizer", "AdamW step")]
pos = [(40, 50), (300, 50), (560, 50), (430, 170), (170, 170)]
for (label, sub), (x, yy) in zip(steps, pos):
    s.box(x, yy, 160, 54, label, "accent_box" if label == "loss" else "box", "accent" if label == "loss" else "line", 14, sub)
s.arrow(200, 77, 298, 77)
s.arrow(460, 77, 558, 77)
s.path("M640,104 L640,197 L592,197", arrow=True)
s.arrow(430, 197, 332, 197)
s.path("M170,197 L120,197 L120,106", arrow=True)
s.text(380, 250, "the weights change a little each step; the loss on held-out text says if they learned", 13, "muted")
save(s, "training_loop")

# ---- BPE merges ------------------------------------------------------------------------------
text = "hello help"
ids = list(text.encode("utf-8"))
rows = [(ids, "bytes")]
vocab = {i: bytes([i]) for i in range(256)}
for new_id, pair in ((256, (104, 101)), (257, (256, 108))):
    ids = merge_pair(ids, pair, new_id)
    vocab[new_id] = vocab[pair[0]] + vocab[pair[1]]
    rows.append((ids, f"merge {vocab[pair[0]].decode()!r} + {vocab[pair[1]].decode()!r} \u2192 {new_id}"))
s = Svg(760, 220, "Byte-pair encoding merges the most frequent pair into a new token, step by step")
s.text(20, 24, f"BPE on {text!r}: each merge makes the sequence shorter", 15, anchor="start", weight="bold")
for r_i, (row, label) in enumerate(rows):
    yy = 45 + r_i * 58
    x = 20
    for t in row:
        w = 30 + 12 * len(vocab[t])
        s.box(x, yy, w, 40, vocab[t].decode().replace(" ", "\u2423"), "accent_box" if t >= 256 else "faint",
              "accent" if t >= 256 else "muted", 13, str(t))
        x += w + 5
    s.text(740, yy + 25, f"{label}: {len(row)} ids", 12, "muted", anchor="end")
save(s, "bpe")

# ---- the embedding lookup --------------------------------------------------------------------
paris = tok.encode(" Paris")
s = Svg(760, 240, f"An embedding is a lookup: token id {paris[0]} selects one row of a {V} by {C} matrix")
s.text(20, 24, "the embedding: one learned row per token", 15, anchor="start", weight="bold")
s.box(20, 100, 150, 44, repr(tok.token_text(paris[0])), "faint", "muted", 14, f"id {paris[0]}")
s.arrow(172, 122, 260, 122)
s.rect(262, 45, 200, 170, "faint", "muted", 2)
s.rect(262, 114, 200, 16, "accent_box", "accent", 0)
s.text(362, 232, f"E: {V:,} rows \u00d7 {C}", 13, "muted")
s.text(362, 108, f"row {paris[0]}", 12, "accent")
s.arrow(464, 122, 540, 122)
s.box(542, 100, 200, 44, f"vector of {C}", "accent_box", "accent", 14, "the token's meaning")
s.text(642, 180, "trained like every other weight;", 12, "muted")
s.text(642, 196, "tokens used alike end up close", 12, "muted")
save(s, "lookup")

# ---- decode versus prefill on the roofline -------------------------------------------------
decode, prefill = matmul_op("decode", 1, C, C), matmul_op("prefill", 512, C, C)
s = Svg(760, 240, "Decoding reads every weight to use it once; prefill reuses each weight for many tokens")
s.text(380, 22, f"one {C} \u00d7 {C} float32 weight matrix, read once from memory", 15, weight="bold")
for x0, op, m in ((40, decode, 1), (400, prefill, 512)):
    s.box(x0, 50, 320, 50, f"{op.name}: {m} token{'s' if m > 1 else ''} \u00d7 W", "box", "line", 14)
    s.text(x0 + 160, 128, f"{op.flops / 1e6:,.1f} M FLOPs, {op.bytes / 1e6:,.2f} MB moved", 13)
    s.text(x0 + 160, 152, f"intensity {op.intensity:,.1f} FLOP/byte", 14, "accent", weight="bold")
s.text(200, 190, "memory-bound: waits on bandwidth", 13, "muted")
s.text(560, 190, "compute-bound past the ridge point", 13, "muted")
save(s, "decode_prefill")

# ---- the causal mask the explorer shows -----------------------------------------------------
n = len(prompt)
s = Svg(760, 300, "Causal attention: each token's row of weights covers itself and the tokens before it")
s.text(20, 24, "one head's weights: row = the token that looks, column = the token looked at", 14, anchor="start",
       weight="bold")
size = 44
x0, y0 = 220, 60
for i in range(n):
    s.text(x0 - 8, y0 + i * size + 27, repr(words[i]), 12, "fg", anchor="end")
    s.text(x0 + i * size + size / 2, y0 + n * size + 18, repr(words[i]), 11, "muted")
    for j in range(n):
        seen = j <= i
        s.rect(x0 + j * size, y0 + i * size, size - 3, size - 3, "accent_box" if seen else "faint",
               "accent" if seen else "muted", 2)
s.text(x0 + n * size + 20, y0 + 40, "shaded: allowed (j \u2264 i), weights sum to 1 per row", 12, "muted", anchor="start")
s.text(x0 + n * size + 20, y0 + 60, "blank: masked, the future is never seen", 12, "muted", anchor="start")
save(s, "causal")

# ---- the alignment pipeline: SFT, reward model, PPO, and DPO's shortcut --------------------
s = Svg(760, 300, "Alignment: SFT, then a reward model, then PPO; DPO goes from the pairs straight to the policy")
s.text(20, 24, "what each step trains, and on what", 15, anchor="start", weight="bold")
steps = [("SFT", "demonstrations", 20), ("reward model", "preference pairs", 270), ("PPO", "its own samples", 520)]
for label, data, x in steps:
    s.box(x, 50, 220, 56, label, "accent_box" if label == "PPO" else "box", "accent" if label == "PPO" else "line",
          15, f"trains on {data}")
s.arrow(242, 78, 268, 78)
s.arrow(492, 78, 518, 78)
s.text(130, 128, "prompt \u2192 good answer", 12, "muted")
s.text(380, 128, "learns r(prompt, answer)", 12, "muted")
s.text(630, 128, "scored by r, kept near SFT (KL)", 12, "muted")
s.path("M40,108 L40,218 L268,218", "green", arrow=True)
s.box(270, 190, 220, 56, "DPO", "green_box", "green", 15, "trains on preference pairs")
s.text(380, 268, "no reward model, no sampling: the loss on chosen vs rejected", 12, "muted")
s.text(380, 286, "answers, relative to the SFT model, does the same job", 12, "muted")
s.text(505, 222, "shortcut: one step instead of two", 12, "green", anchor="start")
save(s, "alignment_steps")

# ---- the context window, a frame sliding over the tokens ------------------------------------
ctx = cfg.context_length
s = Svg(760, 230, f"The context window: the model sees at most the last {ctx:,} tokens of a longer text")
s.text(20, 24, f"SmolLM2's context: {ctx:,} tokens (llama.context_length in the GGUF file)", 15, anchor="start",
       weight="bold")
n_cells, shown = 24, 16  # cells drawn; the frame covers `shown` of them
cw = 700 / n_cells
for i in range(n_cells):
    inside = i >= n_cells - shown
    s.rect(30 + i * cw, 80, cw - 3, 36, "accent_box" if inside else "faint", "accent" if inside else "muted", 2)
s.rect(30 + (n_cells - shown) * cw - 4, 72, shown * cw + 5, 52, "none_fill", "fg", 4)
s.text(30 + (n_cells - shown / 2) * cw, 64, f"context window: {ctx:,} tokens", 13, "accent", weight="bold")
s.text(30 + (n_cells - shown) * cw / 2, 64, "fallen out", 13, "muted")
s.arrow(30, 150, 730, 150, "muted", 1.5)
s.text(380, 170, "the text, oldest token on the left, newest on the right", 12, "muted")
s.text(380, 200, "each new token moves the frame one step right; tokens left of it are no longer seen", 12, "muted")
save(s, "context_window")

write_json("diagrams/numbers.json", {"dim": C, "heads": H, "kv_heads": KV, "head_dim": D, "layers": L,
                                     "ffn": F, "vocab": V, "kv_bytes_per_token": per_token,
                                     "decode_intensity": decode.intensity, "prefill_intensity": prefill.intensity})
print(f"diagrams: {len(SAVED)} x 2 themes; SmolLM2 C={C} H={H} KV={KV} D={D}; KV cache {per_token:,} bytes per token")
