"""KL (TOFU, Maini et al. 2024): gradient ascent on D_f while the next-token distributions on D_r stay
close to the model before unlearning, L = −NLL(y_f | x_f) + w · KL(π_θ0(·|x_r) ‖ π_θ(·|x_r)).
"""

from .base import UnlearnContext, register_method
from .ga import ascent_term
from .retain import retain_loss


@register_method("kl", streams=("forget", "retain"), needs_reference=True)
def kl_retain_ascent(ctx: UnlearnContext, batches):
    forget, forget_logs = ascent_term(ctx, batches["forget"])
    retain, retain_logs = retain_loss(ctx, batches, term="kl")
    return forget + retain, {**forget_logs, **retain_logs}
