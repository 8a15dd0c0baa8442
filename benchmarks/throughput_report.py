"""The throughput benchmark's report: its targets as measured ratios, and the results as markdown
(the machine's limits, one table per model, the envs alone, the targets)."""

from __future__ import annotations

from typing import Any


def _median(parts: dict[str, Any], name: str, key: str = "tokens_per_s") -> float | None:
    value = parts.get(name, {}).get(key, {})
    return value.get("median") if isinstance(value, dict) else None


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The targets as measured ratios, each with its goal and whether it was met."""
    found = []

    def ratio(name: str, numerator: float | None, denominator: float | None, goal: float, at_most: bool = False) -> None:
        value = None if numerator is None or not denominator else numerator / denominator
        met = None if value is None else (value <= goal if at_most else value >= goal)
        found.append({"target": name, "value": value, "goal": ("<= " if at_most else ">= ") + f"{goal:g}", "met": met})

    for model, measured in results["models"].items():
        parts = measured["parts"]
        ratio(f"{model}: agent GRPO end-to-end / TRL GRPOTrainer", _median(parts, "agent_train_grpo"), _median(parts, "peer_trl_grpo"), 2.5 if model == "tiny" else 2)
        if model == "tiny":
            ratio(f"{model}: agent PPO+KL end-to-end / SB3 PPO per-token loop", _median(parts, "agent_train_ppo_kl"), _median(parts, "peer_sb3_ppo_per_token"), 25)
        else:
            update_mfu = parts.get("agent_train_grpo", {}).get("mfu", {}).get("update", {}).get("median")
            update_flops = None if update_mfu is None else update_mfu * measured["setup"]["peak_flops_per_s"]
            ratio(f"{model}: GRPO update FLOP/s / measured bf16 matmul peak", update_flops, results["machine"]["matmul_bf16"]["flops_per_s"], 0.5)
        ratio(f"{model}: agent rollout / its bound (compute and bandwidth)", _median(parts, "agent_rollout", "share_of_bound"), 1.0, 0.6)
        ratio(f"{model}: agent rollout / Hugging Face generate()", _median(parts, "agent_rollout"), _median(parts, "hf_generate"), 1.0)
    share = results.get("env_only", {}).get("reward_share_large_batch", {}).get("reward_share", {}).get("median")
    if share is not None:
        found.append({"target": "reward share of a training step at the large batch", "value": share, "goal": "<= 0.05", "met": share <= 0.05})
    return found


MODEL_ROWS = (
    ("reference_kv_cache_sampling", "reference: bare KV-cache sampling loop"),
    ("reference_forward_backward", "reference: raw forward+backward+AdamW"),
    ("agent_rollout", "agent: rollout (native vector env)"),
    ("hf_generate", "Hugging Face generate(), same batch"),
    ("agent_train_reinforce", "agent: train end-to-end, REINFORCE"),
    ("agent_train_ppo_kl", "agent: train end-to-end, PPO+KL"),
    ("agent_train_grpo", "agent: train end-to-end, GRPO"),
    ("peer_sb3_ppo_per_token", "peer: SB3 PPO token by token"),
    ("peer_trl_grpo", "peer: TRL GRPOTrainer"),
)
ENV_ROWS = (
    ("env_single", "env only: one single env", "steps_per_s", "steps/s"),
    ("env_native_vector", "env only: native vector env", "steps_per_s", "steps/s"),
    ("env_sync_vector", "env only: SyncVectorEnv", "steps_per_s", "steps/s"),
    ("reward_share_large_batch", "agent: REINFORCE at the large batch", "tokens_per_s", "tok/s"),
)


def _number(value: float | None, digits: str = ",.0f") -> str:
    return "" if value is None else format(value, digits)


def _mfu(part: dict[str, Any]) -> str:
    """MFU as a percentage: the rollout's/generate's own, or end-to-end (rollout | update) for training."""
    mfu = part.get("mfu")
    if not mfu:
        return ""
    if "end_to_end" in mfu:
        return f"{100 * mfu['end_to_end']['median']:.1f}% ({100 * mfu['rollout']['median']:.1f} / {100 * mfu['update']['median']:.1f})"
    return f"{100 * mfu['median']:.1f}%"


def markdown(results: dict[str, Any]) -> str:
    """The results as markdown: the machine's limits, one table per model, the envs, the targets."""
    device, machine = results["device"], results["machine"]
    lines = [
        f"Device: {device.get('name') or device.get('cpu')} ({device['type']}, {device['torch_threads']} torch threads). "
        f"Measured limits: fp32 matmul {machine['matmul_fp32']['flops_per_s'] / 1e9:,.1f} GFLOP/s, "
        f"bf16 matmul {machine['matmul_bf16']['flops_per_s'] / 1e9:,.1f} GFLOP/s, memory "
        f"{machine['memory']['bytes_per_s'] / 1e9:,.1f} GB/s (read {machine['memory']['read_bytes_per_s'] / 1e9:,.1f}, "
        f"copy {machine['memory']['copy_bytes_per_s'] / 1e9:,.1f}).",
        "",
    ]
    for name, measured in results["models"].items():
        setup, shape, parts = measured["setup"], measured["shape"], measured["parts"]
        reference = _median(parts, "agent_train_grpo")
        lines += [
            f"### {name}: {setup['label']}",
            "",
            f"{setup['model_parameters']:,} parameters ({setup['trainable_parameters']:,} trained; N = {shape['matrix_parameters']:,} "
            f"in the blocks' matrices, vocab {shape['vocab']:,}); batch {setup['num_envs']}, GRPO groups of {setup['group_size']}; "
            f"{setup['max_context_tokens']} context + {setup['max_new_tokens']} reply tokens; bf16 autocast: {setup['bf16_autocast']}; "
            f"MFU against {setup['peak_flops_per_s'] / 1e9:,.1f} GFLOP/s.",
            "",
            "| what | median tok/s | min-max | agent GRPO / this | MFU (rollout / update) | peak RSS (MB) | CUDA peak (MB) | reward share |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for key, label in MODEL_ROWS:
            part = parts.get(key)
            if part is None:
                continue
            if "skipped" in part:
                lines.append(f"| {label} | not run: {part['skipped']} | | | | | | |")
                continue
            value = part["tokens_per_s"]
            ratio = f"{reference / value['median']:.2f}x" if reference and value["median"] else ""
            memory = part.get("memory", {})
            share = part.get("reward_share", {}).get("median")
            lines.append(
                f"| {label} | {value['median']:,.0f} | {value['min']:,.0f}-{value['max']:,.0f} | {ratio} | {_mfu(part)} | "
                f"{_number(memory.get('rss_peak_mb'))} | {_number(memory.get('cuda_peak_mb'))} | "
                f"{'' if share is None else f'{100 * share:.1f}%'} |"
            )
        rollout = parts.get("agent_rollout")
        if rollout:
            bound = rollout["bound"]
            lines += [
                "",
                f"Rollout: {rollout['flops_per_token'] / 1e6:,.1f} MFLOP per generated token (prefill included); its bound "
                f"(prefill {bound['prefill_s']:.3f} s at the peak, decoding {bound['decode_compute_s']:.3f} s of compute vs "
                f"{bound['decode_memory_s']:.3f} s reading {shape['weight_bytes'] / 2**20:,.0f} MiB of weights and the KV cache per step) "
                f"is {bound['total_s']:.3f} s; the rollout reaches {100 * rollout['share_of_bound']['median']:.2g}% of it.",
            ]
        trained = parts.get("agent_train_grpo") or parts.get("agent_train_reinforce")
        if trained:
            lines.append(f"Training: {trained['flops_per_token']['update'] / 1e6:,.1f} MFLOP per trained (generated) token in a GRPO/REINFORCE update.")
        lines.append("")
    env_parts = results.get("env_only", {})
    if env_parts:
        lines += ["### The envs alone (tiny model's env)", "", "| what | median | min-max | reward share |", "|---|---:|---:|---:|"]
        for key, label, measure, unit in ENV_ROWS:
            part = env_parts.get(key)
            if part is None:
                continue
            value = part[measure]
            share = part.get("reward_share", {}).get("median")
            lines.append(f"| {label} | {value['median']:,.0f} {unit} | {value['min']:,.0f}-{value['max']:,.0f} | {'' if share is None else f'{100 * share:.1f}%'} |")
        lines.append("")
    lines += ["| target | measured | goal | met |", "|---|---:|---|---|"]
    for target in results["targets"]:
        value = "n/a" if target["value"] is None else f"{target['value']:.3g}"
        met = "n/a" if target["met"] is None else ("yes" if target["met"] else "**no**")
        lines.append(f"| {target['target']} | {value} | {target['goal']} | {met} |")
    return "\n".join(lines) + "\n"
