"""Tests for minnet.pp._gene_activity.gene_activity."""

from __future__ import annotations

import logging
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from minnet._utils import MinNetInputError
from minnet.pp._gene_activity import gene_activity

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# Peaks (1-based closed), deliberately not sorted. With upstream=500:
#   gA '+' tss 1500 end 3000: promoter [1000,1500], body [1500,3000]
#   gB '-' tss 4500 end 4000: promoter [4500,5000], body [4000,4500]
#   gC '+' tss 700 on chr2, end 2000: promoter [200,700], body [700,2000]
#   gD '+' tss 8000 end 9000: no peak at all
#   gE '+' tss 3101 end 3200: promoter [2601,3101], p3 ends at 2600 -> just misses
PEAKS = [
    "chr1-2500-2600",  # 0: p3 body of gA
    "chr1-100-150",  # 1: nothing
    "chr1-900-1000",  # 2: touches gA promoter start (1000)
    "chr2-100-200",  # 3: touches gC promoter start (200)
    "chr1-1000-1100",  # 4: gA promoter
    "chr1-5000-5100",  # 5: touches gB promoter end (5000)
    "chr1-4100-4200",  # 6: gB body only
]
EXPECTED_WITH_BODY = {"gA": [0, 2, 4], "gB": [5, 6], "gC": [3]}
EXPECTED_PROMOTER = {"gA": [2, 4], "gB": [5], "gC": [3]}


def _annotation(chrom_prefix: str = "chr") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "gene_name": ["gA", "gB", "gC", "gD", "gE"],
            "gene_id": ["E1", "E2", "E3", "E4", "E5"],
            "chrom": [f"{chrom_prefix}{c}" for c in ["1", "1", "2", "1", "1"]],
            "tss": [1500, 4500, 700, 8000, 3101],
            "strand": ["+", "-", "+", "+", "+"],
            "end": [3000, 4000, 2000, 9000, 3200],
        }
    )


def _counts() -> np.ndarray:
    rng = np.random.default_rng(7)
    x = rng.integers(0, 5, size=(6, len(PEAKS))).astype(np.int64)
    x[5, :] = 0  # an empty cell
    x[:, 3] = [0, 0, 0, 2, 0, 0]  # gC only detected in one cell
    return x


def _atac(x=None, peaks=PEAKS) -> ad.AnnData:
    x = _counts() if x is None else x
    obs = pd.DataFrame({"batch": list("aabbcc")}, index=[f"cell{i}" for i in range(x.shape[0])])
    return ad.AnnData(X=x, obs=obs, var=pd.DataFrame(index=list(peaks)))


def _expected(x, mapping):
    genes = list(mapping)
    return genes, np.stack([x[:, mapping[g]].sum(axis=1) for g in genes], axis=1)


@pytest.mark.parametrize(
    ("gene_body", "mapping"), [(True, EXPECTED_WITH_BODY), (False, EXPECTED_PROMOTER)]
)
def test_hand_made_sums(gene_body, mapping):
    x = _counts()
    out = gene_activity(_atac(sp.csr_matrix(x)), _annotation(), upstream=500, gene_body=gene_body)
    genes, expected = _expected(x, mapping)
    assert out.var_names.tolist() == genes
    assert sp.isspmatrix_csr(out.X) and out.X.dtype == np.float32
    np.testing.assert_array_equal(out.X.toarray(), expected)
    assert out.var["n_peaks"].tolist() == [len(mapping[g]) for g in genes]
    assert out.var["gene_id"].tolist() == ["E1", "E2", "E3"]
    assert out.obs_names.tolist() == [f"cell{i}" for i in range(6)]
    assert out.uns["minnet_gene_activity"] == {"upstream": 500, "gene_body": gene_body,
                                               "distance": 0, "decay": 5000.0}


