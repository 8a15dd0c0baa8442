"""A rule-based reader of free text in one domain: which slots it asks for, which values it states.

:class:`RuleReader` turns an utterance into a :class:`Reading`. It works on the schema alone:

1. The text is split into sentences (at ``. ! ? ;`` and new lines, but not inside ``2.95`` or
   ``17:30``) and words.
2. In each sentence, the longest phrases known to the domain's :class:`Lexicon` are found from left
   to right: slot *synonyms* ("phone number", "area") and slot *values* (schema values, database
   values, and open values that match a slot's pattern such as ``17:30``).
3. A value that belongs to one slot only and is not generic is read as that slot's value. A
   *weak* value -- generic (``yes``, ``4``), shared by several slots of the domain (a weekday
   that is both a day and a booking day), or a word that names the domain ("hotel") -- is given to the slot whose synonym is nearest in the
   same sentence (preceding wins a tie), and dropped when no such synonym is there.
4. In a question (ends with ``?`` or starts like ``what``/``could you``...), a slot named without
   a value, or with two or more values (a choice), is *requested*.
5. Whole-text cues: goodbye, thanks, "nothing matches", a booking's reference number, a wish to
   book, "I don't mind the <slot>".

The reader of a simulated user (and of the reference agent) is any callable
``reader(text, domain_name) -> Reading``; :class:`RuleReader` is the default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Protocol

from dialog_envs.simuser.schema import Domain, Schema, normalise_value

TOKEN_RE = re.compile(r"\d+(?:[.:]\d+)+|[a-z0-9]+(?:'[a-z]+)?")
SENTENCE_SPLIT_RE = re.compile(r"((?<!\d)[.!?;\n]|[.!?;\n](?!\d))")
QUESTION_STARTS = (
    "what", "which", "when", "where", "how", "who", "could", "can", "would", "do", "does", "did",
    "is", "are", "may", "please tell", "tell me", "let me know", "please provide", "please give",
)
GENERIC_WEAK_VALUES = frozenset({"yes", "no", "free", "none", "dontcare"})
PLAIN_WORDS = frozenset({
    "a", "about", "all", "also", "an", "and", "any", "anything", "ask", "be", "book", "bye", "can", "care",
    "could", "done", "else", "find", "for", "found", "give", "go", "goodbye", "great", "hello", "help", "hi",
    "i", "it", "know", "like", "made", "make", "match", "me", "mind", "more", "my", "name", "need", "next",
    "not", "of", "ok", "on", "one", "options", "perfect", "please", "right", "said", "sorry", "still", "sure",
    "tell", "thank", "thanks", "that", "the", "there", "this", "to", "up", "want", "what", "which", "with",
    "you", "your",
})
"""Everyday words of the simulator's and the reference agent's sentences: a value that is one of
them (a song called "Help") is weak, so "can you help me" names no song."""
GOODBYE_RE = re.compile(r"\b(good ?bye|bye|see you|have a (?:nice|good|great|lovely) (?:day|evening|trip))\b")
THANKS_RE = re.compile(r"\b(thanks|thank you|cheers)\b")
NO_MATCH_RE = re.compile(
    r"\b(no match(?:es)?|nothing (?:that )?match(?:es)?|there (?:is|are) no|there isn't any|there aren't any|"
    r"(?:could ?n[o']t|can ?n[o']t|cannot|did ?n[o']t|was unable to|am unable to) find|no results?|"
    r"do(?:es)? ?n[o']t have any|none of (?:our|the))\b"
)
REFERENCE_RE = re.compile(
    r"\b(?:reference|ref|confirmation|return label)(?: number| code| no)?(?: is|:| =)?\s+([a-z0-9]*\d[a-z0-9]*)\b"
)
BOOKING_CUE_RE = re.compile(
    r"\b(book|booking|reserve|reservation|reschedule|move the delivery|change the delivery|"
    r"arrange a return|book a return|set up the return|set up a return)\b"
)
DONTCARE_RE = re.compile(r"\b(don't mind|do not mind|don't care|do not care|doesn't matter|does not matter|"
                         r"no preference|any (?:is|will be) fine)\b")


def tokenize(text: str) -> list[str]:
    """Lower-cased words and numbers (``2.95`` and ``17:30`` stay whole)."""
    return TOKEN_RE.findall(text.lower())


def split_sentences(text: str) -> list[tuple[str, bool]]:
    """``(sentence, is_question)`` pairs of a text."""
    parts = SENTENCE_SPLIT_RE.split(text.lower())
    result = []
    for body, delimiter in zip(parts[0::2], parts[1::2] + [""]):
        body = body.strip()
        if body:
            question = delimiter == "?" or body.startswith(QUESTION_STARTS)
            result.append((body, question))
    return result


@dataclass
class Reading:
    """What one utterance says, as read in one domain."""

    domain: str | None
    informs: list[tuple[str, str]] = field(default_factory=list)
    """``(slot, value)`` pairs stated (in order, repeats removed)."""
    requests: list[str] = field(default_factory=list)
    """Slots asked for."""
    dontcare: list[str] = field(default_factory=list)
    """Slots the speaker has no preference on."""
    no_match: bool = False
    """Says that nothing matches."""
    reference: str | None = None
    """A booking reference number given (a booking was made)."""
    booking_intent: bool = False
    """Asks for the domain's transaction (book, reschedule, arrange a return)."""
    goodbye: bool = False
    thanks: bool = False
    words: int = 0
    """Number of words."""

    def values_of(self, slot: str) -> list[str]:
        """Every value stated for ``slot``."""
        return [v for s, v in self.informs if s == slot]


