"""``pl.embedding``: UMAP of a co-embedding shared by several objects."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from anndata import AnnData

from .._utils import MinNetInputError

if TYPE_CHECKING:  # matplotlib is imported when a plot is drawn
    from matplotlib.figure import Figure


def _umap(x: np.ndarray, n_neighbors: int, seed: int) -> np.ndarray:
    import anndata as ad
    import scanpy as sc

    from ..neighbors import knn_connectivities

    k = int(min(n_neighbors, x.shape[0] - 1))
    tmp = ad.AnnData(X=np.zeros((x.shape[0], 1), dtype=np.float32))
    tmp.obsm["rep"] = x
    # Our own KNN graph (sc.pp.neighbors fails on large data with current scipy), then UMAP.
    tmp.obsp["connectivities"] = knn_connectivities(x, k, seed)
    tmp.uns["neighbors"] = {
        "connectivities_key": "connectivities",
        "params": {"n_neighbors": k, "method": "umap", "random_state": seed, "use_rep": "rep",
                   "metric": "euclidean"},
    }
    sc.tl.umap(tmp, random_state=seed)
    return tmp.obsm["X_umap"]


def embedding(
    adatas: Mapping[str, AnnData] | Sequence[AnnData] | AnnData,
    color: Sequence[str] = ("modality",),
    use_rep: str = "X_minnet",
    n_neighbors: int = 15,
    point_size: float | None = None,
    seed: int = 0,
    save: str | os.PathLike | None = None,
) -> Figure:
    """UMAP of the joint co-embedding of several objects, one panel per ``color`` column.

    Parameters
    ----------
    adatas
        One AnnData, a list, or a dict ``{name: AnnData}``; the names (default ``"0"``, ``"1"``,
        …) fill the ``"modality"`` colour.
    color
        ``obs`` columns to colour by; ``"modality"`` is the name of each object.
    use_rep
        ``obsm`` key of the co-embedding.
    n_neighbors, seed
        UMAP settings.
    point_size
        Marker size (default scales with the number of cells).
    save
        Optional PNG path.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt  # colormaps only; the figure itself bypasses pyplot
    from matplotlib.figure import Figure

    if not isinstance(adatas, Mapping):
        adatas = [adatas] if isinstance(adatas, AnnData) else list(adatas)
        adatas = {str(i): a for i, a in enumerate(adatas)}
    reps, obs = [], []
    for name, a in adatas.items():
        if use_rep not in a.obsm:
            raise MinNetInputError(f"object {name!r} has no obsm[{use_rep!r}]; embed it first.")
        reps.append(np.asarray(a.obsm[use_rep]))
        o = a.obs.copy()
        o["modality"] = name
        obs.append(o)
    obs = pd.concat(obs, axis=0, ignore_index=True)
    for c in color:
        if c not in obs.columns:
            raise MinNetInputError(f"colour {c!r} is not an obs column of every object.")
    xy = _umap(np.concatenate(reps), n_neighbors, seed)

    size = point_size or max(1.0, 60000 / max(len(obs), 1) ** 1.2)
    # A bare Figure (not registered with pyplot) leaves the user's backend and figure list alone.
    fig = Figure(figsize=(5.2 * len(color), 4.6))
    axes = fig.subplots(1, len(color), squeeze=False)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(obs))  # draw in random order so no group hides the others
    for ax, c in zip(axes[0], color, strict=True):
        vals = obs[c]
        if pd.api.types.is_numeric_dtype(vals) and vals.nunique() > 20:
            sc_ = ax.scatter(xy[order, 0], xy[order, 1], c=vals.to_numpy()[order], s=size,
                             cmap="viridis", linewidths=0)
            fig.colorbar(sc_, ax=ax, shrink=0.7)
        else:
            cats = pd.Categorical(vals.astype(str))
            cmap = plt.get_cmap("tab20" if len(cats.categories) > 10 else "tab10")
            colors = np.array([cmap(i % cmap.N) for i in range(len(cats.categories))])
            ax.scatter(xy[order, 0], xy[order, 1], c=colors[cats.codes[order]], s=size,
                       linewidths=0)
            for i, cat in enumerate(cats.categories):
                ax.scatter([], [], color=colors[i], label=cat, s=20)
            ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False,
                      markerscale=1.0)
        ax.set_title(c)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("UMAP1")
        ax.set_ylabel("UMAP2")
    fig.tight_layout()
    if save is not None:
        fig.savefig(save, dpi=120, bbox_inches="tight")
    return fig
