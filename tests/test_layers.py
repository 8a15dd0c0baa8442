"""The package's layers import downwards only, and the wheel installs nothing but ``dialog_envs``.

Layers, from the floor up:

1. ``dialog_envs`` itself: envs, data, metrics, simulated and human users, feedback log,
   registration;
2. ``dialog_envs.agents`` (the repository's ``agents/`` folder): policies, token-pg, SB3
   baselines, agent registry, benchmark harness;
3. the command line: ``dialog_envs.cli`` and ``dialog_envs.commands``.

``benchmarks/`` are scripts on the public API: installed code never imports them. Every import
counts, including those inside functions (the lazy imports of the CLI).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("floor", "agents", "cli")


def module_name(path: Path) -> str:
    """The installed dotted name of a source file (``agents/x.py`` installs as ``dialog_envs.agents.x``)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[0] == "agents":
        parts = ["dialog_envs", *parts]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> str | None:
    """The layer of a module of this project, ``None`` for a third-party module."""
    top = module.split(".")[0]
    if top in ("agents", "benchmarks"):
        return top  # wrong in any installed module: these names are not installed
    if top != "dialog_envs":
        return None
    if module == "dialog_envs.cli" or module.startswith(("dialog_envs.commands.", "dialog_envs.cli.")) or module == "dialog_envs.commands":
        return "cli"
    if module == "dialog_envs.agents" or module.startswith("dialog_envs.agents."):
        return "agents"
    return "floor"


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """``(line, module)`` of every import in a file, relative imports resolved."""
    own = module_name(path)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
    return found


def installed_sources() -> list[Path]:
    return sorted([*(ROOT / "dialog_envs").rglob("*.py"), *(ROOT / "agents").rglob("*.py")])


def wrong_way_imports(sources: list[Path]) -> list[str]:
    """One line for each import that goes up a layer or reaches an uninstalled top-level name."""
    problems = []
    for path in sources:
        own = layer_of(module_name(path))
        for line, target in imported_modules(path):
            layer = layer_of(target)
            if layer is None:
                continue
            where = f"{path.relative_to(ROOT)}:{line} imports {target}"
            if layer in ("agents", "benchmarks") and target.split(".")[0] == layer:
                problems.append(f"{where} (not an installed package)")
            elif LAYERS.index(layer) > LAYERS.index(own):
                problems.append(f"{where} ({own} layer importing the {layer} layer)")
    return problems


def test_every_import_goes_downwards() -> None:
    assert wrong_way_imports(installed_sources()) == []


def test_the_check_catches_a_wrong_way_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_root = tmp_path
    (fake_root / "dialog_envs" / "envs").mkdir(parents=True)
    (fake_root / "agents").mkdir()
    (fake_root / "dialog_envs" / "envs" / "bad.py").write_text("def f():\n    from dialog_envs.agents.token_pg import TokenPGAgent\n")
    (fake_root / "agents" / "worse.py").write_text("import benchmarks.throughput\nfrom ..commands import train\n")
    (fake_root / "agents" / "fine.py").write_text("from dialog_envs.envs import batched\nimport torch\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", fake_root)
    problems = wrong_way_imports(sorted([*fake_root.rglob("*.py")]))
    assert problems == [
        "agents/worse.py:1 imports benchmarks.throughput (not an installed package)",
        "agents/worse.py:2 imports dialog_envs.commands (agents layer importing the cli layer)",
        "dialog_envs/envs/bad.py:2 imports dialog_envs.agents.token_pg (floor layer importing the agents layer)",
    ]


@pytest.mark.slow
def test_wheel_installs_only_the_dialog_envs_package(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy, so that the build leaves no build/ folder in the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for folder in ("dialog_envs", "agents"):
        shutil.copytree(ROOT / folder, source / folder, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(source)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("dialog_envs-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    top_level = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert top_level == {"dialog_envs"}
    assert "dialog_envs/agents/token_pg.py" in names
    assert "dialog_envs/agents/results.schema.json" in names
    assert "dialog_envs/simuser/reference_agent.py" in names
