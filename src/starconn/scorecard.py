"""The reproduction scorecard: every figure and table of the paper a chapter reproduces, the
paper's numbers, ours, where ours came from, and whether they are within tolerance.

Nothing here is typed by hand:

* **Which chapter reproduces what** is what each chapter declares (``Chapter.reproduces``:
  ``("Table 1",)``, ``("Fig 3 (left)",)``, ``("Theorem 10", "Theorem 11", "Fig 2")``).
* **The paper's numbers** are each chapter's ``paper`` numbers, keyed by setting
  (``Chapter.numbers(setting)``). A chapter that names a *Table* is scored for every setting the
  table has a number for; one that names only figures, for the setting of its ``paper`` profile;
  any setting with a recorded result is scored too.
* **Ours** come from the committed paper-scale runs ``results/paper/<setting or chapter>/<chapter>.json``
  (``results.recorded_paper_run``; a run whose parameters differ from the ``paper`` profile says
  how, ``results.deviations``) and, labelled as a build result, from the latest chapter JSON of the
  current or earlier book builds (``STARCONN_OUT`` and ``_build/results[/<profile>]``): the most
  faithful profile found (paper, then cpu, then smoke), the most recent of that profile.

**What a reader sees** (:meth:`Scorecard.compact_table`): one line per number the paper states —
the paper item and metric (linked to its chapter), the paper's number, ours at paper scale, ours at
reduced scale (a book build) and the verdict at paper scale; :func:`details_markdown` folds where
each number comes from (:meth:`Scorecard.provenance_table`, with what each run changed from the
paper's protocol) and the rules below it. :meth:`Scorecard.problems` lists what would make the
scorecard wrong; the chapter asserts it is empty.

**Tolerance.** Part III metrics use ``starconn.profiles.practical.within_tolerance`` (fold-line
accuracy within 0.5 percentage points, NGD within 0.02, or better); other Part III metrics are
shown for reference and not judged. For the other chapters the paper's value is a statement the
theory makes, and the rule follows its type (:func:`judge`, :data:`RULES`).
"""
from __future__ import annotations

import json
import math
import operator
import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from . import config, results
from .errors import ParamError
from .params import ITEM, Chapter, Config
from .profiles import CHAPTERS, PARTS
from .profiles import practical as part3

ZERO_ATOL = 1e-8  # a value the theory says is exactly 0: |ours| <= this (float64 round-off)
REL_TOL = 0.01  # any other number the paper states: |ours - paper| <= 1 % of |paper|
RULES = (
    ("true / false", "ours is the same truth value"),
    ("an integer (a count)", "ours is equal"),
    ("`> x`, `>= x`, `< x`, `<= x`", "ours satisfies the inequality"),
    ("0.0 (exact in the theory)", f"abs(ours) ≤ {ZERO_ATOL:g} (float64 round-off)"),
    ("any other number", f"abs(ours − paper) ≤ {REL_TOL:.0%} of abs(paper)"),
    ("a Part III metric with a tolerance",
     "`profiles.practical.within_tolerance`: as good as the paper or within "
     + ", ".join(f"{v:g} in `{k}`" for k, v in part3.TOLERANCE.items())),
    ("another Part III metric", "shown for reference, not judged"),
)
BEYOND = PARTS[-1]  # "Beyond the paper": chapters that quote the paper's numbers, not reproduce an item
PROFILE_RANK = {p: i for i, p in enumerate(config.PROFILES)}  # smoke < cpu < paper
_INEQ = re.compile(r"^\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")
_OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}


@dataclass(frozen=True, order=True)
class Item:
    """A numbered item of the paper: ``Fig 3`` (panel ``left``), ``Table 1``, ``Theorem 10``…"""

    kind: str
    number: int
    panel: str = ""

    @property
    def label(self) -> str:
        return f"{self.kind} {self.number}" + (f" ({self.panel})" if self.panel else "")

    @property
    def is_figure_or_table(self) -> bool:
        return self.kind in ("Fig", "Table")


def references(chapter: Chapter) -> list[Item]:
    """The paper's items a chapter reproduces (``Chapter.reproduces``), in its order."""
    out = []
    for ref in chapter.reproduces:
        kind, number, panel = ITEM.match(ref).groups()
        out.append(Item(kind, int(number), panel or ""))
    return out


