"""The whole pipeline at 100k / 300k / 1M simulated cells: time and peak memory of each phase.

    .venv/bin/python benchmarks/scale.py --end-to-end                      # 100k, 300k, 1M; CPU
    .venv/bin/python benchmarks/scale_e2e.py --sizes 100000 --modes cpu,ddp2 --schedules default,today

Data: ``minnet.datasets.simulate_multiome(n, n_batches=4, n_cell_types=10)`` (1,000 genes,
~5,000 peaks named ``chr-start-end``, the simulator's annotation). MinNet trains on batches
0–2 (RNA + ATAC peaks with the annotation, so ATAC enters as distance-weighted gene activity;
``batch_key="batch"``, one network) and embeds the held-out batch 3 as unpaired RNA and unpaired
ATAC; FOSCTTM and 30-NN label transfer are scored on 5,000 held-out cells.

Phases (wall time and the process's peak resident memory during the phase, the input data
included; the simulator's freed memory is handed back to the OS first): ``inputs`` (both modalities' input specs: normalisation, gene activity, feature
selection, scaling statistics), ``graph`` (the batch-corrected RNA KNN graph), ``margins`` (the
margin engine's setup), ``training`` (every epoch: pairs, margins, steps, validation),
``embedding`` (both held-out modalities). ``simulate`` is reported apart and not counted.

Modes: ``cpu`` (one process, one thread), ``ddp2`` (``torchrun --nproc_per_node=2``, gloo, one
thread per rank; times from rank 0, memory of each rank and of both together), ``gpu`` (CUDA,
skipped without one), ``file`` (one process, one thread, the data read from h5ad files on disk:
``read_h5ad(path, backed="r")``, so the counts are never held whole; the files are written tile
by tile — one simulation of 100,000 cells, its counts resampled for every further 100,000 —
so that the simulator, which needs ~22 GB at 1M cells, never holds more than one tile; scored
on the first tile's held-out cells; the files are removed after the run), ``ddp2-file`` (``ddp2``
reading such files: rank 0 writes them, the other rank waits for them). ``cpu`` and ``ddp2``
skip sizes above 300,000 cells (the simulation would not fit in memory here). Schedules:
``default`` (the package's defaults) and ``today`` (0.1's training schedule: mini-batches of
64, lr 1e-3, 60 epochs, patience 10). Training throughput is
the training pairs stepped through per second (epochs run × training cells / training time).

Each (size, mode, schedule) runs in its own process (``--timeout`` each); rows go to
``benchmarks/results/scale_e2e.csv`` (merged with earlier rows by size, mode and schedule) and
the table to ``scale_e2e.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import functools
import importlib
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import fmt_number as _fmt  # noqa: E402
from _report import machine_info  # noqa: E402
from _scoring import FOSCTTM, score  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SEED = 0
TODAY = {"batch_size": 64, "lr": 1e-3, "epochs": 60, "patience": 10}
SCORED_CELLS = 5000
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")
KEY = ["cells", "mode", "schedule"]

log = logging.getLogger("scale_e2e")


# ----------------------------------------------------------------------------- one run (child)


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


class Phases:
    """Wall time and peak RSS of named phases (the high-water mark reset at each start)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}

    @contextlib.contextmanager
    def phase(self, name: str):
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0
            self.peak_mb[name] = max(self.peak_mb.get(name, 0.0), _status_mb("VmHWM"))

    def wrap(self, owner, attr: str, name: str) -> None:
        """Time every call of the function ``owner.attr`` as phase ``name``."""
        inner = getattr(owner, attr)

        @functools.wraps(inner)
        def timed(*args, **kwargs):
            with self.phase(name):
                return inner(*args, **kwargs)

        setattr(owner, attr, timed)


