"""IDK (TOFU's "preference optimisation", Maini et al. 2024): fine-tune the forget questions towards
"I don't know"-style answers, L = NLL(y_idk | x_f) + w · R(θ; x_r).

The "idk" stream pairs each forget question with a refusal drawn (by the run seed) from the world's list
(tofu/idk.jsonl); row i of it is forget record i, so IdkDPO can take both answers of one question.
"""

import random

from ..data.examples import Example, encode_qa
from ..models.forward import forward, labels_on
from .base import STREAMS, StreamSources, UnlearnContext, register_method
from .losses import mean_nll
from .retain import needs_reference, retain_loss


@STREAMS.register("idk")
def idk_stream(tokenizer, sources: StreamSources, hparams: dict) -> list[Example]:
    if not sources.idk_answers:
        raise ValueError("the idk stream needs refusal answers (tofu/idk.jsonl), got none")
    if sources.forget and "question" not in sources.forget[0]:
        raise ValueError("the idk stream needs QA forget records (question, answer), got text records")
    rng = random.Random(sources.seed)
    return [
        encode_qa(tokenizer, r["question"], rng.choice(sources.idk_answers), sources.max_length) for r in sources.forget
    ]


@register_method("idk", streams=("forget", "idk", "retain"), needs_reference=needs_reference)
def i_dont_know(ctx: UnlearnContext, batches):
    batch = batches["idk"]
    forget = mean_nll(forward(ctx.model, batch).logits, labels_on(ctx.model, batch))
    retain, retain_logs = retain_loss(ctx, batches)
    return forget + retain, {"forget_loss": forget.item(), **retain_logs}
