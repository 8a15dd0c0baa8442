"""Shared test helpers: where the real data sets are, and skipping when they are absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = (Path(__file__).resolve().parents[1] / ".." / "shared" / "data").resolve()


def shared_data(name: str) -> Path:
    """Path of a data set under ``../shared/data``; skips the calling test when it is absent."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Tokenizers trained by the tests go to a temporary cache, not the user's."""
    import os

    os.environ.setdefault("DIALOG_ENVS_CACHE", str(tmp_path_factory.mktemp("dialog_envs_cache")))
