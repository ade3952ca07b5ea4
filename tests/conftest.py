"""Shared fixtures: a small simulated multiome split by batch, and a quickly trained model."""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pytest
from hypothesis import settings

import minnet

# The same examples on every run: a property test cannot pass on one CI run and fail the next.
settings.register_profile("minnet", derandomize=True)
settings.load_profile("minnet")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """Path under ../shared/data, skipping the test cleanly when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data {path} not available")
    return path


@pytest.fixture(scope="session")
def sim():
    """1,200 simulated multiome cells in 3 batches (batch2 is the held-out one)."""
    return minnet.datasets.simulate_multiome(n_cells=1200, n_cell_types=6, n_batches=3,
                                             n_genes=600, seed=7)


@pytest.fixture(scope="session")
def sim_split(sim):
    train = sim.rna.obs["batch"].isin(["batch0", "batch1"]).to_numpy()
    return train


@pytest.fixture(scope="session")
def small_model(sim, sim_split):
    """A model trained for a few epochs on batches 0 and 1 (shared by many tests: do not mutate).

    One network (a plain ``MinNetModule``, whose tensors the file-format tests edit by name);
    ensembles, the default, have their own tests (``test_ensemble.py``)."""
    tr = sim_split
    return minnet.train(sim.rna[tr], sim.atac[tr], modality="atac", label_key="cell_type",
                        batch_key="batch", annotation=sim.annotation, epochs=6, seed=0,
                        progress=False, n_networks=1)


@pytest.fixture(scope="session")
def small_activity(sim):
    """300 cells of the shared simulation, RNA and ATAC as gene activity: fast to train."""
    rna = sim.rna[:300].copy()
    act = minnet.pp.gene_activity(sim.atac[:300], sim.annotation)
    return rna, act


class _CtrlC:
    """Ctrl-C in training's n-th validation from now on (``at(n)``; ``at(1)``: the first)."""

    def __init__(self, monkeypatch) -> None:
        from minnet.step import TrainingStep

        self._monkeypatch, self._step = monkeypatch, TrainingStep
        self._evaluate = TrainingStep.evaluate

    def at(self, n: int) -> None:
        calls = {"n": 0}
        evaluate = self._evaluate

        def interrupted(*args, **kwargs):
            calls["n"] += 1
            if calls["n"] == n:
                raise KeyboardInterrupt
            return evaluate(*args, **kwargs)

        self._monkeypatch.setattr(self._step, "evaluate", interrupted)

    def off(self) -> None:
        """Validation runs again as usual."""
        self._monkeypatch.setattr(self._step, "evaluate", self._evaluate)


@pytest.fixture()
def ctrl_c(monkeypatch):
    """Interrupt training as Ctrl-C would, in a chosen validation (see ``_CtrlC``)."""
    return _CtrlC(monkeypatch)


@pytest.fixture()
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="module")
def unpaired(sim, small_model):
    """Unpaired halves of the shared simulation: RNA of even cells, ATAC of odd cells."""
    idx = np.arange(sim.rna.n_obs)
    rna = minnet.tl.embed(small_model, sim.rna[idx % 2 == 0], "rna", batch_key="batch")
    atac = minnet.tl.embed(small_model, sim.atac[idx % 2 == 1], "atac", batch_key="batch")
    return rna, atac


@pytest.fixture()
def peak_gene_links_calls(monkeypatch):
    """Every call of minnet.tl.peak_gene_links during the test (and its result)."""
    calls = []
    real = minnet.tl.peak_gene_links

    def spy(*args, **kwargs):
        calls.append({"args": args, "kwargs": kwargs, "out": real(*args, **kwargs)})
        return calls[-1]["out"]

    monkeypatch.setattr(minnet.tl, "peak_gene_links", spy)
    return calls


@pytest.fixture()
def make_embedded():
    """Factory: an AnnData holding only a co-embedding ``obsm[rep]`` (cell names optional)."""

    def make(z, names=None, rep="X_minnet"):
        z = np.asarray(z, dtype=np.float32)
        a = ad.AnnData(X=np.zeros((len(z), 1), dtype=np.float32))
        if names is not None:
            a.obs_names = list(names)
        a.obsm[rep] = z
        return a

    return make