def _brute_force_weights(distance: int, decay: float) -> dict[str, dict[int, float]]:
    """Every gene × peak pair by hand: gap to the promoter + body window, weight exp(-gap/decay)."""
    ann = _annotation()
    out: dict[str, dict[int, float]] = {}
    for _, g in ann.iterrows():
        lo = min(g.tss, g.end)
        hi = max(g.tss, g.end)
        lo, hi = (min(lo, g.tss - 500), hi) if g.strand == "+" else (lo, max(hi, g.tss + 500))
        for j, name in enumerate(PEAKS):
            chrom, s, e = name.split("-")
            if chrom != g.chrom:
                continue
            gap = max(0, lo - int(e), int(s) - hi)
            if gap <= distance:
                out.setdefault(g.gene_name, {})[j] = float(np.exp(-gap / decay))
    return out


def test_distance_weighted_sums_match_a_brute_force_count():
    x = _counts()
    out = gene_activity(_atac(x), _annotation(), upstream=500, distance=1000, decay=100)
    weights = _brute_force_weights(1000, 100)
    # gE (window 2601-3200) now gets peak 0 (ends at 2600, 1 bp away) and peak 6 (900 bp away)
    assert weights["gE"] == pytest.approx({0: np.exp(-0.01), 6: np.exp(-9.0)})
    assert out.var_names.tolist() == ["gA", "gB", "gC", "gE"]
    for g in out.var_names:
        expected = sum(x[:, j] * w for j, w in weights[g].items())
        np.testing.assert_allclose(out[:, g].X.toarray().ravel(), expected, rtol=1e-5)
    assert out.var.loc["gA", "n_peaks"] == 4  # peaks 0, 2, 4 overlap; peak 1 is 850 bp away
    assert out.uns["minnet_gene_activity"]["distance"] == 1000


def test_distance_zero_is_the_window_sum_and_decay_is_checked():
    x = _counts()
    plain = gene_activity(_atac(x), _annotation(), upstream=500)
    again = gene_activity(_atac(x), _annotation(), upstream=500, distance=0, decay=1)
    np.testing.assert_array_equal(plain.X.toarray(), again.X.toarray())
    for bad in (0, -5, float("nan"), "far"):
        with pytest.raises(MinNetInputError, match="decay must be a positive number"):
            gene_activity(_atac(x), _annotation(), distance=100, decay=bad)
    with pytest.raises(MinNetInputError, match="distance"):
        gene_activity(_atac(x), _annotation(), distance=-1)


def test_upstream_changes_promoter():
    x = _counts()
    # upstream=499: gA promoter [1001,1500] no longer touches peak 2 (900-1000); gB promoter
    # [4500,4999] no longer touches peak 5 (5000-5100); gC [201,700] misses peak 3.
    out = gene_activity(_atac(x), _annotation(), upstream=499, gene_body=False)
    genes, expected = _expected(x, {"gA": [4]})
    assert out.var_names.tolist() == genes
    np.testing.assert_array_equal(out.X.toarray(), expected)


def test_promoter_only_without_end_column():
    x = _counts()
    ann = _annotation().drop(columns="end")
    out = gene_activity(_atac(x), ann, upstream=500, gene_body=True)
    genes, expected = _expected(x, EXPECTED_PROMOTER)
    assert out.var_names.tolist() == genes
    np.testing.assert_array_equal(out.X.toarray(), expected)
    assert out.uns["minnet_gene_activity"]["gene_body"] is False


def test_chromosome_naming_reconciled_both_ways():
    x = _counts()
    ref = gene_activity(_atac(x), _annotation("chr"), upstream=500)
    out1 = gene_activity(_atac(x), _annotation(""), upstream=500)
    unprefixed = [p.replace("chr", "") for p in PEAKS]
    out2 = gene_activity(_atac(x, peaks=unprefixed), _annotation("chr"), upstream=500)
    for out in (out1, out2):
        assert out.var_names.tolist() == ref.var_names.tolist()
        np.testing.assert_array_equal(out.X.toarray(), ref.X.toarray())


