"""The guard in conftest: no test reaches the internet (only the 127.0.0.1 mirror)."""

from __future__ import annotations

import socket

import pytest


def test_no_internet_a_name_lookup_or_connection_elsewhere_is_refused() -> None:
    with pytest.raises(OSError, match="only 127.0.0.1 is allowed"):
        socket.create_connection(("cdn.finra.org", 443), timeout=1)
    with pytest.raises(OSError, match="only 127.0.0.1 is allowed"):
        socket.socket().connect(("93.184.216.34", 80))
    with socket.socket() as s:  # the loopback stays open (the mirror lives there)
        s.bind(("127.0.0.1", 0))
        s.listen()
        with socket.create_connection(s.getsockname()[:2], timeout=1):
            pass
