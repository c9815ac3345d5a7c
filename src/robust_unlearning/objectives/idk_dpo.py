"""IdkDPO (TOFU / OpenUnlearning): DPO (Rafailov et al. 2023, arXiv 2305.18290) with the refusal as the
preferred and the forget answer as the rejected answer of each forget question, plus a retain term:
L = −(2/β) E log σ(β [(log π_θ(y_idk|x_f) − log π_θ0(y_idk|x_f)) − (log π_θ(y_f|x_f) − log π_θ0(y_f|x_f))])
    + w · R(θ; x_r).
"""

from .base import UnlearnContext, register_method
from .losses import dpo_loss
from .npo import logprobs_with_reference
from .retain import retain_loss


@register_method("idk_dpo", streams=("forget", "idk", "retain"), needs_reference=True)
def idk_dpo(ctx: UnlearnContext, batches):
    rejected, rejected_ref, _ = logprobs_with_reference(ctx, batches["forget"])
    chosen, chosen_ref, _ = logprobs_with_reference(ctx, batches["idk"])
    forget = dpo_loss(chosen, rejected, chosen_ref, rejected_ref, ctx.hparams["beta"])
    retain, retain_logs = retain_loss(ctx, batches)
    return forget + retain, {"forget_loss": forget.item(), **retain_logs}
