"""Malformed arguments to public functions end in MinNetInputError, never a deep stack trace."""

from __future__ import annotations

import math

import numpy as np
import pytest

import minnet
from minnet import MinNetInputError, ModelFileError
from minnet.validation import check_int, check_number


@pytest.mark.parametrize("bad", [0, -1, 1.5, "5", None, True])
def test_check_int_refuses(bad):
    with pytest.raises(MinNetInputError, match="n must be an integer >= 1"):
        check_int(bad, "n", 1)


def test_check_int_and_number_accept():
    assert check_int(np.int64(3), "n", 1) == 3
    assert check_number(np.float32(0.5), "x", 0, 1) == 0.5
    assert check_number(1, "x", 0, 1) == 1.0


@pytest.mark.parametrize("bad", [math.nan, math.inf, -0.1, 1.0, "0.5", None])
def test_check_number_refuses(bad):
    with pytest.raises(MinNetInputError, match=r"x must be a finite number in \[0, 1\)"):
        check_number(bad, "x", 0.0, 1.0, high_open=True)


@pytest.fixture(scope="module")
def embedded(small_model, sim, sim_split):
    r = minnet.tl.embed(small_model, sim.rna[~sim_split][:200], "rna")
    a = minnet.tl.embed(small_model, sim.atac[~sim_split][:200], "atac")
    return r, a


@pytest.mark.parametrize("k", [0, -1, 1.5, "5", None])
def test_neighbour_counts_checked_everywhere(embedded, k):
    r, a = embedded
    for call in (lambda: minnet.tl.transfer_labels(r, a, "cell_type", n_neighbors=k),
                 lambda: minnet.tl.match_cells(r, a, n_neighbors=k),
                 lambda: minnet.tl.smooth(r, n_neighbors=k),
                 lambda: minnet.tl.cluster([r, a], n_neighbors=k)):
        with pytest.raises(MinNetInputError, match="n_neighbors"):
            call()
    with pytest.raises(MinNetInputError, match="min_confidence"):
        minnet.tl.transfer_labels(r, a, "cell_type", min_confidence=2)


@pytest.mark.parametrize(("name", "value", "match"), [
    ("lr", -1, "lr must be a finite number"),
    ("lr", 0, "lr must be a finite number"),
    ("margin", math.nan, "margin must be a finite number"),
    ("contrastive_weight", math.inf, "contrastive_weight"),
    ("celltype_margin", -1, "celltype_margin"),
    ("weight_decay", -1e-3, "weight_decay"),
    ("positive_fraction", 0, "positive_fraction"),
    ("positive_fraction", 1, "positive_fraction"),
    ("negatives", "some", "negatives must be"),
    ("n_neighbors", 1, "n_neighbors"),
    ("patience", 0, "patience"),
    ("seed", -3, "seed"),
    ("device", "tpu", "unknown device"),
    ("epochs", 0, "epochs"),
    ("gene_activity_kwds", {"window": 10}, "unknown keys"),
    ("gene_activity_kwds", [("distance", 10)], "must be a dict"),
])
def test_training_hyperparameters_checked_before_work(sim, name, value, match):
    rna, atac = sim.rna[:60], sim.atac[:60]
    with pytest.raises(MinNetInputError, match=match):
        minnet.train(rna, atac, modality="atac", annotation=sim.annotation, progress=False,
                     **{name: value})


def test_model_path_errors(small_model, tmp_path):
    with pytest.raises(ModelFileError, match="is a folder"):
        minnet.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        small_model.save(tmp_path / "missing" / "m.safetensors")
    with pytest.raises(IsADirectoryError, match="is a folder; give a file name"):
        small_model.save(tmp_path)
    assert list(tmp_path.iterdir()) == []  # no temporary file left behind
