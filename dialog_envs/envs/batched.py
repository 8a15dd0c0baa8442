"""The batched core shared by every single env and its natively vectorised twin.

Each environment keeps the state of its episodes in arrays with one row per episode and
implements its rules once, on those arrays, in a :class:`BatchCore`. The single env is the batch
of one (a core with one row); :class:`BatchedVectorEnv` is the batch of N (a core with N rows,
stepped with array operations). So there is one copy of every rule, and the vector env gives
exactly what N single envs in ``SyncVectorEnv`` give for the same seeds.

What every env shares lives here once: the construction checks (:class:`BatchOfOneEnv`,
:func:`check_choice`, :func:`check_positive_ints`), the default tokenizer rule
(:func:`env_tokenizer`), the reset options (``options={"index": i}`` or ``{"index": "seed"}``
picks an example, :meth:`BatchCore.example_indices`; any other key is rejected by
:func:`check_reset_options`), the action checks, the render guard and the vector class
(:func:`vector_env_class`). An env module states only its task's rules.

Vector env behaviour (the same as ``gymnasium.vector.SyncVectorEnv``, so it is a drop-in):

* **Autoreset**: ``AutoresetMode.NEXT_STEP``. The step after an episode ended resets that
  sub-env: its action is ignored, it returns the new episode's first observation, reward 0,
  ``terminated = truncated = False`` and the reset info.
* **Seeding**: every sub-env has its own ``np.random.Generator``. ``reset(seed=s)`` seeds sub-env
  ``i`` with ``s + i``, ``reset(seed=[s0, s1, ...])`` with ``s_i``; ``None`` keeps the generators
  (or creates random ones). Sub-env ``i`` then draws exactly what a single env reset with the same
  seed draws.
* **Infos**: Gymnasium's vector form, ``{key: array, "_key": mask}`` (built with
  ``VectorEnv._add_info``).
* **call / get_attr**: ``call("expert_action")`` (and the other per-episode methods a core lists
  in ``row_methods``) returns one value per sub-env; data and settings shared by every sub-env
  (``tokenizer``, ``examples``, ``tags``, ...) are returned once per sub-env, as
  ``SyncVectorEnv.get_attr`` does. The shared attributes are also attributes of the vector env
  itself (``envs.tokenizer``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from os import PathLike
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space
from transformers import PreTrainedTokenizerBase

from dialog_envs.data.splits import check_split
from dialog_envs.errors import DialogEnvsError
from dialog_envs.tokenization import load_tokenizer


@dataclass
class RowInfos:
    """The infos of some rows of a batch after a reset or a step.

    ``dense`` holds the keys every one of those rows has, as arrays with one entry per row (in
    the order of the rows passed in); ``sparse[k]`` holds the other keys of the ``k``-th row.
    """

    dense: dict[str, np.ndarray] = field(default_factory=dict)
    sparse: dict[int, dict[str, Any]] = field(default_factory=dict)

    def row(self, k: int) -> dict[str, Any]:
        """The info dict of the ``k``-th row, as a single env returns it."""
        info = {key: value[k].copy() if isinstance(value[k], np.ndarray) else value[k] for key, value in self.dense.items()}
        info.update(self.sparse.get(k, {}))
        return info


class BatchCore(ABC):
    """The state and rules of ``num_rows`` episodes of one environment, as arrays.

    Rows are addressed with an ``int64`` array of row numbers; settings and data come from the
    single env ``env`` (a :class:`BatchOfOneEnv`). A subclass implements
    :meth:`start` (begin episodes), :meth:`advance` (apply actions) and :meth:`observations`.
    """

    row_methods: dict[str, str] = {}
    """Per-episode methods of the single env (name) served by a batched method of the core (name)."""

    def __init__(self, env: Any, num_rows: int) -> None:
        self.env = env
        """The single env whose settings and data the rows share."""
        if num_rows < 1:
            raise DialogEnvsError(f"num_envs={num_rows}; expected at least 1")
        self.num_rows = int(num_rows)
        self.all_rows = np.arange(self.num_rows, dtype=np.int64)

    @abstractmethod
    def start(
        self,
        rows: np.ndarray,
        rngs: Sequence[np.random.Generator],
        seeds: Sequence[int | None],
        options: dict[str, Any] | None,
    ) -> RowInfos:
        """Begin a new episode in each of ``rows``, drawing from ``rngs[k]`` for ``rows[k]``
        (``seeds[k]`` is the seed that row was reset with, None when it was not reseeded)."""

    @abstractmethod
    def advance(self, rows: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, RowInfos]:
        """Apply ``actions[k]`` to ``rows[k]``; returns rewards (float64), terminated, truncated, infos."""

    @abstractmethod
    def observations(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        """The observations of ``rows`` (every row when None), as fresh arrays."""

    def checked_actions(self, actions: Any, rows: np.ndarray) -> np.ndarray:
        """``actions`` as ``int64`` ids of the env's action space, one per row of ``rows``."""
        return check_actions(actions, len(rows), int(self.env.action_space.n), self.env.action_kind)

    @staticmethod
    def example_indices(
        rngs: Sequence[np.random.Generator], seeds: Sequence[int | None], options: dict[str, Any] | None, count: int
    ) -> np.ndarray:
        """The example each row starts on: ``options["index"]`` (an index, or ``"seed"`` for the
        row's reset seed, which lets a vector env walk a split in order), else one drawn uniformly
        from ``count`` with the row's generator.

        Raises:
            DialogEnvsError: the index is not an integer in ``0 .. count - 1`` (or ``"seed"``).
        """
        chosen = None if options is None else options.get("index")
        indices = np.empty(len(rngs), dtype=np.int64)
        for k, (rng, seed) in enumerate(zip(rngs, seeds)):
            if chosen is None:
                indices[k] = int(rng.integers(count))
                continue
            index = seed if chosen == "seed" else chosen
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise DialogEnvsError(f"options['index']={chosen!r}; expected an example index in 0..{count - 1} or 'seed' (with a reset seed)")
            if not 0 <= index < count:
                raise DialogEnvsError(f"options['index']={int(index)} is out of range; expected 0..{count - 1} (the split has {count} examples)")
            indices[k] = int(index)
        return indices


