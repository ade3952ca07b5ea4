"""Feature selection at training time and feature alignment at embedding time."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from types import ModuleType

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData

from .._utils import MinNetInputError, logger
from ..validation import check_int, check_number, check_unique_names
from ._scale import column_counts


def select_features(
    lognorm: sp.csr_matrix,
    var_names: Sequence[str],
    n_top: int = 2000,
    batches: np.ndarray | None = None,
    extra: Sequence[str] | None = None,
) -> list[str]:
    """Highly variable features (cell_ranger flavour, per batch) plus user-given ones.

    With several batches a feature must be variable in more than one batch (all batches when
    there are two or fewer); features are ranked by the number of batches in which they are
    variable, then by normalised dispersion.

    Parameters
    ----------
    lognorm
        Log-normalised cells × features matrix.
    var_names
        Feature names of ``lognorm``'s columns.
    n_top
        Number of highly variable features to keep; all features are kept when there are fewer.
    batches
        Optional per-cell batch labels.
    extra
        Features to keep in any case (those absent from ``var_names`` are reported and ignored);
        a single name may be given as a string.

    Returns
    -------
    Selected feature names, in the order of ``var_names``.
    """
    import scanpy as sc

    check_int(n_top, "n_top", 1)
    names = pd.Index(var_names)
    detected = _detected(lognorm)
    if detected.sum() <= n_top:
        chosen = set(names[detected])
    else:
        tmp = AnnData(X=lognorm[:, detected].copy(), var=pd.DataFrame(index=names[detected]))
        batch_key = None
        if batches is not None and len(np.unique(batches)) > 1:
            tmp.obs["batch"] = pd.Categorical(np.asarray(batches).astype(str))
            batch_key = "batch"
        chosen = set(_hvg(sc, tmp, n_top, batch_key))
    if extra is not None:
        # one name given as a string is one feature, not its letters
        extra = [extra] if isinstance(extra, str) else list(extra)
        missing = [f for f in extra if f not in names]
        if missing:
            logger.warning(
                "%d of %d requested features are absent from the data and ignored (e.g. %s)",
                len(missing), len(extra), missing[:5],
            )
        chosen |= {f for f in extra if f in names}
    if not chosen:
        raise MinNetInputError("no features were selected: every feature is zero in every cell.")
    return [f for f in names if f in chosen]


def _detected(x: sp.spmatrix | np.ndarray) -> np.ndarray:
    """Features with a positive value in some cell. CSR is read in slices of its stored values:
    ``(x > 0).sum(axis=0)`` would hold a boolean and an integer copy of the whole matrix."""
    if not sp.isspmatrix_csr(x):
        return np.asarray((x > 0).sum(axis=0)).ravel() > 0
    return column_counts(x, positive=True) > 0


def _hvg(sc: ModuleType, tmp: AnnData, n_top: int, batch_key: str | None) -> list[str]:
    """Highly variable features of ``tmp``; with batches, ranked by batches then dispersion."""
    n_batches = tmp.obs[batch_key].nunique() if batch_key else 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            hv = sc.pp.highly_variable_genes(
                tmp, flavor="cell_ranger", n_top_genes=n_top, batch_key=batch_key, inplace=False
            )
        except Exception as err:  # cell_ranger binning fails on very small / flat data
            logger.info("cell_ranger HVG selection failed (%s); using flavor='seurat'", err)
            hv = sc.pp.highly_variable_genes(
                tmp, flavor="seurat", n_top_genes=n_top, batch_key=batch_key, inplace=False
            )
    hv = hv.copy()
    hv.index = tmp.var_names
    if batch_key is None:
        return hv.index[hv["highly_variable"].to_numpy()].tolist()
    need = min(2, n_batches)
    disp = hv["dispersions_norm"].fillna(-np.inf).to_numpy()
    nb = hv["highly_variable_nbatches"].to_numpy()
    cand = np.flatnonzero(nb >= need)
    order = cand[np.lexsort((-disp[cand], -nb[cand]))]
    return hv.index[order[:n_top]].tolist()


def align_features(
    x: sp.csr_matrix,
    var_names: Sequence[str],
    model_features: Sequence[str],
    what: str = "data",
    min_overlap: float = 0.3,
) -> tuple[sp.csr_matrix, float]:
    """Reorder the columns of ``x`` to ``model_features``; absent features become 0.

    Parameters
    ----------
    x
        Cells × features matrix with columns named ``var_names``.
    model_features
        The model's features for this modality, in the model's order.
    what
        Name used in messages.
    min_overlap
        Smallest fraction of the model's features that must be present.

    Returns
    -------
    The aligned CSR matrix and the fraction of the model's features that were missing.
    """
    check_number(min_overlap, "min_overlap", 0.0, 1.0)
    check_unique_names(var_names, what)
    pos = pd.Index(var_names).get_indexer(pd.Index(model_features))
    present = pos >= 0
    frac_missing = 1.0 - present.mean()
    if present.mean() < min_overlap:
        raise MinNetInputError(
            f"{what} shares only {int(present.sum())} of the model's {len(model_features)} "
            f"features ({present.mean():.0%}; at least {min_overlap:.0%} needed). Check that the "
            "feature names use the same convention (e.g. gene symbols vs Ensembl IDs) and that "
            "the modality matches the model's."
        )
    if frac_missing > 0:
        logger.warning(
            "%s lacks %d of the model's %d features (%.1f%%); they are set to 0.",
            what, int((~present).sum()), len(model_features), 100 * frac_missing,
        )
    # Column selection matrix: model feature k takes data column pos[k].
    sel = sp.csr_matrix(
        (np.ones(int(present.sum()), dtype=np.float32), (pos[present], np.flatnonzero(present))),
        shape=(x.shape[1], len(model_features)),
    )
    return sp.csr_matrix(x @ sel), float(frac_missing)
