"""Training logs: a long-format CSV (always) and TensorBoard (when installed)."""

from __future__ import annotations

import csv
import os
import time
from pathlib import Path

from dialog_envs.errors import DialogEnvsError


class RunLogger:
    """Appends ``update, phase, name, value, seconds`` rows to ``metrics.csv`` under ``folder``.

    The CSV is flushed after every update, so a crash loses nothing already logged. With the
    ``tensorboard`` package installed the same scalars go to ``folder/tensorboard``.
    """

    def __init__(self, folder: str | Path, resume_update: int = 0, resume_warm_start: int = 0) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        refuse_links_leaving(self.folder)
        path = self.folder / "metrics.csv"
        if path.exists():
            _drop_rows_after(path, resume_update, resume_warm_start)
        is_new = not path.exists()
        self._file = open(path, "a", newline="", encoding="utf-8")
        self._csv = csv.writer(self._file)
        if is_new:
            self._csv.writerow(["update", "phase", "name", "value", "seconds"])
        self._start = time.perf_counter()
        try:
            from torch.utils.tensorboard import SummaryWriter

            self._tensorboard = SummaryWriter(str(self.folder / "tensorboard"))
        except ImportError:
            self._tensorboard = None

    def log(self, update: int, phase: str, metrics: dict[str, float]) -> None:
        seconds = round(time.perf_counter() - self._start, 3)
        for name, value in metrics.items():
            self._csv.writerow([update, phase, name, f"{float(value):.6g}", seconds])
            if self._tensorboard is not None:
                self._tensorboard.add_scalar(f"{phase}/{name}", float(value), update)
        self._file.flush()

    def close(self) -> None:
        self._file.close()
        if self._tensorboard is not None:
            self._tensorboard.close()


def _drop_rows_after(path: Path, update: int, warm_start: int) -> None:
    """Keep the rows of a resumed run up to its checkpoint: RL rows after ``update`` and warm-start
    rows after ``warm_start`` (they are logged again), and a last line cut short by a crash, are dropped."""
    with open(path, newline="", encoding="utf-8") as handle:
        text = handle.read()
    complete = text[: text.rfind("\n") + 1]
    rows = list(csv.reader(complete.split("\n")[:-1]))
    kept = [row for row in rows[1:] if len(row) == 5 and int(row[0]) <= (warm_start if row[1] == "warm_start" else update)]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows[:1] + kept)


def refuse_links_leaving(folder: Path) -> None:
    """Refuse a run folder holding a symbolic link to somewhere outside it: resuming rewrites the
    run's files, and must never rewrite a file elsewhere through a link.

    Raises:
        DialogEnvsError: names the link and where it points.
    """
    root = folder.resolve()
    for current, folders, files in os.walk(folder):  # links to folders are listed, not followed
        for name in folders + files:
            path = Path(current) / name
            if path.is_symlink() and not path.resolve().is_relative_to(root):
                raise DialogEnvsError(
                    f"{path} is a symbolic link to {path.resolve()}, outside the run folder {folder}; "
                    "expected only the run's own files (remove the link)"
                )
