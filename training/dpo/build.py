"""`python -m training dpo`: preference tuning after SFT, measured, in one resumable command.

For each starting SFT model (the bundled one, and one SFT'd on noisy data the way build-sft's
``lima-noisy`` ablation is, whose replies still ramble and state wrong facts), three arms:

- ``sft``         the starting model alone;
- ``dpo``         + TRL DPOTrainer with a new LoRA on preference pairs about the SFT people
                  (chosen: the correct one-sentence answer; rejected: a wrong fact, or rambling);
- ``sft-longer``  + the same steps of SFT (same LoRA, batch, learning rate) on the chosen answers
                  only: what the rejected replies add beyond more clean data.

Settings are chosen, not assumed: each start's DPO runs over a grid (plan.lrs × plan.betas) and
its SFT-longer control over the same lrs; every run answers the questions of *validation* people
(held-out people who are neither in a pair nor among the test people); each arm keeps its best
validation accuracy (`results.select`, ties: the lower KL), and only those settings are evaluated
on the *test* people (the reported rows). The grid's rows are kept in the results.

Each model answers the same held-out people's questions (training/dpo/evaluate.py): accuracy,
wrong-fact and rambling rates, KL from its starting SFT model; and its log-prob margin between
chosen and rejected replies on training pairs and on held-out people's pairs. Every stage is kept
in the work directory (a second call resumes). What it writes: the bundled start's DPO adapter +
``results.json`` (`DPOResults`). Importable without torch.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from training import schema, store

from .results import ARMS, DPOPlan, DPOResults, headline_of, rates, select
from .train import DPOSettings, dpo_settings

PLANS = {
    "tiny": DPOPlan(
        eval_people=4,
        val_people=4,
        lrs=(1e-3, 2e-3),
        betas=(0.1,),
        n_pairs=32,
        margin_pairs=12,
        starts=("sft",),
    ),
    "cpu": DPOPlan(
        eval_people=100,
        val_people=50,
        lrs=(5e-5, 2e-4, 5e-4, 1e-3),
        betas=(0.1, 0.5),
        n_pairs=480,
        margin_pairs=100,
        starts=("sft", "noisy-sft"),
    ),
    "gpu": DPOPlan(
        eval_people=1000,
        val_people=500,
        lrs=(5e-5, 1e-4, 2e-4),
        betas=(0.1, 0.3),
        n_pairs=32000,
        margin_pairs=1000,
        starts=("sft", "noisy-sft"),
    ),
}
START_LABELS = {"sft": "bundled SFT", "noisy-sft": "noisy SFT"}


def _log(msg: str) -> None:
    print(f"[dpo {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


@dataclass
class _Build:
    preset: str
    plan: DPOPlan
    settings: DPOSettings
    work: Path
    base_path: str | None  # None: the bundled base
    world: Any
    items: list  # held-out QAItems: the test people (reported)
    val_items: list  # other held-out people's QAItems: the validation set (settings chosen on)
    train_rows: list[dict]  # the training pairs
    heldout_rows: list[dict]  # pairs about held-out people (margins only)
    refs: dict[str, Any] = field(
        default_factory=dict
    )  # start -> (merged SFT, tokenizer, path, manifest)

    def stage(self, name: str, fn: Callable[[], dict]) -> dict:
        """fn()'s result + its seconds, kept: a finished stage is not redone."""
        return store.kept_stage(self.work / "stages" / f"{name.replace('/', '_')}.json", fn, _log)


