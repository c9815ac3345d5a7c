"""The contract every unlearning method and defense fulfils.

A method is one function `(context, batches) -> (loss, logs)` registered by name; `batches`
maps a stream name ("forget", "retain", "idk", "scope", ...) to a padded batch (a forget batch of
alternating topics also carries "topic" and "subject", objectives/streams.py). A stream is
built once per run by a registered builder from the forget/retain records, so adding a method
that needs new data (refusal answers, concatenated prompts) touches its own module only.
"""

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field

import torch

from ..data.examples import Example
from ..registry import Registry

Batches = dict[str, dict[str, torch.Tensor | int | str]]
LossFn = Callable[["UnlearnContext", Batches], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class UnlearnContext:
    model: torch.nn.Module
    # Frozen copy of the model before unlearning (θ0): NPO/DPO reference, KL target, RMU target.
    reference: torch.nn.Module | None
    hparams: dict
    # Wraps the retain-branch forward pass of the module given; RNA swaps in a noise hook, otherwise a no-op.
    # Which module is wrapped is the method's choice: θ0 where the retain term compares with θ0 (defenses/rna.py).
    retain_noise: Callable[[torch.nn.Module], AbstractContextManager] = lambda module: nullcontext()
    # Per-run quantities fixed once (RMU's random direction per topic, adaptive RMU's coefficient per topic).
    state: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Method:
    loss: LossFn
    streams: tuple[str, ...] = ("forget", "retain")
    # A bool, or a function of the run's hparams (a retain term may need θ0 where the method does not).
    needs_reference: bool | Callable[[dict], bool] = False
    # Which parameters the optimizer updates; None means every parameter (full fine-tuning or LoRA's), unless the
    # run's hparams set n_trained_layers (train/unlearn.py).
    trainable: Callable[[torch.nn.Module, dict], list[torch.nn.Parameter]] | None = None

    def uses_reference(self, hparams: dict) -> bool:
        """Whether a run with these hparams needs the frozen θ0 copy."""
        return self.needs_reference(hparams) if callable(self.needs_reference) else bool(self.needs_reference)


@dataclass(frozen=True)
class Defense:
    streams: tuple[str, ...] = ()
    # Added to the method's loss, e.g. SU's scope term.
    extra_loss: LossFn | None = None
    # Changes the context before training, e.g. RNA installs its retain-branch noise.
    configure: Callable[[UnlearnContext, dict], None] | None = None


@dataclass(frozen=True)
class StreamSources:
    """What a stream builder may draw on: the run's records, the world's refusal answers, the run seed."""

    forget: list[dict]
    retain: list[dict]
    idk_answers: list[str]
    seed: int
    max_length: int


# A builder returns one example list, or one per forget topic (batched alternately, objectives/streams.py).
StreamBuilder = Callable[[object, StreamSources, dict], list[Example] | dict[str, list[Example]]]

METHODS = Registry("unlearning method")
DEFENSES = Registry("defense")
STREAMS = Registry("batch stream")


def register_method(name: str, **options) -> Callable[[LossFn], LossFn]:
    def add(loss: LossFn) -> LossFn:
        METHODS.register(name)(Method(loss=loss, **options))
        return loss

    return add