def _item_key(item: Item) -> tuple:
    return (("Fig", "Table", "Theorem", "Lemma").index(item.kind), item.number, item.panel)


def figure_table_map(chapters: Iterable[Chapter] | None = None) -> dict[Item, list[str]]:
    """Every figure and table of the paper that a chapter reproduces → those chapters' ids."""
    out: dict[Item, list[str]] = {}
    for ch in chapters if chapters is not None else CHAPTERS.values():
        for item in references(ch):
            if item.is_figure_or_table:
                out.setdefault(item, []).append(ch.id)
    return dict(sorted(out.items(), key=lambda kv: _item_key(kv[0])))


# ---------------------------------------------------------------------------------------------
# tolerance


def _number(v: Any) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)  # "nan", "inf" as written by results._clean
        except ValueError:
            return None
    return None


def judge(paper: Any, ours: Any) -> bool | None:
    """Is ``ours`` within tolerance of the paper's value ``paper`` (rules in :data:`RULES`)?
    ``None`` when ours is missing or not comparable."""
    if ours is None:
        return None
    if isinstance(paper, bool):
        return ours is paper if isinstance(ours, bool) else None
    if isinstance(paper, str):
        m = _INEQ.match(paper)
        x = _number(ours)
        if not m or x is None or math.isnan(x):
            return None
        return bool(_OPS[m.group(1)](x, float(m.group(2))))
    x = _number(ours)
    if x is None or math.isnan(x):
        return None if x is None else False
    if isinstance(paper, int):
        return x == paper
    if paper == 0:
        return abs(x) <= ZERO_ATOL
    return abs(x - paper) <= REL_TOL * abs(paper)


def verdicts(chapter: Chapter, paper: Mapping[str, Any], metrics: Mapping[str, Any]) -> dict[str, bool | None]:
    """Per metric of ``paper``: within tolerance (True / False) or not judged (None)."""
    if chapter.part == part3.PART:
        ok = part3.within_tolerance({k: v for k, v in metrics.items() if _number(v) is not None},
                                    paper)
        return {k: ok.get(k) for k in paper}
    return {k: judge(p, metrics.get(k)) for k, p in paper.items()}


# ---------------------------------------------------------------------------------------------
# where the results are


def _is_result(d: Any, path: Path) -> bool:
    return (isinstance(d, dict) and {"chapter", "profile", "params", "metrics", "env"} <= set(d)
            and path.name == f"{d['chapter']}.json")  # alternates written with record(name=…) are skipped


def build_roots() -> list[Path]:
    """Where book builds write chapter JSONs: ``STARCONN_OUT`` and the repository's ``_build/results``."""
    roots = []
    for r in (config.out_dir(), config.REPO_ROOT / "_build" / "results"):
        r = r.resolve()
        if r not in roots:
            roots.append(r)
    return roots


def result_files(roots: Iterable[Path] | None = None) -> list[Path]:
    """The JSON files the scorecard reads: under ``roots`` and their immediate sub-folders (one per
    profile), committed paper-scale results excepted."""
    found: list[Path] = []
    for root in roots if roots is not None else build_roots():
        root = Path(root)
        if not root.is_dir():
            continue
        for path in sorted(list(root.glob("*.json")) + list(root.glob("*/*.json"))):
            path = path.resolve()
            if path not in found and config.PAPER_RESULTS.resolve() not in path.parents:
                found.append(path)
    return found


def build_results(roots: Iterable[Path] | None = None) -> list[dict]:
    """Every chapter JSON of :func:`result_files`, each with its file's path and modification time
    added (``_path``, ``_mtime``)."""
    found = []
    for path in result_files(roots):
        try:
            d = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if _is_result(d, path) and d["profile"] in PROFILE_RANK:
            d["_path"], d["_mtime"] = str(path), path.stat().st_mtime
            found.append(d)
    return found


def latest_build(found: list[dict], chapter: str, setting: str | None) -> dict | None:
    """The build result of ``chapter`` (at ``setting``) to show: highest profile, then newest."""
    mine = [d for d in found if d["chapter"] == chapter and d["params"].get("setting") == setting]
    if not mine:
        return None
    return max(mine, key=lambda d: (PROFILE_RANK[d["profile"]], d["env"].get("date", ""), d["_mtime"]))


