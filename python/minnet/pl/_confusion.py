"""``pl.transfer_confusion``: true vs transferred labels as a heatmap."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from anndata import AnnData

from .._utils import MinNetInputError, logger

if TYPE_CHECKING:  # matplotlib is imported when a plot is drawn
    from matplotlib.figure import Figure

_MAX_ANNOTATED = 20  # annotate cells of the heatmap when both sides have at most this many classes
_MISSING = "NA"


def _new_figure(figsize: tuple[float, float]) -> Figure:
    """A matplotlib Figure that is not registered with pyplot.

    Rendering goes through the Agg canvas (``savefig`` to PNG works without any GUI), the user's
    pyplot backend is left untouched and figures do not accumulate in pyplot's registry.
    """
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained")


def _ordered_labels(values: pd.Series) -> list[str]:
    """Labels present in ``values`` as strings, in category order for categoricals, else sorted."""
    present = set(values.dropna().astype(str))
    if isinstance(values.dtype, pd.CategoricalDtype):
        ordered = [str(c) for c in values.cat.categories if str(c) in present]
        return ordered + sorted(present - set(ordered))
    return sorted(present)


def transfer_confusion(
    query: AnnData,
    label_key: str,
    pred_key: str | None = None,
    normalize: bool = True,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Heatmap of true (rows) versus transferred (columns) labels of query cells.

    Parameters
    ----------
    query
        Cells with true labels in ``obs[label_key]`` and transferred labels in
        ``obs[pred_key]`` (e.g. from :func:`minnet.tl.transfer_labels`). Not modified.
    label_key
        ``obs`` column of the true labels. Cells without a true label are left out.
    pred_key
        ``obs`` column of the transferred labels (default ``f"{label_key}_pred"``). Missing
        predictions are shown as a ``"NA"`` column and count as wrong.
    normalize
        Show the fraction of each true label assigned to each transferred label (rows sum to 1;
        default) instead of cell counts.
    save
        Optional PNG path.

    Returns
    -------
    matplotlib.figure.Figure
        One heatmap axes (``fig.axes[0]``) whose image (``fig.axes[0].images[0].get_array()``)
        is the plotted matrix, plus a colour bar. Rows follow the true labels (category order
        for categoricals, else sorted); columns are the true labels followed by any other
        transferred labels (e.g. ``"unassigned"``), so matches lie on the diagonal. Values are
        written in the cells when there are at most 20 rows and 20 columns. The title gives the
        overall accuracy (fraction of cells whose transferred label equals the true one). The
        figure is not registered with :mod:`matplotlib.pyplot`: display it by returning it in
        Jupyter, or save it.

    Raises
    ------
    MinNetInputError
        If ``query`` is not an AnnData, a column is missing, or no cell has a true label.
    """
    if not isinstance(query, AnnData):
        raise MinNetInputError(f"query must be an AnnData object, got {type(query).__name__}.")
    pred_key = pred_key or f"{label_key}_pred"
    for role, key, hint in (
        ("true label", label_key, "pass the obs column holding the known labels as label_key"),
        (
            "transferred label",
            pred_key,
            "run minnet.tl.transfer_labels() first or pass pred_key",
        ),
    ):
        if key not in query.obs.columns:
            raise MinNetInputError(
                f"{role} column {key!r} is not in query.obs (columns: "
                f"{list(query.obs.columns)[:20]}); {hint}."
            )
    true = query.obs[label_key]
    pred = query.obs[pred_key]
    has_true = true.notna().to_numpy()
    if not has_true.any():
        raise MinNetInputError(f"query.obs[{label_key!r}] has no non-missing labels to compare.")
    if (~has_true).any():
        logger.info(
            "transfer_confusion: leaving out %d cell(s) without a true label.",
            int((~has_true).sum()),
        )
    rows = _ordered_labels(true[has_true])
    extra = [c for c in _ordered_labels(pred[has_true]) if c not in rows]
    t = true[has_true].astype(str).to_numpy()
    p_series = pred[has_true]
    p = p_series.astype(object).where(p_series.notna(), _MISSING).astype(str).to_numpy()
    if (p_series.isna()).any() and _MISSING not in rows + extra:
        extra.append(_MISSING)
    cols = rows + extra

    counts = (
        pd.crosstab(pd.Series(t, name="true"), pd.Series(p, name="pred"))
        .reindex(index=rows, columns=cols, fill_value=0)
        .to_numpy(dtype=np.float64)
    )
    accuracy = float(np.mean(t == p))
    mat = counts / counts.sum(axis=1, keepdims=True) if normalize else counts

    n_r, n_c = len(rows), len(cols)
    fig = _new_figure((max(4.5, 2.6 + 0.45 * n_c), max(3.5, 1.8 + 0.4 * n_r)))
    ax = fig.add_subplot(1, 1, 1)
    vmax = 1.0 if normalize else max(float(mat.max()), 1.0)
    im = ax.imshow(mat, cmap="Blues", vmin=0.0, vmax=vmax, aspect="auto",
                   interpolation="nearest")
    fig.colorbar(im, ax=ax, shrink=0.8,
                 label="fraction of true label" if normalize else "cells")
    ax.set_xticks(np.arange(n_c))
    ax.set_xticklabels(cols, rotation=90)
    ax.set_yticks(np.arange(n_r))
    ax.set_yticklabels(rows)
    ax.set_xlabel(f"transferred label ({pred_key})")
    ax.set_ylabel(f"true label ({label_key})")
    if n_r <= _MAX_ANNOTATED and n_c <= _MAX_ANNOTATED:
        fontsize = 8 if max(n_r, n_c) <= 10 else 6
        for i in range(n_r):
            for j in range(n_c):
                v = mat[i, j]
                ax.text(j, i, f"{v:.2f}" if normalize else f"{int(v)}", ha="center",
                        va="center", fontsize=fontsize,
                        color="white" if v > 0.6 * vmax else "black")
    ax.set_title(f"accuracy {accuracy:.1%} ({int(has_true.sum())} cells)")
    if save is not None:
        fig.savefig(save, dpi=120, bbox_inches="tight")
    return fig
