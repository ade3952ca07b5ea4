"""How much the classifier head should weigh in MinNet's label transfer, on held-out batches.

    python benchmarks/transfer_blend.py --weights 0,0.25,0.5,0.75,1 --seeds 0,1

For every task and seed MinNet is trained once on the training batches; the held-out RNA (with
its labels) is the reference and the held-out other modality the query, both embedded
separately. ``minnet.tl.transfer_labels(..., model=, head_weight=w)`` is scored for each
weight ``w`` (0: the kNN vote alone, 1: the classifier alone): accuracy and macro recall.
Tasks as ``sweep.py`` (simulator multiome mild/strong, simulator CITE-seq, and the starters
when ../shared/data is present). Writes ``benchmarks/results/sweep/transfer-blend.csv`` and
prints the mean per weight and task.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import pandas as pd
from _common import fit_embed_minnet, simulated_cite_task, simulated_task, starter_tasks

import minnet


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--weights", default="0,0.25,0.5,0.75,1")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "sweep"
                                        / "transfer-blend.csv"))
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    tasks = [simulated_task("mild"), simulated_task("strong"), simulated_cite_task("strong")]
    tasks += starter_tasks()
    rows = []
    for task in tasks:
        for seed in map(int, args.seeds.split(",")):
            rq, oq, model = fit_embed_minnet(task, seed=seed, return_model=True)
            query = task.other[~task.is_train].copy()
            query.obsm["X_minnet"] = oq.obsm["X_minnet"]
            truth = query.obs["cell_type"].astype(str)
            for w in map(float, args.weights.split(",")):
                out = minnet.tl.transfer_labels(rq, query, "cell_type", model=model,
                                                modality=task.modality, layer=task.layer,
                                                head_weight=w)
                acc = minnet.metrics.label_transfer_accuracy(
                    truth, out.obs["cell_type_pred"].astype(str))
                rows.append({"task": task.name, "seed": seed, "head_weight": w,
                             "accuracy": acc["accuracy"], "macro": acc["macro"]})
            print(rows[-1], flush=True)
    df = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    for col in ("accuracy", "macro"):
        table = df.groupby(["head_weight", "task"])[col].mean().unstack("task")
        table["mean"] = table.mean(axis=1)
        print(f"\n{col}\n{table.round(3).to_string()}")


if __name__ == "__main__":
    main()
