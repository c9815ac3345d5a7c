"""Pure loss functions of model outputs, shared by every unlearning method (and unit-tested on hand-made tensors).

Sources, each equation written once here:
- gradient ascent / difference (TOFU, Maini et al. 2024): L_f = −NLL(y_f | x_f); GD adds NLL(y_r | x_r).
- NPO (Zhang et al. 2024, arXiv 2404.05868): L = −(2/β) E log σ(−β (log π_θ(y|x) − log π_ref(y|x))).
- SimNPO (Fan et al. 2024, arXiv 2410.07163): L = −(2/β) E log σ(−(β/|y|) log π_θ(y|x) − γ).
- DPO (Rafailov et al. 2023, arXiv 2305.18290) with TOFU's IdkDPO scaling:
  L = −(2/β) E log σ(β [(log π_θ(y_w|x) − log π_ref(y_w|x)) − (log π_θ(y_l|x) − log π_ref(y_l|x))]).
  The 2/β factor (OpenUnlearning's convention) makes NPO exactly DPO without the preferred answer, and the
  first-step gradient equal to NLL on y_w plus ascent on y_l whatever β is.
- KL retain term (TOFU's "KL" method; the RNA authors' PO retain term, `baselines/losses.py` `kl`): mean over real
  token positions of KL(π_ref(·|x_<t) ‖ π_θ(·|x_<t)).
- MSE retain term (the RNA authors' other PO retain term, `baselines/losses.py` `mse`): mean over real positions
  and the vocabulary of (log π_θ(v|x_<t) − log π_ref(v|x_<t))².
"""

import torch
import torch.nn.functional as F

from ..data.examples import IGNORE_INDEX


def token_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log p(y_t | y_<t) at every labelled position of a causal LM ([B, T-1]) and the mask of those positions."""
    targets = labels[:, 1:]
    mask = targets != IGNORE_INDEX
    logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    picked = logprobs.gather(-1, targets.clamp_min(0).unsqueeze(-1)).squeeze(-1)
    return picked * mask, mask


def sequence_logprob(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """log π(y|x) = Σ_t log p(y_t | x, y_<t) per sequence, and |y| (labelled tokens) per sequence."""
    picked, mask = token_logprobs(logits, labels)
    return picked.sum(-1), mask.sum(-1)


def mean_nll(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per-token mean NLL over the whole batch (what a causal LM's `.loss` computes)."""
    picked, mask = token_logprobs(logits, labels)
    return -picked.sum() / mask.sum().clamp_min(1)


def gradient_ascent_loss(nll: torch.Tensor) -> torch.Tensor:
    """Minimising −NLL ascends the forget loss (GA); kept as a function so the sign is tested once."""
    return -nll


def npo_loss(logp: torch.Tensor, logp_ref: torch.Tensor, beta: float) -> torch.Tensor:
    return -(2 / beta) * F.logsigmoid(-beta * (logp - logp_ref)).mean()


def simnpo_loss(logp_sum: torch.Tensor, length: torch.Tensor, beta: float, gamma: float) -> torch.Tensor:
    return -(2 / beta) * F.logsigmoid(-(beta / length.clamp_min(1)) * logp_sum - gamma).mean()


def dpo_loss(
    chosen: torch.Tensor, rejected: torch.Tensor, chosen_ref: torch.Tensor, rejected_ref: torch.Tensor, beta: float
) -> torch.Tensor:
    margin = (chosen - chosen_ref) - (rejected - rejected_ref)
    return -(2 / beta) * F.logsigmoid(beta * margin).mean()


def kl_to_reference(logits: torch.Tensor, logits_ref: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean over real (non-padding) positions of KL(p_ref ‖ p_θ) of the next-token distributions."""
    logp = torch.log_softmax(logits.float(), dim=-1)
    logp_ref = torch.log_softmax(logits_ref.float(), dim=-1)
    per_position = (logp_ref.exp() * (logp_ref - logp)).sum(-1)
    mask = attention_mask.to(per_position.dtype)
    return (per_position * mask).sum() / mask.sum().clamp_min(1)


def logprob_mse(logits: torch.Tensor, logits_ref: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean over real positions of the mean over the vocabulary of the squared difference of log-probabilities
    (the authors' `F.mse_loss` of the two log-softmaxes, which also averages over padded positions)."""
    difference = torch.log_softmax(logits.float(), dim=-1) - torch.log_softmax(logits_ref.float(), dim=-1)
    per_position = difference.square().mean(-1)
    mask = attention_mask.to(per_position.dtype)
    return (per_position * mask).sum() / mask.sum().clamp_min(1)