def _prepare(preset, work_dir, base, steps) -> _Build:
    # the world, the model stack and datasets when a build starts: the app imports the results
    from training.data.world import World
    from training.presets import get_preset
    from training.sft.build import ensure_base
    from training.sft.evaluate import qa_sample

    from .evaluate import validation_sample
    from .pairs import pairs

    if preset not in PLANS:
        raise ValueError(f"--preset {preset!r}: choose {', '.join(PLANS)}")
    plan = PLANS[preset]
    s = dpo_settings(preset, **({"steps": steps} if steps else {}))
    plan = replace(plan, n_pairs=min(plan.n_pairs, s.steps * s.batch_size))
    work = Path(work_dir or f"runs/dpo-{preset}")
    (work / "stages").mkdir(parents=True, exist_ok=True)
    world = World(get_preset(preset).world)
    train_rows = pairs(world, plan.n_pairs, seed=s.seed)
    items = qa_sample(world, "heldout", plan.eval_people, seed=s.seed)
    return _Build(
        preset=preset,
        plan=plan,
        settings=s,
        work=work,
        base_path=str(base) if base else (None if preset == "cpu" else ensure_base(preset)),
        world=world,
        items=items,
        val_items=validation_sample(
            world, plan.val_people, {i.person_id for i in items}, seed=s.seed
        ),
        train_rows=train_rows,
        heldout_rows=pairs(world, plan.margin_pairs, seed=s.seed, split="heldout"),
    )


# ---------------------------------------------------------------- the starting SFT models
def _sft_path(b: _Build, start: str) -> Path:
    """The starting SFT adapter: the bundled one (cpu), else one trained here (kept)."""
    if start == "sft" and b.preset == "cpu":
        return store.resolve("sft", allow_hub=False)
    return b.work / "adapters" / start


def _train_start(b: _Build, start: str) -> dict:
    """An SFT adapter for a start the preset has no bundled copy of: build-sft's recipe."""
    from training.presets import get_preset
    from training.sft import data as sft_data
    from training.sft.train import load_base, save_adapter, sft_settings, train_sft

    s = sft_settings(b.preset)
    clean = sft_data.conversations(
        b.world,
        "sft",
        max_turns=sft_data.max_turns_for(get_preset(b.preset).model.n_ctx),
        seed=s.seed,
    )
    if start == "noisy-sft":
        records = sft_data.noisy(clean, b.world, b.plan.noise_fraction, seed=s.seed)
        made = (
            f"SFT on all {len(clean)} conversations, {b.plan.noise_fraction:.0%} of answers "
            "corrupted (build-sft's lima-noisy recipe)"
        )
    else:
        records, made = clean, f"SFT on all {len(clean)} clean conversations"
    base = load_base(b.base_path)
    res = train_sft(base, records, replace(s, eval_interval=0))
    save_adapter(b.work / "adapters" / start, res, base, extra={"run": start, "data": made})
    return {"made_by": made, "steps_done": res.steps_done}


def _made_by(b: _Build, start: str) -> str:
    if start == "sft" and b.preset == "cpu":
        m = store.read_manifest(_sft_path(b, start))
        return f"the bundled SFT adapter (checkpoints/sft: {m.get('data', 'SFT')})"
    return b.stage(f"{start}/train", lambda: _train_start(b, start))["made_by"]


def _ref(b: _Build, start: str):
    """(merged SFT model, tokenizer, adapter path, its manifest), loaded once per start."""
    from .train import merged_sft

    if start not in b.refs:
        path = _sft_path(b, start)
        model, tok, manifest = merged_sft(path, b.base_path)
        b.refs[start] = (model, tok, path, manifest)
    return b.refs[start]


def _fresh(b: _Build, start: str):
    import copy

    return copy.deepcopy(_ref(b, start)[0])


# ---------------------------------------------------------------- the arms
def _tag(arm: str, lr: float | None, beta: float | None) -> str:
    """A run's name: its arm and setting ("dpo-lr0.0002-b0.1", "sft-longer-lr5e-05", "sft")."""
    return arm if lr is None else f"{arm}-lr{lr:g}" + (f"-b{beta:g}" if beta is not None else "")


