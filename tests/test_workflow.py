"""The real workflow: lint, dry runs of every config, and one end-to-end run of the micro config under DVC."""

import json
import shutil
import sqlite3
import subprocess
import tempfile
import time

import pandas as pd
import pytest
import yaml

from robust_unlearning.config import config_stacks, layered, load_layered

from .conftest import ROOT
from .helpers import snakemake_command


def _run(args, cwd, venv_bin, timeout=900):
    # A private HOME keeps Snakemake's and DVC's caches out of the repository and the user's home.
    home = tempfile.mkdtemp(prefix="home-")
    env = {"PATH": f"{venv_bin}:/usr/bin:/bin", "HOME": home, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    result = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    shutil.rmtree(home, ignore_errors=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout + result.stderr


def test_lint_passes(venv_bin):
    out = _run([str(venv_bin / "snakemake"), "--lint"], ROOT, venv_bin)
    assert "Congratulations" in out


# One characteristic table per track: a dry run of a config must schedule its tracks' tables.
TRACK_TABLES = {
    "models": "results/tables/models.csv",
    "p1_rna": "results/p1/table_main.csv",
    "p2_sasu": "results/p2/table2_sa.csv",
    "p3_vaccine": "results/p3/table1_hs_fa.csv",
    "p4_evaluation": "results/p4/table_calibrated.csv",
}


def _config_stacks():
    """Every shipped config as Snakemake would be given it: `name.variant.yaml` after the files it extends."""
    return [[], *(stack for kind in ("paper", "small", "precise") for stack in config_stacks(ROOT / "config" / kind))]


@pytest.mark.parametrize(
    "configfiles", _config_stacks(), ids=lambda stack: "+".join(p.stem for p in stack) or "default"
)
def test_dry_run(configfiles, venv_bin, tmp_path):
    args = snakemake_command(venv_bin, tmp_path, "-n", "--cores", 2)
    if configfiles:
        args += ["--configfile", *map(str, configfiles)]
    out = _run(args, ROOT, venv_bin)
    config = load_layered(configfiles)
    for track in config["tracks"]:
        assert TRACK_TABLES[track] in out, track
    assert ("results/paper_vs_ours.csv" in out) == bool(config.get("reference", {}).get("values"))


@pytest.mark.parametrize("paper", ["p1_rna", "p2_sasu", "p3_vaccine", "p4_evaluation"])
def test_gpu_overlay_dry_run(paper, venv_bin, tmp_path):
    """`make gpu-check`'s stack (config/smoke/gpu.yaml after the smoke overlay): the random checkpoint it names is
    written by the check before Snakemake starts, and importing a base model declares no input, so the DAG builds."""
    configs = [
        ROOT / "config/paper" / f"{paper}.yaml",
        ROOT / "config/smoke/real_model.yaml",
        ROOT / "config/smoke/gpu.yaml",
    ]
    args = snakemake_command(venv_bin, tmp_path, "-n", "--cores", 2, "--configfile", *configs)
    out = _run(args, ROOT, venv_bin)
    assert TRACK_TABLES[paper] in out
    assert "gpu=1" in out  # the training and evaluation jobs ask for a GPU


def test_distributed_jobs_ask_for_a_gpu_per_rank(venv_bin, tmp_path):
    """P4 on Llama-2: the fine-tunes and the P4 jobs of every full-parameter method ask for their 2 GPUs (and a thread
    each at least), RMU's one-process jobs for one; Snakemake shows a job's resources capped at `--resources`."""
    configs = [ROOT / "config" / "paper" / name for name in ("p4_evaluation.yaml", "p4_evaluation.llama2.yaml")]
    args = snakemake_command(venv_bin, tmp_path, "-n", "--cores", 16, "--resources", "gpu=8", "--configfile", *configs)
    jobs = _run(args, ROOT, venv_bin).split("\nrule ")[1:]
    gpus = {}
    for job in jobs:
        rule = job.split(":", 1)[0]
        wildcards = next(
            (line.split(":", 1)[1].strip() for line in job.splitlines() if line.strip().startswith("wildcards:")), ""
        )
        resources = next(line for line in job.splitlines() if line.strip().startswith("resources:"))
        gpus[(rule, wildcards)] = int(resources.split("gpu=")[1].split(",")[0]) if "gpu=" in resources else 0
    assert gpus[("finetune", "finetuned=target")] == 2
    assert gpus[("p4_calibrate", "p4_variant=npo")] == gpus[("p4_population", "p4_method=npo, p4_seed=0")] == 2
    assert gpus[("p4_calibrate", "p4_variant=rmu")] == 1


def _copy_project(names: list[str], source, destination) -> None:
    for name in names:
        if (source / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / name, destination / name)


@pytest.mark.e2e
def test_micro_config_end_to_end_under_dvc(tmp_path, venv_bin, micro_config_path):
    """`dvc repro` runs the whole DAG; a second `dvc repro` and `snakemake -n` find nothing to do, nor does
    `snakemake -n` in a copy of the project that pulled the results from a DVC remote."""
    repo = tmp_path / "repo"
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    names = tracked.stdout.split()
    _copy_project(names, ROOT, repo)
    config = layered(
        yaml.safe_load((ROOT / "config/config.yaml").read_text()), yaml.safe_load(micro_config_path.read_text())
    )
    (repo / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    _run(["git", "init", "-q"], repo, venv_bin)
    dvc, snakemake = str(venv_bin / "dvc"), str(venv_bin / "snakemake")

    _run([dvc, "repro"], repo, venv_bin)
    results = repo / "results"
    table = (results / "tables/models.md").read_text()
    assert "target" in table and "retain" in table
    metrics = json.loads((results / "metrics/models.json").read_text())
    assert set(metrics) >= {"base", "target"}
    for name in ["models.csv", "models.tex"]:
        assert (results / "tables" / name).stat().st_size > 0
    assert (results / "figures/models.png").stat().st_size > 0
    paper_vs_ours = (results / "paper_vs_ours.md").read_text()
    assert (
        "| chance " in paper_vs_ours and "our setup" in paper_vs_ours and "no training" in paper_vs_ours
    )  # the base row's job
    assert not list(results.rglob("*.tmp*"))  # every output was renamed into place

    # Provenance in a results file, and the same record on the job's MLflow run.
    evaluated = json.loads((results / "eval/target/metrics.json").read_text())["provenance"]
    assert set(evaluated) == {"stages", "device", "devices", "versions", "git_commit", "git_dirty", "config_hash"}
    assert {"setup", "device"} <= set(pd.read_csv(results / "p1/runs.csv").columns)
    with sqlite3.connect(results / "mlflow.db") as db:
        run_ids = dict(db.execute("select name, run_uuid from runs"))
        status = dict(db.execute("select name, status from runs"))
        tags = {
            name: dict(db.execute("select key, value from tags where run_uuid = ?", (run_id,)))
            for name, run_id in run_ids.items()
        }
        base_params = dict(db.execute("select key, value from params where run_uuid = ?", (run_ids["base_model"],)))
        kind = db.execute("select value from experiment_tags where key = 'mlflow.experimentKind'").fetchall()
    assert {"workflow", "base_model", "finetune_target", "evaluate_target"} <= run_ids.keys()
    assert status["workflow"] == "FINISHED" and kind == [("custom_model_development",)]
    assert (
        tags["base_model"]["mlflow.source.name"] == "base_model"
        and tags["evaluate_target"]["mlflow.source.name"] == "evaluate_model"
    )
    assert tags["evaluate_target"]["provenance.config_hash"] == evaluated["config_hash"]
    assert base_params["provenance.pretrain.world_size"] == "1" and base_params[
        "provenance.pretrain.effective_batch"
    ] == str(config["pretrain"]["batch_size"])
    assert list(results.glob("mlruns/*/artifacts/tables/models.md"))  # the report, attached to the parent run

    assert "up to date" in _run([dvc, "repro"], repo, venv_bin).lower()
    started = time.perf_counter()
    out = _run([snakemake, "-n"], repo, venv_bin)
    assert "Nothing to be done" in out, out
    print(f"no-op dry run: {time.perf_counter() - started:.1f} s")

    # Elsewhere: the project as git gives it, results from the remote; checkout timestamps need --touch.
    started = time.perf_counter()
    _run([dvc, "remote", "add", "-d", "local", str(tmp_path / "remote")], repo, venv_bin)
    _run([dvc, "push"], repo, venv_bin)
    clone = tmp_path / "clone"
    _copy_project([*names, "dvc.lock"], repo, clone)
    _run(["git", "init", "-q"], clone, venv_bin)
    _run([dvc, "pull"], clone, venv_bin)
    _run([snakemake, "--touch", "--cores", "1"], clone, venv_bin)
    out = _run([snakemake, "-n"], clone, venv_bin)
    assert "Nothing to be done" in out, out
    print(f"push, pull, touch and dry run of a clone: {time.perf_counter() - started:.1f} s")
