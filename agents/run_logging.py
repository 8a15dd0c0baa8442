"""Training logs: a long-format CSV (always) and TensorBoard (when installed)."""

from __future__ import annotations

import csv
import time
from pathlib import Path


class RunLogger:
    """Appends ``update, phase, name, value, seconds`` rows to ``metrics.csv`` under ``folder``.

    The CSV is flushed after every update, so a crash loses nothing already logged. With the
    ``tensorboard`` package installed the same scalars go to ``folder/tensorboard``.
    """

    def __init__(self, folder: str | Path, resume_update: int = 0) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / "metrics.csv"
        if path.exists():
            _drop_rows_after(path, resume_update)
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


def _drop_rows_after(path: Path, update: int) -> None:
    """Keep the rows of a resumed run up to its checkpoint: RL rows after ``update`` (they are
    logged again) and a last line cut short by a crash are dropped; warm-start rows are kept."""
    with open(path, newline="", encoding="utf-8") as handle:
        text = handle.read()
    complete = text[: text.rfind("\n") + 1]
    rows = list(csv.reader(complete.splitlines()))
    kept = [row for row in rows[1:] if len(row) == 5 and (row[1] == "warm_start" or int(row[0]) <= update)]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows[:1] + kept)