def _train_arm(b: _Build, start: str, arm: str, lr: float, beta: float | None) -> dict:
    from training.sft.base_model import Base
    from training.sft.train import SFTSettings, save_adapter, train_sft

    from .pairs import chosen_conversations, pairs_dataset
    from .train import save_dpo_adapter, train_dpo

    s = replace(b.settings, lr=lr, beta=beta if beta is not None else b.settings.beta)
    ref, tok, sft_path, sft_manifest = _ref(b, start)
    base = Base(_fresh(b, start), tok, f"{start} (merged)", Path(sft_path), sft_manifest)
    out = b.work / "adapters" / f"{start}-{_tag(arm, lr, beta)}"
    n_kind = {k: sum(r["kind"] == k for r in b.train_rows) for k in ("wrong", "ramble")}
    if arm == "dpo":
        res = train_dpo(base.model, tok, pairs_dataset(b.train_rows), s, work_dir=b.work)
        save_dpo_adapter(out, res, sft_path, sft_manifest, base, extra={"start": start})
        data = (
            f"{len(b.train_rows)} preference pairs about SFT people ({n_kind['wrong']} with a "
            f"wrong fact rejected, {n_kind['ramble']} with a rambling reply rejected)"
        )
        curve, n = res.history, res.n_pairs
    else:
        ss = SFTSettings(
            steps=s.steps,
            batch_size=s.batch_size,
            lr=s.lr,
            warmup_steps=s.warmup_steps,
            lora_r=s.lora_r,
            lora_alpha=s.lora_alpha,
            eval_interval=0,
            seed=s.seed,
        )
        res = train_sft(base, chosen_conversations(b.train_rows), ss, work_dir=b.work)
        save_adapter(out, res, base, extra={"start": start})
        data = f"the same {len(b.train_rows)} questions with only the chosen answers"
        curve, n = res.history, res.n_records
    return {
        "method": "dpo" if arm == "dpo" else "sft",
        "lr": lr,
        "beta": beta,
        "data": data,
        "n_examples": n,
        "steps_done": res.steps_done,
        "train_seconds": res.seconds,
        "n_trainable": res.n_trainable,
        "curve": curve,
    }


def _policy(b: _Build, start: str, tag: str):
    from peft import PeftModel

    ref = _ref(b, start)[0]
    if tag == "sft":
        return ref
    out = b.work / "adapters" / f"{start}-{tag}"
    store.verify(out)
    return PeftModel.from_pretrained(_fresh(b, start), str(out)).merge_and_unload().eval()


def _answers(b: _Build, start: str, tag: str, items: list) -> dict:
    """A run's rates and per-question records on ``items`` (validation or test people)."""
    from .evaluate import answer_all

    ref, tok, _, _ = _ref(b, start)
    answers = answer_all(_policy(b, start, tag), ref, tok, items, b.world)
    return {**rates(answers), "answers": answers}


def _margins(b: _Build, start: str, tag: str) -> dict:
    from .train import preference_margin

    policy, tok = _policy(b, start, tag), _ref(b, start)[1]
    return {
        "margins_train": preference_margin(policy, tok, b.train_rows[: b.plan.margin_pairs]),
        "margins_heldout": preference_margin(policy, tok, b.heldout_rows),
    }


def _grid(b: _Build, start: str) -> tuple[list[dict], dict[str, dict]]:
    """Every setting trained and rated on the validation people (each kept): the grid's rows, and
    each trained run's training record by tag."""
    val = b.stage(f"{start}/sft/val", lambda: _answers(b, start, "sft", b.val_items))
    rows, trained = [_row("sft", None, None, val, None)], {}
    settings = [("dpo", lr, beta) for lr in b.plan.lrs for beta in b.plan.betas]
    settings += [("sft-longer", lr, None) for lr in b.plan.lrs]
    for arm, lr, beta in settings:
        tag = _tag(arm, lr, beta)
        tr = b.stage(
            f"{start}/{tag}/train", lambda a=arm, lr=lr, bt=beta: _train_arm(b, start, a, lr, bt)
        )
        ev = b.stage(f"{start}/{tag}/val", lambda t=tag: _answers(b, start, t, b.val_items))
        rows.append(_row(arm, lr, beta, ev, tr))
        trained[tag] = tr
    return rows, trained


def _row(arm, lr, beta, ev: dict, tr: dict | None) -> dict:
    keys = ("accuracy", "wrong_fact", "ramble", "kl_per_token", "n")
    curve = (tr or {}).get("curve") or []
    return {
        "arm": arm,
        "lr": lr,
        "beta": beta,
        **{k: ev[k] for k in keys},
        "final_loss": curve[-1]["loss"] if curve else None,
        "train_seconds": (tr or {}).get("train_seconds", 0.0),
        "selected": False,
    }


