"""NPO (Zhang et al. 2024, arXiv 2404.05868) with a retain term:
L = −(2/β) E log σ(−β (log π_θ(y_f|x_f) − log π_θ0(y_f|x_f))) + w · R(θ; x_r).

Unlike GA the forget term saturates once π_θ(y_f|x_f) ≪ π_θ0(y_f|x_f), which slows the collapse of the model.

`loss_normalisation` sets what log π(y|x) is: "sequence" (unset; TOFU / OpenUnlearning) sums each sequence's
token log-probabilities and takes one sigmoid per sequence; "batch_mean" (the RNA authors' `baselines/losses.py`)
is minus the batch's mean token NLL, a causal LM's `outputs.loss`, with one sigmoid per batch. On 512-token chunks
the sum is ~500× the mean, so at equal β the sequence form saturates after a far smaller change. θ0's forget
forward never carries RNA's noise (the authors' forget-side reference runs at ν = 0).
"""

import torch

from ..models.forward import forward, labels_on
from .base import UnlearnContext, register_method
from .losses import mean_nll, npo_loss, sequence_logprob
from .retain import retain_loss


def logprobs_with_reference(ctx: UnlearnContext, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """log π_θ(y|x), log π_θ0(y|x) and |y| of each sequence of `batch`."""
    labels = labels_on(ctx.model, batch)
    logp, length = sequence_logprob(forward(ctx.model, batch).logits, labels)
    with torch.no_grad():
        logp_ref, _ = sequence_logprob(forward(ctx.reference, batch).logits, labels)
    return logp, logp_ref, length


def batch_mean_logprob(model: torch.nn.Module, batch) -> torch.Tensor:
    """−(mean NLL over the batch's labelled tokens): the log-likelihood `batch_mean` normalisation uses, a scalar."""
    return -mean_nll(forward(model, batch).logits, labels_on(model, batch))


def batch_normalised(hparams: dict) -> bool:
    return hparams.get("loss_normalisation", "sequence") == "batch_mean"


@register_method("npo", streams=("forget", "retain"), needs_reference=True)
def negative_preference_optimization(ctx: UnlearnContext, batches):
    batch = batches["forget"]
    if batch_normalised(ctx.hparams):
        logp = batch_mean_logprob(ctx.model, batch)
        with torch.no_grad():
            logp_ref = batch_mean_logprob(ctx.reference, batch)
    else:
        logp, logp_ref, _ = logprobs_with_reference(ctx, batch)
    forget = npo_loss(logp, logp_ref, ctx.hparams["beta"])
    retain, retain_logs = retain_loss(ctx, batches)
    return forget + retain, {"forget_loss": forget.item(), **retain_logs}
