"""Success of the rule-based reference agent and of a random agent against the simulated user.

Runs ``--episodes`` seeded conversations (episode ``i`` uses ``numpy.random.default_rng(seed + i)``
for the user) on the bundled shop domain and, when the folder exists, on MultiWOZ 2.1 goals with
the MultiWOZ 2.2 schema and databases (``../shared/data/multiwoz21``), and on every goal of the
Schema-Guided Dialogue dev subset once (``../shared/data/sgd``, success on the services the
training split lacks reported apart), through the text-level core
(:class:`~dialog_envs.simuser.conversation.Conversation`) with the env's default settings
(``max_turns=10``, ``patience=5``). The random agent replies with 1-20 words drawn uniformly from
the words the simulator and the reference agent use in that domain (so it is a fair "babbling"
baseline, not an empty one). Writes ``runs/simuser_reference.json`` (or ``--output``; the committed figures are
``benchmarks/results/simuser_reference.json``).

Usage::

    python -m benchmarks.simuser_reference            # 500 episodes per agent and domain
    python -m benchmarks.simuser_reference --episodes 50 --output /tmp/x.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dialog_envs.simuser.reference_agent import ReferenceAgent, run_episode  # noqa: E402
from dialog_envs.envs.simuser import load_domain, simulated_texts  # noqa: E402
from dialog_envs.simuser.conversation import Conversation, SimulatedUser  # noqa: E402
from dialog_envs.simuser.goals import Goal  # noqa: E402
from dialog_envs.simuser.policy import PolicyConfig  # noqa: E402
from dialog_envs.simuser.schema import Schema  # noqa: E402
from dialog_envs.simuser.sgd import load_sgd  # noqa: E402
from dialog_envs.simuser.understanding import RuleReader, tokenize  # noqa: E402

MULTIWOZ = ROOT.parent / "shared" / "data" / "multiwoz21"
SGD = ROOT.parent / "shared" / "data" / "sgd"
MAX_TURNS = 10
DEFAULT_OUT = Path("runs/simuser_reference.json")
"""Where the results go unless ``--output`` says otherwise (committed figures change only when asked)."""
PATIENCE = 5


class RandomWordsAgent:
    """Replies with 1-20 words drawn uniformly from a vocabulary (its own seeded generator)."""

    def __init__(self, words: list[str], seed: int) -> None:
        self.words = words
        self.rng = np.random.default_rng(seed)

    def reset(self) -> None:
        pass

    def reply(self, user_text: str) -> str:
        n = int(self.rng.integers(1, 21))
        return " ".join(self.words[int(i)] for i in self.rng.integers(len(self.words), size=n))


def evaluate(conversation: Conversation, agent: Any, episodes: int, seed: int) -> dict[str, Any]:
    return summarise([run_episode(conversation, agent, np.random.default_rng(seed + i)) for i in range(episodes)])


def summarise(infos: list[dict[str, Any]]) -> dict[str, Any]:
    """Success, turns, return, satisfaction and inform scores of finished conversations."""
    episodes = len(infos)
    success = np.array([info["success"] for info in infos], dtype=float)
    ends: dict[str, int] = {}
    for info in infos:
        ends[info["ended_by"]] = ends.get(info["ended_by"], 0) + 1
    feasible = np.array([info["goal_feasible"] for info in infos], dtype=bool)
    return {
        "episodes": episodes,
        "success_rate": float(success.mean()),
        "success_rate_feasible_goals": float(success[feasible].mean()) if feasible.any() else None,
        "feasible_goals": int(feasible.sum()),
        "mean_turns": float(np.mean([info["turns"] for info in infos])),
        "mean_return": float(np.mean([info["return"] for info in infos])),
        "mean_satisfaction": float(np.mean([info["satisfaction"] for info in infos])),
        "inform_precision": float(np.mean([info["inform_precision"] for info in infos])),
        "inform_recall": float(np.mean([info["inform_recall"] for info in infos])),
        "inform_f1": float(np.mean([info["inform_f1"] for info in infos])),
        "ended_by": dict(sorted(ends.items())),
    }


def benchmark_domain(name: str, data_path: str | None, episodes: int, seed: int) -> dict[str, Any]:
    schema, goals = load_domain(data_path, "validation")
    conversation = Conversation(SimulatedUser(schema, goals, policy=PolicyConfig(patience=PATIENCE)),
                                max_turns=MAX_TURNS)
    words = sorted({w for text in simulated_texts(schema, goals, episodes=100, seed=10_000) for w in tokenize(text)})
    started = time.perf_counter()
    reference = evaluate(conversation, ReferenceAgent(schema), episodes, seed)
    random_agent = evaluate(conversation, RandomWordsAgent(words, seed), episodes, seed)
    return {
        "domain": name,
        "data_path": None if data_path is None else "../shared/data/multiwoz21",
        "goals": "sampled from the schema and database" if goals is None else f"{len(goals)} corpus goals",
        "reference_agent": reference,
        "random_agent": random_agent,
        "seconds": round(time.perf_counter() - started, 2),
    }


def play_every_goal(schema: Schema, goals: list[Goal], agent: Any, seed: int) -> list[dict[str, Any]]:
    """``agent``'s conversation on every goal once (goal ``i`` with ``default_rng(seed + i)``)."""
    reader = RuleReader(schema)
    policy = PolicyConfig(patience=PATIENCE)
    return [run_episode(Conversation(SimulatedUser(schema, [goal], reader=reader, policy=policy), max_turns=MAX_TURNS),
                        agent, np.random.default_rng(seed + i)) for i, goal in enumerate(goals)]


