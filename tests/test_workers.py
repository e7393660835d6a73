"""Workers stay light: importing the actors must not import Reflex."""

from __future__ import annotations

import subprocess
import sys


def test_actors_import_no_reflex_and_use_the_stub_broker_without_redis() -> None:
    code = (
        "import sys, workers.actors as a; "
        "print('reflex' in sys.modules, type(a.broker).__name__)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )

    assert result.stdout.split() == ["False", "StubBroker"]
