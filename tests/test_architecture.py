"""The architecture holds: no import cycle among modules (imports inside functions count), no
folder of more than a dozen modules, and each import contract in pyproject.toml fails when a
forbidden import is added (`make test` runs the contracts themselves on the real tree)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
MAX_MODULES_PER_FOLDER = 12


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph.modules):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append(
                        (child, iter(sorted(graph.find_modules_directly_imported_by(child))))
                    )
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_among_the_modules_counting_imports_inside_functions() -> None:
    graph = grimp.build_graph("storesync", "workers", cache_dir=None)
    # grimp reads every import statement, also those inside functions: one is among these.
    assert "storesync.sync.jobs.runner" in graph.find_modules_directly_imported_by(
        "workers.job_actors"
    )

    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        graph.add_module(name)
    graph.add_import(importer="pkg.a", imported="pkg.b")
    graph.add_import(importer="pkg.b", imported="pkg.a")
    graph.add_import(importer="pkg.c", imported="pkg.a")

    assert _cycles(graph) == [["pkg.a", "pkg.b"]]


def test_no_folder_holds_more_than_a_dozen_modules() -> None:
    crowded = {
        str(folder.relative_to(ROOT)): count
        for package in ("storesync", "workers")
        for folder in [ROOT / package, *(ROOT / package).rglob("*")]
        if folder.is_dir() and (count := len(list(folder.glob("*.py")))) > MAX_MODULES_PER_FOLDER
    }

    assert crowded == {}


# A forbidden import per contract, placed inside a function (that must count too).
VIOLATIONS = {
    "layers": ("storesync/tenancy/service.py", "storesync.inventory.models", "storesync.tenancy"),
    "sync-layers": ("storesync/sync/jobs/runner.py", "storesync.sync.health.backfill", "jobs"),
    "channels": ("storesync/channels/registry.py", "storesync.stores.service", "channels"),
    "mail": ("storesync/mail/service.py", "storesync.db", "storesync.mail"),
    "storage": ("storesync/storage/service.py", "storesync.db", "storesync.storage"),
    "sandbox": ("storesync/sandbox/state.py", "storesync.core.clock", "storesync.sandbox"),
}


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("tree")
    ignore = shutil.ignore_patterns("__pycache__")
    for package in ("storesync", "workers"):
        shutil.copytree(ROOT / package, copy / package, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def _lint(tree: Path, contract: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--contract", contract],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("contract", sorted(VIOLATIONS))
def test_each_import_contract_fails_when_a_forbidden_import_is_added(
    tree_copy: Path, contract: str
) -> None:
    relative, forbidden, importer_part = VIOLATIONS[contract]
    module = tree_copy / relative
    original = module.read_text()
    assert _lint(tree_copy, contract).returncode == 0  # the copy keeps the contract as it is
    module.write_text(
        original + f"\n\ndef _added_by_the_test() -> None:\n    import {forbidden}  # noqa\n"
    )
    try:
        broken = _lint(tree_copy, contract)
    finally:
        module.write_text(original)

    assert broken.returncode == 1, broken.stdout
    assert "BROKEN" in broken.stdout
    assert forbidden in broken.stdout and importer_part in broken.stdout
