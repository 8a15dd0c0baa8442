"""The Agent protocol, the built-in adapters and the registry (names, module:Class, entry points)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import dialog_envs.agents
from dialog_envs.agents import registry
from dialog_envs.agents.benchmark import QUICK_TOKEN_PG
from dialog_envs.agents.episodes import EpisodeLog, run_episodes
from dialog_envs.agents.protocol import Agent, ExpertAgent, RandomAgent
from dialog_envs.agents.token_pg import TokenPGAgent
from dialog_envs.errors import DialogEnvsError


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def clean_registry():
    yield
    for name in list(registry._registered):
        registry.unregister(name)


PLUGIN = '''
import numpy as np
from dialog_envs.agents.protocol import BaseAgent


class FirstAction(BaseAgent):
    """Always the first allowed action."""

    def __init__(self, env_id, *, env_kwargs=None, seed=0, offset=0):
        super().__init__(env_id, env_kwargs=env_kwargs, seed=seed)
        self.offset = offset

    def act(self, observations, action_masks=None, deterministic=True):
        batch = len(observations["input_ids"])
        if action_masks is None:
            return np.full(batch, self.offset)
        return np.argmax(action_masks, axis=1)


class NotAnAgent:
    def __init__(self, env_id, *, env_kwargs=None, seed=0):
        pass
'''


def write_plugin(folder: Path, module: str = "throwaway_agents") -> Path:
    (folder / f"{module}.py").write_text(PLUGIN)
    return folder


def write_distribution(folder: Path, entry_points: dict[str, str]) -> None:
    """A minimal installed distribution (``.dist-info``) declaring ``dialog_envs.agents`` entry points."""
    info = folder / "throwaway_agents-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: throwaway-agents\nVersion: 0.1\n")
    lines = "\n".join(f"{name} = {value}" for name, value in entry_points.items())
    (info / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\n{lines}\n")


def test_builtin_agents_satisfy_the_protocol() -> None:
    for name in ("random", "expert", "ppo", "token-pg"):
        config = QUICK_TOKEN_PG if name == "token-pg" else {}
        agent = dialog_envs.agents.make(name, "Sentiment-v0", seed=0, **config)
        assert isinstance(agent, Agent)
        assert agent.env_id == "dialog_envs/Sentiment-v0"


def test_make_and_register_are_exported() -> None:
    assert dialog_envs.agents.make is registry.make and dialog_envs.agents.register is registry.register
    assert set(registry.BUILTIN_AGENTS) >= {"random", "expert", "ppo", "a2c", "dqn", "maskable-ppo", "token-pg"}


def test_unknown_names_list_what_is_available() -> None:
    with pytest.raises(DialogEnvsError, match=r"unknown agent 'nope'; available: .*random.*ppo.*token-pg"):
        dialog_envs.agents.make("nope", "NER-v0")
    with pytest.raises(DialogEnvsError, match=r"unknown environment 'Nope-v0'; available: .*NER-v0"):
        dialog_envs.agents.make("random", "Nope-v0")


def test_bad_config_and_module_paths() -> None:
    with pytest.raises(DialogEnvsError, match="does not take colour; it takes no settings"):
        dialog_envs.agents.make("random", "NER-v0", colour="red")
    with pytest.raises(DialogEnvsError, match="cannot import module 'no_such_module'"):
        dialog_envs.agents.make("no_such_module:Agent", "NER-v0")
    with pytest.raises(DialogEnvsError, match="has no attribute 'Missing'"):
        dialog_envs.agents.make("dialog_envs.agents.protocol:Missing", "NER-v0")
    with pytest.raises(DialogEnvsError, match="not a class or function"):
        dialog_envs.agents.make("dialog_envs.agents.registry:ENTRY_POINT_GROUP", "NER-v0")


def test_module_class_strings(tmp_path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(write_plugin(tmp_path)))
    agent = dialog_envs.agents.make("throwaway_agents:FirstAction", "Sentiment-v0", offset=2)
    assert agent.evaluate("test", episodes=4)["predicted_index"] == 2.0
    with pytest.raises(DialogEnvsError, match="lacks act, learn, evaluate, save, load"):
        dialog_envs.agents.make("throwaway_agents:NotAnAgent", "Sentiment-v0")
    with pytest.raises(DialogEnvsError, match="does not take nope; its settings are: offset"):
        dialog_envs.agents.make("throwaway_agents:FirstAction", "Sentiment-v0", nope=1)


def test_entry_point_agents_show_up_by_name(tmp_path, monkeypatch) -> None:
    write_plugin(tmp_path)
    write_distribution(tmp_path, {"first-action": "throwaway_agents:FirstAction", "broken": "throwaway_agents:Gone"})
    assert "first-action" not in registry.available()
    monkeypatch.syspath_prepend(str(tmp_path))
    assert registry.available()["first-action"] == "entry point of throwaway-agents"
    agent = dialog_envs.agents.make("first-action", "NER-v0")
    metrics = agent.evaluate("test", episodes=4)
    assert 0.0 <= metrics["token_accuracy"] <= 1.0
    with pytest.raises(DialogEnvsError, match="cannot load entry point 'throwaway_agents:Gone'"):
        dialog_envs.agents.make("broken", "NER-v0")


def test_register_names_and_strings(clean_registry, tmp_path, monkeypatch) -> None:
    dialog_envs.agents.register("coin", RandomAgent)
    assert isinstance(dialog_envs.agents.make("coin", "NER-v0"), RandomAgent)
    with pytest.raises(DialogEnvsError, match="already registered"):
        dialog_envs.agents.register("coin", RandomAgent)
    with pytest.raises(DialogEnvsError, match="already registered"):
        dialog_envs.agents.register("ppo", RandomAgent)
    dialog_envs.agents.register("ppo", RandomAgent, overwrite=True)  # registered names come first
    assert isinstance(dialog_envs.agents.make("ppo", "NER-v0"), RandomAgent)
    monkeypatch.syspath_prepend(str(write_plugin(tmp_path)))
    dialog_envs.agents.register("first", "throwaway_agents:FirstAction")
    assert dialog_envs.agents.make("first", "NER-v0").act({"input_ids": np.zeros((2, 3))}).tolist() == [0, 0]
    for bad_name, factory in (("", RandomAgent), ("a:b", RandomAgent), ("x", 42)):
        with pytest.raises(DialogEnvsError):
            dialog_envs.agents.register(bad_name, factory)


def test_random_agent_respects_masks_and_repeats_its_evaluation() -> None:
    agent = RandomAgent("dialog_envs/NER-v0", seed=3)
    masks = np.zeros((50, agent.action_space.n), dtype=bool)
    masks[np.arange(50), np.arange(50) % 3] = True
    actions = agent.act({"input_ids": np.zeros((50, 4))}, masks)
    assert (actions == np.arange(50) % 3).all()
    unmasked = agent.act({"input_ids": np.zeros((500, 4))})
    assert set(unmasked.tolist()) == set(range(agent.action_space.n))
    assert agent.evaluate("test", episodes=8) == agent.evaluate("test", episodes=8)


def test_expert_agent_is_a_ceiling() -> None:
    assert dialog_envs.agents.make("expert", "NER-v0").evaluate("test", episodes=8)["entity_f1"] == 1.0
    assert dialog_envs.agents.make("expert", "Sentiment-v0").evaluate("test", episodes=8)["correct"] == 1.0
    with pytest.raises(DialogEnvsError, match="hidden state"):
        ExpertAgent("dialog_envs/NER-v0").act({"input_ids": np.zeros((1, 3))})


@pytest.mark.parametrize("env_id", ["dialog_envs/NER-v0", "dialog_envs/Sentiment-v0", "dialog_envs/DialogueBLEU-v0"])
def test_token_pg_act_matches_its_own_evaluation(env_id: str) -> None:
    """act() on whole observations (no KV cache) takes the same greedy actions as the agent's rollouts."""
    agent = TokenPGAgent.make(env_id, seed=0, **QUICK_TOKEN_PG)
    agent.learn(16)
    own = agent.evaluate("test", episodes=8)
    through_act = run_episodes(lambda obs, masks, envs: agent.act(obs, masks), env_id, {}, "test", 8)
    for key, value in own.items():
        assert through_act[key] == pytest.approx(value), key


