"""A rule-based reference agent for the simulated-user environment (``dialog_envs/SimUser-v0``).

It proves the task is solvable and gives a ceiling: it reads the user's text with the same
schema-driven :class:`~dialog_envs.simuser.understanding.RuleReader`, tracks constraints,
requests and booking details per domain, queries the entity database, and answers with plain
templates:

1. switch to a domain whose keyword the user names (ignoring words that are values in the
   current domain, such as "store drop off");
2. a slot the domain's intent requires (an order number) is missing -> ask for it; no entity
   matches -> say so;
3. several entities match and a slot that tells them apart was not asked yet -> ask for it
   (at most ``max_questions`` such questions per domain);
4. otherwise name the first matching entity (once), answer every pending request from it, and
   -- when the user wants the transaction -- ask for the missing booking details or book it and
   give a reference number.

With ``placeholders=True`` it writes *delexicalised* replies, ``The tracking number is [tracking
number].``, and :meth:`ReferenceAgent.lexicalise` fills such placeholders from the database, as
the delexicalised response generators of MultiWOZ systems do (SimpleTOD, LAVA).

API: :meth:`ReferenceAgent.reset` then :meth:`ReferenceAgent.reply` with each user utterance;
:func:`run_episode` plays one conversation through the text-level core.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dialog_envs.simuser.conversation import Conversation
from dialog_envs.simuser.schema import DONTCARE, Domain, Schema, sequence_str
from dialog_envs.simuser.understanding import Reading, RuleReader

REFERENCE_PLACEHOLDER = "[reference number]"
"""The placeholder of a booking's reference number (made up when the placeholder is filled)."""
PLACEHOLDER = re.compile(r"\[([^\[\]]+)\]")


@dataclass
class _Track:
    """What the agent knows about one domain of the conversation."""

    constraints: dict[str, str] = field(default_factory=dict)
    booking: dict[str, str] = field(default_factory=dict)
    pending: list[str] = field(default_factory=list)
    asked: set[str] = field(default_factory=set)
    offered: int | None = None
    wants_booking: bool = False
    booked: bool = False


