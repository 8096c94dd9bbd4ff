"""Run the benchmarks, write ``results.json`` and the work-precision figure.

Timing rule, the same for every method: each (method, setting) is timed with
``time.perf_counter`` around the solve of all cases of a workload, in rounds:
round ``i`` times every point once, method after method, so that the rounds
interleave all methods and a load spike hits all of them alike. A point's time
is its best round. Points whose first round took longer than
``--max-repeat-seconds`` are not repeated (their ``repeats`` is 1 in the
results). JAX functions are compiled before the rounds; the compile time
(first call minus second call) is reported apart.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from . import analysis
from .methods import PAPER_STEP, all_methods
from .workloads import attach_reference, batch_workload, error_of, figure1_workload

SCHEMA = "linnet-benchmarks/1"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "book" / "performance"
#: Accuracy at which speed ratios are also reported, besides Euler's at the paper's step.
TIGHT_ACCURACY = 1e-10
#: Errors below this multiple of the reference's estimated error are not resolved.
FLOOR_FACTOR = 10.0


def _version(module: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(module)
    except Exception:
        return None


def machine() -> dict:
    """What the run ran on: CPU, cores, versions, BLAS kernel."""
    cpu = platform.processor() or None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    blas = None
    try:
        from threadpoolctl import threadpool_info

        blas = [
            {
                k: info.get(k)
                for k in (
                    "internal_api",
                    "version",
                    "architecture",
                    "threading_layer",
                    "num_threads",
                )
            }
            for info in threadpool_info()
        ]
    except ImportError:
        pass
    try:
        commit = (
            subprocess.run(
                ["git", "describe", "--always", "--dirty"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout.strip()
            or None
        )
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {
            name: _version(name)
            for name in (
                "linnet",
                "numpy",
                "scipy",
                "jax",
                "jaxlib",
                "diffrax",
                "equinox",
            )
        },
        "blas": blas,
        "commit": commit,
    }


def _time_point(method, work, setting) -> tuple[float, list]:
    rows = work.eval_rows() if method.per_trajectory else np.arange(work.size)
    start = time.perf_counter()
    outputs = [method.solve(work, case, rows, setting) for case in work.cases]
    seconds = time.perf_counter() - start
    if not method.per_trajectory and work.subsample is not None:
        outputs = [W[work.subsample] for W in outputs]
    return seconds, outputs


def bench_workload(work, methods, repeats: int, max_repeat_seconds: float, log) -> dict:
    attach_reference(work)
    usable, skipped = [], []
    for m in methods:
        why = m.available()
        (
            skipped.append({"method": m.key, "label": m.label, "reason": why})
            if why
            else usable.append(m)
        )
    for s in skipped:
        log(f"  skipping {s['label']}: {s['reason']}")
    for m in usable:
        m.prepare(work)
    n_timed = work.eval_rows().size
    points = {}
    for round_ in range(repeats):
        for m in usable:
            for setting in m.settings:
                key = (m.key, setting)
                if round_ > 0 and points[key]["first"] > max_repeat_seconds:
                    continue
                seconds, outputs = _time_point(m, work, setting)
                scale = work.size / n_timed if m.per_trajectory else 1.0
                if key not in points:
                    points[key] = {
                        "method": m.key,
                        "setting_name": m.setting_name,
                        "setting": setting,
                        "seconds": seconds * scale,
                        "first": seconds,
                        "repeats": 1,
                        "timed_trajectories": n_timed
                        if m.per_trajectory
                        else work.size,
                        "error": error_of(work, outputs),
                    }
                else:
                    p = points[key]
                    p["seconds"] = min(p["seconds"], seconds * scale)
                    p["repeats"] += 1
        log(f"  {work.name}: round {round_ + 1}/{repeats} done")
    pts = []
    for p in points.values():
        p = dict(p)
        del p["first"]
        pts.append(p)
    return {
        "title": work.title,
        "description": work.description,
        "trajectories": work.size,
        "evaluated_trajectories": int(work.eval_rows().size),
        "depths": [c.depth for c in work.cases],
        "reference": {
            "description": (
                "exact solution for depth 1; otherwise scipy DOP853 on the matrix flow at rtol 1e-13, atol 1e-16"
            ),
            "error_estimate": work.reference_error,
            "error_estimate_description": "distance to linnet's polar reduction at the same tolerances",
        },
        "methods": {
            m.key: {
                "label": m.label,
                "family": m.family,
                "system": m.system,
                "per_trajectory": m.per_trajectory,
                "setting_name": m.setting_name,
                "compile_seconds": m.compile_seconds.get(work.name),
            }
            for m in usable
        },
        "skipped": skipped,
        "points": pts,
    }


def _euler_anchor(result: dict) -> dict | None:
    """Euler at the paper's step: on the matrix flow if run, else on the polar reduction (the same
    scheme on the same flow; its errors agree), else (quick runs) the matrix flow's smallest step."""
    pts = result["points"]
    for method in ("euler-matrix", "euler-polar"):
        hit = [p for p in pts if p["method"] == method and p["setting"] == PAPER_STEP]
        if hit:
            p = hit[0]
            break
    else:
        euler = [p for p in pts if p["method"] == "euler-matrix"]
        if not euler:
            return None
        p = min(euler, key=lambda q: q["setting"])
    return {
        "method": p["method"],
        "step": p["setting"],
        "error": p["error"],
        "seconds": p["seconds"],
        "paper_step": p["setting"] == PAPER_STEP,
    }


