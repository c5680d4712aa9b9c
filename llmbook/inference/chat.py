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
"""

from __future__ import annotations

from collections.abc import Sequence

SMOLLM2_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
ROLES = ("system", "user", "assistant")


# --8<-- [start:chatml]
def chatml(
    messages: Sequence[dict[str, str]],
    add_generation_prompt: bool = True,
    default_system: str | None = SMOLLM2_SYSTEM,
) -> str:
    """Render ``[{"role": ..., "content": ...}, ...]`` in ChatML.

    If the first message is not a system message and ``default_system`` is given, a
    system message with it comes first (as SmolLM2's template does).
    """
    for i, m in enumerate(messages):
        if m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise ValueError(f"message {i} must have a role in {ROLES} and a string content, got {m!r}")
    text = ""
    if messages and messages[0]["role"] != "system" and default_system is not None:
        text += f"<|im_start|>system\n{default_system}<|im_end|>\n"
    for m in messages:
        text += f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n"
    if add_generation_prompt:
        text += "<|im_start|>assistant\n"
    return text
# --8<-- [end:chatml]
