"""The command line: generate text and look at tokens with the book's model.

    python -m llmbook generate "The capital of France is" --strategy top-p --top-p 0.9 --seed 0
    python -m llmbook generate "Write a haiku about tea." --chat --max-new-tokens 60
    python -m llmbook tokenize "Hello, world!"

Text streams to stdout as it is generated. A mistake in the options prints one
line to stderr and exits with status 2, before the model is loaded.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, NoReturn

from llmbook.inference.generate import STRATEGIES, check_params


class _Parser(argparse.ArgumentParser):
    """argparse, with errors as one line (no usage dump) ending in a pointer to --help."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _early_stopping(text: str) -> bool | str:
    choices = {"true": True, "false": False, "never": "never"}
    if text.lower() not in choices:
        raise argparse.ArgumentTypeError(f"must be true, false or never, not {text!r}")
    return choices[text.lower()]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m llmbook", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)

    g = sub.add_parser("generate", help="continue a prompt, streaming the text",
                       description="Continue PROMPT with the book's model (SmolLM2-135M-Instruct), printing the "
                                   "text as it is generated.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g.add_argument("prompt", help="the text to continue (with --chat: the user's message)")
    g.add_argument("--strategy", default="greedy", choices=list(STRATEGIES),
                   help="decoding strategy: greedy; sample (temperature and any filters); top-k, top-p, min-p "
                        "(sampling with that filter on); beam search; contrastive search")
    g.add_argument("--max-new-tokens", type=int, default=64, help="stop after this many new tokens")
    g.add_argument("--seed", type=int, default=None, help="seed of the sampler (same seed, same text)")
    s = g.add_argument_group("sampling (sample, top-k, top-p, min-p)")
    s.add_argument("--temperature", type=float, help="divide the logits by T > 0 (default 1)")
    s.add_argument("--top-k", type=int, help="keep the K most likely tokens (top-k default 50; also contrastive "
                                             "search's number of candidates, default 4)")
    s.add_argument("--top-p", type=float, help="keep the most likely tokens until their probability adds up to P, "
                                               "0 < P <= 1 (top-p default 0.9)")
    s.add_argument("--min-p", type=float, help="keep tokens at least P times as likely as the top one, 0 <= P <= 1 "
                                               "(min-p default 0.1)")
    s.add_argument("--repetition-penalty", type=float,
                   help="make tokens already in the text less likely (> 0; 1 = off; any strategy)")
    b = g.add_argument_group("beam search (beam)")
    b.add_argument("--num-beams", type=int, help="number of beams (default 4)")
    b.add_argument("--length-penalty", type=float, help="finished beams score logprob / length^L (default 1)")
    b.add_argument("--early-stopping", type=_early_stopping, metavar="{true,false,never}",
                   help="when to stop searching (default false)")
    c = g.add_argument_group("contrastive search (contrastive)")
    c.add_argument("--penalty-alpha", type=float, help="weight of the degeneration penalty, 0..1 (default 0.6)")
    g.add_argument("--stop", action="append", default=[], metavar="TEXT",
                   help="stop when the text contains TEXT (repeatable; TEXT itself is not printed)")
    g.add_argument("--chat", action="store_true", help="wrap the prompt in the model's chat template (ChatML)")
    g.add_argument("--system", default=None, help="system message for --chat (default: SmolLM2's own)")
    g.add_argument("--ignore-eos", action="store_true", help="do not stop at the end-of-sequence token")
    g.add_argument("--no-cache", action="store_true", help="recompute every position at every step (slow; "
                                                           "to see what the KV cache saves)")
    g.add_argument("--threads", type=int, default=None,
                   help="CPU threads for torch (default: torch's choice; 1 is often faster on a busy machine)")
    g.add_argument("--stats", action="store_true", help="print token count and speed to stderr at the end")
    g.add_argument("--model", default="smollm2-135m-instruct", help="model name (see llmbook.models.registry)")

    t = sub.add_parser("tokenize", help="show the tokens of a text (ids and pieces)",
                       description="Split TEXT into the model's tokens and print each id with its piece.",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("text", help="the text to tokenize")
    t.add_argument("--chat", action="store_true", help="wrap the text in the chat template first")
    t.add_argument("--ids", action="store_true", help="print only the ids, space-separated")
    t.add_argument("--model", default="smollm2-135m-instruct", help="model name (see llmbook.models.registry)")
    return parser


PARAMS = ("temperature", "top_k", "top_p", "min_p", "repetition_penalty", "num_beams", "length_penalty",
          "early_stopping", "penalty_alpha")


def _as_options(message: str) -> str:
    """Name parameters as the command line spells them: top_p -> --top-p."""
    for name in (*PARAMS, "max_new_tokens"):
        message = message.replace(name, "--" + name.replace("_", "-"))
    return message


def _generate(args: argparse.Namespace, fail: Any) -> int:
    params = {k: getattr(args, k) for k in PARAMS if getattr(args, k) is not None}
    try:
        check_params(args.strategy, params)  # before the model loads: mistakes fail fast
        if args.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1, got {args.max_new_tokens}")
        if args.threads is not None and args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
    except ValueError as e:
        fail(_as_options(str(e)))
    from llmbook.inference.generate import stream
    from llmbook.models.llama import load_model

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    model = load_model(args.model)
    t0, n = time.perf_counter(), 0
    try:
        pieces = stream(model, args.prompt, args.strategy, args.max_new_tokens, args.seed, stop=args.stop,
                        chat=args.chat, system=args.system, eos_token_id=None if args.ignore_eos else "default",
                        use_cache=not args.no_cache, **params)
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


def _tokenize(args: argparse.Namespace) -> int:
    from llmbook.inference.chat import chatml
    from llmbook.models.gguf import read_gguf
    from llmbook.tokenizer.gguf_tokenizer import GGUFTokenizer
    from llmbook.models.registry import model_path

    tok = GGUFTokenizer.from_gguf(read_gguf(model_path(args.model)).metadata)  # metadata only: no weights
    text = chatml([{"role": "user", "content": args.text}]) if args.chat else args.text
    ids = tok.encode(text)
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
        return _tokenize(args)
    except KeyboardInterrupt:
        return 130
    except (KeyError, FileNotFoundError) as e:
        sub.error(str(e).strip("'\""))