def analyse(result: dict, quick: bool) -> None:
    """Add anchors, matched-accuracy ratios and the front check to a workload's results."""
    euler = _euler_anchor(result)
    result["euler_anchor"] = euler
    if euler and euler["paper_step"]:
        # Euler's accuracy: the larger of its errors on the two forms at the paper's step
        # (they agree to a few digits), so that both count as reaching it.
        same = [
            p["error"]
            for p in result["points"]
            if p["method"].startswith("euler-") and p["setting"] == PAPER_STEP
        ]
        euler["accuracy"] = max(same)
    elif euler:
        euler["accuracy"] = euler["error"]
    accuracies = ([euler["accuracy"]] if euler else []) + [TIGHT_ACCURACY]
    if euler:
        accuracies.append(euler["error"] / 1000)
    result["ratios"] = [
        {"accuracy": eps, "rows": analysis.ratios_at(result["points"], eps)}
        for eps in accuracies
    ]
    floor = FLOOR_FACTOR * result["reference"]["error_estimate"]
    result["floor"] = floor
    result["front"] = analysis.front_check(result["points"], floor)
    # Compile time of JAX methods added to their run time, for one-off use.
    for _key, meta in result["methods"].items():
        if meta.get("compile_seconds") is not None:
            meta["note"] = "run time only; compile time reported apart"


def _ratio(result: dict, eps: float, method_prefix: str) -> float | None:
    """Smallest ratio (method cost / linnet cost) over methods whose key starts with ``method_prefix``."""
    best = None
    for entry in result["ratios"]:
        if entry["accuracy"] != eps:
            continue
        for row in entry["rows"]:
            if row["method"].startswith(method_prefix) and row["ratio"] is not None:
                best = row["ratio"] if best is None else min(best, row["ratio"])
    return best


