"""P3 tables, figures and verdicts (Huang et al. 2024, Vaccine, arXiv 2402.01109), computed from the cells the
P3 jobs wrote: Table 1 (HS and FA per method × p, the EWC, KL and Vlguard fine-tuning baselines among the methods),
Table 2 (vs n, when p3.n_sweep is set), Table 6 (vs ρ).

Metrics, in % except drift: harmful score HS (↓, share of held-out harmful prompts whose greedy answer the judge
flags), fine-tune accuracy FA (↑, benign task), refusal rate (share of answers to harmful prompts with a refusal
phrase), harmful embedding drift (↓, L2 distance of the attention outputs on alignment data before vs after the
user's fine-tuning; relative: divided by their norm before). Seeds are aggregated as mean ± sample std.

Claims, each with paired per-seed differences and a two-sided t interval ("supported" when the interval lies
above 0, "contradicted" when below, else "inconclusive"):
1. harmful data raises HS: HS(largest p) − HS(smallest p) > 0, per method;
2. Vaccine lowers HS at equal p: HS(SFT) − HS(Vaccine) > 0 at each p > 0, with FA(SFT) − FA(Vaccine) ≤ fa_tolerance;
3. Table 6: HS falls as ρ grows, FA falls slightly (Spearman correlation with ρ over all sweep cells);
4. Vaccine reduces the harmful embedding drift: drift(SFT) − drift(Vaccine) > 0 at each p > 0.
"""


import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import pyplot as plt
from scipy import stats

from ..data.io import write_text  # noqa: F401 — the scripts write text outputs through the report module
from .costs import cost_paragraph
from .statistics import interval_text, judge, mean_std_text, t_interval

# EWC, KL and Vlguard are SFT alignment + a defended user fine-tuning (experiments/p3_vaccine.py METHODS), Table 1
# rows like the alignments.
LABELS = {
    "none": "non-aligned",
    "sft": "SFT",
    "vaccine": "Vaccine",
    "random": "random perturbation",
    "ewc": "EWC",
    "kl": "KL",
    "vlguard": "Vlguard",
}
PERTURBED = ("vaccine", "random")


def cells_frame(runs: list[dict]) -> pd.DataFrame:
    """One row per (alignment, seed, p) cell, with its alignment's summary and the aligned model's scores."""
    rows = []
    for run in runs:
        alignment = {f"alignment_{k}": v for k, v in run["alignment"].items()}
        aligned = {f"aligned_{k}": v for k, v in run["aligned"].items() if k != "sample_answers"}
        for cell in run["cells"]:
            cell = {k: v for k, v in cell.items() if k != "sample_answers"}
            provenance = {"prompt_format": run["prompt_format"], "judge": run["judge"]}
            rows.append({"method": run["method"], "rho": run["rho"], "seed": run["seed"], **provenance, **cell, **alignment, **aligned})
    frame = pd.DataFrame(rows)
    frame["label"] = [LABELS[m] + (f" (ρ={r:g})" if m in PERTURBED else "") for m, r in zip(frame["method"], frame["rho"])]
    return frame


def _table1_methods(frame: pd.DataFrame, p3: dict) -> pd.Series:
    return frame["method"].isin(p3["methods"]) & (~frame["method"].isin(PERTURBED) | (frame["rho"] == p3["rho"]))


def table1_cells(frame: pd.DataFrame, p3: dict) -> pd.DataFrame:
    """The Table 1 grid: every method of p3.methods (the perturbed ones at p3.rho) at every harmful ratio, n = n_finetune."""
    at = (frame["n"] == p3["n_finetune"]) & frame["harmful_ratio"].isin(p3["harmful_ratios"])
    return frame[_table1_methods(frame, p3) & at]


def rho_cells(frame: pd.DataFrame, p3: dict) -> pd.DataFrame:
    at = (frame["method"] == "vaccine") & frame["rho"].isin(p3["rho_sweep"]) & (frame["harmful_ratio"] == p3["rho_sweep_ratio"])
    return frame[at & (frame["n"] == p3["n_finetune"])]


