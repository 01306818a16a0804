"""The SFT results as typed data (training/sft/build.py's SFTResults), what the app's tabs compute
from them and from the models (training/sft/views.py), and the Results tab's handler in-process:
numbers compared with the bundled results.json, never formatted strings."""

from __future__ import annotations

import json
import math

import pytest

from training import schema, store
from training.sft import build, views
from training.sft.build import SFTEval, SFTResults
from training.sft.lab import LabError

BUNDLED_SFT = store.BUNDLED_DIR / "sft"


@pytest.fixture(scope="module")
def raw() -> dict:
    store.verify(BUNDLED_SFT)
    return json.loads((BUNDLED_SFT / "results.json").read_text())


@pytest.fixture(scope="module")
def results() -> SFTResults:
    r = build.read_results()
    assert r is not None, "checkpoints/sft: build it with `python -m training build-sft`"
    return r


def _without_nulls(x):
    """A dumped body as the build wrote it before schemas: curve points carry only their loss."""
    if isinstance(x, dict):
        return {k: _without_nulls(v) for k, v in x.items() if v is not None or k == "bf16"}
    if isinstance(x, list):
        return [_without_nulls(v) for v in x]
    return x


# ---------------------------------------------------------------- the schema
def test_the_bundled_results_are_sft_results_field_for_field(results, raw):
    assert isinstance(results, SFTResults) and results.preset == raw["preset"] == "cpu"
    e, want = results.evals["sft/heldout"], raw["evals"]["sft/heldout"]
    assert isinstance(e, SFTEval) and e.accuracy == want["accuracy"] and e.n == want["n"]
    assert e.by_bucket["512+"].n == want["by_bucket"]["512+"]["n"]
    assert e.examples[0].correct is want["examples"][0]["correct"]
    curve = results.runs["sft"].curve
    assert (
        curve[0].eval_loss == raw["runs"]["sft"]["curve"][0]["eval_loss"] and curve[0].loss is None
    )
    assert results.settings.lora_r == raw["settings"]["lora_r"] and results.settings.bf16 is None
    assert results.plan.eval_people == raw["plan"]["eval_people"]
    # nothing dropped, nothing added, no type changed (an int stays an int): the typed results
    # dump back to the very file
    dumped = json.dumps(_without_nulls(schema.dump(results)), sort_keys=True)
    assert dumped == json.dumps({"schema_version": 1, **raw}, sort_keys=True)


def test_the_headline_is_recomputed_from_the_evaluations(results, raw):
    h = build.headline(results.evals)
    assert h == results.headline
    assert h.heldout_accuracy["SFT"] == raw["evals"]["sft/heldout"]["accuracy"]
    assert (
        h.sft_people_accuracy["SFT on the 1-bio base"] == raw["evals"]["sft-1bio/sft"]["accuracy"]
    )
    partial = {k: v for k, v in results.evals.items() if not k.startswith("lima")}
    assert build.headline(partial).heldout_accuracy["LIMA small clean"] is None


def test_the_build_assembles_its_stages_into_the_results_it_writes(results, raw):
    from types import SimpleNamespace

    b = SimpleNamespace(preset="cpu", settings=results.settings, plan=results.plan)
    assert build._results(b, raw["runs"], raw["evals"]) == results  # headline recomputed
    bad = json.loads(json.dumps(raw["evals"]))
    bad["sft/heldout"]["n"] = "600"
    with pytest.raises(schema.SchemaError, match=r"^evals\.sft/heldout\.n: expected an integer"):
        build._results(b, raw["runs"], bad)  # refused before anything is written


def _write(tmp_path, body: dict):
    return store.write_results(tmp_path / "sft", body, {"kind": "sft-adapter"})


