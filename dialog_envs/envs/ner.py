"""``dialog_envs/NER-v0``: tag a sentence word by word with BIO entity tags.

The rules live once, on arrays with one row per episode, in :class:`NERBatch`: the single env is
the batch of one and :class:`NERVectorEnv` (the id's ``vector_entry_point``) steps N sentences
with array operations; the F1 rewards come from the incremental
:class:`~dialog_envs.metrics.ner.PrefixEntityF1` (O(1) per tag instead of re-reading the prefix).
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Literal

import numpy as np
from gymnasium import spaces
from transformers import PreTrainedTokenizerBase

from dialog_envs.data.conll import SPLIT_FILE_PATTERNS, TAG_SCHEMES, TaggedSentence, TagScheme, read_conll_source, read_conll_split, tag_set
from dialog_envs.data.generated_ner import generated_ner_split
from dialog_envs.data.splits import check_split, data_key, resolve_split
from dialog_envs.envs.batched import (
    MAX_SIZE, BatchCore, BatchOfOneEnv, RowInfos, check_choice, check_positive_ints, env_tokenizer, mean_float_metrics, vector_env_class,
)
from dialog_envs.errors import DialogEnvsError
from dialog_envs.metrics.ner import PrefixEntityF1, entity_scores, sentence_entity_f1, token_report
from dialog_envs.tokenization import train_tokenizer

NERReward = Literal["token", "dense_f1", "sparse_f1"]
REWARDS: tuple[str, ...] = ("token", "dense_f1", "sparse_f1")
WORD_SHAPES: tuple[str, ...] = ("none", "lower", "Capitalised", "UPPER", "number", "other")
"""The ``word_shape`` observation's values, by index: ``none`` for special tokens and padding."""


def word_shape(word: str) -> int:
    """The index in :data:`WORD_SHAPES` of a word's capitalisation: what an uncased tokenizer
    (MiniLM's lower-cases everything) cannot show a tagger, and NER depends on.

    >>> [WORD_SHAPES[word_shape(w)] for w in ("the", "Paris", "EU", "I", "1996", "--", "iPhone")]
    ['lower', 'Capitalised', 'UPPER', 'Capitalised', 'number', 'other', 'lower']
    """
    letters = [c for c in word if c.isalpha()]
    if not letters:
        return 4 if any(c.isdigit() for c in word) else 5
    if len(letters) > 1 and all(c.isupper() for c in letters):
        return 3
    return 2 if letters[0].isupper() else 1


