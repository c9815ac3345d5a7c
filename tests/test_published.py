"""tofu.published: published (or local) fine-tuned models are imported in place of the fine-tune rules."""

import subprocess

import pytest
import torch
import yaml
from safetensors.torch import load_file

from robust_unlearning.config import ConfigError, validate_config

from .conftest import ROOT
from .helpers import snakemake_command, tiny_model, tiny_tokenizer


def _snakemake(venv_bin, workdir, config: dict, *targets: str, dry_run: bool = False):
    configfile = workdir / "published.yaml"
    configfile.write_text(yaml.safe_dump(config))
    args = snakemake_command(
        venv_bin, workdir, *targets, "--cores", 2, *(["-n"] if dry_run else []), "--configfile", configfile
    )
    return subprocess.run(args, capture_output=True, text=True, cwd=ROOT, timeout=600)


@pytest.fixture
def checkpoints(tmp_path):
    """Three saved tiny Llamas: the pre-trained source, a published target and its retain90 oracle (other seeds)."""
    tokenizer = tiny_tokenizer()
    paths = {}
    for seed, name in enumerate(("source", "target", "retain90")):
        paths[name] = tmp_path / "hub" / name
        tiny_model(tokenizer, seed).save_pretrained(paths[name])
        tokenizer.save_pretrained(paths[name])
    return paths


def test_a_published_target_needs_every_forget_splits_oracle(default_config):
    default_config["tofu"] = {
        "forget_splits": ["forget05", "forget10"],
        "published": {"target": "a/b", "retain90": "a/c"},
    }
    with pytest.raises(ConfigError, match="config key 'tofu.published.retain95' is missing"):
        validate_config(default_config)


def test_published_models_replace_their_fine_tunes_in_the_dag(checkpoints, tmp_path, venv_bin):
    published = {"target": str(checkpoints["target"]), "retain90": str(checkpoints["retain90"])}
    config = {"tracks": ["models"], "tofu": {"forget_splits": ["forget05", "forget10"], "published": published}}
    result = _snakemake(venv_bin, tmp_path, config, dry_run=True)  # target published without forget05's oracle
    assert result.returncode != 0 and "config key 'tofu.published.retain95' is missing" in result.stdout + result.stderr
    published["retain95"] = str(checkpoints["retain90"])
    result = _snakemake(venv_bin, tmp_path, config, dry_run=True)
    assert result.returncode == 0, result.stderr[-2000:]
    jobs = dict(
        line.split()
        for line in result.stdout.split("Job stats:")[1].split("-\n", 1)[1].split("total")[0].strip().splitlines()
    )
    assert jobs["import_finetuned"] == "3" and "finetune" not in jobs
    # Only the oracles published: the target is still fine-tuned here.
    del published["target"]
    result = _snakemake(venv_bin, tmp_path, config, dry_run=True)
    jobs = dict(
        line.split()
        for line in result.stdout.split("Job stats:")[1].split("-\n", 1)[1].split("total")[0].strip().splitlines()
    )
    assert (jobs["import_finetuned"], jobs["finetune"]) == ("2", "1")


def test_a_published_checkpoint_is_imported_with_the_base_models_tokenizer(checkpoints, tmp_path, venv_bin):
    config = {
        "tracks": ["models"],
        "model": {"source": str(checkpoints["source"])},
        "tofu": {
            "published": {
                "target": str(checkpoints["target"]),
                "retain90": "no-such-org/tofu_retain90",
                "retain95": str(checkpoints["retain90"]),
            }
        },
    }
    # One run for both: the target imports; retain90, offline a hub id not in the cache, fails naming its key.
    result = _snakemake(venv_bin, tmp_path, config, "results/models/target", "results/models/retain90", "--keep-going")
    assert result.returncode != 0
    log = (tmp_path / "results/logs/import_finetuned/retain90.log").read_text()
    assert "'no-such-org/tofu_retain90' is not available" in log and "config key 'tofu.published.retain90'" in log
    assert not (tmp_path / "results/models/retain90").exists()
    imported = load_file(tmp_path / "results/models/target/model.safetensors")
    published = load_file(checkpoints["target"] / "model.safetensors")
    assert imported.keys() == published.keys()
    assert all(torch.equal(imported[key], published[key]) for key in published)
    assert (tmp_path / "results/models/target/tokenizer.json").read_text() == (
        checkpoints["source"] / "tokenizer.json"
    ).read_text()
