"""``pl.links``: peak-gene links drawn as arcs over a genomic region."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from numbers import Real
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._utils import MinNetInputError, logger
from ..genomics import harmonize_chromosomes, parse_peak_names, read_annotation
from ._confusion import _new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

LINK_GID = "minnet-link"
PEAK_GID = "minnet-peak"
GENE_GID = "minnet-gene"
_POS_COLOR = "#c0392b"
_NEG_COLOR = "#2e6fb7"
_MAX_GENE_LABELS = 60


def _parse_region(region: object) -> tuple[str, int, int]:
    """``'chr1-100-300'`` / ``'chr1:100-300'`` / ``'chr1:1,000-2,000'`` -> (chrom, start, end)."""
    hint = (
        "Use 'chr1-100000-300000' or 'chr1:100000-300000' (1-based, start < end; thousands "
        "separators allowed)."
    )
    if not isinstance(region, str):
        raise MinNetInputError(f"region must be a string, got {type(region).__name__}. {hint}")
    text = region.strip().replace(",", "")
    try:
        parsed = parse_peak_names([text])
    except MinNetInputError:
        m = re.match(r"^.+[:_-](\d+)[_-](\d+)$", text)
        if m and int(m.group(1)) > int(m.group(2)):
            raise MinNetInputError(f"region {region!r} is empty (start >= end). {hint}") from None
        raise MinNetInputError(f"region {region!r} could not be parsed. {hint}") from None
    chrom, start, end = parsed["chrom"].iloc[0], int(parsed["start"].iloc[0]), int(
        parsed["end"].iloc[0]
    )
    if start >= end:
        raise MinNetInputError(f"region {region!r} is empty (start >= end). {hint}")
    return str(chrom), start, end


def _bp(v: float, _pos: object = None) -> str:
    return f"{int(round(v)):,}"


def _checked_region(
    links_df: object,
    region: object,
    score_col: str,
    annotation: object,
    min_score: float | None,
) -> tuple[str, int, int]:
    """The parsed region, once ``links_df`` and ``min_score`` are checked.

    ``links_df`` must be a DataFrame with the columns needed, ``min_score`` non-negative.
    """
    if not isinstance(links_df, pd.DataFrame):
        raise MinNetInputError(
            f"links_df must be a pandas DataFrame, got {type(links_df).__name__}."
        )
    bounds = _parse_region(region)
    required = ["gene", "peak", score_col] + ([] if annotation is not None else ["distance"])
    missing = [c for c in required if c not in links_df.columns]
    if missing:
        hint = (
            " Without an annotation the TSS is computed from 'distance' (peak midpoint - TSS); "
            "pass annotation= or add the column."
            if "distance" in missing
            else ""
        )
        raise MinNetInputError(
            f"links_df is missing column(s) {missing}; it has columns {list(links_df.columns)}."
            + hint
        )
    if min_score is not None and (
        isinstance(min_score, bool) or not isinstance(min_score, Real) or not min_score >= 0
    ):
        raise MinNetInputError(f"min_score must be a non-negative number, got {min_score!r}.")
    return bounds


def _numeric_scores(df: pd.DataFrame, score_col: str) -> np.ndarray:
    """``df[score_col]`` as float64 (an error for text; NaN / inf are kept and logged)."""
    score = pd.to_numeric(df[score_col], errors="coerce")
    bad = score.isna() & df[score_col].notna()
    if bad.any():
        raise MinNetInputError(
            f"links_df[{score_col!r}] must be numeric; got values such as "
            f"{df.loc[bad, score_col].astype(str).tolist()[:5]}."
        )
    score = score.to_numpy(dtype=np.float64)
    n_bad = int((~np.isfinite(score)).sum())
    if n_bad:
        logger.info("links: ignoring %d link(s) with a missing or infinite score.", n_bad)
    return score


@dataclass
class _Peaks:
    """Coordinates of every link's peak."""

    chrom: np.ndarray  # chromosome names as written in links_df
    on_chrom: np.ndarray  # on the region's chromosome (``chr1`` / ``1`` reconciled)
    start: np.ndarray
    end: np.ndarray
    mid: np.ndarray


