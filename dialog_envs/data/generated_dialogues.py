"""The project's own dialogue corpus: customer-service exchanges made from seeded templates.

``gym.make("dialog_envs/DialogueBLEU-v0")`` needs no files because of this corpus. Every
dialogue is a customer (first turn) and an agent alternating, about one of ten intents: order
status, delivery address change, refund, opening hours, cancellation, damaged item, returns,
stock, password reset and delivery fees. Slot values (names, products, order numbers, cities,
days, payment methods) are drawn at random; some agent answers copy a slot from the context
(the order number, the product), some follow fixed tables (a city's opening hours, a payment
method's refund time, a courier's fee), and some are random (delivery days), so a model can
learn much of a reply but not all of it. Each utterance has several paraphrases.

The splits come from different seeds (:data:`SPLIT_SEEDS`), so they are different random draws
from the same templates; because the template space is finite a short exchange can occur in two
splits. Sizes: :data:`SPLIT_SIZES`. Generation is deterministic and takes a few milliseconds
per hundred dialogues; results are cached in memory.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from functools import lru_cache

from dialog_envs.data.dialogue import Dialogue
from dialog_envs.data.splits import check_split

SPLIT_SEEDS: dict[str, int] = {"train": 20240101, "validation": 20240202, "test": 20240303}
"""The random seed of each split."""

SPLIT_SIZES: dict[str, int] = {"train": 2000, "validation": 200, "test": 200}
"""The number of dialogues of each split."""

NAMES = ("Anna", "Ben", "Carla", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "James",
         "Kim", "Lucas", "Maria", "Noah", "Olga", "Peter", "Rosa", "Sam", "Tom", "Yuki")
PRODUCTS = ("blue kettle", "desk lamp", "coffee grinder", "phone case", "winter jacket",
            "pair of running shoes", "backpack", "toaster", "wireless mouse", "yoga mat",
            "rice cooker", "bookshelf", "travel mug", "bike helmet", "table fan", "wool scarf")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# city -> (weekday hours, Saturday hours, open on Sunday?)
STORES: dict[str, tuple[str, str, str]] = {
    "Leeds": ("9 am to 6 pm", "10 am to 4 pm", "closed"),
    "Bristol": ("8 am to 8 pm", "9 am to 5 pm", "10 am to 2 pm"),
    "York": ("10 am to 7 pm", "10 am to 6 pm", "closed"),
    "Oxford": ("9 am to 9 pm", "9 am to 6 pm", "11 am to 5 pm"),
    "Bath": ("9 am to 5 pm", "9 am to 1 pm", "closed"),
    "Cardiff": ("8 am to 6 pm", "8 am to 6 pm", "10 am to 4 pm"),
}
# payment method -> working days until a refund arrives
REFUND_DAYS = {"card": "five", "PayPal account": "two", "bank account": "seven", "gift card": "one"}
# courier -> delivery fee
COURIERS = {"FastPost": "3 pounds", "CityVan": "5 pounds", "ParcelGo": "4 pounds"}
REASONS = ("it is too small", "it is too big", "I changed my mind", "it is the wrong colour",
           "I ordered two by mistake", "it arrived too late")
STREETS = ("12 Mill Lane", "4 Church Road", "33 Park Street", "8 Station Road", "21 High Street",
           "15 Oak Avenue", "7 River Walk", "40 Queen Street")

GREETINGS = ("Hi.", "Hello.", "Good morning.", "Good afternoon.", "Hi there.", "Hey.")
THANKS = ("Thank you.", "Thanks a lot.", "Great, thanks.", "Thank you very much.", "OK, thanks.")
BYES = ("Bye.", "Have a nice day.", "Goodbye.", "That is all, bye.")
CLOSINGS = ("You are welcome, {name}. Have a nice day!", "You are welcome. Goodbye, {name}!",
            "Happy to help, {name}. Bye!")
ASK_ORDER = ("Could you give me your order number, please?", "What is your order number?",
             "Can I have the order number, please?")


def _order(rng: random.Random) -> str:
    return str(rng.randint(10000, 99999))


def _opening(rng: random.Random, name: str, request: str) -> str:
    """The customer's first turn: a greeting, sometimes a name, then the request."""
    greeting = rng.choice(GREETINGS)
    intro = rng.choice(("", "", f" This is {name}.", f" My name is {name}."))
    return f"{greeting}{intro} {request}"


