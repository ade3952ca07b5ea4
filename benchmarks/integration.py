"""Comparative benchmark: MinNet vs Seurat v4, GLUE, uniPort and a PCA baseline, same inputs.

    bash benchmarks/setup_peers.sh                       # once: the peers' own environment
    .venv/bin/python benchmarks/integration.py --quick   # ~15 min on 2 cores
    .venv/bin/python benchmarks/integration.py           # the full run

Protocol (the MinNet paper's): MinNet trains on the training batches of each task (paired
cells), then embeds the held-out batches' RNA and other modality separately, as unpaired data.
The peers get the same held-out cells, unpaired: the other modality's rows are shuffled,
renamed and unlabelled (``_runner.export_task``); no method sees the pairing of held-out cells,
which is used only to score. RNA is the labelled reference of every label transfer.

Tasks: the simulator (``minnet.datasets.simulate_multiome``, 4 batches, closely related cell
types in pairs; train on batch0–1, hold out batch2–3) with mild and strong batch effects, and
the BMMC multiome and CITE-seq starters in ``../shared/data`` when present (train s1d1, hold
out s1d2). GLUE has no protein mode, so it skips CITE-seq.

Every method runs in its own single-threaded subprocess (wall time and peak RSS are its own);
stochastic methods run with every seed in ``--seeds``; every embedding is scored in this
process with ``minnet.metrics`` (``_scoring.score``).

Writes ``benchmarks/results/integration[_quick].csv`` (one row per task × method × seed),
``integration[_quick]_summary.csv`` (mean, sd, min, max), figures under
``benchmarks/results/figures/`` and the tables of ``BENCHMARKS.md`` (between its markers).
Every run is kept in ``integration[_quick].partial.csv`` as soon as it ends; a stopped
invocation continues with the same command plus ``--resume`` (finished runs are not repeated).
Your own paired data: ``--data NAME=FOLDER`` (``_common.folder_task``: the starters' layout,
train on ``--train-batches``, score on ``--test-batches``); write its results elsewhere with
``--out-dir DIR --benchmarks-md DIR/BENCHMARKS.md``. Long peer runs can go side by side, each
with its own ``--out-dir``; ``--merge`` then takes their CSVs into the results (a run
re-measured replaces its earlier row, as with ``--add``).
"""

from __future__ import annotations

import argparse
import datetime
import logging
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import TaskError  # noqa: E402
from _report import (  # noqa: E402
    machine_info,
    public_args,
    summarise,
    update_benchmarks_md,
    write_figures,
)
from _runner import (  # noqa: E402
    TaskSpec,
    default_methods,
    export_task,
    peer_versions,
    run_method,
    select_methods,
)
from _scoring import REFERENCE_PREFIX, label_information, score  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
ALL_TASKS = "sim_mild,sim_strong,bmmc_multiome,bmmc_cite"
log = logging.getLogger("benchmarks.integration")


def task_specs(names: list[str], n_cells: int, data_seed: int) -> list[TaskSpec]:
    """Simulated tasks get ``n_cells`` and 4 batches; the starters keep their own cells."""
    unknown = [n for n in names if n not in ALL_TASKS.split(",")]
    if unknown:
        sys.exit(f"--tasks: unknown {', '.join(unknown)}; choose from {ALL_TASKS} "
                 "(your own data: --data NAME=FOLDER)")
    return [TaskSpec(n, n_cells, 4, data_seed) if n.startswith("sim") else TaskSpec(n)
            for n in names]


def data_specs(items: list[str], train: str | None, test: str | None,
               annotation: str | None) -> list[TaskSpec]:
    """``--data NAME=FOLDER`` items as tasks, each checked now (a bad folder stops the run
    before hours of method runs, with the reason)."""
    specs = []
    for item in items:
        name, sep, folder = item.partition("=")
        if not sep or not name or not folder:
            sys.exit(f"--data {item!r}: write NAME=FOLDER, e.g. --data bmmc=/data/bmmc_multiome")
        if name in ALL_TASKS.split(",") or name in {s.name for s in specs}:
            sys.exit(f"--data {item!r}: the name {name} is taken; choose another")
        spec = TaskSpec(name, source=str(Path(folder).resolve()), train_batches=train,
                        test_batches=test,
                        annotation=str(Path(annotation).resolve()) if annotation else None)
        try:
            spec.load()
        except TaskError as err:
            sys.exit(f"--data {item!r}: {err}")
        specs.append(spec)
    return specs


