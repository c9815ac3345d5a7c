"""SimNPO (Fan et al. 2024, arXiv 2410.07163) with a retain term:
L = −(2/β) E log σ(−(β/|y_f|) log π_θ(y_f|x_f) − γ) + w · R(θ; x_r).

Reference-free: the length-normalised log-likelihood replaces NPO's ratio to θ0 (a KL or MSE retain term still
needs θ0). `loss_normalisation` as NPO's (objectives/npo.py): "sequence" (unset) divides each sequence's summed
log-probability by its length, one sigmoid per sequence; "batch_mean" (the RNA authors' `sim_npo`) takes the
batch's mean token log-probability, already per token, with one sigmoid per batch.
"""

import torch

from ..models.forward import forward, labels_on
from .base import UnlearnContext, register_method
from .losses import sequence_logprob, simnpo_loss
from .npo import batch_mean_logprob, batch_normalised
from .retain import needs_reference, retain_loss


@register_method("simnpo", streams=("forget", "retain"), needs_reference=needs_reference)
def simple_npo(ctx: UnlearnContext, batches):
    batch = batches["forget"]
    if batch_normalised(ctx.hparams):
        logp = batch_mean_logprob(ctx.model, batch)
        length = torch.ones((), device=logp.device)
    else:
        logp, length = sequence_logprob(forward(ctx.model, batch).logits, labels_on(ctx.model, batch))
    forget = simnpo_loss(logp, length, ctx.hparams["beta"], ctx.hparams["gamma"])
    retain, retain_logs = retain_loss(ctx, batches)
    return forget + retain, {"forget_loss": forget.item(), **retain_logs}