def test_min_cells_and_genes_subset(caplog):
    x = _counts()
    out = gene_activity(_atac(x), _annotation(), upstream=500, min_cells=2)
    assert "gC" not in out.var_names  # detected in a single cell
    assert set(out.var_names) == {"gA", "gB"}
    with caplog.at_level(logging.WARNING, logger="minnet"):
        out = gene_activity(_atac(x), _annotation(), upstream=500, genes=["gB", "nope", "gA"])
    assert out.var_names.tolist() == ["gB", "gA"]
    assert "nope" in caplog.text
    with pytest.raises(MinNetInputError, match="none of the"):
        gene_activity(_atac(x), _annotation(), genes=["nope"])


def test_logs_number_of_genes(caplog):
    with caplog.at_level(logging.INFO, logger="minnet"):
        gene_activity(_atac(), _annotation(), upstream=500)
    assert "3 of 5 genes got activity" in caplog.text


def test_dense_sparse_int_float_identical():
    x = _counts()
    ann = _annotation()
    ref = gene_activity(_atac(x), ann, upstream=500)
    variants = [
        x.astype(np.int32),
        x.astype(np.float32),
        x.astype(np.float64),
        sp.csr_matrix(x),
        sp.csr_matrix(x.astype(np.float32)),  # multiplied directly, without a column subset
        sp.csc_matrix(x.astype(np.float32)),
        sp.csr_array(x.astype(np.float64)),
    ]
    for v in variants:
        out = gene_activity(_atac(v), ann, upstream=500)
        assert out.var_names.tolist() == ref.var_names.tolist()
        assert out.X.dtype == np.float32
        np.testing.assert_array_equal(out.X.toarray(), ref.X.toarray())


def test_layer_view_and_backed(tmp_path):
    x = _counts()
    ann = _annotation()
    ref = gene_activity(_atac(x), ann, upstream=500)

    atac = _atac(np.full(x.shape, -1.0))  # X is not counts; the layer is
    atac.layers["counts"] = sp.csr_matrix(x)
    out = gene_activity(atac, ann, upstream=500, layer="counts")
    np.testing.assert_array_equal(out.X.toarray(), ref.X.toarray())
    with pytest.raises(MinNetInputError, match="layer"):
        gene_activity(atac, ann, layer="missing")

    view = _atac(sp.csr_matrix(x))[[0, 2, 3]]
    assert view.is_view
    out = gene_activity(view, ann, upstream=500)
    np.testing.assert_array_equal(out.X.toarray(), ref.X.toarray()[[0, 2, 3]])
    assert out.obs_names.tolist() == ["cell0", "cell2", "cell3"]

    for name, mat in (("sparse", sp.csr_matrix(x.astype(np.float32))), ("dense", x)):
        path = tmp_path / f"{name}.h5ad"
        _atac(mat).write_h5ad(path)
        backed = ad.read_h5ad(path, backed="r")
        out = gene_activity(backed, ann, upstream=500)
        np.testing.assert_array_equal(out.X.toarray(), ref.X.toarray())
        backed.file.close()


def test_input_not_modified():
    x = _counts()
    atac = _atac(sp.csr_matrix(x))
    ann = _annotation()
    ann_before = ann.copy(deep=True)
    X_before = atac.X.copy()
    obs_before, var_before = atac.obs.copy(), atac.var.copy()
    out = gene_activity(atac, ann, upstream=500)
    assert (atac.X != X_before).nnz == 0 and atac.X.dtype == X_before.dtype
    pd.testing.assert_frame_equal(atac.obs, obs_before)
    pd.testing.assert_frame_equal(atac.var, var_before)
    pd.testing.assert_frame_equal(ann, ann_before)
    assert atac.var_names.tolist() == PEAKS
    # result obs is a copy, not a reference
    out.obs["batch"] = "z"
    out.obs["new"] = 1
    assert atac.obs["batch"].tolist() == list("aabbcc") and "new" not in atac.obs


