"""The world corpus: a seeded synthetic encyclopedia in the style of bioS (Allen-Zhu & Li, Physics
of Language Models 3.1).

Why synthetic: every fact is known, so "does the model know X?" has a ground truth (QA accuracy,
completion probes), mention counts follow a Zipf law (a long tail, as in real text), and the
knowledge-augmentation knobs of the paper are config fields:

- ``bios_per_person``: distinct biography variants per person (1 = no augmentation);
- ``permute``: shuffle sentence order in each variant (all six sentences, the first included);
- ``fullname``: full name in every sentence, or a pronoun after the first sentence.

Rendering rules. Each attribute has a list of templates; template 0 is the *canonical* phrasing
used by QA answers and ``completion_prompt``. Variant 0 of every person uses the canonical
template for all six attributes (in a permuted order if ``permute``), so with ``fullname=True``
the completion probe appears verbatim in the person's training text. Variants 1, 2, ... draw
templates and order from a per-(seed, person, variant) stream, redrawing until the choice differs
from all lower variants: variants are pairwise distinct, so the eval renderings (the variants
after the ones a person's mentions use) never equal a training text. Everything is deterministic across processes
(numpy SeedSequence streams, no ``hash()``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from training.data import world_lists as L
from training.data.world_lists import MONTHS, QUESTIONS, TEMPLATES

ATTRIBUTES = ("birth_date", "birth_city", "university", "major", "employer", "employer_city")

# Sub-stream tags: SeedSequence([seed, TAG, ...]) keeps every random choice independent.
_PEOPLE, _RANK, _SPLIT, _BIO, _SHUFFLE, _EVAL = range(6)
_MAX_BUCKETS = 6


@dataclass(frozen=True)
class WorldConfig:
    n_people: int = 400
    seed: int = 0
    bios_per_person: int = 5  # distinct biography variants per person (1 = no augmentation)
    permute: bool = True  # shuffle the order of all six sentences in each variant
    fullname: bool = True  # full name in every sentence; False -> pronoun after the first
    zipf_s: float = 1.0  # mentions of popularity rank r ~ max_mentions * r**-zipf_s
    max_mentions: int = 32
    min_mentions: int = 2  # floor: everybody appears at least this often
    sft_fraction: float = 0.5  # share of people in the "sft" split; the rest are "heldout"


@dataclass(frozen=True)
class Person:
    id: int
    first: str
    middle: str
    last: str
    full_name: str
    pronoun: str  # "He" / "She"
    birth_date: str
    birth_city: str
    university: str
    major: str
    employer: str
    employer_city: str
    rank: int  # popularity rank, 1 = most mentioned
    mentions: int  # number of pre-training records of this person
    split: str  # "sft" or "heldout"

    def attribute(self, name: str) -> str:
        if name not in ATTRIBUTES:
            raise KeyError(f"unknown attribute {name!r}; expected one of {ATTRIBUTES}")
        return getattr(self, name)


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


def mention_count(cfg: WorldConfig, rank: int) -> int:
    """round(max_mentions * rank**-zipf_s), floored at min_mentions."""
    return max(cfg.min_mentions, int(round(cfg.max_mentions * rank**-cfg.zipf_s)))


def _bucket_edges(cfg: WorldConfig) -> list[int]:
    """Lower edges: min_mentions, then powers of two up to max_mentions/2 (at most 6 buckets)."""
    edges = [cfg.min_mentions]
    p = 1
    while p <= cfg.max_mentions / 2:
        if p > cfg.min_mentions:
            edges.append(p)
        p *= 2
    return edges[:_MAX_BUCKETS]


def mention_buckets(cfg: WorldConfig) -> list[str]:
    """Bucket labels in order, e.g. ["2-3", "4-7", "8-15", "16+"] for min 2, max 32."""
    edges = _bucket_edges(cfg)
    labels = []
    for lo, hi in zip(edges, edges[1:]):
        labels.append(str(lo) if hi - 1 == lo else f"{lo}-{hi - 1}")
    return labels + [f"{edges[-1]}+"]


MENTION_BUCKETS = tuple(mention_buckets(WorldConfig()))  # labels for the default config


def zipf_slope(world: "World") -> float:
    """Least-squares slope of log(mentions) vs log(rank) where the count is not clipped by the
    min_mentions floor (or the max); ~ -zipf_s. NaN if fewer than two such ranks."""
    cfg = world.cfg
    rank = np.array([p.rank for p in world.people], dtype=float)
    count = np.array([p.mentions for p in world.people], dtype=float)
    raw = cfg.max_mentions * rank**-cfg.zipf_s
    keep = (raw >= cfg.min_mentions) & (count > cfg.min_mentions) & (count <= cfg.max_mentions)
    if keep.sum() < 2 or np.ptp(rank[keep]) == 0:
        return float("nan")
    return float(np.polyfit(np.log(rank[keep]), np.log(count[keep]), 1)[0])


class World:
    """People, their biographies, and the datasets built from them; see the module docstring."""

    def __init__(self, cfg: WorldConfig = WorldConfig()):
        n_names = (
            (len(L.FIRST_NAMES_MALE) + len(L.FIRST_NAMES_FEMALE))
            * len(L.MIDDLE_NAMES)
            * len(L.LAST_NAMES)
        )
        if not 1 <= cfg.n_people <= n_names // 4:  # keep name redraws rare
            raise ValueError(f"n_people must be in 1..{n_names // 4}, got {cfg.n_people}")
        if cfg.bios_per_person < 1 or cfg.min_mentions < 1 or cfg.max_mentions < cfg.min_mentions:
            raise ValueError("need bios_per_person >= 1 and 1 <= min_mentions <= max_mentions")
        if not 0.0 <= cfg.sft_fraction <= 1.0:
            raise ValueError(f"sft_fraction must be in [0, 1], got {cfg.sft_fraction}")
        self.cfg = cfg
        self.people: list[Person] = self._make_people()
        self._choices: dict[int, list[tuple[tuple[int, ...], tuple[int, ...]]]] = {}
        self._choice_sets: dict[int, set] = {}
        self._bios: dict[tuple[int, int], str] = {}

    # ---- people ---------------------------------------------------------------------------
    def _make_people(self) -> list[Person]:
        cfg, n = self.cfg, self.cfg.n_people
        rng = _rng(cfg.seed, _PEOPLE)
        ranks = _rng(cfg.seed, _RANK).permutation(n) + 1
        order = _rng(cfg.seed, _SPLIT).permutation(n)
        n_sft = int(round(cfg.sft_fraction * n))
        split = np.empty(n, dtype=object)
        split[order[:n_sft]], split[order[n_sft:]] = "sft", "heldout"
        employers = list(L.EMPLOYERS)
        seen: set[str] = set()
        people = []
        for i in range(n):
            while True:  # redraw until the full name is new
                female = bool(rng.integers(2))
                firsts = L.FIRST_NAMES_FEMALE if female else L.FIRST_NAMES_MALE
                first = firsts[rng.integers(len(firsts))]
                middle = L.MIDDLE_NAMES[rng.integers(len(L.MIDDLE_NAMES))]
                last = L.LAST_NAMES[rng.integers(len(L.LAST_NAMES))]
                full = f"{first} {middle} {last}"
                if full not in seen:
                    seen.add(full)
                    break
            year, month, day = (
                1900 + int(rng.integers(200)),
                MONTHS[rng.integers(12)],
                1 + int(rng.integers(28)),
            )
            employer = employers[rng.integers(len(employers))]
            people.append(
                Person(
                    id=i,
                    first=first,
                    middle=middle,
                    last=last,
                    full_name=full,
                    pronoun="She" if female else "He",
                    birth_date=f"{month} {day}, {year}",
                    birth_city=L.BIRTH_CITIES[rng.integers(len(L.BIRTH_CITIES))],
                    university=L.UNIVERSITIES[rng.integers(len(L.UNIVERSITIES))],
                    major=L.MAJORS[rng.integers(len(L.MAJORS))],
                    employer=employer,
                    employer_city=L.EMPLOYERS[employer],
                    rank=int(ranks[i]),
                    mentions=mention_count(cfg, int(ranks[i])),
                    split=str(split[i]),
                )
            )
        return people

    def person(self, id: int) -> Person:
        return self.people[int(id)]

    def _as_person(self, p: Person | int) -> Person:
        return p if isinstance(p, Person) else self.person(p)

    # ---- biographies ----------------------------------------------------------------------
    def _choice(self, pid: int, variant: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(template index per attribute, sentence order) of a variant; distinct across variants."""
        done = self._choices.setdefault(pid, [])
        seen = self._choice_sets.setdefault(pid, set())
        k = len(ATTRIBUTES)
        while len(done) <= variant:
            v = len(done)
            rng = _rng(self.cfg.seed, _BIO, pid, v)
            for _ in range(10_000):
                tpl = (
                    (0,) * k
                    if v == 0
                    else tuple(int(rng.integers(len(TEMPLATES[a]))) for a in ATTRIBUTES)
                )
                order = (
                    tuple(int(j) for j in rng.permutation(k))
                    if self.cfg.permute
                    else tuple(range(k))
                )
                if (tpl, order) not in seen:
                    break
            else:
                raise RuntimeError(f"could not draw a distinct variant {v} for person {pid}")
            done.append((tpl, order))
            seen.add((tpl, order))
        return done[variant]

    def biography(self, person: Person | int, variant: int) -> str:
        """One sentence per attribute, joined by spaces; deterministic for (seed, person, variant)."""
        p = self._as_person(person)
        key = (p.id, int(variant))
        if key not in self._bios:
            tpl, order = self._choice(p.id, int(variant))
            sentences = []
            for pos, j in enumerate(order):
                attr = ATTRIBUTES[j]
                template = TEMPLATES[attr][tpl[j]]
                name = p.full_name
                if not self.cfg.fullname and pos > 0:
                    name = p.pronoun if template.startswith("{name}") else p.pronoun.lower()
                sentences.append(template.format(name=name, value=p.attribute(attr)))
            self._bios[key] = " ".join(sentences)
        return self._bios[key]

    # ---- datasets -------------------------------------------------------------------------
    def pretrain_texts(self) -> list[dict]:
        """One record per mention; mention k of a person is variant k % bios_per_person."""
        records = [
            {
                "text": self.biography(p, k % self.cfg.bios_per_person),
                "person_id": p.id,
                "variant": k % self.cfg.bios_per_person,
                "mentions": p.mentions,
            }
            for p in self.people
            for k in range(p.mentions)
        ]
        perm = _rng(self.cfg.seed, _SHUFFLE).permutation(len(records))
        return [records[i] for i in perm]

    def pretrain_dataset(self):
        # datasets (~1 s) only when the corpus is exported as a Dataset
        import datasets

        return datasets.Dataset.from_list(self.pretrain_texts())

    def eval_dataset(self, n_per_person: int = 1, max_people: int | None = None):
        """Held-out renderings for held-out loss: the variants after the ones a person's mentions
        use (index >= min(bios_per_person, mentions)), never trained on."""
        import datasets

        people = self.people
        if max_people is not None and max_people < len(people):
            pick = np.sort(
                _rng(self.cfg.seed, _EVAL).choice(len(people), size=max_people, replace=False)
            )
            people = [self.people[i] for i in pick]
        b = self.cfg.bios_per_person
        rows = [
            {
                "text": self.biography(p, min(b, p.mentions) + j),
                "person_id": p.id,
                "mentions": p.mentions,
            }
            for p in people
            for j in range(n_per_person)
        ]
        return (
            datasets.Dataset.from_list(rows)
            if rows
            else datasets.Dataset.from_dict({"text": [], "person_id": [], "mentions": []})
        )

    def answer(self, person: Person | int, attribute: str) -> str:
        """The canonical sentence stating one fact, e.g. 'Anya Briar Forger was born in Princeton.'"""
        p = self._as_person(person)
        return TEMPLATES[attribute][0].format(name=p.full_name, value=p.attribute(attribute))

    def qa_dataset(self, split: str | None = None):
        import datasets

        if split not in (None, "sft", "heldout"):
            raise ValueError(f"split must be None, 'sft' or 'heldout', got {split!r}")
        rows = [
            {
                "person_id": p.id,
                "split": p.split,
                "attribute": a,
                "phrasing": i,
                "question": q.format(name=p.full_name),
                "answer": self.answer(p, a),
                "answer_short": p.attribute(a),
            }
            for p in self.people
            if split is None or p.split == split
            for a in ATTRIBUTES
            for i, q in enumerate(QUESTIONS[a])
        ]
        return datasets.Dataset.from_list(rows)

    def completion_prompt(self, person: Person | int, attribute: str) -> tuple[str, str]:
        """(prompt, target) in the canonical template, e.g. ('X was born in', ' Princeton')."""
        p = self._as_person(person)
        head = TEMPLATES[attribute][0].split("{value}")[0]
        return head.format(name=p.full_name).rstrip(), " " + p.attribute(attribute)

    # ---- analysis -------------------------------------------------------------------------
    def mention_buckets(self) -> list[str]:
        return mention_buckets(self.cfg)

    def mention_bucket(self, person: Person | int) -> str:
        m = self._as_person(person).mentions
        edges = _bucket_edges(self.cfg)
        i = max(j for j, lo in enumerate(edges) if m >= lo)
        return mention_buckets(self.cfg)[i]

    def stats(self) -> dict:
        m = np.array([p.mentions for p in self.people])
        texts = self.pretrain_texts()
        slope = zipf_slope(self)
        return {
            "n_people": len(self.people),
            "n_records": len(texts),
            "n_words": sum(len(r["text"].split()) for r in texts),
            "mentions_min": int(m.min()),
            "mentions_max": int(m.max()),
            "mentions_mean": float(m.mean()),
            "zipf_s": self.cfg.zipf_s,
            "zipf_slope": None if math.isnan(slope) else slope,
            "n_sft": sum(p.split == "sft" for p in self.people),
            "n_heldout": sum(p.split == "heldout" for p in self.people),
        }
