"""Hyper-parameter sweep for MinNet's defaults, on held-out batches only.

Every setting is trained on the training batches of each task and scored on the held-out
batches (never on a single dataset's test cells alone): FOSCTTM and label-transfer accuracy,
averaged over tasks and seeds. Tasks: the simulator (mild and strong batch effects, multiome and
CITE-seq) and the CITE-seq starter when ../shared/data is present.

    python benchmarks/sweep.py --grid margin=1,2,3,5 --grid lr=1e-3,3e-4 --seeds 0,1
    python benchmarks/sweep.py --grid gene_activity_kwds.distance=0,50000 --tasks sim_mild
    python benchmarks/sweep.py --one-at-a-time --grid n_hidden=128,512 --grid lr=3e-4,3e-3

With ``--one-at-a-time`` each value is tried with every other argument at its default (plus
one run of the defaults themselves) instead of the Cartesian product. A dotted key
(``gene_activity_kwds.distance``) sets one entry of a dict argument.

Writes ``benchmarks/results/sweep.csv`` (one row per setting × task × seed; rewritten after
every run, so a stopped sweep keeps what it measured) and prints the settings ranked by mean
FOSCTTM.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import logging
from pathlib import Path

import pandas as pd
from _common import run_minnet, simulated_cite_task, simulated_task, starter_tasks

FOSCTTM = "FOSCTTM (lower is better)"
ACC = "label transfer accuracy"


def _value(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _nested(setting: dict) -> dict:
    """``{"a.b": 1}`` → ``{"a": {"b": 1}}``: dotted keys set entries of dict arguments."""
    params: dict = {}
    for key, value in setting.items():
        if "." in key:
            outer, inner = key.split(".", 1)
            params.setdefault(outer, {})[inner] = value
        else:
            params[key] = value
    return params


def settings(keys: list[str], values: list[list], one_at_a_time: bool) -> list[dict]:
    """The settings to run: the Cartesian product of the values, or (``one_at_a_time``) the
    defaults followed by each value of each key alone."""
    if one_at_a_time:
        return [{}] + [{k: v} for k, vs in zip(keys, values, strict=True) for v in vs]
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*values)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--grid", action="append", default=[],
                   help="KEY=V1,V2,... (repeatable); the sweep is their Cartesian product")
    p.add_argument("--one-at-a-time", action="store_true",
                   help="vary one key at a time around the defaults instead of the product")
    p.add_argument("--tasks", default="sim_mild,sim_strong,simcite_strong,bmmc_cite")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "sweep.csv"))
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    keys, values = [], []
    for item in args.grid:
        k, v = item.split("=", 1)
        keys.append(k)
        values.append([_value(x) for x in v.split(",")])
    wanted = args.tasks.split(",")
    tasks = [simulated_task(b) for b in ("mild", "strong") if f"sim_{b}" in wanted]
    tasks += [simulated_cite_task("strong")] if "simcite_strong" in wanted else []
    tasks += [t for t in starter_tasks() if t.name in wanted]
    if not tasks:
        raise SystemExit(f"none of the tasks {wanted} is available")
    rows = []
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for setting in settings(keys, values, args.one_at_a_time):
        params = _nested(setting)
        for task in tasks:
            for seed in map(int, args.seeds.split(",")):
                res, secs, _, _ = run_minnet(task, seed=seed, **params)
                rows.append({"setting": " ".join(f"{k}={v}" for k, v in setting.items()) or
                             "defaults", "task": task.name, "seed": seed, **res, "seconds": secs})
                print(rows[-1], flush=True)
                pd.DataFrame(rows).to_csv(out, index=False)
    df = pd.DataFrame(rows)
    per_task = df.groupby(["setting", "task"])[[FOSCTTM, ACC]].mean().unstack("task")
    summary = df.groupby("setting")[[FOSCTTM, ACC, "seconds"]].mean().sort_values(FOSCTTM)
    print(per_task.round(3).to_string())
    print(summary.round(3).to_string())


if __name__ == "__main__":
    main()
