"""Network shapes, the contrastive loss on hand-made tensors, and pair sampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from minnet import MinNetInputError
from minnet.module import MinNetModule, contrastive_loss
from minnet.pairs import KIND_XX, KIND_XY, KIND_YY, sample_pairs


def test_network_shapes():
    net = MinNetModule((20, 7), n_classes=4, n_hidden=16, n_latent=32)
    z, logits = net(torch.randn(5, 20), 0)
    assert z.shape == (5, 32) and logits.shape == (5, 4)
    z, logits = net(torch.randn(5, 7), 1)
    assert z.shape == (5, 32)
    enc = net.encoders[0]
    assert isinstance(enc[0], torch.nn.Linear) and isinstance(enc[1], torch.nn.Tanh)
    assert isinstance(enc[2], torch.nn.BatchNorm1d)


def test_contrastive_loss_hand_values():
    z1 = torch.tensor([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    z2 = torch.tensor([[3.0, 4.0], [3.0, 4.0], [6.0, 8.0]])
    neg = torch.tensor([0.0, 1.0, 1.0])
    margin = torch.tensor([100.0, 7.0, 7.0])
    eps = 1e-3
    d = np.sqrt(25 + eps)
    expected = (25.0 + (7 - d) ** 2 + 0.0) / 3  # positive: D²; negative inside margin; beyond: 0
    got = contrastive_loss(z1, z2, neg, margin, eps=eps).item()
    assert got == pytest.approx(expected, rel=1e-5)


def test_contrastive_loss_gradient_finite_at_zero_distance():
    z = torch.zeros(2, 3, requires_grad=True)
    loss = contrastive_loss(z, torch.zeros(2, 3), torch.tensor([1.0, 0.0]), torch.tensor([1.0, 1.0]))
    loss.backward()
    assert torch.isfinite(z.grad).all()
    assert loss.item() == pytest.approx((1 - np.sqrt(1e-3)) ** 2 / 2, rel=1e-4)


@pytest.mark.parametrize("mode", ["between", "within", "both"])
def test_pair_ratio_and_kinds(mode):
    rng = np.random.default_rng(0)
    cells = np.arange(100, 1100)
    pairs = sample_pairs(cells, rng, positive_fraction=0.25, negatives=mode)
    assert len(pairs) == cells.size
    assert (~pairs.negative).sum() == 250  # exactly 1 positive : 3 negatives
    assert np.all(pairs.first[~pairs.negative] == pairs.second[~pairs.negative])
    assert np.all(pairs.first[pairs.negative] != pairs.second[pairs.negative])
    assert set(pairs.first) == set(cells) and set(pairs.second) <= set(cells)
    assert np.all(pairs.kind[~pairs.negative] == KIND_XY)
    neg_kinds = pairs.kind[pairs.negative]
    if mode == "between":
        assert np.all(neg_kinds == KIND_XY)
    elif mode == "within":
        assert set(neg_kinds) == {KIND_XX, KIND_YY}
    else:
        assert 0.4 < np.mean(neg_kinds == KIND_XY) < 0.6


def test_pairs_redrawn_and_seeded():
    a = sample_pairs(np.arange(500), np.random.default_rng(1))
    b = sample_pairs(np.arange(500), np.random.default_rng(1))
    c = sample_pairs(np.arange(500), np.random.default_rng(2))
    np.testing.assert_array_equal(a.second, b.second)
    assert not np.array_equal(a.second, c.second)


def test_pair_errors():
    with pytest.raises(MinNetInputError, match="negatives"):
        sample_pairs(np.arange(5), np.random.default_rng(0), negatives="random")
    with pytest.raises(MinNetInputError, match="at least 2"):
        sample_pairs(np.arange(1), np.random.default_rng(0))
