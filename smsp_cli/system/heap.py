"""How the C heap serves many threads: a batch's threads share a few arenas.

glibc gives each thread that allocates an arena of its own (up to eight per core), and an
arena keeps what was freed in it for its own thread's next allocations. A batch parses its
replies on many threads, so each arena grows to the largest parse its thread ever made, and a
process of 16 threads holds 16 such peaks: a batch of hostile 10 MiB replies stayed at about
400 MiB at ``--concurrency 8`` although only three replies are parsed at once (the reply
budget). With the arenas capped at two, memory one thread frees serves the next parse on
another thread, and the process holds about what is in use.

Anywhere but glibc (macOS, Windows, musl), nothing is changed.
"""

from __future__ import annotations

import sys

_M_ARENA_MAX = -8  # mallopt's parameter number, from glibc's malloc.h
SHARED_ARENAS = 2


def share_arenas(arenas: int = SHARED_ARENAS) -> bool:
    """Cap the arenas threads started from now on may use; True when the C library took it.

    Call it before the threads start: a thread keeps the arena it was first given.
    """
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
        gnu = libc.gnu_get_libc_version  # glibc only: musl has no arenas to cap
    except (OSError, AttributeError):
        return False
    del gnu
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_ARENA_MAX, arenas))