def _peak_coordinates(peak_names: pd.Series, chrom: str) -> _Peaks:
    """Chromosome, start, end and midpoint of the peaks ``chr1-100-200``."""
    peaks = parse_peak_names(peak_names.astype(str).to_numpy())
    p_chrom = peaks["chrom"].to_numpy(dtype=object).astype(str)
    on_chrom = np.isin(p_chrom, list(harmonize_chromosomes(p_chrom, [chrom])))
    start = peaks["start"].to_numpy(dtype=np.int64)
    end = peaks["end"].to_numpy(dtype=np.int64)
    return _Peaks(p_chrom, on_chrom, start, end, (start + end) // 2)


def _tss_and_genes(
    df: pd.DataFrame,
    mid: np.ndarray,
    annotation: pd.DataFrame | str | os.PathLike | None,
    chrom: str,
    r_start: int,
    r_end: int,
) -> tuple[np.ndarray, pd.DataFrame | None]:
    """The TSS of every link's gene, and the annotated genes overlapping the region.

    TSSs come from the annotation when given (genes it lacks fall back to ``distance``; genes
    it places on another chromosome get NaN), else from ``peak midpoint - distance``. The gene
    table is ``None`` without an annotation.
    """
    tss = np.full(len(df), np.nan)
    if "distance" in df.columns:
        dist = pd.to_numeric(df["distance"], errors="coerce").to_numpy(dtype=np.float64)
        tss = mid - dist
    if annotation is None:
        return tss, None
    ann = read_annotation(annotation)
    ann_on = ann["chrom"].isin(list(harmonize_chromosomes(ann["chrom"], [chrom]))).to_numpy()
    ann_tss = pd.Series(ann["tss"].to_numpy(dtype=np.float64), index=ann["gene_name"])
    from_ann = df["gene"].astype(str).map(ann_tss).to_numpy(dtype=np.float64)
    # genes annotated on another chromosome cannot be drawn in this region
    other_chrom = set(ann.loc[~ann_on, "gene_name"])
    in_ann = ~np.isnan(from_ann)
    tss = np.where(in_ann, from_ann, tss)
    tss[df["gene"].astype(str).isin(other_chrom).to_numpy()] = np.nan
    if (~in_ann).any():
        logger.info(
            "links: %d link(s) name genes absent from the annotation%s.",
            int((~in_ann).sum()),
            "; using their 'distance'" if "distance" in df.columns else "; they are skipped",
        )
    lo = ann["tss"].to_numpy(dtype=np.int64)
    hi = ann["end"].to_numpy(dtype=np.int64) if "end" in ann.columns else lo
    overlaps = ann_on & (np.minimum(lo, hi) <= r_end) & (np.maximum(lo, hi) >= r_start)
    return tss, ann.loc[overlaps].reset_index(drop=True)


def _links_to_draw(
    score: np.ndarray,
    peaks: _Peaks,
    tss: np.ndarray,
    region: str,
    bounds: tuple[str, int, int],
    score_col: str,
    min_score: float | None,
) -> np.ndarray:
    """Rows of the links with both ends in the region (and ``|score| >= min_score``).

    Ordered by ``|score|`` so that the strongest arcs are drawn on top.
    """
    chrom, r_start, r_end = bounds
    mid = peaks.mid
    in_region = (
        np.isfinite(score)
        & peaks.on_chrom
        & (mid >= r_start)
        & (mid <= r_end)
        & np.isfinite(tss)
        & (tss >= r_start)
        & (tss <= r_end)
    )
    keep = in_region.copy()
    if min_score is not None:
        keep &= np.abs(score) >= float(min_score)
    if not keep.any():
        chroms = pd.unique(pd.Series(peaks.chrom, dtype=object)).tolist()
        why = (
            f" ({int(in_region.sum())} link(s) in the region, but none with |{score_col}| >= "
            f"min_score={min_score}; lower min_score)"
            if in_region.any()
            else ""
        )
        raise MinNetInputError(
            f"no link has both its peak midpoint and its gene TSS inside region {region!r} "
            f"({chrom}:{r_start}-{r_end}){why}. links_df has peaks on chromosomes "
            f"{chroms[:20]}{' ...' if len(chroms) > 20 else ''}; choose a region on one of "
            "them that contains linked peaks and genes."
        )
    sel = np.flatnonzero(keep)
    return sel[np.argsort(np.abs(score[sel]), kind="stable")]  # strongest drawn on top


def _draw_arcs(
    ax: Axes,
    score: np.ndarray,
    mid: np.ndarray,
    tss: np.ndarray,
    sel: np.ndarray,
    min_width: float,
    score_col: str,
    bounds: tuple[str, int, int],
) -> None:
    """One arc per link from its peak midpoint to its TSS: height ``|score|``, colour the sign."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Arc

    chrom, r_start, r_end = bounds
    max_abs = float(np.abs(score[sel]).max())
    for rank, i in enumerate(sel):
        x1, x2 = float(mid[i]), float(tss[i])
        h = abs(float(score[i]))
        arc = Arc(
            ((x1 + x2) / 2.0, 0.0),
            width=max(abs(x2 - x1), min_width),
            height=2.0 * h,
            theta1=0.0,
            theta2=180.0,
            color=_POS_COLOR if score[i] >= 0 else _NEG_COLOR,
            lw=1.6,
            alpha=0.85,
            zorder=2 + rank / max(sel.size, 1),
        )
        arc.set_gid(LINK_GID)
        ax.add_patch(arc)
    ax.set_ylim(0.0, 1.12 * max_abs if max_abs > 0 else 1.0)
    ax.set_ylabel(f"|{score_col}|")
    handles = [
        Line2D([], [], color=c, lw=2, label=lab)
        for c, lab, present in (
            (_POS_COLOR, "positive", bool((score[sel] >= 0).any())),
            (_NEG_COLOR, "negative", bool((score[sel] < 0).any())),
        )
        if present
    ]
    ax.legend(handles=handles, title=score_col, loc="upper right", fontsize=8,
              title_fontsize=8, frameon=False)
    ax.set_title(f"{chrom}:{r_start:,}-{r_end:,}  ({sel.size} link{'s' * (sel.size != 1)})")
    ax.tick_params(labelbottom=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _draw_peak_track(
    ax: Axes,
    peak_names: pd.Series,
    peaks: _Peaks,
    sel: np.ndarray,
    r_start: int,
    r_end: int,
    min_width: float,
) -> None:
    """Every peak of ``links_df`` overlapping the region; drawn links' peaks darker."""
    from matplotlib.patches import Rectangle

    names = peak_names.astype(str)
    uniq = ~pd.Series(names).duplicated().to_numpy()
    shown = uniq & peaks.on_chrom & (peaks.start <= r_end) & (peaks.end >= r_start)
    linked = set(names.to_numpy()[sel])
    for i in np.flatnonzero(shown):
        s, e = max(peaks.start[i], r_start), min(peaks.end[i], r_end)
        rect = Rectangle(
            (s, 0.2), max(e - s + 1, min_width / 2), 0.6,
            facecolor="#333333" if str(peak_names.iloc[i]) in linked else "#bbbbbb",
            edgecolor="none",
        )
        rect.set_gid(PEAK_GID)
        ax.add_patch(rect)
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([])
    ax.set_ylabel("peaks", rotation=0, ha="right", va="center")
    ax.tick_params(labelbottom=False)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)


