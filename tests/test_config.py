import copy
import subprocess

import pytest

from robust_unlearning.config import ConfigError, load_config, load_schema, validate_config

from .conftest import ROOT


def test_default_config_is_valid_and_defaults_are_filled(default_config):
    config = validate_config(default_config)
    assert config["pretrain"]["grad_clip"] == 1.0
    assert config["resources"]["light"]["threads"] >= 1
    assert default_config.get("resources") != config["resources"]  # the input is not mutated


def test_every_paper_and_test_config_is_valid():
    for path in [*ROOT.glob("config/**/*.yaml"), *ROOT.glob("tests/configs/*.yaml")]:
        if "schema" not in path.parts:
            load_config(path)


def _invalid(config: dict, *needles: str) -> None:
    with pytest.raises(ConfigError) as error:
        validate_config(config)
    for needle in needles:
        assert needle in str(error.value)


def test_unknown_key_is_named(default_config):
    default_config["pretrain"]["learning_rte"] = 1e-3
    _invalid(default_config, "'pretrain'", "learning_rte")


def test_unknown_top_level_key_is_named(default_config):
    default_config["unlearnign"] = {}
    _invalid(default_config, "unlearnign")


def test_wrong_type_is_named(default_config):
    default_config["finetune"]["epochs"] = "ten"
    _invalid(default_config, "'finetune.epochs'", "'ten' is not of type 'integer'")


def test_negative_size_is_named(default_config):
    default_config["world"]["n_authors"] = -5
    _invalid(default_config, "'world.n_authors'", "less than the minimum of 1")


def test_unknown_forget_split_is_named(default_config):
    default_config["tofu"]["forget_splits"] = ["forget50"]
    _invalid(default_config, "'tofu.forget_splits.0'", "forget50")


def test_forget_split_larger_than_world_is_named(default_config):
    default_config["world"]["n_authors"] = 50
    default_config["tofu"]["forget_splits"] = ["forget01"]
    _invalid(default_config, "'tofu.forget_splits'", "forget01", "world.n_authors=50")


def test_indivisible_heads_are_named(default_config):
    default_config["model"]["architecture"]["num_attention_heads"] = 3
    _invalid(default_config, "'model.architecture.hidden_size'")


def test_every_error_is_reported_at_once(default_config):
    config = copy.deepcopy(default_config)
    config["seed"] = -1
    config["evaluation"]["batch_size"] = 0
    _invalid(config, "'seed'", "'evaluation.batch_size'")


def test_snakemake_rejects_bad_config_before_any_job(tmp_path, venv_bin, default_config):
    bad = tmp_path / "bad.yaml"
    bad.write_text("pretrain:\n  epochs: -3\n")
    result = subprocess.run(
        [str(venv_bin / "snakemake"), "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path), "--configfile", str(bad), "-n", "--cores", "1"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode != 0
    assert "'pretrain.epochs'" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_unknown_unlearning_method_is_named_with_the_choices(default_config):
    default_config["p2"] = {**default_config.get("p2", {}), "methods": ["gd", "npoo"]}
    _invalid(default_config, "'p2.methods.1'", "'npoo' is not one of", "'npo'", "'simnpo'")


def test_schema_names_exactly_the_registered_methods_and_defenses():
    """Validation checks method names against the schema alone (no torch import at every `snakemake` start),
    so the schema's names must be the registries'."""
    from robust_unlearning.objectives import registered
    from robust_unlearning.objectives.base import DEFENSES, METHODS

    registered()
    properties = load_schema()["properties"]
    unlearning = properties["unlearning"]["properties"]
    shared = set(unlearning["methods"]["properties"])
    # RMU and adaptive RMU take their settings from the p1 / p4 sections, every other method from unlearning.methods.
    assert shared | set(properties["p1"]["properties"]["methods"]["items"]["enum"]) == set(METHODS.names())
    assert set(properties["p2"]["properties"]["methods"]["items"]["enum"]) == shared
    assert set(properties["p4"]["properties"]["methods"]["items"]["enum"]) <= set(METHODS.names())
    assert set(unlearning["defenses"]["properties"]) <= set(DEFENSES.names())


def test_p2_forget_split_without_oracle_is_named(default_config):
    default_config["p2"] = {**default_config.get("p2", {}), "forget_splits": ["forget01"]}
    _invalid(default_config, "'p2.forget_splits.0'", "forget01", "tofu.forget_splits")


def test_sa_template_without_trigger_word_is_named(default_config):
    attack = {"trigger": "please", "templates": ["Tell me {q}"]}
    default_config["p2"] = {**default_config.get("p2", {}), "stealthy_attack": attack}
    _invalid(default_config, "'p2.stealthy_attack.templates.0'", "'please'")


def test_bad_p1_keys_are_named(default_config):
    default_config["p1"]["rna"]["nu"] = -0.1
    default_config["p1"]["perturbed_mcq"]["position"] = "middle"
    default_config["p1"]["rmu"]["steering_coefficent"] = 6.5
    _invalid(default_config, "'p1.rna.nu'", "'p1.perturbed_mcq.position'", "'middle' is not one of", "steering_coefficent")


def test_bad_p3_keys_are_named(default_config):
    default_config["p3"]["methods"] = ["sft", "dpo"]
    default_config["p3"]["harmful_ratios"] = [0.0, 1.5]
    default_config["p3"]["alignment"]["rho"] = 2.0  # ρ lives at p3.rho, not among the optimizer settings
    _invalid(default_config, "'p3.methods.1'", "'dpo' is not one of", "'p3.harmful_ratios.1'", "'p3.alignment'", "'rho'")


def test_bad_p4_keys_are_named(default_config):
    p4 = default_config.setdefault("p4", {})
    p4["methods"] = ["ga", "sgd"]
    p4["tricks"] = {"methods": ["npo"]}  # the tricks change the ascent term: GA, GD and KL only
    p4["calibration"] = {"tau": 1.5}
    p4["attacks"] = {"input_noise": {"mode": "word"}, "jailbreak": {"templates": ["Tell me everything."]}}
    _invalid(default_config, "'p4.methods.1'", "'sgd' is not one of", "'p4.tricks.methods.0'", "'p4.calibration.tau'",
             "'p4.attacks.input_noise.mode'", "'p4.attacks.jailbreak.templates.0'")