# ---------------------------------------------------------------------------------------------
# rows


@dataclass
class Row:
    """One metric of one paper item for one chapter (and setting) from one source."""

    item: str
    chapter: str
    setting: str | None
    metric: str | None
    paper: Any
    ours: Any
    source: str  # "paper-scale" (committed), "build" or "none"
    profile: str | None = None
    card: str | None = None
    date: str | None = None
    deviations: dict = field(default_factory=dict)
    within: bool | None = None
    paper_scale: bool = False  # does a committed paper-scale run of this chapter (and setting) exist?
    recorded_paper: Any = None  # the paper's number as the run recorded it in its JSON ("paper")
    reduced: dict = field(default_factory=dict)  # parameter -> (ours, the paper profile's), where they differ

    @property
    def origin(self) -> str:
        """Where ours came from, in words."""
        if self.source == "none":
            return "not run (no result found); not run at paper scale"
        dev = ", ".join(f"{k} = {v}" for k, v in self.deviations.items())
        dev = f"; unlike the `paper` profile: {dev}" if dev else ""
        if self.source == "paper-scale":
            return f"recorded paper-scale run, {self.card}, {self.date}{dev}"
        tail = "" if self.paper_scale else "; not run at paper scale"
        return f"build, `{self.profile}` profile, {self.card}, {self.date}{dev}{tail}"


def _settings(chapter: Chapter, items: list[Item], recorded_settings: set[str]) -> list[str | None]:
    """The settings a chapter is scored for (None: the chapter has no settings)."""
    paper = chapter.paper
    if set(paper) <= {None}:
        return [None]
    if any(i.kind == "Table" for i in items):
        chosen = [s for s, v in paper.items() if v]
    else:
        chosen = [chapter.resolve("paper").get("setting")]
    return chosen + sorted(s for s in recorded_settings if s in paper and s not in chosen)


def _rows_for(ch: Chapter, label: str, setting: str | None, found: list[dict],
              paper_dir: Path | None) -> list[Row]:
    paper = ch.numbers(setting)
    recorded = _recorded(ch.id, setting, paper_dir)
    build = latest_build(found, ch.id, setting)
    sources = [("paper-scale", recorded)] if recorded else []
    if build is not None:
        sources.append(("build", build))
    if not sources:
        sources = [("none", None)]
    rows = []
    for source, res in sources:
        metrics = res["metrics"] if res else {}
        ok = verdicts(ch, paper, metrics) if res else {}
        reduced = unlike_paper(ch, res) if res is not None else {}
        dev = {k: v for k, (v, _) in reduced.items()} if res is not None and res["profile"] == "paper" else {}
        common = dict(item=label, chapter=ch.id, setting=setting, source=source,
                      profile=res["profile"] if res else None, card=res["env"].get("card") if res else None,
                      date=res["env"].get("date") if res else None, deviations=dev,
                      paper_scale=recorded is not None, reduced=reduced)
        if not paper:
            rows.append(Row(metric=None, paper=None, ours=None, within=None, **common))
        for k, p in paper.items():
            rec = (res.get("paper") or {}).get(k) if res else None
            rows.append(Row(metric=k, paper=p, ours=metrics.get(k), within=ok.get(k), recorded_paper=rec, **common))
    return rows


def unlike_paper(ch: Chapter, res: dict) -> dict[str, tuple[Any, Any]]:
    """The parameters of a run that differ from the chapter's ``paper`` profile (at the run's
    setting): ``{name: (the run's value, the paper profile's)}`` — what a reduced-scale run reduced,
    or how a paper-scale run deviated."""
    params = res.get("params", {})
    try:
        ref = ch.resolve("paper", **({"setting": params["setting"]} if "setting" in params else {}))
    except ParamError:  # a setting the chapter no longer has
        return {}
    return {k: (v, ref[k]) for k, v in params.items() if k in ref and ref[k] != v}


def _recorded(chapter: str, setting: str | None, paper_dir: Path | None) -> dict | None:
    if paper_dir is None:
        return results.recorded_paper_run(chapter, setting)
    path = Path(paper_dir) / (setting or chapter) / f"{chapter}.json"
    return json.loads(path.read_text()) if path.exists() else None


