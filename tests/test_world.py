"""The world corpus (training/data/world.py) and user text loading (training/data/text.py)."""

import json
import re
from collections import Counter, defaultdict

import pytest

from training.data.text import CorpusError, load_text_dataset, split_heldout
from training.data.world import ATTRIBUTES, TEMPLATES, World, WorldConfig, zipf_slope

SMALL = WorldConfig(n_people=120, seed=3)


@pytest.fixture(scope="module")
def world():
    return World(SMALL)


def sentences(text):
    return re.split(r"(?<=\.) ", text)


def test_same_seed_same_world_other_seed_differs(world):
    again = World(SMALL)
    assert again.pretrain_texts() == world.pretrain_texts()
    assert again.qa_dataset().to_list() == world.qa_dataset().to_list()
    other = World(WorldConfig(n_people=120, seed=4))
    assert [p.full_name for p in other.people] != [p.full_name for p in world.people]
    assert other.pretrain_texts() != world.pretrain_texts()


def test_names_unique_and_attributes_complete(world):
    big = World(WorldConfig(n_people=3000, seed=1, max_mentions=4, min_mentions=1))
    names = [p.full_name for p in big.people]
    assert len(set(names)) == len(names)
    for p in world.people:
        assert p.full_name == f"{p.first} {p.middle} {p.last}"
        assert p.pronoun in ("He", "She")
        for a in ATTRIBUTES:
            assert p.attribute(a) and "\n" not in p.attribute(a)
    assert re.fullmatch(r"[A-Z][a-z]+ \d{1,2}, \d{4}", world.people[0].birth_date)
    with pytest.raises(KeyError):
        world.people[0].attribute("shoe_size")


def test_employer_city_is_function_of_employer(world):
    city = defaultdict(set)
    for p in world.people:
        city[p.employer].add(p.employer_city)
    assert all(len(c) == 1 for c in city.values())


@pytest.mark.parametrize("s", [0.8, 1.0, 1.3])
def test_zipf_slope_recovered(s):
    w = World(WorldConfig(n_people=2000, max_mentions=256, min_mentions=1, zipf_s=s))
    assert abs(zipf_slope(w) + s) < 0.15
    assert abs(w.stats()["zipf_slope"] + s) < 0.15


def test_mentions_and_ranks(world):
    ranks = sorted(p.rank for p in world.people)
    assert ranks == list(range(1, len(world.people) + 1))
    counts = Counter(r["person_id"] for r in world.pretrain_texts())
    for p in world.people:
        assert counts[p.id] == p.mentions >= SMALL.min_mentions
        assert p.mentions == max(
            SMALL.min_mentions, round(SMALL.max_mentions * p.rank**-SMALL.zipf_s)
        )
    top = min(world.people, key=lambda p: p.rank)
    assert top.mentions == SMALL.max_mentions
    st = world.stats()
    assert st["n_records"] == sum(p.mentions for p in world.people)
    assert st["mentions_max"] == SMALL.max_mentions and st["mentions_min"] == SMALL.min_mentions


def test_records_shuffled_and_dataset_matches(world):
    recs = world.pretrain_texts()
    ids = [r["person_id"] for r in recs]
    assert ids != sorted(ids)
    ds = world.pretrain_dataset()
    assert ds.to_list() == recs
    for r in recs:
        assert r["text"] == world.biography(r["person_id"], r["variant"])
        assert set(r) == {"text", "person_id", "variant", "mentions"}


def test_bios_per_person():
    one = World(WorldConfig(n_people=40, bios_per_person=1, max_mentions=16))
    five = World(WorldConfig(n_people=40, bios_per_person=5, max_mentions=16))
    by1, by5 = defaultdict(set), defaultdict(set)
    for r in one.pretrain_texts():
        by1[r["person_id"]].add(r["text"])
    for r in five.pretrain_texts():
        by5[r["person_id"]].add(r["text"])
    assert all(len(t) == 1 for t in by1.values())
    for p in five.people:
        assert len(by5[p.id]) == min(5, p.mentions)
    busy = [p for p in five.people if p.mentions >= 5]
    assert busy and all(len(by5[p.id]) == 5 for p in busy)


