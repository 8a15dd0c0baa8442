"""User goals: what the simulated user wants, domain by domain.

A :class:`Goal` is a sequence of :class:`DomainGoal`, handled in order. Each has

* ``constraints`` -- informable slot values the user wants (``{"area": "north"}``);
* ``requests`` -- slots the user wants to be told (``("phone", "openhours")``);
* ``booking`` -- details of a transaction the user wants made (``{"bookday": "friday"}``), empty
  when the user wants none.

Goals come from :func:`sample_goal` (drawn from the schema and database with the episode's
random generator, always satisfiable; :func:`sample_goal_in_split` keeps the draws of one split's
part of the goal space) or from a corpus: :func:`read_multiwoz_goals` reads the
``goal`` field of MultiWOZ dialogues (``val.json``: ``info`` -> constraints, ``reqt`` -> requests,
``book`` -> booking; ``fail_info``/``fail_book`` are not used).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from dialog_envs.data.text_files import parse_json, read_text, split_lines
from dialog_envs.errors import DataFormatError, DialogEnvsError
from dialog_envs.simuser.schema import Domain, Schema, check_slots, normalise_name, normalise_value

# MultiWOZ 2.1 goal slot names that differ from the 2.2 schema names after normalisation.
GOAL_SLOT_ALIASES: dict[str, str] = {"cartype": "type"}
GOAL_META_KEYS = frozenset({"message", "topic"})
BOOK_META_KEYS = frozenset({"invalid", "pre_invalid"})


@dataclass(frozen=True)
class DomainGoal:
    """What the user wants in one domain."""

    domain: str
    constraints: dict[str, str] = field(default_factory=dict)
    """Informable slot -> wanted value."""
    requests: tuple[str, ...] = ()
    """Slots the user wants to be told."""
    booking: dict[str, str] = field(default_factory=dict)
    """Booking slot -> value; empty when the user wants no transaction."""
    intents: tuple[str, ...] = ()
    """The user's intents in this domain, in order, where the corpus names them (SGD)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (used in ``info["goal"]``; ``intents`` only when there are some)."""
        result: dict[str, Any] = {"domain": self.domain, "constraints": dict(self.constraints),
                                  "requests": list(self.requests), "booking": dict(self.booking)}
        if self.intents:
            result["intents"] = list(self.intents)
        return result


@dataclass(frozen=True)
class Goal:
    """A user's whole goal: one :class:`DomainGoal` per domain, in the order they come up."""

    domains: tuple[DomainGoal, ...]
    source: str = "sampled"
    """``"sampled"`` or the corpus id (``"val.json:PMUL1635"``)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (used in ``info["goal"]``)."""
        return {"source": self.source, "domains": [d.to_dict() for d in self.domains]}


@dataclass(frozen=True)
class GoalSamplerConfig:
    """How :func:`sample_goal` draws goals."""

    max_domains: int = 2
    """At most this many domains per goal (fewer when the schema has fewer usable domains)."""
    p_second_domain: float = 0.4
    """Chance of each domain after the first."""
    max_constraints: int = 2
    """At most this many optional constraints besides the required ones."""
    max_requests: int = 2
    """At most this many requested slots per domain (at least one)."""
    p_booking: float = 0.4
    """Chance that the user also wants the domain's transaction, where it has one."""
    domains: tuple[str, ...] | None = None
    """Only these domains (default: every domain with entities)."""


def usable_domains(schema: Schema, names: tuple[str, ...] | None = None) -> list[Domain]:
    """Domains a sampled goal can use: those with entities (optionally only ``names``)."""
    chosen = [schema.domain(n) for n in names] if names else list(schema.domains.values())
    return [d for d in chosen if d.entities]


def sample_goal(schema: Schema, rng: np.random.Generator, config: GoalSamplerConfig | None = None) -> Goal:
    """Draw a satisfiable goal: pick domains, then one entity per domain, then slots of it.

    Constraints are the domain's required slots plus up to ``max_constraints`` other informable
    slots, all with the chosen entity's values; requests are requestable slots the entity has a
    value for; a booking (when drawn) takes values from each booking slot's possible values.
    """
    config = config or GoalSamplerConfig()
    domains = usable_domains(schema, config.domains)
    if not domains:
        raise DataFormatError(schema.source, "no domain has database entities; cannot sample goals",
                              field="entities")
    order = list(rng.permutation(len(domains)))
    count = 1
    while count < min(config.max_domains, len(domains)) and rng.random() < config.p_second_domain:
        count += 1
    goals = []
    for index in order[:count]:
        goals.append(_sample_domain_goal(domains[int(index)], rng, config))
    return Goal(domains=tuple(goals), source="sampled")


