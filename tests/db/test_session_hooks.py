"""Session-class listeners are registered before the first session, never while another thread
commits (a worker once failed a commit with "deque mutated during iteration" when a lazily
imported module registered its listener mid-commit)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from storesync import db

PACKAGE = Path(db.__file__).resolve().parent


def test_every_module_with_session_listeners_is_loaded_before_sessions() -> None:
    registering = set()
    for path in PACKAGE.rglob("*.py"):
        if re.search(r"^@[\w.]*listens_for\(\s*Session\s*,", path.read_text(), re.M):
            relative = path.relative_to(PACKAGE.parent).with_suffix("")
            registering.add(".".join(relative.parts))

    assert registering  # the scan finds the known ones
    assert registering == set(db.SESSION_HOOK_MODULES)


def test_the_first_session_loads_the_hook_modules_in_a_fresh_process() -> None:
    script = (
        "import sys, sqlalchemy as sa\n"
        "from storesync import db\n"
        f"hooks = {list(db.SESSION_HOOK_MODULES)!r}\n"
        "before = [m for m in hooks if m in sys.modules]\n"
        "with db.session_scope(engine=db.make_engine('sqlite://')) as s:\n"
        "    s.execute(sa.text('SELECT 1'))\n"
        "after = [m for m in hooks if m in sys.modules]\n"
        "print(len(before), len(after))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )

    loaded_before, loaded_after = map(int, result.stdout.split())
    assert loaded_before < len(db.SESSION_HOOK_MODULES)  # importing db alone does not load them
    assert loaded_after == len(db.SESSION_HOOK_MODULES)
