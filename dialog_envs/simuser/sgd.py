"""The Schema-Guided Dialogue corpus (SGD, DSTC8 track 4) as a simulated user's domain and goals.

SGD is distributed as ``train/``, ``dev/`` and ``test/`` folders, each with its own
``schema.json`` (the split's services) and ``dialogues_NNN.json`` files; it has no database
files. :func:`load_sgd` turns one split into a :class:`~dialog_envs.simuser.schema.Schema` and
the corpus goals:

* **Domains** are the split's services (``schema.json``, read by
  :func:`~dialog_envs.simuser.schema.read_sgd_schema`; names lower-cased, ``restaurants_2``).
  Slots named in an intent are informable; slots that only a transactional intent takes (the
  reservation's time, the new alarm's name; every slot of a service that only has transactional
  intents, such as a ride) are *booking* slots, the details of the service's transaction. A
  slot's phrase in text is its description ("time of the alarm") when that is a short noun
  phrase, else its name in words ("has seating outdoors"). The user names a service by its name
  in words ("restaurants 2"), since sibling services (``Flights_1``, ``Flights_2``) know
  different entities. Nothing about a service comes from anywhere but its schema and the split's
  dialogues, so services never seen in training work as the others do.
* **Entities** of a service are the ``service_results`` of its system frames, merged over the
  split's dialogues (duplicates dropped; in a service whose entities have a name, results
  without one, such as a calendar's free time slots, are left out). Entities with more slots
  come first, so that the first match of a query has every slot a goal may ask about (a round
  trip's return flight, which a one-way result lacks). Every value the split's users state for
  a slot joins that slot's known values, so the rule reader can read it.
* **Goals** come from each dialogue's user side, one domain goal per service in the order the
  services come up (a service where the user states no intent, value or request has none): the
  user's active intents, the constraints (the last ``INFORM`` value of each informable slot,
  ``canonical_values`` first as they are the values ``service_results`` hold; ``dontcare``
  dropped), the requested slots (``REQUEST`` acts), and -- when an intent is transactional --
  the booking details the user stated. A goal with neither requests nor a booking in a service
  whose entities have no name asks for the slots the system offered.

``data_path`` may be the root (``split`` picks ``train``, ``dev`` for ``"validation"``, or
``test``) or one split's folder.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from os import PathLike
from pathlib import Path
from typing import Any

from dialog_envs.data.splits import check_split
from dialog_envs.data.text_files import read_json
from dialog_envs.errors import DataFormatError, DialogEnvsError
from dialog_envs.simuser.goals import DomainGoal, Goal, split_of
from dialog_envs.simuser.schema import DONTCARE, Domain, Schema, Slot, normalise_name, normalise_value, read_sgd_schema
from dialog_envs.simuser.understanding import BOOKING_CUE_RE, DONTCARE_RE, GOODBYE_RE, NO_MATCH_RE, THANKS_RE

SPLIT_FOLDERS: dict[str, str] = {"train": "train", "validation": "dev", "test": "test"}
"""The folder of each split in the distributed corpus."""
DIALOGUE_GLOB = "dialogues_*.json"
NOT_NOUN_PHRASE = ("whether", "boolean", "flag", "if ", "is ", "does ", "indicat")
"""How descriptions that are no noun phrase start ("Whether the restaurant has live music")."""
MAX_PHRASE_WORDS = 7
"""A longer description is no slot phrase; the slot's name in words is."""
SENTENCE_MARKS = re.compile(r"(?<!\d)\.|\.(?!\d)|[!?;]")
"""Marks where the reader ends a sentence (a point between digits is none)."""
TEXT_CUES = (BOOKING_CUE_RE, DONTCARE_RE, GOODBYE_RE, NO_MATCH_RE, THANKS_RE)
"""What the reader takes as a wish to book, "don't care", a goodbye, "nothing matches" or thanks:
no slot phrase may hold one."""
USER_OPENINGS = (
    "hi, i'd like to use the {keyword} service.",
    "hello, i need help from the {keyword} service.",
    "hi, can you help me with the {keyword} service?",
)


