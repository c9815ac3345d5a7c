"""Calibration by model mixing (P4, "Unlearning with Control", Wang et al., arXiv 2406.09179).

    θ_mix(α) = (1 − α) · θ_target + α · θ_unlearned,   α ∈ [0, 1]

α = 0 is the model before unlearning, α = 1 the unlearned model. Methods are compared at the largest α whose
retain extraction strength keeps a fraction τ of the target's: α* = max{α : ES_retain(α) ≥ τ · ES_retain(0)}
(paper: τ = 0.9 main, 0.4 / 0.6 also reported), so that every method is charged the same loss of retained
knowledge and forget ES measures removal alone. The paper tuned α by hand; ES is smooth and (close to)
monotone in α, so `calibrate` bisects with a budget of evaluations.

Mixing writes the mixed weights into one model instance in memory (no intermediate checkpoint on disk).
The formula is applied literally, so α = 0 reproduces θ_target and α = 1 θ_unlearned bit for bit.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import torch


class ModelMixer:
    """One model whose weights are set to θ_mix(α) on request; the two endpoints are kept on the side, in host
    memory (with the mixed model they would take three 7B models' weights on the GPU): as given when they are
    there already, which the mixer only reads, else copied there. They must not share the mixed model's storage."""

    def __init__(
        self, model: torch.nn.Module, target_state: dict[str, torch.Tensor], unlearned_state: dict[str, torch.Tensor]
    ):
        if target_state.keys() != unlearned_state.keys():
            missing = sorted(target_state.keys() ^ unlearned_state.keys())[:5]
            raise ValueError(f"target and unlearned models have different parameters, e.g. {missing}")
        self.model = model
        self.target = {k: v.detach().to("cpu") for k, v in target_state.items()}
        self.unlearned = {k: v.detach().to("cpu") for k, v in unlearned_state.items()}
        self.alpha: float | None = None

    @classmethod
    def from_models(cls, target: torch.nn.Module, unlearned: torch.nn.Module) -> "ModelMixer":
        """Mix into `target`'s instance (its weights are overwritten; its own are copied first)."""
        return cls(target, {k: v.detach().clone() for k, v in target.state_dict().items()}, unlearned.state_dict())

    def mixed(self, key: str, alpha: float) -> torch.Tensor:
        # Integer buffers (none in a Llama, but e.g. position ids elsewhere) are not interpolated.
        target = self.target[key]
        return (1 - alpha) * target + alpha * self.unlearned[key] if target.is_floating_point() else target

    def set_alpha(self, alpha: float) -> torch.nn.Module:
        if not 0 <= alpha <= 1:
            raise ValueError(f"mixing weight α must be in [0, 1], got {alpha}")
        # Tensor by tensor into the model's own storage: no second model-sized dict on the host or the device.
        with torch.no_grad():
            for key, value in self.model.state_dict().items():
                value.copy_(self.mixed(key, alpha))
        self.alpha = alpha
        return self.model


@dataclass
class Calibration:
    """Result of `calibrate`: α*, the retain score there, the threshold it meets and every evaluation made."""

    alpha: float
    score: float
    threshold: float
    reference_score: float
    bracket: tuple[float, float]  # (feasible α*, smallest α seen to fall below the threshold; 1 + tolerance if none)
    evaluations: list[tuple[float, float]] = field(default_factory=list)

    @property
    def n_evaluations(self) -> int:
        return len(self.evaluations)


def calibrate(
    retain_score: Callable[[float], float],
    tau: float,
    tolerance: float = 0.01,
    max_evaluations: int = 12,
    reference_score: float | None = None,
    cache: dict[float, float] | None = None,
) -> Calibration:
    """The largest α in [0, 1] with retain_score(α) ≥ τ · retain_score(0), by bisection on α.

    Assumes retain_score decreases with α (more unlearning, less retained knowledge); α = 0 is always feasible
    (τ ≤ 1). Evaluates α = 0 (unless `reference_score` is given) and α = 1, then halves the bracket
    [feasible, infeasible] until it is narrower than `tolerance` or `max_evaluations` are spent; returns the
    feasible end, so the threshold is always met. `cache` (α → score) is shared between calls, e.g. a τ sweep on
    one model, and evaluations found there are not counted.
    """
    if not 0 < tau <= 1:
        raise ValueError(f"calibration τ must be in (0, 1], got {tau}")
    if max_evaluations < 2:
        raise ValueError(f"bisection needs at least 2 evaluations (α = 0 and α = 1), got {max_evaluations}")
    cache = {} if cache is None else cache
    evaluations: list[tuple[float, float]] = []

    def score(alpha: float) -> float:
        if alpha not in cache:
            cache[alpha] = float(retain_score(alpha))
            evaluations.append((alpha, cache[alpha]))
        return cache[alpha]

    reference = score(0.0) if reference_score is None else float(reference_score)
    threshold = tau * reference
    if score(1.0) >= threshold:
        return Calibration(1.0, cache[1.0], threshold, reference, (1.0, 1.0 + tolerance), evaluations)
    low, high = 0.0, 1.0
    while high - low > tolerance and len(evaluations) < max_evaluations:
        middle = (low + high) / 2
        if score(middle) >= threshold:
            low = middle
        else:
            high = middle
    return Calibration(low, cache[low] if low in cache else reference, threshold, reference, (low, high), evaluations)