VERDICT = {True: "✓ within tolerance", False: "✗ outside tolerance", None: "not judged"}
MARK = {True: "✓", False: "✗", None: ""}


def _words(metric: str | None) -> str:
    return metric.replace("_", " ") if metric else "figure"


@dataclass
class Scorecard:
    rows: list[Row]
    figure_table: dict[Item, list[str]]
    found: list[dict] = field(default_factory=list)  # the build results it was computed from

    def of(self, figures_and_tables: bool = True) -> list[Row]:
        items = {i.label for i in self.figure_table}
        return [r for r in self.rows if (r.item in items) == figures_and_tables]

    def entries(self, figures_and_tables: bool = True) -> list[tuple[Row, Row | None, Row | None]]:
        """One entry per number the paper states (or figure without one): (a row for the paper's
        side, the paper-scale row or None, the reduced-scale row or None)."""
        groups: dict[tuple, list[Row]] = {}
        for r in self.of(figures_and_tables):
            groups.setdefault((r.item, r.chapter, r.setting, r.metric), []).append(r)
        out = []
        for rows in groups.values():
            ps = next((r for r in rows if r.source == "paper-scale"), None)
            red = next((r for r in rows if r.source not in ("paper-scale", "none")), None)
            out.append((rows[0], ps, red))
        return out

    def compact_table(self, figures_and_tables: bool = True) -> str:
        """The reader's table (HTML): paper item (linked to its chapter; one cell per item and
        setting) and metric | the paper's number | ours at paper scale | ours at reduced scale |
        verdict (at paper scale). An item and setting with no run at all is one line listing the
        paper's numbers."""
        groups: dict[tuple, list[tuple[Row, Row | None, Row | None]]] = {}
        for e in self.entries(figures_and_tables):
            groups.setdefault((e[0].item, e[0].chapter, e[0].setting), []).append(e)
        profiles = {red.profile for es in groups.values() for _, _, red in es if red is not None}
        shared = profiles.pop() if len(profiles) == 1 else None
        num = ' style="text-align:right"'
        head = (f"<tr><th colspan=\"2\">paper item</th><th{num}>the paper</th><th{num}>ours at paper scale</th>"
                f"<th{num}>ours reduced{f' ({escape(shared)})' if shared else ''}</th><th>verdict</th></tr>")
        body = []
        for (item, chapter, setting), es in groups.items():
            label = f'<a href="{escape(chapter)}.html">{escape(item)}</a>' + (f" {escape(setting)}" if setting else "")
            if all(ps is None and red is None for _, ps, red in es) and es[0][0].metric:
                numbers = "; ".join(f"{_words(r.metric)} {results._fmt(r.paper)}" for r, _, _ in es)
                body.append(f"<tr><td>{label}</td><td colspan=\"2\">{escape(numbers)}</td><td{num}>not run</td>"
                            f"<td{num}>not run</td><td>no run yet</td></tr>")
                continue
            for k, (r, ps, red) in enumerate(es):
                first = f'<td rowspan="{len(es)}">{label}</td>' if k == 0 else ""
                ours_ps = (_fmt(ps.ours) if r.metric else "run") if ps else "not run"
                ours_red = "not run"
                if red is not None:
                    ours_red = " ".join(x for x in ((_fmt(red.ours) if r.metric else "run"), MARK[red.within],
                                                    "" if shared else f"({red.profile})") if x)
                verdict = VERDICT[ps.within] if ps else "no paper-scale run"
                paper = results._fmt(r.paper) if r.metric else "(no number)"
                body.append(f"<tr>{first}<td>{escape(_words(r.metric))}</td><td{num}>{escape(paper)}</td>"
                            f"<td{num}>{escape(ours_ps)}</td><td{num}>{escape(ours_red)}</td><td>{verdict}</td></tr>")
        return (f'<table class="table starconn-scorecard" style="font-size:0.9em">\n<thead>{head}</thead>\n<tbody>\n'
                + "\n".join(body) + "\n</tbody>\n</table>")

    def provenance_table(self) -> str:
        """Where each run came from: chapter and setting, source and profile, card and date, and how
        its parameters differ from the paper's protocol (``paper`` profile)."""
        out = ["| chapter | ours from | card, date | unlike the paper's protocol |", "|---|---|---|---|"]
        seen = set()
        for r in self.rows:
            k = (r.chapter, r.setting, r.source)
            if r.source == "none" or k in seen:
                continue
            seen.add(k)
            src = "paper-scale run (committed)" if r.source == "paper-scale" else f"book build, `{r.profile}` profile"
            unlike = "; ".join(f"{n} = {results._fmt(v)} (paper: {results._fmt(p)})" for n, (v, p) in r.reduced.items())
            out.append(f"| `{r.chapter}`{' ' + r.setting if r.setting else ''} | {src} | {r.card}, {r.date} | "
                       f"{(unlike or 'nothing').replace('|', chr(92) + '|')} |")
        return "\n".join(out)

    def problems(self) -> list[str]:
        """What would make the scorecard wrong, each in one line ([] when it is sound):

        * a figure or table named by a chapter (``figure_table``) without an entry;
        * a build result it was given for a scored chapter and setting that no row shows;
        * a row whose paper number differs from the one its run recorded (the chapter's ``paper``
          dict changed after the run, or the scorecard read the wrong number);
        * a row from a run that names no card or date."""
        out = [f"{i.label}: named by {', '.join(c)} but has no entry"
               for i, c in self.figure_table.items() if not any(r.item == i.label for r in self.rows)]
        shown = {(r.chapter, r.setting) for r in self.rows if r.source != "none"}
        scored = {(r.chapter, r.setting) for r in self.rows}
        for d in self.found:
            k = (d["chapter"], d["params"].get("setting"))
            if k in scored and k not in shown:
                out.append(f"{k[0]} {k[1] or ''}: a build result ({d.get('_path', '?')}) is not shown".replace("  ", " "))
        for r in self.rows:
            if r.source != "none" and r.metric and r.recorded_paper is not None and r.recorded_paper != r.paper:
                out.append(f"{r.item} {r.chapter} {r.setting or ''} {r.metric}: the paper's number is {r.paper!r} "
                           f"here but {r.recorded_paper!r} in the {r.source} run")
            if r.source != "none" and not (r.card and r.date):
                out.append(f"{r.item} {r.chapter} {r.setting or ''}: the {r.source} run names no card or date")
        return out

    def summary(self) -> dict:
        ft = self.of(True)
        keys = {(r.item, r.chapter, r.setting) for r in ft}
        scale = {(r.item, r.chapter, r.setting) for r in ft if r.paper_scale}
        judged = [r for r in ft if r.source == "paper-scale" and r.within is not None]
        return {
            "items": [i.label for i in self.figure_table],
            "chapters": sorted({c for cs in self.figure_table.values() for c in cs}),
            "entries": len(keys),
            "entries_run_at_paper_scale": len(scale),
            "entries_not_run_at_paper_scale": len(keys - scale),
            "paper_scale_within_tolerance": sum(r.within is True for r in judged),
            "paper_scale_outside_tolerance": sum(r.within is False for r in judged),
            "rows": [asdict(r) for r in self.rows],
        }

    def summary_text(self) -> str:
        """One sentence a reader takes in first: judged paper-scale numbers within tolerance, and
        how many entries have a paper-scale run."""
        s = self.summary()
        judged = s["paper_scale_within_tolerance"] + s["paper_scale_outside_tolerance"]
        return (f"**{s['paper_scale_within_tolerance']} of {judged}** judged paper-scale numbers are within the "
                f"paper's tolerance; **{s['entries_run_at_paper_scale']} of {s['entries']}** entries (a figure or "
                f"table for one setting, {len(s['items'])} items of the paper in all) have a paper-scale run.")


