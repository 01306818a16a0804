"""The bundled base model: intact, small, and really knows the world (its manifest tells the truth)."""

from __future__ import annotations

import pytest
import torch

from tests.numerics import NEAR_TIE
from training import store
from training.data.blocks import pack
from training.data.world import World, WorldConfig
from training.evaluate import fact_accuracy, heldout_loss

BUNDLED = store.BUNDLED_DIR / "base"


@pytest.fixture(scope="module")
def bundled():
    if not (BUNDLED / store.MANIFEST).is_file():
        pytest.fail(
            f"{BUNDLED} is missing: rebuild it with `python -m training build-base --preset cpu`"
        )
    return store.load(BUNDLED)


def test_bundle_is_small_and_safetensors_only():
    files = [p for p in store.BUNDLED_DIR.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) < 30 * 2**20
    assert not [p for p in files if p.suffix in {".bin", ".pt", ".pth", ".pkl", ".ckpt"}]


def test_manifest_numbers_are_reproduced(bundled):
    manifest = bundled.manifest
    assert manifest["preset"] == "cpu"
    world = World(WorldConfig(**manifest["config"]["world"]))
    # the top-2 logit gap at every position of every forward pass fact_accuracy makes (one per person)
    gaps: list[torch.Tensor] = []
    hook = bundled.model.register_forward_hook(
        lambda module, args, out: gaps.append(
            (lambda v: v[..., 0] - v[..., 1])(out.logits[0].float().topk(2).values)
        )
    )
    try:
        acc = fact_accuracy(bundled.model, bundled.tokenizer, world, "birth_city")
    finally:
        hook.remove()
    n = acc["all"]["n"]
    assert n == manifest["metrics"]["born_in_n"] == len(world.people) == len(gaps)
    # An argmax per answer token, recomputed on this machine's kernels: equal to the build's count
    # except for people whose answer passes a near-tie (top-2 logits within NEAR_TIE at one of its
    # tokens), which the last bits of other kernels may break either way. Measured: none here (the
    # closest call is 0.09 logits), so on this model the count must be exactly the manifest's.
    near_ties = 0
    for person, gap in zip(world.people, gaps):
        prompt, target = world.completion_prompt(person, "birth_city")
        n_prompt = len(bundled.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        near_ties += bool((gap[n_prompt - 1 : -1] < NEAR_TIE).any())  # the answer tokens only
    hits, built = (
        round(acc["all"]["accuracy"] * n),
        round(manifest["metrics"]["born_in_accuracy"] * n),
    )
    assert abs(hits - built) <= near_ties, (
        f"{hits} of {n} birth cities right here, {built} in the manifest, with only {near_ties} near-ties"
    )
    n_ctx = manifest["config"]["model"]["n_ctx"]
    blocks = pack(world.eval_dataset()["text"], bundled.tokenizer, n_ctx)
    assert heldout_loss(bundled.model, blocks) == pytest.approx(
        manifest["metrics"]["heldout_loss"], abs=2e-3
    )


def test_base_model_knows_the_world(bundled):
    metrics = bundled.manifest["metrics"]
    assert metrics["born_in_accuracy"] >= 0.5  # chance is 1 / number of cities (~2%)
    curve = store.read_metrics(BUNDLED)
    assert curve[-1]["step"] == bundled.manifest["config"]["train"]["steps"]
    assert curve[-1]["eval_loss"] < curve[0]["eval_loss"] / 5


def test_the_completion_really_names_the_city(bundled):
    from training.generate import complete

    world = World(WorldConfig(**bundled.manifest["config"]["world"]))
    top = min(world.people, key=lambda p: p.rank)  # the most mentioned person
    prompt, target = world.completion_prompt(top, "birth_city")
    assert complete(bundled.model, bundled.tokenizer, prompt, max_new_tokens=8).startswith(target)
