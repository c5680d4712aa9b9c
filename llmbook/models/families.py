"""Model families as data: who made them, how big, how deep and wide, open or not, how long a context, each figure
sourced.

Every number here is one the cited publication (paper, technical report or model card)
states for that model; nothing is estimated. Where the publication does not give a
figure, the field is ``None`` and the book prints "not disclosed" (for a closed model
that is the whole point: GPT-4's technical report gives no size). ``year`` is the
year of the cited publication. ``params_b`` lists the sizes the source publishes, in
billions of parameters; for a mixture of experts, ``active_b`` is the part used per
token. Context lengths are in tokens; "128K" in a paper is stored as 128 × 1024.
``layers`` (L, blocks stacked) and ``widths`` (C, numbers per token in the residual
stream) follow ``params_b`` size by size, where the cited source gives them.
"""

from __future__ import annotations

from dataclasses import dataclass

K = 1024  # papers write context lengths such as "32K" and "128K" in units of 1,024 tokens


# --8<-- [start:family]
@dataclass(frozen=True)
class Family:
    """One model family as its own publication describes it."""

    name: str
    organisation: str
    year: int  # year of the cited publication
    open_weights: bool  # can anyone download the weights?
    params_b: tuple[float, ...] | None  # published sizes, billions of parameters; None = not disclosed
    context_length: int | None  # tokens the model was built to read; None = not stated in the source
    source: str  # where every figure of this row is published
    active_b: float | None = None  # mixture of experts: billions of parameters used for each token
    context_source: str | None = None  # where the context length is published, when not in ``source``
    note: str = ""
    layers: tuple[int, ...] | None = None  # L of each size in params_b; None = not in the source
    widths: tuple[int, ...] | None = None  # C of each size in params_b; None = not in the source
    shape_source: str | None = None  # where layers and widths are published, when not in ``source``

    def __post_init__(self) -> None:
        for src in (self.source, self.context_source or self.source, self.shape_source or self.source):
            if not src.startswith("https://"):
                raise ValueError(f"{self.name}: a source must be an https:// address, got {src!r}")
        if self.params_b is not None and (not self.params_b or any(p <= 0 for p in self.params_b)):
            raise ValueError(f"{self.name}: params_b must be positive sizes or None, got {self.params_b!r}")
        if self.context_length is not None and self.context_length < 1:
            raise ValueError(f"{self.name}: context_length must be >= 1 or None, got {self.context_length!r}")
        if self.active_b is not None and (self.params_b is None or self.active_b >= max(self.params_b)):
            raise ValueError(f"{self.name}: active_b must be smaller than the total size, got {self.active_b!r}")
        for field, values in (("layers", self.layers), ("widths", self.widths)):
            if values is not None and (self.params_b is None or len(values) != len(self.params_b)
                                       or any(not isinstance(v, int) or v < 1 for v in values)):
                raise ValueError(f"{self.name}: {field} must give one positive integer per size in params_b, "
                                 f"got {values!r} for {self.params_b!r}")
# --8<-- [end:family]


