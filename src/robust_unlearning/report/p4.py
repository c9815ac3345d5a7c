"""P4 tables, figures and verdicts ("Towards Effective Evaluations and Comparisons for LLM Unlearning Methods",
arXiv 2406.09179) from the population and calibration JSONs the P4 jobs wrote.

- PCC table / Figure 2: for each candidate metric × attack × set (forget, retain), the Pearson correlation
  between the metric before and after the attack over the population of unlearned models, and the slope and
  intercept of the least-squares line after = slope · before + intercept. A robust metric keeps PCC ≈ 1 and
  slope ≈ 1: the attack may shift it, but it does not reorder the models.
- Calibrated table / Figure 3: forget ES (↓, exact and paraphrased questions) of every method variant at the
  calibrated mixing weight α*, next to the uncalibrated model (α = 1); ES of the forget and retain sets vs α.
- Setting (SETTING, the verdicts page's opening section): the population spans forget ES, so that a before/after
  correlation measures robustness and not two clusters, and the target knows each forget set, so that calibrated
  forget ES has something to compare methods on.
- Verdicts (CLAIMS): the measured answers to "is ES the most robust metric here?", "does calibration change the
  ranking of methods?" and "do the ascent tricks help at matched retain ES?", with the track's job times and load.
"""

import json
import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.ticker import MaxNLocator
from scipy.stats import kendalltau, pearsonr

from ..data.io import write_text  # noqa: F401 — the scripts write text outputs through the report module
from ..eval.specs import METRIC_SPECS
from .claims import Claim, Judged, Section, fill, judge_claims, listing, markdown_table, verdicts_page
from .costs import cost_paragraph
from .setting import Precondition, judge_setting, setting_section
from .statistics import direction, mean_std_text

ATTACK_NAMES = {
    "relearn": "relearning",
    "input_noise": "input noise",
    "jailbreak": "jailbreak prompt",
    "probing": "embedding probe",
}
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
                        rows.append(
                            {
                                "method": job["method"],
                                "seed": job["seed"],
                                "model": model["name"],
                                "learning_rate_scale": model["learning_rate_scale"],
                                "epochs": model["epochs"],
                                "attack": attack,
                                "set": split,
                                "metric": METRIC_SPECS[metric].label,
                                "before": model["before"][split][metric],
                                "after": after,
                            }
                        )
    return pd.DataFrame(rows)


def extras_frame(jobs: list[dict]) -> pd.DataFrame:
    """One row per model × attack × number an attack reports of itself (e.g. the probe's accuracy)."""
    return pd.DataFrame(
        [
            {"method": job["method"], "model": model["name"], "attack": attack, "name": name, "value": value}
            for job in jobs
            for model in job["models"]
            for attack, values in model["extra"].items()
            for name, value in values.items()
        ]
    )


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
        rows.append(
            {
                "metric": metric,
                "attack": ATTACK_NAMES.get(attack, attack),
                "set": split,
                "PCC": r,
                "slope": slope,
                "intercept": intercept,
                "mean before": group.before.mean(),
                "mean after": group.after.mean(),
                "models": len(group),
            }
        )
    return pd.DataFrame(rows)


def metric_ranking(table: pd.DataFrame, sets: tuple[str, ...] = ("forget", "retain")) -> pd.DataFrame:
    """Per metric: mean and worst PCC over attacks × `sets` (a NaN PCC counts as 0: the ranking was lost), mean |slope − 1|."""
    shown = table[table.set.isin(sets)].assign(PCC=lambda t: t.PCC.fillna(0.0))
    summary = shown.groupby("metric", sort=False).agg(
        mean_pcc=("PCC", "mean"),
        worst_pcc=("PCC", "min"),
        mean_slope_error=("slope", lambda s: float(np.nanmean(np.abs(s - 1))) if s.notna().any() else math.nan),
    )
    return summary.sort_values(["mean_pcc", "worst_pcc"], ascending=False).reset_index()


def bootstrap_most_robust(
    frame: pd.DataFrame, sets: tuple[str, ...] = ("forget", "retain"), n_resamples: int = 1000, seed: int = 0
) -> pd.Series:
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


