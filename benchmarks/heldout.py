"""MinNet vs the PCA-on-shared-features baseline on held-out batches (quick check of defaults).

    python benchmarks/heldout.py [--tasks sim_mild,sim_strong,bmmc_multiome,bmmc_cite]
        [--seeds 0,1,2] [--scaling reference|query] [--query-aware] [KEY=VALUE ...]

Extra ``KEY=VALUE`` arguments are passed to ``minnet.train`` (e.g. ``margin=2 lr=1e-4``).
``--train-cells`` also scores the model's own training cells, embedded the same way (each
modality alone, as unpaired data): the gap to the held-out rows is what the model loses on
batches it never saw. Prints a table and writes ``benchmarks/results/heldout.csv``.
"""

from __future__ import annotations

import argparse
import ast
import logging
from pathlib import Path

import pandas as pd
from _common import run_baseline, run_minnet, simulated_cite_task, simulated_task, starter_tasks

import minnet
from minnet.metrics import evaluate_pair


def train_cell_scores(task, model: minnet.MinNetModel) -> dict:
    """Scores of the training cells, embedded one modality at a time like the held-out ones."""
    tr = task.is_train
    rna = minnet.tl.embed(model, task.rna[tr], "rna", layer=task.layer)
    other = minnet.tl.embed(model, task.other[tr], task.modality, layer=task.layer)
    return evaluate_pair(rna, other)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--tasks", default="sim_mild,sim_strong,simcite_strong,bmmc_multiome,bmmc_cite")
    p.add_argument("--seeds", default="0")
    p.add_argument("--scaling", default="reference", choices=["reference", "query"],
                   help="how the held-out cells are scaled (MinNetModel.embed's scaling=)")
    p.add_argument("--query-aware", action="store_true",
                   help="train with the held-out cells as unpaired query cells (train(query=))")
    p.add_argument("--train-cells", action="store_true",
                   help="also score the training cells (the generalisation gap)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "heldout.csv"))
    p.add_argument("params", nargs="*", help="KEY=VALUE passed to minnet.train")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    kw = {}
    for item in args.params:
        k, v = item.split("=", 1)
        try:
            kw[k] = ast.literal_eval(v)
        except (ValueError, SyntaxError):
            kw[k] = v
    wanted = args.tasks.split(",")
    tasks = [simulated_task(b) for b in ("mild", "strong") if f"sim_{b}" in wanted]
    tasks += [simulated_cite_task("strong")] if "simcite_strong" in wanted else []
    tasks += [t for t in starter_tasks() if t.name in wanted]
    rows = []
    for task in tasks:
        try:
            base = run_baseline(task)
            rows.append({"task": task.name, "method": "PCA baseline", **base})
        except ValueError as err:  # e.g. no shared features
            logging.warning("%s: baseline failed: %s", task.name, err)
        for seed in map(int, args.seeds.split(",")):
            res, secs, mem, model = run_minnet(task, seed=seed, scaling=args.scaling,
                                               query_aware=args.query_aware, **kw)
            rows.append({"task": task.name, "method": f"MinNet seed {seed}", **res,
                         "seconds": secs, "peak_rss_mb": mem})
            if args.train_cells:
                rows.append({"task": task.name, "method": f"MinNet seed {seed}, training cells",
                             **train_cell_scores(task, model)})
        print(pd.DataFrame([r for r in rows if r["task"] == task.name]).round(3).to_string(),
              flush=True)
    df = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    print(df.round(3).to_string())


if __name__ == "__main__":
    main()
