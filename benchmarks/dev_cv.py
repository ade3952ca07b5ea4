"""Leave-libraries-out cross-validation on the real development set (SNARE-seq cortex).

    python benchmarks/dev_cv.py --name default                     # today's defaults
    python benchmarks/dev_cv.py --name q --embed scaling=query    # an embedding option
    python benchmarks/dev_cv.py --name lr --train lr=3e-4         # a training option
    python benchmarks/dev_cv.py --name lsi --atac peaks           # peaks (LSI route)
    python benchmarks/dev_cv.py --name qa --atac peaks --query-aware   # query-aware mode
    python benchmarks/dev_cv.py --report                          # the table of every config

The eight libraries of ``../shared/data/snare_cortex_dev`` (09A–09H) are split into folds of
two held-out libraries (``--folds 4``: 09A+09B, 09C+09D, …). For every fold MinNet trains on
the other six libraries (paired, ``batch_key="batch"``), then embeds the held-out libraries'
RNA and ATAC separately, as unpaired data, and is scored on them (the pairing is used only to
score): FOSCTTM, label transfer RNA → ATAC (30-NN vote; and the vote blended with the model's
classifier, "own"), cell-type silhouette, modality mixing. The ATAC input is the gene
activity shipped with the data set (``--atac gene_activity``; no mm10 annotation is available)
or the peaks themselves (``--atac peaks``: the LSI route); ``--query-aware`` gives training the
held-out libraries' cells as unpaired, unlabelled query cells. Rows are appended to
``benchmarks/results/dev_cv.csv`` (a config's earlier rows with the same name are replaced);
``--report`` prints mean ± sd over folds per config and writes ``dev_cv.md``.
"""

from __future__ import annotations

import argparse
import ast
import logging
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from _common import SHARED
from _scoring import FOSCTTM, score

import minnet

DATA = SHARED / "snare_cortex_dev"
RESULTS = Path(__file__).parent / "results"
# the labellers of tl.transfer_labels(model=...): the kNN vote, the model's classifier and
# their blend (head_weight 0.5, "own" in earlier tables)
LABELLERS = {"kNN": 0.0, "blend": 0.5, "classifier": 1.0}
OWN = "own label transfer accuracy"
COLUMNS = [FOSCTTM, "label transfer accuracy", "label transfer macro accuracy", OWN,
           "cell-type silhouette", "modality mixing (1 - ASW)"] + [
    f"{name} {what}" for name in LABELLERS for what in ("macro", "ECE")] + [
    "classifier accuracy"]


