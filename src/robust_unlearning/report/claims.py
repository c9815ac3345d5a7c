"""Claims as data: each paper's claims declared once, judged on our results, and the one writer of the verdicts pages.

A `Claim` is what a verdicts page says about one claim of a paper (or one target of the reproduction): its heading
(the paper's wording, or a question with the wording quoted below it as `paper`), how our results measure it
(`measure`: one row per setting it is checked in, such as a method, a harmful ratio or a forget split), the rules
that decide it in each setting (`rules`: named and in order, each reading the row, with the decisions before it,
and the page's parameters) and what it concludes over all its settings (`summary`).

Numbers come from those functions and report/statistics.py; words come from templates: `str.format` over the
page's parameters, the claim's summary and, for a listed setting, its row. In a template a check (a bool) reads
"yes"/"no", or `{name:when true|when false}`; an interval reads "mean [low, high]" in the float format given
(`{shrink:+.3f}`). A paragraph that lists or leaves out things a template cannot is a function of the judged claim.

A claim's rows may depend on the paper's setting (report/setting.py): `setting(row)` names the groups of
preconditions a row assumes, and a row with an unmet one is not judged: each of its decisions reads "not testable
here (setting not met: …)", the claim's summary reads only the testable rows and the claim says how many of its
rows were testable; a claim with none is written as not testable with its table (each row marked so) and without
its conclusions.

`verdicts_page` writes a page: its title, then its parts in order, judged claims (`judge_claims`) and the
`Section`s around them (the setting, a preamble, sweeps, costs).
"""

import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

Row = dict[str, Any]


@dataclass(frozen=True)
class Judged:
    """A claim with its settings measured and decided."""

    claim: "Claim"
    rows: list[Row]
    facts: dict[str, Any]  # the page's parameters and the claim's summary: what its templates read
    results: Any


Text = str | Callable[[Judged], str | None]


@dataclass(frozen=True)
class Claim:
    """One claim as its page states and decides it. `measure(results)` gives one row per setting; each rule
    `rules[name](row, params)` adds its decision to the row as `name`; `table` ((header, cell template) per column)
    or `lines` (a template per setting) lists the settings between the `before` and the `after` texts;
    `summary(judged rows, results)` adds what the claim concludes over its settings to what the texts read;
    a claim that does not `apply` to the results (a method it compares was not run) is left off the page;
    `setting(row)` names the setting groups a row depends on (None: the claim assumes no setting)."""

    heading: str
    measure: Callable[[Any], pd.DataFrame]
    rules: Mapping[str, Callable[[Row, Mapping[str, Any]], Any]] = field(default_factory=dict)
    table: Sequence[tuple[str, str]] = ()
    lines: str = ""
    paper: str = ""
    before: Sequence[Text] = ()
    after: Sequence[Text] = ()
    summary: Callable[[pd.DataFrame, Any], Mapping[str, Any]] = lambda rows, results: {}
    applies: Callable[[Any], bool] = lambda results: True
    setting: Callable[[Row], Sequence[str]] | None = None


@dataclass(frozen=True)
class Section:
    """Text of a page that judges no claim; no heading continues the section before (a page's preamble)."""

    heading: str
    blocks: Sequence[str]


class _Formatter(string.Formatter):
    def format_field(self, value: Any, spec: str) -> str:
        if isinstance(value, str) and "|" in spec:
            return value  # a decision that was not taken ("not testable here …") where a check would read a word
        if isinstance(value, bool | np.bool_):
            when_true, _, when_false = (spec or "yes|no").partition("|")
            return when_true if value else when_false
        return super().format_field(value, spec)


_FORMATTER = _Formatter()


def fill(template: str, values: Mapping[str, Any]) -> str:
    """`template` formatted with `values`, checks read as words (see the module docstring)."""
    return _FORMATTER.vformat(template, (), values)