@pytest.mark.parametrize(
    "change, field",
    [
        (
            lambda b: b["evals"]["sft/heldout"].update(
                acc=b["evals"]["sft/heldout"].pop("accuracy")
            ),
            "evals.sft/heldout.acc: unexpected field",
        ),
        (
            lambda b: b["runs"]["sft"]["curve"][3].update(loss="1.0"),
            "runs.sft.curve[3].loss: expected",
        ),
        (
            lambda b: b["evals"]["sft/sft"].update(people="everyone"),
            "evals.sft/sft.people: expected",
        ),
        (lambda b: b["plan"].pop("eval_people"), "plan.eval_people: missing"),
        (
            lambda b: b["settings"].update(lora_rank=b["settings"].pop("lora_r")),
            "settings.lora_rank: unexpected field",
        ),
        (lambda b: b.update(schema_version=2), "schema_version: expected 1"),
    ],
)
def test_a_body_that_does_not_match_is_refused_naming_the_field(tmp_path, raw, change, field):
    body = json.loads(json.dumps(raw))
    change(body)
    path = _write(tmp_path, body)
    with pytest.raises(store.CheckpointError) as e:
        build.read_results(path)
    message = str(e.value)
    assert field in message and "build-sft --preset cpu" in message and "\n" not in message


def test_no_results_or_a_tampered_file_is_none(tmp_path, raw):
    assert build.read_results(tmp_path / "nothing-here") is None
    path = _write(tmp_path, raw)
    assert build.read_results(path) is not None
    (path / "results.json").write_text(json.dumps(raw)[:-2] + " }")
    assert build.read_results(path) is None  # fails its sha256: the app shows how to build it


# ---------------------------------------------------------------- what the tabs show
def test_results_view_takes_its_numbers_from_the_evaluations(results, raw):
    v = views.results_view(results)
    ev = raw["evals"]
    assert v.main.groups == ["base zero-shot", "base few-shot", "SFT"]
    assert v.main.values["accuracy"] == [
        100 * ev[k]["accuracy"]
        for k in (
            "base-augmented/zero-shot/heldout",
            "base-augmented/few-shot/heldout",
            "sft/heldout",
        )
    ]
    assert (
        v.main.values["mentioned"][0] == 100 * ev["base-augmented/zero-shot/heldout"]["mentioned"]
    )
    assert v.augmentation.values == {
        "sft": [100 * ev["sft/sft"]["accuracy"], 100 * ev["sft-1bio/sft"]["accuracy"]],
        "heldout": [100 * ev["sft/heldout"]["accuracy"], 100 * ev["sft-1bio/heldout"]["accuracy"]],
    }
    assert v.lima.values["exact"] == [
        100 * ev[f"{k}/heldout"]["exact"] for k in ("sft", "lima-clean", "lima-noisy")
    ]
    assert [r.key for r in v.rows] == list(ev)
    row = next(r for r in v.rows if r.key == "lima-noisy/heldout")
    assert (row.accuracy, row.n, row.steps_done) == (
        ev["lima-noisy/heldout"]["accuracy"],
        ev["lima-noisy/heldout"]["n"],
        raw["runs"]["lima-noisy"]["steps_done"],
    )
    assert row.data == raw["runs"]["lima-noisy"]["data"]
    base_row = v.rows[0]
    assert base_row.steps_done is None and base_row.data == ev[base_row.key]["run"]
    curve = raw["runs"]["sft"]["curve"]
    assert v.curve.train.values == [c["loss"] for c in curve if "loss" in c]
    assert v.curve.heldout.steps == [c["step"] for c in curve if "eval_loss" in c]


def test_a_missing_evaluation_is_a_gap_not_an_error(results):
    from dataclasses import replace

    evals = {k: e for k, e in results.evals.items() if not k.startswith("sft-1bio")}
    v = views.results_view(replace(results, evals=evals, runs={}))
    assert v.augmentation.values["sft"][1] is None and v.curve.train.steps == []


def test_loss_curves_split_a_live_log():
    log = [
        {"kind": "log", "step": 0, "max_steps": 4, "elapsed": 0.1, "eval_loss": 3.0},
        {"kind": "log", "step": 1, "max_steps": 4, "elapsed": 0.2, "loss": 2.5},
        {"kind": "log", "step": 2, "max_steps": 4, "elapsed": 0.3, "loss": 2.0},
        {"step": 2, "elapsed": 0.4, "eval_loss": 1.5},
    ]
    c = views.loss_curves(log)
    assert (c.train.steps, c.train.values) == ([1, 2], [2.5, 2.0])
    assert (c.heldout.steps, c.heldout.values) == ([0, 2], [3.0, 1.5])


