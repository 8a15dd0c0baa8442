"""Transformer policies built from any Hugging Face model.

Two kinds, one interface (``new_session`` for rollouts, ``forward(rollout inputs)`` for training):

* :class:`CausalLMPolicy` writes tokens: any ``AutoModelForCausalLM`` (by hub name, local path, or
  a GGUF file), default a small GPT-2 built from a config around the env's tokenizer. During a
  rollout it keeps a KV cache and feeds only what the env appended since the last step.
* :class:`TaggerPolicy` picks a label for one position: any ``AutoModel`` encoder plus a tag head
  that also sees the previously chosen tag (so it can learn BIO transitions), default a small BERT.
  The sentence is encoded once per episode; each step only runs the head.

Both have an optional value head on the shared trunk (for PPO and value baselines).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from typing import Any

import numpy as np
import torch
from torch import nn
from transformers import (
    CONFIG_MAPPING,
    AutoConfig,
    AutoModel,
    AutoModelForCausalLM,
    BertConfig,
    BertModel,
    MODEL_FOR_CAUSAL_LM_MAPPING,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from dialog_envs.errors import DialogEnvsError


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """No transformers progress bars ("Loading weights", "Writing model shards") inside ours."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def load_pretrained(kind: type, name_or_path: str, **kwargs: Any) -> PreTrainedModel:
    """``kind.from_pretrained`` with a one-line error naming the model on failure."""
    try:
        with quiet_transformers():
            return kind.from_pretrained(name_or_path, **kwargs)
    except (OSError, ValueError) as error:
        raise DialogEnvsError(
            f"could not load model {name_or_path!r}: expected a local folder with config.json and weights, "
            f"a GGUF file via gguf_file=, or a Hugging Face hub name ({error})"
        ) from None


def build_causal_lm(
    tokenizer: PreTrainedTokenizerBase,
    model: str | PathLike[str] | None = None,
    gguf_file: str | None = None,
    overrides: dict[str, Any] | None = None,
    max_positions: int = 512,
) -> PreTrainedModel:
    """A causal LM: loaded by name/path (optionally from a GGUF file), or a small one from a config.

    From a config, ``overrides`` may name another architecture with ``model_type`` (any causal LM
    that transformers knows: ``"llama"``, ``"qwen2"``, ...); it is built just as small (2 layers, 128
    wide, 4 heads, feed-forward 4 x wider, tied embeddings), with the standard names
    (``num_hidden_layers``, ``hidden_size``, ...) for further overrides. The default is GPT-2, whose
    overrides keep GPT-2's own names (``n_layer``, ``n_embd``, ...).
    """
    if model is not None:
        if not gguf_file:
            return load_pretrained(AutoModelForCausalLM, str(model))
        return _as_plain_model(load_pretrained(AutoModelForCausalLM, str(model), gguf_file=gguf_file))
    settings = dict(overrides or {})
    model_type = settings.pop("model_type", "gpt2")
    positions = max(max_positions, 256)
    if model_type == "gpt2":  # GPT-2's own names, which its overrides use
        settings = {"n_layer": 2, "n_embd": 128, "n_head": 4, "n_positions": positions, **settings}
    else:
        settings = {"num_hidden_layers": 2, "hidden_size": 128, "num_attention_heads": 4,
                    "max_position_embeddings": positions, "tie_word_embeddings": True, **settings}
        settings.setdefault("intermediate_size", 4 * settings["hidden_size"])
        settings.setdefault("num_key_value_heads", settings["num_attention_heads"])
    if model_type not in CONFIG_MAPPING or CONFIG_MAPPING[model_type] not in MODEL_FOR_CAUSAL_LM_MAPPING:
        raise DialogEnvsError(
            f"model_config.model_type {model_type!r}: expected a causal LM architecture that transformers knows "
            "(gpt2, llama, qwen2, ...)"
        )
    try:
        config = AutoConfig.for_model(
            model_type,
            vocab_size=len(tokenizer),
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            **settings,
        )
        return AutoModelForCausalLM.from_config(config)
    except Exception as error:  # the config's or the model's own check of the sizes given
        reason = [line.strip() for line in str(error).splitlines() if line.strip()][-1]
        raise DialogEnvsError(f"model_config {overrides!r}: not a valid {model_type} model: {reason}") from None