def _gene_track_rows(
    genes_track: pd.DataFrame | None, gene: pd.Series, tss: np.ndarray, sel: np.ndarray
) -> pd.DataFrame:
    """Genes to draw, by TSS: the annotated ones plus drawn links' genes it lacks."""
    drawn = pd.DataFrame({"gene_name": gene.astype(str).to_numpy()[sel], "tss": tss[sel]})
    drawn = drawn.drop_duplicates("gene_name")
    if genes_track is None:
        genes_track = drawn.reset_index(drop=True)
    else:  # linked genes placed from 'distance' because the annotation lacks them
        extra = drawn.loc[~drawn["gene_name"].isin(genes_track["gene_name"])]
        genes_track = pd.concat([genes_track, extra], ignore_index=True)
    return genes_track.sort_values("tss", kind="stable").reset_index(drop=True)


def _draw_gene_track(ax: Axes, genes_track: pd.DataFrame, bounds: tuple[str, int, int]) -> None:
    """TSS ticks, strand arrows, gene bodies and names; the shared genomic x axis."""
    from matplotlib.ticker import FuncFormatter

    chrom, r_start, r_end = bounds
    if len(genes_track) > _MAX_GENE_LABELS:
        logger.info("links: %d genes in the region; labelling none of them.", len(genes_track))
    arrow = (r_end - r_start) * 0.025
    for j, row in genes_track.iterrows():
        y = 0.3 if j % 2 == 0 else 0.65  # alternate rows so neighbouring names do not collide
        t = float(row["tss"])
        if "end" in genes_track.columns and pd.notna(row["end"]) and row["end"] != row["tss"]:
            a, b = sorted((float(row["tss"]), float(row["end"])))
            ax.plot([max(a, r_start), min(b, r_end)], [y, y], color="#555555", lw=3,
                    solid_capstyle="butt")
        if r_start <= t <= r_end:
            (tick,) = ax.plot([t, t], [y - 0.12, y + 0.12], color="black", lw=1.5)
            tick.set_gid(GENE_GID)
            if "strand" in genes_track.columns and row["strand"] in ("+", "-"):
                step = arrow if row["strand"] == "+" else -arrow
                ax.annotate("", xy=(t + step, y + 0.12), xytext=(t, y + 0.12),
                            arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.2})
        if len(genes_track) <= _MAX_GENE_LABELS:
            ax.text(min(max(t, r_start), r_end), y - 0.17, str(row["gene_name"]),
                    ha="center", va="top", fontsize=8, style="italic")
    ax.set_ylim(0.0, 1.0)
    ax.set_yticks([])
    ax.set_ylabel("genes", rotation=0, ha="right", va="center")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_xlim(r_start, r_end)
    ax.xaxis.set_major_formatter(FuncFormatter(_bp))
    ax.set_xlabel(f"{chrom} position (bp)")


