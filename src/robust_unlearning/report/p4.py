"""P4 tables, figures and verdicts ("Towards Effective Evaluations and Comparisons for LLM Unlearning Methods",
arXiv 2406.09179) from the population and calibration JSONs of experiments/p4_evaluation.py.

- PCC table / Figure 2: for each candidate metric × attack × set (forget, retain), the Pearson correlation
  between the metric before and after the attack over the population of unlearned models, and the slope and
  intercept of the least-squares line after = slope · before + intercept. A robust metric keeps PCC ≈ 1 and
  slope ≈ 1: the attack may shift it, but it does not reorder the models.
- Calibrated table / Figure 3: forget ES (↓, exact and paraphrased questions) of every method variant at the
  calibrated mixing weight α*, next to the uncalibrated model (α = 1); ES of the forget and retain sets vs α.
- Verdicts: the measured answers to "is ES the most robust metric here?" and "does calibration change the
  ranking of methods?", with the track's job times and machine load.
"""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator
from scipy.stats import kendalltau, pearsonr

from ..data.io import write_text  # noqa: F401 — the scripts write text outputs through the report module
from ..eval.specs import METRIC_SPECS, P4_CANDIDATES
from .costs import cost_paragraph
from .statistics import mean_std_text

METRIC_NAMES = {name: METRIC_SPECS[name].label for name in P4_CANDIDATES}
ATTACK_NAMES = {"relearn": "relearning", "input_noise": "input noise", "jailbreak": "jailbreak prompt", "probing": "embedding probe"}
TRICK_NAMES = {"ts": "temperature scaling", "sel": "token-selective"}


def load_json(paths: list[str | Path]) -> list[dict]:
    return [json.loads(Path(path).read_text()) for path in paths]


def variant_label(variant: str) -> str:
    method, _, trick = variant.partition("-")
    return method.upper() + (f" + {TRICK_NAMES[trick]}" if trick else "")


# --- metric robustness (Figure 2, PCC table) ------------------------------------------------------------------


def population_frame(jobs: list[dict]) -> pd.DataFrame:
    """One row per model × attack × set × metric: its value before and after the attack."""
    rows = []
    for job in jobs:
        for model in job["models"]:
            for attack, table in model["after"].items():
                for split, metrics in table.items():
                    for metric, after in metrics.items():
                        rows.append({
                            "method": job["method"], "seed": job["seed"], "model": model["name"], "learning_rate_scale": model["learning_rate_scale"],
                            "epochs": model["epochs"], "attack": attack, "set": split, "metric": METRIC_NAMES.get(metric, metric),
                            "before": model["before"][split][metric], "after": after,
                        })
    return pd.DataFrame(rows)


def extras_frame(jobs: list[dict]) -> pd.DataFrame:
    """One row per model × attack × number an attack reports of itself (e.g. the probe's accuracy)."""
    return pd.DataFrame([{"method": job["method"], "model": model["name"], "attack": attack, "name": name, "value": value}
                         for job in jobs for model in job["models"] for attack, values in model["extra"].items() for name, value in values.items()])


def pcc_and_slope(before: np.ndarray, after: np.ndarray) -> tuple[float, float, float]:
    """(Pearson r, slope, intercept) of the least-squares line after ≈ slope · before + intercept.

    r is NaN when either side is constant (no ranking to keep); the slope is NaN when `before` is constant.
    """
    before, after = np.asarray(before, dtype=float), np.asarray(after, dtype=float)
    if len(before) < 2 or np.ptp(before) == 0:
        return math.nan, math.nan, math.nan
    slope, intercept = np.polyfit(before, after, 1)
    r = math.nan if np.ptp(after) == 0 else float(pearsonr(before, after).statistic)
    return r, float(slope), float(intercept)


def robustness_table(frame: pd.DataFrame) -> pd.DataFrame:
    """PCC and slope per metric × attack × set, over the whole population."""
    rows = []
    for (metric, attack, split), group in frame.groupby(["metric", "attack", "set"], sort=False):
        r, slope, intercept = pcc_and_slope(group.before.to_numpy(), group.after.to_numpy())
        rows.append({"metric": metric, "attack": ATTACK_NAMES.get(attack, attack), "set": split, "PCC": r, "slope": slope, "intercept": intercept,
                     "mean before": group.before.mean(), "mean after": group.after.mean(), "models": len(group)})
    return pd.DataFrame(rows)


