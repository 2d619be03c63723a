"""`smsp sandbox serve` reports an operating-system condition a user can fix in plain words."""

from __future__ import annotations

import socket

from tests.lib.cli import smsp


def test_a_port_in_use_is_named_with_exit_6_not_an_internal_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = smsp("sandbox", "serve", "--port", str(port))
    assert run.exit_code == 6
    assert run.stderr.splitlines() == [
        f"smsp: error: port {port} on 127.0.0.1 is already in use (stop what listens there, "
        "or pick another --port; --port 0 picks a free one)"
    ]
    assert "internal error" not in run.stderr
