"""``python -m llmbook`` as a new user would try it: help, generation, tokens and mistakes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from helpers import one_torch_thread

from llmbook.cli import build_parser, main, strategy_options
from llmbook.inference.strategies import STRATEGIES

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, timeout: float = 120, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "llmbook", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, input=stdin)


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


def test_every_strategy_parameter_is_an_option_with_its_help() -> None:
    """The options come from the strategies' dataclass fields, not from a list kept by hand."""
    sub = build_parser()._subparsers._group_actions[0].choices["generate"]  # type: ignore[union-attr]
    options = {o: a for a in sub._actions for o in a.option_strings}
    for name, o in strategy_options().items():
        action = options["--" + name.replace("_", "-")]
        assert action.dest == name and all(h in action.help for h in o["helps"]), name
    assert options["--strategy"].choices == list(STRATEGIES)
    assert "top-k 50, contrastive 4" in options["--top-k"].help  # the defaults each strategy gives it


def test_tokenize_reads_standard_input() -> None:
    out = run("tokenize", "-", "--ids", stdin="The capital of France is", timeout=60)
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert out.stdout == "504 3575 282 4649 314\n"


def test_tokenize_into_a_closed_pipe_stops_quietly() -> None:
    """`... | head -1`: the reader goes away; like a Unix tool, no traceback, status 128 + SIGPIPE."""
    script = f'set -o pipefail; "{sys.executable}" -m llmbook tokenize "$TEXT" 2>"$ERR" | head -1'
    err = ROOT / "tests" / ".cli-broken-pipe.err"
    try:
        out = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, PYTHONPATH=str(ROOT), TEXT="hi " * 20000, ERR=str(err)))
        assert out.stdout == "20001 tokens, 60000 characters\n"
        assert err.read_text() == ""
        assert out.returncode == 141
    finally:
        err.unlink(missing_ok=True)


@pytest.mark.parametrize("args,message", [
    (["generate", "x", "--strategy", "top-p", "--top-p", "1.5"], "--top-p must be in (0, 1], got 1.5"),
    (["generate", "x", "--strategy", "nucleus"], "invalid choice: 'nucleus'"),
    (["generate", "x", "--top-p", "0.9"], "--top-p does not apply to strategy 'greedy'"),
    (["generate", "x", "--strategy", "sample", "--temperature", "0"], "--temperature must be > 0, got 0"),
    (["generate", "x", "--strategy", "sample", "--temperature", "nan"], "--temperature must be a finite number > 0"),
    (["generate", "x", "--strategy", "sample", "--temperature", "hot"], "argument --temperature: invalid float "
                                                                        "value: 'hot'"),
    (["generate", "x", "--strategy", "top-k", "--top-k", "0"], "--top-k must be an integer >= 1, got 0"),
    (["generate", "x", "--strategy", "top-k", "--top-k", "2.5"], "argument --top-k: invalid int value: '2.5'"),
    (["generate", "x", "--strategy", "beam", "--num-beams", "0"], "--num-beams must be an integer >= 1, got 0"),
    (["generate", "x", "--strategy", "beam", "--early-stopping", "soon"], "--early-stopping must be one of True, "
                                                                          "False, 'never', got 'soon'"),
    (["generate", "x", "--strategy", "contrastive", "--penalty-alpha", "2"], "--penalty-alpha must be in [0, 1]"),
    (["generate", "x", "--strategy", "sample", "--seed", "18446744073709551616"],
     "--seed must be an integer in [0, 2**64), got 18446744073709551616"),
    (["generate", "x", "--strategy", "sample", "--seed", "-1"], "--seed must be an integer in [0, 2**64), got -1"),
    (["generate", "x", "--max-new-tokens", "0"], "--max-new-tokens must be an integer >= 1"),
    (["generate", "x", "--threads", "0"], "--threads must be >= 1"),
    (["generate", "x", "--top-p", "lots"], "argument --top-p: invalid float value: 'lots'"),
    (["generate", "x", "--engine", "gpu"], "--engine must be one of torch, numpy, fp16, bf16, int8, int4, got 'gpu'"),
    (["tokens", "x"], "invalid choice: 'tokens'"),
    ([], "the following arguments are required: COMMAND"),
])
def test_mistakes_print_one_line_and_exit_2_before_the_model_loads(args: list[str], message: str, capsys: Any,
                                                                   monkeypatch: Any) -> None:
    import llmbook.models.llama

    monkeypatch.setattr(llmbook.models.llama, "load_model", _never_loads)
    assert_one_line_error(args, message, capsys, seconds=10)


def _never_loads(*args: Any) -> None:
    raise AssertionError("the options should have been refused before the model loads")


@pytest.mark.parametrize("args,message", [
    (["generate", "hi", "--strategy", "beam", "--num-beams", "25000", "--max-new-tokens", "2"],
     "--num-beams must be an integer between 1 and 24576 (half the vocabulary of 49152"),
    (["generate", "hi", "--strategy", "contrastive", "--top-k", "100000", "--max-new-tokens", "2"],
     "--top-k must be an integer between 1 and 49152 (the vocabulary size), got 100000"),
])
def test_limits_from_the_vocabulary_are_checked_before_the_model_loads(args: list[str], message: str, capsys: Any,
                                                                       monkeypatch: Any) -> None:
    """The vocabulary size comes from the file's metadata, without loading the weights."""
    import llmbook.models.llama

    monkeypatch.setattr(llmbook.models.llama, "load_model", _never_loads)
    assert_one_line_error([*args, "--threads", "1"], message, capsys, seconds=20)


@pytest.mark.parametrize("args,message", [
    (["generate", "hi " * 8000, "--max-new-tokens", "500"], "exceeds the model's context length of 8192"),
    (["generate", "x", "--model", "gpt-5"], "unknown model 'gpt-5'"),
    (["tokenize", "a\x04b"], "cannot tokenize the text: the vocabulary has no token for the byte b'\\x04'"),
    (["tokenize", "x", "--model", "gpt-5"], "unknown model 'gpt-5'"),
])
def test_mistakes_found_with_the_model_print_one_line_and_exit_2(args: list[str], message: str, capsys: Any,
                                                                 monkeypatch: Any, smollm: Any) -> None:
    import llmbook.models.llama

    real = llmbook.models.llama.load_model
    monkeypatch.setattr(llmbook.models.llama, "load_model",
                        lambda name: smollm if name == "smollm2-135m-instruct" else real(name))
    args = [*args, "--threads", "1"] if args[0] == "generate" else args
    assert_one_line_error(args, message, capsys, seconds=30)


def assert_one_line_error(args: list[str], message: str, capsys: Any, seconds: float) -> None:
    t0 = time.perf_counter()
    with one_torch_thread(), pytest.raises(SystemExit) as e:
        main(args)
    out = capsys.readouterr()
    assert e.value.code == 2
    assert out.out == ""
    assert len(out.err.splitlines()) == 1, out.err
    assert "error: " in out.err and message in out.err, out.err
    assert time.perf_counter() - t0 < seconds, "the mistake should be found at once"


def test_a_mistake_in_a_subprocess_is_one_line_too() -> None:
    out = run("generate", "x", "--strategy", "top-p", "--top-p", "1.5", timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == ("python -m llmbook generate: error: --top-p must be in (0, 1], got 1.5 "
                          "(see python -m llmbook generate --help)\n")
