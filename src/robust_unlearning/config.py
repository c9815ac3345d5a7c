"""Load and validate the pipeline configuration against config/schema/config.schema.yaml.

The schema is the one source of truth for keys, types, ranges and defaults; this module only
fills the defaults, turns schema violations into messages that name the offending key, and adds
the checks a schema cannot express (sizes that depend on each other, registered names).
"""

import copy
import functools
import json
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from huggingface_hub import try_to_load_from_cache

from .eval.specs import METRIC_SPECS
from .model_shapes import KNOWN_MODELS
from .unlearning_registry import attack_names, method_names

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
SCHEMA_PATH = CONFIG_DIR / "schema" / "config.schema.yaml"

FORGET_PERCENT = {"forget01": 1, "forget05": 5, "forget10": 10}
# `optimization.distributed` unset: one process.
ONE_PROCESS = {"strategy": "none", "processes": 1}
# TOFU's retain split of each forget split (its complement in the fictitious authors): the retain-only oracle's data.
RETAIN_OF_FORGET = {"forget01": "retain99", "forget05": "retain95", "forget10": "retain90"}


class ConfigError(ValueError):
    pass


def distributed_settings(optimization: dict) -> dict:
    """A stage's `optimization.distributed` ({strategy, processes}), or one process when it is unset."""
    return optimization.get("distributed", ONE_PROCESS)


def micro_batch_size(optimization: dict) -> int:
    """Sequences per forward pass: `batch_size` per optimizer step, split over `grad_accumulation` micro-batches."""
    batch_size, accumulation = optimization["batch_size"], optimization.get("grad_accumulation", 1)
    if batch_size % accumulation:
        raise ValueError(
            f"optimization 'batch_size' {batch_size} is not divisible by 'grad_accumulation' {accumulation}"
        )
    return batch_size // accumulation


def method_settings(config: dict, track: str, method: str, forget_split: str | None = None) -> dict:
    """`method`'s settings as `track` ("p1", "p2", "p4") runs it: unlearning.methods.<method>, the one home of a
    method's settings, with <track>.overrides.<method> merged on it key by key, and on a P2 forget split
    p2.split_overrides.<split>.<method> merged on that."""
    settings = layered(config["unlearning"]["methods"][method], (config[track]["overrides"] or {}).get(method, {}))
    if forget_split is None:
        return settings
    return layered(settings, ((config[track].get("split_overrides") or {}).get(forget_split) or {}).get(method, {}))


def rna_nu(p1: dict, method: str) -> float:
    """`method`'s ν of P1's +RNA variant: `p1.rna.nu`, one number for every method or a mapping method → ν (the RNA
    authors' defaults differ by method; docs/fidelity.md P1-21)."""
    nu = p1["rna"]["nu"]
    return nu[method] if isinstance(nu, dict) else nu


def p4_variant_optimization(config: dict, variant: str) -> dict:
    """The optimization block a P4 method variant ("<method>", "<method>-ts" / "-sel") unlearns with: its method's
    (the tricks change hparams only)."""
    return method_settings(config, "p4", variant.partition("-")[0])["optimization"]


def load_schema(path: Path = SCHEMA_PATH) -> dict:
    return copy.deepcopy(_parsed_schema(Path(path)))


@functools.cache
def _parsed_schema(path: Path) -> dict:
    # Parsed once per process: every spawned Snakemake job validates the config again, each override once more.
    return yaml.safe_load(path.read_text())


def _resolve(node: dict, root: dict) -> dict:
    while "$ref" in node:
        pointer = node["$ref"].removeprefix("#/").split("/")
        target = root
        for part in pointer:
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def fill_defaults(instance: Any, schema: dict, root: dict) -> None:
    """Insert schema defaults in place, descending through $ref, allOf and nested objects."""
    schema = _resolve(schema, root)
    if not isinstance(instance, dict):
        return
    for sub in schema.get("allOf", []):
        fill_defaults(instance, sub, root)
    properties = schema.get("properties", {})
    for key, sub in properties.items():
        sub = _resolve(sub, root)
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            fill_defaults(instance[key], sub, root)
    if isinstance(schema.get("additionalProperties"), dict):
        for key in instance.keys() - properties.keys():
            fill_defaults(instance[key], schema["additionalProperties"], root)