@dataclass(frozen=True)
class SGDSplit:
    """One split of SGD read as a simulated user's domain: schema (with entities) and goals."""

    schema: Schema
    goals: tuple[Goal, ...]
    unseen_services: frozenset[str]
    """Domains (lower-cased service names) of this split that the training split's schema lacks
    (empty for the training split, or when there is no training folder next to this one)."""


def is_sgd_path(data_path: str | PathLike[str]) -> bool:
    """Whether ``data_path`` is an SGD root (a ``train``/``dev``/``test`` folder inside) or one split's folder."""
    path = Path(data_path)
    return _is_split_folder(path) or any(_is_split_folder(path / name) for name in SPLIT_FOLDERS.values())


def _is_split_folder(path: Path) -> bool:
    return (path / "schema.json").is_file() and any(path.glob(DIALOGUE_GLOB))


def sgd_goals(data_path: str | PathLike[str], split: str, goals: str = "auto",
              goal_file_split: str | None = None) -> tuple[Schema, list[Goal] | None]:
    """The schema and the corpus goals (None with ``goals="sample"``) of an SGD split, as
    :func:`dialog_envs.envs.simuser.load_domain` returns them. With ``goal_file_split`` the goals
    of that split's folder are read and those of ``split`` (80/10/10 by a CRC32 of the dialogue
    id) kept."""
    data = load_sgd(data_path, goal_file_split or split)
    if goals == "sample":
        return data.schema, None
    pool = list(data.goals)
    if goal_file_split is not None:
        pool = [goal for goal in pool if split_of(goal.source) == split]
    return data.schema, pool


def split_folder(data_path: str | PathLike[str], split: str) -> Path:
    """The folder of ``split``: ``data_path`` itself when it is one split's folder, else its
    ``train``/``dev``/``test`` child."""
    path = Path(data_path)
    if _is_split_folder(path):
        return path
    check_split(split)
    folder = path / SPLIT_FOLDERS[split]
    if not _is_split_folder(folder):
        raise DialogEnvsError(
            f"no {split!r} split in SGD folder {str(path)!r}; expected {SPLIT_FOLDERS[split]}/ with schema.json "
            f"and {DIALOGUE_GLOB}"
        )
    return folder


def load_sgd(data_path: str | PathLike[str], split: str = "train") -> SGDSplit:
    """Read one split of SGD (see the module docstring); cached per folder and file times.

    Raises:
        DialogEnvsError: the split's folder is missing.
        DataFormatError: a schema or dialogue file is malformed (names the file and field).
    """
    folder = split_folder(data_path, split).resolve()
    training = folder.parent / SPLIT_FOLDERS["train"]
    unseen: frozenset[str] = frozenset()
    stamp = tuple((path.name, path.stat().st_mtime_ns) for path in sorted(folder.glob("*.json")))
    schema, goals = _read_split(str(folder), stamp)
    if training != folder and (training / "schema.json").is_file():
        known = {domain.name for domain, _ in read_sgd_schema(training / "schema.json")}
        unseen = frozenset(name for name in schema.domains if name not in known)
    return SGDSplit(schema=schema, goals=goals, unseen_services=unseen)


