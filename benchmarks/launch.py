"""Run one command; print its wall time, CPU time, peak memory and exit code.

Printed as ``SECONDS CPU_SECONDS KIB CODE``.

    python -S benchmarks/launch.py STDIN_FILE COMMAND [ARG...]

A child's peak resident memory (``ru_maxrss``) counts the pages it had before ``exec``, which
for a child of the benchmark process is the whole benchmark (sandbox, cryptography...). So the
benchmark starts each measured command through this small launcher (no site packages), whose
own few MiB are below anything measured. The command's output is discarded; its stdin is
STDIN_FILE (``/dev/null`` for none).
"""

import os
import sys
import time

stdin_file, command = sys.argv[1], sys.argv[2:]
actions = [
    (os.POSIX_SPAWN_OPEN, 0, stdin_file, os.O_RDONLY, 0),
    (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
    (os.POSIX_SPAWN_OPEN, 2, os.devnull, os.O_WRONLY, 0),
]
started = time.perf_counter()
pid = os.posix_spawnp(command[0], command, os.environ, file_actions=actions)
_, status, usage = os.wait4(pid, 0)
elapsed = time.perf_counter() - started
cpu = usage.ru_utime + usage.ru_stime
print(f"{elapsed:.6f} {cpu:.6f} {usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
