"""Glue between the R package (through reticulate) and the MinNet Python core.

Only plain values cross the border: numpy vectors, strings and dicts of columns. Sparse
matrices travel as ``indptr / indices / data / shape`` (reticulate 1.28 cannot convert scipy
matrices), and tables as dicts of columns (no pandas conversion in reticulate). Everything
here calls the core's public API (``minnet.train``, ``minnet.tl``, ``minnet.datasets``).
"""

from __future__ import annotations

import logging
from contextlib import contextmanager

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData


def _names(x) -> list[str]:
    return [str(v) for v in np.atleast_1d(np.asarray(x, dtype=object))]


def make_adata(indptr, indices, data, shape, obs_names, var_names, obs=None, obs_missing=None,
               obsm=None):
    """AnnData (cells x features) from a CSR given as vectors, plus ``obs`` columns.

    Parameters
    ----------
    indptr, indices, data, shape
        The cells x features CSR matrix (a dgCMatrix's ``p``, ``i``, ``x``: no copy in R).
    obs_names, var_names
        Cell and feature names.
    obs
        Dict of ``obs`` columns (strings).
    obs_missing
        Dict of boolean vectors: where an ``obs`` column was ``NA`` in R (becomes missing).
    obsm
        Dict of cells x dimensions embeddings (kept as float64).

    Returns
    -------
    AnnData
    """
    n_obs, n_vars = (int(v) for v in np.atleast_1d(shape))
    x = sp.csr_matrix(
        (
            np.asarray(data, dtype=np.float32).ravel(),
            np.asarray(indices, dtype=np.int64).ravel(),
            np.asarray(indptr, dtype=np.int64).ravel(),
        ),
        shape=(n_obs, n_vars),
    )
    cells = _names(obs_names)
    frame = pd.DataFrame(index=pd.Index(cells))
    missing = dict(obs_missing or {})
    for key, col in dict(obs or {}).items():
        values = np.atleast_1d(np.asarray(col, dtype=object)).astype(str).astype(object)
        if key in missing:
            values[np.atleast_1d(np.asarray(missing[key], dtype=bool))] = None
        frame[str(key)] = pd.Series(values, index=frame.index, dtype=object)
    adata = AnnData(X=x, obs=frame, var=pd.DataFrame(index=pd.Index(_names(var_names))))
    for key, emb in dict(obsm or {}).items():
        adata.obsm[str(key)] = np.asarray(emb, dtype=np.float64).reshape(n_obs, -1)
    return adata


def frame(columns, missing=None) -> pd.DataFrame:
    """A DataFrame from a dict of columns (the R side sends data.frames this way).

    ``missing``: dict of boolean vectors, where a column was ``NA`` in R (becomes missing).
    """
    out = pd.DataFrame({str(k): np.atleast_1d(np.asarray(v)) for k, v in dict(columns).items()})
    for key, mask in dict(missing or {}).items():
        mask = np.atleast_1d(np.asarray(mask, dtype=bool))
        if mask.any():
            out[str(key)] = out[str(key)].astype(object).where(~mask, None)
    return out


def columns(df: pd.DataFrame) -> dict:
    """A DataFrame as a dict of plain columns: lists of str for text, float64 numpy otherwise."""
    out = {}
    for name in df.columns:
        col = df[name]
        if col.dtype.kind in "biuf":
            out[str(name)] = col.to_numpy(dtype=np.float64)
        else:
            out[str(name)] = [str(v) for v in col.astype(object).to_numpy()]
    return out


def csc_pieces(adata: AnnData) -> dict:
    """``adata.X`` (cells x features CSR) as the features x cells CSC of an R dgCMatrix."""
    x = sp.csr_matrix(adata.X, dtype=np.float64)
    x.sort_indices()
    return {
        "indptr": x.indptr.astype(np.int32),
        "indices": x.indices.astype(np.int32),
        "data": x.data,
        "n_features": int(x.shape[1]),
        "n_cells": int(x.shape[0]),
        "features": _names(adata.var_names),
        "cells": _names(adata.obs_names),
    }


def model_info(model) -> dict:
    """What the R handle keeps about a model, so R can check inputs without Python."""
    summary = {k: v for k, v in model.summary.items() if k != "history"}
    if "networks" in summary:  # an ensemble: each network's record, without its history
        summary["networks"] = [{k: v for k, v in r.items() if k != "history"}
                               for r in summary["networks"]]
    return {
        "modalities": list(model.modalities),
        "features": {k: list(v) for k, v in model.features.items()},
        "labels": list(model.labels),
        "config": dict(model.config),
        "summary": summary,
        "history": columns(model.history) if len(model.history) else {},
        "has_annotation": model.annotation is not None,
        "fingerprint": str(model.fingerprint),
    }