def _as_plain_model(model: PreTrainedModel) -> PreTrainedModel:
    """A model loaded from a GGUF file, made savable. Without GGUF kernels (always on CPU)
    transformers dequantizes the file into ordinary float weights but leaves its GGUF quantizer on
    the model, which only makes ``save_pretrained`` refuse; when no layer kept GGUF blocks, the
    quantizer and the config's ``quantization_config`` are dropped, so checkpoints save and
    reload as a plain model."""
    plain = all(type(module) is nn.Linear for module in model.modules() if isinstance(module, nn.Linear))
    if plain and all(parameter.is_floating_point() for parameter in model.parameters()):
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
    return model


def build_encoder(
    tokenizer: PreTrainedTokenizerBase,
    model: str | PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    max_positions: int = 512,
) -> PreTrainedModel:
    """An encoder: loaded by name/path (``AutoModel``), or a small BERT from a config."""
    if model is not None:
        return load_pretrained(AutoModel, str(model))
    settings = dict(
        hidden_size=128, num_hidden_layers=2, num_attention_heads=4, intermediate_size=256,
        max_position_embeddings=max(max_positions, 128),
    )
    settings.update(overrides or {})
    return BertModel(BertConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id or 0, **settings))


def masked_logits(logits: torch.Tensor, action_mask: torch.Tensor | None, temperature: float) -> torch.Tensor:
    """The logits of the policy's distribution: scaled by ``1/temperature``, masked actions at -inf."""
    logits = logits.float() / temperature
    if action_mask is not None:
        logits = logits.masked_fill(~action_mask, float("-inf"))
    return logits


