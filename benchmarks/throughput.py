"""Throughput of the token-level agent against its ceilings and its peers, side by side in one run.

Same model (GPT-2 built from a config around the env's tokenizer), same task (DialogueBLEU-v0),
same batch (``--num-envs``, default 64) and same device for every row:

* ceilings: a bare KV-cache sampling loop (prefill, then one token per step, no env), and one raw
  forward+backward+AdamW step over the full sequences (context + reply);
* env only: steps/s of one single env, of the native vector env and of ``SyncVectorEnv``;
* the agent: rollout tokens/s through the native vector env, and end-to-end training tokens/s
  (rollout + reward + update) for REINFORCE, PPO with a KL penalty, and GRPO;
* the reward's share of a training step at batch 64 and 256 (timed inside the env);
* peers: SB3 PPO stepping the env token by token with the same GPT-2 as features extractor, and
  TRL's ``GRPOTrainer`` (when installed) with the same model, reward function and batch;
* the peak memory of each (the process's peak RSS, reset before each part with
  ``/proc/self/clear_refs``; on CUDA also ``torch.cuda.max_memory_allocated``).

Tokens are generated (action) tokens. Every rate is measured ``--repeats`` times after one
warm-up and reported as median, min and max. Results go to ``benchmarks/results/throughput.json``
and a markdown table to ``benchmarks/results/throughput.md``.

Run: ``python -m benchmarks.throughput`` (full, 10-20 minutes on 2 CPU cores) or ``--quick``
(a smaller model and batch, under 2 minutes; the numbers only show that everything runs).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

import dialog_envs
from dialog_envs.agents.config import TokenPGConfig
from dialog_envs.agents.device import autocast
from dialog_envs.agents.rollout import SamplingConfig, collect_rollout, sample_actions
from dialog_envs.agents import token_pg
from dialog_envs.agents.token_pg import TokenPGAgent
from benchmarks import peers

ENV_ID = peers.ENV_ID
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass
class BenchConfig:
    """What one benchmark run measures and at which size."""

    quick: bool = False
    """A small smoke-test run (smaller model, batch and budgets)."""
    num_envs: int = 64
    """The batch: envs stepped together, completions per TRL step, envs of SB3's DummyVecEnv."""
    model_config: dict[str, Any] = field(default_factory=lambda: {"n_layer": 4, "n_embd": 256, "n_head": 4})
    """GPT-2 config overrides (the vocabulary is the env tokenizer's)."""
    env_kwargs: dict[str, Any] = field(default_factory=lambda: {"tokenizer_vocab_size": 8000})
    """DialogueBLEU-v0 arguments (its defaults otherwise)."""
    repeats: int = 3
    """Measurements per rate after one warm-up."""
    updates_per_repeat: int = 1
    """Agent updates timed together in one measurement."""
    group_size: int = 4
    """GRPO group size (the agent's and TRL's num_generations)."""
    kl_coef: float = 0.05
    """KL coefficient of the PPO+KL run."""
    env_seconds: float = 1.5
    """How long each env-only rate is measured."""
    sb3_steps: int = 4
    """Steps per env of one SB3 PPO update (SB3's cost per token does not depend on it)."""
    reward_batch: int = 256
    """Batch of the reward-share measurement (0 skips it)."""
    peers: tuple[str, ...] = ("sb3", "trl")
    """Which peers to run."""
    device: str = "auto"
    bf16: str = "auto"

    @classmethod
    def quick_config(cls) -> BenchConfig:
        return cls(
            quick=True,
            num_envs=16,
            model_config={"n_layer": 2, "n_embd": 64, "n_head": 2},
            env_kwargs={"max_new_tokens": 8},
            repeats=1,
            env_seconds=0.3,
            sb3_steps=2,
            reward_batch=64,
        )


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


# -- the parts ------------------------------------------------------------------------------------


def make_agent(config: BenchConfig, **overrides: Any) -> TokenPGAgent:
    settings = dict(
        model_config=dict(config.model_config), num_envs=config.num_envs, progress=False, eval_every=0,
        seed=0, device=config.device, bf16=config.bf16,
    )
    settings.update(overrides)
    return TokenPGAgent(ENV_ID, TokenPGConfig(**settings), dict(config.env_kwargs))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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


