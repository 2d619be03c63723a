"""Imported at start-up by a measured Python (``PYTHONPATH`` names this folder), for figures
only a benchmark asks for, each switched on by a variable only benchmarks/ set:

* ``SMSP_BENCH_VMHWM_FILE``: at exit, append the process's own peak resident memory, the
  kernel's ``VmHWM`` in KiB, to that file. Registered first, the handler runs last, after
  smsp's own exit handlers, so the figure covers the whole run. It is read from
  /proc/self/status while the process is still alive: a parent's ``ru_maxrss`` would count
  what the process inherited before ``exec``.
* ``SMSP_BENCH_FSYNC_FILE``: at exit, append how many fsyncs the process made.
* ``SMSP_BENCH_NO_FSYNC=1``: fsync does nothing (benchmarks/batch.py measures what the audit
  trail's group commit costs a batch against this; never a way to run smsp).
"""

import atexit
import os

_FIGURE = os.environ.get("SMSP_BENCH_VMHWM_FILE")
_FSYNCS = os.environ.get("SMSP_BENCH_FSYNC_FILE")
_fsync = os.fsync
_made = [0]


def _write_peak() -> None:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                with open(_FIGURE, "a") as out:  # type: ignore[arg-type]
                    out.write(line.split()[1] + "\n")
                return


def _counted_fsync(descriptor: int) -> None:
    _made[0] += 1
    if os.environ.get("SMSP_BENCH_NO_FSYNC") != "1":
        _fsync(descriptor)


def _write_fsyncs() -> None:
    with open(_FSYNCS, "a") as out:  # type: ignore[arg-type]
        out.write(f"{_made[0]}\n")


if _FIGURE:
    atexit.register(_write_peak)
if _FSYNCS or os.environ.get("SMSP_BENCH_NO_FSYNC") == "1":
    os.fsync = _counted_fsync
if _FSYNCS:
    atexit.register(_write_fsyncs)
