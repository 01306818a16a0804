"""SFT data: conversations from the world, the record shapes the course uses, the assistant-token
mask of the chat template, the noisy copy for the LIMA ablation, and a TRL + LoRA smoke run."""

from __future__ import annotations

import json

import pytest
import torch

from training.data.world import TEMPLATES, World, WorldConfig
from training.presets import PRESETS
from training.sft.data import (
    conversations,
    from_prompt_completion,
    from_sharegpt,
    load_sft_records,
    noisy,
    to_sharegpt,
)

TINY_WORLD = PRESETS["tiny"].world  # 40 people, 20 per split


@pytest.fixture(scope="module")
def world() -> World:
    return World(TINY_WORLD)


@pytest.fixture(scope="module")
def sft(world):
    return conversations(world, "sft", multi_turn_fraction=0.2, seed=0)


def _assistant_turns(messages):
    return [m["content"] for m in messages if m["role"] == "assistant"]


def _canonical(world, rec):
    p = world.person(rec["person_id"])
    return [world.answer(p, a) for a in rec["attributes"]]


# --- conversations -------------------------------------------------------------------------------


def test_only_people_of_the_split(world, sft):
    sft_ids = {p.id for p in world.people if p.split == "sft"}
    held = [p for p in world.people if p.split == "heldout"]
    assert held and set(sft["person_id"]) == sft_ids  # every SFT person, nobody else
    text = json.dumps(list(sft["messages"]))
    for p in held:  # no held-out name anywhere in the data
        assert p.full_name not in text
    held_ds = conversations(world, "heldout")
    assert set(held_ds["person_id"]) == {p.id for p in held}


def test_every_qa_pair_once_and_answers_are_canonical(world, sft):
    single = [r for r in sft if r["n_turns"] == 1]
    qa = world.qa_dataset("sft")
    assert sorted(
        (r["person_id"], r["attributes"][0], r["phrasings"][0]) for r in single
    ) == sorted(zip(qa["person_id"], qa["attribute"], qa["phrasing"]))
    questions = {(r["person_id"], r["attribute"], r["phrasing"]): r["question"] for r in qa}
    for rec in sft:
        msgs = rec["messages"]
        assert [m["role"] for m in msgs] == ["user", "assistant"] * rec["n_turns"]
        assert _assistant_turns(msgs) == _canonical(world, rec)
        users = [m["content"] for m in msgs if m["role"] == "user"]
        assert users == [
            questions[(rec["person_id"], a, ph)]
            for a, ph in zip(rec["attributes"], rec["phrasings"])
        ]
        assert len(set(rec["attributes"])) == rec["n_turns"]  # distinct facts per conversation
        for answer in _assistant_turns(msgs):  # one sentence that ends the turn
            assert answer.endswith(".") and answer.count(". ") == 0


def test_multi_turn_share(world, sft):
    for frac in (0.0, 0.2, 0.5):
        ds = sft if frac == 0.2 else conversations(world, multi_turn_fraction=frac)
        multi = [n for n in ds["n_turns"] if n > 1]
        assert abs(len(multi) / len(ds) - frac) < 0.01
        assert all(n in (2, 3) for n in multi)
    assert {2, 3} <= set(sft["n_turns"])
    assert set(conversations(world, max_turns=2)["n_turns"]) == {1, 2}


def test_deterministic(world, sft):
    again = conversations(world, "sft", multi_turn_fraction=0.2, seed=0)
    assert again.to_list() == sft.to_list()
    other = conversations(world, "sft", multi_turn_fraction=0.2, seed=1)
    assert other.to_list() != sft.to_list()
    assert sorted(map(json.dumps, other.filter(lambda r: r["n_turns"] == 1)["messages"])) == sorted(
        map(json.dumps, sft.filter(lambda r: r["n_turns"] == 1)["messages"])
    )


# --- record shapes -------------------------------------------------------------------------------


