"""The agenda policy: what the simulated user says next, and how it judges the agent's replies.

The user works through its goal's domains in order. For each domain its *agenda* holds, top
first: an opening act, the constraints (required slots first, then the others in random order),
the requests, and -- if it wants one -- a booking act followed by the booking details.

Every agent turn (read by a :class:`~dialog_envs.simuser.understanding.Reader` in the current
domain) is checked against the goal and the database (:class:`TurnEvents`):

* a **request** for a slot of the goal is answered at once (``asked_needed`` the first time,
  ``asked_again`` after); a slot the user has no preference on gets "I don't mind";
* a **named entity** or a stated **constraint value** is checked: it may match the goal
  (``offered``), contradict what the user said (``wrong``, the user corrects it), or contradict a
  constraint the user has not said yet (the user says it now);
* an **answer** to a requested slot is right when an entity that matches the whole goal (and
  every earlier answer and offer) has that value; each answer narrows the candidate entities;
* a **reference number** completes a wanted booking once the user asked for it and gave every
  booking detail (earlier, or unwanted, it is ``wrong``);
* "**nothing matches**" is right only when no entity matches the goal (MultiWOZ goals can be
  infeasible): the domain is then done;
* the agent's **goodbye** before the goal is reached ends the conversation as a failure.

A domain is done when every request is answered and a wanted booking is made (a domain with no
request and no booking needs a matching entity named; a request that no matching entity has a
value for is dropped once an entity is named). Then the user moves on; after the last
domain it thanks and leaves (success). A turn without progress costs one unit of **patience**;
when patience runs out the user gives up (failure).

Each user turn says the reactions first, then one or two acts from the top of the agenda; the
booking act waits until the domain's requests are answered; with nothing new to say the user
asks again for what it still misses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dialog_envs.simuser.acts import UserAct
from dialog_envs.simuser.goals import DomainGoal, Goal
from dialog_envs.simuser.schema import DONTCARE, Domain, Schema
from dialog_envs.simuser.satisfaction import TurnEvents
from dialog_envs.simuser.understanding import Reading


@dataclass(frozen=True)
class PolicyConfig:
    """Behaviour of the agenda policy."""

    patience: int = 5
    """Agent turns without progress the user tolerates in a conversation before giving up."""
    max_new_acts: int = 2
    """At most this many acts from the agenda per user turn (at least one)."""


@dataclass
class DomainState:
    """The user's progress in one domain of its goal."""

    goal: DomainGoal
    domain: Domain
    told: dict[str, str] = field(default_factory=dict)
    """Constraints and booking details said so far (``dontcare`` included)."""
    candidates: list[int] = field(default_factory=list)
    """Entities that match the goal and every answer and offer so far."""
    feasible: bool = True
    answered: dict[str, str] = field(default_factory=dict)
    asked: set[str] = field(default_factory=set)
    """Requests said so far."""
    offered: bool = False
    booking_asked: bool = False
    booked: bool = False
    no_match: bool = False
    informed: set[str] = field(default_factory=set)
    """Requestable (non-informable) slots the agent stated (for inform precision)."""
    wrong_slots: set[str] = field(default_factory=set)

    @property
    def requests(self) -> list[str]:
        return [r for r in self.goal.requests if r not in self.goal.constraints]

    def answerable(self, slot: str) -> bool:
        """Whether some candidate entity has a value for ``slot`` (MultiWOZ has gaps, e.g. "?")."""
        return any(slot in self.domain.entities[i] for i in self.candidates) or slot == "ref"

    @property
    def missing(self) -> list[str]:
        """Requests still to be answered (one no candidate can answer is dropped once an entity
        was named or an answer given)."""
        settled = self.offered or bool(self.answered)
        return [r for r in self.requests if r not in self.answered and (self.answerable(r) or not settled)]

    @property
    def done(self) -> bool:
        if not self.feasible:
            return self.no_match
        needs_entity = not self.requests and not self.goal.booking
        return (
            not self.missing
            and (not self.goal.booking or self.booked)
            and (self.offered or not needs_entity)
        )


