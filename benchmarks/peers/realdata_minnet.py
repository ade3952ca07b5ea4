"""Runner: MinNet on one fold of the SNARE-seq cortex set (``benchmarks/realdata.py``).

    .venv/bin/python benchmarks/peers/realdata_minnet.py --held 09A,09B --atac peaks \
        --seed 0 --out OUT [--query-aware] [--train '{"n_hidden": 768}']

Trains on the six libraries not in ``--held`` (paired cells, ``batch_key="batch"``), with the
ATAC input given as the peaks (``atac.h5ad``: the package's LSI peak encoder, no annotation) or
as the shipped gene activity (``gene_activity.h5ad``); ``--train`` is a JSON object of extra
``minnet.train`` keywords. ``--query-aware`` passes the held-out libraries' RNA and ATAC to
``minnet.train(query=...)`` as unpaired, unlabelled cells (the ATAC rows shuffled and renamed,
no ``obs`` columns but ``batch``). Then ``model.embed`` embeds the held-out RNA and ATAC
separately. Writes ``z_rna.csv`` / ``z_other.csv`` (held-out cells in the data's order,
``row_order = "task"``) and ``pred_other.csv``: MinNet's default labeller,
``minnet.tl.transfer_labels(rq, aq, "cell_type", model=model, modality="atac")`` (the held-out
RNA's kNN vote blended with the classifier head).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from exchange import single_thread, write_result  # noqa: E402

ATAC_FILES = {"peaks": "atac.h5ad", "gene_activity": "gene_activity.h5ad"}


def unlabelled(adata, prefix: str, perm: np.ndarray | None = None):
    """A copy of ``adata`` without labels (``obs``: ``batch`` only), rows renamed ``prefix_i``
    and, with ``perm``, reordered; so that training cannot use labels or the pairing."""
    import anndata as ad

    sub = adata if perm is None else adata[perm]
    obs = pd.DataFrame({"batch": sub.obs["batch"].astype(str).to_numpy()},
                       index=[f"{prefix}_{i:06d}" for i in range(sub.n_obs)])
    return ad.AnnData(sub.X.copy(), obs=obs, var=sub.var[[]].copy())


def code_hash() -> str:
    """First 12 hex digits of a SHA-256 over the ``minnet`` package's ``.py`` files (names and
    contents): the version string stays ``0.1.0`` while the code changes, so rows made with
    different code can be told apart."""
    import hashlib

    import minnet

    root = Path(minnet.__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:12]


def run(data: Path, held: list[str], atac: str, seed: int, out: Path, query_aware: bool,
        train_kw: dict) -> None:
    """Train on the fold's training libraries, embed its held-out ones, write the result."""
    import anndata as ad

    import minnet

    code = code_hash()  # before training: the code this run imported
    rna = ad.read_h5ad(data / "rna.h5ad")
    other = ad.read_h5ad(data / ATAC_FILES[atac])
    if not (rna.obs_names == other.obs_names).all():
        raise SystemExit("rna.h5ad and the ATAC file hold different cells")
    test = rna.obs["batch"].astype(str).isin(held).to_numpy()
    if not test.any() or test.all():
        raise SystemExit(f"--held {held}: no held-out or no training cells")
    kw = dict(train_kw)
    if query_aware:
        perm = np.random.default_rng(seed + 12345).permutation(int(test.sum()))
        kw["query"] = {"rna": unlabelled(rna[test], "qrna"),
                       "atac": unlabelled(other[test], "qatac", perm)}
    t0 = time.perf_counter()
    model = minnet.train(rna[~test], other[~test], "atac", batch_key="batch", seed=seed,
                         progress=False, **kw)
    train_s = time.perf_counter() - t0
    rq, aq = rna[test].copy(), other[test].copy()
    rq.obsm["X_minnet"] = model.embed(rq, "rna")
    aq.obsm["X_minnet"] = model.embed(aq, "atac")
    secs = time.perf_counter() - t0
    aq.obs = aq.obs[["batch"]]  # the labeller sees no ATAC labels
    own = minnet.tl.transfer_labels(rq, aq, "cell_type", model=model, modality="atac")
    pred = pd.DataFrame({"cell": aq.obs_names,
                         "predicted": own.obs["cell_type_pred"].astype(str).to_numpy()})
    settings = [f"atac={atac}"] + ["query-aware"] * query_aware + [
        f"{k}={v}" for k, v in train_kw.items()]
    summary = model.summary
    write_result(out, rq.obsm["X_minnet"], aq.obsm["X_minnet"], {
        "method": "MinNet", "version": f"minnet {minnet.__version__}", "seconds": secs,
        "train_s": train_s, "row_order": "task", "settings": ", ".join(settings),
        "epochs": summary.get("epochs_run"), "best_epoch": summary.get("best_epoch"),
        "own_labeller": "default labeller", "code": code}, pred)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="the snare_cortex_dev folder")
    p.add_argument("--held", required=True, help="held-out libraries, comma-separated")
    p.add_argument("--atac", choices=sorted(ATAC_FILES), required=True)
    p.add_argument("--query-aware", action="store_true")
    p.add_argument("--train", default="{}", help="JSON object of minnet.train keywords")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    single_thread()
    run(a.data, [h for h in a.held.split(",") if h], a.atac, a.seed, a.out, a.query_aware,
        json.loads(a.train))


if __name__ == "__main__":
    main()