def goals(results: dict) -> list[dict]:
    """The goals of issue 22, measured."""
    out = []
    for name in ("figure1", "batch"):
        r = results["workloads"].get(name)
        if not r:
            continue
        fc = r["front"]
        rng = fc["range"]
        out.append(
            {
                "id": f"front-{name}",
                "workload": name,
                "statement": f"{r['title']}: linnet is the fastest method at every accuracy <= 1e-6 (down to the reference floor)",
                "measured": (
                    "on the front over the whole range"
                    if fc["on_front"]
                    else f"beaten at {len(fc['beaten_at'])} of 25 accuracies in [{rng[0]:.1e}, {rng[1]:.0e}] by "
                    + ", ".join(
                        r["methods"].get(m, {}).get("label", m) for m in fc["beaten_by"]
                    )
                    if rng
                    else "no linnet points"
                ),
                "met": fc["on_front"],
            }
        )
    b = results["workloads"].get("batch")
    if b:
        anchors = [e["accuracy"] for e in b["ratios"][:2]]
        for prefix, target, what in (
            ("scipy-dop853-polar", 20, "per-trajectory solve_ivp DOP853"),
            ("diffrax", 2, "diffrax (best solver, run time)"),
        ):
            vals = [_ratio(b, eps, prefix) for eps in anchors]
            met = all(v is not None and v >= target for v in vals)
            out.append(
                {
                    "id": f"throughput-{prefix.split('-')[0]}",
                    "workload": "batch",
                    "statement": f"{b['trajectories']} trajectories: linnet >= {target}x the throughput of {what} at equal accuracy",
                    "measured": ", ".join(
                        f"{'n/a' if v is None else f'{v:.1f}x'} at {eps:.1e}"
                        for v, eps in zip(vals, anchors, strict=True)
                    ),
                    "met": met if all(v is not None for v in vals) else None,
                }
            )
    f = results["workloads"].get("figure1")
    if f and f.get("euler_anchor"):
        e = f["euler_anchor"]
        eps = e["error"] / 1000
        lin = [p for p in f["points"] if p["method"] == "linnet"]
        cost, _ = analysis.cost_at(lin, eps)
        speed = None if cost is None else e["seconds"] / cost
        out.append(
            {
                "id": "figure1-vs-paper",
                "workload": "figure1",
                "statement": "Figure 1 workload: linnet >= 100x faster than the paper's scheme on the matrix flow, at >= 1000x its accuracy",
                "measured": (
                    f"Euler (step {e['step']:g}): {e['seconds']:.3g} s, error {e['error']:.2e}; linnet at error {eps:.2e}: "
                    + (
                        "not reached"
                        if cost is None
                        else f"{cost:.3g} s, {speed:.0f}x faster"
                    )
                ),
                "met": None
                if speed is None
                else speed >= 100 and e["paper_step"] and e["method"] == "euler-matrix",
            }
        )
    return out


MARK_START = (
    "<!-- benchmarks:summary:start (written by python -m benchmarks; do not edit) -->"
)
MARK_END = "<!-- benchmarks:summary:end -->"


def _cost(result: dict, eps: float, method: str):
    for entry in result["ratios"]:
        if entry["accuracy"] == eps:
            for row in entry["rows"]:
                if row["method"] == method:
                    return row
    return None


def summary_markdown(results: dict) -> str:
    """A short summary of a run, for README.md and BENCHMARKS.md."""
    m = results["machine"]
    load = max(results["load_average_start"][0], results["load_average_end"][0])
    lines = [
        f"Measured {results['date']} with `{results['command']}` on {m['cpu']} ({m['cores']} cores"
        + (f", shared: load average up to {load:.1f}" if load > 1 else "")
        + f"), numpy {m['versions'].get('numpy')}, scipy {m['versions'].get('scipy')}"
        + (
            f", jax {m['versions']['jax']}, diffrax {m['versions']['diffrax']}"
            if m["versions"].get("diffrax")
            else ""
        )
        + ".",
        "",
    ]
    f = results["workloads"].get("figure1")
    if f and f.get("euler_anchor"):
        e = f["euler_anchor"]
        g = next((g for g in results["goals"] if g["id"] == "figure1-vs-paper"), None)
        lines.append(
            f"- Figure 1 workload (depths {', '.join(map(str, f['depths']))}): "
            f"{f['methods'][e['method']]['label']} at step {e['step']:g} takes {e['seconds']:.3g} s for error {e['error']:.1e}; {g['measured'].split('; ', 1)[1]}."
        )
        polar = next(
            (
                p
                for p in f["points"]
                if p["method"] == "euler-polar" and p["setting"] == e["step"]
            ),
            None,
        )
        lin = _cost(f, e["error"] / 1000, "linnet")
        if e["method"] == "euler-matrix" and polar and lin and lin["seconds"]:
            lines.append(
                f"  Like for like, the same scheme on the polar reduction (the system linnet integrates) takes "
                f"{polar['seconds']:.3g} s: linnet is {polar['seconds'] / lin['seconds']:.1f}x faster than that, at 1000x its accuracy."
            )
        row = _cost(f, TIGHT_ACCURACY, "linnet")
        if row and row["seconds"]:
            others = sorted(
                (
                    r
                    for r in next(
                        x for x in f["ratios"] if x["accuracy"] == TIGHT_ACCURACY
                    )["rows"]
                    if r["method"] != "linnet" and r["seconds"] is not None
                ),
                key=lambda r: r["seconds"],
            )
            if others:
                best = others[0]
                lines.append(
                    f"  At error 1e-10 linnet takes {row['seconds']:.3g} s; the fastest method there is "
                    + (
                        "linnet."
                        if best["seconds"] >= row["seconds"]
                        else f"{f['methods'][best['method']]['label']} ({best['seconds']:.3g} s)."
                    )
                )
    b = results["workloads"].get("batch")
    if b:
        parts = []
        for key in ("linnet", "scipy-dop853-polar", "diffrax-dopri8", "diffrax-tsit5"):
            row = _cost(b, TIGHT_ACCURACY, key)
            if row and key in b["methods"]:
                comp = b["methods"][key].get("compile_seconds")
                parts.append(
                    f"{b['methods'][key]['label']} "
                    + (
                        "not reached"
                        if row["seconds"] is None
                        else f"{row['seconds']:.3g} s"
                    )
                    + (f" (+ {comp:.1f} s compile)" if comp is not None else "")
                )
        lines.append(
            f"- {b['title']} (depth {b['depths'][0]}) at error 1e-10: "
            + "; ".join(parts)
            + "."
        )
    met = [g for g in results["goals"] if g["met"]]
    unmet = [g for g in results["goals"] if not g["met"]]
    lines.append(
        f"- Goals of issue 22 met: {len(met)} of {len(results['goals'])}"
        + (
            ""
            if not unmet
            else "; not met: "
            + "; ".join(f"{g['statement']} ({g['measured']})" for g in unmet)
        )
        + "."
    )
    return "\n".join(lines)


