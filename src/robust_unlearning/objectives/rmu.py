"""Representation misdirection: RMU (Li et al. 2024, "The WMDP Benchmark", arXiv 2403.03218) and adaptive RMU
(Dang et al. 2025, "Improving LLM Unlearning Robustness via Random Perturbations", arXiv 2501.19202).

    L = mean_{t∈x_f} ||h_ℓ^θ(x_f)_t − c·u||²  +  α · mean_{t∈x_r} ||h_ℓ^θ(x_r)_t − h_ℓ^θ0(x_r)_t||²

h_ℓ is the output of decoder block ℓ, θ0 the frozen model before unlearning, u = r/||r|| with r ~ U[0,1)^d
drawn once per run and forget topic and fixed, c the steering coefficient. Adaptive RMU replaces c by
β · mean_t ||h_ℓ^θ0(x_f)_t||, measured once per topic on its first forget batch. Only the MLP down-projections of
the `n_trained_layers` blocks ending at ℓ are trained (the paper: ℓ−2..ℓ).

Deviations and readings, all deliberate:
- the means run over real tokens only: padding positions (attention_mask = 0) are left out of both terms, so a
  short sequence in a padded batch weighs the same as in a batch of its own;
- ||·||² sums over the hidden dimension (the WMDP code's `mse_loss` also averages over it, i.e. divides both
  terms by d; the ratio α is the same, the learning rate absorbs the factor);
- one u per forget topic when the forget stream alternates topics (p1.forget_topics, objectives/streams.py), as
  the WMDP code's one u per corpus; a pooled stream is one topic with one u;
- adaptive RMU measures each topic's coefficient on θ0 (the authors: on the model being trained, at the topic's
  first step, which for the second topic is one update after θ0).

RNA (defenses/rna.py) perturbs the frozen target: the θ0 retain forward runs inside
`ctx.retain_noise(ctx.reference)`, which gives ||h_ℓ^θ(x_r) − (h_ℓ^θ0(x_r) + ε)||².
"""

import torch

from ..models.layers import decoder_layers, layer_representation
from .base import UnlearnContext, register_method
from .streams import topic_of


def token_mean(values: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of per-token `values` [batch, tokens] over the real (unpadded) tokens."""
    mask = attention_mask.to(values.device, values.dtype)
    return (values * mask).sum() / mask.sum()


def misdirection_loss(hidden: torch.Tensor, target: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """mean_t ||hidden_t − target_t||² over real tokens; `target` broadcasts (c·u) or matches (h^θ0)."""
    return token_mean((hidden - target).square().sum(-1), attention_mask)


def mean_token_norm(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    return token_mean(hidden.norm(dim=-1), attention_mask)


def unit_draw(sampler, dim: int, seed: int, topic: int = 0) -> torch.Tensor:
    """r/||r|| for the (topic + 1)-th draw r = sampler(dim) of a generator of its own: drawing leaves the training RNG
    stream alone, topic 0 is the generator's first draw, and a resumed run draws the same vector for each topic
    whichever topic it meets first."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(topic + 1):
        r = sampler(dim, generator=generator)
    return r / r.norm()


def random_direction(dim: int, seed: int, topic: int = 0) -> torch.Tensor:
    """u = r/||r||, r ~ U[0,1)^d (the WMDP code's `torch.rand`), one per forget topic."""
    return unit_draw(torch.rand, dim, seed, topic)


def trained_layers(hparams: dict) -> list[int]:
    """The `n_trained_layers` blocks ending at ℓ (ℓ−2..ℓ for the paper's 3), clipped at block 0."""
    layer = hparams["layer"]
    return list(range(max(0, layer - hparams["n_trained_layers"] + 1), layer + 1))


def down_projections(model: torch.nn.Module, hparams: dict) -> list[torch.nn.Parameter]:
    """The MLP down-projections of the trained blocks: every RM method's parameters, and any method's that sets
    `n_trained_layers` (train/unlearn.py; the RNA authors train the PO methods so too)."""
    layers = decoder_layers(model)
    return [p for index in trained_layers(hparams) for p in layers[index].mlp.down_proj.parameters()]


def topic_vector(ctx: UnlearnContext, key: str, draw, topic: int) -> torch.Tensor:
    """The run's fixed vector `draw(d, seed, topic)` of a forget topic, drawn on first use and kept in ctx.state[key]."""
    vectors = ctx.state.setdefault(key, {})
    if topic not in vectors:
        # torch.initial_seed() is the run seed (set_determinism), restored with a checkpoint's RNG state: a resumed run draws the same vector.
        vectors[topic] = draw(ctx.model.config.hidden_size, torch.initial_seed(), topic)
    return vectors[topic]


def representation_loss(
    ctx: UnlearnContext, batches, forget_target: torch.Tensor
) -> tuple[torch.Tensor, dict[str, float]]:
    """mean_t ||h_ℓ^θ(x_f)_t − target_t||² + α · mean_t ||h_ℓ^θ(x_r)_t − (h_ℓ^θ0(x_r)_t + ε)||², the loss of every
    RM method; `forget_target` broadcasts (RMU's c·u) or matches h_ℓ token by token (RSV's)."""
    layer, forget, retain = ctx.hparams["layer"], batches["forget"], batches["retain"]
    forget_hidden = layer_representation(ctx.model, forget, layer)
    forget_loss = misdirection_loss(forget_hidden, forget_target.to(forget_hidden.device), forget["attention_mask"])

    retain_hidden = layer_representation(ctx.model, retain, layer)
    with torch.no_grad(), ctx.retain_noise(ctx.reference):
        # The capture hook is registered inside the noise context, so it runs after the noise hook and reads h^θ0 + ε.
        retain_target = layer_representation(ctx.reference, retain, layer)
    retain_loss = misdirection_loss(retain_hidden, retain_target, retain["attention_mask"])
    loss = forget_loss + ctx.hparams["alpha"] * retain_loss
    return loss, {"forget_loss": forget_loss.item(), "retain_loss": retain_loss.item()}


def _rmu_loss(ctx: UnlearnContext, batches, coefficient: float, topic: int) -> tuple[torch.Tensor, dict[str, float]]:
    control = coefficient * topic_vector(ctx, "directions", random_direction, topic)
    loss, logs = representation_loss(ctx, batches, control)
    return loss, {**logs, "steering_coefficient": coefficient}


@register_method("rmu", streams=("forget", "retain"), needs_reference=True, trainable=down_projections)
def representation_misdirection(ctx: UnlearnContext, batches) -> tuple[torch.Tensor, dict[str, float]]:
    topic, _ = topic_of(batches["forget"])
    return _rmu_loss(ctx, batches, float(ctx.hparams["steering_coefficient"]), topic)


@register_method("adaptive_rmu", streams=("forget", "retain"), needs_reference=True, trainable=down_projections)
def adaptive_representation_misdirection(ctx: UnlearnContext, batches) -> tuple[torch.Tensor, dict[str, float]]:
    forget = batches["forget"]
    topic, _ = topic_of(forget)
    coefficients = ctx.state.setdefault("steering_coefficients", {})
    if topic not in coefficients:
        with torch.no_grad():
            frozen = layer_representation(ctx.reference, forget, ctx.hparams["layer"])
        coefficients[topic] = ctx.hparams["beta"] * mean_token_norm(frozen, forget["attention_mask"]).item()
    return _rmu_loss(ctx, batches, coefficients[topic], topic)
