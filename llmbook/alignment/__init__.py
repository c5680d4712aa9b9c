"""Alignment: from a model that continues text to one that answers the way we want.

The chapter works on one task whose answers a program can check (``task``), so every
reward below can be verified by the reader. One concept per module:

- ``task``: two-digit additions, the required answer format ``#### 29``, the judge,
  demonstrations and preference pairs from a fixed seed;
- ``sequences``: prompt + completion batches and the log-probability of a completion;
- ``sft``: supervised fine-tuning with the loss on the assistant's tokens only;
- ``reward``: a reward model (the trunk and a scalar head) and the Bradley–Terry loss;
- ``rollout``: sampling several completions at once from equal-length prompts;
- ``ppo``: per-token KL (k1, k3), GAE, whitening, the clipped policy and value losses;
- ``dpo``: direct preference optimisation;
- ``grpo``: group-relative advantages with the judge as the reward;
- ``lora``: a low-rank update of a frozen matrix (LoRA), equal to a dense update of the same rank.
"""
