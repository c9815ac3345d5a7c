"""Retain terms: what keeps the model useful on D_r while a method forgets D_f.

A method that takes a retain term adds `retain_weight · term(θ; x_r)` with the term named by
`hparams["retain_term"]`: "nll" (GD, NPO+RT, IDK; TOFU), "kl" (KL(π_θ0 ‖ π_θ) on retain inputs; TOFU's KL
method and the RNA authors' PO methods) or "mse" (squared difference of next-token log-probabilities to θ0;
the RNA authors' other PO retain term). `retain_weight` is one number, or one per forget topic,
{subject: weight} (the authors' "20,50"), when the forget stream alternates topics (objectives/streams.py).

RNA (P1, defenses/rna.py) perturbs the retain branch through `ctx.retain_noise`, as the authors' PO code does:
a term that compares with θ0 runs θ0's retain forward inside it and θ's retain forward clean, so θ is fitted to
a noisy teacher (`RandomizedModel.forward_with_injected_noise`, `baselines/losses.py`). NLL has no frozen side:
there RNA perturbs θ's own retain forward and the noised h_ℓ flows through the blocks above ℓ into the NLL —
our reading for a term the authors do not run with RNA (the embedded default's NPO / SimNPO, `retain_term: nll`).
"""

import torch

from ..models.forward import forward, labels_on
from ..registry import Registry
from .base import UnlearnContext
from .losses import kl_to_reference, logprob_mse, mean_nll
from .streams import per_topic, topic_of

RETAIN_TERMS = Registry("retain term")
# Terms that compare with the frozen model θ0, so the run must keep a reference copy.
REFERENCE_TERMS = frozenset({"kl", "mse"})


def logits_and_noisy_reference(ctx: UnlearnContext, batch) -> tuple[torch.Tensor, torch.Tensor]:
    """θ's retain logits (clean) and θ0's, with RNA's noise on θ0's layer-ℓ output."""
    logits = forward(ctx.model, batch).logits
    with torch.no_grad(), ctx.retain_noise(ctx.reference):
        logits_ref = forward(ctx.reference, batch).logits
    return logits, logits_ref


@RETAIN_TERMS.register("nll")
def nll_term(ctx: UnlearnContext, batch) -> torch.Tensor:
    with ctx.retain_noise(ctx.model):
        logits = forward(ctx.model, batch).logits
    return mean_nll(logits, labels_on(ctx.model, batch))


@RETAIN_TERMS.register("kl")
def kl_term(ctx: UnlearnContext, batch) -> torch.Tensor:
    logits, logits_ref = logits_and_noisy_reference(ctx, batch)
    return kl_to_reference(logits, logits_ref, batch["attention_mask"].to(logits.device))


@RETAIN_TERMS.register("mse")
def mse_term(ctx: UnlearnContext, batch) -> torch.Tensor:
    logits, logits_ref = logits_and_noisy_reference(ctx, batch)
    return logprob_mse(logits, logits_ref, batch["attention_mask"].to(logits.device))


def retain_loss(ctx: UnlearnContext, batches, term: str | None = None) -> tuple[torch.Tensor, dict[str, float]]:
    """`retain_weight · term` on the retain batch, the term from hparams unless the method fixes it and the weight
    of the step's forget topic; logs the unweighted value."""
    value = RETAIN_TERMS.get(term or ctx.hparams["retain_term"])(ctx, batches["retain"])
    _, subject = topic_of(batches["forget"])
    return per_topic(ctx.hparams["retain_weight"], subject, "retain_weight") * value, {"retain_loss": value.item()}


def needs_reference(hparams: dict) -> bool:
    return hparams.get("retain_term") in REFERENCE_TERMS