def test_sharegpt_and_prompt_completion_round_trip(sft, tmp_path):
    msgs = list(sft["messages"])
    sharegpt = [to_sharegpt(m) for m in msgs]
    assert sharegpt[0]["conversations"][0]["from"] == "human"
    assert sharegpt[0]["conversations"][1]["from"] == "assistant"
    assert [r["messages"] for r in from_sharegpt(sharegpt)] == msgs
    # original ShareGPT dumps say "gpt"; a system turn passes through
    assert from_sharegpt(
        [
            {
                "conversations": [
                    {"from": "system", "value": "Be brief."},
                    {"from": "human", "value": "Hi?"},
                    {"from": "gpt", "value": "Hello."},
                ]
            }
        ]
    ) == [
        {
            "messages": [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hi?"},
                {"role": "assistant", "content": "Hello."},
            ]
        }
    ]
    single = [m for m in msgs if len(m) == 2]
    pc = [{"prompt": m[0]["content"], "completion": m[1]["content"]} for m in single]
    assert [r["messages"] for r in from_prompt_completion(pc)] == single

    # one JSONL with all three shapes, mixed line by line
    path = tmp_path / "mixed.jsonl"
    lines = [{"messages": m} for m in single[:3]] + [to_sharegpt(m) for m in single[3:6]] + pc[6:9]
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n\n")
    ds = load_sft_records(path)
    assert ds.column_names == ["messages"] and list(ds["messages"]) == single[:9]
    assert list(load_sft_records(lines)["messages"]) == single[:9]


