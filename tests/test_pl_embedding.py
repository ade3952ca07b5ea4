"""pl.embedding: UMAP panels of the joint co-embedding."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from minnet._utils import MinNetInputError


def _png_ok(path) -> None:
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# transfer_confusion
# ---------------------------------------------------------------------------------------------


def _two_modalities(n: int = 60):
    rng = np.random.default_rng(0)
    out = {}
    for name in ("rna", "atac"):
        a = ad.AnnData(X=np.zeros((n, 1), dtype=np.float32))
        a.obs_names = [f"{name}{i}" for i in range(n)]
        types = np.repeat(["A", "B", "C"], n // 3)
        a.obs["cell_type"] = pd.Categorical(types)
        a.obs["score"] = rng.random(n)
        centres = {"A": 0.0, "B": 5.0, "C": 10.0}
        a.obsm["X_minnet"] = (np.array([centres[t] for t in types])[:, None]
                              + rng.normal(size=(n, 4))).astype(np.float32)
        out[name] = a
    return out


def test_embedding_panels_legends_and_png(tmp_path):
    from minnet.pl import embedding

    objs = _two_modalities()
    before = {k: (v.obs.copy(), v.obsm["X_minnet"].copy()) for k, v in objs.items()}
    out = tmp_path / "umap.png"
    fig = embedding(objs, color=["modality", "cell_type", "score"], save=out)
    _png_ok(out)
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == ["modality", "cell_type", "score"]
    legend = [t.get_text() for t in axes[0].get_legend().get_texts()]
    assert legend == ["atac", "rna"]
    assert [t.get_text() for t in axes[1].get_legend().get_texts()] == ["A", "B", "C"]
    # every cell of both objects is drawn once in each panel
    assert axes[1].collections[0].get_offsets().shape == (120, 2)
    assert len(fig.axes) == 4  # three panels + the colour bar of the numeric column
    for k, v in objs.items():  # inputs untouched
        pd.testing.assert_frame_equal(v.obs, before[k][0])
        assert np.array_equal(v.obsm["X_minnet"], before[k][1])


def test_embedding_list_input_and_errors():
    from minnet.pl import embedding

    objs = _two_modalities(30)
    fig = embedding(list(objs.values()))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["0", "1"]
    with pytest.raises(MinNetInputError, match="embed it first"):
        embedding(objs, use_rep="X_other")
    with pytest.raises(MinNetInputError, match="'donor' is not an obs column"):
        embedding(objs, color=["donor"])
