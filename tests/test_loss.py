"""The loss: the flexible-margin contrastive loss on hand-made tensors, and the total loss."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from minnet.loss import class_weights, contrastive_loss, minnet_loss
from minnet.pairs import KIND_XX, KIND_XY, KIND_YY


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


def test_total_loss_routes_each_pair_member_through_its_encoder():
    torch.manual_seed(0)
    n, d, k = 3, 4, 2
    zx, zy = torch.randn(2 * n, d), torch.randn(2 * n, d)
    px, py = torch.randn(2 * n, k), torch.randn(2 * n, k)
    labels = torch.tensor([0, 1, 0, 1, 1, 0])
    kind = torch.tensor([KIND_XY, KIND_XX, KIND_YY])
    neg = torch.tensor([0.0, 1.0, 1.0])
    margin = torch.tensor([0.0, 5.0, 5.0])
    out = minnet_loss(zx, px, zy, py, labels, kind, neg, margin, contrastive_weight=2.0)
    # pair 0: RNA of cell a vs other of cell b; pair 1: both RNA; pair 2: both other
    z1 = torch.stack([zx[0], zx[1], zy[2]])
    z2 = torch.stack([zy[3], zx[4], zy[5]])
    lc = contrastive_loss(z1, z2, neg, margin)
    ce = (torch.nn.functional.cross_entropy(px, labels)
          + torch.nn.functional.cross_entropy(py, labels))
    assert out.total.item() == pytest.approx((ce + 2.0 * lc).item(), rel=1e-6)
    assert out.contrastive.item() == pytest.approx(lc.item(), rel=1e-6)
    acc = ((px.argmax(1) == labels).float().mean() + (py.argmax(1) == labels).float().mean()) / 2
    assert out.accuracy.item() == pytest.approx(acc.item())
    assert not out.contrastive.requires_grad and np.isfinite(out.total.item())


def test_class_weights_count_rare_types_more():
    labels = np.array([0] * 90 + [1] * 10)
    assert class_weights(labels, 3, 0.0) is None  # plain cross-entropy
    full = class_weights(labels, 3, 1.0).numpy()
    np.testing.assert_allclose(full[:2], [100 / (2 * 90), 100 / (2 * 10)], rtol=1e-6)
    assert full[2] == 1.0  # a type without training cells: no cell carries its weight
    half = class_weights(labels, 3, 0.5).numpy()
    np.testing.assert_allclose(half[:2], np.sqrt(full[:2]), rtol=1e-6)
    # balanced classes: every weight 1, the loss unchanged
    np.testing.assert_allclose(class_weights(np.array([0, 1] * 5), 2, 0.5).numpy(), [1, 1])


def test_weighted_cross_entropy_moves_the_loss_toward_the_rare_type():
    torch.manual_seed(0)
    labels = torch.tensor([0, 0, 0, 1])
    logits = torch.tensor([[3.0, 0.0]] * 3 + [[3.0, 0.0]])  # the rare cell is misclassified
    z = torch.zeros(4, 2)
    kind, neg, m = torch.zeros(2, dtype=torch.long), torch.zeros(2), torch.zeros(2)
    plain = minnet_loss(z, logits, z, logits, labels, kind, neg, m, 1.0)
    weighted = minnet_loss(z, logits, z, logits, labels, kind, neg, m, 1.0,
                           class_weights(labels.numpy(), 2, 1.0))
    assert weighted.cross_entropy > plain.cross_entropy
