"""Confusion heatmap of transferred labels and peak-gene link arcs."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from minnet._utils import MinNetInputError
from minnet.pl._confusion import transfer_confusion
from minnet.pl._links import LINK_GID, PEAK_GID, links


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
@pytest.fixture()
def link_table():
    # peak midpoints: 1150, 2050, 5050, 90050 (chr1) and 1050 (chr2)
    peaks = ["chr1-1100-1200", "chr1-2000-2100", "chr1-5000-5100", "chr1-90000-90100",
             "chr2-1000-1100"]
    rows = [
        ("GENEA", peaks[0], 0.8),  # TSS 3000 -> in region
        ("GENEA", peaks[1], -0.4),  # in region, negative
        ("GENEB", peaks[2], 0.3),  # TSS 8000 -> in region
        ("GENEB", peaks[3], 0.9),  # peak outside the region
        ("GENEC", peaks[4], 0.5),  # other chromosome
    ]
    tss = {"GENEA": 3000, "GENEB": 8000, "GENEC": 1200}
    df = pd.DataFrame(rows, columns=["gene", "peak", "score"])
    mids = parse_mid(df["peak"])
    df["distance"] = mids - df["gene"].map(tss).to_numpy()  # peak midpoint - TSS
    df["zscore"] = 3.0
    df["pvalue"] = 0.001
    df["qvalue"] = 0.01
    ann = pd.DataFrame(
        {
            "gene_name": ["GENEA", "GENEB", "GENEC", "GENED"],
            "chrom": ["chr1", "chr1", "chr2", "chr1"],
            "tss": [3000, 8000, 1200, 9500],
            "strand": ["+", "-", "+", "+"],
            "end": [4500, 7000, 2000, 9900],
        }
    )
    return df, ann


def parse_mid(peaks: pd.Series) -> np.ndarray:
    parts = peaks.str.extract(r"-(\d+)-(\d+)$").astype(int)
    return ((parts[0] + parts[1]) // 2).to_numpy()


def _arcs(fig):
    return [p for p in fig.axes[0].patches if p.get_gid() == LINK_GID]


def test_links_arcs_from_distance(link_table, tmp_path):
    df, _ = link_table
    before = df.copy()
    out = tmp_path / "links.png"
    fig = links(df, "chr1-1-10000", save=out)
    _png_ok(out)
    arcs = _arcs(fig)
    assert len(arcs) == 3
    # arcs span peak midpoint -> TSS, height = |score|
    spans = sorted((a.center[0] - a.width / 2, a.center[0] + a.width / 2, a.height / 2)
                   for a in arcs)
    np.testing.assert_allclose(spans, [(1150, 3000, 0.8), (2050, 3000, 0.4), (5050, 8000, 0.3)])
    colours = {round(a.height / 2, 1): a.get_edgecolor()[:3] for a in arcs}
    assert colours[0.8] != colours[0.4]  # sign -> colour
    assert colours[0.8] == colours[0.3]
    peaks = [p for p in fig.axes[1].patches if p.get_gid() == PEAK_GID]
    assert len(peaks) == 3  # the chr1 peaks inside the region
    pd.testing.assert_frame_equal(df, before)


def test_links_with_annotation_region_formats_and_min_score(link_table):
    df, ann = link_table
    no_dist = df.drop(columns="distance")
    fig = links(no_dist, "1:1,000-10,000", annotation=ann)  # '1' matches 'chr1'
    assert len(_arcs(fig)) == 3
    gene_names = {t.get_text() for t in fig.axes[2].texts}
    assert {"GENEA", "GENEB", "GENED"} <= gene_names and "GENEC" not in gene_names
    fig = links(df, "chr1:1000-10000", annotation=ann, min_score=0.35)
    assert sorted(round(a.height / 2, 2) for a in _arcs(fig)) == [0.4, 0.8]
    # a region cutting GENEB's TSS off drops its arc
    assert len(_arcs(links(df, "chr1-1000-7000"))) == 2


def test_links_errors(link_table):
    df, ann = link_table
    with pytest.raises(MinNetInputError, match="could not be parsed"):
        links(df, "chr1:abc-10")
    with pytest.raises(MinNetInputError, match="start >= end"):
        links(df, "chr1-500-100")
    with pytest.raises(MinNetInputError, match=r"chr3-1-5000.*'chr1', 'chr2'"):
        links(df, "chr3-1-5000")
    with pytest.raises(MinNetInputError, match="min_score"):
        links(df, "chr1-1-10000", min_score=5.0)
    with pytest.raises(MinNetInputError, match="distance"):
        links(df.drop(columns="distance"), "chr1-1-10000")
    with pytest.raises(MinNetInputError, match="'score'"):
        links(df.drop(columns="score"), "chr1-1-10000")
    with pytest.raises(MinNetInputError, match="peak name"):
        links(df.assign(peak="not-a-peak"), "chr1-1-10000")


# ---------------------------------------------------------------------------------------------
# embedding
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
