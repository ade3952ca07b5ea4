"""MinNet quick-start in Python: train on paired data, integrate unpaired RNA and ATAC.

Run it as a script (about a minute with the defaults on a laptop CPU)::

    python vignettes/python-quickstart.py --n-cells 2000 --out minnet-quickstart

Steps: simulate a multiome data set -> train on the paired cells of one batch -> save and
reload the model file -> co-embed unpaired RNA and ATAC cells of another batch -> transfer
cell types from RNA to ATAC -> smooth, pool into mini-bulks and link peaks to genes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import minnet


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-cells", type=int, default=2000, help="simulated cells in total")
    ap.add_argument("--epochs", type=int, default=40, help="maximum training epochs")
    ap.add_argument("--out", default="minnet-quickstart", help="folder for the outputs")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # 1. Data: paired RNA + ATAC (peaks), two batches, a gene annotation, the true links.
    sim = minnet.datasets.simulate_multiome(n_cells=args.n_cells, n_cell_types=6,
                                            n_batches=2, n_genes=600, seed=args.seed)
    paired = (sim.rna.obs["batch"] == "batch0").to_numpy()
    rest = np.flatnonzero(~paired)
    rng = np.random.default_rng(args.seed)
    rng.shuffle(rest)
    rna_cells, atac_cells = np.sort(rest[: rest.size // 2]), np.sort(rest[rest.size // 2:])
    rna = sim.rna[rna_cells].copy()     # unpaired RNA ...
    atac = sim.atac[atac_cells].copy()  # ... and ATAC of other cells, without cell types
    truth = atac.obs.pop("cell_type").astype(str).to_numpy()

    # 2. Train on the paired cells. ATAC peaks become gene activity with the annotation.
    model = minnet.train(sim.rna[paired], sim.atac[paired], modality="atac",
                         label_key="cell_type", annotation=sim.annotation,
                         epochs=args.epochs, seed=args.seed, progress=False)
    print(model)

    # 3. One model file, readable from Python and from R (LoadMinNet).
    model.save(out / "model.minnet")
    model = minnet.load(out / "model.minnet")

    # 4. Co-embed the unpaired cells (obsm["X_minnet"]).
    rna = minnet.tl.embed(model, rna, "rna")
    atac = minnet.tl.embed(model, atac, "atac")

    # 5. Label transfer RNA -> ATAC with a confidence per cell (cell_type_pred/_confidence):
    #    the vote of the nearest RNA cells, blended with the model's own classifier.
    atac = minnet.tl.transfer_labels(rna, atac, label_key="cell_type", model=model,
                                     modality="atac")
    pred = atac.obs["cell_type_pred"].astype(str).to_numpy()
    print(f"label transfer accuracy: {np.mean(truth == pred):.3f} "
          f"(mean confidence {atac.obs['cell_type_confidence'].mean():.3f})")

    # 6. Peak-gene links: smooth over co-embedding neighbours, pool RNA and ATAC cells into
    #    mini-bulks within cell types (RNA labels, transferred ATAC labels), correlate genes
    #    with nearby peaks against background peaks; the score is the posterior probability
    #    of a link given that evidence and the distance to the TSS, q the Bayesian FDR.
    links = minnet.tl.peak_gene_links(rna, atac, sim.annotation, groupby="cell_type",
                                      seed=args.seed, progress=False)
    links.to_csv(out / "links.tsv", sep="\t", index=False)
    true_pairs = set(zip(sim.links["gene"], sim.links["peak"], strict=True))
    is_true = np.array([p in true_pairs for p in zip(links["gene"], links["peak"], strict=True)])
    called = (links["qvalue"] < 0.1).to_numpy()
    n_bulks = links.attrs["minnet_link_peaks"]["n_bulks"]
    print(f"{len(links)} gene-peak pairs tested over {n_bulks} mini-bulks; {called.sum()} "
          f"links at q < 0.1, {(called & is_true).sum() / len(true_pairs):.1%} of the true "
          f"links, {(called & ~is_true).sum() / max(called.sum(), 1):.1%} of the calls false")
    print(links.nlargest(5, "score").to_string(index=False))
    print(f"outputs in {out}/")


if __name__ == "__main__":
    main()
