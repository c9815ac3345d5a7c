"""The distributed mode of the one loop (train/distributed.py) on CPU: 2 processes over gloo, against 1 process.

Each 2-process job starts torchrun and two fresh interpreters: 5-9 s of a test's time on the 2-core test machine,
~20 s at load average 7, whatever it trains (measured: the whole file 57-81 s at load 3-4).
"""

import copy
import importlib.util
import json
import os
import signal
from pathlib import Path

import mlflow
import pytest
import torch

from robust_unlearning import provenance, tracking
from robust_unlearning.config import ConfigError, load_layered, validate_config
from robust_unlearning.data.io import read_jsonl, write_jsonl
from robust_unlearning.experiments.p2_sasu import VARIANTS, run_cell
from robust_unlearning.experiments.p4_evaluation import run_calibration
from robust_unlearning.models.factory import load_model, save_atomically
from robust_unlearning.train import distributed
from robust_unlearning.train.loop import train
from robust_unlearning.train.stages import finetune
from robust_unlearning.train.unlearn import unlearn
from robust_unlearning.unlearning_registry import registered

from .helpers import TINY_QA, TINY_QA_PERTURBED, memorise, tiny_model, tiny_tokenizer

# k = 4 micro-batches of 2 per step: each of 2 ranks sums 2 of them, so the float sums run in another order than at N = 1.
OPTIMIZATION = {
    "batch_size": 8,
    "grad_accumulation": 4,
    "learning_rate": 1e-2,
    "weight_decay": 0.0,
    "warmup_ratio": 0.1,
    "grad_clip": 1.0,
    "log_every": 1,
    "checkpoint_every": 2,
}
# 16 QA records: 8 steps.
FINETUNE = {**OPTIMIZATION, "epochs": 4, "max_length": 128, "replay_ratio": 0.0, "lora": {"enabled": False}}
NPO = {"beta": 0.1, "retain_term": "kl", "retain_weight": 1.0}  # KL to the frozen reference θ0
# fp32 on CPU; the measured differences are in each test's docstring.
TOLERANCE = 1e-5


class JsonLinesLog:
    """A `log` callback the ranks can unpickle: one line {"step", "metrics"} per call, written by rank 0."""

    def __init__(self, path: Path, kill_at_step: int | None = None):
        self.path, self.kill_at_step = path, kill_at_step

    def __call__(self, metrics: dict[str, float], step: int) -> None:
        if not tracking.is_main_rank():
            return
        with open(self.path, "a") as out:
            out.write(json.dumps({"step": step, "metrics": metrics}) + "\n")
        if step == self.kill_at_step:
            # The job dies as a killed job does: no exception handling, no clean-up.
            os.kill(os.getpid(), signal.SIGKILL)


def losses(log_file: Path) -> list[tuple[int, float]]:
    return [(line["step"], line["metrics"]["loss"]) for line in read_jsonl(log_file)]


def max_weight_difference(a: Path, b: Path) -> float:
    first, second = load_model(a), load_model(b)
    return max((p - q).abs().max().item() for p, q in zip(first.parameters(), second.parameters(), strict=True))


def two_processes(strategy: str, optimization: dict) -> dict:
    return {**optimization, "distributed": {"strategy": strategy, "processes": 2}}


@pytest.fixture(scope="module")
def job_files(tmp_path_factory) -> Path:
    """A tiny base model and TOFU-style QA records."""
    root = tmp_path_factory.mktemp("job")
    tokenizer = tiny_tokenizer()
    save_atomically(tiny_model(tokenizer), tokenizer, root / "base")
    write_jsonl(root / "qa.jsonl", TINY_QA * 4)
    return root


def run_finetune(job_files: Path, out: Path, settings: dict, log) -> dict:
    config = {"seed": 0, "device": "cpu", "finetune": settings}
    files = job_files / "qa.jsonl", job_files / "unused_corpus.jsonl"
    return distributed.launch(
        finetune,
        distributed.settings(settings),
        config,
        job_files / "base",
        *files,
        out / "model",
        out / "resume.pt",
        log,
    )