class RewardTimer:
    """Times the reward computation inside a native vector env (decoding and scoring the replies)."""

    def __init__(self, envs: gym.vector.VectorEnv) -> None:
        self.seconds = 0.0
        core = envs.core
        for name in ("decode_replies",):
            setattr(core, name, self._timed(getattr(core, name)))
        core.reward = _TimedScorer(core.reward, self)

    def _timed(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


class _TimedScorer:
    def __init__(self, scorer: Any, timer: RewardTimer) -> None:
        self._scorer = scorer
        self.batch_scores = timer._timed(scorer.batch_scores)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._scorer, name)


class TokenCounter:
    """Counts the rollout steps of an agent's training loop (wraps ``collect_rollout``)."""

    def __init__(self) -> None:
        self.tokens = 0

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        original = token_pg.collect_rollout

        def counting(*args: Any, **kwargs: Any) -> Any:
            rollout = original(*args, **kwargs)
            self.tokens += rollout.num_steps
            return rollout

        token_pg.collect_rollout = counting
        try:
            yield
        finally:
            token_pg.collect_rollout = original


def train_rates(agent: TokenPGAgent, config: BenchConfig) -> tuple[list[tuple[int, float]], list[float]]:
    """``(tokens, seconds)`` of timed training updates after one warm-up, and the reward share of each."""
    counter = TokenCounter()
    timer = RewardTimer(agent.envs)
    samples, shares = [], []
    with counter.installed():
        agent.learn(agent.update + 1)  # warm-up
        for _ in range(config.repeats):
            counter.tokens, timer.seconds = 0, 0.0
            started = time.perf_counter()
            agent.learn(agent.update + config.updates_per_repeat)
            elapsed = time.perf_counter() - started
            samples.append((counter.tokens, elapsed))
            shares.append(timer.seconds / elapsed)
    return samples, shares


# -- the run --------------------------------------------------------------------------------------