def _key_path(error: jsonschema.ValidationError) -> str:
    path = ".".join(str(p) for p in error.absolute_path)
    return path or "<top level>"


def _describe(error: jsonschema.ValidationError) -> str:
    return f"config key {_key_path(error)!r}: {error.message}"


def _p2_problems(config: dict) -> list[str]:
    p2, problems = config["p2"], []
    for i, split in enumerate(p2["forget_splits"]):
        if split not in config["tofu"]["forget_splits"]:
            problems.append(
                f"config key 'p2.forget_splits.{i}': {split!r} must be one of tofu.forget_splits {config['tofu']['forget_splits']} (its retain-only oracle is trained there)"
            )
    attack = p2["stealthy_attack"]
    for i, template in enumerate(attack["templates"]):
        if attack["trigger"].lower() not in template.lower():
            problems.append(
                f"config key 'p2.stealthy_attack.templates.{i}': {template!r} does not contain the trigger word {attack['trigger']!r}"
            )
    return problems


def _check_semantics(config: dict) -> list[str]:
    problems = []
    world = config["world"]
    if config["datasets"]["tofu"] == "synthetic":
        for split in config["tofu"]["forget_splits"]:
            n_forget = world["n_authors"] * FORGET_PERCENT[split] // 100
            if n_forget < 1:
                problems.append(
                    f"config key 'tofu.forget_splits': {split} is {FORGET_PERCENT[split]} % of "
                    f"world.n_authors={world['n_authors']} authors, which is less than one author; "
                    f"raise world.n_authors to at least {100 // FORGET_PERCENT[split]}"
                )
    arch = config["model"]["architecture"]
    if arch["hidden_size"] % arch["num_attention_heads"]:
        problems.append(
            f"config key 'model.architecture.hidden_size': {arch['hidden_size']} is not divisible "
            f"by num_attention_heads={arch['num_attention_heads']}"
        )
    if config["model"]["prompt_format"] == "chat" and config["model"]["source"] == "scratch":
        problems.append(
            "config key 'model.prompt_format': 'chat' needs a pre-trained model.source with a chat template; the from-scratch tokenizer has none"
        )
    problems += _method_problems(config) + _p4_metric_problems(config) + _p4_attack_problems(config)
    problems += _p1_problems(config) + _p2_problems(config) + _published_problems(config)
    problems += _distributed_problems(config) + _single_process_problems(config)
    return problems + _path_problems(config) + _layer_problems(config)


# A value written as a path; anything else (a hub id, "synthetic", "none") that exists as a relative path is one too.
PATH_PREFIXES = ("/", "./", "../", "~")


def _named_paths(config: dict) -> list[tuple[str, str]]:
    """(config key, value) of every value that names a model or data set to read: a job would fail on a missing one."""
    named = [("model.source", config["model"]["source"].removeprefix("gguf:"))]
    named += [(f"datasets.{key}", value) for key, value in config["datasets"].items()]
    named += [(f"tofu.published.{key}", value) for key, value in config["tofu"]["published"].items()]
    if config["p3"]["judge"] == "hub":
        named.append(("p3.judge_model", config["p3"]["judge_model"]))
    return named


def _path_problems(config: dict) -> list[str]:
    return [
        f"config key {key!r}: {value!r} does not exist"
        + (" (a leading ~ is not expanded: write the full path)" if value.startswith("~") else "")
        for key, value in _named_paths(config)
        if value.startswith(PATH_PREFIXES) and not Path(value).exists()
    ]


def model_layer_count(model: dict) -> tuple[int, str] | None:
    """(decoder blocks of `model.source`, where that count was read), or None where it is not known without loading
    the model: a hub id neither among the papers' models (model_shapes.KNOWN_MODELS) nor in the Hugging Face cache,
    or a GGUF file (its reader parses every tensor's header, about 2 s for SmolLM2's, on every job's parse)."""
    source = model["source"]
    if source == "scratch":
        return model["architecture"]["num_hidden_layers"], "model.architecture.num_hidden_layers"
    if source.startswith("gguf:"):
        return None
    if source in KNOWN_MODELS:
        return KNOWN_MODELS[source].layers, f"{source}'s config.json"
    local = Path(source) / "config.json"
    if local.is_file():
        config_file = str(local)
    elif source.startswith(PATH_PREFIXES) or source.count("/") > 1:  # a path, or no valid hub id
        return None
    else:
        config_file = try_to_load_from_cache(source, "config.json")
        if not isinstance(config_file, str):
            return None
    return json.loads(Path(config_file).read_text())["num_hidden_layers"], config_file


