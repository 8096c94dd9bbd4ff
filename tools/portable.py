"""Re-execute every notebook as other machines would, and compare with the committed outputs.

``make portable`` runs this. numpy and scipy pick their OpenBLAS kernels and
their own SIMD loops by CPU, so the last digits of round-off differ between
machines; committed outputs must not depend on them (README, "Portable
outputs"). Each pass below re-executes the notebooks through nbval, exactly as
``make test`` does, but in an environment that plays another machine:

- ``old-cpu``: OpenBLAS's Prescott (SSE3) kernels on one thread, and numpy's
  dispatch limited to its baseline (no AVX2, no AVX-512);
- ``avx512``: OpenBLAS's SkylakeX kernels and numpy's AVX-512 loops, on
  machines whose CPU has AVX-512 (forcing them elsewhere would crash);
  otherwise Haswell's kernels with numpy's AVX2 loops.

The settings live in this one command on purpose: tests and CI never change
``OPENBLAS_*`` (some machines set them because older OpenBLAS builds compute
wrong results on their CPU). Run it before committing refreshed outputs.

    python tools/portable.py            # all passes, all notebooks
    python tools/portable.py notebooks/02-gradient-flow.ipynb
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def _numpy_features_above_baseline() -> list[str]:
    """numpy's dispatchable CPU features found on this machine (to switch them off)."""
    code = (
        "import numpy as np\n"
        "from numpy._core._multiarray_umath import __cpu_baseline__, __cpu_dispatch__, __cpu_features__\n"
        "print(' '.join(f for f in __cpu_dispatch__ if __cpu_features__.get(f) and f not in __cpu_baseline__))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return out.stdout.split()


def passes() -> list[tuple[str, dict[str, str]]]:
    """The environments to play: (name, variables set for that pass only)."""
    old = {
        "OPENBLAS_CORETYPE": "Prescott",
        "OPENBLAS_NUM_THREADS": "1",
        "NPY_DISABLE_CPU_FEATURES": " ".join(_numpy_features_above_baseline()),
    }
    if "avx512f" in _cpu_flags():
        new = ("avx512", {"OPENBLAS_CORETYPE": "SkylakeX"})
    else:
        new = ("avx2", {"OPENBLAS_CORETYPE": "Haswell"})
    return [("old-cpu", old), new]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "notebooks", nargs="*", default=["notebooks"], help="notebooks (default: all)"
    )
    args = parser.parse_args(argv)
    failed = []
    for name, variables in passes():
        env = dict(os.environ, **variables)
        # Figures of these runs are thrown away: they must not touch figures/.
        env["LINNET_FIGURES"] = str(ROOT / "_build" / "portable-figures" / name)
        shown = " ".join(f"{k}={v!r}" for k, v in variables.items())
        print(f"== pass {name}: {shown}", flush=True)
        cmd = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "-n",
            "2",
            "--dist",
            "loadfile",
            "--nbval",
            *args.notebooks,
        ]
        if subprocess.run(cmd, cwd=ROOT, env=env).returncode != 0:
            failed.append(name)
    if failed:
        print(
            f"committed outputs differ from what these machines compute: {', '.join(failed)}"
        )
        return 1
    print("committed outputs reproduce on every pass")
    return 0


if __name__ == "__main__":
    sys.exit(main())
