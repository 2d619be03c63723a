"""The audit trail's timestamps: UTC, microseconds, a Z (MSCA-AUD-07)."""

from __future__ import annotations

import datetime as dt

from smsp_cli.audit.records import utc_timestamp


def test_a_moment_is_written_in_utc_to_the_microsecond_with_a_z() -> None:
    assert utc_timestamp(dt.datetime(2025, 1, 4, 10, 11, 12, 123456, tzinfo=dt.UTC)) == (
        "2025-01-04T10:11:12.123456Z")
    # A whole second keeps its six zeros (isoformat would drop them by default).
    assert utc_timestamp(dt.datetime(2025, 1, 4, 10, 11, 12, tzinfo=dt.UTC)) == (
        "2025-01-04T10:11:12.000000Z")
    plus_one = dt.timezone(dt.timedelta(hours=1))
    assert utc_timestamp(dt.datetime(2025, 1, 4, 0, 30, 0, 5, tzinfo=plus_one)) == (
        "2025-01-03T23:30:00.000005Z")
