"""A features extractor that lets SB3's ``MultiInputPolicy`` read the token observations unchanged.

The envs' observations are a ``spaces.Dict`` of ``int64`` boxes (see ``docs/developing.md``).
SB3 hands every ``Box`` to the policy as ``float32``, so the extractor first casts each field
back to ``long`` (token ids are exact in float32 up to 2**24). It then turns the fields into
one feature vector, field by field, by what they are:

| field | what the extractor does |
|---|---|
| ``X_ids`` with a mask (``input_ids``+``attention_mask``, ``rationale_ids``+``rationale_mask``) | token embedding (one table shared by every id field), optionally a small transformer encoder, then the masked mean over real tokens **and** the vector of the last real token (the newest one in left-padded generation envs) |
| a pointer into ``input_ids`` (``token_index``, see ``pointers``) | the (encoded) token vector at that position, e.g. the word NER asks about |
| a per-word sequence with a cursor (``previous_tags`` read at ``word_index - 1``, see ``previous``) | the embedding of the last decision ("none" at the first word), plus the sequence's mean embedding |
| any other sequence of small ints | per-element embedding, mean over the sequence |
| any other ``(1,)`` field (``word_index``, ``history_truncated``) | a categorical embedding of the value (clipped to the space's bounds) |

Every part is ``embed_dim`` wide; the parts are concatenated and passed through one linear layer
with ReLU to ``features_dim``. Unknown envs (e.g. a new multi-turn env) work out of the box as
long as they follow the conventions.
"""

from __future__ import annotations

from typing import Literal

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from dialog_envs.errors import DialogEnvsError

Encoder = Literal["mean", "transformer"]

DEFAULT_POINTERS: dict[str, str] = {"token_index": "input_ids"}
"""``{pointer field: id field}``: gather the id field's token vector at the pointer's position."""
DEFAULT_PREVIOUS: dict[str, str] = {"previous_tags": "word_index"}
"""``{sequence field: cursor field}``: embed ``sequence[cursor - 1]``, the decision just made."""


def mask_field(ids_key: str) -> str:
    """The mask that goes with an id field: ``input_ids`` -> ``attention_mask``, ``X_ids`` -> ``X_mask``."""
    return "attention_mask" if ids_key == "input_ids" else ids_key[: -len("_ids")] + "_mask"


def _upper(space: gym.spaces.Box) -> int:
    return int(np.max(space.high))


