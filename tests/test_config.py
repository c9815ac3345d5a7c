import copy
import subprocess

import pytest

from robust_unlearning.config import (
    ConfigError,
    load_config,
    load_layered,
    load_schema,
    method_settings,
    parse_command_line_values,
    validate_config,
)

from .conftest import ROOT
from .helpers import snakemake_command


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
        snakemake_command(venv_bin, tmp_path, "--configfile", bad, "-n", "--cores", 1),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode != 0
    assert "'pretrain.epochs'" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_command_line_strings_are_read_as_yaml_scalars():
    overrides = {
        "world": {"seed": "1", "n_authors": "-5"},
        "device": "cuda",
        "p3": {"rho_sweep": ["2", "0.5"]},
        "finetune": {"learning_rate": "1.0e-4", "lora": {"enabled": "true"}},
        "model": {"source": "1b"},
        "mlflow": {"experiment": "{unclosed"},
        "unlearning": {"max_length": "null"},
    }
    assert parse_command_line_values(overrides) == {
        "world": {"seed": 1, "n_authors": -5},
        "device": "cuda",
        "p3": {"rho_sweep": [2, 0.5]},
        "finetune": {"learning_rate": 1.0e-4, "lora": {"enabled": True}},
        "model": {"source": "1b"},
        "mlflow": {"experiment": "{unclosed"},
        "unlearning": {"max_length": None},
    }