def test_biography_format(world):
    for p in world.people[:20]:
        for v in range(SMALL.bios_per_person):
            bio = world.biography(p, v)
            assert "\n" not in bio and bio.endswith(".")
            sents = sentences(bio)
            assert len(sents) == len(ATTRIBUTES)
            assert all(p.full_name in s for s in sents)
            for a in ATTRIBUTES:
                assert p.attribute(a) in bio
    assert sum(len(t) >= 6 for t in TEMPLATES.values()) == len(ATTRIBUTES)
    assert not any("born in" in t for t in TEMPLATES["birth_date"])


def _attribute_order(world, p, v):
    # which attribute each sentence states, from the values it contains (values are distinct enough)
    order = []
    for s in sentences(world.biography(p, v)):
        hits = [a for a in ATTRIBUTES if p.attribute(a) in s and a not in order]
        order.append(hits[0] if len(hits) == 1 else tuple(hits))
    return order


def test_permute_changes_order():
    fixed = World(WorldConfig(n_people=30, permute=False))
    shuf = World(WorldConfig(n_people=30, permute=True))
    for p in fixed.people:
        for v in range(3):
            first = sentences(fixed.biography(p, v))[0]
            assert p.birth_date in first  # unpermuted: ATTRIBUTES order
    orders = {tuple(_attribute_order(shuf, p, v)) for p in shuf.people for v in range(3)}
    assert len(orders) > 10


def test_fullname_false_uses_pronouns():
    w = World(WorldConfig(n_people=30, fullname=False))
    for p in w.people:
        sents = sentences(w.biography(p, 1))
        assert p.full_name in sents[0]
        for s in sents[1:]:
            assert p.full_name not in s
            assert s.startswith(p.pronoun + " ") or f", {p.pronoun.lower()} " in s


def test_splits_exact_disjoint_fixed():
    for n, frac in [(120, 0.5), (101, 0.5), (50, 0.3)]:
        cfg = WorldConfig(n_people=n, sft_fraction=frac, seed=7)
        a, b = World(cfg), World(cfg)
        sft = {p.id for p in a.people if p.split == "sft"}
        held = {p.id for p in a.people if p.split == "heldout"}
        assert len(sft) == round(frac * n) and not sft & held and len(sft | held) == n
        assert sft == {p.id for p in b.people if p.split == "sft"}
    w = World(SMALL)
    qa_sft, qa_held = w.qa_dataset("sft"), w.qa_dataset("heldout")
    assert set(qa_sft["person_id"]).isdisjoint(qa_held["person_id"])
    assert set(qa_sft["split"]) == {"sft"} and set(qa_held["split"]) == {"heldout"}


def test_qa(world):
    qa = world.qa_dataset()
    assert set(qa.column_names) >= {
        "person_id",
        "split",
        "attribute",
        "phrasing",
        "question",
        "answer",
        "answer_short",
    }
    phrasings = defaultdict(set)
    for row in qa:
        p = world.person(row["person_id"])
        assert row["answer_short"] == p.attribute(row["attribute"])
        assert row["answer_short"] in row["answer"] and p.full_name in row["answer"]
        assert p.full_name in row["question"] and row["question"].endswith("?")
        assert row["answer"].endswith(".") and "\n" not in row["answer"]
        phrasings[row["attribute"]].add(row["phrasing"])
    assert set(phrasings) == set(ATTRIBUTES)
    assert all(len(v) >= 3 for v in phrasings.values())
    assert len(qa) == len(world.people) * sum(len(v) for v in phrasings.values())
    p = world.people[0]
    assert world.answer(p, "birth_city") == f"{p.full_name} was born in {p.birth_city}."


