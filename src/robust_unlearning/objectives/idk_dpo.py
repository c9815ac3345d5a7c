"""IdkDPO (TOFU / OpenUnlearning): DPO (Rafailov et al. 2023, arXiv 2305.18290) with the refusal as the
preferred and the forget answer as the rejected answer of each forget question, plus a retain term:
L = −(2/β) E log σ(β [(log π_θ(y_idk|x_f) − log π_θ0(y_idk|x_f)) − (log π_θ(y_f|x_f) − log π_θ0(y_f|x_f))])
    + w · R(θ; x_r).
The DPO term is objectives/dpo.py's, here on the "idk" stream (each forget question with a refusal answer).
"""

from .base import UnlearnContext, register_method
from .dpo import preference_loss
from .retain import retain_loss


@register_method("idk_dpo", streams=("forget", "idk", "retain"), needs_reference=True)
def idk_dpo(ctx: UnlearnContext, batches):
    forget, logs = preference_loss(ctx, batches["idk"], batches["forget"])
    retain, retain_logs = retain_loss(ctx, batches)
    return forget + retain, {**logs, **retain_logs}
