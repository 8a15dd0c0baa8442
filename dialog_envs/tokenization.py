"""Tokenizers for the environments: any Hugging Face tokenizer, or a small one trained locally.

Nothing here downloads anything unless the caller names a hub model. The default tokenizers are
trained with the `tokenizers` library on the environment's own corpus and cached on disk (and in
memory), so a second environment on the same data gets the same ids at no cost.

Two kinds are trained:

* ``"word"``: one id per whitespace-separated word (the NER default: a word is one action step).
* ``"bpe"``: byte-level BPE, GPT-2 style, which decodes back to exactly the text it encoded (the
  dialogue default: a reply is generated token by token and decoded for BLEU).

Every trained tokenizer has the special tokens ``[PAD] [UNK] [BOS] [EOS] [SEP] [CLS] [MASK]``,
with ``[PAD]`` = 0.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Literal

from transformers import AutoTokenizer, PreTrainedTokenizerBase, PreTrainedTokenizerFast

from dialog_envs.errors import DialogEnvsError

SPECIAL_TOKENS: dict[str, str] = {
    "pad_token": "[PAD]",
    "unk_token": "[UNK]",
    "bos_token": "[BOS]",
    "eos_token": "[EOS]",
    "sep_token": "[SEP]",
    "cls_token": "[CLS]",
    "mask_token": "[MASK]",
}

TokenizerKind = Literal["word", "bpe"]


def cache_dir() -> Path:
    """Where trained tokenizers (and other derived artefacts) are cached.

    ``$DIALOG_ENVS_CACHE`` if set, else ``$XDG_CACHE_HOME/dialog_envs``, else
    ``~/.cache/dialog_envs``.
    """
    if "DIALOG_ENVS_CACHE" in os.environ:
        return Path(os.environ["DIALOG_ENVS_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dialog_envs"


def train_tokenizer(
    texts: Iterable[str],
    *,
    kind: TokenizerKind,
    vocab_size: int = 8000,
    wrap_with_cls_sep: bool = False,
) -> PreTrainedTokenizerFast:
    """Train (or fetch from the cache) a small tokenizer on ``texts``.

    Args:
        texts: the training text, one string per sentence or utterance.
        kind: ``"word"`` (whitespace words, every word seen gets an id) or ``"bpe"`` (byte-level
            BPE with at most ``vocab_size`` ids).
        vocab_size: the BPE vocabulary size; ignored for ``"word"``.
        wrap_with_cls_sep: add ``[CLS] ... [SEP]`` around every encoded text (for encoders).

    The result is deterministic for the same arguments and is cached under :func:`cache_dir`,
    keyed by a hash of the arguments and the text.
    """
    texts = list(texts)
    digest = hashlib.sha256(
        json.dumps([kind, vocab_size, wrap_with_cls_sep, texts], ensure_ascii=False).encode()
    ).hexdigest()[:24]
    return _trained_tokenizer(digest, tuple(texts), kind, vocab_size, wrap_with_cls_sep)


@lru_cache(maxsize=16)
def _trained_tokenizer(
    digest: str, texts: tuple[str, ...], kind: TokenizerKind, vocab_size: int, wrap: bool
) -> PreTrainedTokenizerFast:
    target = cache_dir() / "tokenizers" / f"{kind}-{digest}"
    if (target / "tokenizer.json").is_file():
        return PreTrainedTokenizerFast.from_pretrained(str(target))
    tokenizer = _build_tokenizer(texts, kind, vocab_size, wrap)
    _save_atomically(tokenizer, target)
    return tokenizer


def _build_tokenizer(
    texts: tuple[str, ...], kind: TokenizerKind, vocab_size: int, wrap: bool
) -> PreTrainedTokenizerFast:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    specials = list(SPECIAL_TOKENS.values())
    if kind == "word":
        backend = Tokenizer(models.WordLevel(unk_token=SPECIAL_TOKENS["unk_token"]))
        backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        backend.decoder = decoders.WordPiece(prefix="##")  # joins words with single spaces
        trainer = trainers.WordLevelTrainer(special_tokens=specials, min_frequency=1)
    elif kind == "bpe":
        backend = Tokenizer(models.BPE())
        backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        backend.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=specials,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
    else:
        raise DialogEnvsError(f"unknown tokenizer kind {kind!r}; expected 'word' or 'bpe'")
    backend.train_from_iterator(texts, trainer)
    if wrap:
        cls, sep = SPECIAL_TOKENS["cls_token"], SPECIAL_TOKENS["sep_token"]
        backend.post_processor = processors.TemplateProcessing(
            single=f"{cls} $A {sep}",
            pair=f"{cls} $A {sep} $B {sep}",
            special_tokens=[(cls, backend.token_to_id(cls)), (sep, backend.token_to_id(sep))],
        )
    return PreTrainedTokenizerFast(tokenizer_object=backend, **SPECIAL_TOKENS)


def _save_atomically(tokenizer: PreTrainedTokenizerFast, target: Path) -> None:
    """Write to a temporary folder beside ``target`` and rename it, so readers never see half."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        tokenizer.save_pretrained(str(staging))
        os.replace(staging, target)
    except OSError:
        # Another process won the race (the target exists now) or the cache is read-only:
        # the tokenizer in memory is still valid.
        shutil.rmtree(staging, ignore_errors=True)


def load_tokenizer(name_or_path: str | os.PathLike[str] | PreTrainedTokenizerBase) -> PreTrainedTokenizerBase:
    """Load any Hugging Face tokenizer by hub name or local path (or pass one through).

    A tokenizer without a padding token gets its EOS token as padding token, as is usual for
    causal language models.
    """
    if isinstance(name_or_path, PreTrainedTokenizerBase):
        tokenizer = name_or_path
    else:
        tokenizer = _load_pretrained(str(name_or_path))
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


@lru_cache(maxsize=8)
def _load_pretrained(name_or_path: str) -> PreTrainedTokenizerBase:
    try:
        return AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as error:
        raise DialogEnvsError(
            f"could not load tokenizer {name_or_path!r}: expected a local folder with a "
            f"tokenizer (tokenizer.json or vocab files) or a Hugging Face hub name ({error})"
        ) from None
