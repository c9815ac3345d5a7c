import json
import multiprocessing
import subprocess
import sys
from types import SimpleNamespace

import mlflow
import pytest

from robust_unlearning import provenance, tracking

from .conftest import ROOT


def _job(args):
    parent_file, index = args
    with tracking.job_run(parent_file, f"job{index}", {"index": index, "nested": {"lr": 0.1 * index}}):
        for step in range(5):
            tracking.log_metrics({"loss": 1.0 / (step + 1 + index)}, step=step)
    return index


@pytest.fixture
def store(tmp_path, monkeypatch):
    """A fresh store as rule mlflow_store makes it, in a working directory of its own (relative paths, as the config's)."""
    monkeypatch.chdir(tmp_path)
    previous_uri = mlflow.get_tracking_uri()
    cfg = {"tracking_uri": "sqlite:///results/mlflow.db", "artifact_root": "results/mlruns", "experiment": "test"}
    parent_file = tmp_path / "parent.json"
    parent_id = tracking.init_store(cfg, "workflow", parent_file)
    yield {"cfg": cfg, "parent_file": parent_file, "parent_id": parent_id, "client": mlflow.MlflowClient()}
    mlflow.set_tracking_uri(previous_uri)


def test_parallel_jobs_all_land_in_one_store(store, tmp_path):
    parent_file, parent_id = store["parent_file"], store["parent_id"]
    assert json.loads(parent_file.read_text())["run_id"] == parent_id

    with multiprocessing.get_context("spawn").Pool(4) as pool:
        assert sorted(pool.map(_job, [(parent_file, i) for i in range(8)])) == list(range(8))

    mlflow.set_tracking_uri(f"sqlite:///{tmp_path}/results/mlflow.db")
    runs = mlflow.search_runs(experiment_names=["test"], filter_string=f"tags.mlflow.parentRunId = '{parent_id}'")
    assert sorted(runs["tags.mlflow.runName"]) == sorted(f"job{i}" for i in range(8))
    assert set(runs["params.nested.lr"]) == {str(0.1 * i) for i in range(8)}
    history = mlflow.MlflowClient().get_metric_history(runs.iloc[0]["run_id"], "loss")
    assert [m.step for m in history] == list(range(5))


def test_the_experiment_opens_on_its_training_runs(store, tmp_path):
    client = store["client"]
    assert client.get_experiment_by_name("test").tags[tracking.EXPERIMENT_KIND_TAG] == "custom_model_development"
    # An experiment made before the tag existed gets it from the next store initialisation.
    client.create_experiment("older")
    tracking.init_store({**store["cfg"], "experiment": "older"}, "workflow", tmp_path / "older.json")
    assert client.get_experiment_by_name("older").tags[tracking.EXPERIMENT_KIND_TAG] == "custom_model_development"


def test_the_parent_run_spans_the_workflow_and_ends_with_its_status(store, tmp_path):
    client, parent_file, parent_id = store["client"], store["parent_file"], store["parent_id"]
    assert client.get_run(parent_id).info.status == "RUNNING"
    results = tmp_path / "results"
    for name in ["paper_vs_ours.md", "tables/models.csv", "figures/models.png", "p1/verdicts.md", "p1/runs/base.json"]:
        (results / name).parent.mkdir(parents=True, exist_ok=True)
        (results / name).write_text("x")

    tracking.end_workflow_run(parent_file, "FINISHED", store["cfg"], results)
    assert client.get_run(parent_id).info.status == "FINISHED"
    attached = {
        a.path for folder in ["", "tables", "figures", "p1"] for a in client.list_artifacts(parent_id, folder or None)
    }
    assert attached >= {"paper_vs_ours.md", "tables/models.csv", "figures/models.png", "p1/verdicts.md"}
    assert "p1/runs" not in attached  # run files are results, not the report

    # The first job of a later `snakemake` reopens it; a failed workflow ends it FAILED.
    with tracking.job_run(parent_file, "job", {}):
        assert client.get_run(parent_id).info.status == "RUNNING"
    tracking.end_workflow_run(parent_file, "FAILED", store["cfg"], results)
    assert client.get_run(parent_id).info.status == "FAILED"


def test_a_store_pulled_from_elsewhere_gets_no_artifacts_outside_this_results_directory(store, tmp_path):
    parent = json.loads(store["parent_file"].read_text())
    (tmp_path / "results" / "summary.md").write_text("x")
    # The store's artifact location is not below the artifact root configured here.
    tracking.end_workflow_run(
        store["parent_file"],
        "FINISHED",
        {**store["cfg"], "artifact_root": str(tmp_path / "elsewhere")},
        tmp_path / "results",
    )
    assert store["client"].get_run(parent["run_id"]).info.status == "FINISHED"
    assert not store["client"].list_artifacts(parent["run_id"])


