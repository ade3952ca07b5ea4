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