def figure2(frame: pd.DataFrame, table: pd.DataFrame, metrics: list[str]):
    """Scatter grid: metric (rows, in the order of `metrics`, p4.metrics) × attack (columns), before (x) vs after
    (y), forget and retain sets, y = x dashed."""
    metrics = [METRIC_SPECS[name].label for name in metrics]
    attacks = list(dict.fromkeys(frame.attack))
    shown = frame.assign(attack=frame.attack.map(lambda a: ATTACK_NAMES.get(a, a)))
    grid = sns.relplot(
        data=shown,
        x="before",
        y="after",
        hue="set",
        style="method",
        row="metric",
        col="attack",
        row_order=metrics,
        col_order=[ATTACK_NAMES.get(a, a) for a in attacks],
        hue_order=["forget", "retain"],
        height=2.1,
        aspect=1.0,
        s=22,
        alpha=0.8,
        facet_kws={"sharex": False, "sharey": False},
    )
    grid.set_titles("{row_name} · {col_name}", size=8)
    indexed = table.set_index(["metric", "attack", "set"])
    for (metric, attack), ax in grid.axes_dict.items():
        lo = min(ax.get_xlim()[0], ax.get_ylim()[0])
        hi = max(ax.get_xlim()[1], ax.get_ylim()[1])
        ax.plot([lo, hi], [lo, hi], ls="--", lw=0.8, color="grey")
        text = "\n".join(
            f"{split[0]}: r={indexed.loc[(metric, attack, split), 'PCC']:.2f}"
            for split in ("forget", "retain")
            if (metric, attack, split) in indexed.index
        )
        ax.text(0.03, 0.97, text, transform=ax.transAxes, va="top", fontsize=7)
        ax.xaxis.set_major_locator(MaxNLocator(3))
        ax.yaxis.set_major_locator(MaxNLocator(4))
        ax.tick_params(labelsize=7)
    grid.set_axis_labels("before attack", "after attack")
    # The figure-level legend overlaps the panels once save_figure applies tight_layout; an axes legend beside the
    # top-right panel is counted by tight_layout and does not.
    handles, labels = grid.axes.flat[0].get_legend_handles_labels()
    grid.legend.remove()
    grid.axes[0, -1].legend(
        handles, labels, fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False
    )
    return grid.figure


# --- calibration (calibrated table, Figure 3) ------------------------------------------------------------------


def calibration_frame(jobs: list[dict]) -> pd.DataFrame:
    """One row per variant × forget split × seed × τ: α* and the metrics there, plus the uncalibrated (α = 1) ones."""
    rows = []
    for job in jobs:
        for run in job["runs"]:
            for tau, point in run["calibrated"].items():
                rows.append(
                    {
                        "variant": job["variant"],
                        "method": variant_label(job["variant"]),
                        "forget": run["forget"],
                        "seed": run["seed"],
                        "tau": float(tau),
                        "prompt_format": job["prompt_format"],
                        **{k: v for k, v in point.items() if isinstance(v, (int, float))},
                        **{f"uncalibrated_{k}": v for k, v in run["uncalibrated"].items()},
                    }
                )
    return pd.DataFrame(rows)


def calibrated_table(frame: pd.DataFrame, references: dict, tau: float, tau_sweep: list[float]) -> pd.DataFrame:
    """Methods × forget split: α*, forget ES (exact, paraphrased) and retain ES at α* for τ, then α = 1; α* and forget ES at the other τ."""
    rows = []
    for split, reference in references.items():
        rows.append(
            {
                "Method": "target (α = 0)",
                "Forget": split,
                "α*": "—",
                "forget ES ↓": f"{reference['forget_extraction_strength']:.3f}",
                "forget ES paraphrased ↓": f"{reference['forget_paraphrased_extraction_strength']:.3f}",
                "retain ES ↑": f"{reference['retain_extraction_strength']:.3f}",
                "uncalibrated forget ES ↓": "—",
                "uncalibrated retain ES ↑": "—",
            }
        )
    main = frame[frame.tau == tau]
    others = [t for t in sorted(tau_sweep) if t != tau]
    for row in rows:
        row.update({column: "—" for other in others for column in (f"α* (τ={other:g})", f"forget ES (τ={other:g}) ↓")})
    for (method, split), group in main.groupby(["method", "forget"], sort=False):
        row = {
            "Method": method,
            "Forget": split,
            "α*": mean_std_text(group.alpha),
            "forget ES ↓": mean_std_text(group.forget_extraction_strength),
            "forget ES paraphrased ↓": mean_std_text(group.forget_paraphrased_extraction_strength),
            "retain ES ↑": mean_std_text(group.retain_extraction_strength),
            "uncalibrated forget ES ↓": mean_std_text(group.uncalibrated_forget_extraction_strength),
            "uncalibrated retain ES ↑": mean_std_text(group.uncalibrated_retain_extraction_strength),
        }
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
                    rows.append(
                        {
                            "method": variant_label(job["variant"]),
                            "forget": run["forget"],
                            "seed": run["seed"],
                            "alpha": point["alpha"],
                            "set": split,
                            "ES": point[f"{split}_extraction_strength"],
                        }
                    )
    return pd.DataFrame(rows)


