"""The shapes of the papers' models, known before any job loads them: memory.py and cost.py size their stages from
them, and config validation bounds layer indices by their block counts. Torch-free and import-free, so that both
sides can read it."""

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelShape:
    n_parameters: int
    hidden: int
    layers: int
    intermediate: int
    vocab: int
    kv_hidden: int  # key/value projection width (grouped-query attention: fewer than hidden)
    tied: bool = False  # the LM head shares the embedding matrix


# The papers' models, from their hub config.json (parameter counts as the hub reports them).
KNOWN_MODELS = {
    "meta-llama/Llama-2-7b-hf": ModelShape(6_738_415_616, 4096, 32, 11008, 32000, 4096),
    "meta-llama/Llama-2-7b-chat-hf": ModelShape(6_738_415_616, 4096, 32, 11008, 32000, 4096),
    "HuggingFaceH4/zephyr-7b-beta": ModelShape(7_241_732_096, 4096, 32, 14336, 32000, 1024),
    "mistralai/Mistral-7B-Instruct-v0.2": ModelShape(7_241_732_096, 4096, 32, 14336, 32000, 1024),
    "microsoft/phi-1_5": ModelShape(1_418_270_720, 2048, 24, 8192, 51200, 2048),
}


def llama_parameters(hidden: int, layers: int, intermediate: int, vocab: int, kv_hidden: int, tied: bool) -> int:
    block = 2 * hidden * hidden + 2 * hidden * kv_hidden + 3 * hidden * intermediate + 2 * hidden
    return vocab * hidden * (1 if tied else 2) + layers * block + hidden
