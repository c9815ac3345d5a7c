"""Random Noise Augmentation, RNA (Dang et al. 2025, "Improving LLM Unlearning Robustness via Random Perturbations",
arXiv 2501.19202).

During the retain step only, the layer-ℓ representation of the retain inputs gets Gaussian noise

    h_ℓ(x_r) ← h_ℓ(x_r) + ε,    ε ~ N(0, ν² I), fresh for every step and element,

on the frozen side, as the authors' code does, so that the retain loss holds the model to a noisy target.
`ctx.retain_noise(module)` wraps the forward pass to perturb, and the method chooses it:
- RM methods (objectives/rmu.py, rsv.py) perturb θ0's retain target: ||h_ℓ^θ(x_r) − (h_ℓ^θ0(x_r) + ε)||²;
- PO methods with a KL or MSE retain term (objectives/retain.py) perturb θ0's retain forward, whose noised h_ℓ
  flows through θ0's blocks above ℓ into the teacher logits: KL(π_θ0+ε(·|x_r) ‖ π_θ(·|x_r)). θ's retain forward
  and NPO's forget-side θ0 forward stay clean (the authors' `RandomizedModel.forward_with_injected_noise`);
- the NLL retain term has no frozen side, so it perturbs θ's own retain forward (our reading; the authors run
  their PO methods with KL or MSE only).
ν = 0 installs no hook at all, which is exactly the plain method. ν is absolute here; tracks that scale it to the
representation norm do so before configuring (experiments/p1_rna.py, `p1.rna.nu_scale`).
"""

from contextlib import contextmanager
from functools import partial

import torch

from ..models.layers import decoder_layers
from ..objectives.base import DEFENSES, Defense, UnlearnContext


@contextmanager
def gaussian_representation_noise(module: torch.nn.Module, layer: int, nu: float):
    """While active, every forward of `module` adds fresh N(0, ν²) noise to the output of decoder block `layer`."""
    if nu == 0:
        yield
        return

    def add_noise(block, args, output):
        if isinstance(output, tuple):  # decoders other than transformers-5 Llama return (hidden, ...)
            return (output[0] + nu * torch.randn_like(output[0]), *output[1:])
        return output + nu * torch.randn_like(output)

    handle = decoder_layers(module)[layer].register_forward_hook(add_noise)
    try:
        yield
    finally:
        handle.remove()


def random_noise_augmentation(ctx: UnlearnContext, hparams: dict) -> None:
    ctx.retain_noise = partial(gaussian_representation_noise, layer=hparams["layer"], nu=hparams["nu"])


DEFENSES.register("rna")(Defense(configure=random_noise_augmentation))