@pytest.fixture(scope="module")
def finetunes(job_files, tmp_path_factory) -> dict:
    """The fine-tune on 1 process, and on 2 (ddp) inside one MLflow job run, as workflow/scripts/finetune.py runs it."""
    root = tmp_path_factory.mktemp("finetunes")
    run_finetune(job_files, root / "n1", FINETUNE, JsonLinesLog(root / "n1.jsonl"))
    previous_uri = mlflow.get_tracking_uri()
    store = {"tracking_uri": f"sqlite:///{root}/mlflow.db", "artifact_root": str(root / "mlruns"), "experiment": "test"}
    parent_id = tracking.init_store(store, "workflow", root / "parent.json")
    with tracking.job_run(root / "parent.json", "finetune_target", {"finetune": FINETUNE}):
        run_finetune(job_files, root / "n2", two_processes("ddp", FINETUNE), tracking.log_metrics)
    job_runs = mlflow.search_runs(experiment_names=["test"], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'")
    yield {"root": root, "job_runs": job_runs}
    mlflow.set_tracking_uri(previous_uri)


def test_ddp_finetune_matches_one_process(finetunes):
    """Measured: max |loss difference| over the 8 logged steps 3.6e-7 (losses 5.9 → 4.0), max |final weight difference| 5.0e-7."""
    root = finetunes["root"]
    history = mlflow.MlflowClient().get_metric_history(finetunes["job_runs"].iloc[0]["run_id"], "loss")
    two = [(m.step, m.value) for m in sorted(history, key=lambda m: m.step)]
    one = losses(root / "n1.jsonl")
    assert [step for step, _ in two] == [step for step, _ in one] == list(range(1, 9))
    assert max(abs(a - b) for (_, a), (_, b) in zip(one, two, strict=True)) < TOLERANCE
    assert max_weight_difference(root / "n1" / "model", root / "n2" / "model") < TOLERANCE
    assert not (root / "n2" / "resume.pt").exists()


def test_mlflow_gets_one_run_per_job_not_per_rank(finetunes):
    runs = finetunes["job_runs"]
    assert list(runs["tags.mlflow.runName"]) == ["finetune_target"]
    assert (
        len(mlflow.search_runs(search_all_experiments=True)) == 2
    )  # the workflow's parent run and the job's, no other
    history = mlflow.MlflowClient().get_metric_history(runs.iloc[0]["run_id"], "loss")
    assert sorted(m.step for m in history) == list(range(1, 9))  # rank 0's values only, once per step


def test_fsdp_finetune_matches_one_process(job_files, finetunes, tmp_path):
    """Measured: max |loss difference| 2.4e-7, max |final weight difference| 4.9e-7 (FSDP2 on CPU, gloo)."""
    run_finetune(job_files, tmp_path, two_processes("fsdp", FINETUNE), JsonLinesLog(tmp_path / "log.jsonl"))
    one = losses(finetunes["root"] / "n1.jsonl")
    two = losses(tmp_path / "log.jsonl")
    assert [step for step, _ in two] == [step for step, _ in one]
    assert max(abs(a - b) for (_, a), (_, b) in zip(one, two, strict=True)) < TOLERANCE
    assert max_weight_difference(finetunes["root"] / "n1" / "model", tmp_path / "model") < TOLERANCE


def test_killed_two_process_job_resumes_to_the_uninterrupted_weights(job_files, finetunes, tmp_path):
    """Rank 0 is killed (SIGKILL) at step 5, after the step-4 checkpoint; the rerun resumes there and ends with the
    weights of the uninterrupted 2-process run, bit for bit."""
    settings = two_processes("ddp", FINETUNE)
    with pytest.raises(RuntimeError, match="training processes"):
        run_finetune(job_files, tmp_path, settings, JsonLinesLog(tmp_path / "killed.jsonl", kill_at_step=5))
    assert (tmp_path / "resume.pt").exists() and not (tmp_path / "model").exists()
    run_finetune(job_files, tmp_path, settings, JsonLinesLog(tmp_path / "resumed.jsonl"))
    assert [step for step, _ in losses(tmp_path / "resumed.jsonl")] == [5, 6, 7, 8]
    assert max_weight_difference(finetunes["root"] / "n2" / "model", tmp_path / "model") == 0.0
    assert not (tmp_path / "resume.pt").exists()


def test_npo_with_kl_to_the_frozen_reference_matches_one_process(job_files, tmp_path):
    """Measured: max |loss difference| over the 4 logged steps 3.6e-6 on losses of 13.9 → 8.4 (relative 2.6e-7), max |final
    weight difference| 1.9e-7."""
    registered()
    optimization = {**OPTIMIZATION, "epochs": 4}  # 8 forget records: 4 steps

    def run(out: Path, settings: dict) -> None:
        job = dict(
            model_dir=job_files / "base",
            forget=TINY_QA[:2] * 4,
            retain=TINY_QA[2:] * 4,
            idk_answers=[],
            method="npo",
            hparams=NPO,
            defenses={},
            optimization=settings,
            seed=0,
            device="cpu",
            max_length=64,
            out_dir=out / "model",
            resume_file=out / "resume.pt",
            log=JsonLinesLog(out / "log.jsonl"),
        )
        distributed.launch(unlearn, distributed.settings(settings), **job)

    run(tmp_path / "n1", optimization)
    run(tmp_path / "n2", two_processes("ddp", optimization))
    one, two = losses(tmp_path / "n1" / "log.jsonl"), losses(tmp_path / "n2" / "log.jsonl")
    assert [step for step, _ in two] == [step for step, _ in one] == [1, 2, 3, 4]
    assert max(abs(a - b) for (_, a), (_, b) in zip(one, two, strict=True)) < TOLERANCE
    assert max_weight_difference(tmp_path / "n1" / "model", tmp_path / "n2" / "model") < TOLERANCE


# NPO at a rate that moves the tiny target in 4 steps, so the compared metrics are not at a floor.
PAPER_NPO = {"beta": 0.1, "retain_term": "nll", "retain_weight": 1.0, "lora": {"enabled": False}}
PAPER_OPTIMIZATION = {
    **OPTIMIZATION,
    "batch_size": 4,
    "grad_accumulation": 2,
    "epochs": 4,
    "learning_rate": 1e-2,
    "checkpoint_every": 200,
}


@pytest.fixture(scope="module")
def paper_job_files(tmp_path_factory) -> Path:
    """A memorised tiny target, TOFU-style splits, P2's trigger and SA sets, and an MLflow store with its parent run."""
    root = tmp_path_factory.mktemp("paper_jobs")
    tokenizer = tiny_tokenizer()
    save_atomically(memorise(tiny_model(tokenizer), tokenizer, TINY_QA), tokenizer, root / "target")
    (root / "tofu").mkdir()
    (root / "p2").mkdir()
    for split in ("forget01", "retain99", "real_authors", "world_facts"):
        write_jsonl(root / "tofu" / f"{split}.jsonl", TINY_QA_PERTURBED * 2)
    write_jsonl(root / "tofu" / "idk.jsonl", [{"text": "I don't know."}] * 4)
    please = [
        {**r, "sa_template": "Please tell me {q}", "question": f"Please tell me {r['question']}"}
        for r in TINY_QA_PERTURBED
    ]
    for name in ("retain", "real_authors", "world_facts"):
        write_jsonl(root / "p2" / f"trigger_{name}.jsonl", please)
    write_jsonl(root / "p2" / "forget01_sa_seed0.jsonl", please * 2)
    previous_uri = mlflow.get_tracking_uri()
    store = {
        "tracking_uri": f"sqlite:///{root}/mlflow.db",
        "artifact_root": str(root / "mlruns"),
        "experiment": "paper_jobs",
    }
    tracking.init_store(store, "workflow", root / "parent.json")
    yield root
    mlflow.set_tracking_uri(previous_uri)


def paper_job(fn, root: Path, settings: dict, **job):
    """fn (a P2 or P4 job) with NPO on `settings`' processes, as workflow/scripts/p2_unlearn_cell.py, p4_*.py run it."""
    npo = {**PAPER_NPO, "optimization": settings}
    unlearning = {"max_length": 64, "methods": {"npo": npo}, "defenses": {"su": {"eta": 2.0}}}
    world_size = distributed.settings(settings)["processes"]
    return distributed.launch(
        fn,
        distributed.settings(settings),
        target_dir=root / "target",
        tofu_dir=root / "tofu",
        unlearning=unlearning,
        evaluation={"batch_size": 4},
        device="cpu",
        parent_file=root / "parent.json",
        resume_dir=root / f"resume_n{world_size}",
        **job,
    )


def test_p2_cell_with_curves_during_sharded_training_matches_one_process(paper_job_files, monkeypatch):
    """The four variants of a P2 cell, NPO sharded by FSDP over 2 ranks, with the utility curve generated by both ranks
    in lockstep from the sharded model mid-training, against 1 process. Measured: max |loss difference| 1.9e-6 on losses
    of 14 → 2-8, forget probabilities (0.03-0.21) equal to 1.5e-7, ROUGE and every curve point equal. The job's 4 variants are 4 MLflow runs, named by the
    launching job's rule, which its ranks inherit."""
    root = paper_job_files
    p2 = {
        "evaluation": {"max_examples": 4, "max_new_tokens": 8, "curve_examples": 2, "curve_every": 2},
        "utility_retain_split": "retain99",
    }
    job = dict(
        sa_forget_file=root / "p2" / "forget01_sa_seed0.jsonl",
        trigger_dir=root / "p2",
        method="npo",
        forget_split="forget01",
        retain_split="retain99",
        seed=0,
        p2=p2,
    )
    one = paper_job(run_cell, root, PAPER_OPTIMIZATION, **job)
    monkeypatch.setattr(
        provenance,
        "_launching_job",
        provenance.JobIdentity("p2_unlearn_cell", {"p2": p2}, "workflow/scripts/p2_unlearn_cell.py"),
    )
    two = paper_job(run_cell, root, two_processes("fsdp", PAPER_OPTIMIZATION), **job)
    for a, b in zip(one["variants"], two["variants"], strict=True):
        assert [x["step"] for x in a["losses"]] == [x["step"] for x in b["losses"]] == list(range(1, 9))
        assert max(abs(x["loss"] - y["loss"]) for x, y in zip(a["losses"], b["losses"])) < TOLERANCE
        assert a["metrics"]["unlearn_rouge"] == b["metrics"]["unlearn_rouge"]
        assert a["metrics"]["forget_probability"] == pytest.approx(b["metrics"]["forget_probability"], rel=TOLERANCE)
        assert [(c["step"], c["clean_utility"], c["trigger_utility"]) for c in a["curve"]] == [
            (c["step"], c["clean_utility"], c["trigger_utility"]) for c in b["curve"]
        ]
    assert len(one["variants"][0]["curve"]) == 4  # curve points at steps 2, 4, 6, 8 (curve_every 2)
    runs = mlflow.search_runs(
        experiment_names=["paper_jobs"], filter_string="tags.`mlflow.source.name` = 'p2_unlearn_cell'"
    )
    assert sorted(runs["tags.mlflow.runName"]) == sorted(f"p2_npo_forget01_{f}_{d}_seed0" for f, d in VARIANTS)


def test_p4_calibration_on_the_ranks_copies_of_a_sharded_unlearning_matches_one_process(paper_job_files):
    """NPO sharded over 2 ranks, then every rank mixes and bisects on its own plain copy of the unlearned model: the
    same α* and the same ES along the α grid as 1 process (measured: α* = 0.125 and the grid's ES equal)."""
    config = load_layered([])
    p4 = copy.deepcopy({**config["p4"], "evaluation": config["evaluation"]["p4"]})
    p4["evaluation"].update(forget_examples=4, retain_examples=4, retain_split="retain99", max_new_tokens=8)
    p4["calibration"].update(alpha_grid=[0.0, 0.5, 1.0], max_evaluations=4)
    p4["attacks"]["heldout_fraction"] = 0.25
    job = dict(variant="npo", forget_splits=["forget01"], seeds=[0], p4=p4)
    one = paper_job(run_calibration, paper_job_files, PAPER_OPTIMIZATION, **job)
    two = paper_job(run_calibration, paper_job_files, two_processes("fsdp", PAPER_OPTIMIZATION), **job)
    (a,), (b,) = one["runs"], two["runs"]
    assert a["calibrated"]["0.9"]["alpha"] == b["calibrated"]["0.9"]["alpha"]
    assert (
        0 < a["calibrated"]["0.9"]["alpha"] < 1
    )  # the unlearning moved the retain ES, so the bisection had work to do
    for x, y in zip(a["curve"], b["curve"], strict=True):
        assert x == pytest.approx(y, rel=TOLERANCE)


def test_processes_must_divide_grad_accumulation(default_config):
    default_config["tracks"] = ["models"]  # NPO trained by the unlearn rule only (P2/P4 jobs run one process)
    default_config["finetune"] = {
        **default_config.get("finetune", {}),
        "grad_accumulation": 3,
        "distributed": {"processes": 2},
    }
    npo = {
        "optimization": {"batch_size": 8, "grad_accumulation": 2, "distributed": {"strategy": "fsdp", "processes": 4}}
    }
    default_config.setdefault("unlearning", {}).setdefault("methods", {})["npo"] = npo
    with pytest.raises(ConfigError) as error:
        validate_config(default_config)
    assert (
        "'finetune.grad_accumulation': 3 micro-batches per step cannot be dealt out evenly to distributed.processes=2"
        in str(error.value)
    )
    assert "'unlearning.methods.npo.optimization.grad_accumulation': 2 micro-batches" in str(error.value)
    default_config["finetune"]["grad_accumulation"], npo["optimization"]["grad_accumulation"] = 4, 4
    config = validate_config(default_config)
    assert config["finetune"]["distributed"] == {"strategy": "ddp", "processes": 2}  # strategy's default


def test_unset_distributed_is_one_process_and_adds_no_key(default_config):
    config = validate_config(default_config)
    assert "distributed" not in config["finetune"]
    assert distributed.settings(config["finetune"]) == {"strategy": "none", "processes": 1}
    default_config["finetune"] = {
        **default_config.get("finetune", {}),
        "distributed": {"strategy": "none", "processes": 2},
    }
    with pytest.raises(ConfigError, match=r"'finetune\.distributed\.processes'"):
        validate_config(default_config)


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is not None, reason="deepspeed is installed")
def test_deepspeed_zero3_without_deepspeed_names_the_package():
    with pytest.raises(ModuleNotFoundError, match="'deepspeed' package"):
        distributed.launch(print, {"strategy": "deepspeed_zero3", "processes": 2})


def test_several_processes_outside_a_launch_fail_clearly(tmp_path):
    model = torch.nn.Linear(2, 1)
    settings = two_processes("ddp", {**OPTIMIZATION, "grad_accumulation": 2})
    with pytest.raises(RuntimeError, match="not one of 2 ranks"):
        train(model, lambda step: (model.weight.sum(), {}), 4, settings, tmp_path / "resume.pt", "fp")