class Reader(Protocol):
    """Anything that reads an utterance in a domain (``domain`` may be None: no domain known)."""

    def __call__(self, text: str, domain: str | None) -> Reading: ...


@dataclass
class Lexicon:
    """The phrases of one domain: slot synonyms and slot values, keyed by their word tuples."""

    synonyms: dict[tuple[str, ...], list[str]]
    values: dict[tuple[str, ...], list[tuple[str, str]]]
    patterns: list[tuple[re.Pattern[str], str]]
    weak: set[tuple[str, str]]
    max_len: int

    @classmethod
    def build(cls, domain: Domain) -> Lexicon:
        synonyms: dict[tuple[str, ...], list[str]] = {}
        values: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        slots_of_value: dict[str, set[str]] = {}
        for slot in domain.slots.values():
            for phrase in slot.synonyms:
                key = tuple(tokenize(phrase))
                if key and slot.name not in synonyms.setdefault(key, []):
                    synonyms[key].append(slot.name)
            known = list(slot.values) + [e[slot.name] for e in domain.entities if slot.name in e]
            for value in dict.fromkeys(known):
                key = tuple(tokenize(value))
                if not key:
                    continue
                entry = (slot.name, value)
                if entry not in values.setdefault(key, []):
                    values[key].append(entry)
                    slots_of_value.setdefault(value, set()).add(slot.name)
        patterns = [(re.compile(slot.pattern), slot.name) for slot in domain.slots.values() if slot.pattern]
        weak = set()
        keywords = {normalise_value(k) for k in domain.keywords}
        for value, slots in slots_of_value.items():
            if (len(slots) > 1 or value in GENERIC_WEAK_VALUES or value in PLAIN_WORDS or value in keywords
                    or (value.isdigit() and len(value) <= 2)):
                weak.update((s, value) for s in slots)
        pattern_slots: dict[str, list[str]] = {}
        for regex, slot_name in patterns:
            pattern_slots.setdefault(regex.pattern, []).append(slot_name)
        for names in pattern_slots.values():
            if len(names) > 1:
                weak.update((name, "*pattern*") for name in names)
        max_len = max([len(k) for k in list(synonyms) + list(values)] or [1])
        return cls(synonyms, values, patterns, weak, max_len)

    def is_weak(self, slot: str, value: str, from_pattern: bool) -> bool:
        """Whether a value needs a nearby synonym to be given to ``slot``."""
        return (slot, value) in self.weak or (from_pattern and (slot, "*pattern*") in self.weak)