def run_task(spec: TaskSpec, methods, seeds: list[int], work: Path, timeout: float,
             done: dict | None = None, on_row: Callable[[dict], None] | None = None) -> list[dict]:
    """Every method (and seed) on one task; one row each, with metrics or the error.

    ``done`` maps ``run_key`` to the rows of runs an interrupted invocation finished: they are
    taken as they are, not run again. ``on_row`` is called with every row as soon as it exists
    (the checkpoint).
    """
    done = done or {}
    rows: list[dict] = []

    def add(row: dict) -> None:
        rows.append(row)
        if on_row is not None:
            on_row(row)

    task = spec.load()
    if task is None:
        log.warning("%s: data not found, skipped", spec.name)
        return []
    held = ~task.is_train
    labels = task.rna.obs["cell_type"].astype(str).to_numpy()[held]
    batches = task.rna.obs["batch"].astype(str).to_numpy()[held]
    data = work / "data" / spec.name
    t0 = time.perf_counter()
    export_task(task, spec, data)
    log.info("%s: exported %d held-out cells in %.1f s", spec.name, held.sum(),
             time.perf_counter() - t0)
    counts = [(a.layers[task.layer] if task.layer else a.X)[held] for a in (task.rna, task.other)]
    reference = label_information(*counts, task.modality, labels)
    base = {"task": spec.name, "modality": task.modality, "train_cells": int(task.is_train.sum()),
            "heldout_cells": int(held.sum()),
            "heldout_batches": ",".join(sorted(set(batches))),
            **{REFERENCE_PREFIX + k.replace(task.modality.upper(), "other"): v
               for k, v in reference.items()}}
    for method in methods:
        row0 = {**base, "method": method.name}
        if task.modality not in method.modalities:
            add({**row0, "seed": np.nan, "status": "n/a",
                 "error": f"{method.name} has no {task.modality.upper()} mode"})
            continue
        ok, why = method.available()
        if not ok:
            add({**row0, "seed": np.nan, "status": "not run", "error": why})
            continue
        for seed in (seeds if method.stochastic else seeds[:1])[: method.max_seeds]:
            key = run_key(spec.name, method.name, seed)
            if key in done:
                log.info("%s %s seed %d: taken from the interrupted run", *key[:2], seed)
                add(done[key])
                continue
            r = run_method(method, spec, data, seed, work, timeout)
            row = {**row0, "seed": seed, "wall_s": r["wall_s"], "peak_rss_mb": r["peak_rss_mb"]}
            if "error" in r:
                log.warning("%s %s seed %d: %s", spec.name, method.name, seed, r["error"])
                add({**row, "status": "failed", "error": r["error"]})
                continue
            res = r["result"]
            info = res["info"]
            metrics = score(res["z_rna"], res["z_other"], labels, batches, res["pred_other"])
            add({**row, "status": "ok", "compute_s": info.get("seconds"),
                 "version": info.get("version"), "settings": info.get("settings"),
                 "dims": res["z_rna"].shape[1], **metrics})
            log.info("%s %s seed %d: FOSCTTM %.3f, transfer %.3f, %.0f s, %.0f MB", spec.name,
                     method.name, seed, metrics["FOSCTTM (lower is better)"],
                     metrics["label transfer accuracy"], r["wall_s"], r["peak_rss_mb"])
    return rows


def run_key(task: str, method: str, seed) -> tuple[str, str, float]:
    """(task, method, seed) of one run; seeds read back from a CSV are floats (NaN for n/a
    rows), so they are compared as numbers."""
    return str(task), str(method), float(seed)