class ReferenceAgent:
    """Rule-based agent for any schema (bundled shop domain or MultiWOZ)."""

    def __init__(
        self, schema: Schema, reader: RuleReader | None = None, max_questions: int = 1, placeholders: bool = False
    ) -> None:
        self.schema = schema
        self.max_questions = max_questions
        """How many narrowing questions the agent asks per domain before it names an entity."""
        self.placeholders = placeholders
        """Write ``[slot phrase]`` placeholders instead of database values (delexicalised replies)."""
        self.reader = reader or RuleReader(schema)
        self.reset()

    def reset(self) -> None:
        """Forget the conversation."""
        self.domain: str | None = None
        self.tracks: dict[str, _Track] = {}
        self.turn = 0

    def observe(self, user_text: str) -> Reading | None:
        """Read the user's latest utterance into the tracked constraints, without answering."""
        self.turn += 1
        self.domain = self._domain_of(user_text)
        if self.domain is None:
            return None
        reading = self.reader(user_text, self.domain)
        self._update(self.tracks.setdefault(self.domain, _Track()), self.schema.domain(self.domain), reading)
        return reading

    def reply(self, user_text: str) -> str:
        """The agent's answer to the user's latest utterance."""
        reading = self.observe(user_text)
        if reading is None:
            return "Hello, how can I help you today?"
        if reading.goodbye and not reading.informs and not reading.requests:
            return "You're welcome. Goodbye!"
        return self._answer(self.tracks[self.domain], self.schema.domain(self.domain))

    def database_view(self, max_entities: int = 1) -> str:
        """One line of what the database holds for the constraints read so far: the domain, how
        many entities match, and the first ``max_entities`` of them with all their slots.

        This is the "DB result" a task-oriented dialogue system works from; SimUser-v0 shows it
        to learned agents after every user turn (``database_view=True``).
        """
        if self.domain is None:
            return "db: no request yet"
        domain = self.schema.domain(self.domain)
        matches = _matches(domain, self.tracks[self.domain])
        line = f"db: {domain.name}, {len(matches)} match{'es' if len(matches) != 1 else ''}"
        for index in matches[:max_entities]:
            entity = domain.entities[index]
            line += "; " + ", ".join(f"{domain.slots[s].phrase} {v}" for s, v in entity.items() if s in domain.slots)
        return line

    def lexicalise(self, text: str) -> str:
        """Fill the ``[slot phrase]`` placeholders of a reply from the first database match of the
        constraints read so far (the entity :meth:`database_view` shows); ``[reference number]``
        gets a made-up reference. Placeholders that name no slot of that entity stay as written."""
        if self.domain is None:
            return text
        domain = self.schema.domain(self.domain)
        track = self.tracks[self.domain]
        matches = _matches(domain, track)
        entity = domain.entities[matches[0]] if matches else {}
        values = {domain.slots[s].phrase: str(v) for s, v in entity.items() if s in domain.slots}
        values[REFERENCE_PLACEHOLDER[1:-1]] = self._reference(domain, track)
        return PLACEHOLDER.sub(lambda match: values.get(match.group(1), match.group(0)), text)

    # -- reading the user --------------------------------------------------------------------------

    def _domain_of(self, text: str) -> str | None:
        masked = text.lower()
        if self.domain is not None:
            for _, value in self.reader(text, self.domain).informs:
                masked = re.sub(rf"\b{re.escape(value)}\b", " ", masked)
        named = [d for d in self.reader.domains_named(masked) if d != self.domain]
        if named:
            return named[0]
        if self.domain is not None:
            return self.domain
        scores = {name: len(self.reader(text, name).informs) for name in self.schema.domains}
        best = max(scores, key=lambda name: scores[name])
        return best if scores[best] > 0 else None

    def _update(self, track: _Track, domain: Domain, reading: Reading) -> None:
        for slot_name, value in reading.informs:
            slot = domain.slots[slot_name]
            if slot.informable:
                if track.constraints.get(slot_name) != value:
                    track.offered = None
                track.constraints[slot_name] = value
            elif slot.booking:
                track.booking[slot_name] = value
        for slot_name in reading.dontcare:
            if domain.slots[slot_name].booking:
                track.booking[slot_name] = DONTCARE
            else:
                track.constraints.setdefault(slot_name, DONTCARE)
        for slot_name in reading.requests:
            slot = domain.slots[slot_name]
            if slot.requestable and slot_name not in track.pending and track.constraints.get(slot_name, DONTCARE) == DONTCARE:
                track.pending.append(slot_name)
        if reading.booking_intent:
            track.wants_booking = True

    # -- answering -------------------------------------------------------------------------------

    def _answer(self, track: _Track, domain: Domain) -> str:
        candidates = _matches(domain, track)
        keyword = domain.keywords[0] if domain.keywords else domain.name
        if not candidates:
            track.pending.clear()
            return f"I'm sorry, there is no {keyword} that matches your request. Can I help with anything else?"
        missing = [s for s in domain.required_slots if s not in track.constraints]
        if missing:
            track.asked.update(missing)
            phrases = [domain.slots[s].phrase for s in missing]
            return f"Sure. Could you tell me the {sequence_str(phrases)}?"
        if track.offered is None or track.offered not in candidates:
            track.offered = None
            question = self._distinguishing_slot(track, domain, candidates)
            if question is not None:
                track.asked.add(question)
                return f"There are {len(candidates)} options. Which {domain.slots[question].phrase} would you like?"
        sentences = []
        if track.offered is None:
            track.offered = candidates[0]
            key = domain.entity_key
            entity = domain.entities[track.offered]
            if key is not None and key in entity:
                sentences.append(f"I found a match. The {domain.slots[key].phrase} is {self._value(domain, entity, key)}.")
            else:
                sentences.append(f"I found a {keyword} for you.")
        entity = domain.entities[track.offered]
        for slot_name in track.pending:
            if slot_name == domain.entity_key and sentences:
                continue  # just named
            phrase = domain.slots[slot_name].phrase
            if slot_name in entity:
                sentences.append(f"The {phrase} is {self._value(domain, entity, slot_name)}.")
            else:
                sentences.append(f"I'm sorry, I don't have the {phrase}.")
        track.pending.clear()
        if track.wants_booking and not track.booked:
            needed = [s for s in domain.slots_where("booking") if s not in track.booking]
            if needed:
                phrases = [domain.slots[s].phrase for s in needed]
                track.asked.update(needed)
                sentences.append(f"Could you tell me the {sequence_str(phrases)}?")
            else:
                track.booked = True
                reference = REFERENCE_PLACEHOLDER if self.placeholders else self._reference(domain, track)
                sentences.append(f"All done. Your reference number is {reference}.")
        if not sentences:
            name = self._value(domain, entity, domain.entity_key) if domain.entity_key in entity else keyword
            sentences.append(f"Is there anything else I can help you with for {name}?")
        return " ".join(sentences)

    def _value(self, domain: Domain, entity: dict[str, Any], slot_name: str) -> str:
        """A slot's value as the reply states it: the value, or its placeholder."""
        return f"[{domain.slots[slot_name].phrase}]" if self.placeholders else str(entity[slot_name])

    def _distinguishing_slot(self, track: _Track, domain: Domain, candidates: list[int]) -> str | None:
        if len(track.asked & set(domain.slots_where("informable"))) >= self.max_questions:
            return None
        for slot_name in domain.slots_where("informable"):
            if slot_name in track.constraints or slot_name in track.asked or slot_name == domain.entity_key:
                continue
            values = {domain.entities[i].get(slot_name) for i in candidates}
            if len(values) > 1:
                return slot_name
        return None

    def _reference(self, domain: Domain, track: _Track) -> str:
        text = f"{domain.name}|{track.offered}|{sorted(track.booking.items())}|{self.turn}"
        return f"ref{zlib.crc32(text.encode()) % 100000:05d}"


def _matches(domain: Domain, track: _Track) -> list[int]:
    """The entities of ``domain`` that match the constraints tracked so far ("don't care" matches all)."""
    return domain.query({s: v for s, v in track.constraints.items() if v != DONTCARE})


def run_episode(conversation: Conversation, agent: Any, rng: np.random.Generator) -> dict[str, Any]:
    """Play one conversation of ``agent`` (``reset()``, ``reply(user_text) -> str``) against the user.

    Returns the last step's ``info`` (``success``, ``turns``, ``inform_*``, ...) plus ``return``.
    """
    user_text = conversation.reset(rng)
    agent.reset()
    total = 0.0
    while True:
        step = conversation.step(agent.reply(user_text))
        total += step.reward
        user_text = step.user_text
        if step.terminated or step.truncated:
            return {**step.info, "return": total}
