"""The project's own NER corpus: seeded sentences from templates and name lists.

It exists so that ``gym.make("dialog_envs/NER-v0")`` works with no files, and so that tests and
quick runs have a small, fast task that still takes learning. The sentences are news-like, with
four entity types (PER, ORG, LOC, MISC) as in CoNLL-2003 and multi-word names. Two things keep a
closed list of names from solving it:

* **Names unseen in training.** Every name list has a held-out part (:data:`HELD_OUT_SHARE` of it,
  plus names built from syllables) that only the validation and test splits use, for about half
  of their entities; with the default word tokenizer such names are unknown words, so the type
  must come from the context.
* **Ambiguous words.** :data:`AMBIGUOUS_NAMES` are person names, places and company names
  ("Jordan", "Jordan Okafor", "Jordan Energy"), and capitalised words that are parts of names
  elsewhere ("Energy", "United") also start sentences as plain words.

Everything here was written for this project.
"""

from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np

from dialog_envs.data.conll import TaggedSentence
from dialog_envs.data.splits import check_split

FIRST_NAMES = (
    "Anna", "Boris", "Chen", "Dalia", "Emeka", "Fatima", "Goran", "Hiro", "Ines", "Jonas", "Kavya",
    "Lars", "Maya", "Nikolai", "Olu", "Priya", "Quentin", "Rosa", "Sven", "Tamar", "Umar", "Vera",
    "Wen", "Ximena", "Yusuf", "Zofia", "Amara", "Bjorn", "Carmen", "Dmitri", "Elif", "Farid",
)
SURNAMES = (
    "Abara", "Berg", "Castell", "Dumont", "Eriksen", "Fischer", "Garcia", "Haddad", "Ivanova", "Jensen",
    "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov", "Quinn", "Rossi", "Schmidt",
    "Tanaka", "Urquhart", "Varga", "Walsh", "Yilmaz", "Zhou", "Mensah", "Novak", "Ortega", "Sato", "Dube",
)
ORG_HEADS = (
    "Northwind", "Bluepeak", "Helix", "Orion", "Cobalt", "Meridian", "Sable", "Tidewater", "Quarry",
    "Lumen", "Granite", "Vantage", "Kestrel", "Ironbridge", "Saffron", "Pinecrest", "Halcyon", "Brightwater",
)
ORG_TAILS = ("Group", "Holdings", "Bank", "Motors", "Airlines", "Energy", "Systems", "Foods", "Labs", "United")
CITIES = (
    "Lisbon", "Oslo", "Nairobi", "Osaka", "Lima", "Tbilisi", "Hamburg", "Quito", "Perth", "Dakar",
    "Krakow", "Porto", "Valencia", "Bergen", "Tunis", "Hanoi", "Accra", "Riga", "Cusco", "Izmir", "Malmo",
)
MULTIWORD_PLACES = ("New Harbor", "Port Elain", "San Carmelo", "West Lorn", "Upper Vale", "Costa Verde", "East Brook", "Santa Lena")
COUNTRIES = ("Norway", "Kenya", "Japan", "Peru", "Portugal", "Chile", "Senegal", "Poland", "Vietnam", "Ghana", "Latvia", "Turkey")
NATIONALITIES = ("Norwegian", "Kenyan", "Japanese", "Peruvian", "Georgian", "Portuguese", "Chilean", "Polish", "Ghanaian", "Latvian", "Turkish")
EVENTS = ("World Cup", "Olympic Games", "Spring Open", "Harbor Marathon", "Davis Trophy", "Film Week", "Winter Classic", "Coastal Regatta")

AMBIGUOUS_NAMES = ("Jordan", "Georgia", "Victoria", "Lincoln", "Chelsea", "Austin", "Florence", "Sydney")
"""Words that are a person's first name, a place and a company's name, in every split: only the
context tells which (``Jordan Okafor`` PER, ``in Jordan`` LOC, ``Jordan Energy`` ORG)."""

HELD_OUT_SHARE = 1 / 3
"""The last third of every name list above (but :data:`AMBIGUOUS_NAMES`) appears only in the
validation and test splits."""
HELD_OUT_RATE = 0.5
"""How often a validation or test entity takes its name from the held-out parts."""
COINED_RATE = 0.3
"""How often a name is coined from :data:`SYLLABLES` instead of taken from a list; coined words
whose CRC32 is even serve training, odd ones validation and test, so they never meet."""
SYLLABLES = ("ka", "lo", "mi", "ta", "re", "so", "vi", "da", "ne", "po", "ru", "be", "zo", "fa", "gi", "hu", "ar", "en")

