"""``dialog_envs/DialogueBLEU-v0``: write the reply to a dialogue context, scored by BLEU or chrF.

The dialogue data, the tokenizer and the reward functions live elsewhere
(:mod:`dialog_envs.data.dialogue`, :mod:`dialog_envs.tokenization`,
:mod:`dialog_envs.metrics.text`); this module turns them into a Gymnasium environment.
Examples are tokenised once per (data, split, tokenizer, context length) and shared by every
environment built on them (:func:`encoded_examples`), so creating many environments is cheap
and ``step`` never calls the tokenizer.

The rules live once, on arrays with one row per episode, in :class:`DialogueBatch`: the single
env is the batch of one and :class:`DialogueBLEUVectorEnv` (the id's ``vector_entry_point``,
what ``gym.make_vec`` builds) steps N episodes with array operations and scores every reply that
ends on a step in one batched call (:meth:`~dialog_envs.metrics.text.TextReward.batch_scores`).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from typing import Any

import numpy as np
from gymnasium import spaces
from transformers import PreTrainedTokenizerBase

from dialog_envs.data.dialogue import SPLIT_FILE_PATTERNS, Dialogue, Example, make_examples, read_dialogue_source, split_dialogues
from dialog_envs.data.generated_dialogues import generate_dialogues
from dialog_envs.data.splits import SplitSource, check_split, resolve_split
from dialog_envs.envs.batched import BatchCore, BatchOfOneEnv, RowInfos, check_positive_ints, env_tokenizer, vector_env_class
from dialog_envs.errors import DialogEnvsError
from dialog_envs.metrics.text import DEFAULT_BLEU_FLOOR, RewardSpec, TextReward, distinct_n
from dialog_envs.tokenization import train_tokenizer

FALLBACK_SEPARATOR = "\n"
"""Text placed between context turns when the tokenizer has no SEP token (e.g. GPT-2)."""

REPORT_SAMPLES = 8
"""How many (reference, reply) pairs :meth:`DialogueBLEUEnv.episode_report` keeps to show."""


class DialogueBatch(BatchCore):
    """The state of N DialogueBLEU episodes as arrays, and the env's rules applied to them.

    One row per episode: the left-padded token window (``input_ids``, ``attention_mask``), the
    example index, the reply written so far and whether the episode is over. A step shifts the
    windows of the stepped rows left by one with one array operation; the replies that end on the
    step are decoded and scored together.
    """

    row_methods = {"expert_action": "expert_actions"}

    def __init__(self, env: DialogueBLEUEnv, num_rows: int) -> None:
        super().__init__(env, num_rows)
        length = self.env.max_context_tokens + self.env.max_new_tokens
        self.input_ids = np.full((num_rows, length), self.env.pad_token_id, dtype=np.int64)
        self.attention_mask = np.zeros((num_rows, length), dtype=np.int64)
        self.index = np.full(num_rows, -1, dtype=np.int64)  # -1: never reset, or a given context
        self.started = np.zeros(num_rows, dtype=bool)
        self.contexts: list[tuple[np.ndarray, np.ndarray]] = [(np.zeros(0, dtype=np.int64),) * 2] * num_rows
        """Per row: the context's ids (``turn_1 SEP ... turn_k BOS``, before truncation) and where each turn starts."""
        self.context_start = np.zeros(num_rows, dtype=np.int64)
        self.reply = np.zeros((num_rows, self.env.max_new_tokens), dtype=np.int64)
        self.reply_len = np.zeros(num_rows, dtype=np.int64)
        self.done = np.zeros(num_rows, dtype=bool)
        self.final_info: list[dict[str, Any]] = [{} for _ in range(num_rows)]
        self._reference_ids: dict[int, np.ndarray] = {}
        self.reward_seconds = 0.0
        """Wall-clock seconds spent computing rewards (decoding and scoring the replies), for
        profiling: a vector env's share of a training step is ``envs.core.reward_seconds``."""

    def start(
        self, rows: np.ndarray, rngs: list[np.random.Generator], seeds: list[int | None], options: dict[str, Any] | None
    ) -> RowInfos:
        infos = RowInfos()
        given = None if options is None else options.get("context")
        if given is None:
            indices = self.example_indices(rngs, seeds, options, len(self.env.data.examples))
        elif options.get("index") is not None:
            raise DialogEnvsError("reset options 'index' and 'context' exclude each other; give one")
        else:
            indices = np.full(len(rows), -1, dtype=np.int64)
            given_context = self.env.encode_context(given)
        for k, (row, index) in enumerate(zip(rows, indices.tolist())):
            if index >= 0:
                self.contexts[row] = (self.env.data.context_ids[index], self.env.data.turn_starts[index])
            else:
                self.contexts[row] = given_context
            context = self.contexts[row][0]
            context_start = max(0, len(context) - self.env.max_context_tokens)
            visible = context[context_start:]
            self.input_ids[row].fill(self.env.pad_token_id)
            self.attention_mask[row].fill(0)
            self.input_ids[row, -len(visible):] = visible
            self.attention_mask[row, -len(visible):] = 1
            self.index[row] = index
            self.started[row] = True
            self.context_start[row] = context_start
            self.reply_len[row] = 0
            self.done[row] = False
            self.final_info[row] = {}
            infos.sparse[k] = {"context_tokens": len(visible), "context_truncated": context_start > 0}
            if index >= 0:
                infos.sparse[k]["index"] = index
        return infos

    def advance(self, rows: np.ndarray, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, RowInfos]:
        if not self.started[rows].all() or self.done[rows].any():
            raise DialogEnvsError("the episode is over (or never started); call reset() first")
        tokens = self.checked_actions(actions, rows)
        every_row = len(rows) == self.num_rows
        if every_row:  # the common case: one in-place shift of the whole batch
            self.input_ids[:, :-1] = self.input_ids[:, 1:]
            self.attention_mask[:, :-1] = self.attention_mask[:, 1:]
            self.input_ids[:, -1] = tokens
            self.attention_mask[:, -1] = 1
        else:
            self.input_ids[rows, :-1] = self.input_ids[rows, 1:]
            self.attention_mask[rows, :-1] = self.attention_mask[rows, 1:]
            self.input_ids[rows, -1] = tokens
            self.attention_mask[rows, -1] = 1
        self.reply[rows, self.reply_len[rows]] = tokens
        self.reply_len[rows] += 1
        by_eos = tokens == self.env.eos_token_id
        terminated = by_eos | (self.reply_len[rows] >= self.env.max_new_tokens)
        rewards = np.zeros(len(rows), dtype=np.float64)
        infos = RowInfos()
        ending = np.flatnonzero(terminated)
        if len(ending):
            ended_rows = rows[ending]
            self.done[ended_rows] = True
            started = time.perf_counter()
            responses = self.decode_replies(ended_rows)
            references = [self.env.data.examples[i].reference if i >= 0 else "" for i in self.index[ended_rows]]
            batch_scores = self.env.reward.batch_scores(responses, references)
            self.reward_seconds += time.perf_counter() - started
            for k, row, response, reference, scores in zip(ending, ended_rows, responses, references, batch_scores):
                score = self.env.reward.score(scores)
                rewards[k] = score - self.env.reward.s_base
                ended_by = "eos" if by_eos[k] else "max_new_tokens"
                info = {
                    "response": response,
                    "reference": reference,
                    **scores,
                    "score": score,
                    "reply_tokens": int(self.reply_len[row]) - (ended_by == "eos"),
                    "ended_by": ended_by,
                }
                self.final_info[row] = info
                infos.sparse[int(k)] = dict(info)
        return rewards, terminated, np.zeros(len(rows), dtype=bool), infos

    def observations(self, rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
        if rows is None:
            return {"input_ids": self.input_ids.copy(), "attention_mask": self.attention_mask.copy()}
        return {"input_ids": self.input_ids[rows], "attention_mask": self.attention_mask[rows]}

    def decode_replies(self, rows: np.ndarray) -> list[str]:
        """The replies of ``rows`` so far, decoded (EOS and other special tokens dropped)."""
        replies = [self.reply[row, : self.reply_len[row]].tolist() for row in rows]
        return self.env.data.tokenizer.batch_decode(replies, skip_special_tokens=True, clean_up_tokenization_spaces=False)

    def expert_actions(self) -> np.ndarray:
        """Per row: the next token of the reference reply, then EOS (EOS once over, before reset, or
        on a given context, which has no reference). References longer than ``max_new_tokens - 1`` tokens are cut."""
        actions = np.full(self.num_rows, self.env.eos_token_id, dtype=np.int64)
        for row in np.flatnonzero((self.index >= 0) & ~self.done):
            reference = self._reference(int(self.index[row]))
            position = self.reply_len[row]
            if position < len(reference):
                actions[row] = reference[position]
        return actions

    def _reference(self, index: int) -> np.ndarray:
        ids = self._reference_ids.get(index)
        if ids is None:
            encoded = self.env.data.tokenizer.encode(self.env.data.examples[index].reference, add_special_tokens=False)
            ids = np.asarray(list(encoded[: self.env.max_new_tokens - 1]) + [self.env.eos_token_id], dtype=np.int64)
            self._reference_ids[index] = ids
        return ids


class DialogueBLEUEnv(BatchOfOneEnv):
    """
    ## Description

    The agent writes the next turn of a dialogue one token at a time. An episode is one
    (context, reference) example drawn from the dialogues of ``split``: the context is up to
    ``context_turns`` turns, the reference is the turn that really came next. When the agent
    ends its reply (the EOS token) or has written ``max_new_tokens`` tokens, the reply is
    decoded and compared with the reference by sentence BLEU, log-BLEU or chrF (sacrebleu's
    numbers). The default data is the project's own generated customer-service corpus
    (:mod:`dialog_envs.data.generated_dialogues`); ``data_path`` reads DailyDialog or JSONL files.

    ## Action Space

    ``Discrete(vocab_size)``: the id of the next token of the reply, ``vocab_size =
    len(tokenizer)``. ``tokenizer.eos_token_id`` ends the reply (EOS is not part of the reply
    text). Every id is allowed; special tokens other than EOS are dropped when the reply is
    decoded.

    ## Observation Space

    A ``Dict`` of two ``Box(shape=(n,), dtype=int64)`` arrays, ``n = max_context_tokens +
    max_new_tokens``:

    | key | values | meaning |
    |---|---|---|
    | ``input_ids`` | ``0 .. vocab_size - 1`` | context tokens, then the reply so far; left-padded with ``tokenizer.pad_token_id`` |
    | ``attention_mask`` | ``0`` or ``1`` | 1 on every context or reply token, 0 on padding |

    The context is the turns joined by the tokenizer's SEP token (``"\\n"`` for a tokenizer
    without one), followed by its BOS token (EOS for a tokenizer without BOS), which starts
    the reply: ``turn_1 [SEP] turn_2 [SEP] ... turn_k [BOS]``. **Left padding**: the newest
    token is always the last element. **Append-only**: within an episode every step shifts the
    sequence left by one and puts the action at the end; nothing else changes, so an agent may
    keep a KV cache across steps. A context longer than ``max_context_tokens`` keeps its most
    recent ``max_context_tokens`` tokens (the start of the oldest turns is cut off, the final
    BOS is always kept); ``info["context_truncated"]`` at reset says so. The reply never needs
    truncating because there is room for ``max_new_tokens`` of them.

    ## Rewards

    0 on every step but the last. On the last step, with ``hyp`` the decoded reply and
    ``ref`` the reference, the reward is ``score - s_base`` where ``score`` is chosen by
    ``reward``:

    * ``"bleu"``: ``BLEU(hyp, ref)``, sacrebleu sentence BLEU (effective order, exp smoothing), 0-100.
    * ``"log_bleu"``: ``ln(max(BLEU(hyp, ref), bleu_floor))``; ``bleu_floor = 0.1`` by default,
      so zero BLEU gives ``ln(0.1) = -2.3026`` and a perfect reply ``ln(100) = 4.6052``.
    * ``"chrf"``: sacrebleu sentence chrF, 0-100.
    * a mix ``{"bleu": 0.7, "chrf": 0.3}``: ``sum(weight * metric)``.

    ## Starting State

    ``reset`` draws an example uniformly with ``self.np_random``, or takes example ``i`` of
    ``examples`` with ``options={"index": i}`` (``{"index": "seed"}``: the reset seed's example),
    or replies to the turns ``options={"context": ["turn 1", "turn 2", ...]}`` (oldest first; the
    last ``context_turns`` are kept, encoded as the data's contexts are; there is no reference,
    so the reply is scored against ``""``: this is for talking with a policy, e.g.
    ``dialog-envs serve``); any other option key is an error. The observation holds the context
    and the BOS token.

    ## Episode End

    The episode *terminates* when the action is EOS or when the reply has ``max_new_tokens``
    tokens (EOS included). Both are terminal states of this task: the reply is scored and no
    reward can follow, so a learner must not bootstrap a value after either of them. That is
    why the length limit is reported as ``terminated`` and not as Gymnasium's ``truncated``,
    which is always False; ``info["ended_by"]`` says which limit ended the episode.

    ## Arguments

    * ``data_path``: None (generated corpus); a mapping of split to dialogue file (``.txt``
      DailyDialog or ``.jsonl``); a folder with one file per split (DailyDialog's release
      layout too, see ``dialog_envs.data.dialogue``); one dialogue file, cut into the three splits
      by the project's seeded rule (:func:`dialog_envs.data.splits.split_indices`); or, with
      ``datasets`` installed, a ``Dataset`` (cut likewise) or ``DatasetDict`` with a ``turns``
      (or ``dialog``) column of utterance lists.
    * ``split``: ``"train"``, ``"validation"`` or ``"test"``.
    * ``tokenizer``: None (a byte-level BPE tokenizer of ``tokenizer_vocab_size`` ids trained
      on the training split of the same data and cached), a Hugging Face name or path, or a
      tokenizer object.
    * ``reward``, ``s_base``, ``bleu_floor``: the reward, as above.
    * ``context_turns``: how many previous turns form the context (None: all).
    * ``max_context_tokens``, ``max_new_tokens``: the token budgets.
    * ``render_mode``: None or ``"ansi"``.

    ## Info

    ``reset``: ``index`` (not on a given context), ``context_tokens``, ``context_truncated``. Last step:
    ``response``, ``reference``, ``bleu``, ``chrf``, ``log_bleu``, ``score`` (the reward before
    ``s_base``), ``reply_tokens``, ``ended_by`` (``"eos"`` or ``"max_new_tokens"``). Other steps: ``{}``.

    ## Example

    >>> import gymnasium as gym, dialog_envs
    >>> env = gym.make("dialog_envs/DialogueBLEU-v0", reward="bleu")
    >>> obs, info = env.reset(seed=0)
    >>> for action in env.unwrapped.text_to_actions(env.unwrapped.example.reference):
    ...     obs, reward, terminated, truncated, info = env.step(action)
    >>> round(reward, 6), info["response"] == env.unwrapped.example.reference
    (100.0, True)

    ``gym.make_vec("dialog_envs/DialogueBLEU-v0", num_envs=64)`` builds the natively batched
    :class:`DialogueBLEUVectorEnv` (same results as ``vectorization_mode="sync"``, much faster).
    """

    core_class = DialogueBatch
    action_kind = "a token id"
    reset_options = frozenset({"index", "context"})

    def __init__(
        self,
        *,
        data_path: str | PathLike[str] | Mapping[str, Any] | Any | None = None,
        split: str = "train",
        tokenizer: str | PathLike[str] | PreTrainedTokenizerBase | None = None,
        tokenizer_vocab_size: int = 2000,
        reward: RewardSpec = "bleu",
        s_base: float = 0.0,
        bleu_floor: float = DEFAULT_BLEU_FLOOR,
        context_turns: int | None = 3,
        max_context_tokens: int = 96,
        max_new_tokens: int = 32,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(split=split, render_mode=render_mode)
        check_positive_ints(max_context_tokens=max_context_tokens, max_new_tokens=max_new_tokens)
        self.data_path = data_path
        self.max_context_tokens = int(max_context_tokens)
        self.max_new_tokens = int(max_new_tokens)
        self.reward = TextReward(reward, s_base=s_base, bleu_floor=bleu_floor)
        self.tokenizer = env_tokenizer(
            tokenizer,
            lambda: train_tokenizer(_turn_texts(load_split_dialogues(data_path, "train")), kind="bpe", vocab_size=tokenizer_vocab_size),
        )
        self.context_turns = context_turns
        self.data = encoded_examples(data_path, split, self.tokenizer, context_turns)
        self.vocab_size = len(self.tokenizer)
        self.eos_token_id = self.data.eos_id
        self.pad_token_id = self.data.pad_id

        length = self.max_context_tokens + self.max_new_tokens
        self.action_space = spaces.Discrete(self.vocab_size)
        self.observation_space = spaces.Dict(
            {
                "input_ids": spaces.Box(0, self.vocab_size - 1, shape=(length,), dtype=np.int64),
                "attention_mask": spaces.Box(0, 1, shape=(length,), dtype=np.int64),
            }
        )

    per_episode_attributes = frozenset(
        {"example", "response_text", "expert_action", "text_to_actions", "observation_text", "render", "reset", "step"}
    )
    """What differs between episodes (the native vector env serves ``expert_action`` batched)."""

    def episode_report(self, final_infos: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """``distinct_1`` and ``distinct_2`` over every reply, and the first ``REPORT_SAMPLES``
        ``(reference, response)`` pairs to show side by side; empty unless every episode ended
        with a reply."""
        if not final_infos or not all("response" in info for info in final_infos):
            return {}
        replies = [info["response"] for info in final_infos]
        return {
            "distinct_1": distinct_n(replies, 1),
            "distinct_2": distinct_n(replies, 2),
            "samples": [{"reference": info["reference"], "response": info["response"]} for info in final_infos[:REPORT_SAMPLES]],
        }

    def _render_text(self) -> str:
        text = self.observation_text()
        if self._core.done[0]:
            info = self._core.final_info[0]
            text += (
                f"\nreference: {info['reference']}\n"
                f"bleu={info['bleu']:.2f} chrf={info['chrf']:.2f} log_bleu={info['log_bleu']:.4f} "
                f"reward={info['score'] - self.reward.s_base:.4f} ({info['ended_by']})"
            )
        return text + "\n"

    # -- text helpers ----------------------------------------------------------------------

    @property
    def example(self) -> Example | None:
        """The current example (``.context``, ``.reference``, ``.metadata``); None before reset."""
        index = int(self._core.index[0])
        return None if index < 0 else self.data.examples[index]

    def encode_context(self, turns: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The ids of ``options={"context": turns}``, as the data's contexts are encoded (the last
        ``context_turns`` turns, ``turn SEP ... turn BOS``), and where each turn starts.

        Raises:
            DialogEnvsError: ``turns`` is not a non-empty list of strings.
        """
        if not isinstance(turns, (list, tuple)) or not turns or not all(isinstance(turn, str) for turn in turns):
            raise DialogEnvsError(f"options['context']={turns!r}; expected a non-empty list of turns (strings), oldest first")
        kept = list(turns) if self.context_turns is None else list(turns)[-self.context_turns :]
        turn_ids = self.tokenizer(kept, add_special_tokens=False)["input_ids"]
        sep, bos = separator_and_bos(self.tokenizer)
        return join_turns(turn_ids, sep, bos)

    @property
    def examples(self) -> tuple[Example, ...]:
        """Every example of the split, in file order (``options={"index": i}`` picks one)."""
        return self.data.examples

    def response_text(self) -> str:
        """The reply so far, decoded (EOS and other special tokens dropped)."""
        return self._core.decode_replies(self._core.all_rows)[0]

    def expert_action(self) -> int:
        """The next token of the reference reply, then EOS (EOS once the episode is over): the
        warm-start target. References longer than ``max_new_tokens - 1`` tokens are cut."""
        return int(self._core.expert_actions()[0])

    def text_to_actions(self, text: str) -> list[int]:
        """The actions that write ``text`` as the (rest of the) reply and then end it with EOS.

        Raises:
            ValueError: the text needs more tokens than the reply has room for.
        """
        ids = list(self.tokenizer.encode(text, add_special_tokens=False))
        core = self._core
        room = self.max_new_tokens - (int(core.reply_len[0]) if core.started[0] and not core.done[0] else 0)
        if len(ids) + 1 > room:
            raise ValueError(
                f"the reply is {len(ids)} tokens but only {room - 1} fit before the end-of-reply token "
                f"(max_new_tokens={self.max_new_tokens}); type a shorter reply"
            )
        return ids + [self.eos_token_id]

    def observation_text(self) -> str:
        """The visible context, one turn a line (``them:`` / ``you:``), then ``you>`` and the reply so far.

        A turn whose start was cut off by ``max_context_tokens`` begins with ``…``.
        """
        if not self._core.started[0]:
            return "(call reset() first)"
        context_start = int(self._core.context_start[0])
        context, starts = self._core.contexts[0]
        ends = list(starts[1:] - self.data.sep_len) + [len(context) - 1]  # the last turn ends before BOS
        lines = []
        for number, (start, end) in enumerate(zip(starts, ends)):
            if end <= context_start:
                continue
            cut = max(start, context_start)
            text = self.tokenizer.decode(context[cut:end], skip_special_tokens=True, clean_up_tokenization_spaces=False)
            speaker = "them" if (len(starts) - number) % 2 == 1 else "you"
            lines.append(f"{speaker}: {'…' if cut > start else ''}{text}")
        lines.append(f"you> {self.response_text()}")
        return "\n".join(lines)


DialogueBLEUVectorEnv = vector_env_class(DialogueBLEUEnv)


# -- data loading and the shared, pre-encoded examples -------------------------------------


def load_split_dialogues(data_path: str | PathLike[str] | None, split: str) -> list[Dialogue]:
    """The dialogues of ``split``: generated when ``data_path`` is None, else read (and cached)."""
    check_split(split)
    if data_path is None:
        return generate_dialogues(split)
    source = resolve_split(data_path, split, SPLIT_FILE_PATTERNS)
    return split_dialogues(_read_cached(source), source, split)


_FILE_CACHE: OrderedDict[Hashable, tuple[Dialogue, ...]] = OrderedDict()


def _read_cached(source: SplitSource) -> tuple[Dialogue, ...]:
    key = source.key
    if key not in _FILE_CACHE:
        _FILE_CACHE[key] = tuple(read_dialogue_source(source))
        while len(_FILE_CACHE) > 8:
            _FILE_CACHE.popitem(last=False)
    _FILE_CACHE.move_to_end(key)
    return _FILE_CACHE[key]


def _turn_texts(dialogues: list[Dialogue]) -> list[str]:
    return [turn for dialogue in dialogues for turn in dialogue.turns]


@dataclass(frozen=True)
class EncodedExamples:
    """The examples of one split tokenised for one tokenizer; shared by environments."""

    tokenizer: PreTrainedTokenizerBase
    """The tokenizer (held so that the cache key ``id(tokenizer)`` stays valid)."""
    examples: tuple[Example, ...]
    context_ids: tuple[np.ndarray, ...]
    """Per example: ``turn_1 SEP ... turn_k BOS`` as int64 ids, not yet truncated."""
    turn_starts: tuple[np.ndarray, ...]
    """Per example: where each context turn starts in ``context_ids``."""
    sep_len: int
    """How many ids separate two turns."""
    eos_id: int
    pad_id: int


_ENCODED: OrderedDict[tuple[Any, ...], EncodedExamples] = OrderedDict()
_ENCODED_MAX = 8


def encoded_examples(
    data_path: str | PathLike[str] | None,
    split: str,
    tokenizer: PreTrainedTokenizerBase,
    context_turns: int | None,
) -> EncodedExamples:
    """The tokenised examples of a split, built once and cached (the last 8 are kept)."""
    if data_path is None:
        data_key: tuple[Any, ...] = ("generated", split)
    else:
        data_key = (resolve_split(data_path, split, SPLIT_FILE_PATTERNS).key, split)
    key = (data_key, id(tokenizer), context_turns)
    if key not in _ENCODED:
        _ENCODED[key] = _encode(load_split_dialogues(data_path, split), tokenizer, context_turns)
        while len(_ENCODED) > _ENCODED_MAX:
            _ENCODED.popitem(last=False)
    _ENCODED.move_to_end(key)
    return _ENCODED[key]


def _encode(dialogues: list[Dialogue], tokenizer: PreTrainedTokenizerBase, context_turns: int | None) -> EncodedExamples:
    examples = tuple(make_examples(dialogues, context_turns=context_turns))
    if not examples:
        raise DialogEnvsError("the data has no dialogue with two or more turns, so there is no reply to predict")
    eos = tokenizer.eos_token_id
    if eos is None:
        raise DialogEnvsError(f"tokenizer {tokenizer.name_or_path!r} has no EOS token; the reply needs one to end")
    sep, bos = separator_and_bos(tokenizer)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0

    offsets = np.cumsum([0] + [len(d.turns) for d in dialogues])
    turn_ids = tokenizer([t for d in dialogues for t in d.turns], add_special_tokens=False)["input_ids"]
    context_ids, turn_starts = [], []
    for example in examples:
        d_index, t_index = example.metadata["dialogue"], example.metadata["turn"]
        first = offsets[d_index] + t_index - len(example.context)
        ids, starts = join_turns(turn_ids[first : offsets[d_index] + t_index], sep, bos)
        context_ids.append(ids)
        turn_starts.append(starts)
    return EncodedExamples(tokenizer, examples, tuple(context_ids), tuple(turn_starts), len(sep), eos, pad)


def separator_and_bos(tokenizer: PreTrainedTokenizerBase) -> tuple[list[int], int]:
    """The ids between two context turns (SEP, else ``"\\n"``) and the id that starts the reply (BOS, else EOS)."""
    bos = tokenizer.bos_token_id if tokenizer.bos_token_id is not None else tokenizer.eos_token_id
    if tokenizer.sep_token_id is not None:
        return [tokenizer.sep_token_id], int(bos)
    return list(tokenizer.encode(FALLBACK_SEPARATOR, add_special_tokens=False)), int(bos)


def join_turns(turn_ids: Sequence[Sequence[int]], sep: list[int], bos: int) -> tuple[np.ndarray, np.ndarray]:
    """A context as the env observes it: ``turn_1 SEP ... turn_k BOS`` (int64), and where each turn starts."""
    ids: list[int] = []
    starts = []
    for turn in turn_ids:
        if ids:
            ids.extend(sep)
        starts.append(len(ids))
        ids.extend(turn)
    ids.append(bos)
    return np.asarray(ids, dtype=np.int64), np.asarray(starts, dtype=np.int64)
