"""``python -m llmbook`` as a new user would try it: help, generation, tokens and mistakes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import one_torch_thread

from llmbook.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "llmbook", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_help_documents_every_option() -> None:
    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for command, sub_parser in sub.items():
        out = run(command, "--help")
        assert out.returncode == 0 and out.stderr == ""
        for action in sub_parser._actions:
            for option in action.option_strings:
                assert option in out.stdout, f"{command} --help does not mention {option}"
            assert action.help, f"{command}: {action.dest} has no help text"


def test_generate_streams_the_greedy_continuation() -> None:
    out = run("generate", "The capital of France is", "--max-new-tokens", "2", "--threads", "1", "--stats")
    assert out.returncode == 0, out.stderr
    assert out.stdout == " Paris.\n"  # ids [7042, 30], as the generate tests check against transformers
    assert out.stderr.startswith("[2 tokens in ")


@pytest.fixture
def one_thread():
    """In-process generation on one thread, as the commands below run (--threads 1)."""
    with one_torch_thread():
        yield


def test_generate_seeded_sampling_and_chat_match_the_package(one_thread) -> None:
    from llmbook.inference.generate import generate
    from llmbook.models.llama import load_model

    model = load_model()
    sampled = run("generate", "Once upon a time", "--strategy", "top-p", "--top-p", "0.9", "--temperature", "0.8",
                  "--max-new-tokens", "6", "--seed", "0", "--threads", "1")
    assert sampled.returncode == 0, sampled.stderr
    expected = generate(model, "Once upon a time", "top-p", 6, seed=0, top_p=0.9, temperature=0.8)
    assert sampled.stdout == expected.text + "\n"
    chat = run("generate", "What is 2+2?", "--chat", "--max-new-tokens", "20", "--threads", "1")
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout == generate(model, "What is 2+2?", chat=True, max_new_tokens=20).text + "\n"
    assert "4" in chat.stdout and "<|im_end|>" not in chat.stdout


def test_tokenize_shows_ids_and_pieces() -> None:
    out = run("tokenize", "The capital of France is")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "5 tokens, 24 characters"
    assert [line.split()[0] for line in lines[1:]] == ["504", "3575", "282", "4649", "314"]
    assert lines[2].endswith("' capital'")
    assert run("tokenize", "The capital of France is", "--ids").stdout == "504 3575 282 4649 314\n"


@pytest.mark.parametrize("args,message", [
    (["generate", "x", "--strategy", "top-p", "--top-p", "1.5"], "--top-p must be in (0, 1], got 1.5"),
    (["generate", "x", "--strategy", "nucleus"], "invalid choice: 'nucleus'"),
    (["generate", "x", "--top-p", "0.9"], "--top-p does not apply to strategy 'greedy'"),
    (["generate", "x", "--strategy", "sample", "--temperature", "0"], "--temperature must be > 0, got 0"),
    (["generate", "x", "--strategy", "top-k", "--top-k", "0"], "--top-k must be an integer >= 1, got 0"),
    (["generate", "x", "--max-new-tokens", "0"], "--max-new-tokens must be >= 1"),
    (["generate", "x", "--top-p", "lots"], "argument --top-p: invalid float value: 'lots'"),
    (["generate", "x", "--model", "gpt-5"], "unknown model 'gpt-5'"),
    (["tokens", "x"], "invalid choice: 'tokens'"),
    ([], "the following arguments are required: COMMAND"),
])
def test_mistakes_print_one_line_and_exit_2(args: list[str], message: str) -> None:
    out = run(*args)
    assert out.returncode == 2
    assert out.stdout == ""
    assert len(out.stderr.splitlines()) == 1, out.stderr
    assert "error: " in out.stderr and message in out.stderr, out.stderr