def _order_status(rng: random.Random, name: str) -> list[str]:
    order, day, later = _order(rng), rng.choice(DAYS), rng.choice(DAYS)
    courier = rng.choice(tuple(COURIERS))
    request = rng.choice((f"Where is my order {order}?", f"Can you tell me where order {order} is?",
                          f"My order {order} has not arrived yet."))
    return [
        _opening(rng, name, request),
        rng.choice((f"Let me check order {order}. It left our warehouse on {day}.",
                    f"Order {order} was sent on {day} with {courier}.")),
        rng.choice(("When will it arrive?", "So when can I expect it?", "When will I get it?")),
        rng.choice((f"It should arrive on {later}.", f"You will get it by {later}.")),
    ]


def _address_change(rng: random.Random, name: str) -> list[str]:
    order, street = _order(rng), rng.choice(STREETS)
    return [
        _opening(rng, name, rng.choice(("I need to change my delivery address.",
                                        "Can I send my order to a different address?"))),
        rng.choice(ASK_ORDER),
        rng.choice((f"It is {order}.", f"The order number is {order}.", f"Sure, it is {order}.")),
        rng.choice(("What is the new address?", "Please tell me the new address.")),
        rng.choice((f"Please send it to {street}.", f"The new address is {street}.")),
        rng.choice((f"Done. Order {order} will go to {street}.",
                    f"I have changed the address of order {order} to {street}.")),
    ]


def _refund(rng: random.Random, name: str) -> list[str]:
    product, order, reason = rng.choice(PRODUCTS), _order(rng), rng.choice(REASONS)
    payment = rng.choice(tuple(REFUND_DAYS))
    days = REFUND_DAYS[payment]
    return [
        _opening(rng, name, rng.choice((f"I would like a refund for the {product}.",
                                        f"I want my money back for the {product}.",
                                        f"Can I get a refund for my {product}? {reason.capitalize()}."))),
        rng.choice((f"I am sorry about the {product}. {ASK_ORDER[0]}",
                    f"Of course. What is the order number of the {product}?")),
        rng.choice((f"It is {order}. I paid by {payment}.", f"Order {order}, paid with my {payment}.")),
        rng.choice((f"Thank you. The refund for order {order} will reach your {payment} in {days} working days.",
                    f"I have started the refund. The money will be back on your {payment} in {days} working days.")),
    ]


def _hours(city: str, day: str) -> str:
    """The opening hours of ``city``'s store on ``day`` (or ``"closed"``), from :data:`STORES`."""
    weekday, saturday, sunday = STORES[city]
    return saturday if day == "Saturday" else sunday if day == "Sunday" else weekday


def _opening_hours(rng: random.Random, name: str) -> list[str]:
    city, day = rng.choice(tuple(STORES)), rng.choice(DAYS)
    hours = _hours(city, day)
    answer = (f"On {day} our {city} store is closed." if hours == "closed" else
              rng.choice((f"On {day} our {city} store is open from {hours}.",
                          f"The {city} store opens on {day} from {hours}.")))
    turns = [
        _opening(rng, name, rng.choice((f"When is your {city} store open on {day}?",
                                        f"What are the opening hours of the {city} store on {day}?"))),
        answer,
    ]
    if rng.random() < 0.5:
        other = rng.choice([c for c in STORES if c != city])
        other_hours = _hours(other, day)
        turns.append(rng.choice((f"And the {other} store?", f"What about {other}?")))
        turns.append(f"The {other} store is closed on {day}." if other_hours == "closed"
                     else f"On {day} the {other} store is open from {other_hours}.")
    return turns


def _cancel(rng: random.Random, name: str) -> list[str]:
    order, product = _order(rng), rng.choice(PRODUCTS)
    shipped = rng.random() < 0.4
    return [
        _opening(rng, name, rng.choice((f"Please cancel my order {order}.", f"I want to cancel order {order}.",
                                        f"Can I still cancel order {order}?"))),
        rng.choice((f"Is that the order for the {product}?", f"Order {order} is the {product}, is that right?")),
        rng.choice(("Yes, that is the one.", "Yes.", "That is right.")),
        (f"I am sorry, order {order} has already been sent. You can return it when it arrives." if shipped
         else rng.choice((f"Done. Order {order} is cancelled and you will not be charged.",
                          f"I have cancelled order {order}. You will not be charged."))),
    ]


def _damaged(rng: random.Random, name: str) -> list[str]:
    product, order = rng.choice(PRODUCTS), _order(rng)
    return [
        _opening(rng, name, rng.choice((f"My {product} arrived broken.", f"The {product} I got is damaged."))),
        rng.choice((f"I am very sorry to hear that. {rng.choice(ASK_ORDER)}",
                    f"Sorry about that. {rng.choice(ASK_ORDER)}")),
        rng.choice((f"It is {order}.", f"The order number is {order}.")),
        rng.choice((f"Thank you. We will send a new {product} for order {order} today.",
                    f"I have ordered a new {product} for you. It will leave our warehouse today.")),
    ]


