"""A schema-driven, agenda-based simulated user (the classic Schatzmann-style design).

One job per module:

* :mod:`~dialog_envs.simuser.schema` -- domains, slots, intents, entity databases; reads SGD /
  MultiWOZ 2.2 schema files and JSON databases;
* :mod:`~dialog_envs.simuser.domain` -- the project's own online-shop domain, generated in code;
* :mod:`~dialog_envs.simuser.goals` -- user goals, sampled or read from MultiWOZ;
* :mod:`~dialog_envs.simuser.sgd` -- the Schema-Guided Dialogue corpus as domains, entities and goals;
* :mod:`~dialog_envs.simuser.understanding` -- a rule-based reader of free text (replaceable);
* :mod:`~dialog_envs.simuser.policy` -- the agenda policy with patience;
* :mod:`~dialog_envs.simuser.language` -- template realisation of user acts (replaceable);
* :mod:`~dialog_envs.simuser.satisfaction` -- the per-turn satisfaction ``s(y)`` and rewards;
* :mod:`~dialog_envs.simuser.conversation` -- the text-level core: one agent reply in, the
  user's reply and the reward out; the simulated user and the human user both plug in here.
"""
