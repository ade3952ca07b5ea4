"""Nothing the user passes is modified: every public function, inputs compared before and after.

Also: every matrix format and dtype a user may hold (dense or sparse CSR/CSC, float32/float64/
integer counts) is accepted and gives the same result.
"""

from __future__ import annotations

import copy

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import minnet
from minnet import metrics


def _snapshot(obj):
    """A deep, comparable copy of an AnnData / DataFrame / array / plain value."""
    if isinstance(obj, ad.AnnData):
        return {
            "X": None if obj.X is None else _dense(obj.X),
            "layers": {k: _dense(v) for k, v in obj.layers.items()},
            "obs": obj.obs.copy(), "var": obj.var.copy(),
            "obsm": {k: np.array(v, copy=True) for k, v in obj.obsm.items()},
            "obsp": {k: _dense(v) for k, v in obj.obsp.items()},
            "uns": sorted(obj.uns.keys()),
            "names": (list(obj.obs_names), list(obj.var_names)),
            "X_type": type(obj.X), "X_dtype": obj.X.dtype,
        }
    if isinstance(obj, minnet.MinNetModel):  # weights, training mode and metadata
        return {"weights": {k: v.detach().cpu().numpy().copy()
                            for k, v in obj.module.state_dict().items()},
                "training": obj.module.training, "features": copy.deepcopy(obj.features),
                "labels": list(obj.labels), "config": copy.deepcopy(obj.config)}
    if isinstance(obj, pd.DataFrame | pd.Series):
        return obj.copy(deep=True)
    if sp.issparse(obj):
        return ("sparse", obj.format, obj.dtype, _dense(obj))
    if isinstance(obj, np.ndarray):
        return obj.copy()
    if isinstance(obj, list | tuple):
        return [_snapshot(o) for o in obj]
    if isinstance(obj, dict):
        return {k: _snapshot(v) for k, v in obj.items()}
    return copy.deepcopy(obj)


def _dense(x):
    return x.toarray() if sp.issparse(x) else np.array(x, copy=True)