# {PER}, {ORG}, {LOC}, {MISC} are entity slots; other words are tagged O. Capitalised words that
# are parts of names elsewhere (Energy, United, Group, Labs) start some sentences as plain words.
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
    "Energy prices in {LOC} fell for a third month .",
    "United action by {ORG} and {ORG} failed , {PER} said .",
    "Group sales at {ORG} rose 5 percent .",
    "Labs in {LOC} tested the new vaccine .",
    "{LOC} raised interest rates on Friday .",
    "{ORG} raised its forecast on Friday .",
    "{PER} raised the issue with {PER} on Friday .",
    "A spokesman for {ORG} declined to comment .",
    "A spokesman for {PER} declined to comment .",
    "Talks between {LOC} and {ORG} ended without a deal .",
    "{PER} , who founded {ORG} , lives in {LOC} .",
    "Voters in {LOC} backed {PER} in the {MISC} vote .",
)


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _part(rng: np.random.Generator, options: tuple[str, ...], held_out: bool) -> str:
    """A word of a name: coined, or from the training or the held-out part of ``options``."""
    if rng.random() < COINED_RATE:
        return _coined(rng, held_out)
    cut = len(options) - max(1, round(len(options) * HELD_OUT_SHARE))
    return _pick(rng, options[cut:] if held_out else options[:cut])


def _coined(rng: np.random.Generator, held_out: bool) -> str:
    """A made-up capitalised word of two or three syllables on the side of the split."""
    while True:
        word = "".join(_pick(rng, SYLLABLES) for _ in range(2 + int(rng.integers(2)))).capitalize()
        if zlib.crc32(word.encode()) % 2 == int(held_out):
            return word


def _entity(rng: np.random.Generator, entity_type: str, held_out: bool) -> str:
    """A random entity name of the given type (one or more words)."""
    ambiguous = rng.random() < 0.15
    if entity_type == "PER":
        first = _pick(rng, AMBIGUOUS_NAMES) if ambiguous else _part(rng, FIRST_NAMES, held_out)
        surname = _part(rng, SURNAMES, held_out)
        return surname if rng.random() < 0.3 and not ambiguous else f"{first} {surname}"
    if entity_type == "ORG":
        head = _pick(rng, AMBIGUOUS_NAMES) if ambiguous else _part(rng, ORG_HEADS, held_out)
        return f"{head} {_pick(rng, ORG_TAILS)}" if ambiguous or rng.random() < 0.7 else head
    if entity_type == "LOC":
        if ambiguous:
            return _pick(rng, AMBIGUOUS_NAMES)
        kind = int(rng.integers(3))
        if kind == 2:
            cut = len(MULTIWORD_PLACES) - max(1, round(len(MULTIWORD_PLACES) * HELD_OUT_SHARE))
            return _pick(rng, MULTIWORD_PLACES[cut:] if held_out else MULTIWORD_PLACES[:cut])
        return _part(rng, (CITIES, COUNTRIES)[kind], held_out)
    if rng.random() < 0.6:
        return _part(rng, NATIONALITIES, held_out)
    cut = len(EVENTS) - max(1, round(len(EVENTS) * HELD_OUT_SHARE))
    return _pick(rng, EVENTS[cut:] if held_out else EVENTS[:cut])


def generate_sentence(rng: np.random.Generator, held_out_rate: float = 0.0) -> TaggedSentence:
    """One sentence with IOB2 tags, drawn from ``rng``; each entity's name comes from the held-out
    parts of the name lists with probability ``held_out_rate``."""
    words: list[str] = []
    tags: list[str] = []
    for piece in _pick(rng, TEMPLATES).split():
        if piece.startswith("{") and piece.endswith("}"):
            entity_type = piece[1:-1]
            name = _entity(rng, entity_type, held_out=bool(rng.random() < held_out_rate)).split()
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
    """The default corpus's split: 2,000 / 300 / 300 sentences, each split from its own fixed seed;
    validation and test entities take held-out names at :data:`HELD_OUT_RATE`."""
    rng = np.random.default_rng(SPLIT_SEEDS[check_split(split)])
    held_out_rate = 0.0 if split == "train" else HELD_OUT_RATE
    return tuple(generate_sentence(rng, held_out_rate) for _ in range(SPLIT_SIZES[split]))
