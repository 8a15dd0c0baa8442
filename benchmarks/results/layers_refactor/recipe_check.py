"""Hash every weight after a shortened copy of each learning suite's token-pg recipe (old or new code)."""
import sys, hashlib, yaml, torch
torch.set_num_threads(2)
which, root = sys.argv[1], sys.argv[2]
if which == "new":
    from dialog_envs.agents.config import TokenPGConfig
    from dialog_envs.agents.token_pg import TokenPGAgent
else:
    from agents.config import TokenPGConfig
    from agents.token_pg import TokenPGAgent
SHORT = dict(num_envs=4, warm_start_updates=2, updates=2, eval_every=0, progress=False, seed=0)
for suite in sys.argv[3:]:
    spec = yaml.safe_load(open(f"{root}/benchmarks/suites/{suite}.yaml"))
    for run in spec["runs"]:
        if run["agent"] != "token-pg":
            continue
        config = {**run.get("config", {}), **SHORT}
        config.pop("eval_episodes", None)
        if config.get("algorithm") in ("grpo", "rloo"):
            config["group_size"] = 2
        agent = TokenPGAgent(spec["env"], TokenPGConfig(**config), {**spec.get("env_kwargs", {}), **run.get("env_kwargs", {})}, None)
        agent.learn(updates=0)
        warm = hashlib.md5(b"".join(p.detach().float().numpy().tobytes() for p in agent.policy.parameters())).hexdigest()[:12]
        agent.learn()
        after = hashlib.md5(b"".join(p.detach().float().numpy().tobytes() for p in agent.policy.parameters())).hexdigest()[:12]
        print(suite, run["name"], warm, after, flush=True)
        agent.close()
