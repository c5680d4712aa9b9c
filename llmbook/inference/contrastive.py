"""Contrastive search as a strategy of the decoding loop (Su et al., 2022)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from llmbook.inference.sampling import repetition_penalty
from llmbook.inference.strategies import ContrastiveParams, Step


# --8<-- [start:contrastive]
class ContrastiveSearch:
    """Among the top-k tokens pick

    $$\\arg\\max_{v} \\; (1-\\alpha)\\, p(v \\mid x) - \\alpha \\max_j \\cos(h_v, h_j)$$

    where $h_v$ is the last hidden state of candidate $v$ and $h_j$ those of every
    earlier token: likely, but unlike anything already said. The loop runs the k
    candidates as k rows of a batch, each on a copy of the cache; the chosen row's
    logits then give the next k candidates.
    """

    wants_hidden = True

    def __init__(self, p: ContrastiveParams, max_new_tokens: int, eos: int | None) -> None:
        self.p, self.max_new_tokens, self.eos = p, max_new_tokens, eos
        self.context: torch.Tensor | None = None  # (S, C) hidden states of the text so far
        self.probs = torch.empty(0)  # (k,) the current candidates' probabilities
        self.n = 0  # tokens emitted

    def step(self, logits: torch.Tensor, hidden: torch.Tensor, seqs: torch.Tensor) -> Step:
        """``logits`` (B, V), ``hidden`` (B, T, C) of rows ``seqs`` (B, S): the prompt, then the k candidates."""
        if self.context is None:  # after the prefill: propose the first candidates
            self.context = hidden[0]
            return self._propose(logits[0], seqs[0], row=0)
        h = hidden[:, -1]  # (k, C): each candidate's last hidden state
        cos = F.normalize(h, dim=-1) @ F.normalize(self.context, dim=-1).T  # (k, S)
        score = (1 - self.p.penalty_alpha) * self.probs - self.p.penalty_alpha * cos.max(dim=-1).values
        best = int(score.argmax())
        token = int(seqs[best, -1])
        self.n += 1
        if token == self.eos or self.n == self.max_new_tokens:
            return Step(emit=[token])
        self.context = torch.cat([self.context, h[best : best + 1]])
        step = self._propose(logits[best], seqs[best], row=best)
        step.emit = [token]
        return step

    def _propose(self, logits: torch.Tensor, tokens: torch.Tensor, row: int) -> Step:
        """The top-k tokens after row ``row``, each to run as one row of the next batch."""
        if self.p.repetition_penalty not in (None, 1.0):
            logits = repetition_penalty(logits, tokens, self.p.repetition_penalty)
        self.probs, candidates = logits.softmax(-1).topk(self.p.top_k)  # (k,), (k,)
        return Step(tokens=candidates.tolist(), rows=[row] * self.p.top_k)
# --8<-- [end:contrastive]
