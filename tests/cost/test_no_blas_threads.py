"""An estimate keeps to its own thread: no BLAS call wakes OpenBLAS's thread pool, which then spins.

The cycle bound once summed an exchange's bytes times fan-out with a float ``np.dot``; over the 39,000 transfers of
the family (a) 2-hidden step OpenBLAS ran it on its pool, whose worker then spun as long as the estimate ran and took
the other core of a two-process sweep (docs/performance.md, "OpenBLAS's spinning thread"). Measured from outside, per
thread, in a fresh interpreter (Linux's /proc)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

_CODE = """
import glob, os
from mimdsim import load_machine
from mimdsim.snn import estimate_training_step, snn_from_sizes

def cpu_ticks():
    out = {}
    for task in glob.glob(f"/proc/{os.getpid()}/task/*"):
        fields = open(task + "/stat").read().rsplit(")", 1)[1].split()
        out[task] = int(fields[11]) + int(fields[12])  # utime + stime
    return out

bow = load_machine("bow")
def spec(a):
    return snn_from_sizes([2312, 1466, 1466, 10], max_activity=a, input_sparse_size=32, batch_size=48, n_timesteps=100)
estimate_training_step(spec(0.01), bow, activity_source="saturated")  # numba's cache loaded
before = cpu_ticks()
for a in (0.012, 0.014, 0.016, 0.018, 0.02, 0.022):
    estimate_training_step(spec(a), bow, activity_source="saturated")
after = cpu_ticks()
main = f"/proc/{os.getpid()}/task/{os.getpid()}"
others = sum(t - before.get(task, 0) for task, t in after.items() if task != main)
print(after[main] - before[main], others)
"""


@pytest.mark.skipif(
    not Path("/proc/self/task").is_dir() or (os.cpu_count() or 1) < 2, reason="per-thread CPU from Linux's /proc, 2+ cores"
)
def test_an_estimate_wakes_no_other_thread() -> None:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(_CODE)], capture_output=True, text=True, timeout=600, check=False)
    assert out.returncode == 0, out.stderr
    main, others = (int(x) for x in out.stdout.split())
    assert main > 0
    assert others <= 0.2 * main + 5, f"other threads took {others} ticks while the estimates took {main}"