def test_record_and_pasted_views_agree_on_the_same_conversation():
    from training.sft.lab import record

    rec = record(3)["messages"]
    shown = views.record_view(3)
    assert shown.messages == rec
    assert [t["value"] for t in shown.sharegpt["conversations"]] == [m["content"] for m in rec]
    pasted = views.pasted_view(json.dumps({"messages": rec}))
    assert pasted == shown
    loss_text = "".join(t for t, loss in shown.tokens if loss)
    assert loss_text == "".join(m["content"] + "<|end|>" for m in rec if m["role"] == "assistant")
    assert shown.rendered == "".join(t for t, _ in shown.tokens)


@pytest.mark.parametrize(
    "text, words",
    [
        ("  ", "paste one JSON record"),
        ("x" * (views.MAX_RECORD_CHARS + 1), f"keep it under {views.MAX_RECORD_CHARS}"),
        ("{not json", "JSON"),
        (json.dumps({"conversations": [{"from": "bot", "value": "x"}]}), "unknown role"),
    ],
)
def test_a_bad_pasted_record_is_one_line(text, words):
    with pytest.raises(LabError, match=words) as e:
        views.pasted_view(text)
    assert "\n" not in str(e.value)


def test_answer_probabilities_are_each_models_own_teacher_forced_ones():
    import torch

    from training.sft.lab import get_model, rendered_tokens, tokenizer_only

    messages = [
        {"role": "user", "content": "Where was Ada Lovelace born?"},
        {"role": "assistant", "content": "Ada Lovelace was born in London."},
    ]
    p = views.answer_probabilities(messages, ["base", "sft"])
    answer = [t for t, loss in rendered_tokens(messages) if loss]
    assert p.tokens == answer and set(p.probs) == {"base", "sft"}
    tok = tokenizer_only()
    ids = tok.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"]
    model, _ = get_model("sft")
    with torch.inference_mode():
        logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].float(), -1)
    n = len(answer)
    want = [float(logp[i - 1, ids[i]].exp()) for i in range(len(ids) - n, len(ids))]
    assert p.probs["sft"] == pytest.approx(want, abs=1e-5)
    assert p.mean_logprob["sft"] == pytest.approx(sum(map(math.log, want)) / n, abs=1e-3)
    assert p.mean_logprob["sft"] > p.mean_logprob["base"]  # SFT made the answer likelier
    with pytest.raises(LabError, match="no assistant turn"):
        views.answer_probabilities(messages[:1], ["base"])


# ---------------------------------------------------------------- the Results tab, in-process
def test_the_results_handler_draws_the_results_numbers(raw):
    from tabs.sft_transformation.results import results_figures

    f_main, f_aug, f_lima, f_curve, note, rows = results_figures()
    by_name = {t["name"]: list(t["y"]) for t in f_main.to_plotly_json()["data"]}
    assert by_name["format compliance"][2] == 100 * raw["evals"]["sft/heldout"]["compliance"]
    lima = {t["name"]: list(t["y"]) for t in f_lima.to_plotly_json()["data"]}
    assert lima["exact-answer accuracy"][1] == 100 * raw["evals"]["lima-clean/heldout"]["accuracy"]
    assert raw["rebuild"] in note and f"r={raw['settings']['lora_r']}," in note
    by_key = {r[0]: r for r in rows}
    assert list(by_key) == list(raw["evals"])
    acc = float(by_key["sft-1bio/heldout"][4].rstrip("%"))
    assert acc == pytest.approx(100 * raw["evals"]["sft-1bio/heldout"]["accuracy"], abs=0.05)
    assert (
        by_key["sft/sft"][8] == str(raw["runs"]["sft"]["steps_done"])
        and by_key["base-1bio/few-shot/heldout"][8] == ""
    )


def test_without_results_the_tab_says_how_to_build_them(monkeypatch):
    from tabs.sft_transformation import results as tab

    monkeypatch.setattr(build, "read_results", lambda path=None: None)
    *figures, note, rows = tab.results_figures()
    assert note == tab.MISSING and rows == [] and len(figures) == 4
    assert (
        "build-sft --preset cpu" in figures[0].to_plotly_json()["layout"]["annotations"][0]["text"]
    )