FAMILIES: tuple[Family, ...] = (
    Family("GPT-2", "OpenAI", 2019, True, (0.117, 0.345, 0.762, 1.542), 1024,
           "https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf",
           layers=(12, 24, 36, 48), widths=(768, 1024, 1280, 1600)),  # the paper's table 2
    Family("GPT-3", "OpenAI", 2020, False, (0.125, 0.35, 0.76, 1.3, 2.7, 6.7, 13.0, 175.0), 2048,
           "https://arxiv.org/abs/2005.14165", note="used through an API; weights never released",  # shapes: table 2.1
           layers=(12, 24, 24, 24, 32, 32, 40, 96), widths=(768, 1024, 1536, 2048, 2560, 4096, 5140, 12288)),
    Family("GPT-4", "OpenAI", 2023, False, None, None, "https://arxiv.org/abs/2303.08774",
           note="the technical report gives no size, architecture or training compute"),
    Family("Llama 1", "Meta", 2023, True, (7.0, 13.0, 33.0, 65.0), 2048, "https://arxiv.org/abs/2307.09288",
           note="as listed in the Llama 2 paper's comparison table; weights released for research only",
           layers=(32, 40, 60, 80), widths=(4096, 5120, 6656, 8192),
           shape_source="https://arxiv.org/abs/2302.13971"),  # the Llama 1 paper's table 2
    Family("Llama 2", "Meta", 2023, True, (7.0, 13.0, 70.0), 4096, "https://arxiv.org/abs/2307.09288",
           note="a 34B model is described in the paper but was not released"),
    Family("Llama 3.1", "Meta", 2024, True, (8.0, 70.0, 405.0), 128 * K, "https://arxiv.org/abs/2407.21783",
           layers=(32, 80, 126), widths=(4096, 8192, 16384)),  # table 3
    Family("Mistral 7B", "Mistral AI", 2023, True, (7.0,), 8192, "https://arxiv.org/abs/2310.06825",
           note="attends to a sliding window of 4,096 tokens per layer", layers=(32,), widths=(4096,)),
    Family("Mixtral 8x7B", "Mistral AI", 2024, True, (47.0,), 32 * K, "https://arxiv.org/abs/2401.04088",
           active_b=13.0, note="mixture of experts: 2 of 8 experts per token", layers=(32,), widths=(4096,)),
    Family("Gemma", "Google DeepMind", 2024, True, (2.0, 7.0), 8192, "https://arxiv.org/abs/2403.08295",
           layers=(18, 28), widths=(2048, 3072)),
    Family("Gemini 1.0", "Google", 2023, False, (1.8, 3.25), 32 * K, "https://arxiv.org/abs/2312.11805",
           note="sizes of the two on-device models, Nano-1 and Nano-2, only; none for Pro or Ultra"),
    Family("Phi-3-mini", "Microsoft", 2024, True, (3.8,), 4096, "https://arxiv.org/abs/2404.14219",
           note="a 128K-context variant was trained as well", layers=(32,), widths=(3072,)),
    Family("Qwen2.5-72B", "Alibaba (Qwen team)", 2024, True, (72.0,), 128 * K,
           "https://huggingface.co/Qwen/Qwen2.5-72B",
           note="sizes from 0.5B to 72B are published; this row is the largest", layers=(80,)),
    Family("DeepSeek-V3", "DeepSeek-AI", 2024, True, (671.0,), 128 * K, "https://arxiv.org/abs/2412.19437",
           active_b=37.0, note="mixture of experts", layers=(61,), widths=(7168,)),
    Family("Claude 3", "Anthropic", 2024, False, None, 200_000, "https://www.anthropic.com/news/claude-3-family",
           note="the announcement gives the context window, no size or architecture"),
    Family("SmolLM2-135M", "Hugging Face", 2024, True, (0.135,), 8192,
           "https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct",
           context_source="https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/blob/main/config.json",
           note="the book's model; 360M and 1.7B sizes exist too", layers=(30,), widths=(576,),
           shape_source="https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/blob/main/config.json"),
)


def family(name: str) -> Family:
    """The row named ``name`` (exact match); a clear error listing the known names otherwise."""
    for f in FAMILIES:
        if f.name == name:
            return f
    raise KeyError(f"unknown model family {name!r}; known: {', '.join(f.name for f in FAMILIES)}")


def format_size(b: float) -> str:
    """One size in billions as papers name it: 0.135 -> "135M", 1.3 -> "1.3B", 175.0 -> "175B"."""
    return f"{b * 1000:.0f}M" if b < 1 else f"{b:g}B"


def format_params(f: Family) -> str:
    """Sizes as a reader expects them: "135M, 360M, 1.7B", "47B (13B active)", or "not disclosed"."""
    if f.params_b is None:
        return "not disclosed"
    text = ", ".join(format_size(b) for b in f.params_b)
    return text + (f" ({format_size(f.active_b)} active)" if f.active_b is not None else "")


def format_context(n: int | None) -> str:
    """A context length as papers write it: 2048 -> "2,048", 131072 -> "128K"; None -> "not stated"."""
    if n is None:
        return "not stated"
    return f"{n // K}K" if n % K == 0 and n >= 16 * K else f"{n:,}"
