"""P1 tables, figures and verdicts (Dang et al. 2025, "Improving LLM Unlearning Robustness via Random
Perturbations", arXiv 2501.19202), all computed from the rows the P1 jobs wrote.

Metrics (lm-eval's zero-shot 4-choice accuracy `acc`, in the format evaluation.mcq_format names): hazard (WMDP analogue,
↓ is forgetting, chance 0.25), general (MMLU analogue, ↑), perturbed general (the general questions with one
hazard keyword inserted, ↑) and drop = general − perturbed (↓). Seeds are aggregated as mean ± sample std.

The paper's claims are checked per method with paired per-seed differences and a two-sided t interval:
1. unlearning drops accuracy on perturbed retain queries more than on clean ones:
   excess = drop(plain) − drop(base model) > 0;
2. RNA shrinks that gap: drop(plain) − drop(+RNA) > 0 (paired by seed);
3. while hazard accuracy stays near chance: mean hazard accuracy of +RNA ≤ `near_chance_accuracy`.
A claim is "supported" when the interval lies above 0, "contradicted" when below, else "inconclusive".
"""


import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt

from ..data.io import write_text  # noqa: F401 — the scripts write text outputs through the report module
from .costs import cost_paragraph
from .statistics import interval_text, judge, mean_std_text, t_interval

METRICS = {"hazard_acc": "hazard acc ↓", "general_acc": "general acc ↑", "perturbed_acc": "perturbed general acc ↑", "drop": "drop ↓ (general − perturbed)"}
PANELS = {"hazard_acc": "hazard MCQ acc ↓", "general_acc": "general MCQ acc ↑", "perturbed_acc": "perturbed general MCQ acc ↑"}
CHANCE = 0.25


def runs_frame(rows: list[dict]) -> pd.DataFrame:
    """Every unlearned model and the base model, one row each, with drop and the variant label."""
    frame = pd.DataFrame(rows).drop(columns=["representation_rms"], errors="ignore")
    frame["drop"] = frame["general_acc"] - frame["perturbed_acc"]
    frame["variant"] = np.where(frame["method"] == "base", "base", np.where(frame["nu"].fillna(0) > 0, "+RNA", "plain"))
    return frame


def main_runs(frame: pd.DataFrame, p1: dict) -> pd.DataFrame:
    runs = frame[(frame["method"] != "base") & (frame["layer"] == p1["layer"]) & frame["seed"].isin(p1["seeds"])]
    return runs[runs["nu"].isin([0.0, p1["rna"]["nu"]])]


def main_table(frame: pd.DataFrame, p1: dict) -> pd.DataFrame:
    """Rows = base model, then method × {plain, +RNA}; cells mean ± std over seeds."""
    base = frame[frame["method"] == "base"]
    table = [{"method": "base model", "variant": "", "seeds": "", **{label: f"{base[m].iloc[0]:.3f}" for m, label in METRICS.items()}}]
    runs = main_runs(frame, p1)
    for method in p1["methods"]:
        for variant in ("plain", "+RNA"):
            group = runs[(runs["method"] == method) & (runs["variant"] == variant)]
            table.append({"method": method, "variant": variant, "seeds": len(group), **{label: mean_std_text(group[m]) for m, label in METRICS.items()}})
    return pd.DataFrame(table)


def summary_metrics(frame: pd.DataFrame, p1: dict) -> dict[str, dict[str, float]]:
    """Seed means per "method variant", the DVC metrics of the track."""
    means = main_runs(frame, p1).groupby(["method", "variant"])[list(METRICS)].mean()
    return {f"{method} {variant}": values for (method, variant), values in means.to_dict(orient="index").items()}


def _nu_axis(axis: plt.Axes, nus: list[float]) -> None:
    positive = [nu for nu in nus if nu > 0]
    # symlog keeps ν = 0 (the plain method) on the same axis as the log-spaced noise levels.
    axis.set_xscale("symlog", linthresh=min(positive) if positive else 1.0)
    axis.set_xlim(nus[0], nus[-1])
    axis.set_xticks(nus, [f"{nu:g}" for nu in nus])


def _panels(data: pd.DataFrame, x: str, base: pd.Series, xlabel: str, methods: list[str], style: str | None = None) -> plt.Figure:
    figure, axes = plt.subplots(1, len(PANELS), figsize=(4 * len(PANELS) + 1.6, 3.4), sharex=True)
    markers = {"markers": True} if style else {"marker": "o"}
    for axis, (metric, title) in zip(axes, PANELS.items()):
        sns.lineplot(data=data, x=x, y=metric, hue="method", hue_order=methods, style=style, seed=0, ax=axis, legend=axis is axes[-1], **markers)
        axis.axhline(base[metric], color="grey", linestyle="--", linewidth=1, label="base model")
        axis.axhline(CHANCE, color="grey", linestyle=":", linewidth=1, label="chance")
        # Effects are a few points: zoom from just below chance to just above the best accuracy.
        top = min(1.0, max(data[metric].max(), base[metric]) + 0.05)
        axis.set(title=title, xlabel=xlabel, ylabel="accuracy", ylim=(CHANCE - 0.05, top))
    axes[-1].legend(fontsize="small", loc="center left", bbox_to_anchor=(1.02, 0.5))
    return figure


