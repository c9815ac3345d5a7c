"""P1's DPO (objectives/dpo.py), as the RNA authors' baselines/po/dpo runs it: the loss and its gradient on a known
batch, worked out by hand in both forms (the authors' released "policy" form and DPO proper); RNA's noise only on
θ0's retain forward; only the down-projections of ℓ−2..ℓ train; the refusal stream; the paper config; and one P1
job end to end with the Table-1 rows it feeds."""

import math

import pytest
import torch

from robust_unlearning.config import load_config, method_settings
from robust_unlearning.data.examples import collate, pack_corpus
from robust_unlearning.data.world import IDK_ANSWERS
from robust_unlearning.experiments.p1_grid import Variant, sweep_variants
from robust_unlearning.experiments.p1_rna import run_variants
from robust_unlearning.models.factory import build_model
from robust_unlearning.objectives.base import DEFENSES, METHODS, STREAMS, StreamSources, UnlearnContext
from robust_unlearning.report import p1 as report
from robust_unlearning.train.unlearn import frozen_copy, unlearn
from robust_unlearning.unlearning_registry import registered

from .conftest import ROOT
from .helpers import (
    SENTENCES,
    TINY_ARCHITECTURE,
    TINY_OPTIMIZATION,
    FixedLogits,
    child_runs,
    tiny_model,
    tiny_tokenizer,
)
from .test_p1_rna import real_wmdp  # noqa: F401 — the prepared wmdp directory fixture


def _batch(rows: list[list[int]]) -> dict:
    ids = torch.tensor(rows)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids}


# Vocabulary {0, 1}, rows of three tokens, every token labelled: positions 1 and 2 are scored.
FORGET = _batch([[1, 1, 1], [0, 0, 0]])
REFUSAL = _batch([[1, 1, 1], [1, 1, 1]])
UNIFORM = torch.zeros(2, 3, 2)  # θ: p(0) = p(1) = ½, every scored token costs ln 2
SKEWED = torch.tensor([0.0, math.log(3)]).expand(2, 3, 2).clone()  # θ0: p(1) = ¾, p(0) = ¼


def _dpo(hparams: dict):
    registered()
    model = FixedLogits(UNIFORM.clone())
    ctx = UnlearnContext(
        model=model,
        reference=FixedLogits(SKEWED),
        hparams={"beta": 0.1, "retain_term": "nll", "retain_weight": 0.0, **hparams},
    )
    loss, logs = METHODS.get("dpo").loss(ctx, {"forget": FORGET, "refusal": REFUSAL, "retain": FORGET})
    loss.backward()
    return logs, model.logits.grad


# By hand, batch_mean (the authors' `outputs.loss`): log π is minus the batch's mean token NLL.
#   θ on the forget batch: r = −ln 2. θ0: row 1's tokens cost ln(4/3), row 2's ln 4, r0 = −½ ln(16/3).
#   θ on the refusal batch: c = −ln 2. θ0: c0 = −ln(4/3).
# Authors' form, (c − r) − (c − r0) = r0 − r = ln 2 − ½ ln(16/3) = ln(√3/2):
#   loss = −(2/β) log σ(β ln(√3/2)) = 20 ln(1 + (2/√3)^0.1).
AUTHORS_LOSS = 20 * math.log1p((2 / math.sqrt(3)) ** 0.1)
# DPO proper, (c − c0) − (r − r0) = ln(2/3) − ln(2/√3) = −½ ln 3: loss = 20 ln(1 + 3^0.05).
PROPER_LOSS = 20 * math.log1p(3**0.05)


