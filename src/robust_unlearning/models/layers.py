"""Where the transformer blocks are, for hooks that read or perturb per-layer representations (RMU, RNA, Vaccine),
and the representation h_ℓ such a hook reads (RMU's loss, P1's noise unit, P4's embedding probe)."""

import torch


def decoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    """The list of decoder blocks of a Llama-family causal LM, through a peft wrapper if there is one."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    inner = getattr(base, "model", None)
    layers = getattr(inner, "layers", None)
    if not isinstance(layers, torch.nn.ModuleList):
        raise TypeError(
            f"{type(base).__name__} has no `.model.layers`; representation hooks support Llama-family decoders only"
        )
    return layers


class _StopForward(Exception):
    """Raised once block ℓ has run: the blocks above it and the LM head do not enter the loss, so they are skipped."""


def _hidden(output):
    # Llama blocks return a tensor in transformers 5; other decoders return (hidden, ...).
    return output[0] if isinstance(output, tuple) else output


def layer_representation(model: torch.nn.Module, batch: dict[str, torch.Tensor], layer: int) -> torch.Tensor:
    """h_ℓ(x) [batch, tokens, d], read by a forward hook on block `layer`; the forward stops there."""
    captured = {}

    def capture(module, args, output):
        captured["hidden"] = _hidden(output)
        raise _StopForward

    device = next(model.parameters()).device
    handle = decoder_layers(model)[layer].register_forward_hook(capture)
    try:
        model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device))
    except _StopForward:
        pass
    finally:
        handle.remove()
    return captured["hidden"]
