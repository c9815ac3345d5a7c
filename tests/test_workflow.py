"""The real workflow: lint, dry runs of every config, and one end-to-end run of the micro config under DVC."""

import json
import shutil
import sqlite3
import subprocess
import tempfile
import time

import pytest
import yaml

from .conftest import ROOT


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
    """Every shipped config as Snakemake would be given it: `name.variant.yaml` is layered after `name.yaml`."""
    stacks = [[]]
    for path in sorted([*ROOT.glob("config/paper/*.yaml"), *ROOT.glob("config/small/*.yaml")]):
        base = path.with_name(path.name.split(".")[0] + ".yaml")
        stacks.append([base, path] if base != path else [path])
    return stacks


@pytest.mark.parametrize("configfiles", _config_stacks(), ids=lambda stack: "+".join(p.stem for p in stack) or "default")
def test_dry_run(configfiles, venv_bin, tmp_path):
    args = [str(venv_bin / "snakemake"), "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path), "-n", "--cores", "2"]
    if configfiles:
        args += ["--configfile", *map(str, configfiles)]
    out = _run(args, ROOT, venv_bin)
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    for path in configfiles:
        config = _deep_merge(config, yaml.safe_load(path.read_text()))
    for track in config["tracks"]:
        assert TRACK_TABLES[track] in out, track
    assert ("results/paper_vs_ours.csv" in out) == bool(config.get("reference", {}).get("values"))


def _deep_merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _deep_merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged


@pytest.mark.e2e
def test_micro_config_end_to_end_under_dvc(tmp_path, venv_bin, micro_config_path):
    """`dvc repro` runs the whole DAG; a second `dvc repro` and `snakemake -n` find nothing to do."""
    repo = tmp_path / "repo"
    tracked = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in tracked.stdout.split():
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    config = _deep_merge(yaml.safe_load((ROOT / "config/config.yaml").read_text()), yaml.safe_load(micro_config_path.read_text()))
    (repo / "config/config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    _run(["git", "init", "-q"], repo, venv_bin)

    _run([str(venv_bin / "dvc"), "repro"], repo, venv_bin)
    results = repo / "results"
    table = (results / "tables/models.md").read_text()
    assert "target" in table and "retain" in table
    metrics = json.loads((results / "metrics/models.json").read_text())
    assert set(metrics) >= {"base", "target"}
    for name in ["models.csv", "models.tex"]:
        assert (results / "tables" / name).stat().st_size > 0
    assert (results / "figures/models.png").stat().st_size > 0
    assert "| chance " in (results / "paper_vs_ours.md").read_text()
    assert not list(results.rglob("*.tmp*"))  # every output was renamed into place

    with sqlite3.connect(results / "mlflow.db") as db:
        names = {row[0] for row in db.execute("select name from runs")}
    assert {"workflow", "base_model", "finetune_target", "evaluate_target"} <= names

    assert "up to date" in _run([str(venv_bin / "dvc"), "repro"], repo, venv_bin).lower()
    started = time.perf_counter()
    out = _run([str(venv_bin / "snakemake"), "-n"], repo, venv_bin)
    assert "Nothing to be done" in out, out
    print(f"no-op dry run: {time.perf_counter() - started:.1f} s")
