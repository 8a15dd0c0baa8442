"""A reward model: a transformer with a scalar head that scores an agent's reply to a user's text.

**Input.** What the model reads of a (user text, reply) pair depends on its architecture:

* an **encoder** (MiniLM, a small BERT from scratch) reads the tokenizer's text-pair encoding,
  ``tokenizer(user_text, reply)`` (``[CLS] user_text [SEP] reply [SEP]`` for BERT-style tokenizers), and
  its score is the head applied to the mean of the last hidden states over the real tokens;
* a **causal LM** (SmolLM2, GPT-2, any ``*ForCausalLM``) reads ``"user: <user_text>\\nagent:
  <reply>"`` followed by its EOS token (the SimUser-v0 transcript format), and its score is the head
  applied to the last hidden state of the last real token, which has seen the whole pair.

Inputs longer than ``max_length`` tokens are cut: an encoder's pair loses tokens from the longer
text first; a causal LM's text loses its start (the user text), so the reply is always read whole
when it fits.

**Checkpoint** (a folder, written atomically, nothing in it can run code when loaded):

- ``reward_model.safetensors``: every weight (backbone and head);
- ``model/config.json``: the backbone's architecture (rebuilt with ``from_config``, no code);
- ``tokenizer/``: the tokenizer's files (``tokenizer.json`` and friends);
- ``reward_model.json``: format, architecture, ``max_length``, ``s_base`` (the mean score of the
  training log's replies, so a typical reply scores about 0 after subtracting it), the training
  config and the validation metrics.

:meth:`RewardModel.load` refuses a folder holding any other kind of file (a pickle, ``*.py``,
``*.bin``, ...) and any config that asks for remote code (``auto_map``).
"""

from __future__ import annotations

import copy
import inspect
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model
from torch import nn
from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerBase

from dialog_envs.agents.checkpoint import recover
from dialog_envs.agents.policies import quiet_transformers
from dialog_envs.errors import DialogEnvsError

Architecture = Literal["encoder", "causal_lm"]

FORMAT = "dialog_envs.reward_model/1"
"""The ``format`` of ``reward_model.json``."""

SAFE_SUFFIXES = frozenset({".safetensors", ".json", ".txt", ".model", ".jinja"})
"""The only kinds of file a checkpoint may hold: weights, JSON, vocabularies, sentencepiece models
(protobuf) and chat templates. Pickles (``.bin``, ``.pt``, ``.pkl``), code (``.py``) and anything
else are refused before anything is read."""


