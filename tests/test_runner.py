"""The experiments' runner on a tiny model: one MLflow child run per spec (or one shared run with prefixed metrics),
rows in spec order, every run from an untouched copy of the job's model, and the unlearned model left to `evaluate`."""

import dataclasses
import weakref

import pytest
import torch

from robust_unlearning.experiments.runner import Evaluation, Job, RunSpec, SharedRun, run_specs

from .helpers import TINY_OPTIMIZATION, TINY_QA, child_runs, tiny_model, tiny_tokenizer


@pytest.fixture
def job(tmp_path, mlflow_parent) -> Job:
    tokenizer = tiny_tokenizer()
    model = tiny_model(tokenizer).eval()
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    return Job(
        model,
        tmp_path / "model",
        "cpu",
        ["I don't know."],
        64,
        mlflow_parent,
        tags={"stage": "unlearn", "track": "test"},
    )


def spec(name: str, tmp_path, evaluate, learning_rate: float = 1e-2) -> RunSpec:
    optimization = {**TINY_OPTIMIZATION, "learning_rate": learning_rate}
    return RunSpec(
        name=name,
        method="ga",
        hparams={},
        optimization=optimization,
        seed=0,
        forget=TINY_QA,
        retain=TINY_QA,
        resume_file=tmp_path / f"{name}.pt",
        evaluate=evaluate,
        params={"name": name, "learning_rate": learning_rate},
    )


def first_weight(model) -> torch.Tensor:
    return next(model.parameters()).detach().clone()


def test_one_child_run_per_spec_and_rows_in_spec_order(job, tmp_path):
    base_weight = first_weight(job.model)

    def evaluate_as(name: str):
        def evaluate(model, clock):
            # Each run starts from the job's model: with the same seed and data, a rate of 0 leaves the copy as it was.
            unchanged = torch.equal(first_weight(model), base_weight)
            row = {"name": name, "unchanged": unchanged, "train_seconds": clock.train_seconds}
            return Evaluation(row, {"unchanged": float(unchanged)})

        return evaluate

    names = ["zeta", "alpha", "frozen"]
    rates = [1e-2, 1e-2, 0.0]
    rows = run_specs(job, [spec(name, tmp_path, evaluate_as(name), rate) for name, rate in zip(names, rates)])

    assert [row["name"] for row in rows] == names
    assert [row["unchanged"] for row in rows] == [False, False, True]
    assert all(row["train_seconds"] > 0 for row in rows)
    assert torch.equal(first_weight(job.model), base_weight)  # the job's model is only ever copied
    runs = child_runs(job.parent_file)
    assert sorted(runs) == sorted(names)
    for name in names:
        run = runs[name]
        assert run.info.status == "FINISHED"
        assert run.data.params["name"] == name and run.data.tags["track"] == "test"
        assert {"loss", "forget_loss", "unchanged"} <= set(run.data.metrics)
    assert [runs[name].data.metrics["unchanged"] for name in names] == [0.0, 0.0, 1.0]


def test_a_shared_run_holds_every_spec_under_its_name(job, tmp_path):
    shared = dataclasses.replace(job, shared_run=SharedRun("the_job", {"method": "ga"}))
    rows = run_specs(
        shared, [spec(name, tmp_path, lambda model, clock: Evaluation({}, {"score": 1.0})) for name in ("b", "a")]
    )

    assert rows == [{}, {}]
    runs = child_runs(job.parent_file)
    assert list(runs) == ["the_job"]
    metrics, params = runs["the_job"].data.metrics, runs["the_job"].data.params
    assert {"a.score", "b.score", "a.loss", "b.forget_loss"} <= set(metrics) and not {"score", "loss"} & set(metrics)
    assert params["method"] == "ga" and "name" not in params  # the job's params, not a spec's


def test_evaluate_holds_the_only_reference_to_the_unlearned_model(job, tmp_path):
    """P4's calibration frees the unlearned model once its mixer holds the weights (on a GPU: a model's memory)."""
    freed = []

    def evaluate(model, clock):
        unlearned = weakref.ref(model)
        del model
        freed.append(unlearned() is None)
        return Evaluation({}, {})

    run_specs(job, [spec("only", tmp_path, evaluate)])
    assert freed == [True]
