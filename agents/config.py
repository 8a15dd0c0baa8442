"""Configurations of the agents: the token-level policy-gradient agent and the reward model.

Every field documents itself (``metadata["help"]``), grouped under headings as in TRL's configs;
``dialog-envs train --config FILE.yaml`` reads a YAML mapping of :class:`TokenPGConfig` fields with
a safe loader, ``dialog-envs reward-model train --config FILE.yaml`` one of
:class:`RewardModelConfig` fields. Both share :class:`Config`: type checks of every field, one-line
errors, ``from_dict`` / ``from_yaml`` / ``to_dict``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from os import PathLike
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

from dialog_envs.errors import DialogEnvsError

Algorithm = Literal["reinforce", "ppo", "grpo", "rloo"]
Schedule = Literal["constant", "linear", "cosine"]
KLForm = Literal["reward", "loss"]


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` has the type a config field declares (ints pass as floats, bools never
    as numbers)."""
    origin = get_origin(hint)
    if origin is Literal:
        return value in get_args(hint)
    if origin is not None and origin not in (dict, list):  # a union such as ``float | None``
        return any(_matches(value, option) for option in get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or hint)


def _type_name(hint: Any) -> str:
    if get_origin(hint) is Literal:
        return "one of " + ", ".join(map(str, get_args(hint)))
    if get_origin(hint) not in (None, dict, list):
        return " or ".join(_type_name(option) for option in get_args(hint))
    return {type(None): "null"}.get(hint, getattr(get_origin(hint) or hint, "__name__", str(hint)))


def _is_number_text(value: Any) -> bool:
    try:
        return isinstance(value, str) and float(value) == float(value)
    except ValueError:
        return False


def _help(text: str, default: Any) -> Any:
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": text})
    return field(default=default, metadata={"help": text})


ConfigT = TypeVar("ConfigT", bound="Config")


class Config:
    """What every agent config shares: each field is checked against its type hint on
    construction, and the config reads from a mapping or a YAML file and writes to a dict."""

    def check_types(self) -> None:
        """Raise a one-line :class:`DialogEnvsError` for the first field whose value has the wrong type."""
        for name, hint in get_type_hints(type(self)).items():
            value = getattr(self, name)
            if not _matches(value, hint):
                yaml_note = " (YAML reads 1e-3 as text: write 1.0e-3 or 0.001)" if _is_number_text(value) else ""
                raise DialogEnvsError(f"config field {name}={value!r}; expected {_type_name(hint)}{yaml_note}")

    @classmethod
    def from_dict(cls: type[ConfigT], values: dict[str, Any], source: str = "config") -> ConfigT:
        """Build from a mapping; unknown keys are an error that lists the known ones."""
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(values) - known)
        if unknown:
            raise DialogEnvsError(f"{source}: unknown field(s) {', '.join(unknown)}; known fields: {', '.join(sorted(known))}")
        return cls(**values)

    @classmethod
    def from_yaml(cls: type[ConfigT], path: str | PathLike[str]) -> ConfigT:
        """Read a YAML mapping of fields (safe loader)."""
        try:
            with open(path, encoding="utf-8") as handle:
                values = yaml.safe_load(handle) or {}
        except (OSError, yaml.YAMLError) as error:
            raise DialogEnvsError(f"{path}: cannot read the config: {error}") from None
        if not isinstance(values, dict):
            raise DialogEnvsError(f"{path}: expected a mapping of config fields, got {type(values).__name__}")
        return cls.from_dict(values, source=str(path))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass
