"""The two ascent tricks of P4 ("Towards Effective Evaluations and Comparisons for LLM Unlearning Methods",
Wang et al., arXiv 2406.09179, ICLR 2025), options of every method that ascends the forget NLL (GA, GD, KL):

- temperature scaling (TS): the ascended NLL is taken from the tempered next-token distribution
  softmax(z / T), i.e. L_f = −NLL_T(y_f | x_f) with NLL_T = −mean_t log softmax(z_t / T)[y_t];
  T = 1 is plain gradient ascent. T > 1 flattens the distribution, so the ascent gradient
  (∝ softmax(z/T) − onehot(y), scaled by 1/T) is gentler on tokens the model is already unsure of.
- token-selective ascent: only the fraction q of forget answer tokens with the *lowest* NLL (the ones the
  model still reproduces best) is ascended, L_f = −mean_{t ∈ S_q} NLL_t with S_q the ⌈q·n⌉ lowest-loss
  tokens of the batch (n its answer tokens); q = 1 is plain gradient ascent (paper: q = 0.8). The selection
  is made on detached losses over the whole batch, so a short answer is not forced to contribute a token.

Hyperparameters (`hparams` of the method, unset = plain ascent): `ascent_temperature` T (> 0, default 1.0)
and `ascent_token_fraction` q (in (0, 1], default 1.0).
"""

import math

import torch

from .losses import token_logprobs

DEFAULT_TEMPERATURE = 1.0
DEFAULT_TOKEN_FRACTION = 1.0


def tempered_token_nll(
    logits: torch.Tensor, labels: torch.Tensor, temperature: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """NLL of each labelled token under softmax(logits / T) ([B, T-1], 0 off the mask) and the mask."""
    if temperature <= 0:
        raise ValueError(f"ascent temperature must be > 0, got {temperature}")
    picked, mask = token_logprobs(logits.float() / temperature, labels)
    return -picked, mask


def selective_mean(token_nll: torch.Tensor, mask: torch.Tensor, fraction: float = 1.0) -> torch.Tensor:
    """Mean NLL over the ⌈fraction · n⌉ labelled tokens with the lowest NLL (n = labelled tokens in the batch)."""
    if not 0 < fraction <= 1:
        raise ValueError(f"ascent token fraction q must be in (0, 1], got {fraction}")
    values = token_nll[mask]
    if values.numel() == 0:
        return token_nll.sum() * 0
    if fraction >= 1:
        return values.mean()
    keep = max(1, math.ceil(fraction * values.numel()))
    # Selection on detached values: which tokens are ascended is a choice, not something to differentiate.
    chosen = torch.topk(values.detach(), keep, largest=False).indices
    return values[chosen].mean()


def ascent_nll(logits: torch.Tensor, labels: torch.Tensor, hparams: dict) -> torch.Tensor:
    """The forget NLL that an ascent method maximises, with the configured tricks (plain mean NLL when unset)."""
    temperature = hparams.get("ascent_temperature", DEFAULT_TEMPERATURE)
    fraction = hparams.get("ascent_token_fraction", DEFAULT_TOKEN_FRACTION)
    token_nll, mask = tempered_token_nll(logits, labels, temperature)
    return selective_mean(token_nll, mask, fraction)