def listing(rows: Iterable[Mapping[str, Any]], template: str, separator: str = ", ") -> str:
    """One `template` per row, joined: "1000 at ρ = 0.5, 1243 at ρ = 2"."""
    return separator.join(fill(template, row) for row in rows)


def markdown_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return "\n".join(lines + ["| " + " | ".join(cells) + " |" for cells in rows])


def _unmet(setting: pd.DataFrame | None, groups: Sequence[str]) -> list[str]:
    """The unmet preconditions (judge_setting's rows) of `groups`."""
    if setting is None:
        return []
    return list(setting.loc[setting["group"].isin(groups) & ~setting["met"].astype(bool), "setting"])


def judge_claims(
    claims: Iterable[Claim], results: Any, params: Mapping[str, Any], setting: pd.DataFrame | None = None
) -> list[Judged]:
    """Each claim that applies to `results`: measured, decided row by row where its `setting` (report/setting.py's
    judge_setting) is met, summarised."""
    judged = []
    for claim in claims:
        if not claim.applies(results):
            continue
        rows, testable, not_met = [], [], {}
        for row in claim.measure(results).to_dict("records"):
            missing = _unmet(setting, claim.setting(row)) if claim.setting else []
            for name, rule in claim.rules.items():
                row[name] = (
                    f"not testable here (setting not met: {', '.join(missing)})" if missing else rule(row, params)
                )
            not_met.update(dict.fromkeys(missing))
            rows.append(row)
            if not missing:
                testable.append(row)
        facts = {**params, "testable": len(testable), "measured_rows": len(rows), "not_met": ", ".join(not_met)}
        # What a claim concludes over its settings is concluded over the testable ones; with none, nothing is.
        if testable or not rows:
            facts.update(claim.summary(pd.DataFrame(testable), results))
        judged.append(Judged(claim, rows, facts, results))
    return judged


def _texts(texts: Sequence[Text], judged: Judged) -> list[str]:
    filled = (fill(text, judged.facts) if isinstance(text, str) else text(judged) for text in texts)
    return [text for text in filled if text is not None]


TESTABLE = "*Testable here:* {testable} of {measured_rows} rows (a row whose setting is not met is not judged)."
NOT_TESTABLE = "**Not testable here** (setting not met: {not_met})."


def _claim_blocks(judged: Judged) -> list[str]:
    claim, facts = judged.claim, judged.facts
    blocks = [f"## {fill(claim.heading, facts)}"]
    if claim.paper:
        blocks.append(f"*Paper:* {fill(claim.paper, facts)}")
    if claim.setting and judged.rows and not facts["testable"]:
        # The table stays, each row marked not testable: a reader sees how far the claim's numbers would go. Its
        # lines and texts may read the summary, which is drawn from testable rows only.
        return blocks + [fill(NOT_TESTABLE, facts), *_table(judged)]
    blocks += _texts(claim.before, judged)
    blocks += _table(judged)
    if claim.lines and judged.rows:
        blocks.append("\n".join(fill(claim.lines, {**facts, **row}) for row in judged.rows))
    if claim.setting:
        blocks.append(fill(TESTABLE, facts))
    return blocks + _texts(claim.after, judged)


def _table(judged: Judged) -> list[str]:
    """The claim's table, one row per setting it is checked in (none for a claim without one)."""
    claim = judged.claim
    if not claim.table:
        return []
    cells = [[fill(cell, {**judged.facts, **row}) for _, cell in claim.table] for row in judged.rows]
    return [markdown_table([column for column, _ in claim.table], cells)]


def verdicts_page(title: str, parts: Iterable[Judged | Section]) -> str:
    """The Markdown page: the title, then each part, a blank line between any two blocks."""
    blocks = [f"# {title}"]
    for part in parts:
        if isinstance(part, Judged):
            blocks += _claim_blocks(part)
        else:
            blocks += ([f"## {part.heading}"] if part.heading else []) + list(part.blocks)
    return "\n\n".join(blocks) + "\n"