def _assert_same(a, b, where):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _assert_same(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, obj=where)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b, obj=where)
    elif isinstance(a, np.ndarray):
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, tuple | list):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_same(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def check_untouched(fn, *args, **kwargs):
    """Call ``fn`` and assert that none of its arguments changed."""
    before = [_snapshot(a) for a in args] + [_snapshot(v) for v in kwargs.values()]
    out = fn(*args, **kwargs)
    after = [_snapshot(a) for a in args] + [_snapshot(v) for v in kwargs.values()]
    for i, (b, a) in enumerate(zip(before, after, strict=True)):
        _assert_same(b, a, f"{getattr(fn, '__name__', fn)} argument {i}")
    return out


@pytest.fixture(scope="module")
def world(sim, sim_split, small_model):
    """Embedded held-out RNA and ATAC (peaks) with labels transferred to ATAC."""
    q_rna = minnet.tl.embed(small_model, sim.rna[~sim_split], "rna")
    q_atac = minnet.tl.embed(small_model, sim.atac[~sim_split], "atac")
    q_atac = minnet.tl.transfer_labels(q_rna, q_atac, "cell_type")
    return q_rna, q_atac


def test_train_and_embed_leave_inputs_alone(sim, sim_split):
    rna, atac = sim.rna[sim_split][:300].copy(), sim.atac[sim_split][:300].copy()
    ann = sim.annotation.copy()
    model = check_untouched(minnet.train, rna, atac, modality="atac", annotation=ann,
                            batch_key="batch", epochs=1, n_hidden=16, progress=False)
    check_untouched(model.embed, atac, "atac")
    check_untouched(model.predict_labels, rna, "rna")
    check_untouched(minnet.tl.embed, model, rna, "rna")
    view = sim.rna[~sim_split]  # a view stays a view of unchanged data
    check_untouched(minnet.tl.embed, model, view, "rna")
    assert view.is_view


def test_pp_functions_leave_inputs_alone(sim):
    atac = sim.atac[:200].copy()
    rna = sim.rna[:200].copy()
    check_untouched(minnet.pp.gene_activity, atac, sim.annotation)
    check_untouched(minnet.pp.log_normalize, rna.X)
    check_untouched(minnet.pp.clr_normalize, rna.X)
    check_untouched(minnet.pp.normalized_matrix, rna, "rna")
    x = minnet.pp.log_normalize(rna.X)
    check_untouched(minnet.pp.scale, x, rna.obs["batch"].to_numpy())
    check_untouched(minnet.pp.select_features, x, list(rna.var_names), 50,
                    rna.obs["batch"].to_numpy())
    check_untouched(minnet.pp.align_features, x, list(rna.var_names), list(rna.var_names[::-1]))


def test_tl_functions_leave_inputs_alone(world, sim):
    q_rna, q_atac = world
    check_untouched(minnet.tl.transfer_labels, q_rna, q_atac, "cell_type")
    check_untouched(minnet.tl.match_cells, q_rna, q_atac, mutual=True)
    check_untouched(minnet.tl.cluster, [q_rna, q_atac])
    check_untouched(minnet.tl.cluster, {"rna": q_rna, "atac": q_atac})
    check_untouched(minnet.tl.smooth, q_rna)
    rb, ab = check_untouched(minnet.tl.minibulk, q_rna, q_atac, n_bulks=20,
                             groupby=("cell_type", "cell_type_pred"))
    check_untouched(minnet.tl.link_peaks, rb, ab, sim.annotation, n_background=20,
                    progress=False)
    rb.obs["condition"] = np.where(np.arange(rb.n_obs) % 2 == 0, "a", "b")
    ab.obs["condition"] = rb.obs["condition"].to_numpy()
    check_untouched(minnet.tl.link_peaks_by_group, rb, ab, sim.annotation,
                    groupby="condition", n_background=20, progress=False)
    check_untouched(minnet.tl.peak_gene_links, q_rna, q_atac, sim.annotation, n_bulks=20,
                    n_background=20, progress=False)


def test_pl_and_metrics_leave_inputs_alone(world, sim):
    q_rna, q_atac = world
    check_untouched(minnet.pl.embedding, {"rna": q_rna, "atac": q_atac},
                    color=["modality", "cell_type"])
    check_untouched(minnet.pl.transfer_confusion, q_atac, "cell_type")
    gene = sim.annotation.iloc[0]
    peaks = minnet.genomics.parse_peak_names(sim.atac.var_names)
    peaks = peaks[peaks["chrom"] == gene["chrom"]]
    mid = (peaks["start"] + peaks["end"]) // 2
    peak = (mid - gene["tss"]).abs().idxmin()
    lo, hi = sorted([int(mid[peak]), int(gene["tss"])])
    links = pd.DataFrame({"gene": [gene["gene_name"]], "peak": [peak],
                          "distance": [int(mid[peak] - gene["tss"])], "score": [0.5],
                          "zscore": [2.0], "pvalue": [0.01], "qvalue": [0.02]})
    check_untouched(minnet.pl.links, links, f"{gene['chrom']}-{max(1, lo - 1000)}-{hi + 1000}",
                    annotation=sim.annotation)
    zr, za = q_rna.obsm["X_minnet"], q_atac.obsm["X_minnet"]
    n = min(len(zr), len(za))
    check_untouched(metrics.foscttm, zr[:n], za[:n])
    labels = q_rna.obs["cell_type"]
    check_untouched(metrics.silhouette_celltype, zr, labels)
    check_untouched(metrics.silhouette_mixing, np.vstack([zr, za]),
                    np.repeat(["rna", "atac"], [len(zr), len(za)]))
    check_untouched(metrics.ari_over_resolutions, zr, labels, resolutions=(0.5, 1.0))
    check_untouched(metrics.label_transfer_accuracy, q_atac.obs["cell_type"],
                    q_atac.obs["cell_type_pred"])


# ---------------------------------------------------------------------------------------------
# every matrix format and dtype is accepted, with the same result
# ---------------------------------------------------------------------------------------------
FORMATS = {
    "csr_float32": lambda x: sp.csr_matrix(x, dtype=np.float32),
    "csc_float64": lambda x: sp.csc_matrix(x, dtype=np.float64),
    "dense_float64": lambda x: np.asarray(x, dtype=np.float64),
    "dense_int32": lambda x: np.asarray(x, dtype=np.int32),
    "csr_int64": lambda x: sp.csr_matrix(x, dtype=np.int64),
}


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_matrix_format_embeds_the_same(small_model, sim, sim_split, fmt):
    q = sim.rna[~sim_split][:150]
    ref = small_model.embed(q, "rna")
    counts = q.X.toarray()
    alt = ad.AnnData(X=FORMATS[fmt](counts), obs=q.obs.copy(), var=q.var.copy())
    np.testing.assert_allclose(small_model.embed(alt, "rna"), ref, atol=1e-5)
    # and as a layer with something else in X
    alt2 = ad.AnnData(X=np.zeros(counts.shape, dtype=np.float32), obs=q.obs.copy(),
                      var=q.var.copy(), layers={"counts": FORMATS[fmt](counts)})
    np.testing.assert_allclose(small_model.embed(alt2, "rna", layer="counts"), ref, atol=1e-5)


@pytest.mark.parametrize("fmt", ["csc_float64", "dense_int32"])
def test_every_matrix_format_trains_the_same(sim, fmt):
    rna = sim.rna[:300].copy()
    act = minnet.pp.gene_activity(sim.atac[:300], sim.annotation)
    kw = {"modality": "atac", "epochs": 2, "n_hidden": 16, "progress": False, "seed": 0}
    ref = minnet.train(rna, act, **kw).embed(rna, "rna")
    alt = ad.AnnData(X=FORMATS[fmt](rna.X.toarray()), obs=rna.obs.copy(), var=rna.var.copy())
    alt_act = ad.AnnData(X=FORMATS[fmt](act.X.toarray()), obs=act.obs.copy(),
                         var=act.var.copy())
    np.testing.assert_allclose(minnet.train(alt, alt_act, **kw).embed(rna, "rna"), ref,
                               atol=1e-4)
