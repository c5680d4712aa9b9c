"""The model-family table: every row sourced, typed, no guessed figures, the book's row equal to its file."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from llmbook.models.families import FAMILIES, Family, family, format_context, format_params


def test_every_row_is_sourced_and_typed() -> None:
    """Catches a row the dataclass cannot judge alone: two rows with one name, sizes out of order, a year
    outside the models' era, a wrong type. (Sources, positive sizes and context lengths are checked by
    ``Family`` itself; the next test checks that it does.)"""
    assert len({f.name for f in FAMILIES}) == len(FAMILIES), "two rows share a name"
    for f in FAMILIES:
        assert isinstance(f.organisation, str) and f.organisation, f.name
        assert isinstance(f.year, int) and 2018 <= f.year <= 2026, f.name
        assert isinstance(f.open_weights, bool), f.name
        assert f.params_b is None or list(f.params_b) == sorted(f.params_b), f"{f.name}: sizes not in order"


@pytest.mark.parametrize("change, message", [
    (dict(source="http://example.org"), "a source must be an https:// address"),
    (dict(params_b=(1.0, -2.0)), "params_b must be positive sizes or None"),
    (dict(context_length=0), "context_length must be >= 1 or None"),
    (dict(active_b=9.0), "active_b must be smaller than the total size"),
    (dict(layers=(12,)), "layers must give one positive integer per size"),
    (dict(widths=(768, 0)), "widths must give one positive integer per size"),
    (dict(shape_source="example.org/x"), "a source must be an https:// address"),
])
def test_a_bad_row_is_refused(change, message) -> None:
    """Catches a ``Family`` that accepts an unsourced or impossible row."""
    row = dict(name="X", organisation="Y", year=2024, open_weights=True, params_b=(1.0, 7.0), context_length=4096,
               source="https://example.org/x")
    Family(**row)
    with pytest.raises(ValueError, match=message):
        Family(**(row | change))


def test_closed_models_have_no_guessed_size() -> None:
    gpt4 = family("GPT-4")
    assert (gpt4.open_weights, gpt4.params_b, gpt4.context_length) == (False, None, None)
    assert format_params(gpt4) == "not disclosed" and format_context(None) == "not stated"
    assert {f.name for f in FAMILIES if not f.open_weights} == {"GPT-3", "GPT-4", "Gemini 1.0", "Claude 3"}
    claude = family("Claude 3")
    assert (claude.params_b, claude.layers, claude.widths) == (None, None, None)
    assert family("Gemini 1.0").layers is None and family("GPT-4").widths is None


def test_mixtures_of_experts_show_the_active_part() -> None:
    assert format_params(family("Mixtral 8x7B")) == "47B (13B active)"
    assert format_params(family("DeepSeek-V3")) == "671B (37B active)"
    assert format_params(family("GPT-2")) == "117M, 345M, 762M, 1.542B"


def test_context_lengths_print_as_papers_write_them() -> None:
    assert [format_context(n) for n in (1024, 2048, 8192, 32 * 1024, 128 * 1024)] == [
        "1,024", "2,048", "8,192", "32K", "128K"]


def test_bad_rows_are_refused_with_the_field_named() -> None:
    row = family("Llama 2")
    with pytest.raises(ValueError, match="https:// address"):
        dataclasses.replace(row, source="arxiv.org/abs/2307.09288")
    with pytest.raises(ValueError, match="params_b must be positive"):
        dataclasses.replace(row, params_b=(7.0, -1.0))
    with pytest.raises(ValueError, match="context_length"):
        dataclasses.replace(row, context_length=0)
    with pytest.raises(ValueError, match="active_b"):
        Family("x", "y", 2024, True, (7.0,), 8, "https://example.org", active_b=7.0)
    with pytest.raises(KeyError, match="known: GPT-2"):
        family("GPT-5")


def test_smollm2_row_agrees_with_the_model_file(smollm: Any) -> None:
    row = family("SmolLM2-135M")
    assert row.context_length == smollm.config.context_length == 8192
    assert row.layers == (smollm.config.n_layers,) and row.widths == (smollm.config.dim,)
    n = sum(p.numel() for p in smollm.parameters())  # the tied embedding counted once
    assert row.params_b is not None and abs(n / 1e9 - row.params_b[0]) < 0.001, n  # "135M" is n rounded to 1M
