"""Imported at start-up by a measured Python (``PYTHONPATH`` names this folder): at exit, it
writes the process's own peak resident memory, the kernel's ``VmHWM`` in KiB, to the file
that ``SMSP_BENCH_VMHWM_FILE`` names. Only benchmarks/memory.py sets that variable.

Registered first, the handler runs last, after smsp's own exit handlers, so the figure covers
the whole run. It is read from /proc/self/status while the process is still alive: a parent's
``ru_maxrss`` would count what the process inherited before ``exec``.
"""

import atexit
import os

_FIGURE = os.environ.get("SMSP_BENCH_VMHWM_FILE")


def _write_peak() -> None:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                with open(_FIGURE, "a") as out:  # type: ignore[arg-type]
                    out.write(line.split()[1] + "\n")
                return


if _FIGURE:
    atexit.register(_write_peak)
