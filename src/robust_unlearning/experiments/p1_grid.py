"""P1's grid of variants: which (ℓ, ν) a main job and a sweep job run. Torch-free, so that the workflow schedules
a method's sweep job only when its sweep holds a variant the main jobs do not already run (rule_params)."""

from dataclasses import dataclass

from ..config import rna_nu

REPRESENTATION_METHODS = ("rmu", "adaptive_rmu", "rsv")
# The p1 keys that build and serve every method's corpus streams (objectives/streams.py): a job's params and hparams.
CORPUS_KEYS = ("forget_topics", "corpus_order", "document_bos")


@dataclass(frozen=True)
class Variant:
    layer: int
    nu: float

    @property
    def name(self) -> str:
        return f"layer{self.layer}_nu{self.nu:g}"


def sweep_seeds(p1: dict) -> list[int]:
    """The seeds the ν and ℓ sweeps run at: the first p1.n_sweep_seeds of p1.seeds (all of them when fewer)."""
    return p1["seeds"][: p1["n_sweep_seeds"]]


def main_variants(p1: dict, method: str) -> list[Variant]:
    """The main table's two variants of a method: plain and +RNA at the configured ℓ and the method's ν."""
    return [Variant(p1["layer"], 0.0), Variant(p1["layer"], rna_nu(p1, method))]


def layer_dependent(method: str, settings: dict) -> bool:
    """Whether ℓ changes a plain run: RM methods misdirect h_ℓ, and `n_trained_layers` trains the blocks ending at ℓ."""
    return method in REPRESENTATION_METHODS or "n_trained_layers" in settings


def sweep_variants(p1: dict, method: str) -> list[Variant]:
    """The ν and ℓ sweeps of one method, less the variants the main jobs already run at the sweep seed: the ν sweep
    is every method's, the ℓ sweep's +RNA points take the method's own ν."""
    grid = [Variant(p1["layer"], nu) for nu in p1["nu_sweep"]]
    grid += [Variant(layer, nu) for layer in p1["layer_sweep"] for nu in (0.0, rna_nu(p1, method))]
    if not layer_dependent(method, p1.get(method, {})):
        # Without noise a PO method training every parameter never looks at ℓ: its one plain run stands for every layer.
        grid = [Variant(p1["layer"], 0.0) if v.nu == 0 else v for v in grid]
    main = set(main_variants(p1, method))
    return [v for v in dict.fromkeys(grid) if v not in main]