class TokenPGConfig(Config):
    """Settings of :class:`dialog_envs.agents.token_pg.TokenPGAgent`. Defaults train the tiny default models on CPU."""

    # -- policy model ----------------------------------------------------------------------------
    model: str | None = _help(
        "Hugging Face model name or local path, or a packaged model's short name ('minilm', 'smollm2'; "
        "see dialog_envs.agents.pretrained). None builds a small model from a config around the env's "
        "tokenizer: GPT-2 for generation envs, BERT for tagging/classification envs.",
        None,
    )
    gguf_file: str | None = _help("GGUF file inside `model` to load (e.g. SmolLM2's), passed as gguf_file=.", None)
    model_config: dict[str, Any] = _help(
        "Overrides of the default config when `model` is None, e.g. {n_layer: 4, n_embd: 256}. For a "
        "causal LM, model_type picks another architecture built as small (e.g. {model_type: llama}, whose "
        "rotary positions learned SimUser-v0 in fewer updates; overrides then use the standard names: "
        "num_hidden_layers, hidden_size, ...).",
        {},
    )
    policy: Literal["auto", "causal_lm", "tagger"] = _help(
        "'causal_lm' writes tokens (action space = vocabulary); 'tagger' classifies a position with an "
        "encoder and a head; 'auto' picks causal_lm when the action space is the tokenizer's vocabulary.",
        "auto",
    )
    word_shape_features: bool = _help(
        "Tagger policies: add a learned embedding of each token's word shape (lower, Capitalised, UPPER, "
        "number, other) to the encoder's token embeddings when the env observes it (NER-v0's word_shape). "
        "It gives an uncased encoder such as MiniLM the capitalisation NER depends on; zero at first.",
        True,
    )
    lora_rank: int = _help(
        "LoRA rank (needs peft); 0 trains all weights. With LoRA and no warm start the disabled adapter is the KL reference.", 0
    )
    init_from: str | None = _help(
        "A token-pg checkpoint folder whose policy starts this run (its backbone, tokenizer and weights; the "
        "env and its arguments must be the ones it was trained with): RL from a trained agent, e.g. against a "
        "reward model learned from its ratings. With kl_coef > 0 the KL reference is that policy (or the policy "
        "after this run's warm start, if it has one). None: a new policy from `model`.",
        None,
    )

    # -- algorithm -------------------------------------------------------------------------------
    algorithm: Algorithm = _help(
        "'reinforce' (baseline below), 'ppo' (clipped, value head, GAE), 'grpo' (group-normalised "
        "returns) or 'rloo' (leave-one-out group baseline).",
        "reinforce",
    )
    baseline: Literal["moving_average", "value"] = _help(
        "REINFORCE baseline b: an exponential moving average of returns, or a learned value head.", "moving_average"
    )
    baseline_decay: float = _help("Decay of the moving-average baseline.", 0.9)
    group_size: int = _help("Samples per context for grpo/rloo (num_envs must be a multiple).", 4)
    gamma: float = _help("Discount per agent turn (per step for single-turn envs, where it rarely matters).", 1.0)
    gae_lambda: float = _help("GAE lambda (ppo).", 0.95)
    clip_range: float = _help("PPO ratio clip.", 0.2)
    ppo_epochs: int = _help("Passes over each rollout (ppo).", 2)
    ppo_minibatches: int = _help(
        "Minibatches per pass (ppo): the rollout's episodes are shuffled and split into this many "
        "groups, one gradient step each; 1 takes one step on the whole rollout.",
        1,
    )
    value_coef: float = _help("Weight of the value loss (ppo, or reinforce with a value baseline).", 0.5)
    entropy_coef: float = _help("Weight of the entropy bonus.", 0.0)
    kl_coef: float = _help(
        "Weight beta of the KL to the reference policy, the policy before RL: a frozen copy of it (taken after "
        "the warm start), or with LoRA and no warm start the policy with its adapter disabled; 0 keeps no reference.",
        0.0,
    )
    kl_form: KLForm = _help(
        "How the KL enters: 'reward' subtracts beta * (log pi - log pi_ref) of each sampled token from its "
        "reward (Ziegler et al., InstructGPT); 'loss' adds beta * the k3 estimator, mean over valid tokens of "
        "(r - 1) - log r with r = pi_ref/pi of the sampled token, to every algorithm's loss (GRPO's form).",
        "reward",
    )
    kl_target: float | None = _help(
        "Target KL per token for an adaptive coefficient (Ziegler et al.; adapts on the logged 'kl', either "
        "form); None keeps it fixed.",
        None,
    )
    whiten_advantages: bool = _help("Normalise advantages over the batch (reinforce, ppo).", True)

    # -- reward ----------------------------------------------------------------------------------
    reward_model: str | None = _help(
        "A reward model checkpoint (dialog-envs reward-model train): the training envs' reward becomes its "
        "score of each agent turn minus the checkpoint's s_base (see dialog_envs.agents.reward_env); the env's "
        "own reward stays in info['env_reward'], and validation and test use the env's reward. None: the env's reward.",
        None,
    )

    # -- rollouts --------------------------------------------------------------------------------
    num_envs: int = _help("Environments stepped together; one batched forward per step for all.", 16)
    temperature: float = _help("Sampling temperature (the log-probs used in the losses include it).", 1.0)
    top_k: int = _help("Sample among the k most likely actions only (0: all).", 0)
    top_p: float = _help("Nucleus sampling threshold (1.0: off).", 1.0)
    max_episode_steps: int = _help("Safety limit on the steps of one rollout.", 512)
    max_context_tokens: int | None = _help(
        "Context window W of a causal-LM policy's rollouts (None: the model's maximum positions). When feeding "
        "a step would make the KV cache longer than W, every row's context is cut to its last W // 2 tokens "
        "and the cache is re-prefilled; training recomputes each step with the context it was sampled with.",
        None,
    )

    # -- optimisation ----------------------------------------------------------------------------
    learning_rate: float = _help("Adam(W) learning rate of the RL phase.", 3e-4)
    weight_decay: float = _help("AdamW weight decay.", 0.0)
    lr_schedule: Schedule = _help("Learning-rate schedule over the RL updates.", "constant")
    warmup_updates: int = _help("Linear warm-up updates at the start of the RL phase.", 0)
    max_grad_norm: float = _help("Gradient clipping norm.", 1.0)
    updates: int = _help("RL updates (one rollout of num_envs episodes each).", 100)

    # -- supervised warm start ---------------------------------------------------------------------
    warm_start_updates: int = _help(
        "Maximum-likelihood updates on the env's expert actions (reference replies, gold tags, "
        "reference-agent turns) before RL; 0 skips the warm start.",
        0,
    )
    warm_start_learning_rate: float = _help("Learning rate of the warm start.", 1e-3)
    warm_start_lr_schedule: Schedule = _help(
        "Learning-rate schedule over the warm-start updates.", "constant"
    )
    warm_start_warmup_updates: int = _help("Linear warm-up updates at the start of the warm start.", 0)

    # -- evaluation, early stopping, checkpoints ---------------------------------------------------
    eval_every: int = _help("Evaluate on the validation split every this many RL updates (0: never).", 25)
    eval_episodes: int = _help("Episodes per evaluation (fixed seeds, greedy actions).", 64)
    eval_metric: str = _help("What early stopping watches: 'return' or a key of the env's final info (e.g. 'bleu').", "return")
    patience: int = _help("Stop after this many evaluations without improvement (0: never stop early).", 0)
    save_every: int = _help("Write the 'last' checkpoint every this many updates (of the warm start and of RL).", 25)

    # -- machine ---------------------------------------------------------------------------------
    seed: int = _help("Seed of the model init, the rollouts and the sampling.", 0)
    device: str = _help("'auto' (cuda when present, else cpu), 'cpu', 'cuda', 'cuda:1', ...", "auto")
    bf16: Literal["auto", "on", "off"] = _help(
        "bfloat16 autocast: 'auto' uses it on GPUs that support it and on CPUs with AMX.", "auto"
    )
    compile: bool = _help("torch.compile the model (optional; helps most on GPUs).", False)
    progress: bool = _help("Show a progress bar with reward and tokens/s.", True)

    def __post_init__(self) -> None:
        if isinstance(self.bf16, bool):  # YAML 1.1 reads a bare on/off as a boolean
            self.bf16 = "on" if self.bf16 else "off"
        self.check_types()
        if self.algorithm in ("grpo", "rloo") and (self.group_size < 2 or self.num_envs % self.group_size):
            raise DialogEnvsError(
                f"{self.algorithm} needs group_size >= 2 dividing num_envs; got group_size={self.group_size}, "
                f"num_envs={self.num_envs}"
            )
        for name in ("updates", "num_envs", "eval_episodes", "ppo_epochs", "ppo_minibatches"):
            if getattr(self, name) <= 0:
                raise DialogEnvsError(f"config field {name} must be > 0, got {getattr(self, name)}")
        if self.max_context_tokens is not None and self.max_context_tokens < 2:
            raise DialogEnvsError(f"config field max_context_tokens must be >= 2 tokens (or None), got {self.max_context_tokens}")
        if self.ppo_minibatches > self.num_envs:
            raise DialogEnvsError(
                f"config field ppo_minibatches={self.ppo_minibatches} must be at most num_envs={self.num_envs} "
                f"(a minibatch holds whole episodes)"
            )