# The tracks that read each track's settings and run its methods (a track not in `tracks` runs nothing).
UNLEARNING_TRACKS = {"p1": "p1_rna", "p2": "p2_sasu", "p4": "p4_evaluation"}


def _layer_keys(config: dict) -> list[tuple[str, int, bool]]:
    """(config key, block index ℓ, whether ℓ may count from the top) of every layer setting a selected track reads:
    a config that runs only the models table, or only P2, need not fit P1's layers to its model."""
    tracks = [track for track, name in UNLEARNING_TRACKS.items() if name in config["tracks"]]
    keys, methods = [], {m for track in tracks for m in config[track]["methods"]}
    if "p1" in tracks:
        p1 = config["p1"]
        keys += [("p1.layer", p1["layer"], False)]
        keys += [(f"p1.layer_sweep.{i}", layer, False) for i, layer in enumerate(p1["layer_sweep"])]
    keys += [
        (f"unlearning.methods.{name}.layer", settings["layer"], True)
        for name, settings in config["unlearning"]["methods"].items()
        if "layer" in settings and name in methods
    ]
    for track in tracks:
        keys += [
            (f"{track}.overrides.{name}.layer", override["layer"], True)
            for name, override in (config[track]["overrides"] or {}).items()
            if isinstance(override.get("layer"), int)
        ]
    if "p4" in tracks:
        keys.append(("p4.attacks.probing.layer", config["p4"]["attacks"]["probing"]["layer"], True))
    return keys


def _layer_problems(config: dict) -> list[str]:
    """Block indices beyond the model's blocks, wherever the block count is known before a job loads the model."""
    known = model_layer_count(config["model"])
    if known is None:
        return []
    n_layers, read_from = known
    return [
        f"config key {key!r}: {layer} is not a block of model.source's {n_layers}-block model ({read_from}); "
        f"blocks are 0..{n_layers - 1}" + (f", or -{n_layers}..-1 counted from the top" if signed else "")
        for key, layer, signed in _layer_keys(config)
        if not (-n_layers if signed else 0) <= layer < n_layers
    ]


def _method_problems(config: dict) -> list[str]:
    """Method names that no module registers or that have no settings, and track overrides whose merged settings
    are invalid where the method's settings live."""
    settings, registered = config["unlearning"]["methods"], method_names()
    problems = [
        f"config key 'unlearning.methods.{name}': no unlearning method {name!r} is registered (objectives/); registered: {registered}"
        for name in settings
        if name not in registered
    ]
    for track in ("p1", "p2", "p4"):
        problems += [
            f"config key '{track}.methods.{i}': {name!r} has no settings in unlearning.methods ({sorted(settings)})"
            for i, name in enumerate(config[track]["methods"])
            if name not in settings
        ]
        problems += _overrides_problems(config, track, config[track]["overrides"], f"{track}.overrides")
    # A split P2 does not run is left alone, so narrowing p2.forget_splits needs nothing else.
    for split, overrides in (config["p2"]["split_overrides"] or {}).items():
        problems += _overrides_problems(config, "p2", overrides, f"p2.split_overrides.{split}", split)
    return problems


def _overrides_problems(
    config: dict, track: str, overrides: dict | None, key: str, forget_split: str | None = None
) -> list[str]:
    """The overrides at config key `key` (by method name): a method without settings, or merged settings that are
    invalid where the method's settings live."""
    settings, problems = config["unlearning"]["methods"], []
    for name in overrides or {}:
        if name not in settings:
            problems.append(f"config key '{key}.{name}': no method {name!r} in unlearning.methods ({sorted(settings)})")
        else:
            problems += _override_problems(config, track, name, f"{key}.{name}", forget_split)
    return problems


