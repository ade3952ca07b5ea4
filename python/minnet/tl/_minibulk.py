"""``tl.minibulk``: aggregate RNA and ATAC cells that sit together in the co-embedding.

Mini-bulks pair the two modalities of *unpaired* experiments: within each group (cell type),
the RNA and ATAC cells are clustered jointly in the co-embedding, and every cluster that holds
cells of both modalities becomes one mini-bulk with an RNA profile (summed RNA counts of its
RNA cells) and an ATAC profile (summed peak counts of its ATAC cells). The MinNet paper used
Ward clustering on the full pairwise distance matrix (quadratic in cells); k-means scales
linearly and is used here instead.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from anndata import AnnData
from sklearn.cluster import KMeans, MiniBatchKMeans

from .._utils import MinNetInputError, get_matrix, logger
from ..pp._normalize import _is_integer_valued
from ..validation import check_finite_nonnegative
from ._smooth import _embedding

__all__ = ["auto_n_bulks", "minibulk"]

# Groups with more cells than this are clustered with MiniBatchKMeans instead of KMeans.
_MINIBATCH_ABOVE = 20_000
#: ``n_bulks="auto"``: cells of the smaller modality per mini-bulk, and the most bulks made.
AUTO_CELLS_PER_BULK = 10
AUTO_MAX_BULKS = 100


def _group_labels(adata: AnnData, column: str | None, what: str) -> np.ndarray:
    """Group label of every cell as an object array of str (NaN stays None)."""
    if column is None:
        return np.full(adata.n_obs, "all", dtype=object)
    if column not in adata.obs.columns:
        raise MinNetInputError(
            f"groupby column {column!r} is not in {what}.obs; available: "
            f"{list(adata.obs.columns)[:20]}. For query ATAC cells use transferred labels "
            "(e.g. minnet.tl.transfer_labels -> 'cell_type_pred') and pass "
            "groupby=(rna_column, atac_column)."
        )
    lab = adata.obs[column]
    out = lab.astype(str).to_numpy(dtype=object)
    out[lab.isna().to_numpy()] = None
    return out


def _counts(adata: AnnData, layer: str | None, what: str) -> np.ndarray | sp.spmatrix:
    """The counts to sum: non-negative, finite, integer-valued."""
    x = get_matrix(adata, layer)
    src = f"{what} ({'.X' if layer is None else f'layers[{layer!r}]'})"
    if x.shape[1] == 0:
        raise MinNetInputError(f"{src} has no features.")
    check_finite_nonnegative(x, src)
    if not _is_integer_valued(x):
        raise MinNetInputError(
            f"{src} holds non-integer values, so it does not look like counts. Mini-bulks sum "
            "raw counts: pass the counts layer (e.g. layer='counts'), or smoothed counts from "
            "minnet.tl.smooth (layers['minnet_smoothed'])."
        )
    return x


def _allocate(n_bulks: int, weight: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Split ``n_bulks`` over groups proportionally to ``weight``, each in ``[1, cap]``.

    Largest-remainder rounding of the proportional shares, then moves of one bulk at a time
    towards the groups furthest below (or from the groups furthest above) their share.
    """
    share = n_bulks * weight / weight.sum()
    alloc = np.clip(np.floor(share).astype(np.int64), 1, cap)
    while alloc.sum() < n_bulks:
        room = np.where(alloc < cap, share - alloc, -np.inf)
        alloc[int(np.argmax(room))] += 1
    while alloc.sum() > n_bulks:
        excess = np.where(alloc > 1, alloc - share, -np.inf)
        alloc[int(np.argmax(excess))] -= 1
    return alloc