def table2(frame: pd.DataFrame, p3: dict) -> pd.DataFrame:
    """Table 2: rows = method; HS and FA (%) at each n of the sweep, p = n_sweep_ratio; mean ± std over seeds."""
    cells = frame[_table1_methods(frame, p3) & (frame["harmful_ratio"] == p3["n_sweep_ratio"])]
    sizes = sorted(set(p3["n_sweep"]) | set(cells["n"]))
    rows = []
    for method in p3["methods"]:
        group = cells[cells["method"] == method]
        row = {"method": group["label"].iloc[0], "seeds": group["seed"].nunique()}
        for metric, name in (("harmful_score", "HS ↓"), ("finetune_accuracy", "FA ↑")):
            row.update({f"{name} n={n}": mean_std_text(group.loc[group["n"] == n, metric], 1) for n in sizes})
        rows.append(row)
    return pd.DataFrame(rows)


def table1(frame: pd.DataFrame, p3: dict) -> pd.DataFrame:
    """Rows = alignment method; columns HS and FA (%) at each p, then their averages over p; mean ± std over seeds."""
    cells = table1_cells(frame, p3)
    rows = []
    for method in p3["methods"]:
        group = cells[cells["method"] == method]
        row = {"method": group["label"].iloc[0], "seeds": group["seed"].nunique()}
        for metric, name in (("harmful_score", "HS ↓"), ("finetune_accuracy", "FA ↑")):
            for p in p3["harmful_ratios"]:
                row[f"{name} p={p:g}"] = mean_std_text(group.loc[group["harmful_ratio"] == p, metric], 1)
            # Average over p per seed first, so the std is over seeds like the other columns.
            row[f"{name} avg"] = mean_std_text(group.groupby("seed")[metric].mean(), 1)
        rows.append(row)
    return pd.DataFrame(rows)


def table6(frame: pd.DataFrame, p3: dict) -> pd.DataFrame:
    """Rows = ρ: HS, FA, refusal rate and relative drift at p = rho_sweep_ratio, and the aligned model's embedding norm."""
    cells = rho_cells(frame, p3)
    rows = []
    for rho in sorted(p3["rho_sweep"]):
        group = cells[cells["rho"] == rho]
        rows.append(
            {
                "ρ": f"{rho:g}",
                "seeds": group["seed"].nunique(),
                "HS ↓": mean_std_text(group["harmful_score"], 1),
                "FA ↑": mean_std_text(group["finetune_accuracy"], 1),
                "refusal rate": mean_std_text(group["refusal_rate"], 1),
                "relative drift ↓": mean_std_text(group["relative_embedding_drift"], 3),
                "aligned embedding norm": mean_std_text(group["aligned_embedding_norm"], 1),
            }
        )
    return pd.DataFrame(rows)


def summary_metrics(frame: pd.DataFrame, p3: dict) -> dict:
    """Seed means per "label p=…" (Table 1) and "Vaccine ρ=…" (Table 6), the DVC metrics of the track."""
    metrics = ["harmful_score", "finetune_accuracy", "refusal_rate", "embedding_drift", "relative_embedding_drift"]
    table = table1_cells(frame, p3).groupby(["label", "harmful_ratio"])[metrics].mean()
    sweep = rho_cells(frame, p3).groupby("rho")[metrics].mean()
    return {
        **{f"{label} p={p:g}": values for (label, p), values in table.to_dict(orient="index").items()},
        **{f"Vaccine ρ={rho:g} p={p3['rho_sweep_ratio']:g}": values for rho, values in sweep.to_dict(orient="index").items()},
    }


def _panels(data: pd.DataFrame, panels: dict[str, str], ratios: list[float]) -> plt.Figure:
    figure, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.6))
    for axis, (metric, title) in zip(axes, panels.items()):
        sns.lineplot(data=data, x="harmful_ratio", y=metric, hue="label", style="label", markers=True, dashes=False,
                     errorbar=("ci", 95), seed=0, ax=axis, legend=axis is axes[0])
        axis.set(title=title, xlabel="harmful ratio p", ylabel=title.split(" (")[0], xticks=ratios)
    axes[0].legend(title=None, fontsize="small")
    return figure


