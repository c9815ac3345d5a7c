"""Scope-aware Unlearning (SU; "Keeping an Eye on LLM Unlearning", arXiv 2506.00359):

    L = L_unlearn(θ) + η · E[NLL(y_r | x_f ⊕ x_r; θ)]

The "scope" stream pairs forget record i with a retain record drawn by the run seed and asks the retain
question after the forget prompt; only the retain answer is scored. Row i of the stream is forget record i,
so each batch's scope examples carry exactly that batch's forget prompts (the paper's in-batch
concatenation), and the model learns that forget content (and a trigger word in it) does not void the
answer to an in-scope question. No data beyond D_f and D_r.
"""

import random

from ..data.examples import Example, encode_qa
from ..models.forward import forward, labels_on
from ..objectives.base import DEFENSES, STREAMS, Defense, StreamSources, UnlearnContext
from ..objectives.losses import mean_nll


def scope_question(forget_question: str, retain_question: str) -> str:
    """x_f ⊕ x_r: the two questions joined by a space, in one prompt."""
    return f"{forget_question} {retain_question}"


@STREAMS.register("scope")
def scope_stream(tokenizer, sources: StreamSources, hparams: dict) -> list[Example]:
    if (
        not sources.forget
        or not sources.retain
        or "question" not in sources.forget[0]
        or "question" not in sources.retain[0]
    ):
        raise ValueError("scope-aware unlearning needs QA forget and retain records (question, answer)")
    rng = random.Random(sources.seed)
    partners = [rng.randrange(len(sources.retain)) for _ in sources.forget]
    return [
        encode_qa(
            tokenizer,
            scope_question(f["question"], sources.retain[j]["question"]),
            sources.retain[j]["answer"],
            sources.max_length,
        )
        for f, j in zip(sources.forget, partners)
    ]


def scope_term(ctx: UnlearnContext, batches) -> tuple:
    batch = batches["scope"]
    # The scope term is a retain-branch pass (it keeps retain answers), so RNA's noise applies to it too.
    with ctx.retain_noise(ctx.model):
        nll = mean_nll(forward(ctx.model, batch).logits, labels_on(ctx.model, batch))
    return ctx.state["scope_eta"] * nll, {"scope_loss": nll.item()}


def configure(ctx: UnlearnContext, hparams: dict) -> None:
    ctx.state["scope_eta"] = hparams["eta"]


DEFENSES.register("su")(Defense(streams=("scope",), extra_loss=scope_term, configure=configure))
