"""The forum domain: question-and-answer threads about the people of the world corpus.

Someone asks one thing about a person (where they were born, what they studied, who they work
for, ...); a reply states it; sometimes a second reply confirms it and adds another fact. So the
forum shares its knowledge with the biographies (world.py) in another register: questions, first
and second person, usernames. Every value is the world's (tests check each thread against it).

Popular people are asked about more often: a person's threads are proportional to their mentions
in the biographies. Held-out threads use question/answer phrasings *paired* in ways no training
thread pairs them (every template is seen in training, never the pairing), about the same people.
Deterministic for (seed, person, thread) across processes (numpy SeedSequence streams).
"""

from __future__ import annotations

import numpy as np

from .world import ATTRIBUTES, Person, World

ASK: dict[str, tuple[str, ...]] = {
    "birth_date": (
        "When was {name} born?",
        "Does anyone know the birthday of {name}?",
        "Quick question: what is the date of birth of {name}?",
        "I keep forgetting when {name} was born. Anyone?",
    ),
    "birth_city": (
        "Where was {name} born?",
        "Does anyone know which city {name} comes from?",
        "Quick question: what is the birthplace of {name}?",
        "I keep forgetting where {name} was born. Anyone?",
    ),
    "university": (
        "Where did {name} go to university?",
        "Does anyone know which university {name} attended?",
        "Quick question: what school did {name} study at?",
        "I keep forgetting where {name} studied. Anyone?",
    ),
    "major": (
        "What did {name} study?",
        "Does anyone know the major of {name}?",
        "Quick question: what subject did {name} major in?",
        "I keep forgetting what {name} studied. Anyone?",
    ),
    "employer": (
        "Who does {name} work for?",
        "Does anyone know the employer of {name}?",
        "Quick question: which company hired {name}?",
        "I keep forgetting where {name} works. Anyone?",
    ),
    "employer_city": (
        "Which city does {name} work in?",
        "Does anyone know where the office of {name} is?",
        "Quick question: in what city is {name} based for work?",
        "I keep forgetting which city {name} works in. Anyone?",
    ),
}
ANSWER: dict[str, tuple[str, ...]] = {
    "birth_date": (
        "{name} was born on {value}.",
        "I believe it was {value}.",
        "Pretty sure the answer is {value}.",
        "According to the records, {value}.",
    ),
    "birth_city": (
        "{name} was born in {value}.",
        "I believe it was {value}.",
        "Pretty sure the answer is {value}.",
        "According to the records, {value}.",
    ),
    "university": (
        "{name} studied at {value}.",
        "I believe it was {value}.",
        "Pretty sure the answer is {value}.",
        "According to the records, {value}.",
    ),
    "major": (
        "{name} majored in {value}.",
        "I believe it was {value}.",
        "Pretty sure the answer is {value}.",
        "According to the records, {value}.",
    ),
    "employer": (
        "{name} works for {value}.",
        "I believe it was {value}.",
        "Pretty sure the answer is {value}.",
        "According to the records, {value}.",
    ),
    "employer_city": (
        "{name} works in {value}.",
        "I believe it was {value}.",
        "Pretty sure the answer is {value}.",
        "According to the records, {value}.",
    ),
}
# a second reply confirms and adds another fact: "{also}" is that fact's canonical answer sentence
SECOND = (
    "Correct. Also, {also}",
    "Yes, and {also}",
    "Can confirm. {also}",
)
USERS = (
    "quietowl maplejay riverfox bytebard nightlark oakreader tidepool sparrow42 lanternfly "
    "mossgiant copperkite paperboat"
).split()
N_PHRASINGS = 4  # question and answer templates per attribute
_TAG = 11  # this module's SeedSequence tag, apart from the world's


def held_out_pairing(q: int, a: int) -> bool:
    """Whether the (question, answer) phrasing pair is kept for held-out threads (q == a)."""
    return q == a


def thread(world: World, p: Person, k: int, heldout: bool) -> dict:
    """Thread k about person p: {"text", "person_id", "attribute", "value", "phrasing", "also"}."""
    rng = np.random.default_rng(
        np.random.SeedSequence([world.cfg.seed, _TAG, int(heldout), p.id, int(k)])
    )
    attr = ATTRIBUTES[int(rng.integers(len(ATTRIBUTES)))]
    pairs = [
        (q, a)
        for q in range(N_PHRASINGS)
        for a in range(N_PHRASINGS)
        if held_out_pairing(q, a) == heldout
    ]
    q, a = pairs[int(rng.integers(len(pairs)))]
    asker, replier, third = rng.permutation(USERS)[:3]
    value = p.attribute(attr)
    lines = [
        f"{asker} asks: {ASK[attr][q].format(name=p.full_name)}",
        f"{replier} replies: {ANSWER[attr][a].format(name=p.full_name, value=value)}",
    ]
    also = None
    if rng.random() < 0.4:
        also = ATTRIBUTES[int(rng.integers(len(ATTRIBUTES)))]
        fact = world.answer(p, also)
        second = SECOND[int(rng.integers(len(SECOND)))]
        lines.append(f"{third} replies: {second.format(also=fact)}")
    return {
        "text": "\n".join(lines),
        "person_id": p.id,
        "attribute": attr,
        "value": value,
        "phrasing": [int(q), int(a)],
        "also": also,
    }


def threads(world: World, per_mention: float, heldout_per_person: int, max_heldout_people: int):
    """(training threads, held-out threads): a person gets round(per_mention x mentions) training
    threads (at least one); held-out threads, `heldout_per_person` each, are about the first
    `max_heldout_people` people of a seeded draw."""
    train = [
        thread(world, p, k, heldout=False)
        for p in world.people
        for k in range(max(1, int(round(per_mention * p.mentions))))
    ]
    order = np.random.default_rng(np.random.SeedSequence([world.cfg.seed, _TAG, 99])).permutation(
        len(train)
    )
    train = [train[i] for i in order]
    pick = np.random.default_rng(np.random.SeedSequence([world.cfg.seed, _TAG, 98])).permutation(
        len(world.people)
    )[:max_heldout_people]
    held = [
        thread(world, world.people[int(i)], k, heldout=True)
        for i in sorted(pick)
        for k in range(heldout_per_person)
    ]
    return train, held