def hs_vs_p_figure(frame: pd.DataFrame, p3: dict) -> plt.Figure:
    """HS and FA vs p per method, mean and 95 % CI over seeds (the paper's Table 1 as curves)."""
    figure = _panels(table1_cells(frame, p3), {"harmful_score": "harmful score (%, ↓)", "finetune_accuracy": "fine-tune accuracy (%, ↑)"}, p3["harmful_ratios"])
    for axis in figure.axes:
        axis.set_ylim(-3, 103)
    return figure


def drift_vs_p_figure(frame: pd.DataFrame, p3: dict) -> plt.Figure:
    """Harmful embedding drift vs p per method: absolute (the paper's) and relative to the aligned model's norm."""
    return _panels(
        table1_cells(frame, p3),
        {"embedding_drift": "embedding drift (L2, ↓)", "relative_embedding_drift": "relative embedding drift (↓)"},
        p3["harmful_ratios"],
    )


def _by_seed(cells: pd.DataFrame, method: str, p: float, metric: str) -> pd.Series:
    return cells[(cells["method"] == method) & (cells["harmful_ratio"] == p)].set_index("seed")[metric]


def _paired(a: pd.Series, b: pd.Series, confidence: float) -> tuple[float, float, float]:
    seeds = a.index.intersection(b.index)
    return t_interval((a.loc[seeds] - b.loc[seeds]).to_numpy(), confidence)


def _wins(a: pd.Series, b: pd.Series) -> str:
    seeds = a.index.intersection(b.index)
    return f"{int((a.loc[seeds] > b.loc[seeds]).sum())}/{len(seeds)}"


def _spearman(x: pd.Series, y: pd.Series, confidence: float) -> tuple[float, float, str]:
    r, p_value = stats.spearmanr(x, y)
    if np.isnan(r):
        return r, p_value, "inconclusive (constant)"
    if p_value >= 1 - confidence:
        return r, p_value, "inconclusive"
    return r, p_value, "falls" if r < 0 else "rises"


