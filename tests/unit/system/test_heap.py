"""The batch's threads share two heap arenas on glibc; elsewhere nothing is changed."""

from __future__ import annotations

import platform
import sys

import pytest

from smsp_cli.system import heap


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="arenas are glibc's")
def test_glibc_takes_the_cap_on_arenas() -> None:
    assert heap.share_arenas() is True


@pytest.mark.skipif(sys.platform.startswith("linux"), reason="elsewhere than Linux")
def test_elsewhere_nothing_is_changed() -> None:
    assert heap.share_arenas() is False