def padded_width(width: int) -> int:
    """``width`` rounded up to a multiple of an eighth of the power of two at or below it: eight
    widths per octave, at most 12.5% padding.

    Packed training sequences get this width, so a run sees a few shapes instead of a new one
    every update. With bf16 on CPU, oneDNN compiles and keeps kernels per shape: a SimUser-v0
    warm start grew by about 20 MB per update with exact widths.
    """
    step = 1 << max(width.bit_length() - 4, 0)
    return -(-width // step) * step


LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling")
"""Config fields of models that transform the logits after their output layer (Gemma 2, Cohere,
Granite); :meth:`CausalLMPolicy.forward` does not apply them, so such models are refused."""


class CausalLMPolicy(nn.Module):
    """A causal LM that writes one token per env step, with an optional value head."""

    kind = "causal_lm"

    def __init__(
        self,
        model: PreTrainedModel,
        pad_token_id: int,
        num_actions: int,
        value_head: bool = False,
        max_context_tokens: int | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.pad_token_id = int(pad_token_id)
        self.num_actions = num_actions  # the env's vocabulary; a model's embedding may be padded larger
        text_config = model.config.get_text_config()
        limits = [n for n in (max_context_tokens, getattr(text_config, "max_position_embeddings", None)) if n is not None]
        self.context_window: int | None = min(limits) if limits else None
        """The most tokens a rollout's context holds (see :class:`GenerationSession`); None: no limit."""
        for name in LOGIT_TRANSFORMS:
            if getattr(text_config, name, None) not in (None, 1, 1.0):
                raise DialogEnvsError(
                    f"model config sets {name}={getattr(text_config, name)}: the training forward applies the output "
                    f"layer to the final hidden states itself, and would miss that transform of the logits"
                )
        hidden = text_config.hidden_size
        self.value_head = nn.Linear(hidden, 1) if value_head else None
        base = model.get_base_model() if hasattr(model, "get_base_model") else model  # under a LoRA wrapper
        parameters = inspect.signature(base.forward).parameters
        # transformers 5.2x renamed past_key_values to cache; accept both.
        self._cache_argument = "cache" if "cache" in parameters else "past_key_values"

    def forward_tokens(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        position_ids: torch.Tensor,
        keep: int,
        cache: Any = None,
        use_cache: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None, Any]:
        """Logits (and values) at the last ``keep`` positions, and the new cache when asked."""
        want_values = self.value_head is not None
        output = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=use_cache,
            logits_to_keep=keep,
            output_hidden_states=want_values,
            **({self._cache_argument: cache} if cache is not None else {}),
        )
        values = None
        if want_values:
            hidden = output.hidden_states[-1]
            hidden = hidden[:, -keep:]
            values = self.value_head(hidden.float()).squeeze(-1)
        new_cache = None
        if use_cache:
            new_cache = output["cache"] if "cache" in output else output["past_key_values"]
        return output.logits[..., : self.num_actions], values, new_cache

    @property
    def backbone(self) -> PreTrainedModel:
        """The Hugging Face model inside (what ``save_pretrained`` writes)."""
        return self.model

    def new_session(self, batch_size: int, device: torch.device) -> GenerationSession:
        return GenerationSession(self, batch_size, device)

    def forward(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``(B, T, V)`` and values ``(B, T)`` for every recorded step of a rollout, in one
        forward over its packed context windows (``inputs`` from :meth:`GenerationSession.inputs`:
        ``S`` windows per row, ``(B, S, width)``; one unless a rollout outgrew the context window).

        Only the hidden states at the action positions go through the output layer, so a large
        vocabulary costs ``B x T`` rows of logits, not ``B x sequence length``.
        """
        rows, windows, width = inputs["sequence"].shape
        output = self.model(
            input_ids=inputs["sequence"].reshape(rows * windows, width),
            attention_mask=inputs["sequence_mask"].reshape(rows * windows, width),
            position_ids=inputs["sequence_positions"].reshape(rows * windows, width),
            logits_to_keep=1,
            output_hidden_states=True,
        )
        hidden = output.hidden_states[-1]  # after the final norm, as the output layer expects
        hidden = hidden.reshape(rows, windows * width, hidden.shape[-1])
        index = inputs["action_windows"] * width + inputs["action_positions"]
        picked = torch.gather(hidden, 1, index[..., None].expand(-1, -1, hidden.shape[-1]))
        logits = self.model.get_output_embeddings()(picked)[..., : self.num_actions]
        values = None if self.value_head is None else self.value_head(picked.float()).squeeze(-1)
        return logits, values


class GenerationSession:
    """The state of one batched rollout of a :class:`CausalLMPolicy`: KV cache and token history.

    Each step feeds, per env, the tokens its observation gained since the previous step (the
    action just taken, plus anything the env appended, e.g. a simulated user's reply), as one
    right-aligned block: rows with fewer new tokens are padded on the left of the block and those
    pads are masked. This relies on the envs' append-only observations (left-padded, newest last).
    An env whose observation window slides (its oldest tokens drop off) says how many tokens it
    dropped (``dropped``, from ``info["dropped_tokens"]``), so the new ones are still known.

    **Context window.** A row's context is a window of its conversation, at positions ``0..n-1``.
    When feeding a step would make some row's context longer than the policy's
    ``context_window`` ``W``, every row's context is cut to its last ``W // 2`` tokens (shorter
    ones are kept whole) and the cache is re-prefilled from them: the policy always sees at least
    the last ``W // 2`` tokens of the conversation (all of it when shorter) and at most ``W``, and
    re-prefills about once per ``W // 2`` steps. :meth:`inputs` gives training every window a row
    used, so each step is recomputed with exactly the context it was sampled with.
    """

    def __init__(self, policy: CausalLMPolicy, batch_size: int, device: torch.device) -> None:
        self.policy = policy
        self.device = device
        self.window = policy.context_window
        self.seen = np.zeros(batch_size, dtype=np.int64)  # tokens of each row's conversation taken in so far
        self.tokens: list[list[int]] = [[] for _ in range(batch_size)]  # every real token fed, per row
        self.windows: list[list[list[int]]] = [[[0, 0]] for _ in range(batch_size)]  # [start, end) per window
        self.cache: Any = None
        self.history_mask = torch.zeros(batch_size, 0, dtype=torch.long, device=device)
        self.action_windows: list[list[int]] = []  # per step, per row: the window it acted in
        self.action_positions: list[list[int]] = []  # per step, per row: the position of its last token there

    @torch.no_grad()
    def step(
        self, obs: dict[str, np.ndarray], active: np.ndarray, act: bool = True, dropped: np.ndarray | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Feed what each env appended; the logits (and values) of the next action, or nothing
        when ``act`` is False (the actions come from elsewhere: only the sequence is recorded).
        ``dropped``: per env, how many of its oldest tokens the observation no longer holds."""
        input_ids, attention = obs["input_ids"], obs["attention_mask"]
        lengths = attention.sum(axis=1)
        new = np.where(active, lengths + (0 if dropped is None else dropped) - self.seen, 0)
        if (active & (new <= 0)).any():
            row = int(np.flatnonzero(active & (new <= 0))[0])
            raise DialogEnvsError(
                f"env {row}'s observation did not grow after its action ({lengths[row]} tokens); "
                f"the policy needs append-only observations: give the env a longer context window"
            )
        if (new > lengths).any():
            row = int(np.flatnonzero(new > lengths)[0])
            raise DialogEnvsError(
                f"env {row} appended {new[row]} tokens in one step, more than its observation holds ({lengths[row]}); "
                f"give the env a longer context window"
            )
        width = int(new.max())
        block = torch.as_tensor(input_ids[:, input_ids.shape[1] - width :], device=self.device)
        offsets = torch.arange(width, device=self.device)
        block_mask = (offsets[None, :] >= torch.as_tensor(width - new, device=self.device)[:, None]).long()
        block = block.masked_fill(block_mask == 0, self.policy.pad_token_id)
        context = np.array([end - start for start, end in (windows[-1] for windows in self.windows)])
        for row in np.flatnonzero(new):
            self.tokens[row].extend(input_ids[row, input_ids.shape[1] - new[row] :].tolist())
        self.seen += new
        if self.window is not None and (context + new > self.window).any():
            block, block_mask, positions = self._cut_context()
            self.history_mask, self.cache = block_mask, None
        else:
            for tokens, windows in zip(self.tokens, self.windows):
                windows[-1][1] = len(tokens)
            positions = (torch.as_tensor(context, device=self.device)[:, None] + block_mask.cumsum(1) - 1).clamp(min=0)
            self.history_mask = torch.cat([self.history_mask, block_mask], dim=1)
        self.action_windows.append([len(windows) - 1 for windows in self.windows])
        self.action_positions.append([max(end - start - 1, 0) for start, end in (windows[-1] for windows in self.windows)])
        if not act:
            return None, None
        logits, values, self.cache = self.policy.forward_tokens(
            block, self.history_mask, positions, keep=1, cache=self.cache, use_cache=True
        )
        return logits[:, -1], None if values is None else values[:, -1]

    def _cut_context(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Start a new window of the last ``W // 2`` tokens in every row longer than that; the
        left-padded block that re-prefills the cache with every row's context, its mask and positions."""
        keep = self.window // 2
        for tokens, windows in zip(self.tokens, self.windows):
            start, fed = windows[-1]
            end = len(tokens)
            if end - start <= keep:
                windows[-1][1] = end
            elif fed == start:  # nothing was fed in the current window yet (a first observation longer than W)
                windows[-1] = [end - keep, end]
            else:
                windows.append([end - keep, end])
        contexts = [tokens[windows[-1][0] :] for tokens, windows in zip(self.tokens, self.windows)]
        width = max(len(context) for context in contexts)
        block = torch.full((len(contexts), width), self.policy.pad_token_id, dtype=torch.long)
        block_mask = torch.zeros((len(contexts), width), dtype=torch.long)
        for row, context in enumerate(contexts):
            if context:
                block[row, width - len(context) :] = torch.as_tensor(context)
                block_mask[row, width - len(context) :] = 1
        block, block_mask = block.to(self.device), block_mask.to(self.device)
        return block, block_mask, (block_mask.cumsum(1) - 1).clamp(min=0)

    def inputs(self) -> dict[str, torch.Tensor]:
        """Everything :meth:`CausalLMPolicy.forward` needs to recompute this rollout's steps: every
        context window of every row, ``(B, S, width)``, its real tokens first at positions
        ``0..n-1`` exactly as during the rollout, and per step the window and position of each
        row's action. The width is rounded up by :func:`padded_width` (padding at the end, masked),
        and a row with fewer windows than ``S`` gets empty ones (one masked-in pad token, so no
        attention row is fully masked)."""
        count = max(len(windows) for windows in self.windows)
        longest = max(max(end - start, 1) for windows in self.windows for start, end in windows)
        width = padded_width(longest) if self.window is None else min(padded_width(longest), max(self.window, longest))
        sequence = torch.full((len(self.tokens), count, width), self.policy.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(self.tokens), count, width), dtype=torch.long)
        mask[:, :, 0] = 1
        for row, (tokens, windows) in enumerate(zip(self.tokens, self.windows)):
            for index, (start, end) in enumerate(windows):
                sequence[row, index, : end - start] = torch.as_tensor(tokens[start:end], dtype=torch.long)
                mask[row, index, : end - start] = 1
        device = self.device
        return {
            "sequence": sequence.to(device),
            "sequence_mask": mask.to(device),
            "sequence_positions": torch.arange(width, device=device).expand(len(self.tokens), count, -1),
            # steps after a row's episode ended point at its last token; they are not valid steps
            "action_windows": torch.tensor(self.action_windows, device=device).T.contiguous(),
            "action_positions": torch.tensor(self.action_positions, device=device).T.contiguous(),
        }


ENCODER_INPUTS = ("input_ids", "attention_mask", "word_shape")
"""The observation fields a :class:`TaggerPolicy` encodes (``word_shape`` when the env has it)."""


class TaggerPolicy(nn.Module):
    """An encoder plus a head that labels one position given the previously chosen label."""

    kind = "tagger"

    def __init__(self, encoder: PreTrainedModel, num_labels: int, value_head: bool = False, word_shapes: int = 0) -> None:
        super().__init__()
        self.encoder = encoder
        self.num_labels = num_labels
        hidden = encoder.config.hidden_size
        self.previous_label = nn.Embedding(num_labels + 1, hidden)  # index num_labels: none yet
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, num_labels))
        self.value_head = nn.Linear(hidden, 1) if value_head else None
        # Added to the token embeddings: the capitalisation an uncased tokenizer drops. Zero at
        # first, so a pretrained encoder starts exactly where it was.
        self.word_shape = nn.Embedding(word_shapes, hidden) if word_shapes else None
        if self.word_shape is not None:
            nn.init.zeros_(self.word_shape.weight)

    @property
    def backbone(self) -> PreTrainedModel:
        """The Hugging Face encoder inside (what ``save_pretrained`` writes)."""
        return self.encoder

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, word_shape: torch.Tensor | None = None) -> torch.Tensor:
        """The encoder's last hidden states; with ``word_shape`` (the env's observation of that
        name), its learned embedding is added to the token embeddings.

        Columns after the batch's last real token are cut first (to :func:`padded_width`): envs
        pad every observation to ``max_length`` (192 for CoNLL-2003, whose sentences average
        about 25 MiniLM tokens), and those columns change no real token's state. The hidden
        states are as wide as what is left; positions to read lie within the real tokens.
        """
        real = attention_mask.any(dim=0).nonzero()
        width = min(padded_width(int(real[-1]) + 1 if len(real) else 1), attention_mask.shape[1])
        input_ids, attention_mask = input_ids[:, :width], attention_mask[:, :width]
        word_shape = None if word_shape is None else word_shape[:, :width]
        if self.word_shape is None or word_shape is None:
            return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        embeddings = self.encoder.get_input_embeddings()(input_ids) + self.word_shape(word_shape)
        return self.encoder(inputs_embeds=embeddings, attention_mask=attention_mask).last_hidden_state

    def head_outputs(
        self, hidden: torch.Tensor, positions: torch.Tensor, previous: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits and values at ``positions`` (``(B,)`` or ``(B, T)``) given the previous labels.

        A position past the encoded width can only be a step recorded after its row's episode
        ended (the next sentence's pointer, a masked-out step); it reads the last column."""
        index = (positions if positions.dim() == 2 else positions[:, None]).clamp(max=hidden.shape[1] - 1)
        picked = torch.gather(hidden, 1, index[..., None].expand(-1, -1, hidden.shape[-1]))
        features = picked.float() + self.previous_label(previous if previous.dim() == 2 else previous[:, None])
        logits = self.head(features)
        values = None if self.value_head is None else self.value_head(features).squeeze(-1)
        if positions.dim() == 1:
            return logits[:, 0], None if values is None else values[:, 0]
        return logits, values

    def new_session(self, batch_size: int, device: torch.device) -> TaggingSession:
        return TaggingSession(self, batch_size, device)

    def forward(self, inputs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``(B, T, L)`` and values for every recorded step of a rollout (``inputs`` from
        :meth:`TaggingSession.inputs`): one encoder pass per episode."""
        hidden = self.encode(inputs["input_ids"], inputs["attention_mask"], inputs.get("word_shape"))
        return self.head_outputs(hidden, inputs["positions"], inputs["previous"])


class TaggingSession:
    """One batched rollout of a :class:`TaggerPolicy`: the episode's encoding, computed once."""

    def __init__(self, policy: TaggerPolicy, batch_size: int, device: torch.device) -> None:
        self.policy = policy
        self.device = device
        self.hidden: torch.Tensor | None = None
        self.first_obs: dict[str, torch.Tensor] = {}
        self.previous = torch.full((batch_size,), policy.num_labels, dtype=torch.long, device=device)
        self.positions: list[torch.Tensor] = []
        self.previous_labels: list[torch.Tensor] = []

    @torch.no_grad()
    def step(
        self, obs: dict[str, np.ndarray], active: np.ndarray, act: bool = True, dropped: np.ndarray | None = None
    ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The logits (and values) of the next label, or nothing when ``act`` is False (only the
        positions and previous labels are recorded); the episode is encoded once, when first needed.
        ``dropped`` is part of the sessions' common signature; a tagger reads the first observation only."""
        if not self.first_obs:
            self.first_obs = {
                key: torch.as_tensor(obs[key], device=self.device) for key in ENCODER_INPUTS if key in obs
            }
        if "token_index" in obs:
            positions = torch.as_tensor(obs["token_index"][:, 0], device=self.device)
        else:
            positions = torch.zeros(len(active), dtype=torch.long, device=self.device)
        self.positions.append(positions)
        self.previous_labels.append(self.previous.clone())
        if not act:
            return None, None
        if self.hidden is None:
            self.hidden = self.policy.encode(**self.first_obs)
        return self.policy.head_outputs(self.hidden, positions, self.previous)

    def record_actions(self, actions: torch.Tensor) -> None:
        self.previous = actions.to(self.device)

    def inputs(self) -> dict[str, torch.Tensor]:
        return {
            **self.first_obs,
            "positions": torch.stack(self.positions, dim=1),
            "previous": torch.stack(self.previous_labels, dim=1),
        }