def split_of(key: str) -> str:
    """The split that ``key`` belongs to: train, validation or test (80/10/10) by a CRC32 of it."""
    bucket = zlib.crc32(key.encode()) % 10
    return "train" if bucket < 8 else "validation" if bucket == 8 else "test"


def goal_content_key(goal: Goal) -> str:
    """What a goal asks for (its domains' constraints, requests, booking), as canonical JSON."""
    return json.dumps([domain.to_dict() for domain in goal.domains], sort_keys=True)


def sample_goal_in_split(schema: Schema, rng: np.random.Generator, split: str,
                         config: GoalSamplerConfig | None = None, max_draws: int = 1000) -> Goal:
    """Draw goals until one belongs to ``split`` (:func:`split_of` its content), so that training,
    validation and test conversations never share a goal: a seed alone does not keep them apart
    when the goal space is small (20,000 draws in the bundled shop hold about 11,000 distinct goals)."""
    for _ in range(max_draws):
        goal = sample_goal(schema, rng, config)
        if split_of(goal_content_key(goal)) == split:
            return goal
    raise DialogEnvsError(
        f"{schema.source}: no sampled goal fell in the {split!r} split in {max_draws} draws; the goal "
        "space is too small to split 80/10/10 (pass goals of your own, or a user_factory)"
    )


def _sample_domain_goal(domain: Domain, rng: np.random.Generator, config: GoalSamplerConfig) -> DomainGoal:
    entity = domain.entities[int(rng.integers(len(domain.entities)))]
    constraints = {s: entity[s] for s in domain.required_slots if s in entity}
    optional = [s for s in domain.slots_where("informable")
                if s in entity and s not in constraints and s != domain.entity_key]
    if optional:
        k = int(rng.integers(1, min(config.max_constraints, len(optional)) + 1)) if not constraints \
            else int(rng.integers(0, min(config.max_constraints, len(optional)) + 1))
        for index in rng.choice(len(optional), size=k, replace=False):
            constraints[optional[int(index)]] = entity[optional[int(index)]]
    if not constraints and domain.entity_key in entity:
        constraints[domain.entity_key] = entity[domain.entity_key]
    requestable = [s for s in domain.slots_where("requestable") if s in entity and s not in constraints]
    requests: tuple[str, ...] = ()
    if requestable:
        k = int(rng.integers(1, min(config.max_requests, len(requestable)) + 1))
        picked = sorted(int(i) for i in rng.choice(len(requestable), size=k, replace=False))
        requests = tuple(requestable[i] for i in picked)
    booking: dict[str, str] = {}
    booking_slots = [s for s in domain.slots_where("booking") if domain.slots[s].values]
    if booking_slots and rng.random() < config.p_booking:
        for slot_name in booking_slots:
            values = domain.slots[slot_name].values
            booking[slot_name] = values[int(rng.integers(len(values)))]
    return DomainGoal(domain=domain.name, constraints=constraints, requests=requests, booking=booking)


# ---------------------------------------------------------------------------------------------
# MultiWOZ goals


def read_multiwoz_goals(path: str | PathLike[str], schema: Schema) -> list[Goal]:
    """Read the ``goal`` of every dialogue of a MultiWOZ 2.1 file (``{id: {"goal": ...}}``).

    Domains with an empty goal are skipped; a dialogue whose goal names no domain is skipped.
    Slot names are normalised and checked against ``schema``.

    Raises:
        DataFormatError: the file is not such an object, a goal part has the wrong type, or a goal
            names a domain or slot the schema does not have (names file, line and field).
    """
    path = Path(path).resolve()
    key = (str(path), path.stat().st_mtime_ns, schema.source)
    if key not in _GOAL_CACHE:
        _GOAL_CACHE[key] = _read_goals(path, schema)
    return list(_GOAL_CACHE[key])


_GOAL_CACHE: dict[tuple[str, int, str], tuple[Goal, ...]] = {}