def _p1_problems(config: dict) -> list[str]:
    """A per-method ν (p1.rna.nu) without a value for a method that P1 runs; more perturbed copies of a question
    than keywords to give them."""
    nu, perturbed = config["p1"]["rna"]["nu"], config["p1"]["perturbed_mcq"]
    problems = [
        f"config key 'p1.rna.nu': no value for method {method!r} (p1.methods); set one, or one number for every method"
        for method in config["p1"]["methods"]
        if isinstance(nu, dict) and method not in nu
    ]
    if perturbed["per_question"] > perturbed["n_keywords"]:
        problems.append(
            f"config key 'p1.perturbed_mcq.per_question': {perturbed['per_question']} copies of a question need as "
            f"many distinct keywords, but n_keywords is {perturbed['n_keywords']}"
        )
    return problems


def _p4_attack_problems(config: dict) -> list[str]:
    """Attack names (p4.attacks.names, and the settings blocks named after attacks) that no module registers."""
    attacks, registered = config["p4"]["attacks"], attack_names()
    named = [(f"p4.attacks.names.{i}", name) for i, name in enumerate(attacks["names"])]
    named += [(f"p4.attacks.{key}", key) for key in attacks if key not in ("names", "heldout_fraction")]
    return [
        f"config key '{key}': no red-teaming attack {name!r} is registered (attacks/); registered: {registered}"
        for key, name in named
        if name not in registered
    ]


def _p4_metric_problems(config: dict) -> list[str]:
    metrics = config["p4"]["metrics"]
    problems = [
        f"config key 'p4.metrics.{i}': no QA metric {name!r} is registered (eval/qa_metrics/); registered: {sorted(METRIC_SPECS)}"
        for i, name in enumerate(metrics)
        if name not in METRIC_SPECS
    ]
    if "extraction_strength" not in metrics:
        problems.append(
            "config key 'p4.metrics': it must hold extraction_strength, which P4's claim is about and its calibration bisects on"
        )
    return problems


def _override_problems(config: dict, track: str, method: str, key: str, forget_split: str | None = None) -> list[str]:
    """Schema errors of `method`'s settings merged with `track`'s override (and a P2 split's), named by the
    override's keys under `key`."""
    schema = load_schema()
    methods = schema["properties"]["unlearning"]["properties"]["methods"]
    validator = jsonschema.Draft202012Validator(
        {**methods["properties"].get(method, methods["additionalProperties"]), "$defs": schema["$defs"]}
    )
    return [
        f"config key '{key}{''.join(f'.{part}' for part in error.absolute_path)}': {error.message}"
        for error in validator.iter_errors(method_settings(config, track, method, forget_split))
    ]


def _single_process_problems(config: dict) -> list[str]:
    """Stages trained inside jobs that run in one process: pre-training and the P1 and P3 jobs (which group several
    runs with their evaluations); the P4 relearning attack, which every rank of a P4 job runs on its own copy of
    the unlearned model. The finetune and unlearn rules and the P2 and P4 jobs start their methods' ranks
    (train/distributed.py)."""
    p1, p3 = config["p1"], config["p3"]
    stages = [("pretrain", config["pretrain"], "base_model job, which runs")]
    # P1's methods share their settings with the tracks that unlearn on several processes; only a P1 run uses one.
    for m in p1["methods"] if "p1_rna" in config["tracks"] else []:
        overridden = "distributed" in (p1["overrides"] or {}).get(m, {}).get("optimization", {})
        key = f"p1.overrides.{m}.optimization" if overridden else f"unlearning.methods.{m}.optimization"
        stages.append((key, method_settings(config, "p1", m)["optimization"], "P1 jobs, which run"))
    stages += [(f"p3.{stage}", p3[stage], "P3 jobs, which run") for stage in ("alignment", "user_finetune")]
    stages += [
        (
            "p4.attacks.relearn.optimization",
            config["p4"]["attacks"]["relearn"]["optimization"],
            "P4 jobs, whose every rank runs it",
        )
    ]
    return [
        f"config key '{key}.distributed.processes': {distributed_settings(settings)['processes']} processes, but this stage trains inside "
        f"the {jobs} in one process; only the finetune and unlearn rules and the P2 and P4 unlearning start several"
        for key, settings, jobs in stages
        if distributed_settings(settings)["processes"] > 1
    ]