def figure3(curves: pd.DataFrame, alpha_star: pd.Series | None = None):
    """ES of the forget and retain sets vs α, one panel per method, one line style per forget split; mean ± 95 % CI over seeds.

    `alpha_star` (seed-mean α* per method × forget split) adds a dotted vertical line per forget split.
    """
    grid = sns.relplot(
        data=curves,
        x="alpha",
        y="ES",
        hue="set",
        style="forget",
        col="method",
        col_wrap=4,
        kind="line",
        errorbar=("ci", 95),
        n_boot=200,
        seed=0,
        height=2.3,
        aspect=1.1,
        hue_order=["forget", "retain"],
        marker="o",
        markersize=3,
    )
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
    """ "A = B (0.000) < C (0.120)": methods with equal rounded means share a rank."""
    groups = means.groupby(means, sort=True).groups
    return " < ".join(" = ".join(names) + f" ({value:.3f})" for value, names in groups.items())


def compare_rankings(before: pd.Series, after: pd.Series) -> dict:
    """Kendall τ-b of two rankings of the same methods (ties allowed), whether the ranks are identical, whether the best set is."""
    ranks_before, ranks_after = before.rank(method="min"), after.rank(method="min")[before.index]
    tau = kendalltau(ranks_before, ranks_after).statistic if len(before) > 1 else math.nan
    best = lambda s: set(s[s == s.min()].index)  # noqa: E731
    return {
        "kendall_tau": float(tau),
        "same_order": bool((ranks_before == ranks_after).all()),
        "same_best": best(before) == best(after),
    }


# --- claims ------------------------------------------------------------------------------------------------------

TITLE = "P4 verdicts: robust metric selection and calibration by model mixing (arXiv 2406.09179)"
PREAMBLE = (
    "Generated from {models} unlearned models ({methods}) × {attacks} attacks, and {calibrated_runs} calibrated "
    "unlearning runs. Every number below is computed by the workflow."
)


@dataclass(frozen=True)
class Results:
    """What P4's claims are measured on: the robustness table, the population, the calibration runs and the
    settings the claims are read at."""

    robustness: pd.DataFrame
    population: pd.DataFrame
    calibration: pd.DataFrame
    tau: float
    robust_sets: tuple[str, ...]
    extras: pd.DataFrame | None
    references: dict  # the target's (α = 0) scores per forget split: a calibration job's "references"

    @cached_property
    def calibrated(self) -> pd.DataFrame:
        """The calibration runs at the page's τ."""
        return self.calibration[self.calibration.tau == self.tau]


def _metric_robustness(results: Results) -> pd.DataFrame:
    """Per metric, most robust first: mean and worst PCC over attacks × the robust sets, mean PCC on the forget set."""
    ranked = metric_ranking(results.robustness, results.robust_sets)
    forget_pcc = metric_ranking(results.robustness, ("forget",)).set_index("metric").mean_pcc
    return ranked.assign(forget_pcc=ranked.metric.map(forget_pcc))