def verdicts_markdown(frame: pd.DataFrame, p3: dict, benchmark_files: list) -> str:
    """The claims above, the reproduction's targets and the track's cost, from the cells and the jobs' benchmark TSVs."""
    verdict, confidence = p3["verdict"], p3["verdict"]["confidence"]
    cells = table1_cells(frame, p3)
    ratios = sorted(p3["harmful_ratios"])
    low_p, high_p = ratios[0], ratios[-1]
    level = f"{confidence:.0%}"
    methods = p3["methods"]
    columns = ["harmful_score", "finetune_accuracy", "refusal_rate", "embedding_drift", "relative_embedding_drift", "aligned_embedding_norm"]
    mean = cells.groupby(["method", "harmful_ratio"])[columns].mean()
    lines = [
        "# P3 (Vaccine, arXiv 2402.01109): verdicts on the embedded default",
        "",
        f"Generated from {len(cells)} Table 1 cells ({len(methods)} alignments × {len(ratios)} harmful ratios × "
        f"{len(p3['seeds'])} seeds, n = {p3['n_finetune']}, Vaccine ρ = {p3['rho']:g}) and {len(rho_cells(frame, p3))} ρ-sweep cells "
        f"(p = {p3['rho_sweep_ratio']:g}). Judge: {p3['judge']}. Intervals: {level} t intervals over seeds, paired by seed.",
        "",
        "Seed means; the aligned embedding norm is the mean ||E(x)|| over the drift examples before the user's fine-tuning.",
        "",
        "| alignment | p | HS % | FA % | refusal % | drift | relative drift | aligned embedding norm |",
        "|---|---|---|---|---|---|---|---|",
        *[
            f"| {LABELS[m]} | {p:g} | {r.harmful_score:.1f} | {r.finetune_accuracy:.1f} | {r.refusal_rate:.1f} | {r.embedding_drift:.2f} "
            f"| {r.relative_embedding_drift:.3f} | {r.aligned_embedding_norm:.1f} |"
            for m in methods
            for p in ratios
            for r in [mean.loc[(m, p)]]
        ],
        "",
        f"## Claim 1: harmful data raises HS (HS at p = {high_p:g} − HS at p = {low_p:g})",
        "",
        "| alignment | difference (points), mean [CI] | verdict |",
        "|---|---|---|",
    ]
    for method in methods:
        interval = _paired(_by_seed(cells, method, high_p, "harmful_score"), _by_seed(cells, method, low_p, "harmful_score"), confidence)
        lines.append(f"| {LABELS[method]} | {interval_text(interval, 1)} | {judge(interval)} |")
    lines += [""]
    if {"sft", "vaccine"} <= set(methods):
        lines += [
            f"## Claim 2: Vaccine lowers HS at equal p, with FA within {verdict['fa_tolerance']:g} points of SFT",
            "",
            "| p | HS(SFT) − HS(Vaccine), mean [CI] | seeds with HS(SFT) > HS(Vaccine) | HS verdict | FA(SFT) − FA(Vaccine), mean [CI] | FA within tolerance | verdict |",
            "|---|---|---|---|---|---|---|",
        ]
        for p in [p for p in ratios if p > 0]:
            hs_sft, hs_vaccine = _by_seed(cells, "sft", p, "harmful_score"), _by_seed(cells, "vaccine", p, "harmful_score")
            hs = _paired(hs_sft, hs_vaccine, confidence)
            fa = _paired(_by_seed(cells, "sft", p, "finetune_accuracy"), _by_seed(cells, "vaccine", p, "finetune_accuracy"), confidence)
            within = fa[0] <= verdict["fa_tolerance"]
            both = "supported" if judge(hs) == "supported" and within else "not supported" if not within else judge(hs)
            lines.append(f"| {p:g} | {interval_text(hs, 1)} | {_wins(hs_sft, hs_vaccine)} | {judge(hs)} | {interval_text(fa, 1)} | {'yes' if within else 'no'} | {both} |")
        refusals = cells.groupby("method")[["aligned_refusal_rate", "refusal_rate"]].mean()
        lines += [
            "",
            "Whether a low HS comes from refusals or from answers without harmful content: refusal rate on the held-out "
            "harmful prompts before → after the user's fine-tuning (mean over p and seeds): "
            + ", ".join(f"{LABELS[m]} {refusals.loc[m, 'aligned_refusal_rate']:.1f} % → {refusals.loc[m, 'refusal_rate']:.1f} %" for m in ("sft", "vaccine"))
            + " (the runs' sample answers are in results/p3/runs/).",
            "",
            "## Claim 4: Vaccine reduces the harmful embedding drift (drift(SFT) − drift(Vaccine))",
            "",
            "| p | absolute drift, mean [CI] | verdict | relative drift, mean [CI] | verdict |",
            "|---|---|---|---|---|",
        ]
        for p in [p for p in ratios if p > 0]:
            absolute = _paired(_by_seed(cells, "sft", p, "embedding_drift"), _by_seed(cells, "vaccine", p, "embedding_drift"), confidence)
            relative = _paired(_by_seed(cells, "sft", p, "relative_embedding_drift"), _by_seed(cells, "vaccine", p, "relative_embedding_drift"), confidence)
            lines.append(f"| {p:g} | {interval_text(absolute, 2)} | {judge(absolute)} | {interval_text(relative, 3)} | {judge(relative)} |")
        lines += [""]
    sweep = rho_cells(frame, p3)
    if sweep["rho"].nunique() > 1:
        hs_r, hs_p, hs_trend = _spearman(sweep["rho"], sweep["harmful_score"], confidence)
        fa_r, fa_p, fa_trend = _spearman(sweep["rho"], sweep["finetune_accuracy"], confidence)
        by_rho = sweep.groupby("rho")[["harmful_score", "finetune_accuracy", "alignment_attention_output_norm", "aligned_embedding_norm"]].mean()
        fa_loss = by_rho["finetune_accuracy"].iloc[0] - by_rho["finetune_accuracy"].iloc[-1]
        slightly = fa_loss <= verdict["fa_tolerance"]
        lines += [
            f"## Claim 3 (Table 6): HS falls as ρ grows, FA falls slightly (Vaccine, p = {p3['rho_sweep_ratio']:g})",
            "",
            f"- HS vs ρ: Spearman r = {hs_r:+.2f} (p-value {hs_p:.3f}): HS {hs_trend} with ρ → "
            f"{'supported' if hs_trend == 'falls' else 'contradicted' if hs_trend == 'rises' else 'inconclusive'}.",
            f"- FA vs ρ: Spearman r = {fa_r:+.2f} (p-value {fa_p:.3f}): FA {fa_trend} with ρ; FA from "
            f"{by_rho['finetune_accuracy'].iloc[0]:.1f} % (ρ = {by_rho.index[0]:g}) to {by_rho['finetune_accuracy'].iloc[-1]:.1f} % "
            f"(ρ = {by_rho.index[-1]:g}): a loss of {fa_loss:.1f} points, {'within' if slightly else 'more than'} the "
            f"{verdict['fa_tolerance']:g} points counted as slight → {'supported' if slightly else 'not supported'}.",
            "- ρ is absolute, as in the paper, and a model can make a fixed ρ relatively small by growing its attention "
            "outputs. ||(e_1, …, e_L)|| over an alignment batch at the end of alignment: "
            + ", ".join(f"{n:.0f} at ρ = {r:g}" for r, n in by_rho["alignment_attention_output_norm"].items())
            + "; the aligned model's mean embedding norm on the drift examples: "
            + ", ".join(f"{n:.1f} at ρ = {r:g}" for r, n in by_rho["aligned_embedding_norm"].items())
            + (f" (SFT: {cells.loc[cells['method'] == 'sft', 'aligned_embedding_norm'].mean():.1f})." if "sft" in methods else "."),
            "",
        ]
    lines += ["## Targets of this reproduction", ""]
    if "sft" in methods:
        hs0, fa0 = mean.loc[("sft", low_p), "harmful_score"], mean.loc[("sft", low_p), "finetune_accuracy"]
        lines.append(
            f"- SFT at p = {low_p:g}: HS {hs0:.1f} % ({'≤' if hs0 <= verdict['hs_target'] else '>'} {verdict['hs_target']:g} %: "
            f"{'reached' if hs0 <= verdict['hs_target'] else 'not reached'}), FA after the user's fine-tuning {fa0:.1f} % "
            f"({'≥' if fa0 >= verdict['fa_target'] else '<'} {verdict['fa_target']:g} %: {'reached' if fa0 >= verdict['fa_target'] else 'not reached'})."
        )
    lowest_fa = cells.groupby(["method", "harmful_ratio"])["finetune_accuracy"].mean()
    (worst_method, worst_p), worst = lowest_fa.idxmin(), lowest_fa.min()
    lines.append(f"- Lowest mean FA of any Table 1 cell: {worst:.1f} % ({LABELS[worst_method]}, p = {worst_p:g}).")
    step_time = frame.drop_duplicates(["method", "rho", "seed"]).groupby(["method", "rho"])["alignment_seconds_per_step"].mean()
    if "sft" in methods and "vaccine" in methods:
        ratio = step_time.loc[("vaccine", p3["rho"])] / step_time.loc[("sft", 0.0)]
        lines.append(
            f"- Vaccine's alignment step costs {ratio:.2f}× SFT's ({step_time.loc[('vaccine', p3['rho'])]:.3f} s vs "
            f"{step_time.loc[('sft', 0.0)]:.3f} s per step, measured inside the jobs while other jobs ran; "
            "benchmarks/bench_vaccine_step.py measures it alone)."
        )
    lines += ["", "## Cost", "", cost_paragraph("P3", benchmark_files), ""]
    return "\n".join(lines)

