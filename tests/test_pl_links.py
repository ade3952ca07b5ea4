"""pl.links: peak-gene links as arcs over a genomic region."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from minnet._utils import MinNetInputError
from minnet.pl._links import LINK_GID, PEAK_GID, links


def _png_ok(path) -> None:
    data = path.read_bytes()
    assert len(data) > 1000 and data[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------
# transfer_confusion
# ---------------------------------------------------------------------------------------------


@pytest.fixture()
def link_table():
    # peak midpoints: 1150, 2050, 5050, 90050 (chr1) and 1050 (chr2)
    peaks = ["chr1-1100-1200", "chr1-2000-2100", "chr1-5000-5100", "chr1-90000-90100",
             "chr2-1000-1100"]
    rows = [
        ("GENEA", peaks[0], 0.8),  # TSS 3000 -> in region
        ("GENEA", peaks[1], -0.4),  # in region, negative
        ("GENEB", peaks[2], 0.3),  # TSS 8000 -> in region
        ("GENEB", peaks[3], 0.9),  # peak outside the region
        ("GENEC", peaks[4], 0.5),  # other chromosome
    ]
    tss = {"GENEA": 3000, "GENEB": 8000, "GENEC": 1200}
    df = pd.DataFrame(rows, columns=["gene", "peak", "score"])
    mids = parse_mid(df["peak"])
    df["distance"] = mids - df["gene"].map(tss).to_numpy()  # peak midpoint - TSS
    df["zscore"] = 3.0
    df["pvalue"] = 0.001
    df["qvalue"] = 0.01
    ann = pd.DataFrame(
        {
            "gene_name": ["GENEA", "GENEB", "GENEC", "GENED"],
            "chrom": ["chr1", "chr1", "chr2", "chr1"],
            "tss": [3000, 8000, 1200, 9500],
            "strand": ["+", "-", "+", "+"],
            "end": [4500, 7000, 2000, 9900],
        }
    )
    return df, ann


def parse_mid(peaks: pd.Series) -> np.ndarray:
    parts = peaks.str.extract(r"-(\d+)-(\d+)$").astype(int)
    return ((parts[0] + parts[1]) // 2).to_numpy()


def _arcs(fig):
    return [p for p in fig.axes[0].patches if p.get_gid() == LINK_GID]


def test_links_arcs_from_distance(link_table, tmp_path):
    df, _ = link_table
    before = df.copy()
    out = tmp_path / "links.png"
    fig = links(df, "chr1-1-10000", save=out)
    _png_ok(out)
    arcs = _arcs(fig)
    assert len(arcs) == 3
    # arcs span peak midpoint -> TSS, height = |score|
    spans = sorted((a.center[0] - a.width / 2, a.center[0] + a.width / 2, a.height / 2)
                   for a in arcs)
    np.testing.assert_allclose(spans, [(1150, 3000, 0.8), (2050, 3000, 0.4), (5050, 8000, 0.3)])
    colours = {round(a.height / 2, 1): a.get_edgecolor()[:3] for a in arcs}
    assert colours[0.8] != colours[0.4]  # sign -> colour
    assert colours[0.8] == colours[0.3]
    peaks = [p for p in fig.axes[1].patches if p.get_gid() == PEAK_GID]
    assert len(peaks) == 3  # the chr1 peaks inside the region
    pd.testing.assert_frame_equal(df, before)


def test_links_with_annotation_region_formats_and_min_score(link_table):
    df, ann = link_table
    no_dist = df.drop(columns="distance")
    fig = links(no_dist, "1:1,000-10,000", annotation=ann)  # '1' matches 'chr1'
    assert len(_arcs(fig)) == 3
    gene_names = {t.get_text() for t in fig.axes[2].texts}
    assert {"GENEA", "GENEB", "GENED"} <= gene_names and "GENEC" not in gene_names
    fig = links(df, "chr1:1000-10000", annotation=ann, min_score=0.35)
    assert sorted(round(a.height / 2, 2) for a in _arcs(fig)) == [0.4, 0.8]
    # a region cutting GENEB's TSS off drops its arc
    assert len(_arcs(links(df, "chr1-1000-7000"))) == 2


def test_links_errors(link_table):
    df, ann = link_table
    with pytest.raises(MinNetInputError, match="could not be parsed"):
        links(df, "chr1:abc-10")
    with pytest.raises(MinNetInputError, match="start >= end"):
        links(df, "chr1-500-100")
    with pytest.raises(MinNetInputError, match=r"chr3-1-5000.*'chr1', 'chr2'"):
        links(df, "chr3-1-5000")
    with pytest.raises(MinNetInputError, match="min_score"):
        links(df, "chr1-1-10000", min_score=5.0)
    with pytest.raises(MinNetInputError, match="distance"):
        links(df.drop(columns="distance"), "chr1-1-10000")
    with pytest.raises(MinNetInputError, match="'score'"):
        links(df.drop(columns="score"), "chr1-1-10000")
    with pytest.raises(MinNetInputError, match="peak name"):
        links(df.assign(peak="not-a-peak"), "chr1-1-10000")


def test_links_input_checks_and_skipped_scores(link_table, caplog):
    df, _ = link_table
    with pytest.raises(MinNetInputError, match="pandas DataFrame"):
        links(df.to_dict(), "chr1-1-10000")
    with pytest.raises(MinNetInputError, match="must be numeric"):
        links(df.assign(score=["high"] * len(df)), "chr1-1-10000")
    with pytest.raises(MinNetInputError, match="non-negative number"):
        links(df, "chr1-1-10000", min_score=-1.0)
    # a link without a score is left out (logged), not drawn at height 0
    with caplog.at_level(logging.INFO, logger="minnet"):
        fig = links(df.assign(score=[np.nan, *df["score"].iloc[1:]]), "chr1-1-10000")
    assert "missing or infinite score" in caplog.text
    assert sorted(round(a.height / 2, 2) for a in _arcs(fig)) == [0.3, 0.4]