class TokenFeaturesExtractor(BaseFeaturesExtractor):
    """Embedding + pooling (or a small transformer) over the token ``Dict`` observations.

    Args:
        observation_space: the env's ``spaces.Dict`` of integer ``Box`` fields.
        embed_dim: width of every embedding (and of the transformer).
        features_dim: width of the output feature vector.
        encoder: ``"mean"`` (embeddings only, fastest) or ``"transformer"`` (a small
            ``nn.TransformerEncoder`` with learned positions over each id field first).
        n_layers, n_heads: size of the transformer (``encoder="transformer"`` only).
        pointers: ``{pointer field: id field}`` (default ``{"token_index": "input_ids"}``).
        previous: ``{sequence field: cursor field}`` (default ``{"previous_tags": "word_index"}``).
        max_categories: fields whose values go above this are not embedded as categories; they
            are fed as a scaled number instead (guards against huge embedding tables).
    """

    def __init__(
        self,
        observation_space: gym.spaces.Dict,
        embed_dim: int = 32,
        features_dim: int = 64,
        encoder: Encoder = "mean",
        n_layers: int = 1,
        n_heads: int = 2,
        pointers: dict[str, str] | None = None,
        previous: dict[str, str] | None = None,
        max_categories: int = 100_000,
    ) -> None:
        super().__init__(observation_space, features_dim)
        if not isinstance(observation_space, gym.spaces.Dict):
            raise DialogEnvsError(f"TokenFeaturesExtractor needs a Dict observation space, got {observation_space}")
        if encoder not in ("mean", "transformer"):
            raise DialogEnvsError(f"encoder={encoder!r}; expected 'mean' or 'transformer'")
        spaces = observation_space.spaces
        pointers = dict(DEFAULT_POINTERS if pointers is None else pointers)
        previous = dict(DEFAULT_PREVIOUS if previous is None else previous)
        self.embed_dim = embed_dim
        self.id_fields = sorted(k for k in spaces if k.endswith("_ids") and mask_field(k) in spaces)
        if not self.id_fields:
            raise DialogEnvsError(f"no token field (X_ids with its mask) among {sorted(spaces)}")
        self.pointers = {p: f for p, f in pointers.items() if p in spaces and f in self.id_fields}
        self.previous = {s: c for s, c in previous.items() if s in spaces and c in spaces}
        used = set(self.id_fields) | {mask_field(k) for k in self.id_fields} | set(self.pointers)
        used |= set(self.previous) | set(self.previous.values())
        self.sequence_fields = sorted(k for k in spaces if k not in used and spaces[k].shape[0] > 1)
        self.scalar_fields = sorted(k for k in spaces if k not in used and spaces[k].shape[0] == 1)
        # cursor fields are also embedded as scalars (where a tagger is in the sentence matters)
        self.scalar_fields = sorted(set(self.scalar_fields) | set(self.previous.values()))

        vocab = max(_upper(spaces[k]) for k in self.id_fields) + 1
        self.token_embedding = nn.Embedding(vocab, embed_dim)
        self.encoders = nn.ModuleDict()
        self.positions = nn.ParameterDict()
        if encoder == "transformer":
            for key in self.id_fields:
                layer = nn.TransformerEncoderLayer(
                    embed_dim, n_heads, dim_feedforward=2 * embed_dim, dropout=0.0, batch_first=True
                )
                self.encoders[key] = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
                self.positions[key] = nn.Parameter(torch.zeros(spaces[key].shape[0], embed_dim))
        self.category_embeddings = nn.ModuleDict()
        self.numeric_fields: list[str] = []
        for key in self.sequence_fields + self.scalar_fields + list(self.previous):
            if key in self.category_embeddings:
                continue
            size = _upper(spaces[key]) + 1
            if size > max_categories or np.min(spaces[key].low) < 0:
                self.numeric_fields.append(key)
            else:
                # previous-decision fields get one extra row for "no decision yet"
                self.category_embeddings[key] = nn.Embedding(size + 1, embed_dim)
        parts = 2 * len(self.id_fields) + len(self.pointers) + 2 * len(self.previous)
        parts += len(self.sequence_fields) + len(self.scalar_fields)
        self.scales = {k: float(max(_upper(spaces[k]), 1)) for k in self.numeric_fields}
        self.head = nn.Sequential(nn.Linear(parts * embed_dim, features_dim), nn.ReLU())

    def _encode_tokens(self, key: str, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        vectors = self.token_embedding(ids)
        if key in self.encoders:
            padding = mask == 0
            # a row without any token (e.g. an empty rationale) would make attention NaN
            padding[padding.all(dim=1), 0] = False
            vectors = self.encoders[key](vectors + self.positions[key], src_key_padding_mask=padding)
        return vectors * mask[..., None]

    def _category(self, key: str, values: torch.Tensor) -> torch.Tensor:
        if key in self.numeric_fields:
            return (values.float() / self.scales[key])[..., None].expand(*values.shape, self.embed_dim)
        table = self.category_embeddings[key]
        return table(values.clamp(0, table.num_embeddings - 2))

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        obs = {key: value.long() for key, value in observations.items()}  # SB3 hands Box fields as float
        parts: list[torch.Tensor] = []
        encoded: dict[str, torch.Tensor] = {}
        for key in self.id_fields:
            mask = obs[mask_field(key)].clamp(0, 1)
            vectors = self._encode_tokens(key, obs[key].clamp(0, self.token_embedding.num_embeddings - 1), mask)
            encoded[key] = vectors
            count = mask.sum(dim=1, keepdim=True)
            parts.append(vectors.sum(dim=1) / count.clamp(min=1))
            positions = torch.arange(mask.shape[1], device=mask.device)
            last = (positions * mask).argmax(dim=1)  # last real token (0 when there is none)
            parts.append(vectors[torch.arange(len(last), device=mask.device), last])
        for pointer, key in self.pointers.items():
            index = obs[pointer][:, 0].clamp(0, encoded[key].shape[1] - 1)
            parts.append(encoded[key][torch.arange(len(index), device=index.device), index])
        for sequence, cursor in self.previous.items():
            values = obs[sequence]
            index = obs[cursor][:, 0] - 1
            picked = values.gather(1, index.clamp(0, values.shape[1] - 1)[:, None])[:, 0]
            if sequence in self.numeric_fields:
                parts.append(self._category(sequence, torch.where(index < 0, torch.zeros_like(picked), picked)))
            else:
                table = self.category_embeddings[sequence]
                parts.append(table(torch.where(index < 0, table.num_embeddings - 1, picked)))
            parts.append(self._category(sequence, values).mean(dim=1))
        for key in self.sequence_fields:
            parts.append(self._category(key, obs[key]).mean(dim=1))
        for key in self.scalar_fields:
            parts.append(self._category(key, obs[key][:, 0]))
        return self.head(torch.cat(parts, dim=1))


FEATURE_CACHES: dict[tuple[str, bool], dict[bytes, torch.Tensor]] = {}
"""``(model, normalize)`` -> the features of every observation encoded so far (by its real tokens)."""


class PretrainedFeaturesExtractor(BaseFeaturesExtractor):
    """A frozen pretrained encoder as SB3's features: the mean of its last hidden states over the
    real tokens of ``input_ids``, layer-normalised (no learned scale).

    The env must use the encoder's tokenizer (:class:`~dialog_envs.agents.sb3_baselines.SB3Agent`
    sets the env's ``tokenizer`` when given ``pretrained=``). Positions are counted from each row's
    first real token, so left- and right-padded observations encode alike. The encoder never
    trains, so each distinct observation is encoded once per process and its features kept, shared
    by every extractor of the same model and normalisation (a one-step env such as Sentiment-v0
    encodes every sentence once, however many PPO epochs or agents read it).

    The normalisation matters: mean-pooled MiniLM states differ between sentences by far less
    than 1 per dimension, which a policy head initialised for unit-scale inputs learns from
    slowly; layer norm gives every vector zero mean and unit variance across its dimensions.

    Args:
        observation_space: the env's ``spaces.Dict`` with ``input_ids`` and ``attention_mask``.
        model: a packaged model's short name (``"minilm"``) or a Hugging Face encoder's name or path.
        normalize: layer-normalise the pooled vector (``False``: the raw mean, for comparison).
    """

    def __init__(self, observation_space: gym.spaces.Dict, model: str = "minilm", normalize: bool = True) -> None:
        from transformers import AutoModel

        from dialog_envs.agents.policies import load_pretrained
        from dialog_envs.agents.pretrained import resolve_model

        if not isinstance(observation_space, gym.spaces.Dict) or "input_ids" not in observation_space.spaces:
            raise DialogEnvsError(f"PretrainedFeaturesExtractor needs a Dict observation space with input_ids, got {observation_space}")
        encoder = load_pretrained(AutoModel, resolve_model(model)[0]).eval()
        encoder.requires_grad_(False)
        super().__init__(observation_space, encoder.config.hidden_size)
        self.encoder = [encoder]  # in a list: not a submodule, so SB3's optimizer and state dict leave it out
        self.normalize = normalize
        self._cache = FEATURE_CACHES.setdefault((model, normalize), {})

    @torch.no_grad()
    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """The pooled (and normalised) features of a batch of token rows, without the cache."""
        encoder = self.encoder[0]
        positions = (attention_mask.cumsum(dim=1) - 1).clamp(min=0)
        hidden = encoder(input_ids=input_ids, attention_mask=attention_mask, position_ids=positions).last_hidden_state
        mask = attention_mask[..., None].to(hidden.dtype)
        pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)
        return torch.nn.functional.layer_norm(pooled, pooled.shape[-1:]) if self.normalize else pooled

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        ids = observations["input_ids"].long().cpu()
        mask = observations["attention_mask"].long().cpu()
        keys = [row.numpy().tobytes() for row in ids * mask]
        unique = {key: index for index, key in enumerate(keys) if key not in self._cache}  # one row per new observation
        if unique:
            rows = torch.tensor(list(unique.values()))
            for key, features in zip(unique, self.encode(ids[rows], mask[rows])):
                self._cache[key] = features
        return torch.stack([self._cache[key] for key in keys]).to(observations["input_ids"].device)
