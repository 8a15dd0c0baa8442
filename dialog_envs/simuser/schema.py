"""The task schema a simulated user talks about: domains, slots, intents and an entity database.

A :class:`Schema` holds :class:`Domain` objects. Each domain has

* **slots** (:class:`Slot`): *informable* slots are constraints a user can state ("area",
  "order number"), *requestable* slots are facts a user can ask for ("phone", "opening hours"),
  *booking* slots are details of a transaction ("day", "people"). A slot has the phrases that
  name it in text (``synonyms``, the first one is the slot's natural name) and, when known, its
  possible values;
* **intents** (:class:`Intent`), as in the Schema-Guided Dialogue format;
* **entities**: the database rows (``{slot name: value}``, lower-cased strings) the agent answers
  from and the simulated user checks answers against.

Two sources:

* :func:`load_schema` reads a folder in the Schema-Guided-Dialogue / MultiWOZ 2.2 format (a
  ``schema*.json`` list of services) plus JSON entity databases ``db/<service>_db.json``, e.g.
  ``../shared/data/multiwoz21``;
* :func:`dialog_envs.simuser.domain.bundled_schema` builds the project's own online-shop domain in
  code.

Slot names are normalised (:func:`normalise_name`: lower case, no spaces, underscores or domain
prefix), so the MultiWOZ 2.2 name ``hotel-pricerange``, the 2.1 goal name ``pricerange`` and the
database column ``entrance fee`` / ``entrancefee`` meet.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from os import PathLike
from pathlib import Path
from typing import Any, Literal

from dialog_envs.data.text_files import read_json
from dialog_envs.errors import DataFormatError, DialogEnvsError

MatchRule = Literal["equal", "at_least", "at_most"]

TIME_PATTERN = r"\d{1,2}:\d{2}"
PHONE_PATTERN = r"\d{10,11}"
DONTCARE = "dontcare"

# Phrases that name common MultiWOZ / SGD slots in text (first = natural name used by templates).
COMMON_SLOT_SYNONYMS: dict[str, tuple[str, ...]] = {
    "pricerange": ("price range", "price", "budget", "priced"),
    "area": ("area", "part of town", "side of town", "part of the city"),
    "food": ("food", "cuisine", "food type"),
    "name": ("name", "called"),
    "type": ("type", "kind", "car type", "car"),
    "parking": ("parking",),
    "internet": ("internet", "wifi", "wi-fi"),
    "stars": ("star rating", "stars", "star"),
    "address": ("address", "located at"),
    "phone": ("phone number", "phone", "telephone", "number"),
    "postcode": ("postcode", "post code", "postal code", "zip code"),
    "ref": ("reference number", "reference", "ref", "confirmation number"),
    "entrancefee": ("entrance fee", "entry fee", "admission", "fee"),
    "openhours": ("opening hours", "open hours", "hours", "open"),
    "department": ("department",),
    "arriveby": ("arrival time", "arrive by", "arrives by", "arrive", "arrives", "arriving", "get there by"),
    "leaveat": ("departure time", "leave at", "leaves at", "leave after", "leave", "leaves", "leaving", "depart after"),
    "departure": ("departure", "leaving from", "departing from", "depart from", "starting from"),
    "destination": ("destination", "going to", "travel to"),
    "day": ("day", "travel day"),
    "duration": ("duration", "travel time", "journey time", "how long"),
    "price": ("price", "ticket price", "fare", "cost", "costs"),
    "trainid": ("train id", "train number"),
    "bookday": ("day", "booking day"),
    "bookpeople": ("number of people", "people", "persons", "guests", "person"),
    "bookstay": ("number of nights", "nights", "night", "stay"),
    "booktime": ("time", "booking time"),
}
# How a user names a domain (first = the phrase of the user's opening line) and text cues for it.
COMMON_DOMAIN_KEYWORDS: dict[str, tuple[str, ...]] = {
    "hotel": ("hotel", "guesthouse", "guest house", "place to stay"),
    "restaurant": ("restaurant", "place to eat", "place to dine"),
    "attraction": ("attraction", "place to visit", "something to do", "things to do"),
    "train": ("train", "train ticket"),
    "taxi": ("taxi", "cab"),
    "hospital": ("hospital",),
    "police": ("police station", "police"),
    "bus": ("bus",),
}
# Slot-name conventions of MultiWOZ: how values of open slots look and how constraints match.
SLOT_PATTERNS: dict[str, str] = {
    "leaveat": TIME_PATTERN,
    "arriveby": TIME_PATTERN,
    "booktime": TIME_PATTERN,
    "phone": PHONE_PATTERN,
}
SLOT_MATCH_RULES: dict[str, MatchRule] = {"leaveat": "at_least", "arriveby": "at_most"}
PLACE_SLOTS = ("departure", "destination")


def normalise_name(name: str, domain: str | None = None) -> str:
    """``"hotel-pricerange"`` / ``"Entrance Fee"`` / ``"arriveBy"`` -> ``"pricerange"`` etc."""
    name = name.strip().lower()
    if domain is not None and name.startswith(domain.lower() + "-"):
        name = name[len(domain) + 1 :]
    return re.sub(r"[\s_\-]+", "", name)


def _sortable(value: str) -> str:
    """``"9:05"`` -> ``"09:05"`` so that times compare as strings; other values unchanged."""
    return value.zfill(5) if re.fullmatch(TIME_PATTERN, value) else value


def normalise_value(value: str) -> str:
    """Lower-case a value and join its words with single spaces (how text is matched)."""
    return " ".join(str(value).lower().split())


@dataclass(frozen=True)
class Slot:
    """One slot of a domain."""

    name: str
    """Normalised name (``"pricerange"``)."""
    description: str = ""
    """What the slot means (from the schema file)."""
    informable: bool = False
    """A user can state it as a constraint."""
    requestable: bool = False
    """A user can ask for its value."""
    booking: bool = False
    """A detail of a transaction (booking, rescheduling, a return)."""
    values: tuple[str, ...] = ()
    """Possible values (categorical slots); empty for open slots."""
    synonyms: tuple[str, ...] = ()
    """Phrases that name the slot in text; the first is its natural name."""
    pattern: str | None = None
    """A regular expression that whole values of this open slot match (times, phone numbers)."""
    match: MatchRule = "equal"
    """How a constraint on this slot matches a database value (``at_least`` for "leave after")."""

    @property
    def phrase(self) -> str:
        """The slot's natural name in text."""
        return self.synonyms[0] if self.synonyms else self.name


