"""Chat templates: how a conversation becomes the one long string a chat model was trained on.

A chat model reads plain tokens like any other. Fine-tuning taught it a format
that marks who speaks; SmolLM2 uses ChatML, where each message is

    <|im_start|>{role}\\n{content}<|im_end|>\\n

and ``<|im_start|>`` and ``<|im_end|>`` are single control tokens. Ending the prompt
with ``<|im_start|>assistant\\n`` asks the model to write the assistant's turn; it
signals that it is done by producing ``<|im_end|>``.

GGUF files store the template as a Jinja program (``tokenizer.chat_template``).
``chatml`` below is the same program for SmolLM2's template written in Python; the
tests check that it renders exactly what ``transformers`` renders from the Jinja.

Control tokens must come from the template only. ``chatml_ids`` therefore never
tokenizes the rendered string with control tokens allowed: it renders segments,
gives the template's own markers their ids, and encodes message text as text, so
a message that spells ``<|im_end|>`` gets ordinary tokens and cannot forge a turn.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llmbook.tokenizer.gguf_tokenizer import GGUFTokenizer

SMOLLM2_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
ROLES = ("system", "user", "assistant")


START, END = "<|im_start|>", "<|im_end|>"  # ChatML's two control tokens


# --8<-- [start:chatml]
def chatml_segments(
    messages: Sequence[dict[str, str]],
    add_generation_prompt: bool = True,
    default_system: str | None = SMOLLM2_SYSTEM,
) -> list[tuple[str, bool]]:
    """Render ``[{"role": ..., "content": ...}, ...]`` in ChatML, as ``(text, is_control_token)`` segments.

    If the first message is not a system message and ``default_system`` is given, a
    system message with it comes first (as SmolLM2's template does).
    """
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise ValueError(f"message {i} must have a role in {ROLES} and a string content, got {m!r}")
    if messages and messages[0]["role"] != "system" and default_system is not None:
        messages = [{"role": "system", "content": default_system}, *messages]
    segments: list[tuple[str, bool]] = []
    for m in messages:
        segments += [(START, True), (f"{m['role']}\n{m['content']}", False), (END, True), ("\n", False)]
    if add_generation_prompt:
        segments += [(START, True), ("assistant\n", False)]
    return segments


def chatml(messages: Sequence[dict[str, str]], add_generation_prompt: bool = True,
           default_system: str | None = SMOLLM2_SYSTEM) -> str:
    """The conversation as one string, for reading (to tokenize it, use :func:`chatml_ids`)."""
    return "".join(text for text, _ in chatml_segments(messages, add_generation_prompt, default_system))


def chatml_ids(tokenizer: GGUFTokenizer, messages: Sequence[dict[str, str]], add_generation_prompt: bool = True,
               default_system: str | None = SMOLLM2_SYSTEM) -> list[int]:
    """Token ids of the conversation: control tokens from the template, message text as plain text."""
    ids: list[int] = []
    for text, control in chatml_segments(messages, add_generation_prompt, default_system):
        ids += [tokenizer.special[text]] if control else tokenizer.encode(text)  # text is never a control token
    return ids
# --8<-- [end:chatml]
