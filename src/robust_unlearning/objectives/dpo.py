"""DPO on a forget corpus (P1; the RNA authors' `baselines/po/dpo`): a refusal is the preferred and the forget
text the rejected answer, plus a retain term,
L = −(2/β) log σ(β [(log π_θ(y_w) − log π_ref_w(y_w)) − (log π_θ(y_f) − log π_θ0(y_f))]) + w · R(θ; x_r).

The forget set is a text corpus without questions, so the preferred side is a batch of refusal sentences on their
own ("refusal" stream: the run's refusal answers, BOS + the sentence, every token scored), not a continuation of
the forget text; the rejected side is the forget batch. `loss_normalisation` as NPO's (objectives/npo.py):
"batch_mean" (the authors') makes each log π one scalar per batch, minus its mean token NLL; "sequence" (unset)
sums each row's token log-probabilities and pairs row i of the refusal batch with row i of the forget batch.

`preferred_reference` says what the preferred answer's log-likelihood is compared with:
- "reference" (unset; Rafailov et al. 2023, as IdkDPO): θ0's, π_ref_w = π_θ0;
- "policy" (the RNA authors' released `baselines/losses.py` `dpo`: `ref_log_ratios = idk_current_loss −
  unlearn_ref_loss`, where θ0's refusal NLL is computed and left unused): θ's own, so the preferred terms cancel,
  in value and in gradient, and the forget term is NPO's, −(2/β) log σ(−β (log π_θ(y_f) − log π_θ0(y_f))). The
  refusal forward then changes nothing; it runs without a graph only to log the refusal log-likelihood.
Every θ0 forward here is clean: RNA's noise reaches only the retain term (objectives/retain.py), as in the
authors' `dpo`, called with ν = 0.
"""

import torch

from ..data.examples import Example
from ..models.forward import forward, labels_on
from .base import STREAMS, StreamSources, UnlearnContext, register_method
from .losses import dpo_loss, sequence_logprob
from .npo import batch_mean_logprob, batch_normalised, logprobs_with_reference
from .retain import retain_loss

PREFERRED_REFERENCES = ("reference", "policy")


@STREAMS.register("refusal")
def refusal_stream(tokenizer, sources: StreamSources, hparams: dict) -> list[Example]:
    """One example per refusal answer, the sentence alone (the authors tokenize their refusal strings as texts)."""
    if not sources.idk_answers:
        raise ValueError("the refusal stream needs refusal answers (the world's idk.jsonl list), got none")
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    examples = []
    for text in sources.idk_answers:
        ids = (bos + tokenizer(text, add_special_tokens=False)["input_ids"])[: sources.max_length]
        examples.append(Example(ids, ids))
    return examples


def logprob(ctx: UnlearnContext, batch, with_reference: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """log π_θ(y) of `batch` (a scalar for batch_mean, one per row otherwise) and, if asked, θ0's without a graph."""
    if not batch_normalised(ctx.hparams):
        if with_reference:
            logp, logp_ref, _ = logprobs_with_reference(ctx, batch)
            return logp, logp_ref
        return sequence_logprob(forward(ctx.model, batch).logits, labels_on(ctx.model, batch))[0], None
    logp = batch_mean_logprob(ctx.model, batch)
    if not with_reference:
        return logp, None
    with torch.no_grad():
        return logp, batch_mean_logprob(ctx.reference, batch)


def preference_loss(ctx: UnlearnContext, preferred, rejected) -> tuple[torch.Tensor, dict[str, float]]:
    """The DPO forget term of a preferred and a rejected batch, in the form `preferred_reference` names."""
    form = ctx.hparams.get("preferred_reference", "reference")
    if form not in PREFERRED_REFERENCES:
        raise ValueError(f"method setting 'preferred_reference' must be one of {PREFERRED_REFERENCES}, got {form!r}")
    rejected_logp, rejected_ref = logprob(ctx, rejected, with_reference=True)
    if form == "reference":
        chosen, chosen_ref = logprob(ctx, preferred, with_reference=True)
    else:
        with torch.no_grad():
            chosen, _ = logprob(ctx, preferred, with_reference=False)
        chosen_ref = chosen
    if chosen.shape != rejected_logp.shape:
        raise ValueError(
            f"DPO pairs preferred and rejected rows one to one: got {tuple(chosen.shape)} and {tuple(rejected_logp.shape)} (the refusal list is shorter than the batch?)"
        )
    loss = dpo_loss(chosen, rejected_logp, chosen_ref, rejected_ref, ctx.hparams["beta"])
    return loss, {"forget_loss": loss.item(), "preferred_logp": chosen.mean().item()}


@register_method("dpo", streams=("forget", "refusal", "retain"), needs_reference=True)
def direct_preference_optimization(ctx: UnlearnContext, batches):
    forget, logs = preference_loss(ctx, batches["refusal"], batches["forget"])
    retain, retain_logs = retain_loss(ctx, batches)
    return forget + retain, {**logs, **retain_logs}