def _fmt(v: Any) -> str:
    if isinstance(v, (list, dict)):
        return "(list)" if isinstance(v, list) else "(table)"
    return results._fmt(v)


def rules_markdown() -> str:
    rows = ["| the paper's value is | within tolerance when |", "|---|---|"]
    rows += [f"| {a} | {b} |" for a, b in RULES]
    return "\n".join(rows)


def details_markdown(card: Scorecard) -> str:
    """The front page's folded part (two MyST dropdowns): where each number comes from, and how
    a number is judged."""
    return rf"""```{{dropdown}} Where each number comes from
* **Which chapter reproduces which figure or table** is what each chapter declares
  (`reproduces` in `starconn.profiles`: "Table 1", "Fig 3 (left)").
* **The paper's numbers** are each chapter's `paper` numbers (`starconn.profiles`), the numbers
  the chapter prints beside its own; each is checked against the number its run recorded.
* **Ours at paper scale** come from the committed runs `results/paper/<setting>/<chapter>.json`;
  a run whose parameters differ from the chapter's `paper` profile says how.
* **Ours at reduced scale** come from the latest book build (`STARCONN_OUT`,
  `_build/results/<profile>/`): the most faithful profile found, the most recent of it. Such a run
  is not the paper's protocol (smaller data, fewer epochs, narrower networks); the table below says
  what each run changed.

{card.provenance_table()}
```

```{{dropdown}} How a number is judged
A Part III metric $x$ with tolerance $\tau$ counts as reproduced when ours is at least as good as
the paper's, or $|x_{{\text{{ours}}}} - x_{{\text{{paper}}}}| \le \tau$ (accuracies in percentage
points). Otherwise the rule follows what the paper states (`starconn.scorecard.RULES`):

{rules_markdown()}
```
"""


