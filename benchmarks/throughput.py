"""Throughput of the token-level agent against its peers and this machine's limits, in one run.

For each model of ``--models`` (the tiny GPT-2 built from a config, SmolLM2-135M-Instruct with
LoRA rank 8, SmolLM2-135M-Instruct with every weight trained), on DialogueBLEU-v0 with the same
prompts, batch (``--num-envs``), GRPO group size, reply budget and precision, the rows of
``--rows`` (default all):

* ``rollout``: the agent's rollout through the native vector env (KV cache, one batched forward
  per step); ``generate``: Hugging Face ``generate()`` on the same batch of contexts;
* ``reinforce``, ``grpo``, ``ppo_kl``: the agent's end-to-end training (rollout, reward, update),
  with the rollout's and the update's seconds apart;
* ``trl``: TRL's ``GRPOTrainer`` with the same model (LoRA the same), prompts, reward and batch;
  ``sb3``: SB3 PPO stepping the env token by token (tiny model only; it re-encodes the whole
  window for every token);
* ``reference``: a bare KV-cache sampling loop and one raw forward+backward+AdamW step: what the
  model costs without an env or an agent around it (references, not limits);
* ``env`` (the envs alone, steps/s) and ``reward`` (the reward's share of a training step at a
  large batch), measured once with the tiny model's env.

Limits, measured in the same run (:mod:`benchmarks.limits`): the machine's fp32 and bf16 matmul
peaks and memory bandwidth; each model's FLOPs per generated and per trained token; the
model-FLOPs utilisation (MFU) of the rollout, of the update and end to end; and the rollout's
bound (prefill at the compute peak, then each decoding step at the slower of compute and reading
the weights and KV cache once).

Tokens are generated (action) tokens. Every rate is measured ``--repeats`` times after one warm-up
and reported as median, min and max; peak memory is the process's peak RSS while a row runs (reset
with ``/proc/self/clear_refs``) and on CUDA ``torch.cuda.max_memory_allocated``. Results go to
``runs/throughput.json`` (or ``--out``) with a markdown report next to it; ``--profile`` adds a
torch.profiler table of one update (``<out>.profile.txt``). Committed figures
(``benchmarks/results/throughput.*``) change only when ``--out`` names them.

Run: ``python -m benchmarks.throughput`` (every model and row), or ``--quick`` (the tiny model at a
small size: the numbers only show that everything runs); ``--models``/``--rows`` pick parts. The
same command runs on CUDA (``--device auto`` picks it).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import gc
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import dialog_envs
from dialog_envs.agents.callbacks import Callback
from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.device import autocast, resolve_device
from dialog_envs.agents.rollout import Rollout, SamplingConfig, collect_rollout, sample_actions
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.errors import DialogEnvsError
from benchmarks import limits, peers
from benchmarks.throughput_report import markdown, targets
from benchmarks.limits import ModelShape

ENV_ID = peers.ENV_ID
DEFAULT_OUT = Path("runs/throughput.json")


@dataclass(frozen=True)
class ModelSpec:
    """One model of the benchmark: how the agent builds it, and which peers run on it."""

    label: str
    agent: dict[str, Any]
    """TokenPGConfig fields that pick the model (``model``, ``lora_rank``)."""
    env: dict[str, Any] = field(default_factory=dict)
    """Extra DialogueBLEU-v0 arguments for this model (the env takes a pretrained model's tokenizer itself)."""
    peers: tuple[str, ...] = ("trl",)


MODELS: dict[str, ModelSpec] = {
    "tiny": ModelSpec("GPT-2 built from a config", {}, {"tokenizer_vocab_size": 8000}, ("trl", "sb3")),
    "smollm2-lora": ModelSpec("SmolLM2-135M-Instruct, LoRA rank 8", {"model": "smollm2", "lora_rank": 8}),
    "smollm2-full": ModelSpec("SmolLM2-135M-Instruct, all weights trained", {"model": "smollm2"}),
}
ROWS = ("reference", "rollout", "generate", "reinforce", "grpo", "ppo_kl", "trl", "sb3", "env", "reward")
TRAININGS = {"reinforce": {}, "grpo": {"algorithm": "grpo"}, "ppo_kl": {"algorithm": "ppo"}}


@dataclass
class BenchConfig:
    """What one benchmark run measures and at which size."""

    quick: bool = False
    """A small smoke-test run (smaller tiny model, batch and budgets)."""
    models: tuple[str, ...] = tuple(MODELS)
    """Which models of :data:`MODELS` to measure."""
    rows: tuple[str, ...] = ROWS
    """Which rows of :data:`ROWS` to measure."""
    num_envs: int = 16
    """The batch: envs stepped together, completions per TRL step, contexts of ``generate()``."""
    tiny_model_config: dict[str, Any] = field(default_factory=lambda: {"n_layer": 4, "n_embd": 256, "n_head": 4})
    """GPT-2 config of the tiny model (the vocabulary is the env tokenizer's)."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """DialogueBLEU-v0 arguments of every model (its defaults otherwise: 96 context, 32 reply tokens)."""
    repeats: int = 3
    """Measurements per rate after one warm-up."""
    group_size: int = 4
    """GRPO group size (the agent's and TRL's num_generations)."""
    kl_coef: float = 0.05
    """KL coefficient of the PPO+KL run."""
    env_seconds: float = 1.5
    """How long each env-only rate is measured."""
    sb3_steps: int = 4
    """Steps per env of one SB3 PPO update (SB3's cost per token does not depend on it)."""
    reward_batch: int = 256
    """Batch of the reward-share measurement."""
    machine_repeats: int = 5
    """Repeats of each matmul and bandwidth measurement."""
    torch_threads: int | None = None
    """torch.set_num_threads for the run (None: torch's default). On a CPU shared with other
    processes, 2-thread matrix products with few rows (decoding steps) can be many times slower than
    1-thread ones: the threads wait for each other."""
    device: str = "auto"
    bf16: str = "auto"

    @classmethod
    def quick_config(cls) -> BenchConfig:
        return cls(
            quick=True,
            models=("tiny",),
            num_envs=8,
            tiny_model_config={"n_layer": 2, "n_embd": 64, "n_head": 2},
            env_kwargs={"max_new_tokens": 8},
            repeats=1,
            env_seconds=0.3,
            sb3_steps=2,
            reward_batch=32,
            machine_repeats=2,
        )

    def check(self) -> None:
        for name, chosen, known in (("--models", self.models, tuple(MODELS)), ("--rows", self.rows, ROWS)):
            unknown = [item for item in chosen if item not in known]
            if unknown:
                raise DialogEnvsError(f"{name}: unknown {', '.join(unknown)}; expected some of {', '.join(known)}")
        if self.num_envs % self.group_size:
            raise DialogEnvsError(f"--num-envs {self.num_envs} must be a multiple of the GRPO group size {self.group_size}")
        if self.repeats <= 0:
            raise DialogEnvsError(f"--repeats must be > 0, got {self.repeats}")


# -- measuring ------------------------------------------------------------------------------------


def summary(values: Sequence[float]) -> dict[str, Any]:
    """Median, min and max of repeated measurements (and the values)."""
    values = [float(v) for v in values]
    if not values:
        return {"median": None, "min": None, "max": None, "values": []}
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "values": values}


def rates(samples: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """``(units, seconds)`` samples as a rate summary (units per second)."""
    return summary([units / seconds for units, seconds in samples])


def _rss_mb(field_name: str) -> float | None:
    try:
        with open("/proc/self/status", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith(field_name + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


@contextlib.contextmanager
def peak_memory(device: torch.device, into: dict[str, Any]) -> Iterator[None]:
    """Record the peak RSS (and CUDA peak) while the block runs into ``into["memory"]``."""
    gc.collect()
    resettable = True
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as handle:
            handle.write("5")  # resets VmHWM, the peak RSS, to the current RSS
    except OSError:
        resettable = False
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = _rss_mb("VmRSS")
    try:
        yield
    finally:
        memory: dict[str, Any] = {"rss_start_mb": start}
        if resettable:
            memory["rss_peak_mb"] = _rss_mb("VmHWM")
        else:  # peak of the whole process so far
            import resource

            memory["rss_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            memory["note"] = "peak RSS of the process so far (clear_refs unavailable)"
        if device.type == "cuda":
            memory["cuda_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
        into["memory"] = memory


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# -- the parts ------------------------------------------------------------------------------------


def env_kwargs_of(config: BenchConfig, spec: ModelSpec) -> dict[str, Any]:
    """The DialogueBLEU-v0 arguments of one model: the run's, over the model's own."""
    return {**spec.env, **config.env_kwargs}


def make_agent(config: BenchConfig, spec: ModelSpec, env_extra: dict[str, Any] | None = None, **overrides: Any) -> TokenPGAgent:
    """The agent of one model: ``overrides`` are TokenPGConfig fields, ``env_extra`` env arguments."""
    settings = dict(
        num_envs=config.num_envs, progress=False, eval_every=0, seed=0, device=config.device, bf16=config.bf16,
        group_size=config.group_size, **spec.agent,
    )
    if "model" not in spec.agent:
        settings["model_config"] = dict(config.tiny_model_config)
    settings.update(overrides)
    return TokenPGAgent(ENV_ID, TokenPGConfig(**settings), {**env_kwargs_of(config, spec), **(env_extra or {})})


@torch.no_grad()
def kv_cache_loop(policy: Any, obs: dict[str, np.ndarray], steps: int, device: torch.device, bf16: bool) -> float:
    """Seconds of a bare sampling loop: prefill the contexts, then ``steps`` tokens with a KV cache
    (the policy's own forward, no env, no bookkeeping)."""
    ids = torch.as_tensor(obs["input_ids"], device=device)
    mask = torch.as_tensor(obs["attention_mask"], device=device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    sampling = SamplingConfig()
    _sync(device)
    started = time.perf_counter()
    with autocast(device, bf16):
        logits, _, cache = policy.forward_tokens(ids, mask, positions, keep=1, use_cache=True)
        position = positions[:, -1:]
        for _ in range(steps):
            token = sample_actions(logits[:, -1].float(), sampling)[:, None]
            mask = torch.cat([mask, torch.ones_like(token)], dim=1)
            position = position + 1
            logits, _, cache = policy.forward_tokens(token, mask, position, keep=1, cache=cache, use_cache=True)
    _sync(device)
    return time.perf_counter() - started


def train_step(model: Any, optimizer: torch.optim.Optimizer, batch: int, context: int, reply: int, vocab: int, device: torch.device, bf16: bool) -> float:
    """Seconds of one forward+backward+AdamW step over ``batch`` sequences of ``context + reply``
    tokens, with the loss on the reply positions (what a policy-gradient update computes)."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(vocab, (batch, context + reply), generator=generator).to(device)
    mask = torch.ones_like(ids)
    keep = torch.arange(context - 1, context + reply - 1, device=device)
    targets = ids[:, context:]
    advantages = torch.randn(batch, reply, generator=generator).to(device)
    _sync(device)
    started = time.perf_counter()
    with autocast(device, bf16):
        logits = model(input_ids=ids, attention_mask=mask, logits_to_keep=keep).logits
    log_probs = logits.float().log_softmax(-1).gather(-1, targets[..., None])[..., 0]
    loss = -(log_probs * advantages).mean()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    _sync(device)
    return time.perf_counter() - started


@torch.no_grad()
def hf_generate(model: Any, obs: dict[str, np.ndarray], max_new_tokens: int, eos_token_id: int, pad_token_id: int, device: torch.device, bf16: bool) -> tuple[list[int], float]:
    """Hugging Face ``generate()`` (sampling at temperature 1 from the full distribution, as the
    agent) on the env's left-padded contexts; each row's generated tokens up to its first EOS
    (included, as the env counts them) and the seconds."""
    ids = torch.as_tensor(obs["input_ids"], device=device)
    mask = torch.as_tensor(obs["attention_mask"], device=device)
    _sync(device)
    started = time.perf_counter()
    with autocast(device, bf16):
        output = model.generate(
            input_ids=ids, attention_mask=mask, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
            max_new_tokens=max_new_tokens, eos_token_id=eos_token_id, pad_token_id=pad_token_id,
        )
    _sync(device)
    seconds = time.perf_counter() - started
    generated = output[:, ids.shape[1]:].cpu().numpy()
    lengths = []
    for row in generated:
        ends = np.flatnonzero(row == eos_token_id)
        lengths.append(int(ends[0]) + 1 if len(ends) else len(row))
    return lengths, seconds


def env_steps_per_second(make: Callable[[], Any], batch: int, seconds: float) -> float:
    """Steps per second (sub-env steps for vector envs) with random actions."""
    envs = make()
    rng = np.random.default_rng(0)
    n = int(envs.single_action_space.n) if batch > 1 else int(envs.action_space.n)
    envs.reset(seed=0)
    steps = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        if batch > 1:
            envs.step(rng.integers(n, size=batch))
        else:
            _, _, terminated, truncated, _ = envs.step(int(rng.integers(n)))
            if terminated or truncated:
                envs.reset()
        steps += batch
    elapsed = time.perf_counter() - started
    envs.close()
    return steps / elapsed


def rollout_lengths(rollout: Rollout) -> tuple[list[int], list[int]]:
    """Each row's context tokens and generated tokens: the recorded sequence holds the context and
    every generated token but the last (sampled, never fed back), in one window per row unless the
    context window was cut (then the re-prefilled tokens count again)."""
    replies = rollout.valid.sum(dim=1).tolist()
    fed = rollout.policy_inputs["sequence_mask"].flatten(1).sum(dim=1).tolist()
    return [int(f - n + 1) for f, n in zip(fed, replies)], [int(n) for n in replies]


class StepTimer(Callback):
    """Splits the timed training updates of an agent into rollout and update seconds, keeps each
    rollout's lengths (for FLOPs), and reads the reward time its envs record (``core.reward_seconds``
    of the native vector env: decoding and scoring the replies)."""

    def __init__(self, envs: gym.vector.VectorEnv) -> None:
        self.core = envs.core
        self.restart()

    def restart(self) -> None:
        self.started = time.perf_counter()
        self.tokens = 0
        self.rollout_seconds = 0.0
        self.update_seconds = 0.0
        self.lengths: list[tuple[list[int], list[int]]] = []
        self._reward_start = self.core.reward_seconds
        self._mark = self.started

    def on_rollout(self, agent: TokenPGAgent, rollout: Rollout) -> None:
        _sync(agent.device)
        now = time.perf_counter()
        self.rollout_seconds += now - self._mark
        self._mark = now
        self.tokens += rollout.num_steps
        self.lengths.append(rollout_lengths(rollout))

    def on_update(self, agent: TokenPGAgent, stats: dict[str, float]) -> None:
        _sync(agent.device)
        now = time.perf_counter()
        self.update_seconds += now - self._mark
        self._mark = now

    @property
    def reward_seconds(self) -> float:
        return self.core.reward_seconds - self._reward_start


def update_flops(shape: ModelShape, contexts: list[int], replies: list[int], config: TokenPGConfig) -> float:
    """Model FLOPs of one update of training ``name`` on a rollout of these lengths: one training pass
    (PPO: ``ppo_epochs``), plus a forward of the KL reference when there is one."""
    passes = config.ppo_epochs if config.algorithm == "ppo" else 1
    flops = passes * limits.training_pass_flops(shape, contexts, replies)
    if config.kl_coef > 0:
        flops += limits.forward_pass_flops(shape, contexts, replies)
    return flops


def train_rates(agent: TokenPGAgent, shape: ModelShape, repeats: int, peak: float) -> dict[str, Any]:
    """End-to-end tokens/s of timed training updates after one warm-up, each one's rollout and
    update seconds, reward share and MFU (of the rollout, the update and the whole)."""
    timer = StepTimer(agent.envs)
    agent.learn(updates=agent.update + 1, callbacks=[timer])  # warm-up
    samples, shares, mfu = [], [], {"rollout": [], "update": [], "end_to_end": []}
    rollout_rates, update_rates = [], []
    for _ in range(repeats):
        timer.restart()
        agent.learn(updates=agent.update + 1, callbacks=[timer])
        elapsed = time.perf_counter() - timer.started
        samples.append((timer.tokens, elapsed))
        shares.append(timer.reward_seconds / elapsed)
        contexts, replies = timer.lengths[-1]
        rollout = limits.rollout_flops(shape, contexts, replies)["total"]
        update = update_flops(shape, contexts, replies, agent.config)
        mfu["rollout"].append(rollout / timer.rollout_seconds / peak)
        mfu["update"].append(update / timer.update_seconds / peak)
        mfu["end_to_end"].append((rollout + update) / elapsed / peak)
        rollout_rates.append((timer.tokens, timer.rollout_seconds))
        update_rates.append((timer.tokens, timer.update_seconds))
    return {
        "tokens_per_s": rates(samples),
        "rollout_tokens_per_s": rates(rollout_rates),
        "update_tokens_per_s": rates(update_rates),
        "reward_share": summary(shares),
        "mfu": {key: summary(values) for key, values in mfu.items()},
        "flops_per_token": {"rollout": rollout / timer.tokens, "update": update / timer.tokens},
    }


# -- the run --------------------------------------------------------------------------------------


def run(
    config: BenchConfig, log: Callable[[str], None] = print, save: Callable[[dict[str, Any]], None] | None = None
) -> dict[str, Any]:
    """Measure everything; returns the results dict written to JSON. ``save`` receives the results
    so far after each model (``"complete": False``), so a long run that is stopped keeps them."""
    config.check()
    if config.torch_threads is not None:
        torch.set_num_threads(config.torch_threads)
    torch.manual_seed(0)
    started_run = time.perf_counter()
    device = resolve_device(config.device)
    results: dict[str, Any] = {"config": asdict(config), "device": describe_device(device)}
    results["load_average_start"] = _load_average()
    results["versions"] = versions()
    log("machine: matmul peaks and memory bandwidth ...")
    results["machine"] = limits.machine_limits(device, config.machine_repeats)
    results["models"] = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name in config.models:
            log(f"model {name}: {MODELS[name].label} ...")
            results["models"][name] = measure_model(name, config, results["machine"], log, Path(scratch) / name)
            gc.collect()
            if save is not None:
                save({**results, "complete": False})
    if "env" in config.rows or "reward" in config.rows:
        results["env_only"] = measure_envs(config, log)
    results["targets"] = targets(results)
    results["load_average_end"] = _load_average()
    results["seconds"] = time.perf_counter() - started_run
    results["complete"] = True
    return results


def measure_model(name: str, config: BenchConfig, machine: dict[str, Any], log: Callable[[str], None], scratch: Path) -> dict[str, Any]:
    """Every chosen row of one model, with its shape, FLOPs per token and rollout bound. A pretrained
    model's initial weights are saved to ``scratch`` once, so the other agents load them from there
    instead of converting the GGUF file again."""
    spec = MODELS[name]
    rows = config.rows
    agent = make_agent(config, spec)
    device, bf16 = agent.device, agent.bf16
    peak = machine["matmul_bf16" if bf16 else "matmul_fp32"]["flops_per_s"]
    bandwidth = machine["memory"]["bytes_per_s"]
    shape = ModelShape.of(agent.policy.model)
    envs = agent.envs
    single = envs.template
    steps, context = single.max_new_tokens, single.max_context_tokens
    tokenizer = single.tokenizer
    result: dict[str, Any] = {
        "setup": {
            "label": spec.label, "agent": spec.agent, "env_kwargs": env_kwargs_of(config, spec),
            "vocab_size": len(tokenizer), "max_new_tokens": steps, "max_context_tokens": context,
            "model_parameters": sum(p.numel() for p in agent.policy.model.parameters()),
            "trainable_parameters": sum(p.numel() for p in agent.policy.parameters() if p.requires_grad),
            "num_envs": config.num_envs, "group_size": config.group_size, "bf16_autocast": bf16,
            "vector_env": type(envs).__name__, "peak_flops_per_s": peak, "bandwidth_bytes_per_s": bandwidth,
        },
        "shape": shape.to_dict(),
        "parts": {},
    }
    if "model" not in spec.agent:
        result["setup"]["model_config"] = config.tiny_model_config
    parts = result["parts"]
    pristine = copy.deepcopy(agent.policy.model)  # the weights before any update, for the peers and references
    if shape.lora:
        pristine = pristine.unload()
    reload: dict[str, Any] = {}
    reload_env: dict[str, Any] = {}
    if "model" in spec.agent:
        pristine.save_pretrained(scratch)
        reload, reload_env = {"model": str(scratch), "gguf_file": None}, {"tokenizer": tokenizer}
    obs, _ = envs.reset(seed=list(range(config.num_envs)))

    if "reference" in rows:
        log("  reference: bare KV-cache sampling loop ...")
        agent.policy.eval()
        part: dict[str, Any] = {}
        with peak_memory(device, part):
            kv_cache_loop(agent.policy, obs, steps, device, bf16)
            part["tokens_per_s"] = rates(
                [(config.num_envs * steps, kv_cache_loop(agent.policy, obs, steps, device, bf16)) for _ in range(config.repeats)]
            )
        parts["reference_kv_cache_sampling"] = part
        log("  reference: raw forward+backward+AdamW ...")
        part = {}
        probe = copy.deepcopy(agent.policy.model)
        optimizer = torch.optim.AdamW([p for p in probe.parameters() if p.requires_grad], lr=1e-4)
        with peak_memory(device, part):
            args = (probe, optimizer, config.num_envs, context, steps, len(tokenizer), device, bf16)
            train_step(*args)
            seconds = [train_step(*args) for _ in range(config.repeats)]
        # sequences of context + reply tokens with the loss on the reply: a rollout's shape with one more context token
        flops = limits.training_pass_flops(shape, [context + 1] * config.num_envs, [steps] * config.num_envs)
        part["tokens_per_s"] = rates([(config.num_envs * steps, s) for s in seconds])
        part["positions_per_s"] = rates([(config.num_envs * (context + steps), s) for s in seconds])
        part["mfu"] = summary([flops / s / peak for s in seconds])
        parts["reference_forward_backward"] = part
        del probe, optimizer

    if "rollout" in rows:
        log("  agent: rollout through the native vector env ...")
        part = {}
        sampling = SamplingConfig()
        samples, mfu, bound_share, bounds = [], [], [], []
        with peak_memory(device, part):
            for repeat in range(config.repeats + 1):
                _sync(device)
                t0 = time.perf_counter()
                rollout = collect_rollout(agent.policy, envs, list(range(repeat * config.num_envs, (repeat + 1) * config.num_envs)), sampling, device, 512, bf16)
                _sync(device)
                seconds = time.perf_counter() - t0
                if repeat:
                    contexts, replies = rollout_lengths(rollout)
                    samples.append((rollout.num_steps, seconds))
                    mfu.append(limits.rollout_flops(shape, contexts, replies)["total"] / seconds / peak)
                    bound = limits.rollout_bound_seconds(shape, contexts, replies, peak, bandwidth, 2 if bf16 else 4)
                    bounds.append(bound)
                    bound_share.append(bound["total_s"] / seconds)
        part["tokens_per_s"] = rates(samples)
        part["mfu"] = summary(mfu)
        part["share_of_bound"] = summary(bound_share)
        part["bound"] = bounds[len(bounds) // 2]
        part["flops_per_token"] = limits.rollout_flops(shape, contexts, replies)["total"] / sum(replies)
        parts["agent_rollout"] = part

    if "generate" in rows:
        log("  Hugging Face generate() on the same batch ...")
        part = {}
        model = agent.policy.model.eval()
        eos, pad = single.eos_token_id, single.pad_token_id
        with peak_memory(device, part):
            hf_generate(model, obs, steps, eos, pad, device, bf16)
            runs = [hf_generate(model, obs, steps, eos, pad, device, bf16) for _ in range(config.repeats)]
        contexts = [int(c) for c in obs["attention_mask"].sum(axis=1)]
        part["tokens_per_s"] = rates([(sum(lengths), seconds) for lengths, seconds in runs])
        part["mfu"] = summary([limits.rollout_flops(shape, contexts, lengths)["total"] / seconds / peak for lengths, seconds in runs])
        parts["hf_generate"] = part

    for training, overrides in TRAININGS.items():
        if training not in rows:
            continue
        log(f"  agent: end-to-end training, {training} ...")
        if training == "ppo_kl":
            overrides = {**overrides, "kl_coef": config.kl_coef}
        trainer = agent if training == "reinforce" else make_agent(config, spec, reload_env, **reload, **overrides)
        part = {}
        with peak_memory(device, part):
            part.update(train_rates(trainer, shape, config.repeats, peak))
        parts[f"agent_train_{training}"] = part
        if trainer is not agent:
            trainer.close()
        del trainer

    peft_config = agent.policy.model.peft_config["default"] if shape.lora else None
    agent.close()
    del agent

    def make_model() -> Any:
        torch.manual_seed(0)
        return copy.deepcopy(pristine)

    if "sb3" in rows and "sb3" in spec.peers:
        log("  peer: SB3 PPO, token by token ...")
        part = {}
        with peak_memory(device, part):
            part["tokens_per_s"] = rates(peers.sb3_ppo_per_token(make_model, env_kwargs_of(config, spec), config.num_envs, config.sb3_steps, max(1, min(config.repeats, 2)), bf16, device))
        parts["peer_sb3_ppo_per_token"] = part
    if "trl" in rows and "trl" in spec.peers:
        if peers.trl_available():
            log("  peer: TRL GRPOTrainer ...")
            part = {}
            env = gym.make(ENV_ID, **{**env_kwargs_of(config, spec), "tokenizer": tokenizer}).unwrapped
            with peak_memory(device, part):
                samples = peers.trl_grpo(make_model, tokenizer, env, config.num_envs, config.group_size, steps, config.repeats, bf16, device, peft_config=peft_config)
            part["tokens_per_s"] = rates(samples)
            parts["peer_trl_grpo"] = part
        else:
            log("  peer: TRL is not installed (pip install 'dialog-envs[compare]'); skipped")
            parts["peer_trl_grpo"] = {"skipped": "TRL is not installed: pip install 'dialog-envs[compare]'"}
    return result


def measure_envs(config: BenchConfig, log: Callable[[str], None]) -> dict[str, Any]:
    """The envs alone (steps/s) and the reward's share of a REINFORCE step at a large batch, with
    the tiny model's env."""
    spec = MODELS["tiny"]
    kwargs = env_kwargs_of(config, spec)
    parts: dict[str, Any] = {}
    if "env" in config.rows:
        log("env only: single, native vector, SyncVectorEnv ...")
        for name, make, batch in (
            ("env_single", lambda: gym.make(ENV_ID, **kwargs), 1),
            ("env_native_vector", lambda: gym.make_vec(ENV_ID, num_envs=config.num_envs, vectorization_mode="vector_entry_point", **kwargs), config.num_envs),
            ("env_sync_vector", lambda: gym.make_vec(ENV_ID, num_envs=config.num_envs, vectorization_mode="sync", **kwargs), config.num_envs),
        ):
            parts[name] = {"steps_per_s": summary([env_steps_per_second(make, batch, config.env_seconds) for _ in range(config.repeats)])}
    if "reward" in config.rows:
        log(f"reward share of a REINFORCE step at batch {config.reward_batch} ...")
        big = make_agent(config, spec, num_envs=config.reward_batch)
        timer = StepTimer(big.envs)
        big.learn(updates=1, callbacks=[timer])
        timer.restart()
        big.learn(updates=2, callbacks=[timer])
        elapsed = time.perf_counter() - timer.started
        parts["reward_share_large_batch"] = {
            "batch": config.reward_batch, "tokens_per_s": rates([(timer.tokens, elapsed)]),
            "reward_share": summary([timer.reward_seconds / elapsed]),
        }
        big.close()
    return parts


def _load_average() -> list[float] | None:
    """The machine's 1/5/15-minute load averages (other processes slow every rate down alike)."""
    try:
        import os

        return [round(value, 2) for value in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def describe_device(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {"type": device.type, "torch_threads": torch.get_num_threads()}
    if device.type == "cuda":
        info["name"] = torch.cuda.get_device_name(device)
    else:
        info["cpu"] = platform.processor() or _cpu_model()
        import os

        info["cpu_count"] = os.cpu_count()
    return info


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def versions() -> dict[str, str]:
    import importlib.metadata as metadata

    found = {"python": sys.version.split()[0], "dialog_envs": dialog_envs.__version__}
    for name in ("torch", "transformers", "gymnasium", "stable-baselines3", "sacrebleu", "trl", "peft", "numpy"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


# -- profiling ------------------------------------------------------------------------------------


def profile_update(config: BenchConfig, name: str, rows: int = 25) -> dict[str, Any]:
    """torch.profiler over one GRPO update of model ``name`` (after one warm-up update): the top
    ops by self CPU time (and by self device time on a GPU), and the update's rollout/update split."""
    from torch.profiler import ProfilerActivity, profile

    agent = make_agent(config, MODELS[name], algorithm="grpo")
    timer = StepTimer(agent.envs)
    agent.learn(updates=1, callbacks=[timer])
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if agent.device.type == "cuda" else [])
    timer.restart()
    with profile(activities=activities) as profiler:
        agent.learn(updates=2, callbacks=[timer])
    elapsed = time.perf_counter() - timer.started
    averages = profiler.key_averages()
    tables = {"self_cpu_time_total": averages.table(sort_by="self_cpu_time_total", row_limit=rows)}
    if agent.device.type == "cuda":
        tables["self_device_time_total"] = averages.table(sort_by="self_device_time_total", row_limit=rows)
    agent.close()
    return {
        "model": name, "algorithm": "grpo", "tokens": timer.tokens, "seconds": elapsed,
        "rollout_seconds": timer.rollout_seconds, "update_seconds": timer.update_seconds,
        "reward_seconds": timer.reward_seconds, "tables": tables,
    }


def profile_text(profiled: dict[str, Any]) -> str:
    lines = [
        f"torch.profiler: one GRPO update of {profiled['model']} ({profiled['tokens']} generated tokens, "
        f"{profiled['seconds']:.2f} s under the profiler: rollout {profiled['rollout_seconds']:.2f} s, "
        f"update {profiled['update_seconds']:.2f} s, reward {profiled['reward_seconds']:.3f} s)",
        "",
    ]
    for key, table in profiled["tables"].items():
        lines += [f"Top ops by {key}:", table, ""]
    return "\n".join(lines)


# -- command line ---------------------------------------------------------------------------------


def _names(text: str) -> tuple[str, ...]:
    return tuple(item for item in text.split(",") if item and item != "none")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m benchmarks.throughput``."""
    parser.add_argument("--quick", action="store_true", help="a small smoke run of the tiny model (about a minute on CPU)")
    parser.add_argument("--models", help=f"comma-separated models: {', '.join(MODELS)} (default: all; tiny with --quick)")
    parser.add_argument("--rows", help=f"comma-separated rows: {', '.join(ROWS)} (default: all), or none")
    parser.add_argument("--num-envs", type=int, help="batch size (default 16; 8 with --quick)")
    parser.add_argument("--group-size", type=int, help="GRPO group size of the agent and TRL (default 4)")
    parser.add_argument("--repeats", type=int, help="measurements per rate after a warm-up (default 3; 1 with --quick)")
    parser.add_argument("--max-new-tokens", type=int, help="reply budget of the env (default: the env's 32; 8 with --quick)")
    parser.add_argument("--max-context-tokens", type=int, help="context window of the env (default: the env's 96)")
    parser.add_argument("--reward-batch", type=int, help="batch of the reward-share measurement (default 256; 32 with --quick)")
    parser.add_argument("--torch-threads", type=int, help="torch.set_num_threads for the run (default: torch's)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    parser.add_argument("--bf16", default="auto", choices=("auto", "on", "off"))
    parser.add_argument("--profile", action="store_true", help="also profile one GRPO update (the first SmolLM2 model chosen, else the first model) into <out>.profile.txt")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"where the JSON goes, the .md next to it (default {DEFAULT_OUT})")


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    config = BenchConfig.quick_config() if args.quick else BenchConfig()
    if args.models is not None:
        config.models = _names(args.models)
    if args.rows is not None:
        config.rows = _names(args.rows)
    for name in ("num_envs", "group_size", "repeats", "reward_batch", "torch_threads"):
        if getattr(args, name) is not None:
            setattr(config, name, getattr(args, name))
    for option in ("max_new_tokens", "max_context_tokens"):
        if getattr(args, option) is not None:
            config.env_kwargs[option] = getattr(args, option)
    config.device, config.bf16 = args.device, args.bf16
    config.check()
    return config


def profiled_model(config: BenchConfig) -> str:
    """The model ``--profile`` profiles: the first SmolLM2 model chosen, else the first model."""
    return next((name for name in config.models if name.startswith("smollm2")), config.models[0] if config.models else "tiny")


def run_from_args(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    log = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save = lambda partial: args.out.write_text(json.dumps(partial, indent=2) + "\n", encoding="utf-8")  # noqa: E731
    results = run(config, log=log, save=save)
    written = [args.out, args.out.with_suffix(".md")]
    if args.profile:
        name = profiled_model(config)
        log(f"profile: one GRPO update of {name} ...")
        profiled = profile_update(config, name)
        results["profile"] = {key: value for key, value in profiled.items() if key != "tables"}
        written.append(args.out.with_suffix(".profile.txt"))
        written[-1].write_text(profile_text(profiled), encoding="utf-8")
    save(results)
    table = markdown(results)
    args.out.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)
    print(f"wrote {', '.join(map(str, written))} in {results['seconds']:.0f} s", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput", description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        return run_from_args(parser.parse_args(argv))
    except DialogEnvsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
