"""``pl.links``: peak-gene links drawn as arcs over a genomic region."""

from __future__ import annotations

import os
import re
from numbers import Real

import numpy as np
import pandas as pd

from .._utils import MinNetInputError, logger
from ..genomics import harmonize_chromosomes, parse_peak_names, read_annotation
from ._confusion import _new_figure

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


def links(
    links_df: pd.DataFrame,
    region: str,
    annotation: pd.DataFrame | str | os.PathLike | None = None,
    score_col: str = "score",
    min_score: float | None = None,
    save: str | os.PathLike | None = None,
):
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
    from matplotlib.lines import Line2D
    from matplotlib.patches import Arc, Rectangle
    from matplotlib.ticker import FuncFormatter

    if not isinstance(links_df, pd.DataFrame):
        raise MinNetInputError(
            f"links_df must be a pandas DataFrame, got {type(links_df).__name__}."
        )
    chrom, r_start, r_end = _parse_region(region)
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

    df = links_df[[c for c in links_df.columns if c in ("gene", "peak", score_col, "distance")]]
    df = df.reset_index(drop=True)
    score = pd.to_numeric(df[score_col], errors="coerce")
    bad = score.isna() & df[score_col].notna()
    if bad.any():
        raise MinNetInputError(
            f"links_df[{score_col!r}] must be numeric; got values such as "
            f"{df.loc[bad, score_col].astype(str).tolist()[:5]}."
        )
    score = score.to_numpy(dtype=np.float64)
    finite = np.isfinite(score)
    if (~finite).any():
        logger.info("links: ignoring %d link(s) with a missing or infinite score.",
                    int((~finite).sum()))

    peaks = parse_peak_names(df["peak"].astype(str).to_numpy())
    p_chroms_all = peaks["chrom"].to_numpy(dtype=object).astype(str)
    on_chrom = np.isin(p_chroms_all, list(harmonize_chromosomes(p_chroms_all, [chrom])))
    p_start = peaks["start"].to_numpy(dtype=np.int64)
    p_end = peaks["end"].to_numpy(dtype=np.int64)
    mid = (p_start + p_end) // 2

    # TSS of each link's gene
    tss = np.full(len(df), np.nan)
    genes_track: pd.DataFrame | None = None
    if "distance" in df.columns:
        dist = pd.to_numeric(df["distance"], errors="coerce").to_numpy(dtype=np.float64)
        tss = mid - dist
    if annotation is not None:
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
        genes_track = ann.loc[overlaps].reset_index(drop=True)

    in_region = (
        finite
        & on_chrom
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
        chroms = pd.unique(pd.Series(p_chroms_all, dtype=object)).tolist()
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
    sel = sel[np.argsort(np.abs(score[sel]), kind="stable")]  # strongest drawn on top
    logger.info("links: drawing %d link(s) in %s:%d-%d.", sel.size, chrom, r_start, r_end)

    fig = _new_figure((10.0, 5.0))
    gs = fig.add_gridspec(3, 1, height_ratios=[3.0, 0.5, 1.2])
    ax_arc = fig.add_subplot(gs[0])
    ax_peak = fig.add_subplot(gs[1], sharex=ax_arc)
    ax_gene = fig.add_subplot(gs[2], sharex=ax_arc)
    span = r_end - r_start
    min_width = span * 2e-3  # keep arcs of a peak at its own TSS visible

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
        ax_arc.add_patch(arc)
    ax_arc.set_ylim(0.0, 1.12 * max_abs if max_abs > 0 else 1.0)
    ax_arc.set_ylabel(f"|{score_col}|")
    handles = [
        Line2D([], [], color=c, lw=2, label=lab)
        for c, lab, present in (
            (_POS_COLOR, "positive", bool((score[sel] >= 0).any())),
            (_NEG_COLOR, "negative", bool((score[sel] < 0).any())),
        )
        if present
    ]
    ax_arc.legend(handles=handles, title=score_col, loc="upper right", fontsize=8,
                  title_fontsize=8, frameon=False)
    ax_arc.set_title(f"{chrom}:{r_start:,}-{r_end:,}  ({sel.size} link{'s' * (sel.size != 1)})")
    ax_arc.tick_params(labelbottom=False)
    for side in ("top", "right"):
        ax_arc.spines[side].set_visible(False)

    # peak track: every peak of links_df overlapping the region
    uniq = ~pd.Series(df["peak"].astype(str)).duplicated().to_numpy()
    shown = uniq & on_chrom & (p_start <= r_end) & (p_end >= r_start)
    linked = set(df["peak"].astype(str).to_numpy()[sel])
    for i in np.flatnonzero(shown):
        s, e = max(p_start[i], r_start), min(p_end[i], r_end)
        rect = Rectangle(
            (s, 0.2), max(e - s + 1, min_width / 2), 0.6,
            facecolor="#333333" if str(df["peak"].iloc[i]) in linked else "#bbbbbb",
            edgecolor="none",
        )
        rect.set_gid(PEAK_GID)
        ax_peak.add_patch(rect)
    ax_peak.set_ylim(0.0, 1.0)
    ax_peak.set_yticks([])
    ax_peak.set_ylabel("peaks", rotation=0, ha="right", va="center")
    ax_peak.tick_params(labelbottom=False)
    for side in ("top", "right", "left"):
        ax_peak.spines[side].set_visible(False)

    # gene track
    drawn = pd.DataFrame({"gene_name": df["gene"].astype(str).to_numpy()[sel], "tss": tss[sel]})
    drawn = drawn.drop_duplicates("gene_name")
    if genes_track is None:
        genes_track = drawn.reset_index(drop=True)
    else:  # linked genes placed from 'distance' because the annotation lacks them
        extra = drawn.loc[~drawn["gene_name"].isin(genes_track["gene_name"])]
        genes_track = pd.concat([genes_track, extra], ignore_index=True)
    genes_track = genes_track.sort_values("tss", kind="stable").reset_index(drop=True)
    if len(genes_track) > _MAX_GENE_LABELS:
        logger.info("links: %d genes in the region; labelling none of them.", len(genes_track))
    arrow = span * 0.025
    for j, row in genes_track.iterrows():
        y = 0.3 if j % 2 == 0 else 0.65  # alternate rows so neighbouring names do not collide
        t = float(row["tss"])
        if "end" in genes_track.columns and pd.notna(row["end"]) and row["end"] != row["tss"]:
            a, b = sorted((float(row["tss"]), float(row["end"])))
            ax_gene.plot([max(a, r_start), min(b, r_end)], [y, y], color="#555555", lw=3,
                         solid_capstyle="butt")
        if r_start <= t <= r_end:
            (tick,) = ax_gene.plot([t, t], [y - 0.12, y + 0.12], color="black", lw=1.5)
            tick.set_gid(GENE_GID)
            if "strand" in genes_track.columns and row["strand"] in ("+", "-"):
                step = arrow if row["strand"] == "+" else -arrow
                ax_gene.annotate("", xy=(t + step, y + 0.12), xytext=(t, y + 0.12),
                                 arrowprops={"arrowstyle": "->", "color": "black", "lw": 1.2})
        if len(genes_track) <= _MAX_GENE_LABELS:
            ax_gene.text(min(max(t, r_start), r_end), y - 0.17, str(row["gene_name"]),
                         ha="center", va="top", fontsize=8, style="italic")
    ax_gene.set_ylim(0.0, 1.0)
    ax_gene.set_yticks([])
    ax_gene.set_ylabel("genes", rotation=0, ha="right", va="center")
    for side in ("top", "right", "left"):
        ax_gene.spines[side].set_visible(False)
    ax_gene.set_xlim(r_start, r_end)
    ax_gene.xaxis.set_major_formatter(FuncFormatter(_bp))
    ax_gene.set_xlabel(f"{chrom} position (bp)")

    if save is not None:
        fig.savefig(save, dpi=120, bbox_inches="tight")
    return fig