def with_earlier_rows(earlier: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``new`` plus the ``earlier`` rows of (task, method, seed) that ``new`` does not have,
    in task order, then method order as first seen."""
    if earlier.empty or new.empty:
        return (new if earlier.empty else earlier).reset_index(drop=True)

    def key(df: pd.DataFrame) -> pd.MultiIndex:
        return pd.MultiIndex.from_tuples(
            [run_key(*k) for k in df[["task", "method", "seed"]].itertuples(index=False)])

    kept = earlier[~key(earlier).isin(key(new))]
    both = pd.concat([kept, new], ignore_index=True)
    tasks = list(dict.fromkeys(both["task"]))
    both["_t"] = both["task"].map({t: i for i, t in enumerate(tasks)})
    return both.sort_values("_t", kind="stable").drop(columns="_t").reset_index(drop=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true",
                   help="2,000 simulated cells, seeds 0,1, peers' epochs capped (~15 min)")
    p.add_argument("--tasks", default=None,
                   help=f"comma-separated, from {ALL_TASKS} (default: all of them, or none "
                   "when --data is given)")
    p.add_argument("--data", action="append", default=[], metavar="NAME=FOLDER",
                   help="a paired dataset of your own, as a task named NAME (repeatable): "
                   "FOLDER/rna.h5ad and atac.h5ad (peaks chr-start-end) or adt.h5ad, same "
                   "cells in the same order, obs cell_type and batch, counts in "
                   "layers['counts'] or X")
    p.add_argument("--train-batches", default=None,
                   help="--data: batches MinNet trains on (default: the first, sorted)")
    p.add_argument("--test-batches", default=None,
                   help="--data: held-out batches every method is scored on (default: the rest)")
    p.add_argument("--annotation", default=None,
                   help="--data with ATAC: TSS table (gene_name chrom tss strand [end]; default "
                   "../shared/data/annotation/hg38_tss.tsv)")
    p.add_argument("--methods", default=None, help="comma-separated subset (default: all)")
    p.add_argument("--seeds", default=None, help="default 0,1,2 (quick: 0,1)")
    p.add_argument("--n-cells", type=int, default=None,
                   help="simulated cells per task, half held out (default 4000; quick 2000)")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the simulated data")
    p.add_argument("--timeout", type=float, default=None,
                   help="seconds per method run (default 1800; full run 7200)")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    p.add_argument("--benchmarks-md", type=Path,
                   default=Path(__file__).resolve().parents[1] / "BENCHMARKS.md")
    p.add_argument("--no-md", action="store_true", help="do not touch BENCHMARKS.md")
    p.add_argument("--add", action="store_true",
                   help="keep the earlier rows of the CSV that this run does not re-measure "
                   "(same task, method and seed), e.g. to add the peers to a full run")
    p.add_argument("--resume", action="store_true",
                   help="continue an interrupted run of the same command: the runs it finished "
                   "(kept in <out-dir>/integration[_quick].partial.csv) are not run again")
    p.add_argument("--work", type=Path, default=None, help="scratch folder (default: temporary)")
    p.add_argument("--report", action="store_true",
                   help="run nothing: rewrite the summary, figures and BENCHMARKS.md tables "
                   "from the CSV (e.g. after runs made with --no-md)")
    p.add_argument("--merge", nargs="+", type=Path, default=None, metavar="CSV",
                   help="run nothing: merge the rows of these CSVs (runs made with another "
                   "--out-dir, e.g. side by side) into the CSV as --add would, then --report")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        stream=sys.stderr)
    logging.getLogger("minnet").setLevel(logging.WARNING)

    name = "integration_quick" if args.quick else "integration"
    if args.report or args.merge:
        runs = pd.read_csv(args.out_dir / f"{name}.csv")
        for other in args.merge or []:
            runs = with_earlier_rows(runs, read_runs(other))
        write_results(runs, args, name)
        return
    n_cells = args.n_cells or (2000 if args.quick else 4000)
    seeds = [int(s) for s in (args.seeds or ("0,1" if args.quick else "0,1,2")).split(",")]
    methods = default_methods(args.quick)
    try:
        methods = select_methods(methods, args.methods)
    except ValueError as err:
        p.error(str(err))
    tasks = args.tasks or ("" if args.data else ALL_TASKS)
    specs = task_specs([t for t in tasks.split(",") if t], n_cells, args.data_seed)
    specs += data_specs(args.data, args.train_batches, args.test_batches, args.annotation)
    # every row remembers the command that measured it, so tables merged with --add say
    # which command made which rows
    command = " ".join(["python", "benchmarks/integration.py", *public_args()])
    partial = args.out_dir / f"{name}.partial.csv"
    resumed = unfinished_rows(partial, command, args.resume)
    # failed runs (a time-out, a crash) are run again; finished ones are taken as they are
    done = {run_key(r["task"], r["method"], r["seed"]): r for r in resumed.to_dict("records")
            if r["status"] == "ok"}
    stamp = {"command": command,
             "started": datetime.datetime.now().isoformat(timespec="seconds")}
    rows: list[dict] = []

    def checkpoint(row: dict) -> None:
        # a run of GLUE takes half an hour: keep every finished run on disk at once, so a
        # stopped invocation loses only the run it was in (--resume continues from here)
        rows.append({**stamp, **row} if "command" not in row else row)
        args.out_dir.mkdir(parents=True, exist_ok=True)
        with_earlier_rows(resumed, pd.DataFrame(rows)).to_csv(partial, index=False)

    work = args.work or Path(tempfile.mkdtemp(prefix="minnet_integration_"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    try:
        for spec in specs:
            task_rows = run_task(spec, methods, seeds, work,
                                 args.timeout or (1800 if args.quick else 7200), done, checkpoint)
            if task_rows:
                print(summarise(pd.DataFrame(task_rows)).to_string(), flush=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - t0

    runs = pd.DataFrame(rows)
    csv = args.out_dir / f"{name}.csv"
    if args.add and csv.is_file():
        runs = with_earlier_rows(pd.read_csv(csv), runs)
    write_results(runs, args, name)
    partial.unlink(missing_ok=True)
    print(f"{total / 60:.1f} min")


def read_runs(csv: Path) -> pd.DataFrame:
    """The rows of a results CSV written by this script; exits with the reason otherwise."""
    if not csv.is_file():
        sys.exit(f"--merge: {csv} does not exist (give the CSV a run wrote, "
                 "<its --out-dir>/integration[_quick].csv)")
    rows = pd.read_csv(csv)
    missing = {"task", "method", "seed", "status", "command"} - set(rows.columns)
    if missing:
        sys.exit(f"--merge: {csv} is not a results CSV of benchmarks/integration.py "
                 f"(no column {', '.join(sorted(missing))})")
    return rows


def unfinished_rows(partial: Path, command: str, resume: bool) -> pd.DataFrame:
    """The rows an interrupted invocation of ``command`` left in ``partial``.

    Refuses to start over silently when such rows exist (they can be hours of peer runs), and
    to resume from rows of a different command (they would answer another question).
    """
    if not partial.is_file():
        return pd.DataFrame()
    earlier = pd.read_csv(partial)
    made_by = str(earlier["command"].iloc[0]) if len(earlier) else command
    if not resume:
        sys.exit(f"{partial} holds {len(earlier)} row(s) of an unfinished run of `{made_by}`: "
                 "add --resume to that command to continue it, or delete the file to start over")
    if made_by != command:
        sys.exit(f"--resume: {partial} was written by `{made_by}`, not by `{command}`; rerun "
                 "that command with --resume, or delete the file to start over")
    log.info("resuming: %d finished run(s) taken from %s", len(earlier), partial)
    return earlier


def write_results(runs: pd.DataFrame, args: argparse.Namespace, name: str) -> None:
    """The CSVs, figures and (unless ``--no-md``) the tables in BENCHMARKS.md of ``runs``."""
    args.out_dir.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.out_dir / f"{name}.csv", index=False)
    summary = summarise(runs, wide=False)
    summary.to_csv(args.out_dir / f"{name}_summary.csv", index=False)
    figures = write_figures(runs, args.out_dir / "figures", name)
    meta = {"mode": "quick" if args.quick else "full",
            "machine": machine_info(), "peers": peer_versions()}
    if not args.no_md:
        update_benchmarks_md(args.benchmarks_md, name, runs, meta, figures)
    print(summarise(runs).to_string())
    print(f"\n{len(runs)} rows; wrote {args.out_dir / (name + '.csv')}")


if __name__ == "__main__":
    main()