class RewardModel(nn.Module):
    """A backbone and a linear head giving one score per (user text, reply) pair.

    Args:
        backbone: an encoder (``AutoModel``) or a causal LM (``AutoModelForCausalLM``).
        tokenizer: its tokenizer (a pad token is needed; see :func:`~dialog_envs.tokenization.load_tokenizer`).
        architecture: ``"encoder"`` or ``"causal_lm"`` (how the pair is written and pooled; module docstring).
        max_length: tokens per input at most.
        s_base: the score subtracted when the model is an env's reward (see
            :mod:`dialog_envs.agents.reward_env`); training sets it to the mean score of its log.
    """

    def __init__(
        self,
        backbone: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        architecture: Architecture,
        max_length: int = 256,
        s_base: float = 0.0,
    ) -> None:
        super().__init__()
        if architecture not in ("encoder", "causal_lm"):
            raise DialogEnvsError(f"reward model architecture {architecture!r}; expected 'encoder' or 'causal_lm'")
        self.backbone = backbone
        self.tokenizer = copy.deepcopy(tokenizer)  # its own: padding and truncation sides are set below
        self.architecture: Architecture = architecture
        self.max_length = int(max_length)
        self.s_base = float(s_base)
        self.head = nn.Linear(backbone.config.get_text_config().hidden_size, 1)
        self._takes_token_types = architecture == "encoder" and "token_type_ids" in inspect.signature(backbone.forward).parameters
        self.tokenizer.padding_side = "right"
        if architecture == "causal_lm":
            self.tokenizer.truncation_side = "left"  # keep the reply, cut the start of the user text

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def encode(self, user_texts: Sequence[str], replies: Sequence[str]) -> dict[str, torch.Tensor]:
        """The model's input tensors for the pairs (module docstring), on the model's device."""
        if len(user_texts) != len(replies):
            raise DialogEnvsError(f"{len(user_texts)} user texts but {len(replies)} replies; expected one reply per user text")
        common = dict(truncation=True, max_length=self.max_length, padding=True, return_tensors="pt")
        if self.architecture == "encoder":
            batch = self.tokenizer(list(user_texts), list(replies), **common)
        else:
            eos = self.tokenizer.eos_token or ""
            texts = [f"user: {user}\nagent: {reply}{eos}" for user, reply in zip(user_texts, replies)]
            batch = self.tokenizer(texts, **common)
        keep = ("input_ids", "attention_mask", "token_type_ids") if self._takes_token_types else ("input_ids", "attention_mask")
        return {key: value.to(self.device) for key, value in batch.items() if key in keep}

    def forward(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """Scores ``(B,)`` of encoded pairs (:meth:`encode`)."""
        mask = inputs["attention_mask"]
        if self.architecture == "encoder":
            hidden = self.backbone(**inputs).last_hidden_state.float()
            weights = mask[..., None].to(hidden.dtype)
            pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        else:
            output = self.backbone(
                input_ids=inputs["input_ids"], attention_mask=mask, output_hidden_states=True, logits_to_keep=1
            )
            hidden = output.hidden_states[-1].float()  # after the final norm
            last = (mask * torch.arange(mask.shape[1], device=mask.device)).argmax(dim=1)  # the last real token
            pooled = hidden[torch.arange(len(last), device=mask.device), last]
        return self.head(pooled).squeeze(-1)

    @torch.no_grad()
    def score(self, user_texts: Sequence[str], replies: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """The scores of ``replies[i]`` to ``user_texts[i]`` (float64, ``s_base`` not subtracted),
        in eval mode, ``batch_size`` pairs per forward pass."""
        was_training = self.training
        self.eval()
        scores = [
            self(self.encode(user_texts[start : start + batch_size], replies[start : start + batch_size])).double().cpu()
            for start in range(0, len(user_texts), batch_size)
        ]
        self.train(was_training)
        return torch.cat(scores).numpy() if scores else np.zeros(0)

    # -- checkpoints ------------------------------------------------------------------------------

    def save(self, folder: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> None:
        """Write the checkpoint (module docstring) to ``folder`` atomically, replacing an older one;
        ``extra`` (JSON) goes into ``reward_model.json`` (the training config, the metrics)."""
        target = Path(folder)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-new-", dir=target.parent))
        save_model(self, str(staging / "reward_model.safetensors"))
        self.backbone.config.save_pretrained(staging / "model")
        self.tokenizer.save_pretrained(staging / "tokenizer")
        state = {"format": FORMAT, "architecture": self.architecture, "max_length": self.max_length,
                 "s_base": self.s_base, **(extra or {})}
        (staging / "reward_model.json").write_text(json.dumps(state, indent=2))
        retired = target.parent / f".{target.name}-old"
        shutil.rmtree(retired, ignore_errors=True)
        if target.exists():
            os.replace(target, retired)
        os.replace(staging, target)
        shutil.rmtree(retired, ignore_errors=True)

    @classmethod
    def load(cls, folder: str | os.PathLike[str], device: str | torch.device = "cpu") -> RewardModel:
        """A reward model from a checkpoint folder written by :meth:`save`; nothing in it runs.

        Raises:
            DialogEnvsError: not such a checkpoint, a file of a refused kind, a config asking for
                remote code, or weights that are corrupt or do not fit (one line naming the file).
        """
        folder = Path(folder)
        recover(folder)
        state = read_reward_model_state(folder)
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix not in SAFE_SUFFIXES:
                raise DialogEnvsError(
                    f"{path}: a reward model checkpoint holds only {', '.join(sorted(SAFE_SUFFIXES))} files; "
                    "refusing to load it (pickles and code are never read)"
                )
            if path.suffix == ".json" and '"auto_map"' in path.read_text(errors="replace"):
                raise DialogEnvsError(f"{path}: asks for remote code (auto_map); refusing to load the checkpoint")
        from dialog_envs.tokenization import load_tokenizer

        try:
            with quiet_transformers():
                config = AutoConfig.from_pretrained(folder / "model")
                kind = AutoModel if state["architecture"] == "encoder" else AutoModelForCausalLM
                backbone = kind.from_config(config)
            tokenizer = load_tokenizer(folder / "tokenizer")
        except (OSError, ValueError, KeyError) as error:
            raise DialogEnvsError(f"{folder}: cannot rebuild the reward model ({str(error).splitlines()[0][:300]})") from None
        model = cls(backbone, tokenizer, state["architecture"], state["max_length"], state["s_base"])
        path = folder / "reward_model.safetensors"
        try:
            load_model(model, str(path))
        except (OSError, RuntimeError, ValueError, SafetensorError) as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise DialogEnvsError(f"{path}: cannot load the reward model's weights ({reason[:300]})") from None
        return model.to(device).eval()


def read_reward_model_state(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """``reward_model.json`` of a checkpoint, checked (format, architecture, max_length, s_base)."""
    path = Path(folder) / "reward_model.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DialogEnvsError(f"{folder} is not a reward model checkpoint: cannot read {path.name} ({error})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise DialogEnvsError(f"{path}: field 'format' is not {FORMAT!r}; expected a checkpoint of dialog-envs reward-model train")
    checks = {"architecture": lambda v: v in ("encoder", "causal_lm"), "max_length": lambda v: isinstance(v, int) and v > 0,
              "s_base": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)}
    for key, check in checks.items():
        if not check(state.get(key)):
            raise DialogEnvsError(f"{path}: field {key!r} is {state.get(key)!r}; expected a valid value")
    return state