GOOD = {"messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "A."}]}
BAD = {
    "unknown role": {
        "messages": [{"role": "bot", "content": "Q?"}, {"role": "assistant", "content": "A."}]
    },
    "unknown sharegpt role": {
        "conversations": [{"from": "robot", "value": "Q?"}, {"from": "gpt", "value": "A."}]
    },
    "empty content": {
        "messages": [{"role": "user", "content": "Q?"}, {"role": "assistant", "content": "  "}]
    },
    "empty completion": {"prompt": "Q?", "completion": ""},
    "missing keys": {"question": "Q?", "answer": "A."},
    "missing completion": {"prompt": "Q?"},
    "message without content": {
        "messages": [{"role": "user"}, {"role": "assistant", "content": "A."}]
    },
    "ends with user": {
        "conversations": [
            {"from": "human", "value": "Q?"},
            {"from": "gpt", "value": "A."},
            {"from": "human", "value": "And?"},
        ]
    },
    "invalid json": "{not json",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_jsonl_line_names_file_and_line(case, tmp_path):
    path = tmp_path / "data.jsonl"
    bad = BAD[case] if isinstance(BAD[case], str) else json.dumps(BAD[case])
    path.write_text(json.dumps(GOOD) + "\n\n" + bad + "\n" + json.dumps(GOOD) + "\n")
    with pytest.raises(ValueError) as e:
        load_sft_records(path)
    msg = str(e.value)
    assert f"{path} line 3:" in msg and "\n" not in msg


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        load_sft_records(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(ValueError, match="no SFT records"):
        load_sft_records(tmp_path / "empty.jsonl")


# --- noise for the LIMA ablation -----------------------------------------------------------------


def test_noisy(world, sft):
    n_turns = sum(sft["n_turns"])
    noisy_ds = noisy(sft, world, 0.3, seed=0)
    assert noisy_ds.to_list() == noisy(sft, world, 0.3, seed=0).to_list()
    assert sft.to_list() == conversations(world, "sft", multi_turn_fraction=0.2, seed=0).to_list()
    labels = [lab for rec in noisy_ds["corruption"] for lab in rec]
    assert len(labels) == n_turns
    assert sum(lab != "" for lab in labels) == round(0.3 * n_turns)
    assert {"wrong", "ramble", "terse"} == set(labels) - {""}
    assert abs(labels.count("wrong") - (labels.count("ramble") + labels.count("terse"))) <= 1
    for rec in noisy_ds:
        p = world.person(rec["person_id"])
        assert rec["corrupted"] == any(rec["corruption"])
        for a, got, kind in zip(
            rec["attributes"], _assistant_turns(rec["messages"]), rec["corruption"]
        ):
            right = world.answer(p, a)
            if kind == "":
                assert got == right
            elif kind == "wrong":  # the canonical sentence with another person's value
                head = TEMPLATES[a][0].split("{value}")[0].format(name=p.full_name)
                value = got[len(head) : -1]
                assert got.startswith(head) and value != p.attribute(a)
                assert value in {q.attribute(a) for q in world.people}
            elif kind == "ramble":
                assert right in got and len(got) > 2 * len(right)
            else:
                assert got == p.attribute(a)
    assert not any(noisy(sft, world, 0.0)["corrupted"])
    assert all(all(c) for c in noisy(sft, world, 1.0)["corruption"])
    with pytest.raises(ValueError, match="conversations"):
        noisy(load_sft_records([GOOD]), world, 0.1)


# --- the tokenizer's assistant mask and a TRL smoke run -------------------------------------------


@pytest.fixture(scope="module")
def tiny(tiny_base):
    from training import store

    ck = store.load(tiny_base)
    return ck, World(WorldConfig(**ck.manifest["config"]["world"]))


def _mask_spans(ids, mask):
    spans, cur = [], []
    for i, m in zip(ids, mask):
        if m:
            cur.append(i)
        elif cur:
            spans.append(cur)
            cur = []
    return spans + ([cur] if cur else [])


def test_chat_template_masks_exactly_the_answers(tiny):
    ck, world = tiny
    tok = ck.tokenizer
    ds = conversations(world)
    recs = [r for r in ds.select(range(60))]
    assert {1, 2, 3} <= {r["n_turns"] for r in recs}
    for rec in recs:
        out = tok.apply_chat_template(
            rec["messages"], tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
        ids, mask = out["input_ids"], out["assistant_masks"]
        assert len(ids) == len(mask)
        spans = [tok.decode(s, skip_special_tokens=False) for s in _mask_spans(ids, mask)]
        assert spans == [a + "<|end|>" for a in _assistant_turns(rec["messages"])]


def test_trl_sft_lora_smoke(tiny, tmp_path):
    from peft import LoraConfig
    from trl import SFTConfig, SFTTrainer

    ck, world = tiny
    model, tok = ck.model, ck.tokenizer
    ds = conversations(world)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    args = SFTConfig(
        output_dir=str(tmp_path),
        assistant_only_loss=True,
        use_cpu=True,
        bf16=False,
        activation_checkpointing=False,
        max_steps=16,
        per_device_train_batch_size=8,
        learning_rate=2e-3,
        logging_steps=1,
        report_to=[],
        save_strategy="no",
        max_length=model.config.max_position_embeddings,
        seed=0,
        disable_tqdm=True,
    )
    lora = LoraConfig(
        r=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM"
    )
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=ds, processing_class=tok, peft_config=lora
    )

    # what TRL feeds the model: loss only on the answers and their <|end|>
    batch = next(iter(trainer.get_train_dataloader()))
    answers = set(world.qa_dataset("sft")["answer"])
    for ids, labels in zip(batch["input_ids"], batch["labels"]):
        spans = [
            tok.decode(s, skip_special_tokens=False)
            for s in _mask_spans(ids.tolist(), (labels != -100).tolist())
        ]
        assert spans
        for s in spans:  # a max_length cut leaves a last answer's prefix without <|end|>
            assert (
                s[: -len("<|end|>")] in answers
                if s.endswith("<|end|>")
                else any(a.startswith(s) for a in answers)
            ), s

    # 16 steps at 2e-3: over seeds 0-4 the mean of the last 3 logged losses sat 0.07-0.13 below
    # the first 3 (12 steps at 1e-3 left a margin of only 0.01: per-step noise is ~0.05)
    trainer.train()
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    assert len(losses) == 16
    assert sum(losses[-3:]) / 3 < sum(losses[:3]) / 3, losses

    peft_model = trainer.model
    trainable = {n for n, p in peft_model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    lora_b = [p for n, p in peft_model.named_parameters() if "lora_B" in n]
    assert len(lora_b) == 4 * model.config.num_hidden_layers
    assert all(p.abs().sum() > 0 for p in lora_b)  # B starts at zero: it moved
    base = peft_model.get_base_model()
    for name, p in base.named_parameters():
        if "lora_" in name:
            continue
        key = name.replace(".base_layer", "")
        assert torch.equal(p.detach(), before[key]), f"base weight {key} changed"
