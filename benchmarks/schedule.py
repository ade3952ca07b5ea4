"""Held-out FOSCTTM after every epoch for several mini-batch sizes: what chose the large-data
schedule (``batch_size``/``lr``/``epochs`` ``"auto"``, issue 17).

    .venv/bin/python benchmarks/schedule.py                       # 64, 256, 1024 at 150k cells
    .venv/bin/python benchmarks/schedule.py --batch-sizes 256 --epochs 10 --cells 20000
    .venv/bin/python benchmarks/schedule.py --report              # the table from the CSV

``simulate_multiome(n_cells, n_batches=3, batch_effect="mild", seed=0)``; one network trained
on batch0–1 (``n_networks=1``, gene activity from the annotation, ``batch_key="batch"``), each
batch size with the learning rate ``"auto"`` gives it (1e-3 · sqrt(B / 64)), ``--epochs``
epochs without early stopping; the network of every epoch is kept, and 5,000 cells of the
held-out batch2 (RNA and ATAC embedded apart) are scored with FOSCTTM at epochs 1–5 and every
second epoch after; ``seconds`` is the training epochs' time so far (validation excluded). The
report replays early stopping (patience 10) on each run's validation
losses for several epoch caps: the epoch it would pick, its held-out FOSCTTM and the training
time up to the stop. One process, one thread; writes ``benchmarks/results/schedule.csv``.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import logging
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import minnet
from minnet.metrics import foscttm
from minnet.settings import OptimSettings
from minnet.step import TrainingStep

RESULTS = Path(__file__).resolve().parent / "results"
SCORED_CELLS = 5000
PATIENCE = 10
CAPS = (60, 15, 10, 5)

log = logging.getLogger("schedule")


def curve(sim, batch_size: int, epochs: int) -> pd.DataFrame:
    """One run: validation loss of every epoch, held-out FOSCTTM of the scored ones."""
    train_mod = importlib.import_module("minnet.train")
    tr = sim.rna.obs["batch"].isin(["batch0", "batch1"]).to_numpy()
    held = np.flatnonzero(~tr)
    held = np.sort(np.random.default_rng(0).choice(held, min(SCORED_CELLS, held.size),
                                                   replace=False))
    states, took, mark = [], [], [0.0]
    fit, evaluate = train_mod.fit, TrainingStep.evaluate

    def timed_fit(*args, **kwargs):
        mark[0] = time.perf_counter()
        return fit(*args, **kwargs)

    def keep_every_epoch(step, *args, **kwargs):  # called once per epoch, after its steps
        took.append(time.perf_counter() - mark[0])
        states.append(copy.deepcopy(step.module.state_dict()))
        out = evaluate(step, *args, **kwargs)
        mark[0] = time.perf_counter()  # validation is not training time
        return out

    train_mod.fit, TrainingStep.evaluate = timed_fit, keep_every_epoch
    try:
        model = minnet.train(sim.rna[tr], sim.atac[tr], "atac", annotation=sim.annotation,
                             batch_key="batch", batch_size=batch_size, epochs=epochs,
                             patience=None, n_networks=1, progress=False, n_threads=1)
    finally:
        train_mod.fit, TrainingStep.evaluate = fit, evaluate
    lr = OptimSettings(batch_size=batch_size).resolved(int(tr.sum()))["lr"]
    rows = []
    rna_q, atac_q = sim.rna[held], sim.atac[held]
    for e, (state, rec) in enumerate(zip(states, model.summary["history"], strict=True), 1):
        row = {"batch_size": batch_size, "lr": lr, "epoch": e, "val_loss": rec["val_loss"],
               "seconds": float(np.sum(took[:e]))}
        if e <= 5 or e % 2 == 0:
            model.module.load_state_dict(state)
            model.module.eval()
            row["foscttm"] = foscttm(model.embed(rna_q, "rna"), model.embed(atac_q, "atac"))
        rows.append(row)
        log.info("%s", row)
    return pd.DataFrame(rows)


def replay(run: pd.DataFrame, cap: int) -> dict:
    """Early stopping (patience 10) on the validation losses with at most ``cap`` epochs."""
    best, best_epoch, stale = np.inf, 0, 0
    for rec in run.itertuples():
        if rec.epoch > cap:
            break
        if rec.val_loss < best:
            best, best_epoch, stale = rec.val_loss, rec.epoch, 0
        else:
            stale += 1
        stop = rec.epoch
        if stale >= PATIENCE:
            break
    at = run.set_index("epoch")
    return {"stop": stop, "best": best_epoch, "foscttm": at.loc[best_epoch, "foscttm"],
            "seconds": at.loc[stop, "seconds"]}


def report(df: pd.DataFrame) -> str:
    lines = ["| batch | lr | epoch cap | stops at | best epoch | held-out FOSCTTM | training s |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for b, run in df.groupby("batch_size"):
        for cap in CAPS:
            r = replay(run.reset_index(drop=True), cap)
            f = "–" if pd.isna(r["foscttm"]) else f"{r['foscttm']:.4f}"
            lines.append(f"| {b} | {run['lr'].iloc[0]:.2g} | {cap} | {r['stop']} | {r['best']} "
                         f"| {f} | {r['seconds']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cells", type=int, default=150_000)
    p.add_argument("--batch-sizes", default="64,256,1024")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--out", default=str(RESULTS / "schedule.csv"))
    p.add_argument("--report", action="store_true", help="only print the table of --out")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        stream=sys.stderr)
    logging.getLogger("minnet").setLevel(logging.WARNING)
    out = Path(args.out)
    if not args.report:
        import torch

        torch.set_num_threads(1)
        sim = minnet.datasets.simulate_multiome(n_cells=args.cells, n_batches=3, seed=0,
                                                batch_effect="mild")
        runs = [curve(sim, int(b), args.epochs) for b in args.batch_sizes.split(",")]
        df = pd.concat(runs, ignore_index=True).assign(cells=args.cells)
        df.to_csv(out, index=False)
    print(report(pd.read_csv(out)))


if __name__ == "__main__":
    main()