@dataclass(frozen=True)
class Intent:
    """An intent of a domain, as in the Schema-Guided Dialogue format."""

    name: str
    description: str = ""
    transactional: bool = False
    required_slots: tuple[str, ...] = ()
    optional_slots: tuple[str, ...] = ()


@dataclass
class Domain:
    """One domain (a service in SGD terms) with its slots, intents and entities."""

    name: str
    description: str = ""
    slots: dict[str, Slot] = field(default_factory=dict)
    intents: tuple[Intent, ...] = ()
    entities: list[dict[str, str]] = field(default_factory=list)
    """Database rows, ``{slot name: lower-cased value}``."""
    entity_key: str | None = None
    """The slot that names an entity (``"name"``, ``"trainid"``, ``"orderid"``)."""
    keywords: tuple[str, ...] = ()
    """Phrases that signal this domain in text; the first is how a user names it."""
    user_openings: tuple[str, ...] = ()
    """Opening lines of a user with a goal in this domain (may contain ``{keyword}``)."""
    booking_phrases: tuple[str, ...] = ()
    """How a user asks for this domain's transaction ("book it", "reschedule the delivery")."""

    def slots_where(self, kind: Literal["informable", "requestable", "booking"]) -> list[str]:
        """Names of the slots of one kind, in schema order."""
        return [name for name, slot in self.slots.items() if getattr(slot, kind)]

    @cached_property
    def required_slots(self) -> tuple[str, ...]:
        """Slots a non-transactional intent requires (the user always states them)."""
        required: list[str] = []
        for intent in self.intents:
            if not intent.transactional:
                required += [s for s in intent.required_slots if s not in required]
        return tuple(required)

    def matches(self, entity: Mapping[str, str], constraints: Mapping[str, str]) -> bool:
        """Whether an entity satisfies every constraint (``dontcare`` and non-database slots pass)."""
        for slot_name, wanted in constraints.items():
            if wanted == DONTCARE or slot_name not in entity:
                continue
            slot = self.slots.get(slot_name)
            rule = slot.match if slot is not None else "equal"
            have = entity[slot_name]
            if rule != "equal":
                have, wanted = _sortable(have), _sortable(wanted)
            if rule == "at_least" and not have >= wanted:
                return False
            if rule == "at_most" and not have <= wanted:
                return False
            if rule == "equal" and have != wanted:
                return False
        return True

    def query(self, constraints: Mapping[str, str]) -> list[int]:
        """Indices of the entities that satisfy ``constraints``."""
        return [i for i, entity in enumerate(self.entities) if self.matches(entity, constraints)]