def test_no_overlap_error_names_chromosomes():
    ann = _annotation()
    ann["chrom"] = "scaffold_9"
    with pytest.raises(MinNetInputError) as exc:
        gene_activity(_atac(), ann)
    msg = str(exc.value)
    assert "scaffold_9" in msg and "chr1" in msg


def test_bad_inputs():
    ann = _annotation()
    with pytest.raises(MinNetInputError, match="could not be parsed") as exc:
        gene_activity(_atac(peaks=PEAKS[:-1] + ["peak7"]), ann)
    assert "peak7" in str(exc.value)
    neg = _counts().astype(np.float64)
    neg[0, 0] = -1
    with pytest.raises(MinNetInputError, match="negative"):
        gene_activity(_atac(sp.csr_matrix(neg)), ann)
    nan = _counts().astype(np.float64)
    nan[1, 2] = np.nan
    with pytest.raises(MinNetInputError, match="NaN"):
        gene_activity(_atac(nan), ann)
    with pytest.raises(MinNetInputError, match="upstream"):
        gene_activity(_atac(), ann, upstream=-5)
    with pytest.raises(MinNetInputError, match="missing required column"):
        gene_activity(_atac(), ann.drop(columns="strand"))


def test_real_bmmc_multiome():
    atac_path = SHARED / "bmmc_multiome_starter" / "atac.h5ad"
    ann_path = SHARED / "annotation" / "hg38_tss.tsv"
    if not (atac_path.exists() and ann_path.exists()):
        pytest.skip("shared BMMC multiome data not available")
    atac = ad.read_h5ad(atac_path)
    out = gene_activity(atac, ann_path, layer="counts")
    assert out.n_obs == atac.n_obs and out.n_vars > 0
    assert out.obs_names.equals(atac.obs_names)
    data = out.X.data
    assert (data >= 0).all() and np.array_equal(data, np.round(data))
    assert (out.var["n_peaks"] >= 1).all()
    assert out.X.sum() > 0
    # Cross-check one gene against a direct sum over its promoter peaks.
    gene = out.var_names[0]
    row = out.var.loc[gene]
    counts = atac.layers["counts"]
    peaks = atac.var_names.str.extract(r"^(.+)-(\d+)-(\d+)$")
    lo, hi = (
        (row["tss"] - 2000, row["tss"]) if row["strand"] == "+" else (row["tss"], row["tss"] + 2000)
    )
    hit = (
        (peaks[0] == row["chrom"]) & (peaks[1].astype(int) <= hi) & (peaks[2].astype(int) >= lo)
    ).to_numpy()
    assert hit.sum() == row["n_peaks"]
    np.testing.assert_allclose(
        out[:, gene].X.toarray().ravel(), np.asarray(counts[:, hit].sum(axis=1)).ravel()
    )


def test_careless_arguments_get_clear_errors(tmp_path):
    with pytest.raises(MinNetInputError, match="is a directory"):
        gene_activity(_atac(), tmp_path)
    binary = tmp_path / "annotation.tsv"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(MinNetInputError, match="annotation.tsv' could not be read as a table"):
        gene_activity(_atac(), binary)
    with pytest.raises(MinNetInputError, match="upstream=.* larger than any chromosome"):
        gene_activity(_atac(), _annotation(), upstream=10**19)  # used to wrap around silently
    with pytest.raises(MinNetInputError, match="distance=.* larger than any chromosome"):
        gene_activity(_atac(), _annotation(), distance=10**19)
    with pytest.raises(MinNetInputError, match=r"min_cells=100 drops every gene: .* in 5 of 6 cells"):
        gene_activity(_atac(), _annotation(), min_cells=100)
    with pytest.raises(MinNetInputError, match="genes= is empty"):
        gene_activity(_atac(), _annotation(), genes=[])