def _most_robust(rows: pd.DataFrame, results: Results) -> dict:
    """The most robust metric by mean PCC (and on the forget set alone, and by worst PCC), its lead, and whether ES
    is it: "yes" only if ES also comes out first in most bootstrap resamples of the models."""
    shares = bootstrap_most_robust(results.population, results.robust_sets)
    best = rows.metric.iloc[0]
    if best != "ES":
        es_verdict = "no"
    else:
        es_verdict = "yes" if shares.get("ES", 0.0) >= 0.5 else "only nominally (within resampling noise)"
    return {
        "best": best,
        "best_pcc": rows.mean_pcc.iloc[0],
        "runner_up": rows.iloc[1] if len(rows) > 1 else None,
        "best_forget": metric_ranking(results.robustness, ("forget",)).metric.iloc[0],
        "es": rows.set_index("metric").loc["ES"] if "ES" in set(rows.metric) else None,
        "best_worst_case": rows.sort_values("worst_pcc", ascending=False).iloc[0],
        "shares": listing(({"metric": m, "share": share} for m, share in shares.items()), "{metric} {share:.0%}"),
        "es_verdict": es_verdict,
    }


def _robustness_conclusion(judged: Judged) -> str:
    facts = judged.facts
    runner_up, es = facts["runner_up"], facts["es"]
    lead = (
        ""
        if runner_up is None
        else f" by {facts['best_pcc'] - runner_up.mean_pcc:.3f} mean PCC over {runner_up.metric}"
    )
    against_es = "."
    if facts["es_verdict"] == "no" and es is not None:
        against_es = f" (ES mean PCC {es.mean_pcc:.3f} vs {facts['best']} {facts['best_pcc']:.3f})."
    return (
        f"*Measured:* the most robust metric by mean PCC over {' and '.join(judged.results.robust_sets)} is "
        f"**{facts['best']}**{lead}; on the forget set alone it is **{facts['best_forget']}**. "
        f"ES is the most robust here: **{facts['es_verdict']}**{against_es} Share of 1000 bootstrap resamples of the "
        f"models in which each metric comes out most robust: {facts['shares']}."
    )


def _worst_case_conclusion(judged: Judged) -> str:
    best, es = judged.facts["best_worst_case"], judged.facts["es"]
    against_es = f"; ES {es.worst_pcc:.3f}" if es is not None and best.metric != "ES" else ""
    return (
        "By the worst PCC over attacks × sets (the attack that disturbs a metric most) the most robust is "
        f"**{best.metric}** ({best.worst_pcc:.3f}{against_es})."
    )


def _pcc_per_attack(judged: Judged) -> str:
    table = judged.results.robustness
    attacks = list(dict.fromkeys(table.attack))
    pcc = table.set_index(["metric", "attack", "set"]).PCC
    rows = [
        [
            metric,
            *(
                " / ".join(f"{pcc.get((metric, attack, split), math.nan):.2f}" for split in ("forget", "retain"))
                for attack in attacks
            ),
        ]
        for metric in dict.fromkeys(table.metric)
    ]
    return markdown_table(["metric", *attacks], rows)


def _forget_es_shifts(judged: Judged) -> str:
    frame = judged.results.population
    es = frame[(frame.metric == "ES") & (frame.set == "forget")]
    clean = es.drop_duplicates("model").before
    shifts = ", ".join(
        f"{ATTACK_NAMES.get(attack, attack)} {group.after.mean() - group.before.mean():+.3f}"
        for attack, group in es.groupby("attack", sort=False)
    )
    return (
        f"Before any attack the population's forget ES spans {clean.min():.3f}–{clean.max():.3f} "
        f"(median {clean.median():.3f}). Mean shift of forget ES by each attack (after − before): {shifts}."
    )


def _probe(judged: Judged) -> str | None:
    """What the embedding probe reads, when the population was probed."""
    extras = judged.results.extras
    if extras is None or extras.empty or "probe_accuracy" not in set(extras.name):
        return None
    probe = extras[extras.attack == "probing"].pivot_table(index="model", columns="name", values="value")
    return (
        "Embedding probe: key-token accuracy on the evaluated forget questions "
        f"{probe.key_token_accuracy_before.mean():.3f} through the model's own head "
        f"vs {probe.probe_accuracy.mean():.3f} through the probe (mean over models; probe training accuracy {probe.probe_train_accuracy.mean():.3f})."
    )


