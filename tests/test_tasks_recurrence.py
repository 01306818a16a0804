"""The architecture lab's pure parts: the MQAR and selective-copying generators, the SSM recurrence
computed three ways, and recurrent state vs KV cache bytes."""

from __future__ import annotations

import numpy as np
import pytest

from shared import memory, recurrence
from training.data import tasks


@pytest.mark.parametrize("seq, pairs", [(64, 4), (128, 8), (256, 16)])  # Zoology's configurations
def test_mqar_keys_never_repeat_and_only_values_are_scored(seq, pairs):
    vocab = 8192
    inputs, labels = tasks.mqar(32, seq, pairs, vocab, seed=seq)
    half = vocab // 2
    for x, y in zip(inputs, labels):
        keys, values = x[0 : 2 * pairs : 2], x[1 : 2 * pairs : 2]
        assert len(set(keys.tolist())) == pairs and np.all((keys >= 1) & (keys < half))
        assert np.all((values >= half) & (values < vocab))
        scored = np.flatnonzero(y != tasks.IGNORE)
        assert len(scored) == pairs and scored.min() >= 2 * pairs  # queries only, after the context
        lookup = dict(zip(keys.tolist(), values.tolist()))
        for p in scored:  # the label after a queried key is exactly that key's value
            assert x[p] in lookup and y[p] == lookup[x[p]]
        assert sorted(x[scored].tolist()) == sorted(keys.tolist())  # each key queried once
    again, _ = tasks.mqar(32, seq, pairs, vocab, seed=seq)
    assert np.array_equal(inputs, again)  # seeded


def test_selective_copy_targets_are_the_data_tokens_in_order():
    inputs, labels = tasks.selective_copy(16, 64, 8, 20, seed=3)
    for x, y in zip(inputs, labels):
        region = 64 - 8
        data = x[:region][x[:region] != 0]
        assert len(data) == 8 and np.all(x[region:] == 1)
        assert np.array_equal(y[region:], data) and np.all(y[:region] == tasks.IGNORE)


@pytest.mark.parametrize(
    "call, msg",
    [
        (lambda: tasks.mqar(1, 64, 40, 64), "vocabulary"),
        (lambda: tasks.mqar(1, 10, 4, 64), "too short"),
        (lambda: tasks.mqar(0, 64, 4, 64), "batch"),
        (lambda: tasks.selective_copy(1, 10, 8, 20), "too short"),
        (lambda: tasks.selective_copy(1, 64, 8, 2), "vocab"),
    ],
)
def test_task_bad_input(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()


@pytest.mark.parametrize("T", [1, 7, 64, 1000])
def test_recurrence_three_ways_agree(T):
    a, b, c, x = recurrence.random_system(T, 8, selective=False, seed=T)
    y_seq, w_seq = recurrence.sequential(a, b, c, x)
    y_scan, w_scan = recurrence.parallel_scan(a, b, c, x)
    y_conv, w_conv = recurrence.convolution(a, b, c, x)
    assert np.allclose(y_seq, y_scan, atol=1e-10) and np.allclose(y_seq, y_conv, atol=1e-9)
    assert w_seq["depth"] == T
    if T > 1:
        assert w_scan["depth"] == int(np.ceil(np.log2(T))) + 1 < T or T < 4
        assert w_scan["work"] > w_seq["work"]  # parallel depth is paid for with more work
    a, b, c, x = recurrence.random_system(T, 8, selective=True, seed=T)  # Mamba: input-dependent
    assert np.allclose(
        recurrence.sequential(a, b, c, x)[0], recurrence.parallel_scan(a, b, c, x)[0], atol=1e-10
    )
    if T > 1:
        with pytest.raises(ValueError, match="time-invariant"):
            recurrence.convolution(a, b, c, x)


def test_state_is_flat_and_kv_cache_grows():
    kv = [memory.kv_cache_bytes(32, 32, 128, s, 1, 2) for s in (1024, 2048, 4096)]
    assert kv[1] == 2 * kv[0] and kv[2] == 4 * kv[0]  # linear in context
    mamba = memory.ssm_state_bytes(64, 5120, 16, 4, 1, 2)  # Mamba-2.8B shape, any context
    assert mamba == 64 * 5120 * 20 * 2 and 40 * mamba < kv[0]  # 13 MB vs 537 MB at 1,024 tokens
    assert memory.lstm_state_bytes(2, 1024, 1, 2) == 2 * 2 * 1024 * 2


def test_three_ways_on_one_system():
    runs = recurrence.three_ways(512, 16, selective=False, seed=0)
    assert [m.method for m in runs] == list(recurrence.METHODS)
    system = recurrence.random_system(512, 16, selective=False, seed=0)
    for m, fn in zip(
        runs, (recurrence.sequential, recurrence.parallel_scan, recurrence.convolution)
    ):
        y, cost = fn(*system)
        assert np.array_equal(m.y, y) and (m.work, m.depth) == (cost["work"], cost["depth"])
        assert m.ms > 0 and m.error == ""
    assert [m.depth for m in runs[:2]] == [512, 10]  # T; ⌈log₂ T⌉ rounds + readout
    assert runs[0].max_diff == 0.0 and all(m.max_diff < 1e-9 for m in runs)
    assert runs[1].max_diff == float(np.abs(runs[1].y - runs[0].y).max())


def test_three_ways_selective_the_convolution_refuses():
    seq, scan, conv = recurrence.three_ways(64, 4, selective=True, seed=3)
    assert scan.y is not None and scan.max_diff < 1e-10
    assert conv.y is None and conv.max_diff is None and (conv.work, conv.depth) == (0, 0)
    assert (
        conv.error.startswith("a convolution needs a time-invariant system")
        and ";" not in conv.error
    )


def test_sequential_depth():
    d = recurrence.sequential_depth([64, 128, 256, 512], 2, 3, 3)
    assert d.seqs == [64, 128, 256, 512] and d.attention == [2, 2, 2, 2]
    assert d.scan == [18, 21, 24, 27]  # 3 layers · ⌈log₂ T⌉
    assert d.loop == [192, 384, 768, 1536]  # 3 layers · T
    assert recurrence.sequential_depth([100], 1, 1, 1).scan == [7]  # ⌈log₂ 100⌉
