"""The book's reward and DPO losses against trl's trainers on the same inputs (trl is pinned in the lock)."""

from __future__ import annotations

import datasets
import pytest
import torch
import transformers
import trl

from llmbook.alignment.dpo import dpo_loss
from llmbook.alignment.reward import RewardModel, bradley_terry_loss
from llmbook.alignment.sequences import pack, sequence_logprob
from llmbook.alignment.task import make_problems, preference_pairs
from llmbook.tokenizer.chat import chatml_ids

PAD = 0  # <|endoftext|>, never inside a prompt or answer
# Both sides run the same float32 model on the same inputs; they differ only in the order of a few
# additions over <= 40 tokens of log-probabilities of size <= 20, so 1e-5 bounds the rounding with margin.
TOL = 1e-5


def _tokenizer() -> object:
    """A stand-in processing class (the trainers only need one to exist; our inputs are already ids)."""
    from tokenizers import Tokenizer
    from tokenizers.models import WordLevel

    tok = transformers.PreTrainedTokenizerFast(tokenizer_object=Tokenizer(WordLevel({"<pad>": 0, "<unk>": 1},
                                                                                    unk_token="<unk>")))
    tok.pad_token, tok.eos_token = "<pad>", "<pad>"
    return tok


def _config(vocab: int) -> object:
    return transformers.LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                    num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                                    pad_token_id=PAD, tie_word_embeddings=True)


@pytest.fixture(scope="module")
def pairs(smollm) -> list[tuple[list[int], list[int], list[int]]]:
    """Four (prompt, chosen, rejected) id lists of the chapter's task, in SmolLM2's chat format."""
    tok = smollm.tokenizer
    train, _ = make_problems(4, 0, seed=5)
    end = [smollm.eos_token_id]
    return [(chatml_ids(tok, p.messages(), default_system=None), tok.encode(c) + end, tok.encode(r) + end)
            for p, c, r in preference_pairs(train, seed=5)]


def _dataset() -> object:
    """A placeholder training set (the trainers insist on one); the batches below are built from ids."""
    return datasets.Dataset.from_list([{"prompt": "<pad>", "chosen": "<pad>", "rejected": "<pad>"}])


def test_dpo_loss_equals_trl(pairs, tmp_path) -> None:
    torch.manual_seed(0)
    policy = transformers.LlamaForCausalLM(_config(49152)).eval()
    ref = transformers.LlamaForCausalLM(_config(49152)).eval()  # a different reference: the loss is not ln 2
    args = trl.DPOConfig(output_dir=str(tmp_path), report_to=[], beta=0.1, loss_type=["sigmoid"],
                         use_cpu=True, padding_free=False)
    trainer = trl.DPOTrainer(model=policy, ref_model=ref, args=args, train_dataset=_dataset(),
                             processing_class=_tokenizer())
    batch = trainer.data_collator([{"prompt_ids": p, "chosen_ids": c, "rejected_ids": r} for p, c, r in pairs])
    with torch.no_grad():
        theirs = trainer._compute_loss(trainer.model, batch, return_outputs=False)
        prompts = [p for p, _, _ in pairs] * 2
        ids, mask = pack(prompts, [c for _, c, _ in pairs] + [r for _, _, r in pairs], pad_id=PAD)
        logp = {name: sequence_logprob(m(ids, attention_mask=(ids != PAD).long()).logits, ids, mask).chunk(2)
                for name, m in [("policy", policy), ("ref", ref)]}
    ours = dpo_loss(logp["policy"][0], logp["policy"][1], logp["ref"][0], logp["ref"][1], beta=0.1)
    assert abs(float(theirs) - float(ours)) < TOL and abs(float(ours) - 0.6931472) > 1e-3


class _HFTrunk(torch.nn.Module):
    """transformers' LlamaModel behind the book's trunk interface: (logits, hidden) with want_hidden."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, ids: torch.Tensor, last_only: bool = False, want_hidden: bool = False) -> tuple:
        return None, self.model(ids, attention_mask=(ids != PAD).long()).last_hidden_state


def test_reward_loss_equals_trl(pairs, tmp_path) -> None:
    torch.manual_seed(0)
    cfg = _config(49152)
    cfg.num_labels = 1
    scorer = transformers.LlamaForSequenceClassification(cfg).eval()
    torch.nn.init.normal_(scorer.score.weight)  # rewards of order 1, so chosen and rejected differ
    args = trl.RewardConfig(output_dir=str(tmp_path), report_to=[], use_cpu=True)
    rows = [{"chosen_ids": p + c, "rejected_ids": p + r} for p, c, r in pairs]
    trainer = trl.RewardTrainer(model=scorer, args=args, train_dataset=datasets.Dataset.from_list(rows),
                                processing_class=_tokenizer())
    batch = trainer.data_collator(rows)
    ours_model = RewardModel(_HFTrunk(scorer.model), 32)
    with torch.no_grad():
        ours_model.head.weight.copy_(scorer.score.weight)
        theirs = trainer.compute_loss(trainer.model, batch)
        prompts = [p for p, _, _ in pairs] * 2
        ids, mask = pack(prompts, [c for _, c, _ in pairs] + [r for _, _, r in pairs], pad_id=PAD)
        r_chosen, r_rejected = ours_model(ids, mask).chunk(2)
    ours = bradley_terry_loss(r_chosen, r_rejected)
    assert abs(float(theirs) - float(ours)) < TOL and abs(float(ours) - 0.6931472) > 1e-3
