"""Device and precision choices: CUDA when present, else CPU; bf16 autocast where it helps."""

from __future__ import annotations

import contextlib
import os
from functools import lru_cache

import torch


def resolve_device(name: str = "auto") -> torch.device:
    """``"auto"`` is ``cuda`` when a GPU is visible (``cuda:LOCAL_RANK`` under torchrun), else
    ``cpu``; anything else is taken as given."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        return torch.device("cpu")
    return torch.device(name)


def init_distributed() -> bool:
    """Join the process group when started by ``torchrun`` with more than one process.

    The backend is NCCL on GPUs and gloo on CPUs. Returns whether training is distributed.
    """
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return False
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
        dist.init_process_group(backend=backend)
    return True


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
