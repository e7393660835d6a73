"""Session listeners are installed by the composition root, before the first session, never while
another thread commits (a worker once failed a commit with "deque mutated during iteration" when
a lazily imported module registered its listener mid-commit). No module registers its own."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from storesync import db
from workers import wiring

PACKAGE = Path(db.__file__).resolve().parent


def test_every_module_with_session_listeners_is_installed_by_the_composition_root() -> None:
    declaring, self_registering = set(), set()
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if re.search(r"^SESSION_LISTENERS\b", text, re.M):
            declaring.add(module)
        if re.search(r"listens_for\(\s*Session\s*,|event\.listen\(\s*Session\s*,", text):
            self_registering.add(module)

    assert declaring  # the scan finds the known ones
    assert declaring == {m.__name__ for m in wiring.LISTENER_MODULES}
    assert self_registering == set()  # only db's own TenantSession listener, on its own class


def test_a_fresh_process_refuses_sessions_until_it_is_wired_then_runs_every_listener() -> None:
    script = (
        "import sqlalchemy as sa\n"
        "from sqlalchemy import event\n"
        "from sqlalchemy.orm import Session\n"
        "from storesync import db\n"
        "engine = db.make_engine('sqlite://')\n"
        "try:\n"
        "    with db.session_scope(engine=engine) as s:\n"
        "        s.execute(sa.text('SELECT 1'))\n"
        "    print('opened')\n"
        "except db.NotWired:\n"
        "    print('refused')\n"
        "from workers import wiring\n"
        "wiring.prepare()\n"
        "wiring.prepare()  # idempotent: each listener once\n"
        "with db.session_scope(engine=engine) as s:\n"
        "    s.execute(sa.text('SELECT 1'))\n"
        "installed = sum(\n"
        "    event.contains(Session, name, fn)\n"
        "    for m in wiring.LISTENER_MODULES for name, fn in m.SESSION_LISTENERS\n"
        ")\n"
        "declared = sum(len(m.SESSION_LISTENERS) for m in wiring.LISTENER_MODULES)\n"
        "print(installed, declared)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    )

    first, counts = result.stdout.splitlines()
    installed, declared = map(int, counts.split())
    assert first == "refused"
    assert installed == declared > 0
