"""Atomic, pickle-free checkpoints.

A checkpoint is a folder:

- ``policy.safetensors``: every weight of the policy (backbone and heads), the source of truth;
- ``model/``: the backbone as ``save_pretrained`` writes it (safetensors), loadable on its own by
  ``from_pretrained`` (a LoRA policy's adapter is merged into it);
- ``tokenizer/``: the env's tokenizer;
- ``optimizer.pt``: the optimizer state (tensors and numbers only, read back with
  ``torch.load(weights_only=True)``, which never unpickles arbitrary objects);
- ``state.json``: the update count, the config, the best metric and the RNG states.

It is written to a temporary folder and swapped in with renames, so a crash (even SIGKILL) leaves
either the previous checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import copy
import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model
from torch import nn
from transformers import PreTrainedTokenizerBase

from dialog_envs.agents.policies import quiet_transformers
from dialog_envs.errors import DialogEnvsError


def save_checkpoint(
    folder: str | os.PathLike[str],
    policy: nn.Module,
    backbone: Any,
    tokenizer: PreTrainedTokenizerBase,
    optimizer: torch.optim.Optimizer | None,
    state: dict[str, Any],
) -> None:
    """Write a checkpoint to ``folder`` atomically (replacing an older one)."""
    target = Path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-new-", dir=target.parent))
    save_model(policy, str(staging / "policy.safetensors"))
    if hasattr(backbone, "merge_and_unload"):  # LoRA: model/ holds the merged weights, usable alone
        backbone = copy.deepcopy(backbone).merge_and_unload()
    with quiet_transformers():
        backbone.save_pretrained(staging / "model", safe_serialization=True)
    tokenizer.save_pretrained(staging / "tokenizer")
    if optimizer is not None:
        torch.save(optimizer.state_dict(), staging / "optimizer.pt")
    (staging / "state.json").write_text(json.dumps(state, indent=2))
    _fsync_tree(staging)
    retired = target.parent / f".{target.name}-old"
    shutil.rmtree(retired, ignore_errors=True)
    if target.exists():
        os.replace(target, retired)
    os.replace(staging, target)
    shutil.rmtree(retired, ignore_errors=True)


def recover(folder: str | os.PathLike[str]) -> None:
    """After a crash between the two renames, put the retired checkpoint back."""
    target = Path(folder)
    retired = target.parent / f".{target.name}-old"
    if not target.exists() and retired.exists():
        os.replace(retired, target)


def read_state(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``state.json`` of a checkpoint, with a clear error when it is not one."""
    path = Path(folder) / "state.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise DialogEnvsError(f"{folder} is not a checkpoint: cannot read {path.name} ({error})") from None


def checkpoint_env_id(state: dict[str, Any], folder: str | os.PathLike[str], allow_module_env_id: bool = False) -> str:
    """The env id a checkpoint was trained on, when it is safe to pass to ``gym.make``.

    Gymnasium imports the module named before a colon in an id (``"module:Env-v0"``), so a
    ``state.json`` could run any code on the machine that evaluates it. Only ids registered in
    this process are accepted unless ``allow_module_env_id`` says the checkpoint is trusted.

    Raises:
        DialogEnvsError: the id is missing, has a ``module:`` prefix (without the opt-in) or is not
            registered (names the file and field).
    """
    env_id = state.get("env_id")
    where = f"{Path(folder) / 'state.json'}: field 'env_id'"
    if not isinstance(env_id, str) or not env_id:
        raise DialogEnvsError(f"{where} is {env_id!r}; expected a registered environment id such as 'dialog_envs/NER-v0'")
    if ":" in env_id:
        if allow_module_env_id:
            return env_id
        raise DialogEnvsError(
            f"{where} is {env_id!r}, which would import the module before ':'; expected a registered environment "
            "id such as 'dialog_envs/NER-v0' (trust the checkpoint with allow_module_env_id=True / --allow-module-env-id)"
        )
    if env_id not in gym.registry:
        raise DialogEnvsError(f"{where} is {env_id!r}, which is not registered; expected an id such as 'dialog_envs/NER-v0'")
    return env_id


def load_weights(folder: str | os.PathLike[str], policy: nn.Module, optimizer: torch.optim.Optimizer | None = None) -> None:
    """Load the policy's weights (and the optimizer state, when given) from a checkpoint.

    Raises:
        DialogEnvsError: a weight file is missing, corrupt, not safetensors, holds anything but
            tensors and numbers (a pickled object is refused, never run), or does not fit the policy.
    """
    folder = Path(folder)
    path = folder / "policy.safetensors"
    try:
        load_model(policy, str(path))
        path = folder / "optimizer.pt"
        if optimizer is not None and path.exists():
            optimizer.load_state_dict(torch.load(path, weights_only=True))
    except (OSError, RuntimeError, ValueError, KeyError, pickle.UnpicklingError, SafetensorError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DialogEnvsError(f"{path}: cannot load the checkpoint's weights ({reason[:300]})") from None


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