def update_summaries(results: dict, paths) -> None:
    """Replace the marked summary block of each file with this run's summary."""
    text = summary_markdown(results)
    for path in paths:
        path = Path(path)
        content = path.read_text()
        if MARK_START not in content or MARK_END not in content:
            raise ValueError(
                f"{path}: no benchmark summary markers ({MARK_START} ... {MARK_END})"
            )
        head, rest = content.split(MARK_START, 1)
        _, tail = rest.split(MARK_END, 1)
        path.write_text(head + MARK_START + "\n" + text + "\n" + MARK_END + tail)


def figure(results: dict, out_dir: Path) -> list[str]:
    """The work-precision diagram, one panel per workload; returns the file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.hashsalt"] = "linnet-benchmarks"
    names = [n for n in ("figure1", "batch") if n in results["workloads"]]
    fig, axes = plt.subplots(
        1, len(names), figsize=(6.2 * len(names), 5.2), squeeze=False
    )
    colours = {"euler": "tab:gray", "scipy": None, "linnet": "tab:red", "diffrax": None}
    palette = iter(
        [
            "tab:blue",
            "tab:orange",
            "tab:green",
            "tab:purple",
            "tab:brown",
            "tab:cyan",
            "tab:olive",
            "tab:pink",
        ]
    )
    method_colour = {}
    for ax, name in zip(axes[0], names, strict=True):
        r = results["workloads"][name]
        for key, meta in r["methods"].items():
            pts = sorted(
                (p for p in r["points"] if p["method"] == key), key=lambda p: p["error"]
            )
            if not pts:
                continue
            if key not in method_colour:
                method_colour[key] = colours.get(meta["family"]) or next(palette)
                if meta["family"] == "linnet" and meta["system"] == "matrix":
                    method_colour[key] = "salmon"
                if key == "euler-polar":
                    method_colour[key] = "black"
            ax.plot(
                [p["error"] for p in pts],
                [p["seconds"] for p in pts],
                marker="o" if meta["system"] == "polar" else "s",
                linestyle="-" if meta["system"] == "polar" else "--",
                color=method_colour[key],
                linewidth=2.5 if key == "linnet" else 1.2,
                markersize=5,
                label=meta["label"],
            )
        if r.get("euler_anchor"):
            ax.axvline(
                r["euler_anchor"]["error"], color="gray", linestyle=":", linewidth=1
            )
        ax.axvline(TIGHT_ACCURACY, color="gray", linestyle=":", linewidth=1)
        ax.axvspan(1e-16, r["floor"], color="0.9", zorder=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        errors = [p["error"] for p in r["points"] if p["error"] > 0]
        ax.set_xlim(min(min(errors), r["floor"]) / 3, max(errors) * 3)
        ax.set_xlabel("error: max relative distance to the reference")
        ax.set_ylabel("seconds (best of rounds)")
        ax.set_title(
            f"{r['title']} (depth{'s' if len(r['depths']) > 1 else ''} {', '.join(map(str, r['depths']))})"
        )
        ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    for ext, meta in (("svg", {"Date": None}), ("png", {"Software": None})):
        path = out_dir / f"work-precision.{ext}"
        fig.savefig(path, metadata=meta, dpi=110)
        files.append(path.name)
    plt.close(fig)
    return files


def run(
    *,
    quick: bool = False,
    repeats: int = 3,
    out_dir: Path = DEFAULT_OUT,
    use_jax: bool = True,
    max_repeat_seconds: float = 20.0,
    log=print,
) -> dict:
    started = time.time()
    load_start = list(os.getloadavg())
    if quick:
        workloads = [
            figure1_workload(depths=(1, 2)),
            batch_workload(size=200, subsample=4),
        ]
    else:
        workloads = [figure1_workload(), batch_workload()]
    results = {
        "schema": SCHEMA,
        "command": "python -m benchmarks" + (" --quick" if quick else ""),
        "quick": quick,
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "load_average_start": load_start,
        "timing": {
            "rule": "best of rounds; every round times every (method, setting) once, the rounds interleave all methods",
            "repeats": repeats,
            "max_repeat_seconds": max_repeat_seconds,
            "atol_per_rtol": 1e-2,
            "tight_accuracy": TIGHT_ACCURACY,
            "floor_factor": FLOOR_FACTOR,
        },
        "workloads": {},
    }
    for work in workloads:
        log(f"{work.title}: {work.description}")
        methods = [
            m for m in all_methods(quick, work.name) if use_jax or m.family != "diffrax"
        ]
        if not use_jax:
            for m in all_methods(quick, work.name):
                if m.family == "diffrax":
                    m.available = lambda: "disabled by --no-jax"  # noqa: E731
                    methods.append(m)
        r = bench_workload(work, methods, repeats, max_repeat_seconds, log)
        analyse(r, quick)
        results["workloads"][work.name] = r
    results["goals"] = goals(results)
    results["load_average_end"] = list(os.getloadavg())
    results["summary"] = summary_markdown(results)
    results["wall_seconds"] = time.time() - started
    results["figure"] = figure(results, Path(out_dir))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    (Path(out_dir) / "results.json").write_text(
        json.dumps(results, indent=1, sort_keys=False) + "\n"
    )
    return results


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny workloads (seconds), for the smoke test",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        help=f"output folder (default {DEFAULT_OUT.relative_to(ROOT)})",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="timing rounds (default 3; 1 with --quick)",
    )
    parser.add_argument(
        "--no-jax", action="store_true", help="skip the JAX/diffrax baselines"
    )
    parser.add_argument(
        "--max-repeat-seconds",
        type=float,
        default=20.0,
        help="do not repeat points slower than this",
    )
    args = parser.parse_args(argv)
    repeats = args.repeats if args.repeats is not None else (1 if args.quick else 3)
    if repeats < 1:
        parser.error("--repeats must be >= 1")
    results = run(
        quick=args.quick,
        repeats=repeats,
        out_dir=args.out,
        use_jax=not args.no_jax,
        max_repeat_seconds=args.max_repeat_seconds,
        log=lambda s: print(s, flush=True),
    )
    print(
        f"wrote {args.out / 'results.json'} and the figure ({results['wall_seconds']:.0f} s)"
    )
    if not args.quick and args.out.resolve() == DEFAULT_OUT.resolve():
        update_summaries(results, [ROOT / "README.md", ROOT / "BENCHMARKS.md"])
        print("updated the summaries in README.md and BENCHMARKS.md")
    for g in results["goals"]:
        state = {True: "met", False: "NOT met", None: "undecided"}[g["met"]]
        print(f"  [{state}] {g['statement']}: {g['measured']}")
    sys.exit(0)