@dataclass(frozen=True)
class EncodedCorpus:
    """A split's sentences with everything the env needs per step computed once.

    ``token_ids[i]`` are sentence ``i``'s token ids (special tokens included, at most
    ``max_length``, never cut); ``token_shapes[i]`` the :func:`word_shape` of the word each token
    belongs to (0 for special tokens); ``first_token[i][w]`` is the position of word ``w``'s
    first token in them; ``tag_ids[i]`` the gold tag ids.
    """

    sentences: tuple[TaggedSentence, ...]
    tags: tuple[str, ...]
    token_ids: tuple[np.ndarray, ...]
    token_shapes: tuple[np.ndarray, ...]
    first_token: tuple[np.ndarray, ...]
    tag_ids: tuple[np.ndarray, ...]

    @cached_property
    def padded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(token_ids, token_shapes, first_token, tag_ids, lengths)`` as padded matrices (one
        row per sentence; ``lengths`` are token counts then word counts), built once for batched steps."""
        rows = len(self.sentences)
        max_tokens = max((len(ids) for ids in self.token_ids), default=1)
        max_words = max((len(tags) for tags in self.tag_ids), default=1)
        token_ids = np.zeros((rows, max_tokens), dtype=np.int64)
        token_shapes = np.zeros((rows, max_tokens), dtype=np.int64)
        first_token = np.zeros((rows, max_words), dtype=np.int64)
        tag_ids = np.zeros((rows, max_words), dtype=np.int64)
        lengths = np.zeros((2, rows), dtype=np.int64)
        for row, (ids, shapes, firsts, tags) in enumerate(zip(self.token_ids, self.token_shapes, self.first_token, self.tag_ids)):
            token_ids[row, : len(ids)] = ids
            token_shapes[row, : len(shapes)] = shapes
            first_token[row, : len(firsts)] = firsts
            tag_ids[row, : len(tags)] = tags
            lengths[:, row] = len(ids), len(tags)
        return token_ids, token_shapes, first_token, tag_ids, lengths


@dataclass(frozen=True)
class NERData:
    """``data_path`` as the caches see it: equal when :func:`~dialog_envs.data.splits.data_key` is."""

    key: Hashable
    value: Any = field(compare=False, hash=False)


def ner_data(data_path: Any) -> NERData | None:
    """``data_path`` wrapped for the caches (None stays None: the generated corpus)."""
    return None if data_path is None else NERData(data_key(data_path), data_path)


def load_sentences(data: NERData | None, split: str, scheme: TagScheme = "auto") -> tuple[TaggedSentence, ...]:
    """The sentences of ``split``: from the data (mapping, folder, file or dataset), or the generated corpus."""
    check_split(split)
    if data is None:
        return generated_ner_split(split)
    return tuple(read_conll_split(data.value, split, scheme))


def training_sentences(data: NERData | None, split: str, scheme: TagScheme = "auto") -> tuple[TaggedSentence, ...]:
    """The sentences that define the tag set and the default vocabulary: the whole file or dataset
    when one holds every split, else the training split when there is one (so every split of a
    data set shares ids), else ``split``."""
    if data is not None:
        source = resolve_split(data.value, split, SPLIT_FILE_PATTERNS)
        if source.whole:
            return tuple(read_conll_source(source, scheme))
    try:
        return load_sentences(data, "train", scheme)
    except DialogEnvsError:
        return load_sentences(data, split, scheme)


@lru_cache(maxsize=8)
def default_ner_tokenizer(data: NERData | None, scheme: TagScheme = "auto") -> PreTrainedTokenizerBase:
    """A word-level tokenizer over the training words of the data, wrapping texts in ``[CLS] ... [SEP]``."""
    sentences = training_sentences(data, "train", scheme)
    return train_tokenizer((" ".join(s.words) for s in sentences), kind="word", wrap_with_cls_sep=True)


def encode_corpus(
    sentences: tuple[TaggedSentence, ...], tags: tuple[str, ...], tokenizer: PreTrainedTokenizerBase, max_length: int
) -> EncodedCorpus:
    """Tokenize every sentence once (a batched call) and map words to their first token.

    Raises:
        DialogEnvsError: a sentence has more tokens (special tokens included) or words than
            ``max_length``: the env never cuts a sentence, so no word is tagged without being seen.
    """
    tag_index = {tag: index for index, tag in enumerate(tags)}
    encodings = tokenizer([list(s.words) for s in sentences], is_split_into_words=True, truncation=False)
    lengths = [max(len(ids), len(sentence.words)) for ids, sentence in zip(encodings["input_ids"], sentences)]
    too_long = [index for index, length in enumerate(lengths) if length > max_length]
    if too_long:
        index = too_long[0]
        words = " ".join(sentences[index].words[:8])
        raise DialogEnvsError(
            f"sentence {index} ({words!r} ...) is {lengths[index]} tokens long with this tokenizer, more than "
            f"max_length={max_length} ({len(too_long)} sentence(s) are); pass max_length >= {max(lengths)} "
            f"(the longest sentence), at most {MAX_SIZE}"
        )
    token_ids, token_shapes, first_token, tag_ids = [], [], [], []
    for index, sentence in enumerate(sentences):
        unknown = [tag for tag in sentence.tags if tag not in tag_index]
        if unknown:
            raise DialogEnvsError(
                f"sentence {index} has tag {unknown[0]!r}, which the training split does not have; "
                f"known tags: {', '.join(tags)}"
            )
        ids = np.asarray(encodings["input_ids"][index], dtype=np.int64)
        shapes = np.zeros(len(ids), dtype=np.int64)
        firsts = np.full(len(sentence.words), -1, dtype=np.int64)
        for position, word in enumerate(encodings.word_ids(index)):
            if word is not None:
                shapes[position] = word_shape(sentence.words[word])
                if firsts[word] < 0:
                    firsts[word] = position
        # Words that gave no token at all (possible with some tokenizers) point at the previous word's token.
        for word in range(len(firsts)):
            if firsts[word] < 0:
                firsts[word] = firsts[word - 1] if word > 0 else 0
        token_ids.append(ids)
        token_shapes.append(shapes)
        first_token.append(firsts)
        tag_ids.append(np.asarray([tag_index[tag] for tag in sentence.tags], dtype=np.int64))
    return EncodedCorpus(sentences, tags, tuple(token_ids), tuple(token_shapes), tuple(first_token), tuple(tag_ids))


@lru_cache(maxsize=8)
def _default_corpus(data: NERData | None, split: str, scheme: TagScheme, max_length: int) -> EncodedCorpus:
    """Encoded corpus with the default tokenizer, shared by every env on the same data."""
    tags = tuple(tag_set(list(training_sentences(data, split, scheme))))
    return encode_corpus(load_sentences(data, split, scheme), tags, default_ner_tokenizer(data, scheme), max_length)


def transition_mask(tags: tuple[str, ...]) -> np.ndarray:
    """``mask[previous, next]`` is 1 where tag ``next`` may follow tag ``previous`` in IOB2.

    Row ``len(tags)`` is the start of a sentence. ``I-X`` may only follow ``B-X`` or ``I-X``.
    """
    n = len(tags)
    mask = np.ones((n + 1, n), dtype=np.int8)
    for following, tag in enumerate(tags):
        if tag.startswith("I-"):
            for previous in range(n + 1):
                allowed = previous < n and tags[previous] in (f"B-{tag[2:]}", tag)
                mask[previous, following] = int(allowed)
    return mask


class NERBatch(BatchCore):
    """The state of N NER episodes as arrays, and the env's rules applied to them.

    One row per episode: the sentence index, the word to tag, the tags given so far (the
    ``previous_tags`` observation itself) and the entity-F1 tracker of the prefix.
    """

    row_methods = {"expert_action": "expert_actions", "action_masks": "action_masks"}

    def __init__(self, env: NEREnv, num_rows: int) -> None:
        super().__init__(env, num_rows)
        self.token_ids, self.token_shapes, self.first_token, self.gold, lengths = env.corpus.padded
        self.num_tokens, self.num_words = lengths
        self.index = np.zeros(num_rows, dtype=np.int64)
        self.word = np.zeros(num_rows, dtype=np.int64)
        self.predicted = np.full((num_rows, self.env.max_length), self.env.num_tags, dtype=np.int64)
        self.f1_so_far = np.zeros(num_rows, dtype=np.float64)
        self.f1 = PrefixEntityF1(self.env.tags, num_rows) if self.env.reward != "token" else None
        self._positions = np.arange(self.env.max_length)

    def start(
        self, rows: np.ndarray, rngs: list[np.random.Generator], seeds: list[int | None], options: dict[str, Any] | None
    ) -> RowInfos:
        indices = self.example_indices(rngs, seeds, options, len(self.env.corpus.sentences))
        self.index[rows] = indices
        self.word[rows] = 0
        self.predicted[rows] = self.env.num_tags
        self.f1_so_far[rows] = 0.0
        if self.f1 is not None:
            self.f1.reset(rows)
        return RowInfos(dense={"index": indices, "action_mask": self.action_masks(rows).astype(np.int8)})

    def advance(self, rows: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, RowInfos]:
        actions = self.checked_actions(actions, rows)
        index, word = self.index[rows], self.word[rows]
        if (word >= self.num_words[index]).any():
            raise DialogEnvsError("the episode is over; call reset() first")
        gold = self.gold[index, word]
        self.predicted[rows, word] = actions
        self.word[rows] = word = word + 1
        terminated = word == self.num_words[index]
        if self.env.reward == "token":
            rewards = (actions == gold).astype(np.float64)
        else:
            f1 = self.f1.push(rows, gold, actions)
            if self.env.reward == "sparse_f1":
                rewards = np.where(terminated, f1, 0.0)
            else:
                rewards = f1 - self.f1_so_far[rows]
                self.f1_so_far[rows] = f1
        infos = RowInfos(dense={"action_mask": self.action_masks(rows).astype(np.int8)})
        for k in np.flatnonzero(terminated):
            row, sentence = rows[k], self.env.corpus.sentences[index[k]]
            predicted = self.predicted[row, : word[k]]
            names = [self.env.tags[tag] for tag in predicted]
            entity_f1 = float(f1[k]) if self.env.reward != "token" else sentence_entity_f1(sentence.tags, names)
            infos.sparse[int(k)] = dict(
                entity_f1=entity_f1,
                token_accuracy=float(np.mean(predicted == self.gold[index[k], : word[k]])),
                words=list(sentence.words),
                gold_tags=list(sentence.tags),
                predicted_tags=names,
            )
        return rewards, terminated, np.zeros(len(rows), dtype=bool), infos

    def observations(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        rows = self.all_rows if rows is None else rows
        index = self.index[rows]
        word = np.minimum(self.word[rows], self.num_words[index] - 1)
        width = min(self.token_ids.shape[1], self.env.max_length)
        input_ids = np.zeros((len(rows), self.env.max_length), dtype=np.int64)
        input_ids[:, :width] = self.token_ids[index, :width]
        shapes = np.zeros((len(rows), self.env.max_length), dtype=np.int64)
        shapes[:, :width] = self.token_shapes[index, :width]
        return {
            "input_ids": input_ids,
            "word_shape": shapes,
            "attention_mask": (self._positions < self.num_tokens[index][:, None]).astype(np.int64),
            "word_index": word[:, None].copy(),
            "token_index": self.first_token[index, word][:, None],
            "previous_tags": self.predicted[rows].copy(),
        }

    def action_masks(self, rows: np.ndarray | None = None) -> np.ndarray:
        """Which tags are valid for each row's current word (bool, one row per episode)."""
        rows = self.all_rows if rows is None else rows
        word = self.word[rows]
        previous = np.where(word > 0, self.predicted[rows, np.maximum(word - 1, 0)], self.env.num_tags)
        return self.env._transitions[previous].astype(bool)

    def expert_actions(self) -> np.ndarray:
        """The gold tag of each row's word to tag now (0 once the episode is over)."""
        word, index = self.word, self.index
        over = word >= self.num_words[index]
        return np.where(over, 0, self.gold[index, np.minimum(word, self.gold.shape[1] - 1)])


