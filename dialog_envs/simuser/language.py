"""Putting user acts into words: templates with seeded variety.

:class:`TemplateLanguage` realises a list of :class:`~dialog_envs.simuser.acts.UserAct` as one
utterance. Every template names the slot right before its value ("the area should be north"), so
the rule reader (and the reference agent) can attribute generic values. Where several templates
fit, the episode's random generator picks one, so the same seed gives the same words.

Any callable ``language(acts, rng) -> str`` can replace it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from dialog_envs.simuser.acts import UserAct
from dialog_envs.simuser.schema import Schema, sequence_str

Language = Callable[[Sequence[UserAct], np.random.Generator], str]

INFORM = (
    "My {slot} is {value}.",
    "The {slot} should be {value}.",
    "I'd like the {slot} to be {value}.",
    "I need the {slot} to be {value}.",
)
DONTCARE = ("I don't mind the {slot}.", "I don't care about the {slot}.", "The {slot} doesn't matter to me.")
REQUEST = ("What is the {slots}?", "Could you tell me the {slots}?", "Can you give me the {slots}?",
           "I'd like to know the {slots}, please?")
REQUEST_AGAIN = ("I still need the {slots}. What is it?", "Sorry, could you tell me the {slots}?",
                 "You didn't give me the {slots}. What is it?")
BOOK = ("Could you book it for me?", "I'd like to make a booking.", "Please book it.")
NEGATE = ("No, the {slot} should be {value}.", "That's not right, I need the {slot} to be {value}.",
          "No, I said the {slot} is {value}.")
NUDGE = ("Can you help me with that?", "What can you find for me?", "Can you go on, please?")
THANK_BYE = ("Thank you, that's all I needed. Goodbye.", "Great, thanks for your help. Bye.",
             "Perfect, thank you. Goodbye.")
GIVE_UP = ("This isn't helping. Goodbye.", "I give up, bye.", "Never mind, I'll ask somewhere else. Bye.")
OPEN_FIRST = ("Hi, I'm looking for a {keyword}.", "Hello, I need a {keyword}.", "Hi, can you help me find a {keyword}?")
OPEN_NEXT = ("Thanks. I also need a {keyword}.", "Thank you. Next, I'm looking for a {keyword}.",
             "OK. I also need help finding a {keyword}.")
NEXT_PREFIX = ("Thanks. One more thing: ", "Thank you. Also, ", "OK, next question. ")
GREETINGS = ("hi there, ", "hello, ", "hi, ")


class TemplateLanguage:
    """Realise user acts with the templates above and the schema's slot phrases."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema

    def __call__(self, acts: Sequence[UserAct], rng: np.random.Generator) -> str:
        sentences: list[str] = []
        requests: list[UserAct] = []
        for act in acts:
            if act.kind == "request":
                requests.append(act)
                continue
            sentences.append(self._sentence(act, rng))
        for again in (False, True):
            group = [a for a in requests if a.again == again]
            if group:
                phrases = [self._phrase(a.domain, a.slot) for a in group]
                templates = REQUEST_AGAIN if again else REQUEST
                sentences.append(_pick(templates, rng).format(slots=sequence_str(phrases)))
        return " ".join(_capitalise(s) for s in sentences if s)

    def _phrase(self, domain: str | None, slot: str | None) -> str:
        if domain is None or slot is None:
            return slot or ""
        slot_obj = self.schema.domain(domain).slots.get(slot)
        return slot_obj.phrase if slot_obj is not None else slot

    def _sentence(self, act: UserAct, rng: np.random.Generator) -> str:
        if act.kind == "open":
            return self._opening(act, rng)
        if act.kind == "inform":
            return _pick(INFORM, rng).format(slot=self._phrase(act.domain, act.slot), value=act.value)
        if act.kind == "dontcare":
            return _pick(DONTCARE, rng).format(slot=self._phrase(act.domain, act.slot))
        if act.kind == "negate":
            return _pick(NEGATE, rng).format(slot=self._phrase(act.domain, act.slot), value=act.value)
        if act.kind == "book":
            domain = self.schema.domain(act.domain) if act.domain else None
            if domain is not None and domain.booking_phrases:
                return _pick(domain.booking_phrases, rng) + "."
            return _pick(BOOK, rng)
        table = {"nudge": NUDGE, "thank_bye": THANK_BYE, "give_up": GIVE_UP}
        return _pick(table[act.kind], rng)

    def _opening(self, act: UserAct, rng: np.random.Generator) -> str:
        domain = self.schema.domain(act.domain)
        keyword = domain.keywords[0] if domain.keywords else domain.name
        if domain.user_openings:
            line = _pick(domain.user_openings, rng)
            if act.first:
                return line
            for greeting in GREETINGS:
                if line.startswith(greeting):
                    line = line[len(greeting):]
                    break
            return _pick(NEXT_PREFIX, rng) + line
        return _pick(OPEN_FIRST if act.first else OPEN_NEXT, rng).format(keyword=keyword)


def _pick(options: Sequence[str], rng: np.random.Generator) -> str:
    return options[int(rng.integers(len(options)))]


def _capitalise(sentence: str) -> str:
    return sentence[:1].upper() + sentence[1:]
