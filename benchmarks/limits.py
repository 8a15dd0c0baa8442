"""What a machine can do at most, and what a model's tokens cost: the limits the throughput benchmark
reports its rates against.

* :func:`matmul_peak`: the machine's measured matrix-multiply rate (FLOP/s) in one dtype, the median
  of repeated ``torch.matmul`` of large square matrices;
* :func:`memory_bandwidth`: its measured memory bandwidth (bytes/s) reading a large tensor
  (``sum``) and copying one (``copy_``, read + write);
* :class:`ModelShape`: the sizes of a causal LM that set its FLOPs and bytes per token, read from
  the built model (matrix parameters, layers, widths, vocabulary, LoRA adapters);
* :func:`rollout_flops`, :func:`training_flops`: model FLOPs of a rollout and of one training pass,
  from the shape and the token counts of the measured rollout;
* :func:`rollout_bound_seconds`: the least time a rollout can take on this machine: the prefill at
  the compute peak, then each decoding step at the slower of its compute time and the time to read
  the weights and the KV cache once at the measured bandwidth.

Formulas (per token, ``N`` = matrix parameters of the transformer blocks, ``d`` the hidden width,
``V`` the vocabulary, ``L`` layers, ``c`` the tokens the token attends to, ``A`` the LoRA adapter
parameters):

* forward: ``2N + 4·L·d·c`` (every weight multiplies and adds once; attention scores and the
  weighted sum of values), plus ``2·d·V`` where the output layer runs (every generated token in a
  rollout; only the action positions in training);
* training, all weights: 3x the forward (the backward computes gradients of activations and of
  weights, each as costly as the forward): ``6N + 12·L·d·c`` and ``6·d·V`` at the action positions;
* training with LoRA: the frozen weights need only the gradients of the activations, so ``4N +
  8·L·d·c``, ``4·d·V`` at the action positions, plus ``6A`` for the adapters;
* a KL reference or an old-policy pass is a forward: ``2N + 4·L·d·c``.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import torch


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_seconds(work: Any, device: torch.device, repeats: int) -> float:
    work()  # warm-up
    seconds = []
    for _ in range(repeats):
        _sync(device)
        started = time.perf_counter()
        work()
        _sync(device)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def matmul_peak(device: torch.device, dtype: torch.dtype, repeats: int = 5, max_size: int | None = None) -> dict[str, Any]:
    """FLOP/s of ``torch.matmul`` on square matrices, median of ``repeats``: the size doubles from
    512 while one product takes under 50 ms (up to ``max_size``, default 4096 on CPU, 8192 on CUDA);
    the best size's median is the peak."""
    max_size = max_size or (8192 if device.type == "cuda" else 4096)
    found: dict[str, Any] = {"dtype": str(dtype).removeprefix("torch."), "flops_per_s": 0.0, "sizes": {}}
    size = 512
    while size <= max_size:
        a = torch.randn(size, size, device=device).to(dtype)
        b = torch.randn(size, size, device=device).to(dtype)
        seconds = _median_seconds(lambda: torch.matmul(a, b), device, repeats)
        rate = 2 * size**3 / seconds
        found["sizes"][str(size)] = rate
        if rate > found["flops_per_s"]:
            found["flops_per_s"], found["size"] = rate, size
        if seconds > 0.05:
            break
        size *= 2
    return found