class AgendaPolicy:
    """An agenda-based user for one goal (one conversation)."""

    def __init__(self, schema: Schema, goal: Goal, rng: np.random.Generator,
                 config: PolicyConfig | None = None) -> None:
        self.schema = schema
        self.goal = goal
        self.rng = rng
        self.config = config or PolicyConfig()
        self.states = [self._state(g) for g in goal.domains]
        self.index = 0
        self.agenda: list[UserAct] = []
        self.unhelpful = 0
        self.success = False
        self.failed = False
        self.finished = False
        self.ended_by = ""
        self._replies: set[str] = set()
        self._push_domain(first=True)

    # -- setup ---------------------------------------------------------------------------------

    def _state(self, goal: DomainGoal) -> DomainState:
        domain = self.schema.domain(goal.domain)
        candidates = domain.query(goal.constraints)
        return DomainState(goal=goal, domain=domain, candidates=candidates, feasible=bool(candidates))

    @property
    def current(self) -> DomainState:
        return self.states[min(self.index, len(self.states) - 1)]

    def _push_domain(self, first: bool) -> None:
        """Put the current domain's acts on the agenda (index 0 is the top)."""
        state = self.current
        name = state.goal.domain
        required = [s for s in state.domain.required_slots if s in state.goal.constraints]
        others = [s for s in state.goal.constraints if s not in required]
        others = [others[int(i)] for i in self.rng.permutation(len(others))]
        acts = [UserAct("open", name, first=first)]
        acts += [UserAct("inform", name, s, state.goal.constraints[s]) for s in required + others]
        acts += [UserAct("request", name, s) for s in state.requests]
        if state.goal.booking:
            acts.append(UserAct("book", name))
            acts += [UserAct("inform", name, s, v) for s, v in state.goal.booking.items()]
        self.agenda = acts

    # -- the user's turns ------------------------------------------------------------------------

    def opening(self) -> list[UserAct]:
        """The user's first turn."""
        return self._next_acts([])

    def respond(self, reading: Reading, reply: str, events: TurnEvents) -> list[UserAct]:
        """Judge one agent reply (filling ``events``) and return the user's next acts."""
        reactions = self._judge(reading, reply, events)
        if reading.goodbye and not self._all_done():
            return self._end(False, "agent_goodbye")
        while self.current.done:
            if self.index + 1 >= len(self.states):
                return self._end(True, "success")
            self.index += 1
            self._push_domain(first=False)
            reactions = [a for a in reactions if a.domain == self.current.goal.domain]
        if not events.progress:
            self.unhelpful += 1
            if self.unhelpful >= self.config.patience:
                return self._end(False, "patience")
        return self._next_acts(reactions)

    def end_by_turn_limit(self) -> None:
        """The conversation ran out of turns (failure)."""
        if not self.finished:
            self.finished, self.failed, self.ended_by = True, True, "turn_limit"

    def _all_done(self) -> bool:
        return all(s.done for s in self.states)

    def _end(self, success: bool, why: str) -> list[UserAct]:
        self.finished, self.success, self.failed, self.ended_by = True, success, not success, why
        return [UserAct("thank_bye" if success else "give_up")]

    def _next_acts(self, reactions: list[UserAct]) -> list[UserAct]:
        state = self.current
        acts = list(reactions)
        told_now = {(a.slot) for a in reactions if a.kind in ("inform", "dontcare", "negate")}
        self.agenda = [a for a in self.agenda if not (a.kind == "inform" and a.slot in told_now)]
        budget = 0 if len(reactions) >= 2 else int(self.rng.integers(1, self.config.max_new_acts + 1))
        if not reactions:
            budget = max(budget, 1)
        while self.agenda and budget > 0:
            top = self.agenda[0]
            if top.kind == "book" and state.missing:
                break
            self.agenda.pop(0)
            acts.append(top)
            if top.kind == "open":
                continue  # the opening comes with at least one more act
            if top.kind == "book":
                state.booking_asked = True
                budget += 1  # the booking request comes with a detail
            budget -= 1
        for act in acts:
            if act.kind == "inform":
                state.told[act.slot] = act.value
            elif act.kind == "dontcare":
                state.told[act.slot] = DONTCARE
            elif act.kind == "request":
                state.asked.add(act.slot)
        if not any(a.kind in ("inform", "request", "book", "negate", "dontcare") for a in acts):
            missing = [r for r in state.missing if r in state.asked]
            if missing:
                acts += [UserAct("request", state.goal.domain, r, again=True) for r in missing]
            elif state.goal.booking and state.booking_asked and not state.booked:
                acts.append(UserAct("book", state.goal.domain))
            elif not any(a.kind == "open" for a in acts):
                acts.append(UserAct("nudge", state.goal.domain))
        return acts

    # -- judging the agent -----------------------------------------------------------------------

    def _judge(self, reading: Reading, reply: str, events: TurnEvents) -> list[UserAct]:
        state = self.current
        domain = state.domain
        name = state.goal.domain
        goal = state.goal
        reactions: list[UserAct] = []
        key = " ".join(reply.lower().split())
        events.empty = not key
        events.repeated = bool(key) and key in self._replies
        self._replies.add(key)

        # The agent asks for slots.
        for slot_name in reading.requests:
            slot = domain.slots.get(slot_name)
            if slot is None or not (slot.informable or slot.booking):
                continue
            wanted = goal.constraints.get(slot_name, goal.booking.get(slot_name))
            if slot_name in state.told:
                events.asked_again += 1
                if wanted is not None:
                    reactions.append(UserAct("inform", name, slot_name, wanted))
            elif wanted is not None:
                events.asked_needed += 1
                reactions.append(UserAct("inform", name, slot_name, wanted))
            else:
                reactions.append(UserAct("dontcare", name, slot_name))

        # "Nothing matches".
        if reading.no_match and not state.no_match:
            if not state.feasible:
                state.no_match = True
                events.no_match += 1
            else:
                events.wrong += 1

        # Stated values: entity names, constraint values, answers, booking details.
        pending_fix: set[str] = set()
        for slot_name, value in reading.informs:
            slot = domain.slots.get(slot_name)
            if slot is None or slot_name in reading.requests:
                continue
            if slot_name == domain.entity_key and slot_name not in goal.requests:
                self._judge_entity(state, value, events, reactions, pending_fix)
            elif slot_name in goal.constraints:
                self._judge_constraint(state, slot_name, value, events, reactions, pending_fix)
            elif slot_name in goal.booking:
                if state.booking_asked and value != goal.booking[slot_name] and slot_name in state.told:
                    events.wrong += 1
            elif slot_name in state.requests:
                self._judge_answer(state, slot_name, value, events, reactions, pending_fix)
            elif slot.requestable and not slot.informable and not slot.booking and slot_name != "ref":
                state.informed.add(slot_name)

        # A booking made.
        if reading.reference is not None and not state.booked:
            ready = state.booking_asked and all(s in state.told for s in goal.booking)
            if goal.booking and ready and state.candidates:
                state.booked = True
                events.booked += 1
                if "ref" in state.requests and "ref" not in state.answered:
                    state.answered["ref"] = reading.reference
                    events.answered += 1
            else:
                events.wrong += 1
        return reactions

    def _violated(self, state: DomainState, entity: dict[str, str]) -> list[str]:
        return [s for s, v in state.goal.constraints.items() if not state.domain.matches(entity, {s: v})]

    def _judge_entity(self, state: DomainState, value: str, events: TurnEvents,
                      reactions: list[UserAct], pending_fix: set[str]) -> None:
        key = state.domain.entity_key
        named = [i for i, e in enumerate(state.domain.entities) if e.get(key) == value]
        good = [i for i in named if i in state.candidates]
        if good:
            if not state.offered:
                events.offered += 1
            state.offered = True
            state.candidates = good
            return
        self._correct(state, [state.domain.entities[i] for i in named], events, reactions, pending_fix)

    def _judge_constraint(self, state: DomainState, slot_name: str, value: str, events: TurnEvents,
                          reactions: list[UserAct], pending_fix: set[str]) -> None:
        wanted = state.goal.constraints[slot_name]
        if state.domain.matches({slot_name: value}, {slot_name: wanted}):
            return
        if slot_name in pending_fix:
            return
        pending_fix.add(slot_name)
        if slot_name in state.told:
            events.wrong += 1
            reactions.append(UserAct("negate", state.goal.domain, slot_name, wanted))
        else:
            reactions.append(UserAct("inform", state.goal.domain, slot_name, wanted))

    def _judge_answer(self, state: DomainState, slot_name: str, value: str, events: TurnEvents,
                      reactions: list[UserAct], pending_fix: set[str]) -> None:
        entities = state.domain.entities
        if slot_name in state.answered:
            if state.answered[slot_name] != value:
                events.wrong += 1
            return
        good = [i for i in state.candidates if entities[i].get(slot_name) == value]
        if good:
            state.answered[slot_name] = value
            state.candidates = good
            events.answered += 1
            return
        holders = [e for e in entities if e.get(slot_name) == value]
        self._correct(state, holders, events, reactions, pending_fix)
        state.wrong_slots.add(slot_name)

    def _correct(self, state: DomainState, entities: list[dict[str, str]], events: TurnEvents,
                 reactions: list[UserAct], pending_fix: set[str]) -> None:
        """The agent named an entity (or a value of one) that is not wanted."""
        told = {s: v for s, v in state.goal.constraints.items() if s in state.told}
        plausible = [e for e in entities if state.domain.matches(e, told)]
        if not plausible or any(not self._violated(state, e) for e in plausible):
            # Unknown, against what the user said, or inconsistent with the agent's earlier
            # answers and offers.
            events.wrong += 1
            return
        # It fits what the user said so far, but not a constraint not said yet: say it now.
        for slot_name in self._violated(state, plausible[0]):
            if slot_name not in state.told and slot_name not in pending_fix:
                pending_fix.add(slot_name)
                reactions.append(UserAct("inform", state.goal.domain, slot_name, state.goal.constraints[slot_name]))

    # -- metrics ----------------------------------------------------------------------------------

    def inform_scores(self) -> tuple[float, float, float]:
        """Inform precision, recall and F1 over the whole goal.

        True positives: requested slots answered correctly. False positives: requested slots
        answered wrongly at least once, and requestable-only slots stated without being asked. False negatives:
        requested slots never answered correctly. Requests no matching entity has a value for
        (gaps in the database) are left out.
        """
        tp = fp = fn = 0
        for state in self.states:
            requests = {r for r in state.requests if r in state.answered or state.answerable(r)}
            answered = set(state.answered) & requests
            tp += len(answered)
            fn += len(requests - answered)
            fp += len(state.informed - requests) + len(state.wrong_slots)
        precision = tp / (tp + fp) if tp + fp else (1.0 if tp + fn == 0 else 0.0)
        recall = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return precision, recall, f1