class BatchOfOneEnv(gym.Env):
    """A single env as the batch of one of its :class:`BatchCore` (``self._core``, one row).

    ``reset`` and ``step`` delegate to row 0, so the single env and the native vector env run the
    same rules. Everything the envs share lives here: the ``split`` and ``render_mode`` checks
    (:meth:`__init__`), the reset options (``options={"index": i}`` picks example ``i``; any
    other key is an error), the check that an action is one action, and the render guard. A
    subclass states its task's rules: its ``core_class``, spaces, ``reward`` and
    :meth:`_render_text`.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}
    core_class: type[BatchCore]
    """The batched rules, built as ``core_class(env, num_rows)``."""
    reset_options: frozenset[str] = frozenset({"index"})
    """The keys ``reset(options=...)`` accepts."""
    action_kind = "an action id"
    """What an action is, for error messages (``"a token id"``)."""
    per_episode_attributes: frozenset[str] = frozenset()
    """What differs between episodes, so a native vector env cannot serve it as a shared attribute."""
    reward: Any
    """The reward rule, resolved from the constructor's ``reward=`` argument."""

    def __init__(self, *, split: str, render_mode: str | None) -> None:
        check_split(split)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            expected = " or ".join(["None", *map(repr, self.metadata["render_modes"])])
            raise DialogEnvsError(f"unknown render_mode {render_mode!r}; expected {expected}")
        self.split = split
        self.render_mode = render_mode

    def make_core(self, num_rows: int) -> BatchCore:
        """The batched state and rules of ``num_rows`` episodes with this env's settings."""
        return self.core_class(self, num_rows)

    @cached_property
    def _core(self) -> BatchCore:
        return self.make_core(1)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        check_reset_options(options, self.reset_options)
        super().reset(seed=seed)
        infos = self._core.start(self._core.all_rows, [self.np_random], [seed], options)
        return self._row_observation(), infos.row(0)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        if np.ndim(action) != 0:
            raise DialogEnvsError(f"action {action!r} is invalid: not one action; expected {self.action_kind} in {self.action_space}")
        rewards, terminated, truncated, infos = self._core.advance(self._core.all_rows, np.asarray([action]))
        return self._row_observation(), float(rewards[0]), bool(terminated[0]), bool(truncated[0]), infos.row(0)

    def render(self) -> str | None:
        """The state as text (``render_mode="ansi"``); None, with a warning, without a render mode."""
        if self.render_mode is None:
            gym.logger.warn("render() was called without a render_mode; pass render_mode='ansi' to gym.make")
            return None
        return self._render_text()

    def _render_text(self) -> str:
        """The state as text, for ``render_mode="ansi"``."""
        raise NotImplementedError

    def _row_observation(self) -> dict[str, np.ndarray]:
        return {key: value[0] for key, value in self._core.observations().items()}

    def episode_metrics(self, final_infos: Sequence[dict[str, Any]]) -> dict[str, float]:
        """The metrics of a set of finished episodes, from each episode's last info.

        The mean of every float-valued key (``bleu``, ``success``, ``entity_f1``, ...). An env
        whose task has corpus-level scores (entity F1 over all sentences, macro F1 over all
        labels) adds them in its override. Agents call this (through :func:`episode_metrics`)
        instead of reading env-specific info keys.
        """
        return mean_float_metrics(final_infos)

    def episode_report(self, final_infos: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Results of a set of finished episodes that are more than numbers, for evaluation
        reports: NER gives its ``token_report`` and ``entity_scores``, DialogueBLEU its sample
        replies and their diversity. Empty here. Agents call this (through :func:`episode_report`)
        instead of reading env-specific info keys."""
        return {}


def mean_float_metrics(final_infos: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The mean of every float-valued key of the infos, over the infos that have it."""
    keys = sorted({key for info in final_infos for key, value in info.items() if isinstance(value, float)})
    return {key: float(np.mean([info[key] for info in final_infos if isinstance(info.get(key), float)])) for key in keys}


def episode_metrics(env: gym.Env | VectorEnv, final_infos: Sequence[dict[str, Any]]) -> dict[str, float]:
    """The metrics of finished episodes of ``env`` (a single or a vector env, wrapped or not):
    the env's own :meth:`BatchOfOneEnv.episode_metrics` where it has one, else the mean of every
    float-valued info key (any other Gymnasium env)."""
    method = getattr(_scoring_env(env), "episode_metrics", None)
    return method(final_infos) if callable(method) else mean_float_metrics(final_infos)


def episode_report(env: gym.Env | VectorEnv, final_infos: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The env's :meth:`BatchOfOneEnv.episode_report` of finished episodes (empty for an env
    without one)."""
    method = getattr(_scoring_env(env), "episode_report", None)
    return method(final_infos) if callable(method) else {}


def _scoring_env(env: gym.Env | VectorEnv) -> Any:
    """The env whose ``episode_metrics``/``episode_report`` score ``env``'s episodes: the
    unwrapped single env, the native vector env (which serves its template's), or the first
    sub-env of a ``SyncVectorEnv``."""
    target = env.unwrapped
    if isinstance(target, gym.vector.SyncVectorEnv):
        target = target.envs[0].unwrapped
    return target


def check_reset_options(options: Any, accepted: Iterable[str]) -> None:
    """Reject ``reset`` options that are not a dict or have a key outside ``accepted``."""
    if options is None:
        return
    names = ", ".join(repr(key) for key in sorted(accepted))
    if not isinstance(options, dict):
        raise DialogEnvsError(f"reset options {options!r} are not a dict; expected None or a dict with the keys {names}")
    for key in options:
        if key not in accepted:
            raise DialogEnvsError(f"unknown reset option {key!r}; expected one of {names}")


def check_choice(name: str, value: Any, choices: Sequence[str]) -> None:
    """Reject an argument that is not one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise DialogEnvsError(f"unknown {name} {value!r}; expected one of {', '.join(choices)}")


MAX_SIZE = 32_768
"""The largest value of a size argument (``max_length``, ``max_new_tokens``, ``max_turns``...). The
envs allocate their observation arrays at construction, so a size is checked there: 32,768 tokens
are 256 KiB per int64 row, where ``max_length=10**9`` would be gigabytes per env."""


def check_positive_ints(**values: Any) -> None:
    """Reject any argument that is not an integer from 1 to :data:`MAX_SIZE`."""
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= MAX_SIZE:
            raise DialogEnvsError(f"{name} is {value!r}; expected an integer from 1 to {MAX_SIZE}")


def env_tokenizer(
    tokenizer: str | PathLike[str] | PreTrainedTokenizerBase | None, default: Callable[[], PreTrainedTokenizerBase]
) -> PreTrainedTokenizerBase:
    """The tokenizer an env runs on: ``default()`` (the env's own, trained on its data) when
    ``tokenizer`` is None, else the named, local or given tokenizer (:func:`load_tokenizer`)."""
    return load_tokenizer(default() if tokenizer is None else tokenizer)


def check_actions(actions: Any, count: int, num_actions: int, kind: str = "an action id") -> np.ndarray:
    """``actions`` as an ``int64`` array of ``count`` valid action ids.

    Raises:
        DialogEnvsError: wrong shape, a non-integer, or an id outside ``0 .. num_actions - 1``
            (the message says the action "is invalid: not ``kind``").
    """
    array = np.asarray(actions)
    if array.dtype == object and array.shape == (count,):
        if all(isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in array):
            too_large = [a for a in array if not np.iinfo(np.int64).min <= a <= np.iinfo(np.int64).max]
            if too_large:
                raise DialogEnvsError(f"action {too_large[0]} is invalid: not {kind}; expected 0..{num_actions - 1}")
            array = array.astype(np.int64)
    if array.shape != (count,) or not np.issubdtype(array.dtype, np.integer):
        shown = actions[0] if count == 1 and array.shape == (1,) else actions
        shown = shown.item() if isinstance(shown, np.generic) else shown
        raise DialogEnvsError(f"action {shown!r} is invalid: not {kind}; expected integers in 0..{num_actions - 1}")
    bad = (array < 0) | (array >= num_actions)
    if bad.any():
        raise DialogEnvsError(f"action {array[bad][0]} is invalid: not {kind}; expected 0..{num_actions - 1}")
    return array.astype(np.int64, copy=False)


class BatchedVectorEnv(VectorEnv):
    """A natively batched ``VectorEnv`` over a :class:`BatchCore` of ``num_envs`` rows.

    A subclass (made by :func:`vector_env_class`) names its single env in ``env_class``; the
    vector env builds one with the same arguments (the *template*, which holds the data,
    tokenizer and spaces shared by every sub-env) and takes the template's ``make_core(num_envs)``.
    ``reset`` accepts the single env's options plus ``reset_mask``.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}
    env_class: type[gym.Env]

    def __init__(self, num_envs: int = 1, **kwargs: Any) -> None:
        template = self.env_class(**kwargs)
        self.template = template
        self.core: BatchCore = template.make_core(num_envs)
        self.num_envs = int(num_envs)
        self.single_observation_space = template.observation_space
        self.single_action_space = template.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = None
        self._rngs: list[np.random.Generator | None] = [None] * self.num_envs
        self._started = False
        self._autoreset = np.zeros(self.num_envs, dtype=bool)

    # -- Gymnasium vector API ----------------------------------------------------------------

    def reset(
        self, *, seed: int | Sequence[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """Reset every sub-env (or those of ``options["reset_mask"]``); seeds as ``SyncVectorEnv``."""
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        if len(seeds) != self.num_envs:
            raise ValueError(f"If seeds are passed as a list the length must match num_envs={self.num_envs} but got length={len(seeds)}.")
        check_reset_options(options, self.template.reset_options | {"reset_mask"})
        options = dict(options) if options is not None else None
        mask = np.ones(self.num_envs, dtype=bool)
        if options is not None and "reset_mask" in options:
            mask = np.asarray(options.pop("reset_mask"))
            if mask.shape != (self.num_envs,) or mask.dtype != np.bool_ or not mask.any():
                raise ValueError(f"options['reset_mask'] must be a bool array of shape ({self.num_envs},) with a True value")
            if not self._started and not mask.all():
                raise DialogEnvsError("the first reset() must reset every sub-env")
        rows = np.flatnonzero(mask)
        for row in rows:
            if seeds[row] is not None or self._rngs[row] is None:
                self._rngs[row], _ = seeding.np_random(seeds[row])
        self._autoreset[rows] = False
        infos = self._vector_infos(rows, self.core.start(rows, [self._rngs[r] for r in rows], [seeds[r] for r in rows], options))
        self._started = True
        return self.core.observations(), infos

    def step(
        self, actions: Any
    ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step every sub-env; those whose episode ended on the previous step are reset instead."""
        if not self._started:
            raise DialogEnvsError("call reset() before step()")
        resetting = self._autoreset
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        if resetting.any():
            reset_rows = np.flatnonzero(resetting)
            step_rows = np.flatnonzero(~resetting)
            reset_infos = self.core.start(reset_rows, [self._rngs[r] for r in reset_rows], [None] * len(reset_rows), None)
        else:
            step_rows = self.core.all_rows
            reset_rows, reset_infos = step_rows[:0], RowInfos()
        if len(step_rows):
            step_actions = np.asarray(actions)
            if step_actions.shape == (self.num_envs,) and len(step_rows) < self.num_envs:
                step_actions = step_actions[step_rows]
            elif step_actions.shape != (self.num_envs,):
                raise DialogEnvsError(f"actions {actions!r}; expected {self.num_envs} action ids")
            r, te, tr, step_infos = self.core.advance(step_rows, step_actions)
            rewards[step_rows], terminated[step_rows], truncated[step_rows] = r, te, tr
        else:
            step_infos = RowInfos()
        infos = self._vector_infos(step_rows, step_infos, reset_rows, reset_infos)
        self._autoreset = terminated | truncated
        return self.core.observations(), rewards, terminated, truncated, infos

    def _vector_infos(
        self, rows_a: np.ndarray, infos_a: RowInfos, rows_b: np.ndarray | None = None, infos_b: RowInfos | None = None
    ) -> dict[str, Any]:
        """Vector infos of one or two disjoint row sets; sparse keys are added in row order, as
        ``SyncVectorEnv`` adds them, so the arrays get the same dtypes."""
        if rows_b is None or infos_b is None:
            rows_b, infos_b = rows_a[:0], RowInfos()
        infos: dict[str, Any] = {}
        for rows, part in ((rows_a, infos_a), (rows_b, infos_b)):
            self._add_dense(infos, rows, part.dense)
        sparse = [(int(rows_a[k]), info) for k, info in infos_a.sparse.items()]
        sparse += [(int(rows_b[k]), info) for k, info in infos_b.sparse.items()]
        for row, info in sorted(sparse, key=lambda item: item[0]):
            infos = self._add_info(infos, info, row)
        return infos

    def _add_dense(self, infos: dict[str, Any], rows: np.ndarray, dense: dict[str, np.ndarray]) -> None:
        for key, values in dense.items():
            if key not in infos:
                infos[key] = np.zeros((self.num_envs, *values.shape[1:]), dtype=values.dtype)
                infos[f"_{key}"] = np.zeros(self.num_envs, dtype=np.bool_)
            infos[key][rows] = values
            infos[f"_{key}"][rows] = True

    # -- sub-env access ----------------------------------------------------------------------

    def call(self, name: str, *args: Any, **kwargs: Any) -> tuple[Any, ...]:
        """One result per sub-env: a per-episode method of ``core.row_methods`` (e.g.
        ``expert_action``), ``get_wrapper_attr`` of a shared attribute, or a shared attribute."""
        if name in self.core.row_methods:
            method: Callable[..., Any] = getattr(self.core, self.core.row_methods[name])
            return tuple(method(*args, **kwargs))
        if name == "get_wrapper_attr" and len(args) == 1 and not kwargs:
            return self.get_attr(args[0])
        value = self._shared(name)
        if callable(value):
            return tuple(value(*args, **kwargs) for _ in range(self.num_envs))
        return tuple(value for _ in range(self.num_envs))

    def get_attr(self, name: str) -> tuple[Any, ...]:
        """A shared attribute once per sub-env, as it is (a tokenizer is returned, not called)."""
        if name in self.core.row_methods:
            return self.call(name)
        value = self._shared(name)
        return tuple(value for _ in range(self.num_envs))

    def _shared(self, name: str) -> Any:
        """An attribute of the template that is the same in every sub-env (data, tokenizer, settings)."""
        if name.startswith("_") or name in self.template.per_episode_attributes:
            raise DialogEnvsError(
                f"{name!r} differs per episode and the native vector env does not serve it; "
                f"supported per-episode calls: {', '.join(sorted(self.core.row_methods)) or 'none'}"
            )
        if not hasattr(self.template, name):
            raise AttributeError(f"the sub-envs have no attribute {name!r}")
        return getattr(self.template, name)

    def __getattr__(self, name: str) -> Any:
        # Shared attributes of the sub-envs (``envs.tokenizer``, ``envs.tags``) read as the vector env's own.
        if name.startswith("_") or name in ("template", "core"):
            raise AttributeError(name)
        if name in self.template.per_episode_attributes:
            raise AttributeError(name)
        return getattr(self.template, name)

    def close_extras(self, **kwargs: Any) -> None:
        self.template.close()


def vector_env_class(env_class: type[BatchOfOneEnv]) -> type[BatchedVectorEnv]:
    """The natively batched ``VectorEnv`` of ``env_class`` (the id's ``vector_entry_point``).

    It takes the arguments of ``env_class`` (but ``render_mode``) plus ``num_envs``; autoreset,
    seeding, infos and ``call``/``get_attr`` behave as in ``SyncVectorEnv`` (see this module's
    docstring), and the core's ``row_methods`` (``call("expert_action")``) are served batched.
    """
    name = env_class.__name__.removesuffix("Env") + "VectorEnv"
    batched = ", ".join(f"``{method}``" for method in env_class.core_class.row_methods) or "none"
    doc = (
        f"``num_envs`` episodes of :class:`{env_class.__name__}` stepped together with array operations "
        f"(see :func:`dialog_envs.envs.batched.vector_env_class`); batched per-episode calls: {batched}."
    )
    return type(name, (BatchedVectorEnv,), {"env_class": env_class, "__doc__": doc, "__module__": env_class.__module__})
