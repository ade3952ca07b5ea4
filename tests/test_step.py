"""One training step: margins, mini-batches, one optimiser step, evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from minnet.module import MinNetModule
from minnet.pairs import PairSet, sample_pairs
from minnet.pp import Standardizer
from minnet.settings import LossSettings, OptimSettings
from minnet.step import PairedData, TrainingStep, pair_batches


class _ConstantDistances:
    def pair_distances(self, src, dst):
        return np.full(len(src), 0.5)


@pytest.fixture()
def data():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 20)
    x = sp.csr_matrix(rng.poisson(1.0, (40, 12)).astype(np.float32) + labels[:, None])
    y = sp.csr_matrix(rng.poisson(1.0, (40, 6)).astype(np.float32) + 2 * labels[:, None])
    return PairedData(x, y, Standardizer.fit(x), Standardizer.fit(y), labels,
                      _ConstantDistances())


def test_margins_of_negatives_only():
    labels = np.array([0, 0, 1])
    d = PairedData(sp.csr_matrix((3, 2)), sp.csr_matrix((3, 2)), None, None, labels,
                   _ConstantDistances())
    pairs = PairSet(np.array([0, 0, 0]), np.array([0, 1, 2]), np.array([False, True, True]),
                    np.zeros(3, dtype=np.int64))
    m = d.margins(pairs, LossSettings(margin=2.0, celltype_margin=3.0))
    np.testing.assert_allclose(m, [0.0, 2.0 * 0.5, 2.0 * (0.5 + 3.0)])


@pytest.mark.parametrize(("n", "size"), [(10, 4), (9, 4), (1, 4), (8, 8)])
def test_pair_batches_cover_every_pair_once_and_never_leave_one_alone(n, size):
    batches = list(pair_batches(n, size, np.random.default_rng(1)))
    assert sorted(np.concatenate(batches).tolist()) == list(range(n))
    assert all(len(b) >= 2 for b in batches) or n < 2
    assert [b.tolist() for b in pair_batches(n, size, None)][0][:2] == list(range(min(n, 2)))


def test_one_step_changes_the_weights_and_training_lowers_the_loss(data):
    torch.manual_seed(0)
    module = MinNetModule((12, 6), 2, 16, 4)
    step = TrainingStep(module, data, LossSettings(), OptimSettings(lr=1e-2), torch.device("cpu"))
    rng = np.random.default_rng(0)
    pairs = sample_pairs(np.arange(40), rng)
    margin = data.margins(pairs, LossSettings())
    before = {k: v.clone() for k, v in module.state_dict().items()}
    first = step.evaluate(pairs, margin)["val_loss"]
    module.train()
    out = step(pairs, np.arange(16), margin)
    assert np.isfinite(out.total.item()) and out.total.grad_fn is not None
    assert any(not torch.equal(before[k], v) for k, v in module.state_dict().items())
    for _ in range(30):
        module.train()
        for idx in pair_batches(len(pairs), 16, rng):
            step(pairs, idx, margin)
    assert step.evaluate(pairs, margin)["val_loss"] < first


def test_evaluate_takes_no_step(data):
    torch.manual_seed(0)
    module = MinNetModule((12, 6), 2, 16, 4)
    step = TrainingStep(module, data, LossSettings(), OptimSettings(), torch.device("cpu"))
    pairs = sample_pairs(np.arange(40), np.random.default_rng(0))
    before = {k: v.clone() for k, v in module.state_dict().items()}
    res = step.evaluate(pairs, data.margins(pairs, LossSettings()), chunk=7)
    assert set(res) == {"val_loss", "val_accuracy"} and 0 <= res["val_accuracy"] <= 1
    assert all(torch.equal(before[k], v) for k, v in module.state_dict().items())


def test_device_rows_equal_the_host_rows_exactly():
    rng = np.random.default_rng(3)
    # float32, as the input specs make it
    dense = (rng.poisson(0.7, (30, 9)) * rng.uniform(0.5, 40, 9)).astype(np.float32)
    dense[4] = 0.0  # an empty row
    x = sp.csr_matrix(dense)
    # a stored duplicate entry (toarray() sums it) and an explicit zero
    x = sp.csr_matrix((np.r_[x.data, 2.0, 0.0].astype(np.float32), np.r_[x.indices, 0, 1],
                       np.r_[x.indptr[:-1], x.indptr[-1] + 2]), shape=x.shape)
    scaler = Standardizer.fit(x, np.repeat(["a", "b", "c"], 10), max_value=1.5)
    rows = np.array([4, 29, 0, 0, 17, 29, 3])  # unsorted, repeated
    d = PairedData(x, x, scaler, scaler, np.zeros(30, dtype=np.int64), _ConstantDistances())
    got = d.tensor_rows(0, rows, torch.device("cpu"), resident=True)
    want = scaler.transform_rows(x, rows)
    assert got.dtype == torch.float32 and np.array_equal(got.numpy(), want)
    assert np.abs(want).max() == 1.5  # the clip was exercised
    assert len(d._resident) == 1  # moved once, reused
    d.tensor_rows(0, rows[:2], torch.device("cpu"), resident=True)
    assert len(d._resident) == 1


def _steps(data, **kw):
    torch.manual_seed(0)
    module = MinNetModule((12, 6), 2, 16, 4)
    step = TrainingStep(module, data, LossSettings(), OptimSettings(lr=1e-2),
                        torch.device("cpu"), **kw)
    rng = np.random.default_rng(0)
    pairs = sample_pairs(np.arange(40), rng)
    margin = data.margins(pairs, LossSettings())
    module.train()
    losses = [step(pairs, idx, margin).total.item() for idx in pair_batches(len(pairs), 8, rng)]
    return losses, module.state_dict()


def test_resident_data_train_bit_for_bit_like_host_data(data):
    x, y = data.x.astype(np.float32), data.y.astype(np.float32)  # as the input specs make it
    data = PairedData(x, y, Standardizer.fit(x), Standardizer.fit(y), data.labels,
                      data.distances)
    host, w_host = _steps(data, resident=False)
    dev, w_dev = _steps(data, resident=True)
    assert host == dev
    assert all(torch.equal(w_host[k], w_dev[k]) for k in w_host)


def test_mixed_precision_step_trains_in_float32_losses(data):
    full, _ = _steps(data, mixed_precision=False)
    half, weights = _steps(data, mixed_precision=True)  # bfloat16 autocast (CPU here)
    assert all(np.isfinite(half)) and half != full
    assert half[0] == pytest.approx(full[0], rel=0.05)
    assert all(v.dtype == torch.float32 for v in weights.values() if v.is_floating_point())