def _cluster(z: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k-means labels of the rows of ``z`` (mini-batch k-means for large groups)."""
    if k == 1:
        return np.zeros(z.shape[0], dtype=np.int64)
    if z.shape[0] > _MINIBATCH_ABOVE:
        km = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=3, batch_size=4096)
    else:
        km = KMeans(n_clusters=k, random_state=seed, n_init=3)
    return km.fit_predict(z).astype(np.int64)


def _sum_rows(
    x: np.ndarray | sp.spmatrix, cells: np.ndarray, bulk: np.ndarray, n: int
) -> sp.csr_matrix:
    """Sum the rows ``cells`` of ``x`` into ``n`` bulks (``bulk[i]`` is the bulk of cell i)."""
    m = sp.csr_matrix((np.ones(cells.size, dtype=np.float32), (bulk, cells)), shape=(n, x.shape[0]))
    if sp.issparse(x):
        out = sp.csr_matrix(m @ sp.csr_matrix(x, dtype=np.float32))
    else:
        out = sp.csr_matrix(m @ np.asarray(x, dtype=np.float32))
    out.sort_indices()
    return out


@dataclass
class _Membership:
    """Which cells make up which mini-bulk (bulk ids are ``0 .. n_made - 1``)."""

    cells_rna: np.ndarray  # row indices of the RNA cells kept
    bulk_rna: np.ndarray  # bulk id of each of them
    cells_atac: np.ndarray
    bulk_atac: np.ndarray
    bulk_group: list[str]  # group label of every bulk
    n_made: int


def _checked_embeddings(rna: AnnData, atac: AnnData, use_rep: str) -> tuple[np.ndarray, np.ndarray]:
    """Both co-embeddings (float32), which must have the same width."""
    z_rna = _embedding(rna, use_rep, "rna")
    z_atac = _embedding(atac, use_rep, "atac")
    if z_rna.shape[1] != z_atac.shape[1]:
        raise MinNetInputError(
            f"rna.obsm[{use_rep!r}] and atac.obsm[{use_rep!r}] differ in width "
            f"({z_rna.shape[1]} vs {z_atac.shape[1]}); embed both with the same model."
        )
    return z_rna, z_atac


def _check_count_args(n_bulks: object, seed: object) -> None:
    """``n_bulks`` a positive integer or ``"auto"``, ``seed`` a non-negative integer."""
    if n_bulks == "auto":
        pass
    elif isinstance(n_bulks, bool) or not isinstance(n_bulks, numbers.Integral) or n_bulks < 1:
        raise MinNetInputError(
            f"n_bulks must be a positive integer or 'auto', got {n_bulks!r}."
        )
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise MinNetInputError(f"seed must be a non-negative integer, got {seed!r}.")


def _groupby_columns(groupby: str | tuple[str, str] | None) -> tuple[str | None, str | None]:
    """``(rna_column, atac_column)`` from one column name, a pair or ``None``."""
    if isinstance(groupby, tuple | list):
        if len(groupby) != 2:
            raise MinNetInputError(
                f"groupby as a tuple must be (rna_column, atac_column), got {groupby!r}."
            )
        return groupby[0], groupby[1]
    return groupby, groupby


def _shared_groups(
    lab_rna: np.ndarray, lab_atac: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Groups with cells in both modalities and their RNA / ATAC cell counts.

    Groups of one modality only and cells without a label are left out (logged).
    """
    groups_rna = pd.Series(lab_rna[lab_rna != None]).value_counts()  # noqa: E711
    groups_atac = pd.Series(lab_atac[lab_atac != None]).value_counts()  # noqa: E711
    shared = sorted(set(groups_rna.index) & set(groups_atac.index))
    if not shared:
        raise MinNetInputError(
            f"no group has cells in both modalities: rna groups {list(groups_rna.index)[:10]}, "
            f"atac groups {list(groups_atac.index)[:10]}. Check that groupby names columns with "
            "the same labels (e.g. transfer the RNA labels to the ATAC cells first)."
        )
    only = sorted(set(groups_rna.index) ^ set(groups_atac.index))
    if only:
        n_left = int(
            groups_rna.reindex(only).fillna(0).sum() + groups_atac.reindex(only).fillna(0).sum()
        )
        logger.warning(
            "minibulk: %d group(s) have cells in only one modality and are left out "
            "(%d cells), e.g. %s.",
            len(only),
            n_left,
            only[:5],
        )
    n_na = int(sum(lab_rna == None) + sum(lab_atac == None))  # noqa: E711
    if n_na:
        logger.warning("minibulk: %d cell(s) with a missing group label are left out.", n_na)
    n_r = groups_rna.reindex(shared).to_numpy(dtype=np.int64)
    n_a = groups_atac.reindex(shared).to_numpy(dtype=np.int64)
    return shared, n_r, n_a


def auto_n_bulks(n_r: np.ndarray, n_a: np.ndarray) -> int:
    """``n_bulks="auto"``: one mini-bulk per :data:`AUTO_CELLS_PER_BULK` cells, at most
    :data:`AUTO_MAX_BULKS`, at least one per group.

    ``n_r`` / ``n_a``: RNA / ATAC cells of every group with both. Counted in the smaller
    modality; never more bulks than the cells allow (one cell of each modality per bulk).
    """
    cells = int(min(n_r.sum(), n_a.sum()))
    wanted = min(AUTO_MAX_BULKS, max(n_r.size, cells // AUTO_CELLS_PER_BULK))
    return int(min(wanted, np.minimum(n_r, n_a).sum()))


def _bulks_per_group(n_bulks: int, n_r: np.ndarray, n_a: np.ndarray) -> np.ndarray:
    """``n_bulks`` split over the groups: one bulk at least, one RNA and ATAC cell per bulk."""
    cap = np.minimum(n_r, n_a)
    if n_bulks > cap.sum():
        raise MinNetInputError(
            f"n_bulks={n_bulks} is larger than the cells allow: every mini-bulk needs at least "
            f"one RNA and one ATAC cell of its group, so at most {int(cap.sum())} bulks can be "
            f"made from {int(n_r.sum())} RNA and {int(n_a.sum())} ATAC cells in "
            f"{n_r.size} group(s). Use n_bulks <= {int(cap.sum())}."
        )
    if n_bulks < n_r.size:
        raise MinNetInputError(
            f"n_bulks={n_bulks} is smaller than the number of groups with cells in both "
            f"modalities ({n_r.size}); use n_bulks >= {n_r.size} or a coarser groupby."
        )
    return _allocate(n_bulks, (n_r + n_a).astype(np.float64), cap)


def _cluster_groups(
    z_rna: np.ndarray,
    z_atac: np.ndarray,
    lab_rna: np.ndarray,
    lab_atac: np.ndarray,
    shared: list[str],
    alloc: np.ndarray,
    seed: int,
) -> _Membership:
    """Cluster each group's RNA and ATAC cells together; keep clusters with both modalities.

    Group ``i`` is clustered with seed ``seed + i``; bulks are numbered group after group.
    """
    cells_r, cells_a, bulk_r, bulk_a, bulk_group = [], [], [], [], []
    n_made = 0
    for gi, (g, k) in enumerate(zip(shared, alloc, strict=True)):
        ir = np.flatnonzero(lab_rna == g)
        ia = np.flatnonzero(lab_atac == g)
        cl = _cluster(np.vstack([z_rna[ir], z_atac[ia]]), int(k), seed + gi)
        cl_r, cl_a = cl[: ir.size], cl[ir.size :]
        both = np.zeros(int(k), dtype=bool)
        both[np.intersect1d(cl_r, cl_a)] = True
        new_id = np.full(int(k), -1, dtype=np.int64)
        new_id[both] = n_made + np.arange(int(both.sum()))
        n_made += int(both.sum())
        keep_r, keep_a = both[cl_r], both[cl_a]
        cells_r.append(ir[keep_r])
        bulk_r.append(new_id[cl_r[keep_r]])
        cells_a.append(ia[keep_a])
        bulk_a.append(new_id[cl_a[keep_a]])
        bulk_group += [g] * int(both.sum())
    n_requested = int(alloc.sum())
    if n_made < n_requested:
        logger.warning(
            "minibulk: %d of %d cluster(s) had cells of only one modality and were dropped; "
            "%d mini-bulks remain.",
            n_requested - n_made,
            n_requested,
            n_made,
        )
    return _Membership(
        np.concatenate(cells_r), np.concatenate(bulk_r), np.concatenate(cells_a),
        np.concatenate(bulk_a), bulk_group, n_made,
    )


def _bulk_obs(mem: _Membership, shared: list[str], group_col: str) -> pd.DataFrame:
    """``obs`` of the mini-bulks: names ``bulk0000``..., group label and cells per modality."""
    width = max(4, len(str(mem.n_made - 1)))
    names = pd.Index([f"bulk{i:0{width}d}" for i in range(mem.n_made)])
    return pd.DataFrame(
        {
            group_col: pd.Categorical(mem.bulk_group, categories=shared),
            "n_cells_rna": np.bincount(mem.bulk_rna, minlength=mem.n_made).astype(np.int64),
            "n_cells_atac": np.bincount(mem.bulk_atac, minlength=mem.n_made).astype(np.int64),
        },
        index=names,
    )


def _bulk_adata(
    adata: AnnData,
    x: np.ndarray | sp.spmatrix,
    cells: np.ndarray,
    bulk: np.ndarray,
    obs: pd.DataFrame,
    layer: str | None,
    params: dict,
) -> AnnData:
    """One modality's mini-bulks: summed counts, the inputs' ``var`` and the membership."""
    out = AnnData(X=_sum_rows(x, cells, bulk, len(obs)), obs=obs.copy(), var=adata.var.copy())
    out.uns["minnet_minibulk"] = {
        **params,
        "layer": "X" if layer is None else layer,
        "cells": np.asarray(adata.obs_names[cells], dtype=str),
        "bulks": np.asarray(obs.index[bulk], dtype=str),
    }
    return out


def minibulk(
    rna: AnnData,
    atac: AnnData,
    use_rep: str = "X_minnet",
    n_bulks: int | Literal["auto"] = "auto",
    groupby: str | tuple[str, str] | None = "cell_type",
    layer: str | None = None,
    atac_layer: str | None = None,
    seed: int = 0,
) -> tuple[AnnData, AnnData]:
    """Build mini-bulks of RNA and ATAC cells that are close in the co-embedding.

    1. Cells are grouped by ``groupby`` (cells with a missing label, and groups present in only
       one modality, are left out and logged).
    2. ``n_bulks`` is split over the groups proportionally to their total number of cells
       (RNA + ATAC), with at least one bulk per group and at most
       ``min(n_rna_cells, n_atac_cells)`` bulks in a group (largest-remainder rounding).
    3. Within each group, the RNA and ATAC cells are clustered together on ``obsm[use_rep]``
       with k-means (``KMeans``, ``n_init=3``; ``MiniBatchKMeans`` above 20,000 cells), seeded
       with ``seed``.
    4. Clusters lacking cells of either modality are dropped (logged), so slightly fewer than
       ``n_bulks`` mini-bulks can be returned. Each remaining cluster is one mini-bulk: its
       RNA profile is the **sum** of its RNA cells' counts and its ATAC profile the sum of its
       ATAC cells' counts.

    Parameters
    ----------
    rna
        RNA cells with counts in ``.X`` (or ``layer``) and ``obsm[use_rep]``.
    atac
        ATAC cells (a different experiment is fine) with peak counts in ``.X`` (or
        ``atac_layer``) and ``obsm[use_rep]`` in the same co-embedding.
    use_rep
        ``obsm`` key of the co-embedding in both objects.
    n_bulks
        Requested number of mini-bulks in total, or ``"auto"``: one per 10 cells of the
        smaller modality, at most 100, at least one per group (:func:`auto_n_bulks`). On the
        simulator, links found at q < 0.1 level off at ~100 bulks while the false
        discoveries among them keep rising (``benchmarks/links_quality.py --n-bulks``;
        BENCHMARKS.md), so more cells make larger bulks rather than more of them.
    groupby
        Column with the group of each cell: one name present in both ``rna.obs`` and
        ``atac.obs``, or a tuple ``(rna_column, atac_column)`` (e.g.
        ``("cell_type", "cell_type_pred")`` with labels transferred by
        :func:`minnet.tl.transfer_labels`). ``None`` puts all cells in one group.
    layer, atac_layer
        Layers with the (raw or :func:`~minnet.tl._smooth.smooth`-ed) counts of ``rna`` and
        ``atac``; ``None`` uses ``.X``. Values must be non-negative integers.
    seed
        Random seed of the clustering (same seed, same bulks).

    Returns
    -------
    tuple of AnnData
        ``(rna_bulk, atac_bulk)`` with the same ``obs_names`` (``bulk0000``, ...), bulks x
        genes and bulks x peaks float32 CSR summed counts, ``var`` copied from the inputs and
        ``obs`` columns: the group label (named ``groupby``, or the RNA column name for a
        tuple, ``"group"`` for ``None``), ``n_cells_rna`` and ``n_cells_atac``. Each object's
        ``uns["minnet_minibulk"]`` records the parameters and the membership of its cells
        (``cells``: cell names, ``bulks``: their bulk names).

    Raises
    ------
    MinNetInputError
        If ``use_rep`` or a ``groupby`` column is missing, the embeddings differ in width, the
        matrices are not counts, no group has cells in both modalities, or ``n_bulks`` is
        smaller than the number of groups or larger than the number of bulks the cells allow.
    """
    z_rna, z_atac = _checked_embeddings(rna, atac, use_rep)
    _check_count_args(n_bulks, seed)
    col_rna, col_atac = _groupby_columns(groupby)
    lab_rna = _group_labels(rna, col_rna, "rna")
    lab_atac = _group_labels(atac, col_atac, "atac")
    x_rna = _counts(rna, layer, "rna")
    x_atac = _counts(atac, atac_layer, "atac")
    shared, n_r, n_a = _shared_groups(lab_rna, lab_atac)
    if n_bulks == "auto":
        n_bulks = auto_n_bulks(n_r, n_a)
    alloc = _bulks_per_group(n_bulks, n_r, n_a)
    mem = _cluster_groups(z_rna, z_atac, lab_rna, lab_atac, shared, alloc, seed)

    obs = _bulk_obs(mem, shared, "group" if col_rna is None else str(col_rna))
    params = {
        "use_rep": use_rep,
        "n_bulks_requested": int(n_bulks),
        "groupby": [str(col_rna), str(col_atac)],
        "seed": int(seed),
    }
    rna_bulk = _bulk_adata(rna, x_rna, mem.cells_rna, mem.bulk_rna, obs, layer, params)
    atac_bulk = _bulk_adata(atac, x_atac, mem.cells_atac, mem.bulk_atac, obs, atac_layer, params)
    logger.info(
        "minibulk: %d mini-bulks in %d group(s); %.1f RNA and %.1f ATAC cells per bulk on average.",
        mem.n_made,
        len(shared),
        float(obs["n_cells_rna"].mean()),
        float(obs["n_cells_atac"].mean()),
    )
    return rna_bulk, atac_bulk