def scorecard(chapters: Mapping[str, Chapter] | None = None, roots: Iterable[Path] | None = None,
              paper_dir: Path | None = None, include_builds: bool = True) -> Scorecard:
    """Rows for every chapter that reproduces a paper item (figures and tables first).

    ``roots``: build-result folders (default :func:`build_roots`); ``paper_dir``: the committed
    paper-scale results (default ``results/paper``)."""
    chapters = chapters if chapters is not None else CHAPTERS
    found = build_results(roots) if include_builds else []
    pdir = Path(paper_dir) if paper_dir is not None else config.PAPER_RESULTS
    entries = []
    for ch in chapters.values():
        items = sorted(references(ch), key=_item_key)
        ft = [i for i in items if i.is_figure_or_table]
        if not ft and (not any(ch.paper.values()) or ch.part in (part3.PART, BEYOND)):
            continue  # the theory's statements only; practical chapters are scored by figure / table
        recorded = {p.parent.name for p in pdir.glob(f"*/{ch.id}.json")}
        recorded |= {d["params"].get("setting") for d in found if d["chapter"] == ch.id} - {None}
        for setting in _settings(ch, items, recorded):
            if ft:  # one entry per figure / table the chapter reproduces
                entries += [((0, *_item_key(i)), i.label, ch, setting) for i in ft]
            else:  # theorems and lemmas: one entry per chapter
                label = ", ".join(i.label for i in items) or "—"
                entries.append(((1,), label, ch, setting))
    entries.sort(key=lambda e: e[0])
    rows = []
    for _, label, ch, setting in entries:
        rows += _rows_for(ch, label, setting, found, paper_dir)
    return Scorecard(rows, figure_table_map(chapters.values()), found)


def build(cfg: Config) -> Scorecard:
    """The chapter's scorecard: build results from ``cfg.build_results`` (or the default folders)."""
    roots = [Path(cfg.build_results).expanduser()] if cfg.build_results else None
    return scorecard(roots=roots, include_builds=cfg.include_builds)


def figure(card: Scorecard):
    """Ours ÷ the paper's number (log scale) for every figure/table metric where both are numbers;
    green: within tolerance, red: outside, grey: not judged."""
    import matplotlib.pyplot as plt

    rows = [r for r in card.of(True) if r.source != "none" and _number(r.paper) and _number(r.ours)]
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(rows) + 1.4), constrained_layout=True)
    color = {True: "tab:green", False: "tab:red", None: "tab:gray"}
    labels = [f"{r.item} · {r.setting or r.chapter} · {r.metric} · "
              + ("paper scale" if r.source == "paper-scale" else r.profile) for r in rows]
    ax.barh(range(len(rows)), [_number(r.ours) / _number(r.paper) for r in rows],
            color=[color[r.within] for r in rows], left=0)
    ax.axvline(1, color="k", lw=1)
    ax.set(xscale="log", yticks=range(len(rows)), yticklabels=labels,
           xlabel="ours ÷ paper (log scale; 1 = the paper's number)")
    ax.invert_yaxis()
    ax.tick_params(axis="y", labelsize=8)
    return fig
