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
