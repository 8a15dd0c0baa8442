"""The project's own NER corpus: seeded sentences from templates and name lists.

It exists so that ``gym.make("dialog_envs/NER-v0")`` works with no files, and so that tests and
quick runs have a small, fast, learnable task. The sentences are news-like, with four entity types
(PER, ORG, LOC, MISC) as in CoNLL-2003, multi-word names, and words that are entities in one
sentence and not in another. Everything here was written for this project.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from dialog_envs.data.conll import TaggedSentence
from dialog_envs.data.splits import check_split

FIRST_NAMES = (
    "Anna", "Boris", "Chen", "Dalia", "Emeka", "Fatima", "Goran", "Hiro", "Ines", "Jonas", "Kavya",
    "Lars", "Maya", "Nikolai", "Olu", "Priya", "Quentin", "Rosa", "Sven", "Tamar", "Umar", "Vera",
    "Wen", "Ximena", "Yusuf", "Zofia",
)
SURNAMES = (
    "Abara", "Berg", "Castell", "Dumont", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen",
    "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Schmidt",
    "Tanaka", "Urquhart", "Varga", "Walsh", "Yilmaz", "Zhou",
)
ORG_HEADS = (
    "Northwind", "Bluepeak", "Helix", "Orion", "Cobalt", "Meridian", "Sable", "Tidewater", "Quarry",
    "Lumen", "Granite", "Vantage", "Kestrel", "Ironbridge", "Saffron",
)
ORG_TAILS = ("Group", "Holdings", "Bank", "Motors", "Airlines", "Energy", "Systems", "Foods", "Labs", "United")
CITIES = (
    "Lisbon", "Oslo", "Nairobi", "Osaka", "Lima", "Tbilisi", "Hamburg", "Quito", "Perth", "Dakar",
    "Krakow", "Porto", "Valencia", "Bergen", "Tunis", "Hanoi",
)
MULTIWORD_PLACES = ("New Harbor", "Port Elain", "San Carmelo", "West Lorn", "Upper Vale", "Costa Verde")
COUNTRIES = ("Norway", "Kenya", "Japan", "Peru", "Georgia", "Portugal", "Chile", "Senegal", "Poland", "Vietnam")
NATIONALITIES = ("Norwegian", "Kenyan", "Japanese", "Peruvian", "Georgian", "Portuguese", "Chilean", "Polish")
EVENTS = ("World Cup", "Olympic Games", "Spring Open", "Harbor Marathon", "Davis Trophy", "Film Week")

# {PER}, {ORG}, {LOC}, {MISC} are entity slots; other words are tagged O.
TEMPLATES = (
    "{PER} joined {ORG} as chief executive on Monday .",
    "{ORG} said profits rose in {LOC} last quarter .",
    "{PER} told reporters in {LOC} that talks would resume .",
    "Shares of {ORG} fell after {PER} resigned .",
    "The {MISC} team beat {LOC} 2-1 in {LOC} .",
    "{PER} won the {MISC} in {LOC} .",
    "{ORG} will open a plant near {LOC} , {PER} said .",
    "Police in {LOC} arrested two men on Tuesday .",
    "{PER} , a {MISC} diplomat , arrived in {LOC} .",
    "{ORG} and {ORG} agreed to merge .",
    "Rain delayed the {MISC} final for two hours .",
    "{PER} scored twice as {ORG} won at home .",
    "Prices in {LOC} rose 3 percent in March .",
    "{ORG} hired {PER} to lead its {LOC} office .",
    "Fans of {ORG} gathered in {LOC} before the match .",
    "{PER} and {PER} met in {LOC} to discuss trade .",
    "The central bank of {LOC} kept rates on hold .",
    "{MISC} exports to {LOC} grew sharply .",
    "Analysts expect {ORG} to report a loss .",
    "{PER} will visit {LOC} next week , officials said .",
    "Flights from {LOC} to {LOC} were cancelled .",
    "{PER} thanked {ORG} for its support .",
    "It was the first {MISC} title for {PER} .",
    "Workers at {ORG} in {LOC} went on strike .",
)


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _entity(rng: np.random.Generator, entity_type: str) -> str:
    """A random entity name of the given type (one or more words)."""
    if entity_type == "PER":
        form = rng.integers(3)
        if form == 0:
            return _pick(rng, SURNAMES)
        return f"{_pick(rng, FIRST_NAMES)} {_pick(rng, SURNAMES)}"
    if entity_type == "ORG":
        return f"{_pick(rng, ORG_HEADS)} {_pick(rng, ORG_TAILS)}" if rng.random() < 0.7 else _pick(rng, ORG_HEADS)
    if entity_type == "LOC":
        return _pick(rng, (CITIES, COUNTRIES, MULTIWORD_PLACES)[int(rng.integers(3))])
    return _pick(rng, NATIONALITIES if rng.random() < 0.6 else EVENTS)


def generate_sentence(rng: np.random.Generator) -> TaggedSentence:
    """One sentence with IOB2 tags, drawn from ``rng``."""
    words: list[str] = []
    tags: list[str] = []
    for piece in _pick(rng, TEMPLATES).split():
        if piece.startswith("{") and piece.endswith("}"):
            entity_type = piece[1:-1]
            name = _entity(rng, entity_type).split()
            words.extend(name)
            tags.extend([f"B-{entity_type}"] + [f"I-{entity_type}"] * (len(name) - 1))
        else:
            words.append(piece)
            tags.append("O")
    return TaggedSentence(tuple(words), tuple(tags))


SPLIT_SIZES = {"train": 2000, "validation": 300, "test": 300}
SPLIT_SEEDS = {"train": 1001, "validation": 2002, "test": 3003}


@lru_cache(maxsize=3)
def generated_ner_split(split: str) -> tuple[TaggedSentence, ...]:
    """The default corpus's split: 2,000 / 300 / 300 sentences, each split from its own fixed seed."""
    rng = np.random.default_rng(SPLIT_SEEDS[check_split(split)])
    return tuple(generate_sentence(rng) for _ in range(SPLIT_SIZES[split]))
