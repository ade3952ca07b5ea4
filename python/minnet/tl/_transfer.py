"""``tl.transfer_labels``: distance-weighted KNN vote from a reference to a query embedding."""

from __future__ import annotations

import numpy as np
import pandas as pd
from anndata import AnnData

from .._utils import MinNetInputError, get_rep, logger
from ..model import MinNetModel
from ..neighbors import knn
from ..validation import Modality, check_int, check_number, check_same_model, embedding_record


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
    return _winners(*knn_shares(ref, ref_labels, query, n_neighbors))


def _winners(cats: np.ndarray, shares: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's label with the largest share, and that share (its confidence)."""
    best = shares.argmax(axis=1)
    return cats[best], shares[np.arange(shares.shape[0]), best]


def knn_shares(
    ref: np.ndarray, ref_labels: np.ndarray, query: np.ndarray, n_neighbors: int = 30
) -> tuple[np.ndarray, np.ndarray]:
    """Each label's share of the distance-weighted vote (see :func:`knn_vote`).

    Neighbours come from :func:`minnet.neighbors.knn` (exact up to
    :data:`minnet.neighbors.EXACT_MAX_CELLS` reference cells, approximate beyond).

    Returns
    -------
    The sorted labels and a query cells × labels matrix whose rows sum to 1.
    """
    k = min(check_int(n_neighbors, "n_neighbors", 1), ref.shape[0])
    if k < 1:
        raise MinNetInputError("n_neighbors must be at least 1.")
    dist, idx = knn(ref, k, query=query)
    scale = dist.mean(axis=1, keepdims=True)
    w = np.exp(-np.divide(dist, scale, out=np.zeros_like(dist), where=scale > 0))
    cats, codes = np.unique(ref_labels, return_inverse=True)
    votes = np.zeros((query.shape[0], cats.size))
    np.add.at(votes, (np.repeat(np.arange(query.shape[0]), k), codes[idx].ravel()), w.ravel())
    return cats, votes / votes.sum(axis=1, keepdims=True)


def _head_shares(model: MinNetModel, query: AnnData, modality: Modality, layer: str | None,
                 cats: np.ndarray, use_rep: str) -> tuple[np.ndarray, np.ndarray]:
    """The model's classifier probabilities for ``query`` on the union of its and ``cats``'
    labels; returns the union and the probabilities (columns of unknown labels are 0).

    The query is scaled as its embedding was (``uns["minnet"][use_rep]["scaling"]``)."""
    from ..model import MinNetModel

    if not isinstance(model, MinNetModel):
        raise MinNetInputError(
            f"model must be a MinNetModel (from minnet.train or minnet.load), got "
            f"{type(model).__name__}."
        )
    if modality is None:
        raise MinNetInputError(
            "model= needs modality= ('rna', 'atac' or 'adt'): the query's raw data are run "
            "through that encoder and the model's classifier."
        )
    head_labels = np.asarray(model.labels, dtype=object).astype(str)
    shared = set(head_labels) & set(cats)
    if not shared:
        raise MinNetInputError(
            f"none of the model's {len(head_labels)} cell types (e.g. {list(head_labels[:3])}) "
            f"are labels of the reference (e.g. {list(cats[:3])}); the classifier cannot vote. "
            "Pass model=None, or a reference annotated like the training data."
        )
    if len(shared) < len(head_labels):
        logger.warning(
            "transfer_labels: %d of the model's %d cell types are not reference labels "
            "(e.g. %s); the classifier votes for them too.",
            len(head_labels) - len(shared), len(head_labels),
            sorted(set(head_labels) - shared)[:5])
    scaling = embedding_record(query, use_rep).get("scaling", "reference")
    prob = model.class_probabilities(query, modality, layer=layer, scaling=scaling)
    union = np.asarray(sorted(set(cats) | set(head_labels)), dtype=object)
    out = np.zeros((prob.shape[0], union.size))
    out[:, pd.Index(union).get_indexer(head_labels)] = prob
    return union, out


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
    *,
    model: MinNetModel | None = None,
    modality: Modality | None = None,
    layer: str | None = None,
    head_weight: float = 0.5,
    check_model: bool = True,
) -> AnnData | None:
    """Transfer cell-type labels from reference cells to query cells in the co-embedding.

    Each query cell gets the label with the largest share of a distance-weighted vote of its
    nearest reference cells. With ``model``, that vote is blended with the model's own
    classifier (trained on the paired data's labels) run on the query's raw data:
    ``(1 − head_weight) · vote + head_weight · classifier``. The blend labels held-out cells
    better than either alone (benchmarks/results/sweep/README.md).

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
    model
        Optional :class:`minnet.MinNetModel` that embedded the data: its classifier votes too.
    modality
        With ``model``: the query's modality (``"rna"``, ``"atac"``, ``"adt"``); its raw data
        (``.X`` or ``layer``) go through that encoder.
    layer
        With ``model``: the query layer with raw counts.
    head_weight
        With ``model``: the classifier's share of the blend, in [0, 1] (1: classifier only).
    check_model
        Refuse a reference and a query embedded by different models (their
        ``uns["minnet"][use_rep]["model"]`` fingerprints differ); ``False`` only warns.

    Returns
    -------
    The annotated copy when ``copy=True``, else ``None``. Confidence is the winning label's
    share of the (blended) vote.
    """
    ref = get_rep(reference, use_rep, "reference")
    qry = get_rep(query, use_rep, "query")
    check_same_model({"reference": reference, "query": query}, use_rep, check_model)
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
    if model is not None:
        head_weight = check_number(head_weight, "head_weight", 0.0, 1.0)
    cats, shares = knn_shares(ref[keep], lab.astype(str).to_numpy()[keep], qry, n_neighbors)
    if model is not None:
        union, head = _head_shares(model, query, modality, layer, cats, use_rep)
        vote = np.zeros_like(head)
        vote[:, pd.Index(union).get_indexer(cats)] = shares
        cats, shares = union, (1.0 - head_weight) * vote + head_weight * head
    pred, conf = _winners(cats, shares)
    if min_confidence is not None:
        check_number(min_confidence, "min_confidence", 0.0, 1.0)
        pred = np.where(conf < min_confidence, unassigned, pred).astype(object)
    key = key_added or label_key
    out = query.copy() if copy else query
    cats = sorted(set(pred))
    out.obs[f"{key}_pred"] = pd.Categorical(pred, categories=cats)
    out.obs[f"{key}_confidence"] = conf.astype(np.float32)
    return out if copy else None