def _read_goals(path: Path, schema: Schema) -> tuple[Goal, ...]:
    text = read_text(path)
    data = parse_json(path, text, expected="a JSON object of dialogues")
    if not isinstance(data, dict):
        raise DataFormatError(path, f"expected an object of dialogues, found {type(data).__name__}", field="<root>")
    lines = _id_lines(text)
    goals = []
    for dialogue_id, dialogue in data.items():
        line = lines.get(dialogue_id)
        where = str(dialogue_id)
        if not isinstance(dialogue, dict):
            raise DataFormatError(path, "expected a dialogue object", line=line, field=where)
        if "goal" not in dialogue:
            raise DataFormatError(path, "missing key; expected the user's goal", line=line, field=f"{where}.goal")
        goal = parse_multiwoz_goal(dialogue["goal"], schema, path, f"{where}.goal", line)
        if goal:
            goals.append(Goal(domains=tuple(goal), source=f"{path.name}:{dialogue_id}"))
    if not goals:
        raise DataFormatError(path, "no dialogue has a goal in a known domain", field="goal")
    return tuple(goals)


def _id_lines(text: str) -> dict[str, int]:
    """Line number of each top-level id (MultiWOZ files written one dialogue per line)."""
    lines = {}
    for number, line in enumerate(split_lines(text), start=1):
        if line.startswith('"'):
            end = line.find('"', 1)
            if end > 1:
                lines.setdefault(line[1:end], number)
    return lines


def parse_multiwoz_goal(raw: Any, schema: Schema, path: str | PathLike[str], where: str,
                        line: int | None = None) -> list[DomainGoal]:
    """Turn one MultiWOZ ``goal`` object into domain goals (see :func:`read_multiwoz_goals`)."""
    if not isinstance(raw, Mapping):
        raise DataFormatError(path, f"expected a goal object, found {type(raw).__name__}", line=line, field=where)
    result = []
    for domain_name, part in raw.items():
        if domain_name in GOAL_META_KEYS:
            continue
        field_name = f"{where}.{domain_name}"
        if domain_name not in schema.domains:
            raise DataFormatError(path, f"unknown domain; expected one of {', '.join(schema.domains)}",
                                  line=line, field=field_name)
        if not isinstance(part, Mapping):
            raise DataFormatError(path, f"expected an object, found {type(part).__name__}", line=line, field=field_name)
        if not part:
            continue
        domain = schema.domains[domain_name]
        info = _string_map(part.get("info", {}), path, f"{field_name}.info", line)
        constraints = {_goal_slot(k): normalise_value(v) for k, v in info.items()}
        check_slots(domain, constraints, path, f"{field_name}.info", line)
        reqt = part.get("reqt", [])
        if isinstance(reqt, Mapping):
            reqt = list(reqt)
        if not isinstance(reqt, list) or not all(isinstance(r, str) for r in reqt):
            raise DataFormatError(path, "expected a list of slot names", line=line, field=f"{field_name}.reqt")
        requests = tuple(dict.fromkeys(_goal_slot(r) for r in reqt))
        check_slots(domain, requests, path, f"{field_name}.reqt", line)
        book_raw = part.get("book", {})
        if not isinstance(book_raw, Mapping):
            raise DataFormatError(path, "expected an object of booking slots", line=line, field=f"{field_name}.book")
        book = _string_map({k: v for k, v in book_raw.items() if k not in BOOK_META_KEYS}, path,
                           f"{field_name}.book", line)
        booking = {_book_slot(k, domain): normalise_value(v) for k, v in book.items()}
        check_slots(domain, booking, path, f"{field_name}.book", line)
        if constraints or requests or booking:
            result.append(DomainGoal(domain=domain_name, constraints=constraints, requests=requests, booking=booking))
    return result


def _string_map(value: Any, path: str | PathLike[str], field_name: str, line: int | None) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise DataFormatError(path, f"expected an object of slot values, found {type(value).__name__}",
                              line=line, field=field_name)
    for key, item in value.items():
        if not isinstance(item, str):
            raise DataFormatError(path, f"expected a string value, found {type(item).__name__}",
                                  line=line, field=f"{field_name}.{key}")
    return dict(value)


def _goal_slot(name: str) -> str:
    slot = normalise_name(name)
    return GOAL_SLOT_ALIASES.get(slot, slot)


def _book_slot(name: str, domain: Domain) -> str:
    slot = normalise_name(name)
    return slot if slot in domain.slots else "book" + slot