@dataclass
class RewardModelConfig(Config):
    """Settings of a reward model learned from a feedback log (:mod:`dialog_envs.agents.reward_model_training`).
    Defaults train a small encoder from scratch on CPU."""

    # -- model -----------------------------------------------------------------------------------
    model: str | None = _help(
        "Hugging Face model name or local path, or a packaged model's short name ('minilm': an encoder, "
        "mean-pooled; 'smollm2': a causal LM, read at its last token). None builds a small model from a "
        "config (`architecture`, `model_config`) with a byte-level BPE tokenizer trained on the log's texts.",
        None,
    )
    gguf_file: str | None = _help("GGUF file inside `model` to load (e.g. SmolLM2's), passed as gguf_file=.", None)
    architecture: Literal["auto", "encoder", "causal_lm"] = _help(
        "'encoder' (mean of the last hidden states over the text-pair encoding), 'causal_lm' (the last "
        "hidden state of the last token of 'user: ...\\nagent: ...' + EOS) or 'auto': causal_lm for a GGUF "
        "file or a model whose config names a *ForCausalLM architecture, else encoder.",
        "auto",
    )
    model_config: dict[str, Any] = _help(
        "Overrides of the from-scratch config when `model` is None (BERT names for an encoder, e.g. "
        "{hidden_size: 64, num_hidden_layers: 1}; GPT-2 names for a causal LM, as TokenPGConfig.model_config).",
        {},
    )
    vocab_size: int = _help("BPE vocabulary size of the tokenizer trained for a from-scratch model.", 2000)
    max_length: int = _help("Tokens per (user text, reply) input; longer inputs are cut (the user text first).", 256)

    # -- data ------------------------------------------------------------------------------------
    validation_fraction: float = _help(
        "Share of the log's sessions held out for validation (split_indices by session, seeded by `seed`); "
        "every record of a session is on the same side.",
        0.2,
    )

    # -- optimisation ----------------------------------------------------------------------------
    learning_rate: float = _help("AdamW learning rate.", 1e-4)
    weight_decay: float = _help("AdamW weight decay.", 0.01)
    batch_size: int = _help("Records per gradient step, of each kind (turns and preferences).", 16)
    max_epochs: int = _help("Passes over the training records at most.", 20)
    patience: int = _help(
        "Stop after this many epochs without a lower validation loss; the weights of the best epoch are kept "
        "(0: never stop early).",
        3,
    )
    max_grad_norm: float = _help("Gradient clipping norm.", 1.0)

    # -- machine ---------------------------------------------------------------------------------
    seed: int = _help("Seed of the split, the model init and the shuffling.", 0)
    device: str = _help("'auto' (cuda when present, else cpu), 'cpu', 'cuda', 'cuda:1', ...", "auto")
    progress: bool = _help("Print one line per epoch (losses and validation metrics).", True)

    def __post_init__(self) -> None:
        self.check_types()
        for name in ("vocab_size", "max_length", "batch_size", "max_epochs"):
            if getattr(self, name) <= 0:
                raise DialogEnvsError(f"config field {name} must be > 0, got {getattr(self, name)}")
        if not 0 < self.validation_fraction < 1:
            raise DialogEnvsError(f"config field validation_fraction must be between 0 and 1, got {self.validation_fraction}")
        if self.patience < 0:
            raise DialogEnvsError(f"config field patience must be >= 0, got {self.patience}")
