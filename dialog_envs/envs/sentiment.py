"""``dialog_envs/Sentiment-v0``: classify one financial text as negative, neutral or positive.

The rules live once, on arrays with one row per episode, in :class:`SentimentBatch`: the single
env is the batch of one and :class:`SentimentVectorEnv` (the id's ``vector_entry_point``) steps N
episodes with array operations.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

import numpy as np
from gymnasium import spaces
from transformers import PreTrainedTokenizerBase

from dialog_envs.data.generated_sentiment import SENTIMENT_LABELS, generate_sentiment_corpus
from dialog_envs.data.labelled import (
    DEFAULT_SPLIT_SEED,
    LabelledFormat,
    LabelledText,
    label_set,
    labelled_source,
    read_labelled_source,
    read_labelled_split,
)
from dialog_envs.data.splits import SPLITS
from dialog_envs.envs.batched import BatchCore, BatchOfOneEnv, RowInfos, check_choice, check_positive_ints, env_tokenizer, mean_float_metrics, vector_env_class
from dialog_envs.errors import DialogEnvsError
from dialog_envs.metrics.classification import macro_f1
from dialog_envs.tokenization import train_tokenizer

Observation = dict[str, np.ndarray]
RewardMatrix = Sequence[Sequence[float]] | np.ndarray


class SentimentBatch(BatchCore):
    """The state of N Sentiment episodes as arrays, and the env's rules applied to them.

    One row per episode: the example index, the rationale so far (left-padded, as observed), the
    predicted label (-1 while none) and whether the episode is over.
    """

    row_methods = {"expert_action": "expert_actions"}

    def __init__(self, env: SentimentEnv, num_rows: int) -> None:
        super().__init__(env, num_rows)
        self.offset = env.vocab_size if env.explain else 0
        self.true = np.asarray([env._label_index[example.label] for example in env.examples], dtype=np.int64)
        self.length = env.max_rationale_tokens
        self.index = np.full(num_rows, -1, dtype=np.int64)
        self.rationale = np.full((num_rows, self.length), env.pad_id, dtype=np.int64)
        self.rationale_len = np.zeros(num_rows, dtype=np.int64)
        self.predicted = np.full(num_rows, -1, dtype=np.int64)
        self.done = np.zeros(num_rows, dtype=bool)

    def start(
        self, rows: np.ndarray, rngs: list[np.random.Generator], seeds: list[int | None], options: dict[str, Any] | None
    ) -> RowInfos:
        infos = RowInfos()
        indices = self.example_indices(rngs, seeds, options, len(self.env.examples))
        self.index[rows] = indices
        for k, index in enumerate(indices.tolist()):
            infos.sparse[k] = {"index": index}
        self.rationale[rows] = self.env.pad_id
        self.rationale_len[rows] = 0
        self.predicted[rows] = -1
        self.done[rows] = False
        return infos

    def advance(self, rows: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, RowInfos]:
        if (self.index[rows] < 0).any() or self.done[rows].any():
            raise DialogEnvsError("the episode is over (or never started); call reset() first")
        actions = self.checked_actions(actions, rows)
        true = self.true[self.index[rows]]
        answers = actions >= self.offset
        room = self.rationale_len[rows] < self.length
        writes = ~answers & room
        rewards = np.zeros(len(rows), dtype=np.float64)
        predicted = np.where(answers, actions - self.offset, -1)
        rewards[answers] = self.env.reward[true[answers], predicted[answers]]
        rewards[~answers & ~room] = self.env.reward.min()
        write_rows = rows[writes]
        if len(write_rows):  # shift the left-padded rationale and append the token
            self.rationale[write_rows, :-1] = self.rationale[write_rows, 1:]
            self.rationale[write_rows, -1] = actions[writes]
            self.rationale_len[write_rows] += 1
        terminated = ~writes
        self.predicted[rows] = predicted
        self.done[rows] = terminated
        infos = RowInfos()
        for k, row in enumerate(rows):
            infos.sparse[k] = {"index": int(self.index[row])}
            if terminated[k]:
                infos.sparse[k].update(self._final_info(int(row), int(true[k])))
        return rewards, terminated, np.zeros(len(rows), dtype=bool), infos

    def observations(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        rows = self.all_rows if rows is None else rows
        index = np.maximum(self.index[rows], 0)
        width = self.env._input_ids.shape[1]
        input_ids = np.full((len(rows), self.env.max_length), self.env.pad_id, dtype=np.int64)
        attention_mask = np.zeros((len(rows), self.env.max_length), dtype=np.int64)
        input_ids[:, :width] = self.env._input_ids[index]
        attention_mask[:, :width] = self.env._attention_mask[index]
        observation = {"input_ids": input_ids, "attention_mask": attention_mask}
        if self.env.explain:
            observation["rationale_ids"] = self.rationale[rows].copy()
            observation["rationale_mask"] = (np.arange(self.length) >= self.length - self.rationale_len[rows][:, None]).astype(np.int64)
        return observation

    def rationale_tokens(self, row: int) -> list[int]:
        """The rationale of ``row`` so far, oldest token first."""
        return self.rationale[row, self.length - self.rationale_len[row] :].tolist()

    def expert_actions(self) -> np.ndarray:
        """The action answering each row's gold label at once (0 before the first reset)."""
        started = self.index >= 0
        return np.where(started, self.true[np.maximum(self.index, 0)] + self.offset, 0)

    def _final_info(self, row: int, true: int) -> dict[str, Any]:
        predicted = int(self.predicted[row])
        labels = self.env.labels
        info: dict[str, Any] = {
            "label": labels[true],
            "label_index": true,
            "predicted_label": labels[predicted] if predicted >= 0 else "",
            "predicted_index": predicted,
            "correct": predicted == true,
        }
        if self.env.explain:
            info["rationale"] = self.env._decode(self.rationale_tokens(row))
        return info


