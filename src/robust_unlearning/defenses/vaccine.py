"""Vaccine: perturbation-aware alignment (Huang et al. 2024, "Vaccine: Perturbation-aware Alignment for Large
Language Models against Harmful Fine-tuning", arXiv 2402.01109).

A harmful fine-tuning breaks alignment by drifting the hidden embeddings of the alignment data. Vaccine aligns
the model under the worst such drift of norm ρ: with e_l the attention output of block l (before the residual
add) and g_l = ∂L/∂e_l from a first forward/backward on the alignment batch,

    ε_l = ρ · g_l / ||(g_1, …, g_L)||        (one global norm over all blocks and all tokens of the batch),

then a second forward on the same batch with every e_l replaced by e_l + ε_l gives the loss the optimizer
descends.

The random-perturbation ablation is Vaccine's RandomVaccineTrainer (trainer.py): one forward in which every
element of every e_l gets its own N(0, ρ) draw (variance ρ, std √ρ). Its noise is therefore not of norm ρ:
over a batch it has norm ≈ √ρ · √(#elements), ≈ 1.6·10⁴ for a 5 × 200-token Llama-2-7B batch at ρ = 2, so the
ablation is a strong noise regulariser rather than Vaccine's perturbation in another direction; that is the
authors' definition, and ours.
"""

import math

import torch

from ..models.attention import attention_output_hooks
from ..models.forward import causal_lm_loss

Batch = dict[str, torch.Tensor]


def _scaled_to(tensors: list[torch.Tensor], rho: float) -> torch.Tensor:
    norm = torch.sqrt(sum(t.square().sum() for t in tensors))
    # A zero direction perturbs nothing (instead of 0/0 = NaN); no additive epsilon, so the norm is ρ exactly.
    return rho / norm.clamp_min(torch.finfo(norm.dtype).tiny)


def vaccine_perturbation(gradients: list[torch.Tensor], rho: float) -> list[torch.Tensor]:
    """ε_l = ρ · g_l / ||(g_1, …, g_L)||."""
    scale = _scaled_to(gradients, rho)
    return [g * scale for g in gradients]


def perturbation_aware_step(model: torch.nn.Module, batch: Batch, rho: float) -> tuple[torch.Tensor, dict[str, float]]:
    """Vaccine's loss of one step: the alignment loss under the gradient-direction perturbation ε of norm ρ.

    The first pass differentiates with respect to zero-valued probes added to each e_l (∂L/∂probe_l = g_l), so
    it computes no parameter gradients and works whichever blocks are trainable; the returned second-pass loss
    is the only one the training loop back-propagates into the parameters.
    """
    probes: dict[int, torch.Tensor] = {}
    squared_norms: dict[int, torch.Tensor] = {}

    def probe(layer: int, output: torch.Tensor) -> torch.Tensor:
        # setdefault: gradient checkpointing reruns the forward (and this hook) during the backward.
        squared_norms.setdefault(layer, output.detach().square().sum())
        return output + probes.setdefault(layer, torch.zeros_like(output, requires_grad=True))

    with attention_output_hooks(model, probe):
        unperturbed_loss = causal_lm_loss(model, batch)
    layers = sorted(probes)
    gradients = torch.autograd.grad(unperturbed_loss, [probes[layer] for layer in layers])
    perturbation = dict(zip(layers, vaccine_perturbation(list(gradients), rho), strict=True))

    with attention_output_hooks(model, lambda layer, output: output + perturbation[layer]):
        loss = causal_lm_loss(model, batch)
    # ||(e_1, …, e_L)|| is what ρ is small or large against; logged to place ρ on a model of another width.
    return loss, {
        "unperturbed_loss": unperturbed_loss.item(),
        "attention_output_norm": torch.sqrt(sum(squared_norms.values())).item(),
        "attention_gradient_norm": torch.sqrt(sum(g.square().sum() for g in gradients)).item(),
    }


def random_perturbation_step(model: torch.nn.Module, batch: Batch, rho: float) -> tuple[torch.Tensor, dict[str, float]]:
    """The ablation: e_l ← e_l + √ρ · z_l, z_l ~ N(0, I) elementwise, fresh every step, in a single forward."""
    std = math.sqrt(rho)
    noise: dict[int, torch.Tensor] = {}

    def add_noise(layer: int, output: torch.Tensor) -> torch.Tensor:
        # Drawn once per block and step: gradient checkpointing reruns this hook in the backward, which must see
        # the forward's noise.
        if layer not in noise:
            noise[layer] = std * torch.randn_like(output)
        return output + noise[layer]

    with attention_output_hooks(model, add_noise):
        loss = causal_lm_loss(model, batch)
    return loss, {}