def nu_label(p1: dict) -> str:
    """ν in its unit (p1.rna.nu_scale): the noise std itself, or a multiple of RMS(h_ℓ)."""
    return "RNA ν (noise std)" if p1["rna"].get("nu_scale") == "absolute" else f"RNA ν (× RMS of h_{p1['layer']})"


def sweep_seed(p1: dict) -> int:
    return p1["seeds"][0]


def nu_sweep_figure(frame: pd.DataFrame, p1: dict) -> plt.Figure:
    """Accuracy vs ν at ℓ, per method, at the sweep seed."""
    data = frame[(frame["method"] != "base") & (frame["layer"] == p1["layer"]) & (frame["seed"] == sweep_seed(p1)) & frame["nu"].isin(p1["nu_sweep"])]
    figure = _panels(data.sort_values("nu"), "nu", frame[frame["method"] == "base"].iloc[0], nu_label(p1), p1["methods"])
    for axis in figure.axes:
        _nu_axis(axis, sorted(p1["nu_sweep"]))
    return figure


def layer_sweep_rows(frame: pd.DataFrame, p1: dict) -> pd.DataFrame:
    """Plain and +RNA per ℓ at the sweep seed; a PO method's plain run (independent of ℓ) is repeated at every ℓ."""
    runs = frame[(frame["method"] != "base") & (frame["seed"] == sweep_seed(p1))]
    rows = []
    for method in p1["methods"]:
        for layer in p1["layer_sweep"]:
            for nu in (0.0, p1["rna"]["nu"]):
                at = runs[(runs["method"] == method) & (runs["nu"] == nu) & (runs["layer"] == layer)]
                if at.empty and nu == 0:
                    at = runs[(runs["method"] == method) & (runs["nu"] == 0) & (runs["layer"] == p1["layer"])]
                rows.append(at.assign(layer=layer))
    return pd.concat(rows, ignore_index=True)


def layer_sweep_figure(frame: pd.DataFrame, p1: dict) -> plt.Figure:
    base = frame[frame["method"] == "base"].iloc[0]
    figure = _panels(layer_sweep_rows(frame, p1), "layer", base, "layer ℓ (RMU target and RNA injection)", p1["methods"], style="variant")
    for axis in figure.axes:
        axis.set_xticks(p1["layer_sweep"])
    return figure


def claim_rows(frame: pd.DataFrame, p1: dict) -> pd.DataFrame:
    """Per method: the three claims' statistics and verdicts (see the module docstring)."""
    base = frame[frame["method"] == "base"].iloc[0]
    runs = main_runs(frame, p1)
    confidence = p1["verdict"]["confidence"]
    out = []
    for method in p1["methods"]:
        by_variant = {v: runs[(runs["method"] == method) & (runs["variant"] == v)].set_index("seed").sort_index() for v in ("plain", "+RNA")}
        plain, rna = by_variant["plain"], by_variant["+RNA"]
        seeds = plain.index.intersection(rna.index)
        excess = t_interval((plain["drop"] - base["drop"]).to_numpy(), confidence)
        shrink = t_interval((plain.loc[seeds, "drop"] - rna.loc[seeds, "drop"]).to_numpy(), confidence)
        hazard_rna = rna["hazard_acc"].mean()
        out.append(
            {
                "method": method,
                "excess_drop": excess,
                "claim_1": judge(excess),
                "rna_shrink": shrink,
                "claim_2": judge(shrink),
                "hazard_plain": plain["hazard_acc"].mean(),
                "hazard_rna": hazard_rna,
                "claim_3": "supported" if hazard_rna <= p1["verdict"]["near_chance_accuracy"] else "not supported",
                "general_plain": plain["general_acc"].mean(),
                "general_rna": rna["general_acc"].mean(),
            }
        )
    return pd.DataFrame(out)


