"""The command line: generate text and look at tokens with the book's model.

    python -m llmbook generate "The capital of France is" --strategy top-p --top-p 0.9 --seed 0
    python -m llmbook generate "Write a haiku about tea." --chat --max-new-tokens 60
    python -m llmbook tokenize "Hello, world!"
    echo "Hello, world!" | python -m llmbook tokenize -

Text streams to stdout as it is generated. A mistake in the options prints one
line to stderr and exits with status 2, before the model is loaded where it can.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import typing
from dataclasses import fields
from typing import Any, NoReturn

from llmbook.inference.engine import ENGINES
from llmbook.inference.strategies import STRATEGIES, check_seed, strategy_params


class _Parser(argparse.ArgumentParser):
    """argparse, with errors as one line (no usage dump) ending in a pointer to --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _parse_as(annotation: Any) -> Any:
    """An argparse ``type`` for a field annotated e.g. ``float | None``, ``int`` or ``bool | str``."""
    kinds = [k for k in typing.get_args(annotation) or (annotation,) if k is not type(None)]

    def parse(text: str) -> Any:
        if bool in kinds and text.lower() in ("true", "false"):
            return text.lower() == "true"
        for kind in (int, float):
            if kind in kinds:
                try:
                    return kind(text)
                except ValueError:
                    if str not in kinds and (kind is float or float not in kinds):
                        raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        return text  # a word, such as early_stopping's "never": the strategy checks it

    return parse


def strategy_options() -> dict[str, dict[str, Any]]:
    """Every strategy parameter, from the dataclass fields: name -> type, help, and which strategies take it."""
    options: dict[str, dict[str, Any]] = {}
    for strategy, (cls, defaults) in STRATEGIES.items():
        hints = typing.get_type_hints(cls)
        for f in fields(cls):
            o = options.setdefault(f.name, {"type": hints[f.name], "helps": {}, "defaults": {}})
            o["helps"].setdefault(f.metadata["help"], []).append(strategy)
            default = defaults.get(f.name, f.default)
            if default is not None:
                o["defaults"][strategy] = default
    return options


def _help(o: dict[str, Any]) -> str:
    """The fields' help, the strategies that take the parameter and its defaults, in one line."""
    helps = o["helps"]
    text = "; ".join(h if len(helps) == 1 else f"{', '.join(s)}: {h}" for h, s in helps.items())
    where = [s for strategies in helps.values() for s in strategies]
    by_value: dict[str, list[str]] = {}
    for strategy, value in o["defaults"].items():
        by_value.setdefault(str(value).lower() if isinstance(value, bool) else str(value), []).append(strategy)
    if len(by_value) == 1 and len(next(iter(by_value.values()))) == len(where):
        defaults = next(iter(by_value))  # the same default wherever it applies
    else:
        defaults = ", ".join(f"{', '.join(ss)} {v}" for v, ss in by_value.items())
    return (f"{text} [{', '.join(where) if len(where) < len(STRATEGIES) else 'every strategy'}"
            + (f"; default: {defaults}]" if defaults else "]"))