@dataclass
class Schema:
    """All domains a simulated user may talk about."""

    domains: dict[str, Domain]
    source: str = "bundled"
    """Where the schema came from (a folder path, or ``"bundled"``)."""

    def domain(self, name: str) -> Domain:
        """The domain called ``name`` (raises a clear error for an unknown name)."""
        try:
            return self.domains[name]
        except KeyError:
            raise DialogEnvsError(
                f"unknown domain {name!r}; expected one of {', '.join(self.domains)}"
            ) from None


# ---------------------------------------------------------------------------------------------
# Reading the Schema-Guided-Dialogue / MultiWOZ 2.2 format


def _expect(value: Any, kind: type | tuple[type, ...], path: Path, field_name: str, what: str) -> Any:
    if not isinstance(value, kind):
        raise DataFormatError(
            path, f"expected {what}, found {type(value).__name__}", field=field_name
        )
    return value


def _slot_list(value: Any, path: Path, field_name: str, domain: str) -> tuple[str, ...]:
    if isinstance(value, Mapping):
        value = list(value)
    _expect(value, list, path, field_name, "a list (or object) of slot names")
    names = []
    for i, item in enumerate(value):
        _expect(item, str, path, f"{field_name}[{i}]", "a slot name (string)")
        names.append(normalise_name(item, domain))
    return tuple(names)