OPTIMIZATION = {
    "epochs": 1,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "grad_accumulation": 4,
    "precision": "bf16",
    "distributed": {"strategy": "ddp", "processes": 2},
}


def test_a_job_run_carries_its_provenance_as_params_and_tags(store):
    params = {"device": "cpu", "finetune": OPTIMIZATION, "evaluation": {"batch_size": 64}}
    with tracking.job_run(store["parent_file"], "finetune_target", params) as run:
        pass
    logged = store["client"].get_run(run.info.run_id).data
    assert {
        key: logged.params[f"provenance.finetune.{key}"]
        for key in ["strategy", "world_size", "per_device_batch", "grad_accumulation", "effective_batch", "precision"]
    } == {
        "strategy": "ddp",
        "world_size": "2",
        "per_device_batch": "8",
        "grad_accumulation": "4",
        "effective_batch": "32",
        "precision": "bf16",
    }
    assert not any(key.startswith("provenance.evaluation") for key in logged.params)
    assert logged.tags["provenance.config_hash"] == provenance.config_hash(params)
    assert logged.tags["provenance.devices.cpu"] == provenance.cpu_name()
    assert {f"provenance.versions.{name}" for name in ["python", *provenance.PACKAGES]} <= logged.tags.keys()
    assert {"provenance.git_commit", "provenance.git_dirty", "provenance.device"} <= logged.tags.keys()


def test_under_snakemake_the_source_is_the_rule_and_the_provenance_the_jobs(store, monkeypatch):
    main = sys.modules["__main__"]
    job = SimpleNamespace(
        rule="finetune", params={"cfg": {"device": "cpu", "finetune": OPTIMIZATION}, "resume": "results/resume/x.pt"}
    )
    monkeypatch.setattr(main, "snakemake", job, raising=False)
    monkeypatch.setattr(main, "__file__", str(ROOT / "workflow" / "scripts" / "finetune.py"), raising=False)
    with tracking.job_run(store["parent_file"], "finetune_target", {"finetune": OPTIMIZATION, "split": "full"}) as run:
        pass
    tags = store["client"].get_run(run.info.run_id).data.tags
    assert tags["mlflow.source.name"] == "finetune"
    assert tags["mlflow.source.type"] == "JOB"
    assert tags["snakemake.script"] == str(ROOT / "workflow" / "scripts" / "finetune.py")
    # The same record as the job's results file (provenance.with_provenance); its stages named by config path.
    assert tags["provenance.config_hash"] == provenance.with_provenance({}, job)["provenance"]["config_hash"]
    assert store["client"].get_run(run.info.run_id).data.params["provenance.finetune.world_size"] == "2"


def test_stage_setup_per_device_and_effective_batch():
    assert provenance.stage_setup(OPTIMIZATION) == {
        "strategy": "ddp",
        "world_size": 2,
        "per_device_batch": 8,
        "grad_accumulation": 4,
        "effective_batch": 32,
        "precision": "bf16",
    }
    # `distributed` unset: one process.
    assert provenance.stage_setup({"batch_size": 8, "learning_rate": 1e-3})["strategy"] == "none"


def test_the_setup_text_names_each_stage_only_when_they_differ():
    params = {
        "p3": {
            "alignment": {"batch_size": 4, "learning_rate": 1e-3},
            "user_finetune": {"batch_size": 4, "learning_rate": 1e-5},
        }
    }
    record = provenance.job_provenance(params)
    assert set(record["stages"]) == {"p3.alignment", "p3.user_finetune"}
    assert provenance.setup_text(record) == "none × 1, fp32, batch 4"
    params["p3"]["user_finetune"]["distributed"] = {"strategy": "fsdp", "processes": 2}
    params["p3"]["user_finetune"]["grad_accumulation"] = 2
    assert (
        provenance.setup_text(provenance.job_provenance(params))
        == "alignment: none × 1, fp32, batch 4; user_finetune: fsdp × 2, fp32, batch 4"
    )
    assert provenance.setup_text(provenance.job_provenance({"evaluation": {"batch_size": 64}})) == "no training"
    # P1's base evaluation depends on the p1 block but trains nothing.
    assert provenance.setup_text(provenance.job_provenance(params, trains=False)) == "no training"


def test_git_state_is_the_checkouts_or_unknown(monkeypatch, tmp_path):
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    commit, dirty = provenance.git_state()
    if head.returncode == 0:
        assert commit == head.stdout.strip() and isinstance(dirty, bool)
    # Outside a repository of its own (a copy of the project without .git): unknown, never an error.
    monkeypatch.setattr(provenance, "PROJECT_ROOT", tmp_path)
    provenance.git_state.cache_clear()
    try:
        assert provenance.git_state() == (provenance.UNKNOWN, None)
    finally:
        provenance.git_state.cache_clear()