def metric_ranking(table: pd.DataFrame, sets: tuple[str, ...] = ("forget", "retain")) -> pd.DataFrame:
    """Per metric: mean and worst PCC over attacks × `sets` (a NaN PCC counts as 0: the ranking was lost), mean |slope − 1|."""
    shown = table[table.set.isin(sets)].assign(PCC=lambda t: t.PCC.fillna(0.0))
    summary = shown.groupby("metric", sort=False).agg(mean_pcc=("PCC", "mean"), worst_pcc=("PCC", "min"),
                                                       mean_slope_error=("slope", lambda s: float(np.nanmean(np.abs(s - 1))) if s.notna().any() else math.nan))
    return summary.sort_values(["mean_pcc", "worst_pcc"], ascending=False).reset_index()


def bootstrap_most_robust(frame: pd.DataFrame, sets: tuple[str, ...] = ("forget", "retain"), n_resamples: int = 1000, seed: int = 0) -> pd.Series:
    """Share of bootstrap resamples of the population's models in which each metric has the highest mean PCC.

    Models are resampled with replacement and every PCC recomputed (a constant resample counts as 0, as in
    `metric_ranking`), so the share says how much the choice of the most robust metric owes to which models
    happen to be in the population.
    """
    shown = frame[frame.set.isin(sets)]
    models = list(shown.model.unique())
    samples = np.random.default_rng(seed).integers(0, len(models), size=(n_resamples, len(models)))
    per_metric: dict[str, list[np.ndarray]] = {}
    for (metric, _attack, _split), group in shown.groupby(["metric", "attack", "set"], sort=False):
        values = group.set_index("model").loc[models]
        before, after = values.before.to_numpy()[samples], values.after.to_numpy()[samples]
        db, da = before - before.mean(1, keepdims=True), after - after.mean(1, keepdims=True)
        denominator = np.sqrt((db**2).sum(1) * (da**2).sum(1))
        with np.errstate(invalid="ignore", divide="ignore"):
            r = np.where(denominator > 1e-12, (db * da).sum(1) / denominator, 0.0)
        per_metric.setdefault(metric, []).append(r)
    names = list(per_metric)
    means = np.stack([np.mean(per_metric[name], axis=0) for name in names])  # [metrics, resamples]
    winners = np.bincount(means.argmax(0), minlength=len(names)) / n_resamples
    return pd.Series(winners, index=names).sort_values(ascending=False)