@lru_cache(maxsize=4)
def _read_split(folder: str, stamp: tuple[tuple[str, int], ...]) -> tuple[Schema, tuple[Goal, ...]]:
    """The schema and goals of one split's folder (``stamp``: its files' names and modification
    times, so that an edited file is read again)."""
    path = Path(folder)
    services = read_sgd_schema(path / "schema.json")
    domains = {domain.name: _sgd_domain(domain, raw) for domain, raw in services}
    dialogue_files = sorted(path.glob(DIALOGUE_GLOB))
    values: dict[str, dict[str, list[str]]] = {name: {} for name in domains}
    entities: dict[str, dict[tuple[tuple[str, str], ...], None]] = {name: {} for name in domains}
    raw_goals: list[tuple[str, list[_ServiceGoal]]] = []
    for dialogue_path in dialogue_files:
        for index, dialogue in enumerate(_read_json_list(dialogue_path)):
            where = f"[{index}]"
            dialogue_id = _field(dialogue, "dialogue_id", str, dialogue_path, where)
            turns = _field(dialogue, "turns", list, dialogue_path, where)
            goal = _read_dialogue(turns, domains, dialogue_path, where, values, entities)
            if goal:
                raw_goals.append((f"{dialogue_path.name}:{dialogue_id}", goal))
    for name, domain in domains.items():
        found = [dict(entity) for entity in entities[name]]
        named = [entity for entity in found if domain.entity_key is None or domain.entity_key in entity]
        domain.entities = sorted(named, key=len, reverse=True)
        domain.slots = {slot_name: _with_values(slot, values[name].get(slot_name, ()))
                        for slot_name, slot in domain.slots.items()}
    schema = Schema(domains=domains, source=str(path))
    goals = tuple(Goal(domains=tuple(_domain_goal(g, domains[g.domain]) for g in goal), source=source)
                  for source, goal in raw_goals)
    if not goals:
        raise DataFormatError(path, f"no dialogue with a user goal in {DIALOGUE_GLOB}", field="turns")
    return schema, goals


# -- the schema side -------------------------------------------------------------------------------


def _sgd_domain(domain: Domain, raw: Mapping[str, Any]) -> Domain:
    """A domain of :func:`read_sgd_schema` with SGD's booking slots, slot phrases, entity key and
    the service name as its keyword."""
    searching = [intent for intent in domain.intents if not intent.transactional]
    search_slots = {s for intent in searching for s in intent.required_slots + intent.optional_slots}
    search_results = {normalise_name(s, domain.name) for intent in raw.get("intents", []) if not intent.get("is_transactional")
                      for s in intent.get("result_slots", []) if isinstance(s, str)}
    transaction_slots = {s for intent in domain.intents if intent.transactional
                         for s in intent.required_slots + intent.optional_slots}
    booking = transaction_slots - search_slots - search_results
    phrases = _slot_phrases(domain, raw)
    slots = {}
    for name, slot in domain.slots.items():
        is_booking = name in booking
        slots[name] = dataclasses.replace(
            slot, informable=slot.informable and not is_booking, requestable=not is_booking, booking=is_booking,
            synonyms=phrases[name], pattern=None, match="equal",
        )
    keyword = _service_words(str(raw["service_name"]))
    key = next((s for s in slots if s in search_results and (s.endswith("name") or s == "title")
                and not slots[s].booking), None)
    return dataclasses.replace(
        domain, slots=slots, entity_key=key, keywords=(keyword,),
        user_openings=tuple(line.format(keyword=keyword) for line in USER_OPENINGS),
    )