@pytest.mark.parametrize(
    ("override", "expected_rc", "needle"),
    [
        ('world={"seed": 1}', 0, "This was a dry-run"),
        # The README's example, which before the fix printed "'-5' is not of type 'integer'".
        ('world={"n_authors": -5}', 1, "config key 'world.n_authors': -5 is less than the minimum of 1"),
    ],
)
def test_nested_command_line_overrides_as_the_readme_shows(override, expected_rc, needle, tmp_path, venv_bin):
    result = subprocess.run(
        snakemake_command(venv_bin, tmp_path, "-n", "--cores", 1, "--config", override),
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert (result.returncode != 0) == bool(expected_rc), result.stderr[-2000:]
    assert needle in result.stdout + result.stderr


def test_several_processes_only_where_the_job_starts_ranks(default_config):
    two = {"strategy": "ddp", "processes": 2}
    default_config["finetune"]["grad_accumulation"] = 2
    default_config["finetune"]["distributed"] = two
    validate_config(default_config)  # the finetune rule starts its ranks
    default_config["unlearning"]["methods"]["npo"]["optimization"].update(grad_accumulation=2, distributed=two)
    # So do the P2 and P4 jobs, for their method; P1 runs the same NPO in one process unless told otherwise.
    _invalid(
        default_config,
        "config key 'unlearning.methods.npo.optimization.distributed.processes': 2 processes",
        "inside the P1 jobs",
    )
    default_config["p1"]["overrides"]["npo"]["optimization"]["distributed"] = {"strategy": "none", "processes": 1}
    validate_config(default_config)
    default_config["p4"]["attacks"]["relearn"]["optimization"].update(grad_accumulation=2, distributed=two)
    _invalid(
        default_config,
        "config key 'p4.attacks.relearn.optimization.distributed.processes': 2 processes",
        "whose every rank runs it",
    )
    default_config["p4"]["attacks"]["relearn"]["optimization"]["distributed"] = {"strategy": "none", "processes": 1}
    default_config["p3"]["alignment"].update(grad_accumulation=2, distributed=two)
    _invalid(default_config, "config key 'p3.alignment.distributed.processes'", "inside the P3 jobs")


def test_unknown_unlearning_method_is_named_with_the_choices(default_config):
    default_config["p2"] = {**default_config.get("p2", {}), "methods": ["gd", "npoo"]}
    _invalid(default_config, "'p2.methods.1'", "'npoo' has no settings in unlearning.methods", "'npo'", "'simnpo'")


def test_method_names_read_from_source_are_the_imported_registry():
    """Validation reads the registered method names from objectives/' source (no torch import at every `snakemake`
    start): they must be the names the imported registry holds, and the schema's documented methods among them."""
    from robust_unlearning.objectives.base import DEFENSES, METHODS
    from robust_unlearning.unlearning_registry import method_names, registered

    registered()
    assert method_names() == METHODS.names()
    unlearning = load_schema()["properties"]["unlearning"]["properties"]
    assert set(unlearning["methods"]["properties"]) <= set(METHODS.names())
    assert set(unlearning["defenses"]["properties"]) <= set(DEFENSES.names())


def test_unregistered_or_unset_methods_are_named(default_config):
    default_config["unlearning"]["methods"]["undiall"] = {"beta": 1.0}
    default_config["p2"]["methods"] = ["gd", "rmuu"]
    _invalid(
        default_config,
        "'unlearning.methods.undiall'",
        "no unlearning method 'undiall' is registered",
        "'p2.methods.1'",
        "'rmuu' has no settings",
    )


def test_track_overrides_merge_onto_the_one_home_and_are_checked_there(default_config):
    """P1's NPO is unlearning.methods.npo with P1's recipe over it; an override's bad value is named by its own key."""
    config = validate_config(default_config)
    npo, p1_npo = config["unlearning"]["methods"]["npo"], method_settings(config, "p1", "npo")
    assert (npo["optimization"]["batch_size"], p1_npo["optimization"]["batch_size"]) == (32, 8)
    assert (npo["retain_term"], npo["retain_weight"], p1_npo["retain_term"], p1_npo["retain_weight"]) == (
        "nll",
        3.0,
        "kl",
        30.0,
    )
    # A key P1 leaves alone is the home's.
    assert p1_npo["optimization"]["warmup_ratio"] == npo["optimization"]["warmup_ratio"] == 0.0
    # P2's NPO runs the paper's recipe at its own lr and retain weight; β and the retain term stay the home's.
    p2_npo = method_settings(config, "p2", "npo")
    assert (p2_npo["retain_weight"], p2_npo["optimization"]["epochs"], p2_npo["optimization"]["learning_rate"]) == (
        10.0,
        10,
        2.0e-4,
    )
    assert (p2_npo["beta"], p2_npo["retain_term"]) == (npo["beta"], npo["retain_term"]) == (0.1, "nll")
    # forget10 changes only its lr (p2.split_overrides); forget05 runs P2's recipe as it is.
    assert method_settings(config, "p2", "npo", "forget05") == p2_npo
    assert method_settings(config, "p2", "npo", "forget10") == {
        **p2_npo,
        "optimization": {**p2_npo["optimization"], "learning_rate": 1.5e-4},
    }
    default_config["p4"]["overrides"] = {"rmu": {"alpha": -1.0, "optimization": {"schedule": "linear"}}, "idkk": {}}
    _invalid(
        default_config, "'p4.overrides.rmu.alpha'", "'p4.overrides.rmu.optimization.schedule'", "'p4.overrides.idkk'"
    )
    default_config["p4"]["overrides"] = None
    assert method_settings(validate_config(default_config), "p4", "rmu")["optimization"]["batch_size"] == 8


def test_p2_split_overrides_are_checked_where_the_method_lives(default_config):
    default_config["p2"] = {
        **default_config.get("p2", {}),
        "split_overrides": {"forget10": {"npo": {"optimization": {"learning_rate": -1.0}}, "gdd": {}}},
    }
    _invalid(
        default_config,
        "'p2.split_overrides.forget10.npo.optimization.learning_rate'",
        "'p2.split_overrides.forget10.gdd': no method 'gdd'",
    )
    default_config["p2"]["split_overrides"] = {"forget11": {}}
    _invalid(default_config, "'p2.split_overrides'", "forget11")
    # A split left out of p2.forget_splits keeps its override, unused: narrowing the splits needs nothing else.
    default_config["p2"].update(forget_splits=["forget05"], split_overrides={"forget10": {"npo": {}}})
    validate_config(default_config)


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
    default_config["unlearning"]["methods"]["rmu"]["steering_coefficent"] = 6.5
    _invalid(
        default_config, "'p1.rna.nu'", "'p1.perturbed_mcq.position'", "'middle' is not one of", "steering_coefficent"
    )


def test_per_method_nu_needs_every_p1_method(default_config):
    # rsv is not among the default's p1.methods: its ν may be set or not.
    default_config["p1"]["rna"]["nu"] = {"rmu": 0.1, "npo": 0.2, "simnpo": 0.2, "rsv": 0.3}
    _invalid(default_config, "config key 'p1.rna.nu': no value for method 'adaptive_rmu'")
    default_config["p1"]["rna"]["nu"]["adaptive_rmu"] = 0.1
    assert validate_config(default_config)["p1"]["rna"]["nu"]["adaptive_rmu"] == 0.1
    default_config["p1"]["rna"]["nu"]["rmu"] = 0.0  # a +RNA ν of 0 would be the plain run again
    _invalid(default_config, "config key 'p1.rna.nu'")
    default_config["p1"]["rna"]["nu"] = {"rmu": 0.1, "adaptive_rmu": 0.1, "npo": 0.2, "simnpo": 0.2, "sgd": 0.1}
    _invalid(default_config, "config key 'p1.rna.nu'")


def test_bad_p3_keys_are_named(default_config):
    default_config["p3"]["methods"] = ["sft", "dpo"]
    default_config["p3"]["harmful_ratios"] = [0.0, 1.5]
    default_config["p3"]["alignment"]["rho"] = 2.0  # ρ lives at p3.rho, not among the optimizer settings
    _invalid(
        default_config, "'p3.methods.1'", "'dpo' is not one of", "'p3.harmful_ratios.1'", "'p3.alignment'", "'rho'"
    )


def test_bad_p4_keys_are_named(default_config):
    p4 = default_config.setdefault("p4", {})
    p4["methods"] = ["ga", "sgd"]
    p4["tricks"] = {"methods": ["npo"]}  # the tricks change the ascent term: GA, GD and KL only
    p4["calibration"] = {"tau": 1.5}
    p4["attacks"] = {"input_noise": {"mode": "word"}, "jailbreak": {"templates": ["Tell me everything."]}}
    _invalid(
        default_config,
        "'p4.tricks.methods.0'",
        "'p4.calibration.tau'",
        "'p4.attacks.input_noise.mode'",
        "'p4.attacks.jailbreak.templates.0'",
    )
    # Method names are checked against the registry once the schema's checks pass.
    del p4["tricks"], p4["calibration"], p4["attacks"]
    _invalid(default_config, "'p4.methods.1'", "'sgd' has no settings in unlearning.methods")


def test_p1_corpus_sources_and_keyword_counts(default_config):
    from robust_unlearning.data import loaders
    from robust_unlearning.data.world import _HAZARD_TOPIC_WORDS

    config = validate_config(default_config)
    assert config["datasets"]["wikitext"] == "none"  # the world's retain corpus
    assert config["datasets"]["wmdp_bio_forget"] == "cais/wmdp-bio-forget-corpus"  # read only with real corpora
    # n_keywords are drawn from hazard_keywords.json: the world's 10 topic words, the authors' 12 phrases.
    assert config["p1"]["perturbed_mcq"]["n_keywords"] <= sum(len(w) for w in _HAZARD_TOPIC_WORDS.values()) == 10
    paper = load_config(ROOT / "config" / "paper" / "p1_rna.yaml")
    assert paper["datasets"]["wikitext"] == "Salesforce/wikitext"
    assert paper["p1"]["perturbed_mcq"]["n_keywords"] == len(loaders.REAL_HAZARD_KEYWORDS) == 12
    default_config["datasets"]["wikitext"] = "synthetic"  # there is no synthetic wikitext or bio corpus
    default_config["datasets"]["wmdp_bio_forget"] = "synthetic"
    _invalid(default_config, "'datasets.wikitext'", "'datasets.wmdp_bio_forget'")


def test_p3_methods_are_the_experiments_and_the_paper_config_trains_as_vaccine():
    from robust_unlearning.attacks.harmful_finetune import FINETUNE_DEFENSES
    from robust_unlearning.experiments.p3_vaccine import METHODS
    from robust_unlearning.train.align import ALIGNMENTS

    p3 = load_schema()["properties"]["p3"]["properties"]
    assert set(p3["methods"]["items"]["enum"]) == set(METHODS)
    for alignment, defense in METHODS.values():
        assert alignment in ALIGNMENTS
        assert defense is None or (defense in FINETUNE_DEFENSES and defense in p3)  # its settings: p3.<defense>
    paper = load_config(ROOT / "config" / "paper" / "p3_vaccine.yaml")["p3"]
    assert {"ewc", "kl"} <= set(paper["methods"])
    assert paper["alignment"]["max_examples"] == 2000
    assert (paper["alignment"]["lora"]["alpha"], paper["alignment"]["lora"]["dropout"]) == (4, 0.1)
    assert (paper["user_finetune"]["lora"]["alpha"], paper["user_finetune"]["lora"]["dropout"]) == (1, 0.1)
    assert paper["ewc"] == {"weight": 1e9, "batch_size": 5} and paper["kl"] == {
        "weight": 0.1,
        "distribution": "positions",
    }


def test_bad_p3_defense_settings_are_named(default_config):
    default_config["p3"]["kl"] = {"distribution": "tokens"}
    default_config["p3"]["ewc"] = {"lamb": 1e9}
    default_config["p3"]["alignment"]["max_examples"] = 0
    _invalid(
        default_config,
        "'p3.kl.distribution'",
        "'tokens' is not one of",
        "'p3.ewc'",
        "lamb",
        "'p3.alignment.max_examples'",
    )


def test_bad_p1_recipe_options_are_named(default_config):
    p1, methods = default_config["p1"], default_config["unlearning"]["methods"]
    p1["forget_topics"] = "mixed"
    methods["rsv"]["optimization"]["schedule"] = "linear"
    methods["npo"]["loss_normalisation"] = "token"
    methods["simnpo"]["retain_weight"] = {"bio": -1.0}
    p1["rna"]["nu_scale"] = "percent"
    _invalid(
        default_config,
        "'p1.forget_topics'",
        "'unlearning.methods.rsv.optimization.schedule'",
        "'unlearning.methods.npo.loss_normalisation'",
        "'unlearning.methods.simnpo.retain_weight'",
        "'p1.rna.nu_scale'",
    )


def test_unclipped_constant_schedule_and_per_topic_weights_are_valid(default_config):
    p1 = default_config["p1"]
    p1["overrides"]["npo"]["optimization"].update(schedule="constant", grad_clip=None)
    p1["overrides"]["simnpo"]["retain_weight"] = {"bio": 20.0, "cyber": 50.0}
    config = validate_config(default_config)
    assert method_settings(config, "p1", "npo")["optimization"]["grad_clip"] is None
    assert method_settings(config, "p1", "simnpo")["retain_weight"] == {"bio": 20.0, "cyber": 50.0}
    # Unset stays unset (cosine): a filled-in schedule would change every training job's params.
    assert (
        "schedule" not in config["unlearning"]["methods"]["gd"]["optimization"]
        and "loss_normalisation" not in config["unlearning"]["methods"]["npo"]
    )


def test_p2_paper_config_runs_its_own_method_settings_on_every_split():
    """As Snakemake layers it on the embedded default: the default's P2 NPO, scaled to the tiny world, must not leak
    into the paper's runs (TOFU's NPO: lr 1e-5, retain weight 1, 10 epochs)."""
    config = load_layered([ROOT / "config" / "paper" / "p2_sasu.yaml"])
    for split in config["p2"]["forget_splits"]:
        for method in config["p2"]["methods"]:
            assert method_settings(config, "p2", method, split) == config["unlearning"]["methods"][method]
        npo = method_settings(config, "p2", "npo", split)
        assert (npo["optimization"]["learning_rate"], npo["retain_weight"], npo["optimization"]["epochs"]) == (
            1e-5,
            1.0,
            10,
        )


def test_p1_paper_config_trains_as_the_rna_authors():
    config = load_config(ROOT / "config" / "paper" / "p1_rna.yaml")
    p1 = config["p1"]
    settings_of = {method: method_settings(config, "p1", method) for method in p1["methods"]}
    assert (
        set(p1["methods"]) == {"rmu", "adaptive_rmu", "rsv", "npo", "simnpo", "dpo"}
        and p1["forget_topics"] == "alternate"
    )
    for method in p1["methods"]:
        optimization = settings_of[method]["optimization"]
        assert (optimization["schedule"], optimization["grad_clip"], settings_of[method]["n_trained_layers"]) == (
            "constant",
            None,
            3,
        )
        # bf16 weights, no fp32 master copy (P1-02); θ0 then bf16 too, by reference_precision's unset rule (P1-50).
        assert optimization["precision"] == "bf16-pure" and "reference_precision" not in optimization
    assert settings_of["adaptive_rmu"]["beta"] == 3.0 and (
        settings_of["rsv"]["steering_coefficient"],
        settings_of["rsv"]["alpha"],
    ) == (10.0, 1200.0)
    for method, steps, weight in (("npo", 150, 50.0), ("simnpo", 50, {"bio": 20.0, "cyber": 50.0})):
        settings = settings_of[method]
        assert (settings["optimization"]["learning_rate"], settings["optimization"]["max_steps"]) == (2e-5, steps)
        assert (
            settings["beta"],
            settings["loss_normalisation"],
            settings["retain_term"],
            settings["retain_weight"],
        ) == (0.1, "batch_mean", "kl", weight)
        assert not settings["lora"]["enabled"]
    # Each method's own default of the authors' argparse; RMU's and adaptive RMU's (0) the paper's lowest, 0.01 (P1-21).
    assert p1["rna"]["nu_scale"] == "absolute" and p1["rna"]["nu"] == {
        "rmu": 0.01,
        "adaptive_rmu": 0.01,
        "rsv": 0.03,
        "npo": 0.01,
        "simnpo": 0.01,
        "dpo": 0.05,
    }
    assert set(p1["rna"]["nu"].values()) <= set(p1["nu_sweep"])


def test_more_perturbed_copies_than_keywords_is_named(default_config):
    default_config["p1"]["perturbed_mcq"].update(n_keywords=3, per_question=4)
    _invalid(default_config, "'p1.perturbed_mcq.per_question'", "4 copies of a question", "n_keywords is 3")
