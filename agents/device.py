"""Device and precision choices: CUDA when present, else CPU; bf16 autocast where it helps."""

from __future__ import annotations

import contextlib
from functools import lru_cache

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` is ``cuda`` when a GPU is visible, else ``cpu``; anything else is taken as given."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@lru_cache(maxsize=1)
def cpu_has_amx() -> bool:
    """True on CPUs with AMX bf16 tiles, where bf16 matrix products are fast (read from /proc/cpuinfo)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return "amx_bf16" in handle.read()
    except OSError:
        return False


def use_bf16(setting: str, device: torch.device) -> bool:
    """Whether to autocast to bfloat16: ``"on"``, ``"off"``, or ``"auto"`` (bf16-capable GPU or AMX CPU)."""
    if setting in ("on", "off"):
        return setting == "on"
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return device.type == "cpu" and cpu_has_amx()


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on ``device`` when ``enabled``, else a no-op context."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