def read_sgd_schema(path: str | PathLike[str]) -> list[tuple[Domain, dict[str, Any]]]:
    """Read a Schema-Guided-Dialogue schema file (a JSON list of services).

    Each service needs ``service_name`` (string), ``slots`` (list of objects with ``name`` and
    optional ``description``, ``possible_values``, ``is_categorical``) and ``intents`` (list of
    objects with ``name`` and optional ``required_slots``, ``optional_slots``,
    ``is_transactional``). Returns the domains (without entities) with the raw service objects.

    Raises:
        DataFormatError: a key is missing or has the wrong type, or a service or slot name repeats
            an earlier one (names the file and field).
    """
    path = Path(path)
    data = read_json(path, expected="a JSON list of services")
    _expect(data, list, path, "<root>", "a list of services")
    result = []
    seen: set[str] = set()
    for si, service in enumerate(data):
        where = f"[{si}]"
        _expect(service, dict, path, where, "a service object")
        if "service_name" not in service:
            raise DataFormatError(path, "missing key; expected the service's name", field=f"{where}.service_name")
        name = _expect(service["service_name"], str, path, f"{where}.service_name", "a string").lower()
        if name in seen:
            raise DataFormatError(
                path, f"service {service['service_name']!r} repeats service {name!r} (names are compared in "
                "lower case); expected each service once", field=f"{where}.service_name",
            )
        seen.add(name)
        for key in ("slots", "intents"):
            if key not in service:
                raise DataFormatError(path, f"missing key; expected a list of {key}", field=f"{where}.{key}")
            _expect(service[key], list, path, f"{where}.{key}", f"a list of {key}")
        intents = []
        for ii, intent in enumerate(service["intents"]):
            iwhere = f"{where}.intents[{ii}]"
            _expect(intent, dict, path, iwhere, "an intent object")
            if "name" not in intent:
                raise DataFormatError(path, "missing key; expected the intent's name", field=f"{iwhere}.name")
            intents.append(
                Intent(
                    name=_expect(intent["name"], str, path, f"{iwhere}.name", "a string"),
                    description=str(intent.get("description", "")),
                    transactional=bool(
                        _expect(intent.get("is_transactional", False), bool, path,
                                f"{iwhere}.is_transactional", "true or false")
                    ),
                    required_slots=_slot_list(intent.get("required_slots", []), path, f"{iwhere}.required_slots", name),
                    optional_slots=_slot_list(intent.get("optional_slots", []), path, f"{iwhere}.optional_slots", name),
                )
            )
        intent_slots = {s for intent in intents for s in intent.required_slots + intent.optional_slots}
        slots: dict[str, Slot] = {}
        for li, raw in enumerate(service["slots"]):
            lwhere = f"{where}.slots[{li}]"
            _expect(raw, dict, path, lwhere, "a slot object")
            if "name" not in raw:
                raise DataFormatError(path, "missing key; expected the slot's name", field=f"{lwhere}.name")
            slot_name = normalise_name(_expect(raw["name"], str, path, f"{lwhere}.name", "a string"), name)
            if slot_name in slots:
                raise DataFormatError(
                    path, f"slot {raw['name']!r} repeats slot {slot_name!r} of service {name!r} (names are "
                    "compared in lower case without spaces, '_' or '-'); expected each slot once",
                    field=f"{lwhere}.name",
                )
            values = raw.get("possible_values", [])
            _expect(values, list, path, f"{lwhere}.possible_values", "a list of strings")
            for vi, value in enumerate(values):
                _expect(value, str, path, f"{lwhere}.possible_values[{vi}]", "a string")
            is_booking = slot_name.startswith("book") and slot_name != "book"
            synonyms = COMMON_SLOT_SYNONYMS.get(slot_name) or _derived_synonyms(raw["name"], name)
            slots[slot_name] = Slot(
                name=slot_name,
                description=str(raw.get("description", "")),
                informable=slot_name in intent_slots and not is_booking,
                requestable=not is_booking,
                booking=is_booking,
                values=tuple(normalise_value(v) for v in values if normalise_value(v) != DONTCARE),
                synonyms=synonyms,
                pattern=SLOT_PATTERNS.get(slot_name),
                match=SLOT_MATCH_RULES.get(slot_name, "equal"),
            )
        for intent_slot in intent_slots:
            if intent_slot not in slots:
                raise DataFormatError(
                    path, f"intent slot {intent_slot!r} is not one of the service's slots",
                    field=f"{where}.intents",
                )
        key = next((k for k in ("name", "trainid") if k in slots), None)
        keywords = COMMON_DOMAIN_KEYWORDS.get(name, (name,))
        domain = Domain(
            name=name,
            description=str(service.get("description", "")),
            slots=slots,
            intents=tuple(intents),
            entity_key=key,
            keywords=keywords,
        )
        result.append((domain, service))
    return result


def _derived_synonyms(raw_name: str, domain: str) -> tuple[str, ...]:
    short = raw_name.strip().lower()
    if short.startswith(domain + "-"):
        short = short[len(domain) + 1 :]
    spaced = re.sub(r"[_\-]+", " ", short)
    return tuple(dict.fromkeys([spaced, normalise_name(short)]))


def read_entity_db(path: str | PathLike[str], domain: Domain) -> list[dict[str, str]]:
    """Read a JSON entity database for ``domain``.

    The file is a list of objects (one per entity). Fields are matched to the domain's slots by
    normalised name; fields that are no slot are kept when they are strings or numbers and
    skipped when they are lists or objects (e.g. MultiWOZ ``location``). A field that *is* a slot
    must be a string or number. MultiWOZ's ``taxi_db.json``, an object of value lists
    (``taxi_colors``, ``taxi_types``, ``taxi_phone``; alone or in a one-element list), is read as one entity per colour and car
    type, with generated phone numbers.

    Raises:
        DataFormatError: the file is not a list of objects, or a slot field has the wrong type.
    """
    path = Path(path)
    data = read_json(path, expected="a JSON list of entity objects")
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        data = data[0] if "taxi_colors" in data[0] else data
    if isinstance(data, dict) and "taxi_colors" in data and "taxi_types" in data:
        return _taxi_entities(data, path)
    _expect(data, list, path, "<root>", "a list of entity objects")
    entities = []
    for i, raw in enumerate(data):
        _expect(raw, dict, path, f"[{i}]", "an entity object")
        entity: dict[str, str] = {}
        for key, value in raw.items():
            slot_name = normalise_name(key, domain.name)
            if isinstance(value, bool):
                value = "yes" if value else "no"
            if isinstance(value, (str, int, float)):
                text = normalise_value(str(value))
                if text and text != "?":
                    entity[slot_name] = text
            elif slot_name in domain.slots:
                raise DataFormatError(
                    path, f"expected a string or number for slot {slot_name!r}, found "
                    f"{type(value).__name__}", field=f"[{i}].{key}",
                )
        entities.append(entity)
    return entities


