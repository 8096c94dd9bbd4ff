"""Sphinx extension: the Performance page, rendered from a benchmark run.

``python -m benchmarks`` writes ``book/performance/results.json`` and the
work-precision figure next to it. The directive

.. code-block:: md

    ```{linnet-performance} performance/results.json
    ```

(path relative to the page) renders, at build time, the run's date, command
and machine, the figure, the goals with their measured values, the
matched-accuracy speed ratios and every measured point. No number on the page
is typed by hand; the page is rebuilt when the results file changes.
"""

from __future__ import annotations

import json
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

SCHEMA = "linnet-benchmarks/1"
#: Load average above which the page says the run was on a shared machine.
SHARED_LOAD = 1.0


def _fmt(x, digits: int = 3) -> str:
    if x is None:
        return "n/a"
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def _sci(x) -> str:
    return "n/a" if x is None else ("0" if x == 0 else f"{x:.1e}")


def _para(text: str) -> nodes.paragraph:
    return nodes.paragraph(text=text)


def _table(
    header: list[str], rows: list[list[str]], caption: str | None = None
) -> nodes.table:
    table = nodes.table(classes=["linnet-performance"])
    if caption:
        table += nodes.title(text=caption)
    group = nodes.tgroup(cols=len(header))
    table += group
    for _ in header:
        group += nodes.colspec(colwidth=1)
    head = nodes.thead()
    group += head
    body = nodes.tbody()
    group += body
    for target, cells in ((head, [header]), (body, rows)):
        for cells_row in cells:
            row = nodes.row()
            for cell in cells_row:
                entry = nodes.entry()
                entry += nodes.paragraph(text=str(cell))
                row += entry
            target += row
    return table


def check_results(data: dict) -> None:
    """Raise ValueError naming the first missing or malformed field."""
    if data.get("schema") != SCHEMA:
        raise ValueError(
            f"results file: schema must be {SCHEMA!r}; got {data.get('schema')!r}"
        )
    for key in (
        "date",
        "command",
        "machine",
        "load_average_start",
        "load_average_end",
        "workloads",
        "goals",
        "figure",
        "timing",
    ):
        if key not in data:
            raise ValueError(f"results file: missing field {key!r}")
    for name, work in data["workloads"].items():
        for key in (
            "title",
            "description",
            "methods",
            "points",
            "ratios",
            "reference",
            "front",
            "floor",
        ):
            if key not in work:
                raise ValueError(f"results file: workload {name!r} lacks field {key!r}")
        for p in work["points"]:
            for key in (
                "method",
                "setting_name",
                "setting",
                "seconds",
                "repeats",
                "error",
            ):
                if key not in p:
                    raise ValueError(
                        f"results file: a point of workload {name!r} lacks field {key!r}"
                    )