def run(config: BenchConfig, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Measure everything; returns the results dict written to JSON."""
    torch.manual_seed(0)
    results: dict[str, Any] = {"config": asdict(config), "parts": {}}
    parts = results["parts"]
    started_run = time.perf_counter()

    log("building the agent (REINFORCE) and its envs ...")
    agent = make_agent(config)
    device, bf16 = agent.device, agent.bf16
    model = agent.policy.model
    envs = agent.envs
    single = envs.template
    vocab = len(single.tokenizer)
    steps = single.max_new_tokens
    context = single.max_context_tokens
    results["setup"] = {
        "env_id": ENV_ID, "env_kwargs": config.env_kwargs, "vocab_size": vocab, "max_new_tokens": steps,
        "max_context_tokens": context, "model_parameters": sum(p.numel() for p in model.parameters()),
        "model_config": config.model_config, "num_envs": config.num_envs, "bf16_autocast": bf16,
        "vector_env": type(envs).__name__,
    }
    results["device"] = describe_device(device)
    results["load_average_start"] = _load_average()
    results["versions"] = versions()

    # ceilings
    log("ceiling: bare KV-cache sampling loop ...")
    obs, _ = envs.reset(seed=list(range(config.num_envs)))
    agent.policy.eval()  # as in the agent's rollouts: no dropout
    part: dict[str, Any] = {}
    with peak_memory(device, part):
        kv_cache_loop(agent.policy, obs, steps, device, bf16)
        part["tokens_per_s"] = rates(
            [(config.num_envs * steps, kv_cache_loop(agent.policy, obs, steps, device, bf16)) for _ in range(config.repeats)]
        )
    parts["ceiling_kv_cache_sampling"] = part

    log("ceiling: raw forward+backward ...")
    part = {}
    probe = make_agent(config)  # a copy to train, so the agent's weights stay as they are
    probe.policy.train()  # as in the agent's updates
    optimizer = torch.optim.AdamW(probe.policy.model.parameters(), lr=1e-4)
    with peak_memory(device, part):
        args = (probe.policy.model, optimizer, config.num_envs, context, steps, vocab, device, bf16)
        train_step(*args)
        seconds = [train_step(*args) for _ in range(config.repeats)]
        part["tokens_per_s"] = rates([(config.num_envs * steps, s) for s in seconds])
        part["positions_per_s"] = rates([(config.num_envs * (context + steps), s) for s in seconds])
    parts["ceiling_forward_backward"] = part
    probe.close()
    del probe, optimizer

    # env only
    log("env only: single, native vector, SyncVectorEnv ...")
    kwargs = dict(config.env_kwargs)
    parts["env_single"] = {"steps_per_s": summary([env_steps_per_second(lambda: gym.make(ENV_ID, **kwargs), 1, config.env_seconds) for _ in range(config.repeats)])}
    parts["env_native_vector"] = {"steps_per_s": summary([env_steps_per_second(lambda: gym.make_vec(ENV_ID, num_envs=config.num_envs, vectorization_mode="vector_entry_point", **kwargs), config.num_envs, config.env_seconds) for _ in range(config.repeats)])}
    parts["env_sync_vector"] = {"steps_per_s": summary([env_steps_per_second(lambda: gym.make_vec(ENV_ID, num_envs=config.num_envs, vectorization_mode="sync", **kwargs), config.num_envs, config.env_seconds) for _ in range(config.repeats)])}

    # the agent's rollout
    log("agent: rollout through the native vector env ...")
    part = {}
    sampling = SamplingConfig()
    agent.policy.eval()
    with peak_memory(device, part):
        samples = []
        for repeat in range(config.repeats + 1):
            t0 = time.perf_counter()
            rollout = collect_rollout(agent.policy, envs, list(range(repeat * config.num_envs, (repeat + 1) * config.num_envs)), sampling, device, 512, bf16)
            _sync(device)
            if repeat:
                samples.append((rollout.num_steps, time.perf_counter() - t0))
        part["tokens_per_s"] = rates(samples)
    parts["agent_rollout"] = part

    # end to end
    for name, overrides in (
        ("agent_train_reinforce", {}),
        ("agent_train_ppo_kl", {"algorithm": "ppo", "kl_coef": config.kl_coef}),
        ("agent_train_grpo", {"algorithm": "grpo", "group_size": config.group_size}),
    ):
        log(f"agent: end-to-end training, {name[12:]} ...")
        trainer = agent if name == "agent_train_reinforce" else make_agent(config, **overrides)
        part = {}
        with peak_memory(device, part):
            samples, shares = train_rates(trainer, config)
        part["tokens_per_s"] = rates(samples)
        part["reward_share"] = summary(shares)
        parts[name] = part
        if trainer is not agent:
            trainer.close()
        del trainer
    agent.close()
    del agent, model, envs

    if config.reward_batch:
        log(f"reward share of a REINFORCE step at batch {config.reward_batch} ...")
        big = make_agent(config, num_envs=config.reward_batch)
        part = {}
        with peak_memory(device, part):
            samples, shares = train_rates(big, BenchConfig(repeats=1))
        part["batch"] = config.reward_batch
        part["tokens_per_s"] = rates(samples)
        part["reward_share"] = summary(shares)
        parts["reward_share_large_batch"] = part
        big.close()
        del big

    # peers
    make_model = model_factory(config)
    if "sb3" in config.peers:
        log("peer: SB3 PPO, token by token ...")
        part = {}
        with peak_memory(device, part):
            part["tokens_per_s"] = rates(peers.sb3_ppo_per_token(make_model, kwargs, config.num_envs, config.sb3_steps, max(1, min(config.repeats, 2)), bf16, device))
        parts["peer_sb3_ppo_per_token"] = part
    if "trl" in config.peers:
        if peers.trl_available():
            log("peer: TRL GRPOTrainer ...")
            part = {}
            env = gym.make(ENV_ID, **kwargs).unwrapped
            with peak_memory(device, part):
                samples = peers.trl_grpo(make_model, env.tokenizer, env, config.num_envs, config.group_size, steps, config.repeats, bf16, device)
                part["tokens_per_s"] = rates(samples)
            parts["peer_trl_grpo"] = part
        else:
            log("peer: TRL is not installed (pip install 'dialog-envs[compare]'); skipped")
            parts["peer_trl_grpo"] = {"skipped": "TRL is not installed: pip install 'dialog-envs[compare]'"}

    results["targets"] = targets(parts)
    results["load_average_end"] = _load_average()
    results["seconds"] = time.perf_counter() - started_run
    return results


def model_factory(config: BenchConfig) -> Callable[[], Any]:
    """Builds a fresh copy of the benchmark's GPT-2 (same config, same initial weights)."""
    from dialog_envs.agents.policies import build_causal_lm

    tokenizer = gym.make(ENV_ID, **config.env_kwargs).unwrapped.tokenizer
    window = gym.make(ENV_ID, **config.env_kwargs).unwrapped.observation_space["input_ids"].shape[0]

    def make() -> Any:
        torch.manual_seed(0)
        return build_causal_lm(tokenizer, None, None, dict(config.model_config), 2 * window)

    return make


def _median(parts: dict[str, Any], name: str, key: str = "tokens_per_s") -> float | None:
    part = parts.get(name, {})
    value = part.get(key, {})
    return value.get("median") if isinstance(value, dict) else None


def targets(parts: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets as measured ratios, each with its goal and whether it was met."""
    found = []

    def ratio(name: str, numerator: float | None, denominator: float | None, goal: float, at_most: bool = False) -> None:
        value = None if numerator is None or not denominator else numerator / denominator
        met = None if value is None else (value <= goal if at_most else value >= goal)
        found.append({"target": name, "value": value, "goal": ("<= " if at_most else ">= ") + f"{goal:g}", "met": met})

    grpo, ppo, reinforce = (_median(parts, f"agent_train_{a}") for a in ("grpo", "ppo_kl", "reinforce"))
    ratio("agent GRPO end-to-end / TRL GRPOTrainer", grpo, _median(parts, "peer_trl_grpo"), 2.5)
    ratio("agent PPO+KL end-to-end / SB3 PPO per-token loop", ppo, _median(parts, "peer_sb3_ppo_per_token"), 25)
    ratio("agent rollout / bare KV-cache loop", _median(parts, "agent_rollout"), _median(parts, "ceiling_kv_cache_sampling"), 0.9)
    sample, train = _median(parts, "ceiling_kv_cache_sampling"), _median(parts, "ceiling_forward_backward")
    composite = 1 / (1 / sample + 1 / train) if sample and train else None
    ratio("agent REINFORCE end-to-end / composite ceiling 1/(1/sample+1/train)", reinforce, composite, 0.8)
    share = parts.get("reward_share_large_batch", {}).get("reward_share", {}).get("median")
    found.append({"target": "reward share of a training step at the large batch", "value": share, "goal": "<= 0.05", "met": None if share is None else share <= 0.05})
    return found


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
    for name in ("torch", "transformers", "gymnasium", "stable-baselines3", "sacrebleu", "trl", "numpy"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


# -- the report -----------------------------------------------------------------------------------

ROWS = (
    ("ceiling_kv_cache_sampling", "ceiling: bare KV-cache sampling loop", "tokens_per_s", "tok/s"),
    ("ceiling_forward_backward", "ceiling: raw forward+backward+AdamW", "tokens_per_s", "tok/s"),
    ("env_single", "env only: one single env", "steps_per_s", "steps/s"),
    ("env_native_vector", "env only: native vector env", "steps_per_s", "steps/s"),
    ("env_sync_vector", "env only: SyncVectorEnv", "steps_per_s", "steps/s"),
    ("agent_rollout", "agent: rollout (native vector env)", "tokens_per_s", "tok/s"),
    ("agent_train_reinforce", "agent: train end-to-end, REINFORCE", "tokens_per_s", "tok/s"),
    ("agent_train_ppo_kl", "agent: train end-to-end, PPO+KL", "tokens_per_s", "tok/s"),
    ("agent_train_grpo", "agent: train end-to-end, GRPO", "tokens_per_s", "tok/s"),
    ("reward_share_large_batch", "agent: REINFORCE at the large batch", "tokens_per_s", "tok/s"),
    ("peer_sb3_ppo_per_token", "peer: SB3 PPO token by token", "tokens_per_s", "tok/s"),
    ("peer_trl_grpo", "peer: TRL GRPOTrainer", "tokens_per_s", "tok/s"),
)


def markdown(results: dict[str, Any]) -> str:
    """The results as a markdown table of figures, ratios and memory, then the targets."""
    parts = results["parts"]
    setup, device = results["setup"], results["device"]
    reference = _median(parts, "agent_train_grpo")
    lines = [
        f"Device: {device.get('name') or device.get('cpu')} ({device['type']}, {device['torch_threads']} torch threads); "
        f"model: GPT-2 {setup['model_config']} with vocab {setup['vocab_size']} ({setup['model_parameters']:,} parameters); "
        f"batch {setup['num_envs']}; {setup['max_context_tokens']} context + {setup['max_new_tokens']} reply tokens; "
        f"bf16 autocast: {setup['bf16_autocast']}.",
        "",
        "| what | median | min-max | agent GRPO / this | peak RSS (MB) | reward share |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for key, label, measure, unit in ROWS:
        part = parts.get(key)
        if part is None:
            continue
        if "skipped" in part:
            lines.append(f"| {label} | not run: {part['skipped']} | | | | |")
            continue
        value = part[measure]
        ratio = f"{reference / value['median']:.2f}x" if reference and unit == "tok/s" and value["median"] else ""
        memory = part.get("memory", {}).get("rss_peak_mb")
        share = part.get("reward_share", {}).get("median")
        lines.append(
            f"| {label} | {value['median']:,.0f} {unit} | {value['min']:,.0f}-{value['max']:,.0f} | {ratio} | "
            f"{'' if memory is None else f'{memory:,.0f}'} | {'' if share is None else f'{100 * share:.1f}%'} |"
        )
    lines += ["", "| target | measured | goal | met |", "|---|---:|---|---|"]
    for target in results["targets"]:
        value = "n/a" if target["value"] is None else f"{target['value']:.3g}"
        met = "n/a" if target["met"] is None else ("yes" if target["met"] else "**no**")
        lines.append(f"| {target['target']} | {value} | {target['goal']} | {met} |")
    return "\n".join(lines) + "\n"


# -- command line ---------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``python -m benchmarks.throughput``."""
    parser.add_argument("--quick", action="store_true", help="a small smoke run (under 2 minutes on CPU)")
    parser.add_argument("--num-envs", type=int, help="batch size (default 64; 16 with --quick)")
    parser.add_argument("--repeats", type=int, help="measurements per rate after a warm-up (default 3; 1 with --quick)")
    parser.add_argument("--max-new-tokens", type=int, help="reply budget of the env (default: the env's 32; 8 with --quick)")
    parser.add_argument("--reward-batch", type=int, help="batch of the reward-share measurement (0 skips it)")
    parser.add_argument("--peers", default="sb3,trl", help="comma-separated peers to run: sb3, trl, or none")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, ...")
    parser.add_argument("--bf16", default="auto", choices=("auto", "on", "off"))
    parser.add_argument("--out", type=Path, default=RESULTS / "throughput.json", help="where the JSON goes (the .md next to it)")


def config_from_args(args: argparse.Namespace) -> BenchConfig:
    config = BenchConfig.quick_config() if args.quick else BenchConfig()
    if args.num_envs is not None:
        config.num_envs = args.num_envs
    if args.repeats is not None:
        config.repeats = args.repeats
    if args.max_new_tokens is not None:
        config.env_kwargs["max_new_tokens"] = args.max_new_tokens
    if args.reward_batch is not None:
        config.reward_batch = args.reward_batch
    config.peers = tuple(p for p in args.peers.split(",") if p and p != "none")
    config.device, config.bf16 = args.device, args.bf16
    return config


def run_from_args(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    results = run(config, log=lambda text: print(text, file=sys.stderr, flush=True))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = markdown(results)
    args.out.with_suffix(".md").write_text(table, encoding="utf-8")
    print(table)
    print(f"wrote {args.out} and {args.out.with_suffix('.md')} in {results['seconds']:.0f} s", file=sys.stderr)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput", description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
