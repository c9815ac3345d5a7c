"""EWC, a baseline defense of the user's fine-tuning in Vaccine's Table 1 (Huang et al. 2024, arXiv 2402.01109;
elastic weight consolidation after Kirkpatrick et al. 2017), as Vaccine's trainer.py `FITrainer` and
script/EWC_finetune/sst2.sh run it.

The provider keeps training the *alignment's own* LoRA adapter on the user's data (no merge, no fresh adapter:
"EWC REUSE THE SAME LORA" in Vaccine's train.py) and anchors it to its aligned values θ₀ by

    λ · Σ_i F_i (θ_i − θ₀_i)²,        F_i = Σ_b (∂L_b/∂θ_i)² at θ₀,

where L_b is the mean loss of batch b of the alignment data in file order (Vaccine's eval set: the same
BeaverTails safe rows the adapter was aligned on). F is the authors' unnormalised diagonal Fisher: a sum over
batches of squared batch-mean gradients, with no 1/2 and no division by the number of batches, so λ (1e9 in
their script) has their meaning only together with their batch size (5). F is taken once per aligned model,
in training mode (adapter dropout on) as the authors' first training step does, and shared by its cells.
"""

from collections.abc import Callable, Iterable

import torch

from ..data.examples import collate
from ..models.forward import causal_lm_loss

Batch = dict[str, torch.Tensor]
LossFn = Callable[[torch.nn.Module, Batch], torch.Tensor]


def trainable(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def fisher_diagonal(
    model: torch.nn.Module, batches: Iterable[Batch], loss_fn: LossFn = causal_lm_loss
) -> dict[str, torch.Tensor]:
    """F_i = Σ_b (∂loss_fn(model, b)/∂θ_i)² over the trainable parameters θ, at their current values."""
    params = trainable(model)
    fisher = {name: torch.zeros_like(p) for name, p in params.items()}
    for batch in batches:
        # autograd.grad rather than backward: the Fisher pass leaves no .grad behind for the training loop.
        gradients = torch.autograd.grad(loss_fn(model, batch), list(params.values()))
        for name, gradient in zip(params, gradients, strict=True):
            fisher[name] += gradient.detach().float().square()
    return fisher


def ewc_penalty(
    model: torch.nn.Module, fisher: dict[str, torch.Tensor], anchor: dict[str, torch.Tensor], weight: float
) -> torch.Tensor:
    """λ · Σ_i F_i (θ_i − θ₀_i)² over the parameters F covers."""
    return weight * sum(
        (fisher[name] * (p - anchor[name]).square()).sum() for name, p in trainable(model).items() if name in fisher
    )


def prepare(context, settings: dict) -> dict:
    """F and θ₀ of the aligned model's adapter; `context` is attacks/harmful_finetune.DefenseContext."""
    model = context.aligned
    if not hasattr(model, "merge_and_unload"):
        raise ValueError("EWC keeps training the alignment's LoRA adapter: it needs p3.alignment.lora.enabled")
    examples, size = context.alignment_examples, settings["batch_size"]
    batches = (collate(examples[start : start + size], context.pad_id) for start in range(0, len(examples), size))
    device_type = next(model.parameters()).device.type
    model.train()
    with torch.autocast(device_type, dtype=torch.bfloat16, enabled=context.precision == "bf16"):
        fisher = fisher_diagonal(model, batches)
    model.eval()
    return {"fisher": fisher, "anchor": {name: p.detach().clone() for name, p in trainable(model).items()}}


def regularizer(model: torch.nn.Module, state: dict, settings: dict):
    """The per-batch extra loss of the user's fine-tuning: the EWC penalty of `model`'s current adapter."""

    def term(batch: Batch, outputs) -> tuple[torch.Tensor, dict[str, float]]:
        penalty = ewc_penalty(model, state["fisher"], state["anchor"], settings["weight"])
        return penalty, {"ewc_penalty": penalty.item()}

    return term