def run_child(n: int, mode: str, schedule: str, epochs: int | None = None,
              work: str = "/tmp/minnet_scale_e2e") -> dict:
    import anndata
    import torch

    import minnet
    from minnet.inputs import InputSpec

    torch.set_num_threads(1)
    t_mod = importlib.import_module("minnet.train")
    phases = Phases()
    with phases.phase("simulate"):
        if mode in FILE_MODES:  # written to h5ad tile by tile, read back on disk (backed)
            files, annotation, n_scored = _data_files(n, Path(work), mode)
            rna, atac, rna_q, atac_q = (anndata.read_h5ad(files[k], backed="r") for k in PARTS)
        else:
            sim = minnet.datasets.simulate_multiome(n_cells=n, n_batches=4, n_cell_types=10,
                                                    seed=SEED)
            held = sim.rna.obs["batch"].astype(str).to_numpy() == "batch3"
            rna_q, atac_q = sim.rna[held].copy(), sim.atac[held].copy()
            rna, atac, annotation = sim.rna[~held].copy(), sim.atac[~held].copy(), sim.annotation
            n_scored = rna_q.n_obs
            del sim
        _release_freed_memory()  # so the pipeline's peaks do not count the simulator's heap
    fit_spec = InputSpec.fit.__func__  # a classmethod: time the function, bind it again

    def timed_fit_spec(cls, *args, **kwargs):
        with phases.phase("inputs"):
            return fit_spec(cls, *args, **kwargs)

    InputSpec.fit = classmethod(timed_fit_spec)
    phases.wrap(t_mod, "build_rna_graph", "graph")
    phases.wrap(t_mod, "GraphDistances", "margins")
    phases.wrap(t_mod, "fit", "training")
    kwargs = {**(TODAY if schedule == "today" else {}), "n_networks": 1, "seed": SEED,
              "progress": False, "n_threads": 1, "distributed": mode in DDP_MODES,
              "device": "cuda" if mode == "gpu" else "cpu"}
    if epochs is not None:  # smoke runs
        kwargs["epochs"] = epochs
    t0 = time.perf_counter()
    model = minnet.train(rna, atac, "atac", annotation=annotation, batch_key="batch", **kwargs)
    train_total = time.perf_counter() - t0
    rank = int(os.environ.get("RANK", 0))
    out = {"cells": n, "mode": mode, "schedule": schedule, "rank": rank,
           "train_cells": int(model.summary["n_train"]), "epochs_run": model.summary["epochs_run"],
           "best_epoch": model.summary["best_epoch"],
           "batch_size": model.config["batch_size"], "lr": model.config["lr"],
           "train_call_s": train_total}
    if rank == 0:
        with phases.phase("embedding"):  # a backed file in blocks (minnet.backed)
            z_rna, z_atac = model.embed(rna_q, "rna"), model.embed(atac_q, "atac")
        # scored among distinct cells: the first tile's (the others hold resampled copies)
        pick = np.sort(np.random.default_rng(SEED).choice(
            n_scored, min(SCORED_CELLS, n_scored), replace=False))
        labels = rna_q.obs["cell_type"].astype(str).to_numpy()[pick]
        scores = score(z_rna[pick], z_atac[pick], labels, np.zeros(pick.size), seed=SEED)
        out["foscttm"], out["transfer"] = scores[FOSCTTM], scores["label transfer accuracy"]
    out["seconds"] = phases.seconds
    out["peak_mb"] = phases.peak_mb
    if mode == "gpu":
        out["gpu_peak_mb"] = torch.cuda.max_memory_allocated() / 2**20
        out["gpu"] = torch.cuda.get_device_name()
    if mode in FILE_MODES:  # the data files are this run's own (GBs at 1M): remove them
        for a in (rna, atac, rna_q, atac_q):
            a.file.close()
        if rank == 0:
            for path in [*files.values(), Path(work) / f"annotation_{n}.csv",
                         _ready_file(n, Path(work))]:
                path.unlink(missing_ok=True)
    return out


PARTS = ("rna_train", "atac_train", "rna_held", "atac_held")
FILE_MODES = ("file", "ddp2-file")
DDP_MODES = ("ddp2", "ddp2-file")
TILE_CELLS = 100_000
# Above this the in-memory modes are skipped: the simulator needs ~22 KB per cell.
IN_MEMORY_MAX_CELLS = 300_000


