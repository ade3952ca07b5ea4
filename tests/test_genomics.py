"""Tests for minnet.genomics: peak names, annotation, chromosome naming, proximity."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from minnet._utils import MinNetInputError
from minnet.genomics import (
    gene_windows,
    harmonize_chromosomes,
    overlap_windows,
    parse_peak_names,
    peaks_near_genes,
    read_annotation,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


# ------------------------------------------------------------------------------ parse_peak_names
@pytest.mark.parametrize(
    ("name", "chrom", "start", "end"),
    [
        ("chr1-100-200", "chr1", 100, 200),
        ("chr1:100-200", "chr1", 100, 200),
        ("chr1_100_200", "chr1", 100, 200),
        ("1-100-200", "1", 100, 200),
        ("chrUn_KI270728v1-100-200", "chrUn_KI270728v1", 100, 200),
        ("chrUn_KI270728v1_100_200", "chrUn_KI270728v1", 100, 200),
        ("chr1_KI270706v1_random:5-5", "chr1_KI270706v1_random", 5, 5),
        ("HLA-A*01:01-3-40", "HLA-A*01:01", 3, 40),
        ("GL000194.1-1000-2000", "GL000194.1", 1000, 2000),
    ],
)
def test_parse_peak_names_formats(name, chrom, start, end):
    df = parse_peak_names([name])
    assert list(df.columns) == ["chrom", "start", "end"]
    assert df.index.tolist() == [name]
    assert df["chrom"].iloc[0] == chrom
    assert df["start"].iloc[0] == start
    assert df["end"].iloc[0] == end
    assert df["start"].dtype == np.int64
    assert df["end"].dtype == np.int64


def test_parse_peak_names_keeps_order_and_index():
    names = pd.Index(["chrX-5-10", "chr2:1-3", "3_7_9"])
    df = parse_peak_names(names)
    assert df.index.equals(names)
    assert df["chrom"].tolist() == ["chrX", "chr2", "3"]
    assert df["start"].tolist() == [5, 1, 7]
    assert df["end"].tolist() == [10, 3, 9]


@pytest.mark.parametrize("bad", ["chr1-100", "peak_1", "chr1-abc-200", "-100-200", "chr1-1e3-2e3"])
def test_parse_peak_names_bad_name(bad):
    with pytest.raises(MinNetInputError) as exc:
        parse_peak_names(["chr1-1-2", bad])
    msg = str(exc.value)
    assert repr(bad) in msg
    assert "chr1-100-200" in msg  # accepted formats listed
    assert "chr1-1-2" not in msg


def test_parse_peak_names_lists_at_most_five():
    bad = [f"bad{i}" for i in range(8)]
    with pytest.raises(MinNetInputError) as exc:
        parse_peak_names(bad)
    msg = str(exc.value)
    assert "8 peak name(s)" in msg
    assert "'bad4'" in msg and "'bad5'" not in msg


def test_parse_peak_names_start_after_end():
    with pytest.raises(MinNetInputError, match="start > end") as exc:
        parse_peak_names(["chr1-10-20", "chr1-300-200"])
    assert "chr1-300-200" in str(exc.value)


def test_parse_peak_names_empty():
    df = parse_peak_names([])
    assert len(df) == 0 and list(df.columns) == ["chrom", "start", "end"]


# ------------------------------------------------------------------------------- read_annotation
def _ann(**extra):
    base = {
        "gene_name": ["A", "B", "C"],
        "chrom": ["chr1", "chr1", "chr2"],
        "tss": [1000, 5000, 300],
        "strand": ["+", "-", "+"],
    }
    base.update(extra)
    return pd.DataFrame(base)


def test_read_annotation_missing_columns():
    df = _ann().drop(columns=["tss", "strand"])
    with pytest.raises(MinNetInputError) as exc:
        read_annotation(df)
    msg = str(exc.value)
    assert "['tss', 'strand']" in msg
    assert "gene_name" in msg and "chrom" in msg  # existing columns listed


def test_read_annotation_strand_conversion_and_not_modified():
    df = _ann(strand=[1, -1, 1])
    before = df.copy(deep=True)
    out = read_annotation(df)
    assert out["strand"].tolist() == ["+", "-", "+"]
    pd.testing.assert_frame_equal(df, before)
    assert out is not df
    out2 = read_annotation(_ann(strand=["1", "-1", "+"]))
    assert out2["strand"].tolist() == ["+", "-", "+"]


def test_read_annotation_bad_strand():
    with pytest.raises(MinNetInputError, match="strand") as exc:
        read_annotation(_ann(strand=["+", "x", "."]))
    assert "'x'" in str(exc.value)


def test_read_annotation_tss_checks():
    with pytest.raises(MinNetInputError, match="negative"):
        read_annotation(_ann(tss=[1, -5, 3]))
    with pytest.raises(MinNetInputError, match="non-integer"):
        read_annotation(_ann(tss=[1.5, 2, 3]))
    with pytest.raises(MinNetInputError, match="non-numeric"):
        read_annotation(_ann(tss=["1", "abc", "3"]))
    out = read_annotation(_ann(tss=[1.0, 2.0, 3.0]))
    assert out["tss"].dtype == np.int64 and out["tss"].tolist() == [1, 2, 3]


def test_read_annotation_drops_nan_and_duplicates(caplog):
    df = pd.DataFrame(
        {
            "gene_name": ["A", "B", "A", "C", "D", "B"],
            "chrom": ["chr1", None, "chr1", "chr2", "chr2", "chr3"],
            "tss": [10, 20, 30, np.nan, 50, 60],
            "strand": ["+", "+", "-", "+", "-", "+"],
        }
    )
    with caplog.at_level(logging.WARNING, logger="minnet"):
        out = read_annotation(df)
    # B(chr None) and C(tss NaN) dropped; duplicate A dropped; later B (chr3) kept as first B.
    assert out["gene_name"].tolist() == ["A", "D", "B"]
    assert out["tss"].tolist() == [10, 50, 60]
    assert out.index.equals(pd.RangeIndex(3))
    text = caplog.text
    assert "dropping 2 row(s)" in text
    assert "1 duplicated gene_name" in text


def test_read_annotation_end_and_column_order():
    df = _ann(end=[3000, 4000, np.nan], biotype=["pc", "pc", "lnc"], extra=[1, 2, 3])
    out = read_annotation(df)
    assert list(out.columns) == ["gene_name", "chrom", "tss", "strand", "end", "biotype", "extra"]
    assert out["end"].tolist() == [3000, 4000, 300]  # missing end -> tss (no gene body)
    assert out["end"].dtype == np.int64


def test_read_annotation_paths(tmp_path):
    df = _ann(gene_id=["g1", "g2", "g3"])
    df.to_csv(tmp_path / "a.tsv", sep="\t", index=False)
    df.to_csv(tmp_path / "a.csv", index=False)
    df.to_csv(tmp_path / "a.tsv.gz", sep="\t", index=False)
    df.to_csv(tmp_path / "a.annot", sep="\t", index=False)
    ref = read_annotation(df)
    for name in ("a.tsv", "a.csv", "a.tsv.gz", "a.annot"):
        out = read_annotation(tmp_path / name)
        pd.testing.assert_frame_equal(out, ref, check_dtype=False)
    out = read_annotation(str(tmp_path / "a.tsv"))
    assert out["gene_name"].tolist() == ["A", "B", "C"]
    with pytest.raises(MinNetInputError, match="does not exist"):
        read_annotation(tmp_path / "missing.tsv")
    with pytest.raises(MinNetInputError, match="DataFrame"):
        read_annotation(42)


def test_read_annotation_real_file():
    path = SHARED / "annotation" / "hg38_tss.tsv"
    if not path.exists():
        pytest.skip("shared annotation not available")
    raw = pd.read_csv(path, sep="\t")
    out = read_annotation(path)
    assert len(out) == raw["gene_name"].nunique()
    assert not out["gene_name"].duplicated().any()
    assert set(out["strand"]) == {"+", "-"}
    assert out["tss"].dtype == np.int64 and (out["tss"] > 0).all()
    assert {"gene_id", "biotype"} <= set(out.columns)


# ------------------------------------------------------------------------- harmonize_chromosomes
def test_harmonize_chr_prefix_both_directions():
    m = harmonize_chromosomes(
        ["1", "2", "X", "MT", "Y", "KI270728.1"], ["chr1", "chr2", "chrX", "chrM"]
    )
    assert m == {"1": "chr1", "2": "chr2", "X": "chrX", "MT": "chrM"}
    m = harmonize_chromosomes(["chr1", "chrX", "chrM", "chrMT", "chr22"], ["1", "X", "MT"])
    assert m == {"chr1": "1", "chrX": "X", "chrM": "MT", "chrMT": "MT"}
    m = harmonize_chromosomes(["chrM", "M"], ["chrMT"])
    assert m == {"chrM": "chrMT", "M": "chrMT"}


def test_harmonize_identity_and_duplicates():
    m = harmonize_chromosomes(["chr1", "chr1", "chr5"], ["chr1", "chr5", "1"])
    assert m == {"chr1": "chr1", "chr5": "chr5"}
    assert harmonize_chromosomes(["chr3"], ["chr1"]) == {}


# ------------------------------------------------------------------------------ peaks_near_genes
def _brute_near(peaks, ann, distance, peak_chrom_of_gene):
    out = set()
    for gi in range(len(ann)):
        gc = peak_chrom_of_gene(ann["chrom"].iloc[gi])
        for pi in range(len(peaks)):
            if peaks["chrom"].iloc[pi] != gc:
                continue
            mid = (peaks["start"].iloc[pi] + peaks["end"].iloc[pi]) // 2
            d = mid - ann["tss"].iloc[gi]
            if abs(d) <= distance:
                out.add((gi, pi, int(d)))
    return out


def _random_peaks_genes(rng, n_peaks=150, n_genes=40, gene_prefix=""):
    chroms = ["chr1", "chr2", "chrX"]
    pc = rng.choice(chroms, n_peaks)
    ps = rng.integers(0, 20_000, n_peaks)
    pe = ps + rng.integers(0, 800, n_peaks)
    names = [f"{c}-{s}-{e}" for c, s, e in zip(pc, ps, pe, strict=True)]
    peaks = parse_peak_names(names)
    gc = rng.choice(chroms + ["chr9"], n_genes)
    if gene_prefix == "":
        gc = np.array([c.replace("chr", "") for c in gc])
    ann = pd.DataFrame(
        {
            "gene_name": [f"g{i}" for i in range(n_genes)],
            "chrom": gc,
            "tss": rng.integers(0, 20_000, n_genes),
            "strand": rng.choice(["+", "-"], n_genes),
        }
    )
    ann["end"] = ann["tss"] + rng.integers(-3000, 3000, n_genes).clip(-ann["tss"].to_numpy())
    return peaks, ann


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("distance", [0, 500, 3000])
def test_peaks_near_genes_matches_brute_force(seed, distance):
    rng = np.random.default_rng(seed)
    peaks, ann = _random_peaks_genes(rng)  # annotation uses '1', peaks use 'chr1'
    # guarantee at least one exact hit (midpoint == TSS) so distance=0 is exercised too
    g = ann.loc[ann["chrom"] != "9"].iloc[0]
    exact = parse_peak_names([f"chr{g['chrom']}-{g['tss'] + 3}-{g['tss'] + 4}"])
    exact["start"] -= 6  # [tss - 3, tss + 4] -> midpoint tss (floor of tss + 0.5)
    peaks = pd.concat([peaks, exact])
    res = peaks_near_genes(peaks, ann, distance)
    expected = _brute_near(peaks, ann, distance, lambda c: "chr" + c)
    got = set(zip(res["gene_idx"], res["peak_idx"], res["distance"], strict=True))
    assert got == expected
    assert len(res) == len(expected)  # no duplicates
    assert res["distance"].dtype == np.int64
    assert (res["gene"].to_numpy() == ann["gene_name"].to_numpy()[res["gene_idx"]]).all()
    assert (res["peak"].to_numpy() == peaks.index.to_numpy()[res["peak_idx"]]).all()
    assert list(res.columns) == ["gene", "peak", "distance", "gene_idx", "peak_idx"]


def test_peaks_near_genes_window_boundary_by_midpoint():
    tss, d = 10_000, 100
    names = [
        f"chr1-{tss + d - 1}-{tss + d + 2}",  # mid = tss + d (floor of .5): included
        f"chr1-{tss - d}-{tss - d}",  # mid = tss - d: included
        f"chr1-{tss + d + 1}-{tss + d + 1}",  # mid = tss + d + 1: excluded
        f"chr1-{tss - d - 2}-{tss - d - 1}",  # mid = tss - d - 2 (floor): excluded
        f"chr1-{tss - 5000}-{tss + 5000}",  # wide peak, mid = tss: included
        f"chr2-{tss}-{tss}",  # other chromosome: excluded
    ]
    peaks = parse_peak_names(names)
    ann = pd.DataFrame({"gene_name": ["G"], "chrom": ["chr1"], "tss": [tss], "strand": ["-"]})
    res = peaks_near_genes(peaks, ann, d)
    assert res["peak_idx"].tolist() == [0, 1, 4]
    assert res["distance"].tolist() == [d, -d, 0]
    res = peaks_near_genes(peaks, ann, d + 1)
    assert res["peak_idx"].tolist() == [0, 1, 2, 4]


def test_peaks_near_genes_no_pair_names_chromosomes():
    peaks = parse_peak_names(["chr1-100-200", "chr2-100-200"])
    ann = pd.DataFrame({"gene_name": ["A"], "chrom": ["scaffold_7"], "tss": [150], "strand": ["+"]})
    with pytest.raises(MinNetInputError) as exc:
        peaks_near_genes(peaks, ann, 1000)
    msg = str(exc.value)
    assert "chr1" in msg and "scaffold_7" in msg
    with pytest.raises(MinNetInputError, match="non-negative"):
        peaks_near_genes(peaks, ann, -1)
    with pytest.raises(MinNetInputError, match="missing column"):
        peaks_near_genes(peaks.drop(columns="end"), ann, 10)


def test_peaks_near_genes_scales():
    rng = np.random.default_rng(0)
    n_peaks, n_genes = 100_000, 20_000
    chrom = rng.choice([f"chr{i}" for i in range(1, 23)], n_peaks)
    start = rng.integers(0, 50_000_000, n_peaks)
    peaks = pd.DataFrame({"chrom": chrom, "start": start, "end": start + 500})
    ann = pd.DataFrame(
        {
            "gene_name": [f"g{i}" for i in range(n_genes)],
            "chrom": rng.choice([str(i) for i in range(1, 23)], n_genes),
            "tss": rng.integers(0, 50_000_000, n_genes),
            "strand": "+",
        }
    )
    res = peaks_near_genes(peaks, ann, 50_000)
    assert len(res) > 0
    assert (res["distance"].abs() <= 50_000).all()


# ------------------------------------------------------------------------ windows and overlaps
def test_gene_windows_strand_aware():
    ann = pd.DataFrame(
        {
            "gene_name": ["P", "M", "R"],
            "chrom": ["chr1"] * 3,
            "tss": [5000, 5000, 100],
            "strand": ["+", "-", "+"],
            "end": [9000, 1000, 50],
        }
    )
    w = gene_windows(ann, upstream=2000, gene_body=False)
    assert w["start"].tolist() == [3000, 5000, 0]
    assert w["end"].tolist() == [5000, 7000, 100]
    w = gene_windows(ann, upstream=2000, gene_body=True)
    assert w["start"].tolist() == [3000, 1000, 0]
    assert w["end"].tolist() == [9000, 7000, 100]


@pytest.mark.parametrize("seed", [3, 4])
def test_overlap_windows_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    peaks, ann = _random_peaks_genes(rng, gene_prefix="chr")
    # add a few very long peaks to exercise the running-max lower bound
    extra = parse_peak_names(["chr1-50-15000", "chr2-7000-7000"])
    peaks = pd.concat([peaks, extra])
    wins = gene_windows(read_annotation(ann), upstream=700, gene_body=True)
    w_idx, p_idx = overlap_windows(peaks, wins)
    expected = set()
    for wi in range(len(wins)):
        for pi in range(len(peaks)):
            if (
                peaks["chrom"].iloc[pi] == wins["chrom"].iloc[wi]
                and peaks["start"].iloc[pi] <= wins["end"].iloc[wi]
                and peaks["end"].iloc[pi] >= wins["start"].iloc[wi]
            ):
                expected.add((wi, pi))
    got = list(zip(w_idx.tolist(), p_idx.tolist(), strict=True))
    assert set(got) == expected and len(got) == len(expected)
    assert got == sorted(got)


# ------------------------------------------------------------------ careless annotations (#14)
@pytest.mark.parametrize("bad", [1e19, 2.0**63, np.inf, 2**40])
def test_read_annotation_refuses_positions_beyond_any_chromosome(bad):
    df = _ann(tss=[1000.0, bad, 300.0])
    with pytest.raises(MinNetInputError, match="beyond any chromosome") as exc:
        read_annotation(df)
    assert "B (" in str(exc.value)  # the gene is named, not silently dropped
    with pytest.raises(MinNetInputError, match=r"column 'end' .* e.g. C \("):
        read_annotation(_ann(end=[2000, 6000, bad]))
    assert read_annotation(_ann(tss=[1000, 2**40 - 1, 300]))["tss"][1] == 2**40 - 1


def test_read_annotation_names_genes_with_bad_positions():
    with pytest.raises(MinNetInputError, match=r"negative values, e.g. B \(-5\)"):
        read_annotation(_ann(tss=[1, -5, 3]))


def test_read_annotation_refuses_paths_that_are_not_tables(tmp_path):
    with pytest.raises(MinNetInputError, match="is a directory; pass the gene annotation table"):
        read_annotation(tmp_path)
    (tmp_path / "zero.tsv").symlink_to("/dev/zero")  # would never stop reading
    with pytest.raises(MinNetInputError, match="is not a regular file"):
        read_annotation(tmp_path / "zero.tsv")
    binary = tmp_path / "rna.h5ad"
    binary.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(MinNetInputError, match="could not be read as a table") as exc:
        read_annotation(binary)
    assert str(binary) in str(exc.value) and "gene_name, chrom, tss, strand" in str(exc.value)
    (tmp_path / "empty.tsv").write_text("")
    with pytest.raises(MinNetInputError, match="could not be read as a table"):
        read_annotation(tmp_path / "empty.tsv")
    (tmp_path / "cut.tsv.gz").write_bytes(b"\x1f\x8b\x08\x00garbage")
    with pytest.raises(MinNetInputError, match="could not be read as a table"):
        read_annotation(tmp_path / "cut.tsv.gz")


def test_read_annotation_names_duplicates_on_other_chromosomes(caplog):
    df = _ann(gene_name=["A", "A", "B"], chrom=["chrX", "chrY", "chr2"])
    with caplog.at_level(logging.WARNING, logger="minnet"):
        out = read_annotation(df)
    assert out["chrom"].tolist() == ["chrX", "chr2"]  # documented: the first row is kept
    assert "1 of them also lie on another chromosome (e.g. ['A'])" in caplog.text


def test_base_pair_distances_are_bounded():
    from minnet.genomics import check_bp

    assert check_bp(2000.0, "upstream") == 2000
    with pytest.raises(MinNetInputError, match="larger than any chromosome"):
        check_bp(10**19, "upstream")
    with pytest.raises(MinNetInputError, match="distance"):
        peaks_near_genes(parse_peak_names(["chr1-1-10"]), read_annotation(_ann()), 2**62)