def _rankings(results: Results) -> pd.DataFrame:
    """Per forget split: the methods ordered by seed-mean forget ES uncalibrated (α = 1) and at α*, how the two
    orders agree (compare_rankings), and the span of the methods' uncalibrated retain ES."""
    rows = []
    for split, group in results.calibrated.groupby("forget", sort=False):
        before = ranking(group, "uncalibrated_forget_extraction_strength")
        after = ranking(group, "forget_extraction_strength")
        retain = group.uncalibrated_retain_extraction_strength
        rows.append(
            {
                "forget": split,
                "uncalibrated": order_text(before),
                "calibrated": order_text(after),
                "ranks": compare_rankings(before, after),
                "retain_min": retain.min(),
                "retain_max": retain.max(),
            }
        )
    return pd.DataFrame(rows)


def _ranking_changes(rows: pd.DataFrame, _results: Results) -> dict:
    return {
        "splits": len(rows),
        "order_changed": int((~rows.same_order).sum()),
        "best_changed": int((~rows.same_best).sum()),
        "retain_spans": listing(rows.to_dict("records"), "{retain_min:.3f}–{retain_max:.3f} ({forget})"),
    }


def _tricks(results: Results) -> pd.DataFrame:
    """The calibrated runs of method variants with an ascent trick (named "method-trick")."""
    main = results.calibrated
    return main[main.variant.str.contains("-")]


def _trick_gains(results: Results) -> pd.DataFrame:
    """Per trick variant × forget split: calibrated forget ES of the plain method and with the trick, paired by seed."""
    main, rows = results.calibrated, []
    for (variant, split), group in _tricks(results).groupby(["variant", "forget"], sort=False):
        plain = main[(main.variant == variant.partition("-")[0]) & (main.forget == split)]
        paired = pd.DataFrame(
            {
                "plain": plain.set_index("seed").forget_extraction_strength,
                "trick": group.set_index("seed").forget_extraction_strength,
            }
        ).dropna()
        rows.append(
            {
                "method": variant_label(variant),
                "forget": split,
                "plain": mean_std_text(paired.plain),
                "trick": mean_std_text(paired.trick),
                "change": paired.trick.mean() - paired.plain.mean(),
                "improved": int((paired.trick < paired.plain).sum()),
                "seeds": len(paired),
            }
        )
    return pd.DataFrame(rows)


def _population_span(results: Results) -> pd.DataFrame:
    """The spread of the population's forget ES before any attack: one population, one value."""
    frame = results.population
    es = frame[(frame.metric == "ES") & (frame.set == "forget")].drop_duplicates("model").before
    return pd.DataFrame([{"group": "population", "values": [es.max() - es.min()]}])


def _target_knows(results: Results) -> pd.DataFrame:
    """The target's forget ES per forget split: one evaluation each."""
    return pd.DataFrame(
        [
            {"group": f"target {split}", "forget": split, "values": [reference["forget_extraction_strength"]]}
            for split, reference in results.references.items()
        ],
        columns=["group", "forget", "values"],
    )


# The paper reports no number these bounds could be read from: they are the reproduction's reading of its Figure 2
# (models from barely unlearned to collapsed) and of its calibration (the target reproduces its TOFU answers).
SETTING = [
    Precondition(
        "the population spans forget ES: max − min before any attack",
        _population_span,
        low=0.5,
        source="the paper's Figure 2: its population runs from barely unlearned to collapsed models (half of ES's "
        "range: this reproduction's bound)",
    ),
    Precondition(
        "the target knows the forget set ({forget}): its forget ES",
        _target_knows,
        low=0.5,
        source="the paper's calibration starts from a target fine-tuned on TOFU until it reproduces its answers "
        "(ES ≥ 0.5: this reproduction's bound)",
    ),
]


def _split_setting(row) -> list[str]:
    return [f"target {row['forget']}"]