def render(data: dict, figure_uri: str | None) -> list[nodes.Node]:
    """The nodes of the page body for a results dictionary."""
    check_results(data)
    out: list[nodes.Node] = []
    m = data["machine"]
    v = m.get("versions", {})
    load0, load1 = data["load_average_start"][0], data["load_average_end"][0]
    blas = (
        "; ".join(
            f"{b.get('internal_api')} {b.get('version')} ({b.get('architecture')}, {b.get('num_threads')} threads)"
            for b in (m.get("blas") or [])
        )
        or "not reported (threadpoolctl not installed)"
    )
    if data.get("quick"):
        out.append(
            _para(
                "This is a --quick run on tiny workloads (a smoke test), not a measurement: run python -m benchmarks."
            )
        )
    out.append(
        _table(
            ["", ""],
            [
                ["date", data["date"]],
                [
                    "command",
                    data["command"]
                    + (f" (commit {m['commit']})" if m.get("commit") else ""),
                ],
                [
                    "CPU",
                    f"{m.get('cpu')}, {m.get('cores')} cores ({m.get('usable_cores')} usable)",
                ],
                ["platform", f"{m.get('platform')}, Python {m.get('python')}"],
                [
                    "versions",
                    ", ".join(f"{k} {val}" for k, val in v.items() if val) or "n/a",
                ],
                ["BLAS", blas],
                [
                    "load average (1 min)",
                    f"{load0:.2f} at the start, {load1:.2f} at the end",
                ],
                ["wall time of the run", f"{data.get('wall_seconds', 0):.0f} s"],
            ],
            caption="The run",
        )
    )
    if max(load0, load1) > SHARED_LOAD:
        out.append(
            _para(
                f"The machine was shared during this run (load average above {SHARED_LOAD:g}): absolute times "
                "include contention. Ratios within the run are comparable, because every round timed every method "
                "in turn and each point keeps its best round; a run on an idle machine gives lower times."
            )
        )
    if data.get("summary"):
        items: list[str] = []
        for line in data["summary"].splitlines():
            if line.startswith("- "):
                items.append(line[2:])
            elif line.startswith("  ") and items:
                items[-1] += " " + line.strip()
        if items:
            summary = nodes.bullet_list()
            for text in items:
                item = nodes.list_item()
                item += nodes.paragraph(text=text.replace("`", ""))
                summary += item
            out.append(nodes.rubric(text="In short"))
            out.append(summary)
    if figure_uri:
        fig = nodes.figure(align="center")
        fig += nodes.image(uri=figure_uri, alt="work-precision diagrams", width="100%")
        fig += nodes.caption(
            text="Work-precision diagrams: seconds against error (log-log), one line per method, its points one per "
            "setting (Euler: step; adaptive methods: rtol, with atol = 1e-2 rtol). Solid: the polar reduction; "
            "dashed: the matrix flow. Dotted lines: Euler's error at the paper's step and 1e-10. Grey band: errors "
            "below ten times the reference's estimated error, not resolved."
        )
        out.append(fig)
    out.append(
        _table(
            ["goal", "measured", "met"],
            [
                [
                    g["statement"],
                    g["measured"],
                    {True: "yes", False: "no", None: "undecided"}[g["met"]],
                ]
                for g in data["goals"]
            ],
            caption="Goals (issue 22)",
        )
    )
    for _name, work in data["workloads"].items():
        labels = {k: meta["label"] for k, meta in work["methods"].items()}
        out.append(nodes.rubric(text=work["title"]))
        ref = work["reference"]
        out.append(
            _para(
                f"{work['description']} Reference: {ref['description']}; its estimated error "
                f"({ref['error_estimate_description']}) is {_sci(ref['error_estimate'])}."
            )
        )
        header = ["method"]
        cols = []
        for entry in work["ratios"]:
            header += [f"s at error {_sci(entry['accuracy'])}", "÷ linnet"]
            cols.append({r["method"]: r for r in entry["rows"]})
        rows = []
        for key in work["methods"]:
            row = [labels[key]]
            for col in cols:
                r = col.get(key, {})
                secs = r.get("seconds")
                row += [
                    ("≤ " if r.get("bound") else "") + _fmt(secs)
                    if secs is not None
                    else "not reached",
                    _fmt(r.get("ratio"), 2),
                ]
            rows.append(row)
        out.append(
            _table(
                header,
                rows,
                caption="Matched-accuracy cost, interpolated along each method's front (≤: the method's cheapest "
                "point is already more accurate; not reached: no setting was accurate enough)",
            )
        )
        compiled = [
            (labels[k], meta["compile_seconds"])
            for k, meta in work["methods"].items()
            if meta.get("compile_seconds") is not None
        ]
        if compiled:
            out.append(
                _para(
                    "JIT compile time, apart from the run times above (first call minus second call): "
                    + "; ".join(f"{lab}: {sec:.2f} s" for lab, sec in compiled)
                    + "."
                )
            )
        for s in work.get("skipped", []):
            out.append(_para(f"Not run: {s['label']}: {s['reason']}."))
        points = sorted(
            work["points"],
            key=lambda p: (list(work["methods"]).index(p["method"]), -p["setting"]),
        )
        out.append(
            _table(
                [
                    "method",
                    "setting",
                    "seconds",
                    "error",
                    "rounds",
                    "trajectories timed",
                ],
                [
                    [
                        labels[p["method"]],
                        f"{p['setting_name']} {p['setting']:g}",
                        _fmt(p["seconds"]),
                        _sci(p["error"]),
                        str(p["repeats"]),
                        str(p.get("timed_trajectories", "")),
                    ]
                    for p in points
                ],
                caption="Every measured point",
            )
        )
    return out


class PerformanceDirective(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self):
        rel = self.arguments[0]
        path = Path(self.env.doc2path(self.env.docname)).parent / rel
        self.env.note_dependency(str(path))
        try:
            data = json.loads(path.read_text())
            figure = None
            if data.get("figure"):
                stem = Path(data["figure"][0]).stem
                figure = str(Path(rel).parent / f"{stem}.*")
                for name in data["figure"]:
                    self.env.note_dependency(str(path.parent / name))
            return render(data, figure)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise self.error(f"linnet-performance: cannot render {rel}: {exc}") from exc


def setup(app: Sphinx):
    app.add_directive("linnet-performance", PerformanceDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
