"""UNDIAL (Dong et al., NAACL 2025, arXiv 2402.10052): self-distillation towards θ0 with the true token's logit lowered.

At every answer position t of a forget sequence, with z0_t the frozen model's logits and y_t the true next token,
    q_t = softmax(z0_t − β · onehot(y_t)),
    L = (1/N) Σ_t CE(q_t, π_θ(·|x, y_<t)) + w · R(θ; x_r) = −(1/N) Σ_t Σ_v q_t(v) log π_θ(v|x, y_<t) + w · R(θ; x_r),
N the batch's answer tokens and R the configured retain term (`retain_term`, `retain_weight`, as GD and NPO take it).
The target keeps θ0's odds between every other token and only shrinks y_t's by e^β, so unlike ascent the forget
term is bounded below (by q_t's entropy, reached at π_θ = q_t) instead of growing without end.

Follows locuslab/open-unlearning src/trainer/utils.py `compute_undial_loss` and src/trainer/unlearn/undial.py
(`gamma · forget + alpha · retain`, as their GradDiff). Differences:
- Only answer positions are scored and the mean is over them. OpenUnlearning's soft-label cross-entropy has no
  ignore index: it averages over every shifted position of the batch, prompt and padding included, and at those
  positions (label −100) the negative index lowers the logit of token V − 100 instead of none — so the prompt is
  distilled towards θ0 and the answer term is diluted by the prompt's length.
- No forget weight: OpenUnlearning's `gamma` is 1 in its UNDIAL config, and our `gamma` key is SimNPO's margin.
  `retain_weight` is their `alpha` (0 in their UNDIAL config: the paper uses no retain set).
- θ0's logits are taken in float32, so a bf16 reference (train/unlearn.py) still gives an fp32 target.
θ0's forget forward never carries RNA's noise, as in NPO (objectives/npo.py).
"""

import torch

from ..data.examples import IGNORE_INDEX
from ..models.forward import forward, labels_on
from .base import UnlearnContext, register_method
from .retain import retain_loss


def adjusted_target(logits_ref: torch.Tensor, tokens: torch.Tensor, beta: float) -> torch.Tensor:
    """softmax(z0 − β · onehot(y)) for [N, V] reference logits and N true tokens."""
    rows = torch.arange(tokens.numel(), device=tokens.device)
    # Indexing instead of a one-hot matrix: an [N, V] one-hot over a 32k vocabulary costs as much as the logits.
    adjusted = logits_ref.float().clone()
    adjusted[rows, tokens] -= beta
    return torch.softmax(adjusted, dim=-1)


def undial_loss(logits: torch.Tensor, logits_ref: torch.Tensor, labels: torch.Tensor, beta: float) -> torch.Tensor:
    """Mean over the batch's answer tokens of CE(softmax(z0 − β · onehot(y)), π_θ) for a causal LM's logits."""
    targets = labels[:, 1:]
    answer = targets != IGNORE_INDEX
    tokens = targets[answer]
    student_logprobs = torch.log_softmax(logits[:, :-1][answer].float(), dim=-1)
    with torch.no_grad():
        target = adjusted_target(logits_ref[:, :-1][answer].to(logits.device), tokens, beta)
    # clamp_min: a batch without answer tokens gives 0, as mean_nll does, not 0/0.
    return -(target * student_logprobs).sum() / answer.sum().clamp_min(1)


@register_method("undial", streams=("forget", "retain"), needs_reference=True)
def undial(ctx: UnlearnContext, batches):
    batch = batches["forget"]
    logits = forward(ctx.model, batch).logits
    with torch.no_grad():
        logits_ref = forward(ctx.reference, batch).logits
    forget = undial_loss(logits, logits_ref, labels_on(ctx.model, batch), ctx.hparams["beta"])
    retain, retain_logs = retain_loss(ctx, batches)
    return forget + retain, {"forget_loss": forget.item(), **retain_logs}