CLAIMS = [
    Claim(
        heading="Is extraction strength the most robust metric here?",
        paper="ES keeps the highest before/after-attack Pearson correlation over unlearned models, so it is chosen as "
        "the unlearning metric.",
        before=[
            (
                "Mean and worst PCC over attacks × {{{robust_sets}}} (an undefined PCC, a constant metric, counts as 0), "
                "and mean |slope − 1|:"
            )
        ],
        measure=_metric_robustness,
        table=[
            ("metric", "{metric}"),
            ("mean PCC", "{mean_pcc:.3f}"),
            ("worst PCC", "{worst_pcc:.3f}"),
            ("mean PCC, forget set", "{forget_pcc:.3f}"),
            ("mean abs(slope − 1)", "{mean_slope_error:.3f}"),
        ],
        summary=_most_robust,
        after=[
            _robustness_conclusion,
            _worst_case_conclusion,
            "PCC per metric × attack (forget / retain):",
            _pcc_per_attack,
            _forget_es_shifts,
            _probe,
        ],
        setting=lambda _row: ["population"],
    ),
    Claim(
        heading="Does calibration change the ranking of methods? (τ = {tau:g})",
        paper="comparing methods at matched retain ES (α*) rather than as trained changes which method looks best.",
        before=["Methods ordered by forget ES (↓, seed mean; lower is more forgetting):"],
        measure=_rankings,
        rules={
            "same_order": lambda row, _: row["ranks"]["same_order"],
            "same_best": lambda row, _: row["ranks"]["same_best"],
        },
        table=[
            ("forget", "{forget}"),
            ("uncalibrated (α = 1)", "{uncalibrated}"),
            ("calibrated (α*)", "{calibrated}"),
            ("Kendall τ", "{ranks[kendall_tau]:.2f}"),
            ("same order", "{same_order}"),
            ("same best", "{same_best}"),
        ],
        summary=_ranking_changes,
        setting=_split_setting,
        after=[
            (
                "*Measured:* calibration changes the order of methods in **{order_changed} of {splits}** forget splits "
                "and the best method in **{best_changed} of {splits}** (ranks from seed means rounded to 3 decimals). "
                "Uncalibrated, the methods' retain ES spans {retain_spans}; at α* every method keeps at least "
                "τ = {tau:g} of the target's."
            )
        ],
    ),
    Claim(
        heading="Do the ascent tricks help at matched retain ES?",
        paper="temperature scaling and token-selective ascent improve GA-type methods once compared at the "
        "calibrated α*.",
        measure=_trick_gains,
        # Helping is lowering the calibrated forget ES: in the seed mean, and on every seed for a plain "yes".
        rules={"helps": lambda row, _: direction(row["change"], row["improved"], row["seeds"], -1)},
        table=[
            ("method", "{method}"),
            ("forget", "{forget}"),
            ("calibrated forget ES, plain", "{plain}"),
            ("with the trick", "{trick}"),
            ("Δ (seed means)", "{change:+.3f}"),
            ("seeds improved", "{improved}/{seeds}"),
            ("helps", "{helps}"),
        ],
        applies=lambda results: not _tricks(results).empty,
        setting=_split_setting,
    ),
]
BISECTION = (
    "The bisection used at most {evaluations} retain-ES evaluations per model at τ = {tau:g}, plus the target's "
    "(α = 0), evaluated once per forget split and shared (budget: p4.calibration.max_evaluations)."
)


def _alpha_star(results: Results) -> Section:
    alpha = results.calibrated.groupby(["method", "forget"], sort=False).alpha.mean().unstack()
    rows = [[method, *(f"{v:.3f}" for v in row)] for method, row in alpha.iterrows()]
    return Section("", ["α* per method (seed mean):", markdown_table(["method", *alpha.columns], rows)])


# Both preconditions are single evaluations, which have no interval at any level.
CONFIDENCE = 0.95


def setting_frame(results: Results) -> pd.DataFrame:
    """The setting's preconditions measured on the population and the calibration jobs' references."""
    return judge_setting(SETTING, results, CONFIDENCE)


def verdicts(results: Results, benchmark_files: list[str | Path]) -> str:
    """The page: the setting, the claims, α* and the track's cost."""
    frame, calibration = results.population, results.calibration
    setting = setting_frame(results)
    params = {
        "models": frame.model.nunique(),
        "methods": ", ".join(sorted(frame.method.unique())),
        "attacks": frame.attack.nunique(),
        "calibrated_runs": calibration[["variant", "forget", "seed"]].drop_duplicates().shape[0],
        "robust_sets": ", ".join(results.robust_sets),
        "tau": results.tau,
        "evaluations": results.calibrated.n_evaluations.max(),
    }
    return verdicts_page(
        TITLE,
        [
            setting_section(setting, CONFIDENCE),
            Section("Runs", [fill(PREAMBLE, params)]),
            *judge_claims(CLAIMS, results, params, setting),
            _alpha_star(results),
            Section("Cost", [fill(BISECTION, params), cost_paragraph("P4", benchmark_files)]),
        ],
    )