def _taxi_entities(data: Mapping[str, Any], path: Path) -> list[dict[str, str]]:
    colours = _expect(data["taxi_colors"], list, path, "taxi_colors", "a list of strings")
    types = _expect(data["taxi_types"], list, path, "taxi_types", "a list of strings")
    entities = []
    for ci, colour in enumerate(colours):
        for ti, car in enumerate(types):
            _expect(colour, str, path, f"taxi_colors[{ci}]", "a string")
            _expect(car, str, path, f"taxi_types[{ti}]", "a string")
            number = (ci * len(types) + ti + 1) * 7919 % 10**9
            entities.append({"type": normalise_value(f"{colour} {car}"), "phone": f"07{number:09d}"})
    return entities


def load_schema(folder: str | PathLike[str]) -> Schema:
    """Read a MultiWOZ-style folder: one ``schema*.json`` (SGD format) and ``db/<domain>_db.json``.

    Domains without a database file keep an empty entity list. Open place-like slots without
    values (MultiWOZ taxi ``departure``/``destination``) take every entity name of the other
    domains as their known values, so they can be recognised in text.

    Raises:
        DialogEnvsError: the folder does not exist or holds no schema file.
        DataFormatError: a schema or database file is malformed (names the file and field).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DialogEnvsError(f"data_path {str(folder)!r} is not a folder; expected a folder with schema*.json and db/")
    candidates = sorted(folder.glob("schema*.json"))
    if not candidates:
        raise DialogEnvsError(
            f"no schema file in {str(folder)!r}; expected schema.json or schema_*.json (SGD format)"
        )
    domains: dict[str, Domain] = {}
    for domain, _raw in read_sgd_schema(candidates[0]):
        db_path = folder / "db" / f"{domain.name}_db.json"
        if db_path.is_file():
            domain.entities = read_entity_db(db_path, domain)
        domains[domain.name] = domain
    _fill_place_slots(domains)
    return Schema(domains=domains, source=str(folder))


def _fill_place_slots(domains: Mapping[str, Domain]) -> None:
    places: list[str] = []
    for domain in domains.values():
        if domain.entity_key == "name":
            places += [e["name"] for e in domain.entities if "name" in e]
        for slot_name in PLACE_SLOTS:
            if slot_name in domain.slots:
                places += list(domain.slots[slot_name].values)
    places = list(dict.fromkeys(places))
    for domain in domains.values():
        for slot_name in PLACE_SLOTS:
            slot = domain.slots.get(slot_name)
            if slot is not None and not slot.values and not any(slot_name in e for e in domain.entities):
                domain.slots[slot_name] = Slot(**{**slot.__dict__, "values": tuple(places)})


def check_slots(domain: Domain, names: Iterable[str], path: str | PathLike[str], field_name: str,
                line: int | None = None) -> None:
    """Raise :class:`DataFormatError` if a slot name is not a slot of ``domain``."""
    for name in names:
        if name not in domain.slots:
            raise DataFormatError(
                path, f"unknown slot {name!r} for domain {domain.name!r}; expected one of "
                f"{', '.join(domain.slots)}", line=line, field=f"{field_name}.{name}",
            )


def sequence_str(values: Sequence[str]) -> str:
    """``["a", "b", "c"]`` -> ``"a, b and c"`` (used by templates)."""
    values = list(values)
    if len(values) <= 1:
        return "".join(values)
    return ", ".join(values[:-1]) + " and " + values[-1]
