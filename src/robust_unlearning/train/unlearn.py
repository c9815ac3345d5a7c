"""The unlearning stage: one registered method (+ defenses) trained with the shared loop.

Steps are counted in epochs over the forget stream; every other stream is cycled in step with
it (its own permutation per pass), as the papers' alternating forget/retain batches do. Every stream
is shuffled with the run seed, so streams built one-to-one from the forget records ("idk", "scope")
stay paired with the forget stream row by row (IdkDPO needs both answers of one question). A forget
stream built per topic alternates topics step by step (objectives/streams.py); `hparams["corpus_order"]: file`
serves every stream in its records' order instead (P1, the RNA authors' unshuffled batches).
With `hparams["lora"]["enabled"]` a fresh LoRA adapter is trained and merged into the weights after; with
`hparams["n_trained_layers"]` any method trains only the MLP down-projections of the blocks ℓ−k+1..ℓ, as RM
methods always do (the RNA authors' PO methods: `get_params(layer_ids=ℓ−2..ℓ, param_ids=[6])`).
"""

import copy
from pathlib import Path

import torch

from ..config import micro_batch_size
from ..models.factory import cast_weights, load_model, load_tokenizer
from ..models.lora import attach_lora, merge_lora
from ..objectives.base import DEFENSES, METHODS, STREAMS, Method, StreamSources, UnlearnContext
from ..objectives.rmu import down_projections
from ..objectives.streams import stream_batcher
from ..unlearning_registry import registered
from .distributed import save_on_main, unsharded
from .loop import batch_count, fingerprint, set_determinism, train, weight_dtype


def split_method_settings(unlearning: dict, method: str) -> tuple[dict, dict]:
    """(optimization, hparams) of `unlearning.methods.<method>`: the loop's settings and the method's own."""
    if method not in unlearning["methods"]:
        raise KeyError(
            f"config key 'unlearning.methods' has no settings for method {method!r}; configured: {sorted(unlearning['methods'])}"
        )
    settings = unlearning["methods"][method]
    return settings["optimization"], {key: value for key, value in settings.items() if key != "optimization"}


def trained_parameters(spec: Method, model, hparams: dict):
    """The method's own parameter set, the down-projections ending at ℓ when `n_trained_layers` is set, else None
    (every parameter, or LoRA's adapter)."""
    if spec.trainable is not None:
        return spec.trainable(model, hparams)
    if "n_trained_layers" not in hparams:
        return None
    if "layer" not in hparams:
        raise ValueError(
            "method setting 'n_trained_layers' needs the layer ℓ its blocks end at; P1 sets it from p1.layer"
        )
    return down_projections(model, hparams)


def reference_dtype(optimization: dict) -> torch.dtype:
    """θ0's dtype (`optimization.reference_precision`). `weights`: θ's training dtype (fp32 master weights, bf16 under
    bf16-pure), so θ0 and θ give the same outputs until the first step, as in the authors' code, where θ0 is the
    checkpoint loaded a second time or deep-copied in the dtype θ trains in. `bf16`: half the memory (a 7B θ0: 13.5 GB
    instead of 27, config/paper/memory.md), but beside fp32 weights under autocast its outputs differ from θ's by
    bf16 rounding from step 0. Unset: bf16 under bf16 autocast (the choice before the key existed), else `weights`."""
    choice = optimization.get("reference_precision")
    if choice is None:
        choice = "bf16" if optimization.get("precision", "fp32") == "bf16" else "weights"
    return torch.bfloat16 if choice == "bf16" else weight_dtype(optimization)


def frozen_copy(model, dtype: torch.dtype = torch.float32):
    """θ0 in `dtype` (`reference_dtype`), made before training: under distributed training every rank holds a whole
    copy."""
    reference = copy.deepcopy(model).eval()
    cast_weights(reference, dtype)
    for parameter in reference.parameters():
        parameter.requires_grad_(False)
    return reference


def unlearn(
    *,
    model_dir: Path,
    forget: list[dict],
    retain: list[dict],
    idk_answers: list[str],
    method: str,
    hparams: dict,
    defenses: dict[str, dict],
    optimization: dict,
    seed: int,
    device: str,
    max_length: int,
    out_dir: Path | None,
    resume_file: Path,
    log,
    model=None,
    history: list | None = None,
):
    """Unlearn `forget` from the model in `model_dir` (or the given `model`); save it to `out_dir`, or return it when
    out_dir is None (on every rank of a sharded job, a plain copy: train/distributed.py's `unsharded`). A job's ranks
    (train/distributed.py's launch) save, so no model is sent between processes."""
    registered()
    set_determinism(seed)
    tokenizer = load_tokenizer(model_dir)
    model = model if model is not None else load_model(model_dir, device)
    spec = METHODS.get(method)
    defense_specs = {name: DEFENSES.get(name) for name in defenses}
    reference = frozen_copy(model, reference_dtype(optimization)) if spec.uses_reference(hparams) else None
    lora = hparams.get("lora", {})
    if lora.get("enabled"):
        if spec.trainable is not None or "n_trained_layers" in hparams:
            raise ValueError(
                f"method {method!r} trains a set of its own (n_trained_layers); it cannot also train a LoRA adapter"
            )
        model = attach_lora(model, lora)
    context = UnlearnContext(model=model, reference=reference, hparams=hparams)
    for name, defense in defense_specs.items():
        if defense.configure is not None:
            defense.configure(context, defenses[name])

    sources = StreamSources(forget=forget, retain=retain, idk_answers=idk_answers, seed=seed, max_length=max_length)
    stream_names = list(dict.fromkeys([*spec.streams, *(s for d in defense_specs.values() for s in d.streams)]))
    batchers = {
        name: stream_batcher(
            STREAMS.get(name)(tokenizer, sources, hparams),
            micro_batch_size(optimization),
            seed,
            tokenizer.pad_token_id,
            shuffle=hparams.get("corpus_order", "shuffled") == "shuffled",
        )
        for name in stream_names
    }

    def objective(step: int):
        batches = {name: batcher.batch(step) for name, batcher in batchers.items()}
        loss, logs = spec.loss(context, batches)
        for name, defense in defense_specs.items():
            if defense.extra_loss is not None:
                extra, extra_logs = defense.extra_loss(context, batches)
                loss = loss + extra
                logs = {**logs, **extra_logs}
        return loss, logs

    parameters = trained_parameters(spec, model, hparams)
    params = {
        "method": method,
        "hparams": hparams,
        "defenses": defenses,
        "optimization": optimization,
        "seed": seed,
        "model": str(model_dir),
    }
    n_batches = batch_count(optimization, batchers["forget"].steps_per_epoch)
    train(model, objective, n_batches, optimization, resume_file, fingerprint(params), log, parameters, history)
    model = merge_lora(model)
    if out_dir is None:
        return unsharded(model)
    save_on_main(model, tokenizer, out_dir)