class NEREnv(BatchOfOneEnv):
    """Tag a sentence word by word with BIO named-entity tags.

    ## Description
    One episode is one sentence. At each step the agent sees the whole sentence as token ids, the
    index of the word to tag now and the tags it gave the earlier words, and chooses a tag for the
    word. The data is CoNLL-style (any number of columns, tag last, IOB1/IOB2/BIOES normalised to
    IOB2) or, with no ``data_path``, the project's own generated news-like corpus.

    ## Action Space
    ``Discrete(num_tags)``: an index into ``env.unwrapped.tags`` (``O`` first, then ``B-X, I-X``
    per entity type, types sorted; taken from the training split).

    ## Observation Space
    A ``Dict`` of ``int64`` arrays, right-padded (element ``i`` is token ``i`` of the sentence):

    | key | shape | values |
    |---|---|---|
    | ``input_ids`` | ``(max_length,)`` | token ids of the sentence (``[CLS] ... [SEP]`` with the default tokenizer), 0 after it |
    | ``attention_mask`` | ``(max_length,)`` | 1 on the sentence's tokens, 0 on padding |
    | ``word_shape`` | ``(max_length,)`` | capitalisation of each token's word, an index into ``WORD_SHAPES`` (``none``, ``lower``, ``Capitalised``, ``UPPER``, ``number``, ``other``); 0 on special tokens and padding. An uncased tokenizer loses it from ``input_ids`` |
    | ``word_index`` | ``(1,)`` | index of the word to tag now |
    | ``token_index`` | ``(1,)`` | position of that word's first token in ``input_ids`` |
    | ``previous_tags`` | ``(max_length,)`` | tag ids given so far per word; ``num_tags`` for words not tagged yet |

    ## Rewards
    Chosen by ``reward=``:

    - ``"token"``: +1 when the tag equals the gold tag, else 0.
    - ``"dense_f1"``: the change in entity F1 of the sentence so far (words ``0..t`` of the gold and
      predicted tags) from one step to the next, starting from 0; the rewards of an episode add up to
      the sentence's entity F1 (as in NLPGym).
    - ``"sparse_f1"``: 0 until the last step, then the sentence's entity F1.

    Sentence F1 counts an entity as correct when its type, start and end match (conlleval); a
    sentence with no gold and no predicted entity scores 1.

    ## Starting State
    A sentence drawn uniformly from the split with ``self.np_random``, or the one given by
    ``reset(options={"index": i})``; ``reset(seed=i, options={"index": "seed"})`` takes sentence
    ``i`` too, which lets a vector env walk a split in order (each sub-env gets its own seed).
    Any other option key is an error.

    ## Episode End
    Terminated after the last word is tagged. Never truncated.

    ## Arguments
    - ``data_path``: ``None`` for the generated corpus; a mapping of split to CoNLL file
      (``{"train": ..., "validation": ..., "test": ...}``); a folder with ``train.txt``/
      ``valid.txt``/``test.txt`` (or CoNLL-2003's ``eng.*``, WNUT-17's ``wnut17train.conll``/
      ``emerging.dev.conll``/``emerging.test.annotated``); one CoNLL file, cut into the three
      splits by the project's seeded rule (:func:`dialog_envs.data.splits.split_indices`); or,
      with ``datasets`` installed, a ``Dataset`` (cut likewise) or ``DatasetDict`` with columns
      ``tokens`` and ``ner_tags`` (tag names, or ``ClassLabel`` ids).
    - ``split``: ``"train"``, ``"validation"`` or ``"test"``.
    - ``reward``: ``"token"``, ``"dense_f1"`` or ``"sparse_f1"``.
    - ``tokenizer``: ``None`` (a word-level tokenizer trained on the training words and cached), or
      any Hugging Face tokenizer's name or path, or a tokenizer object.
    - ``max_length``: the observation's length in tokens (default 128, at most 32,768). A sentence
      longer than that (special tokens included) is an error at construction, never cut.
    - ``mask_invalid_transitions``: when ``True`` (default) the action mask forbids ``I-X`` after
      anything but ``B-X``/``I-X``; when ``False`` the mask allows every tag. The mask is advice:
      a masked action is still carried out.
    - ``scheme``: the tagging scheme of the files (``"auto"``, ``"IOB1"``, ``"IOB2"``, ``"BIOES"``).
    - ``render_mode``: ``None`` or ``"ansi"``.

    ## Info
    Reset: ``index`` (the sentence's position in the split). Reset and every step: ``action_mask``
    (``int8`` of shape ``(num_tags,)``, also from :meth:`action_masks`).
    Last step also: ``entity_f1``, ``token_accuracy``, ``words``, ``gold_tags``, ``predicted_tags``.

    ## Example
    >>> import gymnasium as gym
    >>> import dialog_envs
    >>> env = gym.make("dialog_envs/NER-v0", reward="sparse_f1")
    >>> obs, info = env.reset(seed=0)
    >>> done = False
    >>> while not done:
    ...     obs, reward, done, truncated, info = env.step(0)  # tag everything "O"
    >>> sorted(k for k in info if k.endswith("_tags"))
    ['gold_tags', 'predicted_tags']

    ``gym.make_vec("dialog_envs/NER-v0", num_envs=64)`` builds the natively batched
    :class:`NERVectorEnv` (same results as ``vectorization_mode="sync"``).
    """

    core_class = NERBatch
    action_kind = "a tag index"

    def __init__(
        self,
        data_path: str | os.PathLike[str] | Mapping[str, Any] | Any | None = None,
        split: str = "train",
        reward: NERReward = "token",
        tokenizer: str | os.PathLike[str] | PreTrainedTokenizerBase | None = None,
        max_length: int = 128,
        mask_invalid_transitions: bool = True,
        scheme: TagScheme = "auto",
        render_mode: str | None = None,
    ) -> None:
        check_choice("reward", reward, REWARDS)
        check_choice("scheme", scheme, TAG_SCHEMES)
        check_positive_ints(max_length=max_length)
        super().__init__(split=split, render_mode=render_mode)
        data = ner_data(data_path)
        self.tokenizer = env_tokenizer(tokenizer, lambda: default_ner_tokenizer(data, scheme))
        if tokenizer is None:
            self.corpus = _default_corpus(data, split, scheme, max_length)
        else:
            tags = tuple(tag_set(list(training_sentences(data, split, scheme))))
            self.corpus = encode_corpus(load_sentences(data, split, scheme), tags, self.tokenizer, max_length)
        self.reward: NERReward = reward
        self.max_length = max_length
        self.tags = self.corpus.tags
        self.num_tags = num_tags = len(self.tags)
        self._transitions = (
            transition_mask(self.tags) if mask_invalid_transitions else np.ones((num_tags + 1, num_tags), dtype=np.int8)
        )
        self.action_space = spaces.Discrete(num_tags)
        index_space = spaces.Box(0, max_length - 1, shape=(1,), dtype=np.int64)
        self.observation_space = spaces.Dict(
            {
                "input_ids": spaces.Box(0, len(self.tokenizer) - 1, shape=(max_length,), dtype=np.int64),
                "attention_mask": spaces.Box(0, 1, shape=(max_length,), dtype=np.int64),
                "word_shape": spaces.Box(0, len(WORD_SHAPES) - 1, shape=(max_length,), dtype=np.int64),
                "word_index": index_space,
                "token_index": index_space,
                "previous_tags": spaces.Box(0, num_tags, shape=(max_length,), dtype=np.int64),
            }
        )

    per_episode_attributes = frozenset(
        {"sentence", "action_masks", "expert_action", "text_to_actions", "observation_text", "render", "reset", "step"}
    )
    """What differs between episodes (the native vector env serves ``expert_action`` and
    ``action_masks`` batched)."""

    @property
    def _index(self) -> int:
        return int(self._core.index[0])

    @property
    def _word(self) -> int:
        return int(self._core.word[0])

    @property
    def _predicted(self) -> list[int]:
        return self._core.predicted[0, : self._word].tolist()

    def episode_metrics(self, final_infos: Sequence[dict[str, Any]]) -> dict[str, float]:
        """The mean of each episode's float metrics, plus ``entity_f1_corpus`` (entity F1 over
        every sentence's tags together, as conlleval scores a corpus) and ``token_micro_f1``."""
        metrics = mean_float_metrics(final_infos)
        if final_infos:
            report = self.episode_report(final_infos)
            metrics["entity_f1_corpus"] = report["entity_scores"].f1
            metrics["token_micro_f1"] = report["token_report"].rows["micro avg"]["f1-score"]
        return metrics

    def episode_report(self, final_infos: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """``token_report`` (per-tag precision, recall and F1, as sklearn's classification report)
        and ``entity_scores`` (entity-level precision, recall and F1, as conlleval) over every
        episode's tags together; empty without episodes."""
        if not final_infos:
            return {}
        gold = [list(info["gold_tags"]) for info in final_infos]
        predicted = [list(info["predicted_tags"]) for info in final_infos]
        return {"token_report": token_report(gold, predicted), "entity_scores": entity_scores(gold, predicted)}

    def _render_text(self) -> str:
        sentence = self.corpus.sentences[self._index]
        width = max(len(word) for word in sentence.words)
        lines = [f"{'word':<{width}}  {'gold':<8}  predicted"]
        for position, (word, gold) in enumerate(zip(sentence.words, sentence.tags)):
            if position < len(self._predicted):
                predicted = self.tags[self._predicted[position]]
                mark = "" if predicted == gold else "  x"
                lines.append(f"{word:<{width}}  {gold:<8}  {predicted}{mark}")
            elif position == self._word:
                lines.append(f"{word:<{width}}  {gold:<8}  <- tag this word")
            else:
                lines.append(f"{word:<{width}}  {gold:<8}")
        return "\n".join(lines) + "\n"

    # -- helpers for agents and people -----------------------------------------------------------

    def action_masks(self) -> np.ndarray:
        """Which tags are valid for the current word (bool, sb3-contrib's MaskablePPO convention)."""
        return self._core.action_masks()[0]

    def expert_action(self) -> int:
        """The gold tag of the word to tag now (0 once the episode is over): the warm-start target."""
        return int(self._core.expert_actions()[0])

    def text_to_actions(self, text: str) -> list[int]:
        """A tag typed by a person (its name, any case, or its index) as a one-action list."""
        typed = text.strip()
        by_name = {tag.upper(): index for index, tag in enumerate(self.tags)}
        if typed.upper() in by_name:
            return [by_name[typed.upper()]]
        if typed.isdigit() and int(typed) < len(self.tags):
            return [int(typed)]
        raise ValueError(f"{typed!r} is not a tag; type one of {', '.join(self.tags)} (or its number)")

    def observation_text(self) -> str:
        """The sentence with the tags given so far and the word to tag now in brackets."""
        sentence = self.corpus.sentences[self._index]
        pieces = []
        for position, word in enumerate(sentence.words):
            if position < len(self._predicted):
                pieces.append(f"{word}/{self.tags[self._predicted[position]]}")
            elif position == self._word:
                pieces.append(f"[{word}]")
            else:
                pieces.append(word)
        return " ".join(pieces)

    @property
    def split_size(self) -> int:
        """How many sentences the split has."""
        return len(self.corpus.sentences)

    @property
    def sentence(self) -> TaggedSentence:
        """The current episode's sentence (words and gold tags)."""
        return self.corpus.sentences[self._index]


NERVectorEnv = vector_env_class(NEREnv)
