"""The one list of every environment id this package registers, with a line describing each.

``import dialog_envs`` calls :func:`register_envs`; gymnasium's ``"dialog_envs:dialog_envs/ID"``
form imports the package first, so it works without a prior import. To add an environment,
add one :class:`EnvSpec` to :data:`ENV_SPECS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

from dialog_envs.errors import DialogEnvsError

NAMESPACE = "dialog_envs"


@dataclass(frozen=True)
class EnvSpec:
    """What gymnasium needs to build one environment, plus a one-line description for humans."""

    id: str
    """The full id, ``"dialog_envs/Name-vN"``."""
    entry_point: str
    """``"module:Class"`` of the single environment."""
    description: str
    """One line shown by ``dialog-envs list``."""
    vector_entry_point: str | None = None
    """``"module:Class"`` of a natively batched ``VectorEnv``, if the env has one."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Default constructor arguments."""


ENV_SPECS: tuple[EnvSpec, ...] = (
    EnvSpec(
        id=f"{NAMESPACE}/NER-v0",
        entry_point="dialog_envs.envs.ner:NEREnv",
        vector_entry_point="dialog_envs.envs.ner:NERVectorEnv",
        description="Tag a sentence word by word with BIO entity tags (token or entity-F1 rewards).",
    ),
    EnvSpec(
        id=f"{NAMESPACE}/DialogueBLEU-v0",
        entry_point="dialog_envs.envs.dialogue_bleu:DialogueBLEUEnv",
        vector_entry_point="dialog_envs.envs.dialogue_bleu:DialogueBLEUVectorEnv",
        description="Write the reply to a dialogue context token by token (BLEU, log-BLEU or chrF reward).",
    ),
    EnvSpec(
        id=f"{NAMESPACE}/Sentiment-v0",
        entry_point="dialog_envs.envs.sentiment:SentimentEnv",
        vector_entry_point="dialog_envs.envs.sentiment:SentimentVectorEnv",
        description="Label a financial news sentence or comment negative/neutral/positive (optional rationale first).",
    ),
    EnvSpec(
        id=f"{NAMESPACE}/SimUser-v0",
        entry_point="dialog_envs.envs.simuser:SimUserEnv",
        vector_entry_point="dialog_envs.envs.simuser:SimUserVectorEnv",
        description="Talk with a simulated user who has a goal, token by token; rewarded by its satisfaction per turn.",
    ),
)


def register_envs() -> None:
    """Register every id of :data:`ENV_SPECS` with gymnasium (idempotent)."""
    for spec in ENV_SPECS:
        if spec.id in gym.registry:
            continue
        gym.register(
            id=spec.id,
            entry_point=spec.entry_point,
            vector_entry_point=spec.vector_entry_point,
            kwargs=dict(spec.kwargs),
            disable_env_checker=False,
        )


def env_ids() -> list[str]:
    """Every registered id of this package, in the order of :data:`ENV_SPECS`."""
    return [spec.id for spec in ENV_SPECS]


def check_env_id(env_id: str) -> str:
    """``env_id`` if this package registers it (a bare name such as ``NER-v0`` gets the namespace)."""
    known = env_ids()
    if env_id in known:
        return env_id
    if f"dialog_envs/{env_id}" in known:
        return f"dialog_envs/{env_id}"
    raise DialogEnvsError(f"unknown environment {env_id!r}; available: {', '.join(known)}")
