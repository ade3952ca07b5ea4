"""Score a co-embedding of held-out cells with ``minnet.metrics``, the same way for every method."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

import minnet
from minnet.metrics import evaluate_pair

FOSCTTM = "FOSCTTM (lower is better)"
METRICS = {  # column → short name in tables and figures (↓: lower is better)
    FOSCTTM: "FOSCTTM ↓",
    "cell-type silhouette": "cell-type ASW",
    "modality mixing (1 - ASW)": "1 − modality ASW",
    "batch mixing (1 - ASW)": "1 − batch ASW",
    "ARI max": "ARI max",
    "ARI mean": "ARI mean",
    "label transfer accuracy": "transfer acc.",
    "label transfer macro accuracy": "transfer macro",
}
OWN_ACC = "own label transfer accuracy"
OWN_MACRO = "own label transfer macro accuracy"
# columns of the per-task reference points of label transfer (label_information)
REFERENCE_PREFIX = "reference: "


def score(z_rna: np.ndarray, z_other: np.ndarray, labels, batches, own_pred=None,
          seed: int = 0) -> dict:
    """Metrics of a co-embedding of paired held-out cells embedded as unpaired data.

    Parameters
    ----------
    z_rna, z_other
        Embeddings of the same held-out cells (row ``i`` = cell ``i``) from RNA and from the
        other modality; the pairing is used here only to score.
    labels, batches
        Cell type and batch of each held-out cell.
    own_pred
        The method's own label predictions for the other modality (Seurat's TransferData).
    seed
        Seed of the metrics' subsampling and Leiden.

    Returns
    -------
    dict
        FOSCTTM, label transfer (``minnet.tl.transfer_labels``, RNA → other, 30 neighbours:
        accuracy and macro recall), cell-type silhouette, 1 − modality silhouette and
        1 − batch silhouette (within cell types, scib style; NaN with one held-out batch), ARI
        of joint Leiden clusterings (max and mean over resolutions 0.1–2), and the method's own
        transfer accuracy when given.
    """
    labels = np.asarray(labels).astype(str)
    batches = np.asarray(batches).astype(str)
    obs = pd.DataFrame({"cell_type": labels})
    obs.index = obs.index.astype(str)
    rq = ad.AnnData(obs=obs.copy(), obsm={"X_emb": np.asarray(z_rna, dtype=np.float32)})
    oq = ad.AnnData(obs=obs.copy(), obsm={"X_emb": np.asarray(z_other, dtype=np.float32)})
    res = evaluate_pair(rq, oq, use_rep="X_emb")
    z = np.concatenate([rq.obsm["X_emb"], oq.obsm["X_emb"]])
    lab2 = np.concatenate([labels, labels])
    bat2 = np.concatenate([batches, batches])
    res["batch mixing (1 - ASW)"] = (
        minnet.metrics.silhouette_mixing(z, bat2, lab2, seed=seed)
        if np.unique(batches).size > 1 else np.nan)
    ari = minnet.metrics.ari_over_resolutions(z, lab2, seed=seed)
    res["ARI max"], res["ARI mean"] = ari["max"], ari["mean"]
    if own_pred is not None:
        acc = minnet.metrics.label_transfer_accuracy(labels, np.asarray(own_pred).astype(str))
        res[OWN_ACC], res[OWN_MACRO] = acc["accuracy"], acc["macro"]
    return res


def _own_space(x, modality: str, seed: int) -> np.ndarray:
    """A cells × ≤30 space of one modality alone, computed from its raw counts the way its
    field usually does: log-normalised PCA (RNA), TF-IDF + SVD without the depth component
    (ATAC peaks), CLR + PCA (ADT)."""
    import scipy.sparse as sp
    from sklearn.decomposition import PCA, TruncatedSVD

    x = sp.csr_matrix(x, dtype=np.float64)
    depth = np.maximum(np.asarray(x.sum(axis=1)).ravel(), 1.0)
    if modality == "atac":
        idf = x.shape[0] / np.maximum(np.asarray((x > 0).sum(axis=0)).ravel(), 1.0)
        t = sp.csr_matrix(sp.diags(1.0 / depth) @ x @ sp.diags(idf))
        t.data = np.log1p(t.data * 1e4)
        k = int(min(31, min(t.shape) - 1))
        return TruncatedSVD(k, random_state=seed).fit_transform(t)[:, 1:]
    if modality == "adt":
        logx = np.log1p(x.toarray())
        dense = logx - logx.mean(axis=1, keepdims=True)
    else:  # the 2,000 most variable log-normalised genes, chosen before densifying
        logx = sp.csr_matrix(sp.diags(1e4 / depth) @ x)
        logx.data = np.log1p(logx.data)
        mean = np.asarray(logx.mean(axis=0)).ravel()
        var = np.asarray(logx.multiply(logx).mean(axis=0)).ravel() - mean**2
        dense = logx[:, np.sort(np.argsort(var)[::-1][:2000])].toarray()
    sd = dense.std(axis=0)
    dense = (dense - dense.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    k = int(min(30, min(dense.shape) - 1))
    return PCA(k, random_state=seed).fit_transform(dense)


def label_information(rna_counts, other_counts, modality: str, labels, seed: int = 0,
                      n_neighbors: int = 15, n_folds: int = 5) -> dict:
    """Reference points for label transfer on one task's held-out cells.

    How well could anything do? ``most common type``: the accuracy of calling every cell the
    most common type. ``RNA alone`` / ``<modality> alone``: a ``n_neighbors``-NN classifier
    trained on that modality's own cells with their true labels, cross-validated
    (``n_folds`` folds) in its own space (:func:`_own_space`). No integration method gets
    the other modality's labels, so "alone" is a yardstick of how much cell-type information
    the modality carries, not a bound; when it is near "most common type", transfer to that
    modality cannot beat chance by much.
    """
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.neighbors import KNeighborsClassifier

    labels = np.asarray(labels).astype(str)
    _, counts = np.unique(labels, return_counts=True)
    out = {"most common type": counts.max() / labels.size}
    folds = KFold(n_folds, shuffle=True, random_state=seed)
    for name, x, mod in (("RNA alone", rna_counts, "rna"),
                         (f"{modality.upper()} alone", other_counts, modality)):
        z = _own_space(x, mod, seed)
        knn = KNeighborsClassifier(min(n_neighbors, labels.size - labels.size // n_folds - 1))
        pred = cross_val_predict(knn, z, labels, cv=folds)
        out[name] = float((pred == labels).mean())
    return out
