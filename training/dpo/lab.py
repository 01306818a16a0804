"""What the SFT app's Preference tuning tab does, without the UI: the bundled DPO model beside
the base and SFT models in the side-by-side comparison, and a bounded live DPO run on the bundled
SFT model. Importable without torch (models load on first use).
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass

from training import live, store
from training.sft import lab as sft_lab
from training.sft.lab import LabError

from .results import CurvePoint, Rates

LIVE_MAX_STEPS = 100  # ~0.2 s a step on an idle CPU; the time limit bounds a busy one
LIVE_TIME_LIMIT_S = 120.0
LIVE_BATCH = 4  # preference pairs per step
LIVE_EVAL_PEOPLE = 2  # held-out people asked before and after (6 questions each)
LIVE_MARGIN_PAIRS = 16  # held-out people's pairs the margin is measured on
LIVE_KINDS = {  # what the live run rejects, in words -> the pair kinds it trains on
    "both": ("wrong", "ramble"),
    "wrong facts only": ("wrong",),
    "rambling only": ("ramble",),
}
MODEL_LABELS = {"dpo": "DPO model (bundled adapter)", "live-dpo": "your live DPO model"}


_registered: set[str] = set()  # the models this lab put into the side-by-side


def _register(name: str, pair) -> None:
    """The model into the one side-by-side path (`sft_lab.register_model`), by name."""
    sft_lab.register_model(name, MODEL_LABELS[name], pair)
    _registered.add(name)


def dpo_path():
    try:
        return store.resolve("dpo", allow_hub=False)
    except store.CheckpointError as e:
        raise LabError(str(e)) from None


def ensure_model(name: str) -> None:
    """ "dpo" (the bundled adapter on the bundled SFT model, hashes checked) loaded and registered;
    "live-dpo" must exist already; the base and SFT models load through the SFT lab."""
    if name in ("base", "sft"):
        return
    if name not in MODEL_LABELS:
        raise LabError(
            f"unknown model {name!r}: choose one of base, sft, {', '.join(MODEL_LABELS)}"
        )
    if name in _registered:
        return
    if name == "live-dpo":
        raise LabError("no live DPO model yet: run one below first, or untick it")
    from .train import load_dpo  # PEFT and torch when the DPO model is first asked for

    path = dpo_path()
    want = store.read_manifest(path).get("sft", {}).get("files_sha256")
    if want and store.manifest_digest(store.read_manifest(sft_lab.sft_path())) != want:
        raise LabError(f"{path}: this DPO adapter was trained on another SFT model; rebuild it")
    sft_model, tok = sft_lab.get_model("sft")
    try:
        model, _, _ = load_dpo(path, sft_model=copy.deepcopy(sft_model))
    except store.CheckpointError as e:
        raise LabError(str(e)) from None
    _register("dpo", (model, tok))


# ---------------------------------------------------------------- the live run
_live_lock = threading.Lock()


@dataclass(frozen=True)
class LiveRequest:
    kinds: str = "both"
    steps: int = 30
    beta: float = 0.1
    lr: float = 5e-4
    time_limit_s: float = LIVE_TIME_LIMIT_S

    def validate(self) -> None:
        if self.kinds not in LIVE_KINDS:
            raise LabError(f"unknown pairs {self.kinds!r}: choose one of {', '.join(LIVE_KINDS)}")
        if not 1 <= self.steps <= LIVE_MAX_STEPS:
            raise LabError(f"steps = {self.steps}: choose between 1 and {LIVE_MAX_STEPS}")
        if not 0.01 <= self.beta <= 1.0:
            raise LabError(f"beta = {self.beta:g}: choose between 0.01 and 1")
        if not 1e-5 <= self.lr <= 1e-2:
            raise LabError(f"learning rate = {self.lr:g}: choose between 1e-5 and 1e-2")
        if not 5 <= self.time_limit_s <= LIVE_TIME_LIMIT_S:
            raise LabError(
                f"time limit = {self.time_limit_s:g} s: choose between 5 and {LIVE_TIME_LIMIT_S:g}"
            )


@dataclass(frozen=True)
class LiveMeasure:
    rates: Rates  # on the held-out questions
    margin: float  # mean log p(chosen) − log p(rejected) on held-out people's pairs
    prefers_chosen: float


@dataclass(frozen=True)
class LiveResult:
    before: LiveMeasure  # the bundled SFT model
    after: LiveMeasure  # + your DPO run
    steps_done: int
    seconds: float
    stopped_early: str
    history: list[CurvePoint]


def live_busy() -> bool:
    return _live_lock.locked()


def live_dpo(req: LiveRequest) -> live.Events:
    """DPO on a copy of the bundled SFT model as this process's one live job (training.live):
    progress events carry a `CurvePoint` per step, the last one a `LiveResult`; the trained model
    then answers in the side-by-side comparison as "live-dpo". Bad settings (LabError) or a run
    in progress (ValueError) raise one line here, before anything starts."""
    req.validate()

    def work(emit, stop) -> LiveResult:
        # TRL, PEFT and torch load when a run starts
        from training.sft.evaluate import qa_sample

        from .evaluate import answer_all
        from .pairs import pairs, pairs_dataset
        from .results import rates
        from .train import dpo_settings, preference_margin, train_dpo

        w = sft_lab.world()
        ref, tok = sft_lab.get_model("sft")
        kinds = LIVE_KINDS[req.kinds]
        n = req.steps * LIVE_BATCH
        rows = [r for r in pairs(w, 4 * n, seed=1) if r["kind"] in kinds][:n]
        held = pairs(w, LIVE_MARGIN_PAIRS, seed=1, split="heldout")
        held = [r for r in held if r["kind"] in kinds]
        items = qa_sample(w, "heldout", LIVE_EVAL_PEOPLE, seed=1)

        def measure(model) -> LiveMeasure:
            m = preference_margin(model, tok, held)["all"]
            r = Rates(**rates(answer_all(model, ref, tok, items, w, max_new_tokens=32)))
            return LiveMeasure(r, m["margin"], m["prefers_chosen"])

        emit(label="measuring the SFT model")
        before = measure(ref)
        s = dpo_settings(
            "cpu",
            steps=req.steps,
            batch_size=LIVE_BATCH,
            beta=req.beta,
            lr=req.lr,
            warmup_steps=1,
            max_time_s=req.time_limit_s,
        )
        emit(0, req.steps, "training")
        res = train_dpo(
            copy.deepcopy(ref),
            tok,
            pairs_dataset(rows),
            s,
            on_log=lambda e: emit(e["step"], e["max_steps"], "training", _point(e)),
            stop=stop,
        )
        emit(label="measuring your DPO model")
        model = res.model.merge_and_unload().eval()
        after = measure(model)
        _register("live-dpo", (model, tok))
        return LiveResult(
            before=before,
            after=after,
            steps_done=res.steps_done,
            seconds=res.seconds,
            stopped_early=res.stopped_early,
            history=[_point(h) for h in res.history],
        )

    return live.start(
        _live_lock,
        work,
        busy="a live DPO run is already in progress; wait for it to finish (two minutes at most)",
        name="live-dpo",
    )


def _point(e: dict) -> CurvePoint:
    return CurvePoint(
        step=e["step"],
        elapsed=e["elapsed"],
        loss=e["loss"],
        margin=e.get("margin"),
        reward_accuracy=e.get("reward_accuracy"),
        logp_chosen=e.get("logp_chosen"),
        logp_rejected=e.get("logp_rejected"),
    )