def _tiled_files(n: int, work: Path) -> tuple[dict[str, Path], pd.DataFrame, int]:
    """``n`` simulated cells in four h5ad files (training and held-out RNA and ATAC), never
    more than one tile of ``TILE_CELLS`` in memory: one simulation of that many cells (four
    batches; batch3 held out) is the first tile, every further tile its counts resampled
    (each stored count c replaced by a Poisson draw of mean c, cell names suffixed).
    Returns the files, the annotation and the number of held-out cells of the first tile."""
    import anndata
    from anndata.experimental import concat_on_disk

    import minnet

    base = min(n, TILE_CELLS)
    sim = minnet.datasets.simulate_multiome(n_cells=base, n_batches=4, n_cell_types=10,
                                            seed=SEED)
    held = sim.rna.obs["batch"].astype(str).to_numpy() == "batch3"
    parts = dict(zip(PARTS, (sim.rna[~held], sim.atac[~held], sim.rna[held], sim.atac[held]),
                     strict=True))
    annotation, n_held = sim.annotation, int(held.sum())
    rng = np.random.default_rng(SEED)
    tiles: dict[str, list[Path]] = {k: [] for k in PARTS}
    for t in range(-(-n // base)):
        for key, part in parts.items():
            tile = anndata.AnnData(part.X.copy(), obs=part.obs[["cell_type", "batch"]].copy(),
                                   var=pd.DataFrame(index=part.var_names))
            if t > 0:
                tile.X.data = rng.poisson(tile.X.data).astype(tile.X.dtype)
                tile.X.eliminate_zeros()
                tile.obs_names = tile.obs_names + f"-{t}"
            tiles[key].append(work / f"tile{t}_{key}.h5ad")
            tile.write_h5ad(tiles[key][-1])
            del tile
    del sim, parts
    files = {k: work / f"{k}_{n}.h5ad" for k in PARTS}
    for key, paths in tiles.items():
        concat_on_disk(paths, files[key])
        for path in paths:
            path.unlink()
    return files, annotation, n_held


def _ready_file(n: int, work: Path) -> Path:
    """Where rank 0 of a ``ddp2-file`` run lists the files it wrote (the others wait for it)."""
    return work / f"ready_{n}.json"


def _data_files(n: int, work: Path, mode: str) -> tuple[dict[str, Path], pd.DataFrame, int]:
    """The run's h5ad files (:func:`_tiled_files`): written by this process, or in a
    ``ddp2-file`` run by rank 0 alone while the other rank waits for its list."""
    ready = _ready_file(n, work)
    if int(os.environ.get("RANK", 0)) == 0:
        files, annotation, n_held = _tiled_files(n, work)
        if mode == "ddp2-file":
            annotation.to_csv(work / f"annotation_{n}.csv", index=False)
            ready.write_text(json.dumps({"files": {k: str(v) for k, v in files.items()},
                                         "n_held": n_held}))
        return files, annotation, n_held
    while not ready.exists():
        time.sleep(2)
    info = json.loads(ready.read_text())
    return ({k: Path(v) for k, v in info["files"].items()},
            pd.read_csv(work / f"annotation_{n}.csv"), int(info["n_held"]))


def _release_freed_memory() -> None:
    """Hand memory freed by Python back to the OS (glibc keeps it otherwise)."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


# ----------------------------------------------------------------------------- driver

PHASES = ("inputs", "graph", "margins", "training", "embedding")


def _launch(n: int, mode: str, schedule: str, out: Path, timeout: float,
            epochs: int | None) -> dict:
    """One run in its own process(es); the merged row, or the error."""
    script = [str(Path(__file__).resolve()), "--child", str(n), mode, schedule, "--json",
              str(out), "--work", str(out.parent), *(["--epochs", str(epochs)] if epochs else [])]
    if mode in DDP_MODES:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
               "--master_port", str(29600 + n % 300), *script]
    else:
        cmd = [sys.executable, *script]
    env = dict(os.environ, **{v: "1" for v in THREAD_VARS})
    log.info("%s n=%d %s ...", mode, n, schedule)
    try:
        proc = subprocess.run(cmd, env=env, timeout=timeout, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    except subprocess.TimeoutExpired:
        return {"status": f"did not finish in {timeout / 60:.0f} min"}
    ranks = sorted(out.parent.glob(out.name + ".rank*"))
    if proc.returncode != 0 or not ranks:
        return {"status": f"failed (exit {proc.returncode}): {proc.stderr.strip()[-300:]}"}
    return _merge([json.loads(p.read_text()) for p in ranks])


def _merge(parts: list[dict]) -> dict:
    """One row from the ranks' records: rank 0's times and scores, every rank's memory."""
    main = next(p for p in parts if p["rank"] == 0)
    row = {k: v for k, v in main.items() if k not in ("seconds", "peak_mb", "rank")}
    row["status"] = "ok"
    for ph in ("simulate", *PHASES):
        row[f"{ph}_s"] = main["seconds"].get(ph)
    row["pipeline_s"] = main["train_call_s"] + main["seconds"].get("embedding", 0.0)
    peaks = [max(v for k, v in p["peak_mb"].items() if k != "simulate") for p in parts]
    row["peak_mb"] = sum(peaks)  # ranks on one machine: their peaks together (upper bound)
    row["peak_mb_per_rank"] = max(peaks)
    row["peak_phase"] = max((v, k) for k, v in main["peak_mb"].items() if k != "simulate")[1]
    row["pairs_per_s"] = main["epochs_run"] * main["train_cells"] / main["seconds"]["training"]
    return row


def table(df: pd.DataFrame) -> str:
    cols = [("cells", "cells"), ("mode", "mode"), ("schedule", "schedule"),
            ("batch_size", "batch"), ("epochs_run", "epochs (best)"),
            *[(f"{p}_s", f"{p} s") for p in PHASES], ("pipeline_s", "pipeline s"),
            ("peak_mb", "peak MB"), ("gpu_peak_mb", "GPU MB"),
            ("pairs_per_s", "training pairs/s"),
            ("foscttm", "FOSCTTM"), ("transfer", "transfer"), ("status", "status")]
    lines = ["| " + " | ".join(c[1] for c in cols) + " |",
             "|" + "|".join("---" if c[0] in ("mode", "schedule", "status") else "---:"
                            for c in cols) + "|"]
    for r in df.sort_values(KEY).to_dict("records"):
        cells = {c: _fmt(r.get(c)) for c, _ in cols}
        if r.get("status") == "ok":
            cells["epochs_run"] = f"{_fmt(r['epochs_run'])} ({_fmt(r['best_epoch'])})"
            cells["peak_mb"] = _fmt(r["peak_mb"]) + (
                f" ({_fmt(r['peak_mb_per_rank'])}/rank)" if r["mode"] in DDP_MODES else "")
        lines.append("| " + " | ".join(cells[c] for c, _ in cols) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="100000,300000,1000000")
    p.add_argument("--modes", default="cpu",
                   help="comma-separated: cpu, ddp2, gpu, file (cpu reading h5ad files on "
                        "disk), ddp2-file (ddp2 reading them)")
    p.add_argument("--schedules", default="default", help="comma-separated: default, today")
    p.add_argument("--timeout", type=float, default=4 * 3600, help="seconds per run")
    p.add_argument("--out-dir", default=str(RESULTS))
    p.add_argument("--work", default="/tmp/minnet_scale_e2e")
    p.add_argument("--epochs", type=int, default=None,
                   help="cap the epochs (smoke runs; the default schedule otherwise)")
    p.add_argument("--child", nargs=3, metavar=("N", "MODE", "SCHEDULE"), help=argparse.SUPPRESS)
    p.add_argument("--json", help=argparse.SUPPRESS)
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("minnet").setLevel(logging.WARNING)
    if args.child:
        n, mode, schedule = int(args.child[0]), args.child[1], args.child[2]
        res = run_child(n, mode, schedule, args.epochs, args.work)
        Path(f"{args.json}.rank{res['rank']}").write_text(json.dumps(res, default=float))
        return
    import torch

    out_dir, work = Path(args.out_dir), Path(args.work)
    out_dir.mkdir(parents=True, exist_ok=True)
    work.mkdir(parents=True, exist_ok=True)
    csv = out_dir / "scale_e2e.csv"
    machine = machine_info()
    for n in (int(s) for s in args.sizes.split(",")):
        for mode in args.modes.split(","):
            if mode == "gpu" and not torch.cuda.is_available():
                log.info("gpu: no CUDA device here, skipped")
                continue
            if mode in ("cpu", "ddp2") and n > IN_MEMORY_MAX_CELLS:
                log.info("%s n=%d skipped: the simulation alone would need ~%.0f GB in memory; "
                         "--modes file runs this size from files on disk", mode, n, n * 22e-6)
                continue
            for schedule in args.schedules.split(","):
                out = work / f"e2e_{n}_{mode}_{schedule}"
                for old in [*work.glob(out.name + ".rank*"), _ready_file(n, work)]:
                    old.unlink(missing_ok=True)
                row = {"cells": n, "mode": mode, "schedule": schedule,
                       **_launch(n, mode, schedule, out, args.timeout, args.epochs),
                       **{k: v for k, v in machine.items() if k in ("cpu", "cores", "ram_gb")},
                       "date": datetime.datetime.now().isoformat(timespec="seconds")}
                old = pd.read_csv(csv) if csv.exists() else pd.DataFrame(columns=KEY)
                keep = ~old.set_index(KEY).index.isin([(n, mode, schedule)])
                df = pd.concat([old[keep], pd.DataFrame([row])], ignore_index=True)
                df.to_csv(csv, index=False)
                log.info("%s", row)
    df = pd.read_csv(csv)
    md = ["# MinNet end to end at scale", "", "`" + " ".join(["python", *sys.argv]) + "`", "",
          table(df), "",
          "Seconds per phase and the process's peak resident memory (input data included; "
          "ddp2, ddp2-file: both ranks' peaks added). See benchmarks/scale_e2e.py for the protocol.", ""]
    (out_dir / "scale_e2e.md").write_text("\n".join(md))
    print(table(df))


if __name__ == "__main__":
    main()