def _service_words(service_name: str) -> str:
    """``"RentalCars_1"`` -> ``"rental cars 1"``."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", service_name)
    return " ".join(re.sub(r"[_\-]+", " ", spaced).lower().split())


def _slot_phrases(domain: Domain, raw: Mapping[str, Any]) -> dict[str, tuple[str, ...]]:
    """Each slot's phrases: its description when that is a short noun phrase, no other slot's, and
    free of the words the reader takes as cues ("reservation" would read as a wish to book), then
    its name in words."""
    raw_names = {normalise_name(s["name"], domain.name): s["name"] for s in raw["slots"]}
    described: dict[str, str] = {}
    for name, slot in domain.slots.items():
        text = " ".join(slot.description.lower().split(" (")[0].rstrip(". ").split())
        text = re.sub(r"^(the|a|an) ", "", text)
        if (text and not text.startswith(NOT_NOUN_PHRASE) and len(text.split()) <= MAX_PHRASE_WORDS
                and not any(cue.search(text) for cue in TEXT_CUES)):
            described[name] = text
    counts: dict[str, int] = {}
    for text in described.values():
        counts[text] = counts.get(text, 0) + 1
    phrases = {}
    for name in domain.slots:
        spaced = " ".join(re.sub(r"[_\-]+", " ", raw_names[name].lower()).split())
        own = described.get(name) if counts.get(described.get(name, ""), 0) == 1 else None
        phrases[name] = tuple(dict.fromkeys(p for p in (own, spaced) if p))
    return phrases


def _with_values(slot: Slot, seen: Iterable[str]) -> Slot:
    values = tuple(dict.fromkeys([*slot.values, *(v for v in seen if v != DONTCARE)]))
    return dataclasses.replace(slot, values=values)


# -- the dialogue side -----------------------------------------------------------------------------


@dataclass
class _ServiceGoal:
    """What a dialogue's user does in one service, as read (before the domain's slot kinds apply)."""

    domain: str
    intents: list[str]
    informs: dict[str, str]
    requests: list[str]
    offered: list[str]


def _read_dialogue(turns: list[Any], domains: Mapping[str, Domain], path: Path, where: str,
                   values: dict[str, dict[str, list[str]]],
                   entities: dict[str, dict[tuple[tuple[str, str], ...], None]]) -> list[_ServiceGoal]:
    goals: dict[str, _ServiceGoal] = {}
    for ti, turn in enumerate(turns):
        twhere = f"{where}.turns[{ti}]"
        _expect(turn, dict, path, twhere, "a turn object")
        speaker = _field(turn, "speaker", str, path, twhere)
        if speaker not in ("USER", "SYSTEM"):
            raise DataFormatError(path, f"expected USER or SYSTEM, found {speaker!r}", field=f"{twhere}.speaker")
        for fi, frame in enumerate(_field(turn, "frames", list, path, twhere)):
            fwhere = f"{twhere}.frames[{fi}]"
            _expect(frame, dict, path, fwhere, "a frame object")
            service = _field(frame, "service", str, path, fwhere).lower()
            if service not in domains:
                raise DataFormatError(path, f"unknown service {service!r}; expected one of schema.json's services",
                                      field=f"{fwhere}.service")
            domain = domains[service]
            actions = _field(frame, "actions", list, path, fwhere)
            if speaker == "SYSTEM":
                _read_results(frame, domain, path, fwhere, entities[service])
                goal = goals.get(service)
                if goal is not None:
                    for act, slot, _ in _actions(actions, domain, path, fwhere):
                        if act == "OFFER" and slot not in goal.offered:
                            goal.offered.append(slot)
                continue
            goal = goals.setdefault(service, _ServiceGoal(service, [], {}, [], []))
            state = frame.get("state", {})
            _expect(state, dict, path, f"{fwhere}.state", "a state object")
            intent = state.get("active_intent", "NONE")
            _expect(intent, str, path, f"{fwhere}.state.active_intent", "an intent name (string)")
            if intent != "NONE" and intent not in goal.intents:
                goal.intents.append(intent)
            for act, slot, value in _actions(actions, domain, path, fwhere):
                if act == "INFORM" and value is not None:
                    goal.informs[slot] = value
                    if value != DONTCARE:
                        values[service].setdefault(slot, []).append(value)
                elif act == "REQUEST" and slot not in goal.requests:
                    goal.requests.append(slot)
    return [goal for goal in goals.values() if goal.intents or goal.informs or goal.requests]


def sgd_value(value: str) -> str:
    """A value as the simulator and its reader see it: lower case, single spaces, and without the
    marks that end a sentence (``"Washington D.C."`` -> ``"washington dc"``; ``"2.5"`` keeps its
    point), so that the reader never splits a value in two."""
    return normalise_value(SENTENCE_MARKS.sub("", value))


def _actions(actions: list[Any], domain: Domain, path: Path, where: str) -> list[tuple[str, str, str | None]]:
    """``(act, slot, value)`` of a frame's actions on the domain's slots (value: the first
    canonical value, else the first value, normalised; None without one)."""
    result = []
    for ai, action in enumerate(actions):
        awhere = f"{where}.actions[{ai}]"
        _expect(action, dict, path, awhere, "an action object")
        act = _field(action, "act", str, path, awhere)
        slot = normalise_name(_field(action, "slot", str, path, awhere), domain.name)
        found = action.get("canonical_values") or _field(action, "values", list, path, awhere)
        _expect(found, list, path, f"{awhere}.values", "a list of strings")
        if not slot or slot not in domain.slots:
            continue
        value = found[0] if found else None
        if value is not None:
            _expect(value, str, path, f"{awhere}.values[0]", "a string")
            value = sgd_value(value)
        result.append((act, slot, value))
    return result


def _read_results(frame: Mapping[str, Any], domain: Domain, path: Path, where: str,
                  known: dict[tuple[tuple[str, str], ...], None]) -> None:
    results = frame.get("service_results", [])
    _expect(results, list, path, f"{where}.service_results", "a list of result objects")
    for ri, result in enumerate(results):
        rwhere = f"{where}.service_results[{ri}]"
        _expect(result, dict, path, rwhere, "a result object")
        entity = []
        for key, value in result.items():
            _expect(value, str, path, f"{rwhere}.{key}", "a string value")
            name = normalise_name(key, domain.name)
            if name in domain.slots and sgd_value(value):
                entity.append((name, sgd_value(value)))
        if entity:
            known.setdefault(tuple(entity), None)


def _domain_goal(goal: _ServiceGoal, domain: Domain) -> DomainGoal:
    """The domain goal of what a user did in a service. Without requests or a booking the user
    wants an entity named; where entities have no name (a weather report, a flight) it asks for
    what the system offered, else for the first slot a matching entity has."""
    transactional = {intent.name for intent in domain.intents if intent.transactional}
    wants_transaction = any(intent in transactional for intent in goal.intents)
    constraints = {s: v for s, v in goal.informs.items() if v != DONTCARE and domain.slots[s].informable}
    booking = {s: v for s, v in goal.informs.items()
               if v != DONTCARE and domain.slots[s].booking and wants_transaction}
    requests = [s for s in goal.requests if domain.slots[s].requestable and s not in constraints]
    if not requests and not booking and domain.entity_key is None:
        requests = [s for s in goal.offered if domain.slots[s].requestable and s not in constraints]
        matches = domain.query(constraints)
        if not requests and matches:
            entity = domain.entities[matches[0]]
            requests = [s for s, slot in domain.slots.items() if slot.requestable and s in entity
                        and s not in constraints][:1]
    return DomainGoal(domain=domain.name, constraints=constraints, requests=tuple(requests), booking=booking,
                      intents=tuple(goal.intents))


# -- reading JSON with clear errors ----------------------------------------------------------------


def _read_json_list(path: Path) -> list[Any]:
    return _expect(read_json(path, "a list of dialogues"), list, path, "<root>", "a list of dialogues")


def _expect(value: Any, kind: type | tuple[type, ...], path: Path, where: str, what: str) -> Any:
    if not isinstance(value, kind):
        raise DataFormatError(path, f"expected {what}, found {type(value).__name__}", field=where)
    return value


def _field(obj: Any, key: str, kind: type, path: Path, where: str) -> Any:
    _expect(obj, dict, path, where, "an object")
    if key not in obj:
        raise DataFormatError(path, f"missing key; expected {kind.__name__}", field=f"{where}.{key}")
    return _expect(obj[key], kind, path, f"{where}.{key}", "a " + {str: "string", list: "list"}.get(kind, kind.__name__))


def service_groups(final_infos: Sequence[Mapping[str, Any]], unseen: frozenset[str]) -> dict[str, float]:
    """Success of finished episodes on goals that touch a service of ``unseen``
    (``success_unseen_services``) and on the others (``success_seen_services``); a key is left out
    when no episode falls in its group."""
    groups: dict[str, list[float]] = {"success_unseen_services": [], "success_seen_services": []}
    for info in final_infos:
        goal = info.get("goal")
        if not isinstance(goal, Mapping) or "success" not in info:
            continue
        touches = any(part.get("domain") in unseen for part in goal.get("domains", []))
        groups["success_unseen_services" if touches else "success_seen_services"].append(float(info["success"]))
    return {key: sum(found) / len(found) for key, found in groups.items() if found}