def _check_engine(name: str) -> None:
    """``--engine``: one of inference's engines or one of the hardware chapter's packings (checked before loading)."""
    if name not in ENGINES:
        from llmbook.hardware.packed import KINDS

        if name not in KINDS:
            raise ValueError(f"--engine must be one of {', '.join((*ENGINES, *KINDS))}, got {name!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m llmbook", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    g = sub.add_parser("generate", help="continue a prompt, streaming the text",
                       description="Continue PROMPT with the book's model (SmolLM2-135M-Instruct), printing the "
                                   "text as it is generated.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g.add_argument("prompt", help="the text to continue (with --chat: the user's message; - reads standard input)")
    g.add_argument("--strategy", default="greedy", choices=list(STRATEGIES),
                   help="decoding strategy: greedy; sample (temperature and any filters); top-k, top-p, min-p "
                        "(sampling with that filter on); beam search; contrastive search")
    g.add_argument("--max-new-tokens", type=int, default=64, help="stop after this many new tokens")
    g.add_argument("--seed", type=int, default=None, help="seed of the sampler, 0 <= SEED < 2**64 (same seed, "
                                                          "same text)")
    s = g.add_argument_group("strategy parameters (from llmbook.inference.strategies)")
    for name, o in strategy_options().items():
        s.add_argument(_option(name), dest=name, type=_parse_as(o["type"]), default=argparse.SUPPRESS,
                       metavar="VALUE", help=_help(o))
    g.add_argument("--stop", action="append", default=[], metavar="TEXT",
                   help="stop when the text contains TEXT (repeatable; TEXT itself is not printed)")
    g.add_argument("--chat", action="store_true", help="wrap the prompt in the model's chat template (ChatML)")
    g.add_argument("--system", default=None, help="system message for --chat (default: SmolLM2's own)")
    g.add_argument("--ignore-eos", action="store_true", help="do not stop at the end-of-sequence token")
    g.add_argument("--no-cache", action="store_true", help="recompute every position at every step (slow; "
                                                           "to see what the KV cache saves)")
    g.add_argument("--engine", default="torch", metavar="NAME",
                   help="torch: the float32 model; numpy: the same in NumPy; fp16: 16-bit matrices, fastest "
                        "decoding on a CPU; bf16: bfloat16 products, fastest prefill; int8, int4: weight-only integers "
                        "(docs/hardware.md)")
    g.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's choice; 1 is often faster on a busy machine)")
    g.add_argument("--stats", action="store_true", help="print token count and speed to stderr at the end")
    g.add_argument("--model", default="smollm2-135m-instruct", help="model name (see llmbook.models.registry)")

    t = sub.add_parser("tokenize", help="show the tokens of a text (ids and pieces)",
                       description="Split TEXT into the model's tokens and print each id with its piece.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("text", help="the text to tokenize (- reads standard input)")
    t.add_argument("--chat", action="store_true", help="wrap the text in the chat template first")
    t.add_argument("--ids", action="store_true", help="print only the ids, space-separated")
    t.add_argument("--model", default="smollm2-135m-instruct", help="model name (see llmbook.models.registry)")
    return parser


def _as_options(message: str) -> str:
    """Name parameters as the command line spells them: top_p -> --top-p."""
    for name in (*strategy_options(), "max_new_tokens", "seed"):
        message = message.replace(f"{name} ", f"{_option(name)} ")
    return message


def _text(arg: str) -> str:
    return sys.stdin.read() if arg == "-" else arg


def _generate(args: argparse.Namespace, fail: Any) -> int:
    from llmbook.models.config import LlamaConfig
    from llmbook.models.gguf import read_gguf
    from llmbook.models.registry import model_path

    params = {k: getattr(args, k) for k in strategy_options() if hasattr(args, k)}  # only those given
    try:  # before the model loads: mistakes fail fast
        p = strategy_params(args.strategy, **params)
        check_seed(args.seed)
        _check_engine(args.engine)
        if args.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be an integer >= 1, got {args.max_new_tokens}")
        if args.threads is not None and args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        p.check_model(LlamaConfig.from_gguf(read_gguf(model_path(args.model))).vocab_size)  # the file's metadata
        prompt = _text(args.prompt)
    except ValueError as e:
        fail(_as_options(str(e)))
    from llmbook.inference.generate import stream
    from llmbook.models.llama import load_model

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    model = load_model(args.model)
    if args.engine not in ENGINES:
        from llmbook.hardware.packed import pack_model

        args.engine = pack_model(model, args.engine)
    t0, n = time.perf_counter(), 0
    try:
        pieces = stream(model, prompt, args.strategy, args.max_new_tokens, args.seed, stop=args.stop,
                        chat=args.chat, system=args.system, eos_token_id=None if args.ignore_eos else "default",
                        use_cache=not args.no_cache, engine=args.engine, **params)
    except ValueError as e:
        fail(_as_options(str(e)))
    for piece in pieces:
        n += piece.id >= 0
        sys.stdout.write(piece.text)
        sys.stdout.flush()
    sys.stdout.write("\n")
    if args.stats:
        dt = time.perf_counter() - t0
        print(f"[{n} tokens in {dt:.1f} s, {n / dt:.1f} tokens/s]", file=sys.stderr)
    return 0


def _tokenize(args: argparse.Namespace, fail: Any) -> int:
    from llmbook.tokenizer.chat import chatml, chatml_ids
    from llmbook.models.config import LlamaConfig, gguf_tokenizer
    from llmbook.models.gguf import read_gguf
    from llmbook.models.registry import model_path

    f = read_gguf(model_path(args.model))  # metadata only: no weights are read
    tok = gguf_tokenizer(f, LlamaConfig.from_gguf(f).vocab_size)  # checked as load_model checks it
    try:
        text = _text(args.text)
        messages = [{"role": "user", "content": text}]
        text = chatml(messages) if args.chat else text
        ids = chatml_ids(tok, messages) if args.chat else tok.encode(text)  # control tokens only from the template
    except ValueError as e:  # a byte the vocabulary lacks, text that is not valid Unicode
        fail(f"cannot tokenize the text: {e}")
    if args.ids:
        print(" ".join(map(str, ids)))
        return 0
    print(f"{len(ids)} tokens, {len(text)} characters")
    for i in ids:
        print(f"{i:>6}  {tok.token_text(i)!r}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    sub = parser._subparsers._group_actions[0].choices[args.command]  # type: ignore[union-attr]
    try:
        if args.command == "generate":
            return _generate(args, sub.error)
        return _tokenize(args, sub.error)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # the reader went away (e.g. | head): stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 141  # 128 + SIGPIPE, what a shell reports for a tool the pipe stopped
    except (KeyError, FileNotFoundError) as e:
        sub.error(str(e).strip("'\""))
    except MemoryError:
        sub.exit(1, f"{sub.prog}: error: not enough memory for this request\n")
