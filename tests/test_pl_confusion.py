"""Confusion heatmap of transferred labels and peak-gene link arcs."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from minnet._utils import MinNetInputError
from minnet.pl._confusion import transfer_confusion


def _png_ok(path) -> None:
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# transfer_confusion
# ---------------------------------------------------------------------------------------------
@pytest.fixture()
def query():
    true = ["B"] * 4 + ["A"] * 2 + ["C"] * 3
    pred = ["B", "B", "B", "A"] + ["A", "unassigned"] + ["C", "C", "C"]
    a = ad.AnnData(X=np.zeros((len(true), 1), dtype=np.float32))
    a.obs["cell_type"] = pd.Categorical(true, categories=["A", "B", "C"])
    a.obs["cell_type_pred"] = pd.Categorical(pred)
    return a


def test_transfer_confusion_matrix_and_accuracy(query, tmp_path):
    before = query.obs.copy()
    out = tmp_path / "confusion.png"
    fig = transfer_confusion(query, "cell_type", save=out)
    from matplotlib.figure import Figure

    assert isinstance(fig, Figure)
    _png_ok(out)
    ax = fig.axes[0]
    expected = np.array(
        [
            [0.5, 0.0, 0.0, 0.5],  # A -> A, unassigned
            [0.25, 0.75, 0.0, 0.0],  # B -> A, B, B, B
            [0.0, 0.0, 1.0, 0.0],  # C -> C
        ]
    )
    np.testing.assert_allclose(np.asarray(ax.images[0].get_array()), expected)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["A", "B", "C"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B", "C", "unassigned"]
    assert "77.8%" in ax.get_title()  # 7 of 9 correct
    assert len(ax.texts) == 12  # every cell annotated
    pd.testing.assert_frame_equal(query.obs, before)  # not modified


def test_transfer_confusion_counts_and_pred_key(query):
    query.obs["other"] = query.obs["cell_type_pred"]
    query.obs.loc[query.obs_names[0], "cell_type"] = np.nan  # left out
    fig = transfer_confusion(query, "cell_type", pred_key="other", normalize=False)
    mat = np.asarray(fig.axes[0].images[0].get_array())
    np.testing.assert_array_equal(mat, [[1, 0, 0, 1], [1, 2, 0, 0], [0, 0, 3, 0]])
    assert "75.0%" in fig.axes[0].get_title()  # 6 of 8 and "8 cells" in fig.axes[0].get_title()


def test_transfer_confusion_errors(query):
    with pytest.raises(MinNetInputError, match="transfer_labels"):
        transfer_confusion(query, "cell_type", pred_key="nope")
    with pytest.raises(MinNetInputError, match="'missing'"):
        transfer_confusion(query, "missing")
    with pytest.raises(MinNetInputError, match="AnnData"):
        transfer_confusion(query.obs, "cell_type")


def test_plots_leave_pyplot_alone(query):
    import matplotlib

    backend = matplotlib.get_backend()
    import matplotlib.pyplot as plt

    n_open = len(plt.get_fignums())
    transfer_confusion(query, "cell_type")
    assert matplotlib.get_backend() == backend
    assert len(plt.get_fignums()) == n_open  # no figure leaks into pyplot's registry


# ---------------------------------------------------------------------------------------------
# links
# ---------------------------------------------------------------------------------------------


# ---------------------------------------------------------------------------------------------
# embedding
# ---------------------------------------------------------------------------------------------
