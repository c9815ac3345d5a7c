"""Gradient difference (GD; TOFU, Maini et al. 2024): L = −NLL(y_f | x_f) + w · R(θ; x_r).

R is the configured retain term (`retain_term`, NLL in TOFU and in arXiv 2506.00359).
"""

from .base import UnlearnContext, register_method
from .ga import ascent_term
from .retain import needs_reference, retain_loss


@register_method("gd", streams=("forget", "retain"), needs_reference=needs_reference)
def gradient_difference(ctx: UnlearnContext, batches):
    forget, forget_logs = ascent_term(ctx, batches["forget"])
    retain, retain_logs = retain_loss(ctx, batches)
    return forget + retain, {**forget_logs, **retain_logs}