def _returns(rng: random.Random, name: str) -> list[str]:
    product, reason = rng.choice(PRODUCTS), rng.choice(REASONS)
    return [
        _opening(rng, name, rng.choice((f"Can I return the {product}? {reason.capitalize()}.",
                                        f"How do I return a {product}?"))),
        rng.choice(("Yes, you can return any item within 30 days.",
                    "You can return it within 30 days if it is unused.")),
        rng.choice(("How do I send it back?", "Do I have to pay for the return?")),
        rng.choice(("Print the free return label from your account and take the parcel to a post office.",
                    "Returns are free. Use the label in your account and drop the parcel at a post office.")),
    ]


def _stock(rng: random.Random, name: str) -> list[str]:
    product, city = rng.choice(PRODUCTS), rng.choice(tuple(STORES))
    count = rng.randint(0, 9)
    return [
        _opening(rng, name, rng.choice((f"Do you have the {product} in stock?",
                                        f"Is the {product} available in the {city} store?"))),
        (f"I am sorry, the {product} is out of stock in {city}." if count == 0 else
         rng.choice((f"Yes, the {city} store has {count} in stock.",
                     f"We have {count} of them in our {city} store."))),
    ]


def _password(rng: random.Random, name: str) -> list[str]:
    return [
        _opening(rng, name, rng.choice(("I cannot log in to my account.", "I forgot my password.",
                                        "How do I reset my password?"))),
        rng.choice(("Click on forgot password on the login page and we will email you a link.",
                    "Please use the forgot password link on the login page. You will get an email.")),
        rng.choice(("I did that but no email came.", "The email did not arrive.")),
        rng.choice(("Please check your spam folder. If it is not there, I can send the link again.",
                    "It can take ten minutes. Please also look in your spam folder.")),
    ]


def _delivery_fee(rng: random.Random, name: str) -> list[str]:
    courier = rng.choice(tuple(COURIERS))
    return [
        _opening(rng, name, rng.choice((f"How much is delivery with {courier}?",
                                        f"What does {courier} delivery cost?"))),
        rng.choice((f"Delivery with {courier} costs {COURIERS[courier]}.",
                    f"{courier} delivery is {COURIERS[courier]}.")),
        rng.choice(("Is it free for large orders?", "Is there free delivery?")),
        "Yes, delivery is free for orders over 50 pounds.",
    ]


INTENTS: dict[str, Callable[[random.Random, str], list[str]]] = {
    "order_status": _order_status,
    "address_change": _address_change,
    "refund": _refund,
    "opening_hours": _opening_hours,
    "cancel": _cancel,
    "damaged_item": _damaged,
    "returns": _returns,
    "stock": _stock,
    "password": _password,
    "delivery_fee": _delivery_fee,
}
"""Intent name -> the function that writes the turns of one exchange about it."""


def _dialogue(rng: random.Random) -> tuple[str, list[str]]:
    intent = rng.choice(tuple(INTENTS))
    name = rng.choice(NAMES)
    turns = INTENTS[intent](rng, name)
    if rng.random() < 0.6:
        # A closing pair; the agent uses the name only when the customer gave it.
        said_name = name in turns[0]
        turns.append(rng.choice(THANKS) + (" " + rng.choice(BYES) if rng.random() < 0.5 else ""))
        turns.append(rng.choice(CLOSINGS).format(name=name) if said_name
                     else rng.choice(("You are welcome. Have a nice day!", "You are welcome. Goodbye!")))
    return intent, turns


def generate_dialogues(split: str = "train", n: int | None = None, seed: int | None = None) -> list[Dialogue]:
    """The generated dialogues of ``split``.

    Args:
        split: ``"train"``, ``"validation"`` or ``"test"``: picks the default size and seed.
        n: how many dialogues (default :data:`SPLIT_SIZES` of the split).
        seed: the random seed (default :data:`SPLIT_SEEDS` of the split).

    Each dialogue's metadata has ``source`` (``"generated:<split>:<index>"``) and ``intent``.
    """
    check_split(split)
    return list(_generate(split, SPLIT_SIZES[split] if n is None else n, SPLIT_SEEDS[split] if seed is None else seed))


@lru_cache(maxsize=16)
def _generate(split: str, n: int, seed: int) -> tuple[Dialogue, ...]:
    rng = random.Random(seed)
    dialogues = []
    for index in range(n):
        intent, turns = _dialogue(rng)
        dialogues.append(Dialogue(tuple(turns), {"source": f"generated:{split}:{index}", "intent": intent}))
    return tuple(dialogues)
