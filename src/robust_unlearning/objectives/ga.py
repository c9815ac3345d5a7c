"""Gradient ascent (GA; TOFU, Maini et al. 2024): maximise the NLL of the forget answers, L = −NLL(y_f | x_f).

`ascent_term` is shared by GD and KL; it is the place for P4's ascent tricks (temperature scaling,
token-selective ascent), which change how the forget NLL is taken, not what is ascended.
"""

import torch

from ..models.forward import forward, labels_on
from .base import UnlearnContext, register_method
from .losses import gradient_ascent_loss, mean_nll
from .tricks import ascent_nll


def ascent_term(ctx: UnlearnContext, batch) -> tuple[torch.Tensor, dict[str, float]]:
    logits, labels = forward(ctx.model, batch).logits, labels_on(ctx.model, batch)
    # Without the tricks' keys the plain mean NLL is kept bit for bit (objectives/tricks.py).
    tricks = "ascent_temperature" in ctx.hparams or "ascent_token_fraction" in ctx.hparams
    nll = ascent_nll(logits, labels, ctx.hparams) if tricks else mean_nll(logits, labels)
    return gradient_ascent_loss(nll), {"forget_loss": nll.item()}


@register_method("ga", streams=("forget",))
def gradient_ascent(ctx: UnlearnContext, batches):
    return ascent_term(ctx, batches["forget"])