def _distributed_problems(node: Any, path: str = "") -> list[str]:
    """Optimization blocks whose grad_accumulation micro-batches cannot be dealt out evenly to their processes."""
    if not isinstance(node, dict):
        return []
    problems = []
    if "distributed" in node and "grad_accumulation" in node:
        processes, accumulation = node["distributed"]["processes"], node["grad_accumulation"]
        if accumulation % processes:
            problems.append(
                f"config key '{path}grad_accumulation': {accumulation} micro-batches per step cannot be dealt out evenly "
                f"to distributed.processes={processes} processes; make it a multiple of {processes}"
            )
    for key, value in node.items():
        problems += _distributed_problems(value, f"{path}{key}.")
    return problems


def _published_problems(config: dict) -> list[str]:
    published = config["tofu"]["published"]
    if "target" not in published:
        return []
    return [
        f"config key 'tofu.published.{RETAIN_OF_FORGET[split]}' is missing: the target is published, so the retain-only "
        f"oracle of {split} must be too (one fine-tuned here would follow another recipe than the target's)"
        for split in config["tofu"]["forget_splits"]
        if RETAIN_OF_FORGET[split] not in published
    ]


def _schema_errors(validator: jsonschema.Draft202012Validator, config: dict) -> list[str]:
    errors = list(validator.iter_errors(config))
    paths = [tuple(e.absolute_path) for e in errors]
    # An invalid value inside an allOf branch also makes unevaluatedProperties reject its valid
    # siblings; that echo would name the wrong keys, so keep only the root cause.
    errors = [
        e
        for e in errors
        if not (
            e.validator == "unevaluatedProperties"
            and any(
                p[: len(e.absolute_path)] == tuple(e.absolute_path) and len(p) > len(e.absolute_path) for p in paths
            )
        )
    ]
    return [_describe(e) for e in sorted(errors, key=lambda e: list(map(str, e.absolute_path)))]


def parse_command_line_values(overrides: Any) -> Any:
    """`snakemake --config` overrides with each nested string read as a YAML scalar, as a config file's would be.

    Snakemake reads a nested value (`--config world='{"seed": 1}'`) with YAML's BaseLoader, which keeps every
    scalar a string ("1"), so the schema would reject every nested number and boolean.
    """
    if isinstance(overrides, dict):
        return {key: parse_command_line_values(value) for key, value in overrides.items()}
    if isinstance(overrides, list):
        return [parse_command_line_values(value) for value in overrides]
    if isinstance(overrides, str):
        try:
            value = yaml.safe_load(overrides)
        except yaml.YAMLError:
            return overrides
        return value if value is None or isinstance(value, (bool, int, float)) else overrides
    return overrides


def validate_config(config: dict, schema: dict | None = None) -> dict:
    """Return a defaults-filled copy of `config`, or raise ConfigError naming every bad key."""
    schema = schema or load_schema()
    config = copy.deepcopy(config)
    validator = jsonschema.Draft202012Validator(schema)
    problems = _schema_errors(validator, config)
    if not problems:
        fill_defaults(config, schema, schema)
        # The filled defaults are validated too: a schema default must itself be valid.
        problems = _schema_errors(validator, config)
    if not problems:
        problems = _check_semantics(config)
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
    return config


def load_config(path: str | Path) -> dict:
    return validate_config(yaml.safe_load(Path(path).read_text()) or {})


def layered(base: dict, override: dict) -> dict:
    """`override` on top of `base`, nested mappings merged key by key, as Snakemake layers `--configfile` files."""
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            layered(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
        )
    return merged


def load_layered(paths: list[Path]) -> dict:
    """The embedded default with `paths` layered on it in order, validated: what `snakemake --configfile *paths` runs."""
    config = yaml.safe_load((CONFIG_DIR / "config.yaml").read_text())
    for path in paths:
        config = layered(config, yaml.safe_load(Path(path).read_text()) or {})
    return validate_config(config)


def config_stacks(directory: Path) -> list[list[Path]]:
    """Each config file of `directory` as it is run: an overlay `name.variant.yaml` after the files it extends (`name.yaml`)."""
    stacks = []
    for path in sorted(Path(directory).glob("*.yaml"), key=lambda path: path.name.removesuffix(".yaml").split(".")):
        parts = path.name.removesuffix(".yaml").split(".")
        stacks.append([path.with_name(".".join(parts[: i + 1]) + ".yaml") for i in range(len(parts))])
    return stacks