def benchmark_sgd(seed: int) -> dict[str, Any]:
    """Every goal of the SGD dev subset once, overall and grouped by whether a goal touches a
    service the training split lacks."""
    data = load_sgd(SGD, "validation")
    goals = list(data.goals)
    words = sorted({w for text in simulated_texts(data.schema, goals, episodes=100, seed=10_000) for w in tokenize(text)})
    started = time.perf_counter()
    result: dict[str, Any] = {
        "domain": "SGD dev subset, every goal once",
        "data_path": "../shared/data/sgd",
        "goals": f"{len(goals)} corpus goals",
        "unseen_services": sorted(data.unseen_services),
    }
    for label, agent in (("reference_agent", ReferenceAgent(data.schema)), ("random_agent", RandomWordsAgent(words, seed))):
        infos = play_every_goal(data.schema, goals, agent, seed)
        unseen = [any(part["domain"] in data.unseen_services for part in info["goal"]["domains"]) for info in infos]
        result[label] = {
            **summarise(infos),
            "unseen_services": summarise([info for info, new in zip(infos, unseen) if new]),
            "seen_services": summarise([info for info, new in zip(infos, unseen) if not new]),
        }
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    results = [benchmark_domain("bundled online shop", None, args.episodes, args.seed)]
    if MULTIWOZ.is_dir():
        results.append(benchmark_domain("MultiWOZ 2.1 goals (val.json), 2.2 schema, databases",
                                        str(MULTIWOZ), args.episodes, args.seed))
    else:
        print(f"{MULTIWOZ} is absent: MultiWOZ skipped", file=sys.stderr)
    if SGD.is_dir():
        results.append(benchmark_sgd(args.seed))
    else:
        print(f"{SGD} is absent: SGD skipped", file=sys.stderr)
    report = {
        "command": "python -m benchmarks.simuser_reference" + ("" if args.episodes == 500 else f" --episodes {args.episodes}"),
        "settings": {"max_turns": MAX_TURNS, "patience": PATIENCE, "seed": args.seed,
                     "episode_seed": "numpy.random.default_rng(seed + i)"},
        "python": platform.python_version(),
        "results": results,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    for result in results:
        ref, rnd = result["reference_agent"], result["random_agent"]
        print(f"{result['domain']}: reference success {ref['success_rate']:.3f}, random success "
              f"{rnd['success_rate']:.3f} ({ref['episodes']} episodes each)")
        if "unseen_services" in ref:
            print(f"  on goals with services the training split lacks: reference success "
                  f"{ref['unseen_services']['success_rate']:.3f}, random success "
                  f"{rnd['unseen_services']['success_rate']:.3f} ({ref['unseen_services']['episodes']} goals)")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