def test_authors_dpo_loss_on_a_known_batch_is_npo():
    logs, grad = _dpo({"loss_normalisation": "batch_mean", "preferred_reference": "policy"})
    assert logs["forget_loss"] == pytest.approx(AUTHORS_LOSS, rel=1e-6)
    assert AUTHORS_LOSS == pytest.approx(14.007302, abs=1e-5)  # tests/test_objectives.py's hand-computed NPO value
    assert logs["preferred_logp"] == pytest.approx(-math.log(2), rel=1e-6)
    # dL/dr = 2 σ(−β m) with m = ln(√3/2); r is the mean of 4 scored log-probs, d log p_y / d z_v = 1[v = y] − ½,
    # so each scored forget position gets ± σ(−β m) / 4 = ±0.125899 (+ on its label); the refusal adds nothing,
    # the last position (no next token) nothing.
    g = 1 / (1 + math.exp(0.1 * math.log(math.sqrt(3) / 2))) / 4
    assert g == pytest.approx(0.125899, abs=1e-6)
    expected = torch.tensor([[[-g, g], [-g, g], [0.0, 0.0]], [[g, -g], [g, -g], [0.0, 0.0]]])
    torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-7)


def test_dpo_proper_loss_and_gradient_on_a_known_batch():
    logs, grad = _dpo({"loss_normalisation": "batch_mean", "preferred_reference": "reference"})
    assert logs["forget_loss"] == pytest.approx(PROPER_LOSS, rel=1e-6)
    assert PROPER_LOSS == pytest.approx(14.419792, abs=1e-5)
    # m = −½ ln 3, dL/dm = −2 σ(−β m). The forget batch (as above): ±σ(−β m) / 4 per scored position, + on its
    # label. The refusal batch (label 1 at positions 1, 2 of both rows): dL/dc = −2 σ(−β m), so ∓σ(−β m) / 4, − on
    # token 1. The stand-in's logits are shared by both batches: row 1 (forget label 1) cancels, row 2 doubles.
    s = 1 / (1 + math.exp(-0.05 * math.log(3))) / 4
    assert s == pytest.approx(0.128432, abs=1e-6)
    expected = torch.tensor([[[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]], [[2 * s, -2 * s], [2 * s, -2 * s], [0.0, 0.0]]])
    torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-7)


def test_per_sequence_forms_by_hand():
    # Row sums over 2 scored tokens: θ −2 ln 2 everywhere; θ0 forget rows 2 ln ¾ and 2 ln ¼, refusal rows 2 ln ¾.
    # Authors' form: margins −(r − r0) = 2 ln(3/2) and −2 ln 2 (the NPO per-sequence value);
    # DPO proper: margins 2 ln(2/3) − 2 ln(2/3) = 0 and 2 ln(2/3) − 2 ln 2 = −2 ln 3.
    authors = 10 * (math.log1p(1.5**-0.2) + math.log1p(2**0.2))
    proper = 10 * (math.log(2) + math.log1p(3**0.2))
    assert _dpo({"preferred_reference": "policy"})[0]["forget_loss"] == pytest.approx(authors, rel=1e-6)
    assert _dpo({})[0]["forget_loss"] == pytest.approx(proper, rel=1e-6)
    assert (authors, proper) == pytest.approx((14.182847, 15.021782), abs=1e-5)


def test_unknown_preferred_reference_is_named():
    with pytest.raises(ValueError, match="preferred_reference"):
        _dpo({"preferred_reference": "theta0"})


def test_refusal_stream_is_each_refusal_alone_every_token_labelled():
    registered()
    tokenizer = tiny_tokenizer()
    sources = StreamSources(
        forget=[], retain=[], idk_answers=["I don't know.", "No idea, sorry."], seed=0, max_length=4
    )
    examples = STREAMS.get("refusal")(tokenizer, sources, {})
    assert len(examples) == 2
    for example, text in zip(examples, sources.idk_answers):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert example.input_ids == example.labels == ([tokenizer.bos_token_id] + ids)[:4]
    with pytest.raises(ValueError, match="refusal answers"):
        STREAMS.get("refusal")(tokenizer, StreamSources([], [], [], 0, 4), {})


@pytest.fixture(scope="module")
def tiny():
    tokenizer = tiny_tokenizer()
    forget = collate(pack_corpus(tokenizer, SENTENCES * 4, 16)[:4], tokenizer.pad_token_id)
    retain = collate(pack_corpus(tokenizer, list(reversed(SENTENCES)) * 4, 16)[:4], tokenizer.pad_token_id)
    refusal = collate(
        STREAMS.get("refusal")(tokenizer, StreamSources([], [], IDK_ANSWERS[:4], 0, 16), {}), tokenizer.pad_token_id
    )
    return tokenizer, {"forget": forget, "refusal": refusal, "retain": retain}