def figure2(frame: pd.DataFrame, table: pd.DataFrame):
    """Scatter grid: metric (rows) × attack (columns), before (x) vs after (y), forget and retain sets, y = x dashed."""
    metrics = [m for m in METRIC_NAMES.values() if m in set(frame.metric)]
    attacks = list(dict.fromkeys(frame.attack))
    shown = frame.assign(attack=frame.attack.map(lambda a: ATTACK_NAMES.get(a, a)))
    grid = sns.relplot(data=shown, x="before", y="after", hue="set", style="method", row="metric", col="attack", row_order=metrics,
                       col_order=[ATTACK_NAMES.get(a, a) for a in attacks], hue_order=["forget", "retain"], height=2.1, aspect=1.0,
                       s=22, alpha=0.8, facet_kws={"sharex": False, "sharey": False})
    grid.set_titles("{row_name} · {col_name}", size=8)
    indexed = table.set_index(["metric", "attack", "set"])
    for (metric, attack), ax in grid.axes_dict.items():
        lo = min(ax.get_xlim()[0], ax.get_ylim()[0])
        hi = max(ax.get_xlim()[1], ax.get_ylim()[1])
        ax.plot([lo, hi], [lo, hi], ls="--", lw=0.8, color="grey")
        text = "\n".join(f"{split[0]}: r={indexed.loc[(metric, attack, split), 'PCC']:.2f}" for split in ("forget", "retain") if (metric, attack, split) in indexed.index)
        ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.tick_params(labelsize=7)
    grid.set_axis_labels("before attack", "after attack")
    # The figure-level legend overlaps the panels once save_figure applies tight_layout; an axes legend beside the
    # top-right panel is counted by tight_layout and does not.
    handles, labels = grid.axes.flat[0].get_legend_handles_labels()
    grid.legend.remove()
    grid.axes[0, -1].legend(handles, labels, fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return grid.figure


# --- calibration (calibrated table, Figure 3) ------------------------------------------------------------------


def calibration_frame(jobs: list[dict]) -> pd.DataFrame:
    """One row per variant × forget split × seed × τ: α* and the metrics there, plus the uncalibrated (α = 1) ones."""
    rows = []
    for job in jobs:
        for run in job["runs"]:
            for tau, point in run["calibrated"].items():
                rows.append({"variant": job["variant"], "method": variant_label(job["variant"]), "forget": run["forget"], "seed": run["seed"], "tau": float(tau),
                             "prompt_format": job["prompt_format"],
                             **{k: v for k, v in point.items() if isinstance(v, (int, float))},
                             **{f"uncalibrated_{k}": v for k, v in run["uncalibrated"].items()}})
    return pd.DataFrame(rows)


def calibrated_table(frame: pd.DataFrame, references: dict, tau: float, tau_sweep: list[float]) -> pd.DataFrame:
    """Methods × forget split: α*, forget ES (exact, paraphrased) and retain ES at α* for τ, then α = 1; α* and forget ES at the other τ."""
    rows = []
    for split, reference in references.items():
        rows.append({"Method": "target (α = 0)", "Forget": split, "α*": "—", "forget ES ↓": f"{reference['forget_extraction_strength']:.3f}",
                     "forget ES paraphrased ↓": f"{reference['forget_paraphrased_extraction_strength']:.3f}", "retain ES ↑": f"{reference['retain_extraction_strength']:.3f}",
                     "uncalibrated forget ES ↓": "—", "uncalibrated retain ES ↑": "—"})
    main = frame[frame.tau == tau]
    others = [t for t in sorted(tau_sweep) if t != tau]
    for row in rows:
        row.update({column: "—" for other in others for column in (f"α* (τ={other:g})", f"forget ES (τ={other:g}) ↓")})
    for (method, split), group in main.groupby(["method", "forget"], sort=False):
        row = {"Method": method, "Forget": split, "α*": mean_std_text(group.alpha), "forget ES ↓": mean_std_text(group.forget_extraction_strength),
               "forget ES paraphrased ↓": mean_std_text(group.forget_paraphrased_extraction_strength), "retain ES ↑": mean_std_text(group.retain_extraction_strength),
               "uncalibrated forget ES ↓": mean_std_text(group.uncalibrated_forget_extraction_strength),
               "uncalibrated retain ES ↑": mean_std_text(group.uncalibrated_retain_extraction_strength)}
        for other in others:
            sweep = frame[(frame.tau == other) & (frame.method == method) & (frame.forget == split)]
            row[f"α* (τ={other:g})"] = mean_std_text(sweep.alpha)
            row[f"forget ES (τ={other:g}) ↓"] = mean_std_text(sweep.forget_extraction_strength)
        rows.append(row)
    return pd.DataFrame(rows)


def curve_frame(jobs: list[dict]) -> pd.DataFrame:
    rows = []
    for job in jobs:
        for run in job["runs"]:
            for point in run["curve"]:
                for split in ("forget", "retain"):
                    rows.append({"method": variant_label(job["variant"]), "forget": run["forget"], "seed": run["seed"], "alpha": point["alpha"],
                                 "set": split, "ES": point[f"{split}_extraction_strength"]})
    return pd.DataFrame(rows)


def figure3(curves: pd.DataFrame, alpha_star: pd.Series | None = None):
    """ES of the forget and retain sets vs α, one panel per method, one line style per forget split; mean ± 95 % CI over seeds.

    `alpha_star` (seed-mean α* per method × forget split) adds a dotted vertical line per forget split.
    """
    grid = sns.relplot(data=curves, x="alpha", y="ES", hue="set", style="forget", col="method", col_wrap=4, kind="line", errorbar=("ci", 95),
                       n_boot=200, seed=0, height=2.3, aspect=1.1, hue_order=["forget", "retain"], marker="o", markersize=3)
    grid.set_titles("{col_name}", size=9)
    if alpha_star is not None:
        for (method, _split), alpha in alpha_star.items():
            if method in grid.axes_dict:
                grid.axes_dict[method].axvline(alpha, ls=":", lw=1, color="grey")
    grid.set_axis_labels("mixing weight α", "extraction strength")
    handles, labels = grid.axes.flat[0].get_legend_handles_labels()
    grid.legend.remove()
    grid.axes.flat[0].legend(handles, labels, fontsize="x-small", framealpha=0.8)
    return grid.figure


def ranking(frame: pd.DataFrame, column: str, decimals: int = 3) -> pd.Series:
    """Seed-mean `column` per method, rounded to `decimals` (closer values tie), ascending: lower forget ES = more forgetting."""
    return frame.groupby("method", sort=False)[column].mean().round(decimals).sort_values(kind="stable")


def order_text(means: pd.Series) -> str:
    """"A = B (0.000) < C (0.120)": methods with equal rounded means share a rank."""
    groups = means.groupby(means, sort=True).groups
    return " < ".join(" = ".join(names) + f" ({value:.3f})" for value, names in groups.items())


def compare_rankings(before: pd.Series, after: pd.Series) -> dict:
    """Kendall τ-b of two rankings of the same methods (ties allowed), whether the ranks are identical, whether the best set is."""
    ranks_before, ranks_after = before.rank(method="min"), after.rank(method="min")[before.index]
    tau = kendalltau(ranks_before, ranks_after).statistic if len(before) > 1 else math.nan
    best = lambda s: set(s[s == s.min()].index)  # noqa: E731
    return {"kendall_tau": float(tau), "same_order": bool((ranks_before == ranks_after).all()), "same_best": best(before) == best(after)}


# --- verdicts ----------------------------------------------------------------------------------------------------


def verdicts(
    table: pd.DataFrame, frame: pd.DataFrame, calibration: pd.DataFrame, tau: float, benchmark_files: list[str | Path], robust_sets=("forget", "retain"),
    extras: pd.DataFrame | None = None,
) -> str:
    both, forget_only = metric_ranking(table, tuple(robust_sets)), metric_ranking(table, ("forget",))
    best, best_forget = both.metric.iloc[0], forget_only.metric.iloc[0]
    es = both.set_index("metric").loc["ES"] if "ES" in set(both.metric) else None
    n_models = frame.model.nunique()
    out = [
        "# P4 verdicts: robust metric selection and calibration by model mixing (arXiv 2406.09179)", "",
        f"Generated from {n_models} unlearned models ({', '.join(sorted(frame.method.unique()))}) × {frame.attack.nunique()} attacks, "
        f"and {calibration[['variant', 'forget', 'seed']].drop_duplicates().shape[0]} calibrated unlearning runs. Every number below is computed by the workflow.", "",
        "## Is extraction strength the most robust metric here?", "",
        "*Paper:* ES keeps the highest before/after-attack Pearson correlation over unlearned models, so it is chosen as the unlearning metric.", "",
        f"Mean and worst PCC over attacks × {{{', '.join(robust_sets)}}} (an undefined PCC, a constant metric, counts as 0), and mean |slope − 1|:", "",
        "| metric | mean PCC | worst PCC | mean PCC, forget set | mean abs(slope − 1) |", "|---|---|---|---|---|",
    ]
    forget_pcc = forget_only.set_index("metric").mean_pcc
    for row in both.itertuples():
        out.append(f"| {row.metric} | {row.mean_pcc:.3f} | {row.worst_pcc:.3f} | {forget_pcc[row.metric]:.3f} | {row.mean_slope_error:.3f} |")
    runner_up = both.iloc[1] if len(both) > 1 else None
    margin = f" by {both.mean_pcc.iloc[0] - runner_up.mean_pcc:.3f} mean PCC over {runner_up.metric}" if runner_up is not None else ""
    shares = bootstrap_most_robust(frame, tuple(robust_sets))
    # "yes" only if ES also comes out first in most resamples of the models; a first place within resampling noise is said so.
    verdict = "no" if best != "ES" else ("yes" if shares.get("ES", 0.0) >= 0.5 else "only nominally (within resampling noise)")
    out += ["", f"*Measured:* the most robust metric by mean PCC over {' and '.join(robust_sets)} is **{best}**{margin}; on the forget set alone it is "
            f"**{best_forget}**. ES is the most robust here: **{verdict}**" + (f" (ES mean PCC {es.mean_pcc:.3f} vs {best} {both.mean_pcc.iloc[0]:.3f})." if verdict == "no" and es is not None else ".")
            + " Share of 1000 bootstrap resamples of the models in which each metric comes out most robust: "
            + ", ".join(f"{metric} {share:.0%}" for metric, share in shares.items()) + ".", ""]
    worst = both.sort_values("worst_pcc", ascending=False).iloc[0]
    out += [f"By the worst PCC over attacks × sets (the attack that disturbs a metric most) the most robust is **{worst.metric}** "
            f"({worst.worst_pcc:.3f}" + (f"; ES {es.worst_pcc:.3f}" if es is not None and worst.metric != "ES" else "") + ").", ""]
    out += ["PCC per metric × attack (forget / retain):", "", "| metric | " + " | ".join(dict.fromkeys(table.attack)) + " |", "|---|" + "---|" * table.attack.nunique()]
    indexed = table.set_index(["metric", "attack", "set"]).PCC
    for metric in dict.fromkeys(table.metric):
        cells = [f"{indexed.get((metric, attack, 'forget'), math.nan):.2f} / {indexed.get((metric, attack, 'retain'), math.nan):.2f}" for attack in dict.fromkeys(table.attack)]
        out.append(f"| {metric} | " + " | ".join(cells) + " |")
    es = frame[(frame.metric == "ES") & (frame.set == "forget")]
    clean = es.drop_duplicates("model").before
    out += ["", f"Before any attack the population's forget ES spans {clean.min():.3f}–{clean.max():.3f} (median {clean.median():.3f}). "
            "Mean shift of forget ES by each attack (after − before): "
            + ", ".join(f"{ATTACK_NAMES.get(a, a)} {g.after.mean() - g.before.mean():+.3f}" for a, g in es.groupby("attack", sort=False)) + "."]
    if extras is not None and not extras.empty and "probe_accuracy" in set(extras.name):
        probe = extras[extras.attack == "probing"].pivot_table(index="model", columns="name", values="value")
        out += ["", f"Embedding probe: key-token accuracy on the evaluated forget questions {probe.key_token_accuracy_before.mean():.3f} through the "
                f"model's own head vs {probe.probe_accuracy.mean():.3f} through the probe (mean over models; probe training accuracy "
                f"{probe.probe_train_accuracy.mean():.3f})."]

    out += ["", f"## Does calibration change the ranking of methods? (τ = {tau:g})", "",
            "*Paper:* comparing methods at matched retain ES (α*) rather than as trained changes which method looks best.", "",
            "Methods ordered by forget ES (↓, seed mean; lower is more forgetting):", "",
            "| forget | uncalibrated (α = 1) | calibrated (α*) | Kendall τ | same order | same best |", "|---|---|---|---|---|---|"]
    main = calibration[calibration.tau == tau]
    changed, best_changed = [], []
    for split, group in main.groupby("forget", sort=False):
        before, after = ranking(group, "uncalibrated_forget_extraction_strength"), ranking(group, "forget_extraction_strength")
        compared = compare_rankings(before, after)
        changed.append(not compared["same_order"])
        best_changed.append(not compared["same_best"])
        out.append(f"| {split} | {order_text(before)} | {order_text(after)} | {compared['kendall_tau']:.2f} | "
                   f"{'yes' if compared['same_order'] else 'no'} | {'yes' if compared['same_best'] else 'no'} |")
    retain = main.groupby(["forget"], sort=False).uncalibrated_retain_extraction_strength.agg(["min", "max"])
    out += ["", f"*Measured:* calibration changes the order of methods in **{sum(changed)} of {len(changed)}** forget splits "
            f"and the best method in **{sum(best_changed)} of {len(best_changed)}** (ranks from seed means rounded to 3 decimals). "
            "Uncalibrated, the methods' retain ES spans " + ", ".join(f"{row['min']:.3f}–{row['max']:.3f} ({split})" for split, row in retain.iterrows())
            + f"; at α* every method keeps at least τ = {tau:g} of the target's.", ""]
    tricks = main[main.variant.str.contains("-")]
    if not tricks.empty:
        out += ["## Do the ascent tricks help at matched retain ES?", "",
                "*Paper:* temperature scaling and token-selective ascent improve GA-type methods once compared at the calibrated α*.", "",
                "| method | forget | calibrated forget ES, plain | with the trick | Δ (seed means) | seeds improved |", "|---|---|---|---|---|---|"]
        for (variant, split), group in tricks.groupby(["variant", "forget"], sort=False):
            base = main[(main.variant == variant.partition("-")[0]) & (main.forget == split)].set_index("seed").forget_extraction_strength
            trick = group.set_index("seed").forget_extraction_strength
            paired = pd.DataFrame({"base": base, "trick": trick}).dropna()
            improved = int((paired.trick < paired.base).sum())
            out.append(f"| {variant_label(variant)} | {split} | {mean_std_text(paired.base)} | {mean_std_text(paired.trick)} | "
                       f"{paired.trick.mean() - paired.base.mean():+.3f} | {improved}/{len(paired)} |")
        out.append("")
    alpha = main.groupby(["method", "forget"], sort=False).alpha.mean().unstack()
    out += ["α* per method (seed mean):", "", "| method | " + " | ".join(alpha.columns) + " |", "|---|" + "---|" * len(alpha.columns)]
    out += [f"| {method} | " + " | ".join(f"{v:.3f}" for v in row) + " |" for method, row in alpha.iterrows()]
    evaluations = main.n_evaluations.max()
    out += ["", "## Cost", "",
            f"The bisection used at most {evaluations} retain-ES evaluations per model at τ = {tau:g}, plus the target's (α = 0), evaluated once per forget split "
            "and shared (budget: p4.calibration.max_evaluations).", "", cost_paragraph("P4", benchmark_files), ""]
    return "\n".join(out)
