"""RSV, random steering vector (Dang et al. 2025, arXiv 2501.19202; the authors' `baselines/rm/rsv/unlearn.py`):
representation misdirection that shifts the frozen model's forget representation by a random direction instead
of replacing it by a fixed vector,

    L = mean_{t∈x_f} ||h_ℓ^θ(x_f)_t − (h_ℓ^θ0(x_f)_t + c·v)||²  +  α · mean_{t∈x_r} ||h_ℓ^θ(x_r)_t − h_ℓ^θ0(x_r)_t||²

with v = g/||g||, g ~ N(0, I_d) drawn once per run and forget topic and fixed (the authors' `get_random_vector`),
c the steering coefficient (their script: 10) and α the retain weight (their script: 1200). Trained parameters,
retain term, RNA's noise on θ0's retain target and the deviations (real-token means, ||·||² summed over the hidden
dimension) are RMU's (objectives/rmu.py).
"""

import torch

from ..models.layers import layer_representation
from .base import UnlearnContext, register_method
from .rmu import down_projections, representation_loss, topic_vector, unit_draw
from .streams import topic_of


def gaussian_direction(dim: int, seed: int, topic: int = 0) -> torch.Tensor:
    """v = g/||g||, g ~ N(0, I_d), one per forget topic."""
    return unit_draw(torch.randn, dim, seed, topic)


@register_method("rsv", streams=("forget", "retain"), needs_reference=True, trainable=down_projections)
def random_steering_vector(ctx: UnlearnContext, batches) -> tuple[torch.Tensor, dict[str, float]]:
    forget = batches["forget"]
    topic, _ = topic_of(forget)
    with torch.no_grad():
        frozen = layer_representation(ctx.reference, forget, ctx.hparams["layer"])
    shift = ctx.hparams["steering_coefficient"] * topic_vector(ctx, "steering_vectors", gaussian_direction, topic)
    return representation_loss(ctx, batches, frozen + shift.to(frozen.device))