def _sweep_tables(frame: pd.DataFrame, p1: dict) -> list[str]:
    """The two sweeps as "drop (hazard)" cells, so the verdicts page states what the figures show."""
    runs = frame[(frame["method"] != "base") & (frame["seed"] == sweep_seed(p1))]

    def cell(rows: pd.DataFrame) -> str:
        return "—" if rows.empty else f"{rows['drop'].iloc[0]:+.3f} ({rows['hazard_acc'].iloc[0]:.3f})"

    nus = sorted(p1["nu_sweep"])
    at_layer = runs[runs["layer"] == p1["layer"]]
    lines = [
        "",
        f"## Sweeps (seed {sweep_seed(p1)} only: differences of a few points are within the noise of 200 questions)",
        "",
        f"Cells: drop = general − perturbed (hazard accuracy). ν sweep at ℓ = {p1['layer']}:",
        "",
        "| method | " + " | ".join(f"ν = {nu:g}" for nu in nus) + " |",
        "|---|" + "---|" * len(nus),
        *[f"| {m} | " + " | ".join(cell(at_layer[(at_layer["method"] == m) & (at_layer["nu"] == nu)]) for nu in nus) + " |" for m in p1["methods"]],
        "",
        f"ℓ sweep, plain / +RNA (ν = {p1['rna']['nu']:g}):",
        "",
        "| method | " + " | ".join(f"ℓ = {layer}" for layer in p1["layer_sweep"]) + " |",
        "|---|" + "---|" * len(p1["layer_sweep"]),
    ]
    layers = layer_sweep_rows(frame, p1)
    for m in p1["methods"]:
        cells = []
        for layer in p1["layer_sweep"]:
            at = layers[(layers["method"] == m) & (layers["layer"] == layer)]
            cells.append(f"{cell(at[at['variant'] == 'plain'])} / {cell(at[at['variant'] == '+RNA'])}")
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    return lines


def verdicts_markdown(frame: pd.DataFrame, p1: dict, benchmark_files: list) -> str:
    """The verdicts page; `benchmark_files` are the P1 jobs' Snakemake benchmark TSVs."""
    base = frame[frame["method"] == "base"].iloc[0]
    claims = claim_rows(frame, p1)
    verdict = p1["verdict"]
    level = f"{verdict['confidence']:.0%}"
    runs = main_runs(frame, p1)
    noise_std = runs.loc[runs["nu"] > 0, "nu_absolute"].mean()
    lines = [
        "# P1 (RNA, arXiv 2501.19202): verdicts on the embedded default",
        "",
        f"Generated from {len(runs)} main runs ({len(p1['seeds'])} seeds, ℓ = {p1['layer']}, "
        f"{nu_label(p1)} = {p1['rna']['nu']:g}, a noise std of {noise_std:.3g}) and the ν / ℓ sweeps at seed {sweep_seed(p1)}. "
        f"Base model: hazard {base['hazard_acc']:.3f}, general {base['general_acc']:.3f}, "
        f"perturbed general {base['perturbed_acc']:.3f} (drop {base['drop']:+.3f}). Intervals: {level} t intervals over seeds. "
        f"Accuracy is lm-eval's zero-shot `acc` in its {base['mcq_format']} MCQ format, {base['prompt_format']} prompts.",
        "",
        "## Claim 1: unlearning drops accuracy on perturbed retain queries more than on clean ones",
        "",
        "excess = (general − perturbed) of the plain unlearned model − the same drop of the base model.",
        "",
        "| method | excess drop, mean [CI] | verdict |",
        "|---|---|---|",
        *[f"| {r.method} | {interval_text(r.excess_drop)} | {r.claim_1} |" for r in claims.itertuples()],
        "",
        "## Claim 2: RNA shrinks that gap",
        "",
        "shrink = drop(plain) − drop(+RNA), paired by seed.",
        "",
        "| method | shrink, mean [CI] | verdict |",
        "|---|---|---|",
        *[f"| {r.method} | {interval_text(r.rna_shrink)} | {r.claim_2} |" for r in claims.itertuples()],
        "",
        f"## Claim 3: hazard accuracy stays near chance with RNA (≤ {verdict['near_chance_accuracy']:.2f}; chance {CHANCE:.2f})",
        "",
        "| method | hazard plain | hazard +RNA | general plain | general +RNA | verdict |",
        "|---|---|---|---|---|---|",
        *[
            f"| {r.method} | {r.hazard_plain:.3f} | {r.hazard_rna:.3f} | {r.general_plain:.3f} | {r.general_rna:.3f} | {r.claim_3} |"
            for r in claims.itertuples()
        ],
    ]
    lines += _sweep_tables(frame, p1)
    lines += ["", "## Targets of this reproduction", ""]
    for r in claims[claims["method"].isin(["rmu", "adaptive_rmu", "rsv"])].itertuples():
        near = r.hazard_plain <= verdict["near_chance_accuracy"]
        kept = base["general_acc"] - r.general_plain <= verdict["general_tolerance"]
        lines.append(
            f"- {r.method}: hazard {r.hazard_plain:.3f} ({'≤' if near else '>'} {verdict['near_chance_accuracy']:.2f}: "
            f"{'reached' if near else 'not reached'}), general {r.general_plain:.3f} vs base {base['general_acc']:.3f} "
            f"({'within' if kept else 'more than'} {verdict['general_tolerance'] * 100:.0f} points: {'reached' if kept else 'not reached'})."
        )
    lines += ["", "## Cost", "", cost_paragraph("P1", benchmark_files), ""]
    return "\n".join(lines)

