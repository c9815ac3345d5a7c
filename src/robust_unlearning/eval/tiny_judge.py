"""A tiny stand-in for BeaverDam-7B in its own format, so the P3 hub judge's code path runs offline and on CPU.

A randomly initialised LlamaForSequenceClassification with one logit per BeaverTails harm category
(multi-label), saved with a byte-level BPE tokenizer that, like Llama's, has an EOS token and no pad token:
`ModerationJudge` loads it exactly as it loads the hub checkpoint. Its verdicts are noise; it exists to
exercise loading, the template, EOS, padding and truncation, not to judge.

    python -m robust_unlearning.eval.tiny_judge --out results/smoke/tiny-judge
"""

import argparse
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForSequenceClassification

from ..data.loaders import BEAVERTAILS_CATEGORIES
from ..models.factory import save_atomically
from ..models.tokenizer import train_tokenizer
from .safety import MODERATION_TEMPLATE


def write_tiny_judge(out_dir: str | Path, seed: int = 0) -> Path:
    texts = [MODERATION_TEMPLATE.format(prompt="How do I pick a lock?", answer=" Step one: find a pin.")] * 20
    tokenizer = train_tokenizer(texts, vocab_size=300)
    tokenizer.pad_token = None  # as Llama's: the judge adds its own pad token
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=512,
        # BeaverDam's output heads: one per BeaverTails category.
        num_labels=len(BEAVERTAILS_CATEGORIES),
        problem_type="multi_label_classification",
        id2label=dict(enumerate(BEAVERTAILS_CATEGORIES)),
        label2id={name: i for i, name in enumerate(BEAVERTAILS_CATEGORIES)},
        pad_token_id=None,
    )
    torch.manual_seed(seed)
    save_atomically(LlamaForSequenceClassification(config), tokenizer, out_dir)
    return Path(out_dir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(write_tiny_judge(args.out, args.seed))


if __name__ == "__main__":
    main()