def memory_bandwidth(device: torch.device, megabytes: int | None = None, repeats: int = 5) -> dict[str, Any]:
    """Bytes/s reading a large fp32 tensor (``sum``) and copying one (``copy_``: read + write),
    medians of ``repeats``; ``bytes_per_s`` is the higher of the two (the bound must not be beaten)."""
    megabytes = megabytes or (1024 if device.type == "cuda" else 256)
    source = torch.ones(megabytes * 2**20 // 4, device=device)
    target = torch.empty_like(source)
    size = source.numel() * 4
    read = size / _median_seconds(lambda: source.sum(), device, repeats)
    copy = 2 * size / _median_seconds(lambda: target.copy_(source), device, repeats)
    return {"megabytes": megabytes, "read_bytes_per_s": read, "copy_bytes_per_s": copy, "bytes_per_s": max(read, copy)}


def machine_limits(device: torch.device, repeats: int = 5) -> dict[str, Any]:
    """The measured fp32 and bf16 matmul peaks and memory bandwidth of ``device``."""
    return {
        "matmul_fp32": matmul_peak(device, torch.float32, repeats),
        "matmul_bf16": matmul_peak(device, torch.bfloat16, repeats),
        "memory": memory_bandwidth(device, repeats=repeats),
    }


@dataclass
class ModelShape:
    """The sizes of a causal LM that set its FLOPs and bytes per token."""

    matrix_parameters: int
    """N: parameters of the weight matrices of the transformer blocks (no embeddings, no output layer)."""
    adapter_parameters: int
    """A: trainable LoRA parameters (0 without LoRA)."""
    layers: int
    hidden: int
    """d: the hidden width (= heads x head width of the queries)."""
    kv_width: int
    """Width of the keys (and of the values) per layer: key-value heads x head width."""
    vocab: int
    """V: rows of the output layer."""
    weight_bytes: int
    """Bytes of the weights one decoding step reads: the blocks' matrices and the output layer, as stored."""
    lora: bool

    @classmethod
    def of(cls, model: torch.nn.Module) -> ModelShape:
        """Read the shape of a Hugging Face causal LM (optionally wrapped by peft)."""
        base = model.get_base_model() if hasattr(model, "get_base_model") else model
        config = base.config.get_text_config()
        embeddings = {id(base.get_input_embeddings().weight)}
        head = base.get_output_embeddings().weight
        for name, parameter in base.named_parameters():
            if "wpe" in name or "position_embeddings" in name:
                embeddings.add(id(parameter))
        matrices = [
            (name, p) for name, p in base.named_parameters()
            if p.dim() == 2 and id(p) not in embeddings and p is not head and "lora_" not in name
        ]
        adapters = sum(p.numel() for name, p in model.named_parameters() if "lora_" in name)
        hidden = int(config.hidden_size)
        heads = int(config.num_attention_heads)
        head_width = int(getattr(config, "head_dim", None) or hidden // heads)
        kv_heads = int(getattr(config, "num_key_value_heads", None) or heads)
        return cls(
            matrix_parameters=sum(p.numel() for _, p in matrices),
            adapter_parameters=adapters,
            layers=int(config.num_hidden_layers),
            hidden=heads * head_width,
            kv_width=kv_heads * head_width,
            vocab=int(head.shape[0]),
            weight_bytes=sum(p.numel() * p.element_size() for _, p in matrices) + head.numel() * head.element_size(),
            lora=adapters > 0,
        )

    def forward_flops(self, tokens: float, attended: float, logits: float) -> float:
        """FLOPs of a forward over ``tokens`` tokens that attend to ``attended`` positions in all
        (summed over the tokens), with the output layer at ``logits`` positions."""
        return 2 * self.matrix_parameters * tokens + 4 * self.layers * self.hidden * attended + 2 * self.hidden * self.vocab * logits

    def training_flops(self, tokens: float, attended: float, logits: float) -> float:
        """FLOPs of a forward and backward over the same (see the module's formulas)."""
        forward = self.forward_flops(tokens, attended, logits)
        if not self.lora:
            return 3 * forward
        return 2 * forward + 6 * self.adapter_parameters * tokens

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _causal_attended(start: int, count: int) -> int:
    """Positions attended to by tokens ``start .. start + count - 1`` of a causal sequence (token
    ``i`` attends to ``i + 1`` positions, itself included)."""
    return sum(range(start + 1, start + count + 1))


def rollout_flops(shape: ModelShape, contexts: list[int], replies: list[int]) -> dict[str, float]:
    """Model FLOPs of a KV-cached rollout: each row's context in one prefill (output layer at its last
    position), then one forward per generated token but the last (which is sampled, never fed)."""
    prefill = sum(shape.forward_flops(c, _causal_attended(0, c), 1) for c in contexts)
    decode = sum(shape.forward_flops(n - 1, _causal_attended(c, n - 1), n - 1) for c, n in zip(contexts, replies) if n > 1)
    return {"prefill": float(prefill), "decode": float(decode), "total": float(prefill + decode)}


def training_pass_flops(shape: ModelShape, contexts: list[int], replies: list[int]) -> float:
    """FLOPs of one forward and backward over every row's context and reply (the packed training
    forward: the output layer at the reply's action positions only)."""
    total = 0.0
    for c, n in zip(contexts, replies):
        length = c + n - 1
        total += shape.training_flops(length, _causal_attended(0, length), n)
    return total


def forward_pass_flops(shape: ModelShape, contexts: list[int], replies: list[int]) -> float:
    """FLOPs of one forward (no gradients) over the same sequences: a KL reference's pass."""
    return float(sum(shape.forward_flops(c + n - 1, _causal_attended(0, c + n - 1), n) for c, n in zip(contexts, replies)))


def rollout_bound_seconds(
    shape: ModelShape, contexts: list[int], replies: list[int], flops_per_s: float, bytes_per_s: float, cache_bytes: int
) -> dict[str, float]:
    """The least time this rollout can take: the prefill at the compute peak, then every decoding
    step at the slower of its FLOPs at the peak and its bytes (every weight read once, and every
    active row's KV cache, ``cache_bytes`` per element) at the bandwidth. Rows that finished are not
    counted (they need no work)."""
    prefill = rollout_flops(shape, contexts, [1] * len(contexts))["prefill"] / flops_per_s
    compute = memory = decode = 0.0
    for step in range(1, max(replies, default=0)):
        rows = [c for c, n in zip(contexts, replies) if n > step]
        if not rows:
            break
        flops = sum(shape.forward_flops(1, c + step, 1) for c in rows)
        read = shape.weight_bytes + sum(2 * shape.layers * shape.kv_width * (c + step) * cache_bytes for c in rows)
        compute += flops / flops_per_s
        memory += read / bytes_per_s
        decode += max(flops / flops_per_s, read / bytes_per_s)
    return {"prefill_s": prefill, "decode_compute_s": compute, "decode_memory_s": memory, "total_s": prefill + decode}