def links(
    links_df: pd.DataFrame,
    region: str,
    annotation: pd.DataFrame | str | os.PathLike | None = None,
    score_col: str = "score",
    min_score: float | None = None,
    save: str | os.PathLike | None = None,
) -> Figure:
    """Peak-gene links over a genomic region: arcs from each peak to the gene's TSS.

    Parameters
    ----------
    links_df
        Links, one per row, in the layout of Signac's ``LinkPeaks`` output: columns ``gene``,
        ``peak`` (names like ``chr1-100-200``), ``score_col`` and, when the TSS is not taken
        from ``annotation``, ``distance`` (peak midpoint − TSS, as in
        :func:`minnet.genomics.peaks_near_genes`); other columns (``zscore``, ``pvalue``, …)
        are ignored. Not modified.
    region
        ``"chr1-100000-300000"`` or ``"chr1:100000-300000"`` (1-based, closed; ``chr1`` and
        ``1`` namings are reconciled with the peaks and the annotation).
    annotation
        Optional gene annotation (DataFrame or path, see :func:`minnet.genomics.read_annotation`).
        When given, TSSs come from it (falling back to ``distance`` for genes it lacks) and a
        gene track shows every annotated gene overlapping the region: a TSS tick, the name, an
        arrow in the direction of transcription and the gene body when ``end`` is known.
        Without it the TSSs are ``peak midpoint − distance`` and the gene track shows only the
        linked genes (no strand).
    score_col
        Column of the link score; the arc height is ``|score|`` and its colour the sign
        (red positive, blue negative).
    min_score
        If given, only links with ``|score| >= min_score`` are drawn.
    save
        Optional PNG path.

    Returns
    -------
    matplotlib.figure.Figure
        Three axes sharing the genomic x axis: ``fig.axes[0]`` the arcs, one
        :class:`matplotlib.patches.Arc` per drawn link with gid ``"minnet-link"`` (a link is
        drawn when its peak midpoint and its TSS both lie in the region); ``fig.axes[1]`` the
        peaks of ``links_df`` overlapping the region, one :class:`~matplotlib.patches.Rectangle`
        each with gid ``"minnet-peak"``; ``fig.axes[2]`` the genes (TSS ticks with gid
        ``"minnet-gene"``). The figure is not registered with :mod:`matplotlib.pyplot`: display
        it by returning it in Jupyter, or save it.

    Raises
    ------
    MinNetInputError
        If ``region`` cannot be parsed, a column is missing, scores are not numeric, peak names
        cannot be parsed, or no link has both ends in the region (the message names the region
        and the chromosomes present in ``links_df``).
    """
    bounds = chrom, r_start, r_end = _checked_region(
        links_df, region, score_col, annotation, min_score
    )
    df = links_df[[c for c in links_df.columns if c in ("gene", "peak", score_col, "distance")]]
    df = df.reset_index(drop=True)
    score = _numeric_scores(df, score_col)
    peaks = _peak_coordinates(df["peak"], chrom)
    tss, genes_track = _tss_and_genes(df, peaks.mid, annotation, chrom, r_start, r_end)
    sel = _links_to_draw(score, peaks, tss, region, bounds, score_col, min_score)
    logger.info("links: drawing %d link(s) in %s:%d-%d.", sel.size, chrom, r_start, r_end)

    fig = _new_figure((10.0, 5.0))
    gs = fig.add_gridspec(3, 1, height_ratios=[3.0, 0.5, 1.2])
    ax_arc = fig.add_subplot(gs[0])
    ax_peak = fig.add_subplot(gs[1], sharex=ax_arc)
    ax_gene = fig.add_subplot(gs[2], sharex=ax_arc)
    min_width = (r_end - r_start) * 2e-3  # keep arcs of a peak at its own TSS visible
    _draw_arcs(ax_arc, score, peaks.mid, tss, sel, min_width, score_col, bounds)
    _draw_peak_track(ax_peak, df["peak"], peaks, sel, r_start, r_end, min_width)
    _draw_gene_track(ax_gene, _gene_track_rows(genes_track, df["gene"], tss, sel), bounds)
    if save is not None:
        fig.savefig(save, dpi=120, bbox_inches="tight")
    return fig
