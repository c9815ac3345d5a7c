"""Vlguard, a baseline defense of the user's fine-tuning in Vaccine's Table 1 (Huang et al. 2024, arXiv
2402.01109; after Zong et al. 2024, "Safety fine-tuning at (almost) no cost"), as Vaccine's code runs it
(git-disl/Vaccine script/vlguard_finetune/vlguard_poison_ratio.sh with train.py `--optimizer vlguard`): the
provider mixes safety data into the user's fine-tuning set and fine-tunes on the union, with nothing else changed
(plain cross-entropy, a fresh LoRA on the merged SFT-aligned model, the user's optimisation settings).

What is mixed, in train.py's SupervisedDataset("BeaverTails_dangerous", finetuning_guide_data_num=…): the
user's n rows (int(p·n) harmful, int((1−p)·n) SST2) and then the first `guide_data_num` safe rows of
BeaverTails' 30k_train in file order, i.e. the first rows of the alignment data itself, as prompt → safe
response pairs in the alignment's own prompt format. The set is n + guide_data_num rows; the user's n rows are
not reduced. guide_data_num is the script's third argument (train.py's default: 100); p3.vlguard.guide_rows.
"""

from collections.abc import Sequence


def prepare(context, settings: dict) -> list[dict]:
    """The guide rows: the first `guide_rows` alignment records; `context` is attacks/harmful_finetune.DefenseContext."""
    n, records = settings["guide_rows"], context.alignment_records
    if n > len(records):
        raise ValueError(
            f"config key 'p3.vlguard.guide_rows' is {n} but the alignment data has {len(records)} records "
            "(p3.alignment.max_examples limits them)"
        )
    return [
        {"prompt": r["prompt"], "response": r["response"], "is_harmful": False, "is_guide": True} for r in records[:n]
    ]


def training_rows(mix: Sequence[dict], guide: list[dict], settings: dict) -> list[dict]:
    """The provider's fine-tuning set: the user's rows, then the guide rows (the loop shuffles them by seed)."""
    return [*mix, *guide]