class SentimentEnv(BatchOfOneEnv):
    """
    ## Description

    Sentiment monitoring as a one-step decision: the agent reads one short financial text (a news
    sentence or a comment) and answers with its label, by default ``negative``, ``neutral`` or
    ``positive`` from an investor's point of view. The texts come from the project's own generated
    corpus (:mod:`dialog_envs.data.generated_sentiment`) or from a labelled file such as the
    Financial PhraseBank (``sentence@label`` lines), CSV/TSV or JSONL
    (:mod:`dialog_envs.data.labelled`).

    In **explain mode** (``explain=True``) the agent first writes a short rationale, one token per
    step, and then gives the label; the rationale is shown back to it in the observation.

    ## Action Space

    * ``explain=False``: ``Discrete(num_labels)``; action ``k`` is label ``env.unwrapped.labels[k]``
      (labels sorted by name unless ``labels=`` gives the order).
    * ``explain=True``: ``Discrete(vocab_size + num_labels)``; an action ``a < vocab_size`` appends
      token id ``a`` to the rationale, an action ``a >= vocab_size`` answers label
      ``labels[a - vocab_size]`` and ends the episode. ``vocab_size`` is ``len(tokenizer)``.

    ## Observation Space

    A ``Dict`` of ``int64`` ``Box`` arrays (SB3 ``MultiInputPolicy`` takes it unchanged):

    | key | shape | values | meaning |
    |---|---|---|---|
    | ``input_ids`` | ``(max_length,)`` | ``0 .. vocab_size-1`` | the text's token ids, **right-padded** (token ``i`` is element ``i``) with the pad id; truncated to ``max_length`` |
    | ``attention_mask`` | ``(max_length,)`` | ``0`` or ``1`` | 1 on the text's tokens, 0 on padding |
    | ``rationale_ids`` | ``(max_rationale_tokens,)`` | ``0 .. vocab_size-1`` | explain mode only: the rationale so far, **left-padded** (the newest token is the last element) |
    | ``rationale_mask`` | ``(max_rationale_tokens,)`` | ``0`` or ``1`` | explain mode only: 1 on rationale tokens |

    The text part never changes within an episode; the rationale part only grows (append-only).

    ## Rewards

    On the label action: ``matrix[true, predicted]``, where ``reward=`` gives the matrix;
    ``reward="accuracy"`` (default) is the identity, i.e. +1 for the correct label and 0 otherwise. Rows are true labels, columns predicted labels,
    both in the order of ``labels``; a cost-sensitive matrix such as ``[[1, 0, -2], [0, 1, 0],
    [-2, 0, 1]]`` punishes mistaking negative news for positive. Rationale tokens get reward 0
    (the rationale is not scored by the env). A rationale that runs past ``max_rationale_tokens``
    without a label ends the episode with the matrix's smallest entry.

    ## Starting State

    ``reset`` draws one example of the split uniformly with ``self.np_random``, or takes example
    ``options["index"]`` (to walk a split in order, e.g. for evaluation; ``"seed"``: the reset
    seed's example); any other option key is an error. The rationale is empty.

    ## Episode End

    * Termination: a label action (the only kind of action when ``explain=False``, so every
      episode is one step), or, in explain mode, a token action when the rationale is already
      ``max_rationale_tokens`` long.
    * Truncation: never.

    ## Arguments

    * ``data_path``: ``None`` (the generated corpus); a labelled file or ``datasets.Dataset``
      (split with the project's seeded split rule, stratified by label, see
      :func:`dialog_envs.data.labelled.split_examples`); a mapping of split to file or dataset
      (``{"train": ..., "validation": ..., "test": ...}``, a ``DatasetDict`` too); a folder with
      ``train``/``valid``/``test`` files (``.txt``, ``.csv``, ``.tsv``, ``.jsonl``); or the
      Financial PhraseBank folder as distributed (its ``Sentences_AllAgree.txt``). A dataset's
      text and label columns are ``text_field`` and ``label_field``; a ``ClassLabel`` gives names.
    * ``split``: ``"train"``, ``"validation"`` or ``"test"``.
    * ``tokenizer``: ``None`` (a word tokenizer trained on the train split, with ``[CLS] ... [SEP]``
      around each text), a Hugging Face name or path, or a tokenizer object.
    * ``max_length``: length of ``input_ids`` (default 64, at most 32,768; longer texts are truncated).
    * ``labels``: the label names in action order (default: the data's labels, sorted).
    * ``reward``: ``"accuracy"`` (the identity matrix) or ``num_labels x num_labels`` rewards.
    * ``explain``, ``max_rationale_tokens`` (default 16): explain mode.
    * ``data_format``, ``text_field``, ``label_field``, ``encoding``: passed to the reader
      (:func:`dialog_envs.data.labelled.read_labelled`).
    * ``split_seed``: the seed of the single-file split (default 0).
    * ``phrasebank_agreement``: which ``Sentences_<level>.txt`` of a PhraseBank folder to read:
      ``"AllAgree"`` (default), ``"75Agree"``, ``"66Agree"`` or ``"50Agree"``.
    * ``render_mode``: ``None`` or ``"ansi"``.

    ## Info

    ``reset`` and every step: ``index`` (the example's position in the split). The last step also
    has ``label`` and ``label_index`` (the truth), ``predicted_label`` and ``predicted_index``
    (``""`` and ``-1`` when an explain-mode episode ended without a label, so that vector envs
    can batch them), ``correct`` (bool) and, in
    explain mode, ``rationale`` (the decoded text).

    ## Example

    ```python
    import gymnasium as gym
    import dialog_envs  # noqa: F401

    env = gym.make("dialog_envs/Sentiment-v0", render_mode="ansi")
    obs, info = env.reset(seed=0)
    action = env.unwrapped.text_to_actions("positive")[0]
    obs, reward, terminated, truncated, info = env.step(action)
    print(reward, info["label"], info["correct"])
    ```

    ``gym.make_vec("dialog_envs/Sentiment-v0", num_envs=64)`` builds the natively batched
    :class:`SentimentVectorEnv` (same results as ``vectorization_mode="sync"``).
    """

    core_class = SentimentBatch

    def __init__(
        self,
        data_path: str | PathLike[str] | Mapping[str, Any] | Any | None = None,
        split: str = "train",
        *,
        tokenizer: str | PathLike[str] | PreTrainedTokenizerBase | None = None,
        max_length: int = 64,
        labels: Sequence[str] | None = None,
        reward: str | RewardMatrix = "accuracy",
        explain: bool = False,
        max_rationale_tokens: int = 16,
        data_format: LabelledFormat = "auto",
        text_field: str = "text",
        label_field: str = "label",
        encoding: str = "utf-8",
        split_seed: int = DEFAULT_SPLIT_SEED,
        phrasebank_agreement: str = "AllAgree",
        render_mode: str | None = None,
    ) -> None:
        super().__init__(split=split, render_mode=render_mode)
        check_positive_ints(max_length=max_length, max_rationale_tokens=max_rationale_tokens)
        if max_length < 2:
            raise DialogEnvsError(f"max_length={max_length} is too small; expected at least 2")
        self.max_length = int(max_length)
        self.explain = bool(explain)
        self.max_rationale_tokens = int(max_rationale_tokens)
        self._reader_options: dict[str, Any] = dict(
            format=data_format, text_field=text_field, label_field=label_field, encoding=encoding
        )
        self._data_path = data_path
        self._split_seed = split_seed
        self._phrasebank_agreement = phrasebank_agreement

        self.examples: list[LabelledText] = self._load_split(split)
        if not self.examples:
            raise DialogEnvsError(
                f"split {split!r} of data_path {str(data_path)!r} has no examples (split_fractions leave it empty); "
                "expected a file with more examples or a folder with a file per split"
            )
        self.labels: tuple[str, ...] = self._choose_labels(labels)
        self._label_index = {label: index for index, label in enumerate(self.labels)}
        unknown = sorted({example.label for example in self.examples} - set(self.labels))
        if unknown:
            raise DialogEnvsError(f"the data has labels {unknown!r} that are not in labels={list(self.labels)!r}")
        self.num_labels = len(self.labels)
        self.reward: np.ndarray = self._reward_matrix(reward)
        self.tokenizer: PreTrainedTokenizerBase = env_tokenizer(tokenizer, self._default_tokenizer)
        self.vocab_size = len(self.tokenizer)
        self.pad_id = int(self.tokenizer.pad_token_id) if self.tokenizer.pad_token_id is not None else 0
        self._hidden_ids = {
            token_id
            for token_id in (
                self.tokenizer.pad_token_id,
                self.tokenizer.cls_token_id,
                self.tokenizer.sep_token_id,
                self.tokenizer.bos_token_id,
                self.tokenizer.eos_token_id,
            )
            if token_id is not None
        }
        self._input_ids, self._attention_mask = self._encode_all()

        id_box = spaces.Box(0, self.vocab_size - 1, shape=(self.max_length,), dtype=np.int64)
        mask_box = spaces.Box(0, 1, shape=(self.max_length,), dtype=np.int64)
        fields: dict[str, spaces.Space[Any]] = {"input_ids": id_box, "attention_mask": mask_box}
        if self.explain:
            length = self.max_rationale_tokens
            fields["rationale_ids"] = spaces.Box(0, self.vocab_size - 1, shape=(length,), dtype=np.int64)
            fields["rationale_mask"] = spaces.Box(0, 1, shape=(length,), dtype=np.int64)
            self.action_space = spaces.Discrete(self.vocab_size + self.num_labels)
            self.action_kind = "a token id or label action"
        else:
            self.action_kind = "a label index"
            self.action_space = spaces.Discrete(self.num_labels)
        self.observation_space = spaces.Dict(fields)

    per_episode_attributes = frozenset({"expert_action", "text_to_actions", "observation_text", "render", "reset", "step"})
    """What differs between episodes (the native vector env serves ``expert_action`` batched)."""

    @property
    def _index(self) -> int | None:
        index = int(self._core.index[0])
        return None if index < 0 else index

    @property
    def _rationale(self) -> list[int]:
        return self._core.rationale_tokens(0)

    @property
    def _predicted(self) -> int | None:
        predicted = int(self._core.predicted[0])
        return None if predicted < 0 else predicted

    @property
    def _done(self) -> bool:
        return bool(self._core.done[0])

    def episode_metrics(self, final_infos: Sequence[dict[str, Any]]) -> dict[str, float]:
        """The mean of each episode's float metrics, plus ``macro_f1`` over every episode's label
        (an unparsed answer counts as wrong for every class)."""
        metrics = mean_float_metrics(final_infos)
        if final_infos:
            truth = [int(info["label_index"]) for info in final_infos]
            predicted = [int(info["predicted_index"]) if info["predicted_index"] >= 0 else None for info in final_infos]
            metrics["macro_f1"] = macro_f1(truth, predicted)
        return metrics

    def _render_text(self) -> str:
        return self.observation_text()

    # ----------------------------------------------------------------------------- people and text agents

    def expert_action(self) -> int:
        """The action that answers the gold label at once (0 before reset): the warm-start target."""
        return int(self._core.expert_actions()[0])

    def text_to_actions(self, text: str) -> list[int]:
        """Turn what a person types into actions.

        Without explain mode, ``text`` is a label name (any case) or its index, e.g. ``"positive"``
        or ``"2"``. In explain mode it is an optional rationale followed by a label name, e.g.
        ``"profit jumped positive"``; the rationale words are tokenized with the env's tokenizer.
        A text whose last word is not a label is all rationale (the label can follow later); a
        lone index also names a label.

        Raises:
            ValueError: empty text, an unknown label, or a rationale longer than the room left.
        """
        words = text.split()
        if not words:
            raise ValueError(f"type a label: one of {self._label_choices()}")
        label = self._parse_label(words[-1], allow_index=len(words) == 1)
        offset = self.vocab_size if self.explain else 0
        if not self.explain:
            if label is None or len(words) > 1:
                raise ValueError(f"{text.strip()!r} is not a label; type one of {self._label_choices()}")
            return [label]
        rationale_words = words if label is None else words[:-1]
        actions: list[int] = []
        if rationale_words:
            actions = list(self.tokenizer(" ".join(rationale_words), add_special_tokens=False)["input_ids"])
        room = self.max_rationale_tokens - len(self._rationale)
        if len(actions) > room:
            raise ValueError(
                f"the rationale has {len(actions)} tokens but only {room} fit (max_rationale_tokens="
                f"{self.max_rationale_tokens}); shorten it and end with a label: {self._label_choices()}"
            )
        if label is not None:
            actions.append(offset + label)
        return actions

    def observation_text(self) -> str:
        """The text as the agent sees it ([UNK] for unknown words, truncated like the observation),
        the rationale so far in explain mode, the label choices, and the outcome once over."""
        if self._index is None:
            return "(no episode yet: call reset())"
        mask = self._attention_mask[self._index].astype(bool)
        lines = [f"text: {self._decode(self._input_ids[self._index][mask])}"]
        if self.explain:
            lines.append(f"rationale: {self._decode(self._rationale)}")
        lines.append(f"labels: {self._label_choices()}")
        if self._done:
            truth = self.examples[self._index].label
            guess = "(none)" if self._predicted is None else self.labels[self._predicted]
            verdict = "correct" if guess == truth else "wrong"
            lines.append(f"label: {truth} | predicted: {guess} | {verdict}")
        return "\n".join(lines)

    # ----------------------------------------------------------------------------- helpers

    def _load_split(self, split: str) -> list[LabelledText]:
        if self._data_path is None:
            return generate_sentiment_corpus(split)
        return read_labelled_split(
            self._data_path, split, split_seed=self._split_seed, phrasebank_agreement=self._phrasebank_agreement,
            **self._reader_options,
        )

    def _choose_labels(self, labels: Sequence[str] | None) -> tuple[str, ...]:
        if labels is not None:
            chosen = tuple(labels)
            if len(chosen) < 2 or len(set(chosen)) != len(chosen):
                raise DialogEnvsError(f"labels={list(chosen)!r}; expected at least two distinct label names")
            return chosen
        if self._data_path is None:
            return SENTIMENT_LABELS
        source = labelled_source(self._data_path, self.split, self._phrasebank_agreement)
        if source.whole:  # the whole file, so every split has the same label set
            return tuple(label_set(read_labelled_source(source, **self._reader_options)))
        examples: list[LabelledText] = list(self.examples)
        for split in SPLITS:
            if split != self.split and self._has_split(split):
                examples.extend(self._load_split(split))
        return tuple(label_set(examples))

    def _has_split(self, split: str) -> bool:
        try:
            labelled_source(self._data_path, split, self._phrasebank_agreement)
        except DialogEnvsError:
            return False
        return True

    def _default_tokenizer(self) -> PreTrainedTokenizerBase:
        """A word tokenizer trained on the train split, ``[CLS] ... [SEP]`` around each text."""
        train = self.examples if self.split == "train" else self._load_split("train")
        return train_tokenizer([example.text for example in train], kind="word", wrap_with_cls_sep=True)

    def _reward_matrix(self, reward: str | RewardMatrix) -> np.ndarray:
        if isinstance(reward, str):
            check_choice("reward", reward, ("accuracy",))
            return np.eye(self.num_labels)
        try:
            matrix = np.asarray(reward, dtype=float)
        except (TypeError, ValueError):
            matrix = np.empty(0)
        if matrix.shape != (self.num_labels, self.num_labels) or not np.isfinite(matrix).all():
            raise DialogEnvsError(
                f"reward must be 'accuracy' or a {self.num_labels} x {self.num_labels} matrix of finite numbers "
                f"(rows: true label, columns: predicted label, in the order {list(self.labels)!r})"
            )
        return matrix

    def _encode_all(self) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of every example, encoded once for speed and right-padded to the longest one
        (the observation pads them to ``max_length``)."""
        encoded = self.tokenizer(
            [example.text for example in self.examples], truncation=True, max_length=self.max_length
        )["input_ids"]
        width = min(self.max_length, max(len(token_ids) for token_ids in encoded))
        ids = np.full((len(encoded), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.int64)
        for row, token_ids in enumerate(encoded):
            token_ids = token_ids[: self.max_length]
            ids[row, : len(token_ids)] = token_ids
            mask[row, : len(token_ids)] = 1
        return ids, mask

    def _parse_label(self, word: str, *, allow_index: bool) -> int | None:
        lowered = {label.lower(): index for index, label in enumerate(self.labels)}
        if word.lower() in lowered:
            return lowered[word.lower()]
        if allow_index and word.isdigit() and int(word) < self.num_labels:
            return int(word)
        return None

    def _label_choices(self) -> str:
        return ", ".join(f"{index}={label}" for index, label in enumerate(self.labels))

    def _decode(self, token_ids: Sequence[int] | np.ndarray) -> str:
        shown = [int(token_id) for token_id in token_ids if int(token_id) not in self._hidden_ids]
        return self.tokenizer.decode(shown, skip_special_tokens=False).strip()


SentimentVectorEnv = vector_env_class(SentimentEnv)