def _context(tokenizer, form: str, nu: float):
    model = tiny_model(tokenizer, seed=1)
    ctx = UnlearnContext(
        model=model,
        reference=frozen_copy(model),
        hparams={
            "beta": 0.1,
            "retain_term": "kl",
            "retain_weight": 1.0,
            "loss_normalisation": "batch_mean",
            "preferred_reference": form,
        },
    )
    DEFENSES.get("rna").configure(ctx, {"layer": 1, "nu": nu})
    return ctx


@pytest.mark.parametrize(
    "form, expected",
    [
        # The authors': θ's forwards (forget, refusal without a graph, retain) clean; θ0's forget forward clean and
        # its retain forward noisy; θ0's refusal forward is not run (the authors' value is unused).
        ("policy", {"model": [False, False, False], "reference": [False, True]}),
        ("reference", {"model": [False, False, False], "reference": [False, False, True]}),
    ],
)
def test_rna_noise_reaches_only_the_frozen_retain_forward(form, expected, tiny):
    registered()
    tokenizer, batches = tiny
    ctx = _context(tokenizer, form, 2.0)
    seen = {"model": [], "reference": []}
    for name, module in (("model", ctx.model), ("reference", ctx.reference)):
        block = module.model.layers[1]
        module.register_forward_pre_hook(
            lambda _m, _a, name=name, block=block: seen[name].append(len(block._forward_hooks) > 0)
        )
    METHODS.get("dpo").loss(ctx, batches)
    assert seen == expected
    assert [len(b._forward_hooks) for b in ctx.reference.model.layers] == [0, 0]  # the hook is gone after the step
    # The forget term does not move with ν; the retain KL does (θ = θ0: 0 without noise).
    _, plain = METHODS.get("dpo").loss(_context(tokenizer, form, 0.0), batches)
    _, noisy = METHODS.get("dpo").loss(_context(tokenizer, form, 2.0), batches)
    assert noisy["forget_loss"] == plain["forget_loss"] and noisy["preferred_logp"] == plain["preferred_logp"]
    assert plain["retain_loss"] == pytest.approx(0.0, abs=1e-6) and noisy["retain_loss"] > 1e-3


def _saved_model(tmp_path, n_layers: int):
    tokenizer = tiny_tokenizer()
    torch.manual_seed(0)
    model = build_model({**TINY_ARCHITECTURE, "num_hidden_layers": n_layers}, tokenizer)
    model.save_pretrained(tmp_path / "model")
    tokenizer.save_pretrained(tmp_path / "model")
    return model


@pytest.mark.parametrize("form", ["policy", "reference"])
def test_only_the_down_projections_of_the_three_blocks_ending_at_l_train(form, tmp_path):
    """ℓ = 3 of a 5-block model with n_trained_layers 3 (the authors' layer_ids ℓ−2..ℓ, param_ids [6]): blocks 1–3."""
    registered()
    model = _saved_model(tmp_path, 5)
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    hparams = {
        "beta": 0.1,
        "retain_term": "kl",
        "retain_weight": {"bio": 30.0, "cyber": 50.0},
        "loss_normalisation": "batch_mean",
        "preferred_reference": form,
        "n_trained_layers": 3,
        "layer": 3,
        "forget_topics": "alternate",
    }
    forget = [{"text": s, "subject": subject} for subject in ("bio", "cyber") for s in SENTENCES * 2]
    logged = []
    after = unlearn(
        model_dir=tmp_path / "model",
        forget=forget,
        retain=[{"text": s} for s in SENTENCES * 2],
        idk_answers=list(IDK_ANSWERS),
        method="dpo",
        hparams=hparams,
        defenses={"rna": {"layer": 3, "nu": 0.5}},
        optimization={**TINY_OPTIMIZATION, "epochs": 2},
        seed=0,
        device="cpu",
        max_length=12,
        out_dir=None,
        resume_file=tmp_path / "resume.pt",
        log=lambda m, s: logged.append(m),
        model=model,
    )
    changed = {name for name, p in after.named_parameters() if not torch.equal(p, before[name])}
    assert changed == {f"model.layers.{i}.mlp.down_proj.weight" for i in (1, 2, 3)}
    assert logged and all({"forget_loss", "preferred_logp", "retain_loss"} <= set(m) for m in logged)


