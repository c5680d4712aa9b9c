"""Beam search as a strategy of the decoding loop: which beams continue, with which tokens.

It runs the way ``transformers`` runs it (the 2 x ``num_beams`` candidates, the list
of finished hypotheses, the early-stopping rule); the tests check both produce the
same tokens on the book's model.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from llmbook.inference.sampling import repetition_penalty
from llmbook.inference.strategies import BeamParams, Step


# --8<-- [start:beam]
class BeamSearch:
    """Keep the ``num_beams`` best partial sequences by total log-probability $\\sum_t \\log p(y_t \\mid y_{<t})$.

    Each step scores every beam's every next token, takes the best $2 \\times$ ``num_beams``,
    moves those ending (EOS, stop string or the length limit) to the finished list with
    score $\\text{logprob} / n^{\\lambda}$ ($n$ new tokens, $\\lambda$ = ``length_penalty``),
    and keeps the best ``num_beams`` others running. It stops when every candidate ends,
    or (``early_stopping``) when no running beam can beat the finished ones; then it
    emits the best finished hypothesis.
    """

    wants_hidden = False

    def __init__(self, p: BeamParams, n_prompt: int, max_new_tokens: int, eos: int | None,
                 stop_check: Callable[[list[int]], bool] | None = None) -> None:
        self.p, self.n_prompt, self.max_len, self.eos = p, n_prompt, n_prompt + max_new_tokens, eos
        self.stop_check = stop_check  # does this new text contain a stop string?
        self.running = torch.zeros(1)  # running beams' total log-probs: one beam, the prompt, to start with
        self.done_scores = torch.full((p.num_beams,), -1e9)  # finished hypotheses: score, tokens, finished?
        self.done_seqs: list[list[int]] = [[] for _ in range(p.num_beams)]
        self.done = torch.zeros(p.num_beams, dtype=torch.bool)
        self.improvable = True

    def step(self, logits: torch.Tensor, hidden: torch.Tensor | None, seqs: torch.Tensor) -> Step:
        """``logits`` (beams, V) of the running beams ``seqs`` (beams, cur_len)."""
        p, n_prompt, beams, keep = self.p, self.n_prompt, self.p.num_beams, 2 * self.p.num_beams
        cur_len, vocab = seqs.shape[1], logits.shape[-1]
        logp = torch.log_softmax(logits, dim=-1)  # (beams, V)
        if p.repetition_penalty not in (None, 1.0):
            logp = repetition_penalty(logp, seqs, p.repetition_penalty)
        top, flat = (logp + self.running[:, None]).view(-1).topk(keep)  # best 2*num_beams (beam, token) pairs
        parent, token = flat // vocab, flat % vocab
        cand = torch.cat([seqs[parent], token[:, None]], dim=1)  # (2*num_beams, cur_len + 1)
        ends = torch.tensor([cur_len + 1 >= self.max_len or int(t) == self.eos
                             or bool(self.stop_check and self.stop_check(c[n_prompt:].tolist()))
                             for t, c in zip(token, cand)])
        # running beams for the next step: the best num_beams candidates that did not end
        pick = (top - 1e9 * ends.float()).topk(beams).indices
        self.running = (top - 1e9 * ends.float())[pick]
        # finished hypotheses: ended candidates among the best num_beams, length-normalised
        new_scores = top / (cur_len + 1 - n_prompt) ** p.length_penalty
        if bool(self.done.all()) and p.early_stopping is True or not self.improvable:
            new_scores = new_scores - 1e9
        just_done = ends & (torch.arange(keep) < beams)
        new_scores = new_scores + (~just_done).float() * -1e9
        merged = torch.cat([self.done_scores, new_scores]).topk(beams).indices
        all_seqs = self.done_seqs + [c[n_prompt:].tolist() for c in cand]
        self.done_scores = torch.cat([self.done_scores, new_scores])[merged]
        self.done = torch.cat([self.done, just_done])[merged]
        self.done_seqs = [all_seqs[i] for i in merged.tolist()]
        # can a running beam still beat the worst finished one?
        best_len = (self.max_len - n_prompt if p.early_stopping == "never" and p.length_penalty > 0
                    else cur_len + 1 - n_prompt)
        best_possible = self.running[0] / best_len**p.length_penalty
        worst_done = torch.where(self.done, self.done_scores.min(), torch.tensor(-1e9))
        self.improvable = self.improvable and bool((best_possible > worst_done).any())
        if not self.improvable or (bool(self.done.all()) and p.early_stopping is True) or bool(ends.all()):
            return Step(emit=self.done_seqs[0])  # the best finished hypothesis, all at once
        return Step(tokens=token[pick].tolist(), rows=parent[pick].tolist())  # each beam continues its parent
# --8<-- [end:beam]
