"""``tl.transfer_labels``: distance-weighted KNN vote from a reference to a query embedding."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData
from sklearn.neighbors import NearestNeighbors

from .._utils import MinNetInputError, check_int, check_number, get_rep, logger


def knn_vote(
    ref: np.ndarray, ref_labels: np.ndarray, query: np.ndarray, n_neighbors: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Distance-weighted vote of the ``n_neighbors`` nearest reference cells of each query cell.

    A neighbour at distance ``d`` votes with weight ``exp(−d / mean distance of the query cell's
    neighbours)``, so the vote does not depend on the embedding's scale. Confidence is the
    winning label's share of the weight.

    Returns
    -------
    Predicted labels and confidences (in [0, 1]) of the query cells.
    """
    k = min(check_int(n_neighbors, "n_neighbors", 1), ref.shape[0])
    if k < 1:
        raise MinNetInputError("n_neighbors must be at least 1.")
    nn = NearestNeighbors(n_neighbors=k).fit(ref)
    dist, idx = nn.kneighbors(query)
    scale = dist.mean(axis=1, keepdims=True)
    w = np.exp(-np.divide(dist, scale, out=np.zeros_like(dist), where=scale > 0))
    cats, codes = np.unique(ref_labels, return_inverse=True)
    votes = np.zeros((query.shape[0], cats.size))
    np.add.at(votes, (np.repeat(np.arange(query.shape[0]), k), codes[idx].ravel()), w.ravel())
    best = votes.argmax(axis=1)
    conf = votes[np.arange(query.shape[0]), best] / votes.sum(axis=1)
    return cats[best], conf


def transfer_labels(
    reference: AnnData,
    query: AnnData,
    label_key: str,
    use_rep: str = "X_minnet",
    n_neighbors: int = 30,
    key_added: str | None = None,
    min_confidence: float | None = None,
    unassigned: str = "unassigned",
    copy: bool = True,
) -> AnnData | None:
    """Transfer cell-type labels from reference cells to query cells in the co-embedding.

    Parameters
    ----------
    reference
        Labelled cells with ``obsm[use_rep]`` and ``obs[label_key]`` (not modified).
    query
        Cells to label, with ``obsm[use_rep]``.
    label_key
        ``reference.obs`` column to transfer.
    use_rep
        ``obsm`` key of the co-embedding in both objects.
    n_neighbors
        Reference neighbours voting for each query cell.
    key_added
        Prefix of the result columns (default ``label_key``): ``obs[f"{key}_pred"]`` and
        ``obs[f"{key}_confidence"]``.
    min_confidence
        If given, cells whose confidence is below it are labelled ``unassigned``.
    unassigned
        Label of low-confidence cells.
    copy
        Return an annotated copy of ``query`` (default) instead of writing into it.

    Returns
    -------
    The annotated copy when ``copy=True``, else ``None``.
    """
    ref = get_rep(reference, use_rep, "reference")
    qry = get_rep(query, use_rep, "query")
    if ref.shape[1] != qry.shape[1]:
        raise MinNetInputError(
            f"reference and query embeddings differ in width ({ref.shape[1]} vs {qry.shape[1]})."
        )
    if label_key not in reference.obs.columns:
        raise MinNetInputError(
            f"label column {label_key!r} is not in reference.obs; available: "
            f"{list(reference.obs.columns)[:20]}."
        )
    lab = reference.obs[label_key]
    keep = lab.notna().to_numpy()
    if not keep.any():
        raise MinNetInputError(f"reference.obs[{label_key!r}] has no labelled cells.")
    if label_key in query.obs.columns:  # the query's own labels, when it has them
        unseen = sorted(set(query.obs[label_key].dropna().astype(str))
                        - set(lab[keep].astype(str)))
        if unseen:
            logger.warning(
                "transfer_labels: %d class(es) of query.obs[%r] are absent from the reference "
                "and cannot be predicted: %s", len(unseen), label_key, unseen[:10])
    pred, conf = knn_vote(ref[keep], lab.astype(str).to_numpy()[keep], qry, n_neighbors)
    if min_confidence is not None:
        check_number(min_confidence, "min_confidence", 0.0, 1.0)
        pred = np.where(conf < min_confidence, unassigned, pred).astype(object)
    key = key_added or label_key
    out = query.copy() if copy else query
    cats = sorted(set(pred))
    out.obs[f"{key}_pred"] = pd.Categorical(pred, categories=cats)
    out.obs[f"{key}_confidence"] = conf.astype(np.float32)
    return out if copy else None