def test_eval_texts_never_in_training(world):
    train = {r["text"] for r in world.pretrain_texts()}
    ev = world.eval_dataset(n_per_person=3)
    assert len(ev) == 3 * len(world.people)
    assert set(ev.column_names) >= {"text", "person_id", "mentions"}
    assert not train & set(ev["text"])
    assert len(set(ev["text"])) == len(ev)  # distinct renderings too
    one = World(WorldConfig(n_people=60, bios_per_person=1, permute=False))
    train1 = {r["text"] for r in one.pretrain_texts()}
    assert not train1 & set(one.eval_dataset(n_per_person=2)["text"])
    sub = world.eval_dataset(max_people=10)
    assert len(sub) == 10 and sub.to_list() == world.eval_dataset(max_people=10).to_list()


def test_completion_prompt_in_biography(world):
    for p in world.people:
        bios = [world.biography(p, v) for v in range(SMALL.bios_per_person)]
        prompt, target = world.completion_prompt(p, "birth_city")
        assert prompt == f"{p.full_name} was born in" and target == f" {p.birth_city}"
        assert any(prompt + target in b for b in bios)
        for a in ATTRIBUTES:
            prompt, target = world.completion_prompt(p, a)
            assert target == " " + p.attribute(a) and not prompt.endswith(" ")
            assert any(prompt + target in b for b in bios)


def test_mention_buckets(world):
    labels = world.mention_buckets()
    assert labels == ["2-3", "4-7", "8-15", "16+"]
    assert {world.mention_bucket(p) for p in world.people} <= set(labels)
    top = min(world.people, key=lambda p: p.rank)
    assert world.mention_bucket(top) == "16+"
    assert World(WorldConfig(n_people=10, min_mentions=1)).mention_buckets()[0] == "1"


# ---- text.py ---------------------------------------------------------------------------------
def test_txt_round_trip(tmp_path):
    f = tmp_path / "corpus.txt"
    f.write_text("First doc\nstill first.\n\nSecond doc.\n\n\n  \nThird doc.\n", encoding="utf-8")
    ds = load_text_dataset(str(f))
    assert ds.column_names == ["text"]
    assert ds["text"] == ["First doc\nstill first.", "Second doc.", "Third doc."]
    assert load_text_dataset(str(f), max_records=2)["text"] == [
        "First doc\nstill first.",
        "Second doc.",
    ]


def test_jsonl_round_trip_and_errors(tmp_path):
    f = tmp_path / "c.jsonl"
    docs = [{"body": f"doc {i}", "id": i} for i in range(20)]
    f.write_text("\n".join(json.dumps(d) for d in docs) + "\n", encoding="utf-8")
    ds = load_text_dataset(str(f), text_field="body")
    assert ds["text"] == [d["body"] for d in docs]
    with pytest.raises(CorpusError, match="no field 'text'"):
        load_text_dataset(str(f))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"text": "ok too"}\n{"text": broken\n', encoding="utf-8")
    with pytest.raises(CorpusError, match=r"line 3\b") as e:
        load_text_dataset(str(bad))
    assert "bad.jsonl" in str(e.value) and "\n" not in str(e.value)
    train, held = split_heldout(ds, fraction=0.1, seed=0)
    assert len(held) == 2 and len(train) == 18
    assert not set(train["text"]) & set(held["text"])
    assert split_heldout(ds, fraction=0.1, seed=0)[1]["text"] == held["text"]


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(CorpusError, match="not found"):
        load_text_dataset(str(tmp_path / "nope.txt"))
    with pytest.raises(CorpusError, match="not found"):
        load_text_dataset(str(tmp_path / "nope.jsonl"))
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n", encoding="utf-8")
    with pytest.raises(CorpusError, match="no text"):
        load_text_dataset(str(empty))


def test_hub_offline_is_corpus_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    for kw in ({}, {"max_records": 5}):
        with pytest.raises(CorpusError) as e:
            load_text_dataset("someone-who-does-not-exist/no-such-dataset", **kw)
        assert "could not load Hub dataset" in str(e.value) and "\n" not in str(e.value)
        assert type(e.value) is CorpusError