def train_keywords() -> dict:
    """``minnet.train``'s keyword arguments and their annotations (R passes them through)."""
    import inspect

    import minnet

    params = inspect.signature(minnet.train).parameters.values()
    return {p.name: str(p.annotation) for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


def read_annotation(annotation, missing=None) -> dict:
    """The core's validated gene annotation (``minnet.genomics.read_annotation``), as columns."""
    from minnet.genomics import read_annotation as read

    return columns(read(frame(annotation, missing)))


def simulate(modality, **kwargs) -> dict:
    """Simulated multiome (RNA, peaks, gene activity) or CITE-seq (RNA, ADT) as pieces.

    ``kwargs`` go to ``minnet.datasets.simulate_multiome`` / ``simulate_citeseq`` unchanged,
    so the core checks them.
    """
    import minnet

    if modality == "adt":
        sim = minnet.datasets.simulate_citeseq(**kwargs)
        return {
            "rna": csc_pieces(sim.rna),
            "adt": csc_pieces(sim.adt),
            "obs": columns(sim.rna.obs[["cell_type", "batch", "lineage"]]),
        }
    sim = minnet.datasets.simulate_multiome(**kwargs)
    activity = minnet.pp.gene_activity(sim.atac, sim.annotation)
    return {
        "rna": csc_pieces(sim.rna),
        "peaks": csc_pieces(sim.atac),
        "activity": csc_pieces(activity),
        "obs": columns(sim.rna.obs[["cell_type", "batch", "lineage"]]),
        "annotation": columns(sim.annotation),
        "links": columns(sim.links),
    }


@contextmanager
def _core_warnings():
    """The messages the core logs as warnings meanwhile (R shows them as R warnings)."""
    kept: list[str] = []

    class _Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record.getMessage())

    handler = _Keep(logging.WARNING)
    logger = logging.getLogger("minnet")
    logger.addHandler(handler)
    try:
        yield kept
    finally:
        logger.removeHandler(handler)


def embed(model, adata: AnnData, modality: str, normalized: bool, batch_key,
          scaling="reference") -> dict:
    """The model's co-embedding of ``adata`` (``z``: float64, cells x dimensions) and the
    core's ``warnings`` (e.g. a query too small for ``scaling="query"``)."""
    with _core_warnings() as kept:
        z = model.embed(adata, modality, normalized=bool(normalized), batch_key=batch_key,
                        scaling=scaling)
    return {"z": np.asarray(z, dtype=np.float64), "warnings": list(kept)}


def transfer(reference: AnnData, query: AnnData, label_key, n_neighbors, min_confidence,
             unassigned, model=None, raw: AnnData | None = None, modality=None,
             head_weight: float = 0.5) -> dict:
    """``minnet.tl.transfer_labels`` on ``obsm["X_minnet"]``; labels and confidences.

    With ``model``, ``raw`` holds the query cells' data of ``modality`` (any cell order): the
    model's classifier is blended with the vote. Numbers go to the core unchanged (it checks
    them).
    """
    import minnet

    kw = {}
    if model is not None:
        raw = raw[query.obs_names].copy()  # the reduction's cell order
        raw.obsm["X_minnet"] = np.asarray(query.obsm["X_minnet"])
        query = raw
        kw = {"model": model, "modality": str(modality), "head_weight": head_weight}
    out = minnet.tl.transfer_labels(
        reference, query, str(label_key), use_rep="X_minnet", n_neighbors=n_neighbors,
        key_added="minnet", unassigned=str(unassigned), min_confidence=min_confidence, **kw,
    )
    return {
        "label": [str(v) for v in out.obs["minnet_pred"].astype(str).to_numpy()],
        "score": out.obs["minnet_confidence"].to_numpy(dtype=np.float64),
    }


def link_pipeline(rna: AnnData, atac: AnnData, annotation, groupby, n_bulks, distance, method,
                  genes, n_background, smooth, n_neighbors, percentile, seed,
                  distance_prior=True) -> dict:
    """``minnet.tl.peak_gene_links`` on ``obsm["X_minnet"]``; the links as columns.

    ``annotation``: a DataFrame or a dict of columns. ``groupby``: ``None`` or the group
    column(s), one for both objects or ``(rna, atac)``. Numbers and choices go to the core
    unchanged (it checks them). ``n_bulks`` in the result: the mini-bulks made.
    """
    import minnet

    if groupby is not None:  # as a pair: both columns must exist (no label transfer)
        by = _names(groupby)
        groupby = (by[0], by[0]) if len(by) == 1 else tuple(by)
    if not isinstance(annotation, pd.DataFrame):  # a dict of columns
        annotation = frame(annotation)
    links = minnet.tl.peak_gene_links(
        rna, atac, annotation, use_rep="X_minnet", groupby=groupby, n_bulks=n_bulks,
        smooth=smooth, n_neighbors=n_neighbors, percentile=percentile, distance=distance,
        method=method, n_background=n_background, seed=seed, progress=False,
        genes=None if genes is None else _names(genes), distance_prior=distance_prior,
    )
    return {"links": columns(links), "n_bulks": int(links.attrs["minnet_link_peaks"]["n_bulks"])}
