"""KL regularisation toward the aligned model, a baseline defense of the user's fine-tuning in Vaccine's Table 1
(Huang et al. 2024, arXiv 2402.01109), as Vaccine's trainer.py `KLTrainer` and script/KL_finetune/sst2.sh run it:
a fresh LoRA on the merged aligned model (as for every other method) trained on

    L_task + λ · KL(p_aligned ‖ p_θ),    λ = 0.1 in the authors' script,

with the aligned model (the teacher, frozen) and the model in training fed the same batch.

Which distribution the KL compares is a setting, because the authors' code does not compare next-token
distributions: it applies softmax along dim 1 of the (batch, position, vocabulary) logits, i.e. for each batch
row and each vocabulary entry a distribution over the sequence's positions (padding included), and sums the KL
over rows, vocabulary and positions divided by the batch size (`KLDivLoss(reduction="batchmean")`).
"positions" is that computation; "vocabulary" is the usual token-level KL over the vocabulary, averaged over the
batch's real (unpadded) positions.
"""

import torch
import torch.nn.functional as F

Batch = dict[str, torch.Tensor]


def kl_to_reference(
    logits: torch.Tensor, reference_logits: torch.Tensor, attention_mask: torch.Tensor, distribution: str
) -> torch.Tensor:
    """KL(softmax(reference) ‖ softmax(logits)) of (batch, position, vocabulary) logits, see the module docstring."""
    student, reference = logits.float(), reference_logits.float()
    if distribution == "positions":
        # Vaccine's KLTrainer: softmax over dim 1, sum over everything, divided by the batch size.
        return F.kl_div(F.log_softmax(student, dim=1), F.softmax(reference, dim=1), reduction="batchmean")
    if distribution == "vocabulary":
        per_position = F.kl_div(
            F.log_softmax(student, dim=-1), F.log_softmax(reference, dim=-1), reduction="none", log_target=True
        ).sum(-1)
        mask = attention_mask.to(per_position.dtype)
        return (per_position * mask).sum() / mask.sum()
    raise ValueError(f"unknown KL distribution {distribution!r}; choose positions or vocabulary")


def prepare(context, settings: dict) -> torch.nn.Module:
    """The teacher: the aligned model itself (each cell trains a copy), frozen by the no_grad of `regularizer`."""
    return context.aligned


def regularizer(model: torch.nn.Module, teacher: torch.nn.Module, settings: dict):
    """The per-batch extra loss of the user's fine-tuning: λ · KL(teacher ‖ model) on the training batch."""

    def term(batch: Batch, outputs) -> tuple[torch.Tensor, dict[str, float]]:
        with torch.no_grad():
            reference = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        kl = kl_to_reference(outputs.logits, reference, batch["attention_mask"], settings["distribution"])
        return settings["weight"] * kl, {"kl": kl.item()}

    return term