def _start(b: _Build, start: str) -> dict:
    """A start's grid (validation), its selected settings, and their test evaluations."""
    made = _made_by(b, start)
    rows, trained = _grid(b, start)
    chosen = {arm: select(rows, arm) for arm in ARMS}
    for r in chosen.values():
        r["selected"] = True
    arms = {}
    for arm in ARMS:
        r = chosen[arm]
        tag = _tag(arm, r["lr"], r["beta"])
        name = f"{start}/eval-sft" if arm == "sft" else f"{start}/{tag}/test"
        ev = b.stage(name, lambda t=tag: _answers(b, start, t, b.items))
        m = b.stage(f"{start}/{tag}/margins", lambda t=tag: _margins(b, start, t))
        keep = ("accuracy", "wrong_fact", "ramble", "compliance", "kl_per_token", "mean_tokens")
        arms[arm] = {
            **{k: ev[k] for k in (*keep, "n", "answers")},
            **{k: m[k] for k in ("margins_train", "margins_heldout")},
            "seconds": round(ev["seconds"] + m["seconds"], 1),
        }
    training = {a: trained[_tag(a, r["lr"], r["beta"])] for a, r in chosen.items() if a != "sft"}
    return {
        "label": START_LABELS[start],
        "made_by": made,
        "arms": arms,
        "training": training,
        "grid": rows,
    }


def build(
    preset: str = "cpu",
    out: str | Path | None = None,
    work_dir: str | Path | None = None,
    *,
    base: str | Path | None = None,
    steps: int | None = None,
) -> DPOResults:
    """Every start: the grid (each setting trained and rated on the validation people), the
    selected settings (`results.select`) evaluated on the test people, every stage kept (a second
    call resumes); then the bundle: the bundled start's selected DPO adapter + results.json.
    ``base``: the base checkpoint (default: the preset's); ``steps``: DPO (and SFT-longer) steps
    instead of the preset's."""
    b = _prepare(preset, work_dir, base, steps)
    out = Path(out or (store.BUNDLED_DIR / "dpo" if preset == "cpu" else b.work / "checkpoint"))
    starts = {}
    for start in b.plan.starts:
        starts[start] = _start(b, start)
        b.refs.pop(start, None)
    results = _results(b, starts)
    first = results.starts[b.plan.starts[0]].training["dpo"]
    adapter = b.work / "adapters" / f"{b.plan.starts[0]}-{_tag('dpo', first.lr, first.beta)}"
    _save_bundle(out, adapter, results)
    _log(f"wrote {out}")
    return results


def _bundled_settings(b: _Build, starts: dict) -> DPOSettings:
    """The preset's DPO settings with the bundled start's selected lr and β (the bundled adapter's)."""
    t = starts[b.plan.starts[0]]["training"]["dpo"]
    return replace(b.settings, lr=t["lr"], beta=t["beta"])


def _results(b: _Build, starts: dict) -> DPOResults:
    body = {
        schema.VERSION_KEY: DPOResults.SCHEMA_VERSION,
        "preset": b.preset,
        "rebuild": f"python -m training dpo --preset {b.preset}",
        "settings": asdict(_bundled_settings(b, starts)),
        "plan": asdict(b.plan),
        "starts": starts,
        "headline": {},
    }
    r = schema.parse(DPOResults, body)
    return replace(r, headline=headline_of(r.starts))


def _save_bundle(out: Path, adapter_dir: Path, results: DPOResults) -> None:
    store.verify(adapter_dir)
    manifest = store.read_manifest(adapter_dir)
    body = {k: v for k, v in manifest.items() if k not in ("files", "code_version", "created")}
    body.update(headline=headline(results), rebuild=results.rebuild)
    store.write_results(
        out, results, body, files={name: adapter_dir / name for name in manifest["files"]}
    )


def headline(results: DPOResults) -> dict:
    """start -> arm -> accuracy, wrong-fact rate, rambling rate, KL per token (what the CLI prints)."""
    keys = ("accuracy", "wrong_fact", "ramble", "kl_per_token")
    return {
        s: {arm: {k: getattr(r, k) for k in keys} for arm, r in arms.items()}
        for s, arms in results.headline.items()
    }