def _kv(items: list[str]) -> dict:
    out = {}
    for item in items:
        k, v = item.split("=", 1)
        try:
            out[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            out[k] = v
    return out


def load(atac: str = "gene_activity") -> tuple[ad.AnnData, ad.AnnData]:
    """RNA and gene activity (or peaks) of the development set (raw counts in X)."""
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is not there: this benchmark needs ../shared/data.")
    other = "atac.h5ad" if atac == "peaks" else "gene_activity.h5ad"
    return ad.read_h5ad(DATA / "rna.h5ad"), ad.read_h5ad(DATA / other)


def folds(batches: np.ndarray, n_folds: int) -> list[list[str]]:
    libs = sorted(pd.unique(batches))
    return [list(part) for part in np.array_split(libs, n_folds)]


def run_fold(rna, act, held: list[str], seed: int, train_kw: dict, embed_kw: dict,
             query_aware: bool = False) -> dict:
    is_test = rna.obs["batch"].astype(str).isin(held).to_numpy()
    t0 = time.perf_counter()
    if query_aware:  # the held-out libraries' cells, unpaired and unlabelled
        train_kw = {**train_kw, "query": {"rna": rna[is_test], "atac": act[is_test]}}
    model = minnet.train(rna[~is_test], act[~is_test], "atac", batch_key="batch", seed=seed,
                         progress=False, **train_kw)
    train_s = time.perf_counter() - t0
    rq, aq = rna[is_test].copy(), act[is_test].copy()
    rq.obsm["X_minnet"] = model.embed(rq, "rna", **embed_kw)
    aq.obsm["X_minnet"] = model.embed(aq, "atac", **embed_kw)
    labels = rna.obs["cell_type"].astype(str).to_numpy()[is_test]
    res = score(rq.obsm["X_minnet"], aq.obsm["X_minnet"], labels,
                rna.obs["batch"].astype(str).to_numpy()[is_test], seed=seed)
    rq.obs["cell_type"] = labels
    for name, weight in LABELLERS.items():
        out = minnet.tl.transfer_labels(rq, aq, "cell_type", model=model, modality="atac",
                                        head_weight=weight).obs
        acc = minnet.metrics.label_transfer_accuracy(labels, out["cell_type_pred"].astype(str))
        res[{"blend": OWN, "classifier": "classifier accuracy"}.get(name, "_")] = acc["accuracy"]
        res[f"{name} macro"] = acc["macro"]
        res[f"{name} ECE"] = minnet.metrics.calibration(
            labels, out["cell_type_pred"].astype(str), out["cell_type_confidence"])["ece"]
    return {**{c: res.get(c, np.nan) for c in COLUMNS}, "train_s": round(train_s, 1),
            "epochs_run": model.summary["epochs_run"], "n_test": int(is_test.sum())}


def report(path: Path) -> str:
    df = pd.read_csv(path)
    rows = []
    for name, sub in df.groupby("config", sort=False):
        row = {"config": name, "folds": len(sub), "settings": sub["settings"].iloc[0]}
        for c in COLUMNS + ["train_s"]:
            if c not in sub or sub[c].isna().all():
                row[c] = "–"  # a column added after the config was run
                continue
            row[c] = f"{sub[c].mean():.3f} ± {sub[c].std(ddof=1):.3f}" if len(sub) > 1 else \
                f"{sub[c].mean():.3f}"
        rows.append(row)
    table = pd.DataFrame(rows)
    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in table.itertuples(index=False)]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--name", help="config name (rows of an earlier run with it are replaced)")
    p.add_argument("--train", nargs="*", default=[], help="KEY=VALUE for minnet.train")
    p.add_argument("--embed", nargs="*", default=[], help="KEY=VALUE for MinNetModel.embed")
    p.add_argument("--atac", choices=["gene_activity", "peaks"], default="gene_activity",
                   help="ATAC input: the shipped gene activity, or the peaks (LSI route)")
    p.add_argument("--query-aware", action="store_true",
                   help="train with the held-out libraries as unpaired query cells")
    p.add_argument("--folds", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS / "dev_cv.csv"))
    p.add_argument("--report", action="store_true", help="print the table of the CSV and stop")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    out = Path(args.out)
    if args.report:
        table = report(out)
        out.with_suffix(".md").write_text(table + "\n")
        print(table)
        return
    if not args.name:
        raise SystemExit("--name is required (or --report)")
    train_kw, embed_kw = _kv(args.train), _kv(args.embed)
    rna, act = load(args.atac)
    rows = []
    for held in folds(rna.obs["batch"].astype(str).to_numpy(), args.folds):
        res = run_fold(rna, act, held, args.seed, train_kw, embed_kw, args.query_aware)
        rows.append({"config": args.name, "held_out": "+".join(held), "seed": args.seed,
                     "settings": " ".join([f"atac={args.atac}"]
                                          + ["query-aware"] * args.query_aware + args.train
                                          + [f"embed.{e}" for e in args.embed]),
                     **res})
        print(pd.DataFrame(rows[-1:]).round(3).to_string(index=False), flush=True)
    new = pd.DataFrame(rows)
    if out.exists():
        old = pd.read_csv(out)
        new = pd.concat([old[old["config"] != args.name], new], ignore_index=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    new.to_csv(out, index=False)
    print(report(out))


if __name__ == "__main__":
    main()
