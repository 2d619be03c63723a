"""Batch lookups: rows from a CSV or JSON-lines file, answers as JSON lines in input order.

Input readers (:mod:`~smsp_cli.batch.reader`: CSV, JSON lines, stdin) feed a bounded,
rate-limited scheduler (:mod:`~smsp_cli.batch.scheduler`), which writes an in-order, resumable
JSON-lines output (:mod:`~smsp_cli.batch.sink`). :mod:`~smsp_cli.batch.lookup` is the one seam
to the wire; :func:`smsp_cli.batch.run.run_batch` runs it all. Only the small enum below is
defined here, so that ``smsp --help`` does not pay for the rest.
"""

from enum import StrEnum


class InputFormat(StrEnum):
    """--format choices."""

    csv = "csv"
    jsonl = "jsonl"


__all__ = ["InputFormat"]
