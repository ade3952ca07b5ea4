"""Time and peak memory of every method at 10k / 50k / 200k simulated cells (2 cores, 1 thread).

    bash benchmarks/setup_peers.sh                                   # once
    .venv/bin/python benchmarks/scale_methods.py                     # 10k, 50k, 200k, all methods
    .venv/bin/python benchmarks/scale.py --methods all               # the same, from scale.py
    .venv/bin/python benchmarks/scale_methods.py --sizes 10000 --peer-iterations 1000

``n`` cells of the strong-batch simulator (4 batches): MinNet trains on the n/2 cells of
batch0–1 (paired) and embeds the n/2 held-out cells of each modality; the peers integrate the
same n/2 held-out RNA and n/2 ATAC cells, unpaired (``integration.py``'s protocol and runners).
"Total" is the whole process: reading the inputs, preprocessing, training and embedding (MinNet
also simulates its task: it rebuilds it from the seed, as ``integration.py``'s runner does; the
simulation time is reported beside). Peak memory is the process's maximum resident set size.
Each run is stopped after ``--timeout`` seconds (30 min) and recorded as "did not finish in 30
min". FOSCTTM of the held-out cells is reported where n/2 ≤ 25,000.

Writes ``benchmarks/results/scale_methods.csv`` and ``scale_methods.md``, a figure, and the
``scale_methods`` section of ``BENCHMARKS.md``.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _report import machine_info, public_args, replace_section  # noqa: E402
from _runner import (  # noqa: E402
    TaskSpec,
    default_methods,
    export_task,
    peer_versions,
    run_method,
    select_methods,
)

import minnet  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
STARTED = datetime.datetime.now().isoformat(timespec="seconds")
log = logging.getLogger("benchmarks.scale_methods")


def measure(n: int, methods, work: Path, timeout: float, on_row=None) -> list[dict]:
    """All methods on the ``n``-cell strong-batch simulator; one row per method (each also
    passed to ``on_row`` as soon as it is measured)."""
    spec = TaskSpec("sim_strong", n, 4, 0)
    t0 = time.perf_counter()
    task = spec.load()
    sim_s = time.perf_counter() - t0
    held = ~task.is_train
    data = work / "data" / f"sim_strong_{n}"
    if any(m.kind != "project" for m in methods):
        export_task(task, spec, data)
    rows = []
    for method in methods:
        ok, why = method.available()
        row = {"cells": n, "train_cells": int(task.is_train.sum()),
               "heldout_cells": int(held.sum()), "method": method.name,
               "options": " ".join(f"{k}={v}" for k, v in method.options.items()) or "defaults",
               "simulate_s": sim_s}
        if not ok:
            rows.append({**row, "status": "not run", "error": why})
            if on_row is not None:
                on_row(rows[-1])
            continue
        r = run_method(method, spec, data, 0, work, timeout)
        row.update(wall_s=r["wall_s"], peak_rss_mb=r["peak_rss_mb"])
        if "error" in r:
            status = r["error"] if r["timed_out"] else "failed"
            rows.append({**row, "status": status, "error": r["error"]})
        else:
            res = r["result"]
            row.update(status="ok", compute_s=res["info"].get("seconds"),
                       version=res["info"].get("version"),
                       epochs=res["info"].get("epochs"))  # MinNet: early stopping varies it
            if held.sum() <= 25_000:
                row["foscttm"] = minnet.metrics.foscttm(res["z_rna"], res["z_other"])
            rows.append(row)
        log.info("%d cells, %s: %s", n, method.name, rows[-1])
        if on_row is not None:
            on_row(rows[-1])
        for d in (work / "runs").iterdir():  # embeddings go, logs stay
            if d.is_dir():
                shutil.rmtree(d, ignore_errors=True)
    shutil.rmtree(data, ignore_errors=True)
    return rows


def markdown(df: pd.DataFrame) -> str:
    """The results as a Markdown table."""
    head = ["cells (train / held-out)", "method", "options", "status", "total s",
            "compute s", "peak MB", "FOSCTTM"]
    lines = ["| " + " | ".join(head) + " |", "|---|---|---|---|---:|---:|---:|---:|"]

    def f(v, d=0):
        return "–" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:,.{d}f}"

    for _, r in df.iterrows():
        options = r["options"]
        if pd.notna(r.get("epochs", np.nan)):  # MinNet stops early: the epochs it ran
            options += f" ({int(r['epochs'])} epochs)"
        lines.append(f"| {r['cells']:,} ({r['train_cells']:,} / {r['heldout_cells']:,}) | "
                     f"{r['method']} | {options} | {r['status']} | {f(r.get('wall_s'))} | "
                     f"{f(r.get('compute_s'))} | {f(r.get('peak_rss_mb'))} | "
                     f"{f(r.get('foscttm'), 3)} |")
    return "\n".join(lines)


def figure(df: pd.DataFrame, path: Path) -> None:
    """Total time and peak memory against cells, one line per method (log–log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    ok = df[df["status"] == "ok"]
    for method, g in ok.groupby("method", sort=False):
        axes[0].plot(g["cells"], g["wall_s"], "o-", label=method)
        axes[1].plot(g["cells"], g["peak_rss_mb"], "o-", label=method)
    for ax, lab in zip(axes, ["total seconds", "peak RSS (MB)"], strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("simulated cells")
        ax.set_ylabel(lab)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,50000,200000")
    p.add_argument("--methods", default=None, help="'all' (default) or a comma-separated subset")
    p.add_argument("--peer-iterations", type=int, default=None,
                   help="cap GLUE's and uniPort's training at this many mini-batches "
                        "(default: their own schedules)")
    p.add_argument("--timeout", type=float, default=1800, help="seconds per run (30 min)")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    p.add_argument("--benchmarks-md", type=Path,
                   default=Path(__file__).resolve().parents[1] / "BENCHMARKS.md")
    p.add_argument("--no-md", action="store_true")
    p.add_argument("--work", type=Path, default=None)
    p.add_argument("--fresh", action="store_true",
                   help="start a new table instead of adding to scale_methods.csv")
    p.add_argument("--from-csv", action="store_true",
                   help="only rewrite the Markdown and figure from scale_methods.csv")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        stream=sys.stderr)
    logging.getLogger("minnet").setLevel(logging.WARNING)
    methods = default_methods(quick=False)
    for m in methods:
        if m.kind == "python-peer" and args.peer_iterations:
            m.options["iterations"] = args.peer_iterations
        m.modalities = ("atac",)
    try:
        methods = select_methods(methods, args.methods)
    except ValueError as err:
        p.error(str(err))
    if args.from_csv:
        report(merged_table(pd.read_csv(args.out_dir / "scale_methods.csv"), pd.DataFrame()), args)
        return
    work = args.work or Path(tempfile.mkdtemp(prefix="minnet_scale_methods_"))
    rows: list[dict] = []
    t0 = time.perf_counter()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    csv = args.out_dir / "scale_methods.csv"
    command = " ".join(["python benchmarks/scale_methods.py", *public_args()])

    # Rows of earlier runs stay unless this run measures the same size and method again, so
    # sizes and methods can be run in separate calls (each run is up to 30 min).
    earlier = pd.read_csv(csv) if csv.is_file() and not args.fresh else pd.DataFrame()

    def save(row: dict) -> None:  # one row at a time: an interrupted run keeps what it measured
        rows.append({**row, "started": STARTED, "command": command})
        merged_table(earlier, pd.DataFrame(rows)).to_csv(csv, index=False)

    try:
        for n in map(int, args.sizes.split(",")):
            measure(n, methods, work, args.timeout, on_row=save)
            print(markdown(pd.DataFrame(rows)), flush=True)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    log.info("done in %.1f min", (time.perf_counter() - t0) / 60)
    report(merged_table(earlier, pd.DataFrame(rows)), args)


def merged_table(earlier: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``new`` rows replace ``earlier`` ones of the same size, method and options; sorted by
    size, MinNet first."""
    key = ["cells", "method", "options"]
    if earlier.empty or new.empty:
        both = (new if earlier.empty else earlier).copy()
    else:
        done = pd.MultiIndex.from_frame(new[key])
        kept = earlier[~pd.MultiIndex.from_frame(earlier[key]).isin(done)]
        both = pd.concat([kept, new], ignore_index=True)
    order = {"MinNet": 0, "PCA baseline": 1, "Seurat v4": 2, "GLUE": 3, "uniPort": 4}
    both["_rank"] = both["method"].map(order).fillna(len(order))
    both = both.sort_values(["cells", "_rank"], kind="stable").drop(columns="_rank")
    return both.reset_index(drop=True)


def report(df: pd.DataFrame, args) -> None:
    """Figure, ``scale_methods.md`` and the ``scale_methods`` section of ``BENCHMARKS.md``."""
    fig = args.out_dir / "figures" / "scale_methods.png"
    figure(df, fig)
    m = machine_info()
    peers = peer_versions()
    commands = " and ".join(f"`{c}`" for c in dict.fromkeys(df["command"]))
    text = "\n".join([
        f"_Generated by {commands} (started {df['started'].iloc[0]}). {m['cpu']}, "
        f"{m['cores']} cores, {m['ram_gb']} GB RAM; one thread per method; MinNet "
        f"{m['minnet']}, Seurat {m['Seurat']}, scglue {peers.get('scglue')}, uniport "
        f"{peers.get('uniport')}._", "", markdown(df), "", "![scale_methods]({fig})", ""])
    (args.out_dir / "scale_methods.md").write_text(
        "# Methods at scale\n\n" + text.replace("{fig}", os.path.relpath(fig, args.out_dir)))
    if not args.no_md:
        replace_section(args.benchmarks_md, "scale_methods",
                        text.replace("{fig}", os.path.relpath(fig, args.benchmarks_md.parent)))
    print(f"wrote {args.out_dir / 'scale_methods.csv'}")


if __name__ == "__main__":
    main()