def test_token_pg_budget_is_env_steps(tmp_path) -> None:
    agent = TokenPGAgent.make("dialog_envs/NER-v0", seed=0, **QUICK_TOKEN_PG)
    curve = agent.learn(100)
    one_update = 4 * 40  # 4 envs x the longest generated sentence (well above)
    assert 100 <= agent.env_steps < 100 + one_update
    assert agent.update >= 2
    assert sum(point["episodes"] for point in curve) == 4 * agent.update
    agent.evaluate("train", episodes=4)  # evaluation does not count as training
    steps = agent.env_steps
    agent.learn(10)
    assert agent.env_steps > steps and agent.update >= 3
    agent.save(tmp_path / "tpg")
    other = TokenPGAgent.make("dialog_envs/NER-v0", seed=1, **QUICK_TOKEN_PG)
    other.load(tmp_path / "tpg")
    assert other.update == agent.update
    assert other.evaluate("test", episodes=4) == agent.evaluate("test", episodes=4)


def test_episode_log_curve() -> None:
    log = EpisodeLog()
    for step, value in ((10, 1.0), (20, 3.0), (55, 5.0), (130, 7.0)):
        log.record(step, value)
    assert log.curve(0, 100, points=4) == [
        {"env_steps": 25, "episodes": 2, "return": 2.0},
        {"env_steps": 75, "episodes": 1, "return": 5.0},
        {"env_steps": 100, "episodes": 1, "return": 7.0},  # past the budget: the last window
    ]
    assert log.curve(20, 100, points=1) == [{"env_steps": 100, "episodes": 2, "return": 6.0}]
    assert EpisodeLog().curve(0, 10) == []


def test_token_pg_warm_start_runs_through_the_step_counter() -> None:
    agent = TokenPGAgent.make("dialog_envs/Sentiment-v0", seed=0, **{**QUICK_TOKEN_PG, "warm_start_updates": 3})
    agent.learn(8)
    assert agent.warm_start_done == 3
    assert agent.env_steps >= 3 * 4  # the warm start's steps count against the budget