def test_paper_config_runs_dpo_as_the_authors_script():
    """scripts/po/dpo.sh (KL run) on baselines/po/dpo/unlearn.py's defaults."""
    config = load_config(ROOT / "config" / "paper" / "p1_rna.yaml")
    assert "dpo" in config["p1"]["methods"]
    dpo = method_settings(config, "p1", "dpo")
    assert (dpo["beta"], dpo["preferred_reference"], dpo["loss_normalisation"]) == (0.1, "policy", "batch_mean")
    assert (dpo["retain_term"], dpo["retain_weight"], dpo["n_trained_layers"]) == (
        "kl",
        {"bio": 30.0, "cyber": 50.0},
        3,
    )
    optimization = dpo["optimization"]
    assert (optimization["max_steps"], optimization["batch_size"], optimization["learning_rate"]) == (500, 4, 5e-5)
    assert (
        optimization["schedule"],
        optimization["grad_clip"],
        optimization["warmup_ratio"],
        optimization["weight_decay"],
    ) == ("constant", None, 0.0, 0.0)
    # The embedded default leaves DPO out (CPU budget) but has its settings, DPO proper.
    default = load_config(ROOT / "config" / "config.yaml")
    assert (
        "dpo" not in default["p1"]["methods"]
        and method_settings(default, "p1", "dpo")["preferred_reference"] == "reference"
    )


def test_p1_dpo_job_end_to_end_feeds_table_1(real_wmdp, tmp_path, mlflow_parent):  # noqa: F811 — real_wmdp is the imported fixture
    tokenizer = tiny_tokenizer()
    model_dir = tmp_path / "base"
    tiny_model(tokenizer).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    dpo = {
        "beta": 0.1,
        "preferred_reference": "policy",
        "loss_normalisation": "batch_mean",
        "retain_term": "kl",
        "retain_weight": {"bio": 30.0, "cyber": 50.0},
        "n_trained_layers": 2,
        "optimization": TINY_OPTIMIZATION,
    }
    p1 = {
        "layer": 1,
        "layer_sweep": [0, 1],
        "nu_sweep": [0.0, 0.1],
        "max_length": 16,
        "forget_topics": "alternate",
        "rna": {"nu": 0.1, "nu_scale": "absolute"},
        "dpo": dpo,
        "methods": ["dpo"],
        "seeds": [0],
    }
    assert sweep_variants(p1, "dpo") == [Variant(0, 0.0), Variant(0, 0.1)]  # ℓ matters: it sets the trained blocks
    evaluation = {"batch_size": 8, "max_examples": 100, "mcq_format": "continuation"}
    rows = run_variants(
        base_dir=model_dir,
        wmdp_dir=real_wmdp,
        perturbed_file=real_wmdp / "perturbed.jsonl",
        p1=p1,
        evaluation=evaluation,
        method="dpo",
        seed=0,
        variants=[Variant(1, 0.0), Variant(1, 0.1)],
        device="cpu",
        threads=1,
        resume_dir=tmp_path,
        parent_file=mlflow_parent,
        run_name="p1_main_dpo_seed0",
        run_params={"method": "dpo"},
    )
    assert [(r["method"], r["layer"], r["nu"], r["nu_absolute"]) for r in rows] == [
        ("dpo", 1, 0.0, 0.0),
        ("dpo", 1, 0.1, 0.1),
    ]
    (run,) = child_runs(mlflow_parent).values()
    assert "layer1_nu0.1.preferred_logp" in run.data.metrics  # the refusals were batched
    base = {"method": "base", "hazard_acc": 0.5, "general_acc": 0.5, "perturbed_acc": 0.5}
    frame = report.runs_frame([base, *rows])
    table = report.main_table(frame, p1)
    assert table[["method", "variant", "seeds"]].values.tolist() == [
        ["base model", "", ""],
        ["dpo", "plain", 1],
        ["dpo", "+RNA", 1],
    ]