class RuleReader:
    """The default reader: reads text with the lexicons of a schema's domains."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._lexicons: dict[str, Lexicon] = {}
        self._keywords: dict[tuple[str, ...], str] = {}
        for domain in schema.domains.values():
            for phrase in domain.keywords or (domain.name,):
                words = tokenize(phrase)
                self._keywords.setdefault(tuple(words), domain.name)
                self._keywords.setdefault(tuple(words[:-1] + [words[-1] + "s"]), domain.name)  # plural
        self._keyword_len = max((len(k) for k in self._keywords), default=1)

    def lexicon(self, domain: str) -> Lexicon:
        """The lexicon of a domain (built once)."""
        if domain not in self._lexicons:
            self._lexicons[domain] = Lexicon.build(self.schema.domain(domain))
        return self._lexicons[domain]

    def domains_named(self, text: str) -> list[str]:
        """Domains whose keywords appear in ``text``, in order of first mention."""
        tokens = tokenize(text)
        found: list[str] = []
        i = 0
        while i < len(tokens):
            for n in range(min(self._keyword_len, len(tokens) - i), 0, -1):
                domain = self._keywords.get(tuple(tokens[i : i + n]))
                if domain is not None:
                    if domain not in found:
                        found.append(domain)
                    i += n
                    break
            else:
                i += 1
        return found

    def __call__(self, text: str, domain: str | None) -> Reading:
        lowered = text.lower()
        reading = Reading(domain=domain, words=len(text.split()))
        reading.goodbye = bool(GOODBYE_RE.search(lowered))
        reading.thanks = bool(THANKS_RE.search(lowered))
        reading.no_match = bool(NO_MATCH_RE.search(lowered))
        reference = REFERENCE_RE.search(lowered)
        reading.reference = reference.group(1) if reference else None
        reading.booking_intent = bool(BOOKING_CUE_RE.search(lowered))
        if domain is None:
            return reading
        lexicon = self.lexicon(domain)
        for sentence, question in split_sentences(text):
            self._read_sentence(sentence, question, lexicon, reading)
        reading.informs = list(dict.fromkeys(reading.informs))
        reading.requests = list(dict.fromkeys(reading.requests))
        return reading

    def _read_sentence(self, sentence: str, question: bool, lexicon: Lexicon, reading: Reading) -> None:
        tokens = tokenize(sentence)
        mentions: list[tuple[int, str]] = []  # (position, slot) of synonyms
        found: list[tuple[int, list[tuple[str, str]], bool]] = []  # (position, candidates, from pattern)
        i = 0
        while i < len(tokens):
            for n in range(min(lexicon.max_len, len(tokens) - i), 0, -1):
                key = tuple(tokens[i : i + n])
                syn = lexicon.synonyms.get(key)
                val = lexicon.values.get(key)
                if syn or val:
                    mentions += [(i, s) for s in syn or ()]
                    if val:
                        if n == 1:  # a value that open slots' patterns also match is theirs too
                            val = val + [(name, key[0]) for regex, name in lexicon.patterns
                                         if regex.fullmatch(key[0]) and (name, key[0]) not in val]
                        found.append((i, val, False))
                    i += n
                    break
            else:
                matched = [(name, tokens[i]) for regex, name in lexicon.patterns if regex.fullmatch(tokens[i])]
                if matched:
                    found.append((i, matched, True))
                i += 1
        informs: list[tuple[str, str]] = []
        for position, candidates, from_pattern in found:
            strong = [c for c in candidates if not lexicon.is_weak(c[0], c[1], from_pattern)]
            if len(candidates) == 1 and strong:
                informs.append(candidates[0])
                continue
            best: tuple[float, tuple[str, str]] | None = None
            for slot, value in candidates:
                for syn_position, syn_slot in mentions:
                    if syn_slot == slot:
                        distance = abs(position - syn_position) + (0.5 if syn_position > position else 0.0)
                        if best is None or distance < best[0]:
                            best = (distance, (slot, value))
            if best is not None:
                informs.append(best[1])
        dontcare = bool(DONTCARE_RE.search(sentence))
        asked: list[str] = []
        for _, slot in mentions:
            if dontcare:
                if slot not in reading.dontcare:
                    reading.dontcare.append(slot)
            elif question and sum(1 for s, _ in informs if s == slot) != 1:
                asked.append(slot)
        reading.requests += asked
        # A choice offered in a question ("north or south?") is no statement.
        reading.informs += [(s, v) for s, v in informs if s not in asked]
