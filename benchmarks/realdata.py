"""Real-data benchmark: SNARE-seq mouse cortex, leave-two-libraries-out, MinNet vs the peers.

    .venv/bin/python benchmarks/realdata.py                                   # everything
    .venv/bin/python benchmarks/realdata.py --methods "MinNet (peaks),MinNet (gene activity)"
    .venv/bin/python benchmarks/realdata.py --methods GLUE --folds 0 --resume # one GLUE fold
    .venv/bin/python benchmarks/realdata.py --report                          # table only

Data: ``../shared/data/snare_cortex_dev`` (6,968 paired cells, libraries 09A–09H in
``obs.batch``, 23 types in ``obs.cell_type``; RNA 1,677 genes, ATAC 25,734 peaks with
``var.linked_gene``, and the shipped gene activity; raw counts in ``X``). Four folds each hold
out two libraries (0: 09A+09B, 1: 09C+09D, 2: 09E+09F, 3: 09G+09H). Every method gets the
held-out libraries' RNA and ATAC as unpaired data (the pairing is used only to score) and is
scored on them with ``_scoring.score`` (FOSCTTM, 30-NN label transfer RNA → ATAC, accuracy and
macro recall, cell-type silhouette, modality mixing, batch mixing of the two held-out
libraries, ARI), with its wall time and peak memory (each run in its own single-threaded
subprocess, ``_runner.run_measured``).

Methods:

``MinNet (peaks)``, ``MinNet (gene activity)``, ``MinNet (peaks, query-aware)``, ``MinNet paper recipe``
    ``peers/realdata_minnet.py``: ``minnet.train`` on the six training libraries (paired,
    ``batch_key="batch"``), then ``model.embed`` of the held-out RNA and ATAC. ATAC as peaks
    (the package's LSI peak encoder) or as gene activity; query-aware: the held-out cells
    (unpaired, unlabelled) passed as ``query=``; paper recipe: gene activity with
    ``n_hidden=768, margin=10, contrastive_weight=0.5, lr=1e-4``, no dropout, plain cross-entropy,
    one network. Extra columns
    ``default labeller accuracy`` / ``… macro accuracy``: ``minnet.tl.transfer_labels`` with
    the model (kNN vote of the held-out RNA blended with the classifier head).
``PCA baseline``
    ``peers/realdata_baseline.py``: joint PCA of the held-out RNA and gene activity.
``Seurat v4``, ``uniPort``
    ``peers/run_seurat.R`` and ``peers/run_uniport.py`` unchanged, on the held-out cells in the
    exchange format (``peers/exchange.py``: ATAC rows shuffled, renamed, unlabelled); their
    gene activity is the shipped one. Seurat's own ``TransferData`` labels are the column
    ``own label transfer accuracy``.
``GLUE``
    ``peers/realdata_glue.py``: the peaks with a guidance graph of the peaks'
    ``var.linked_gene`` (no mm10 annotation is shipped), given ALL cells of the fold (the six
    training libraries and the two held-out ones) as unpaired RNA and ATAC; scored on the
    held-out cells. That input is the same in every fold (all eight libraries), so one run per
    seed (about half an hour on one thread) is scored on each fold's held-out cells; its rows
    say ``reused`` when they read back the run of an earlier fold, and all carry its time.

Writes ``<out-dir>/realdata.csv`` (one row per fold × method × seed, rewritten after every
run, so a stop loses only the run in progress) and ``<out-dir>/realdata.md`` (mean ± sd over
folds per method). ``--resume`` skips the runs the CSV already holds with status ``ok``, except
MinNet rows made with other ``minnet`` code (column ``code``: a hash of the package's source,
since the version string does not change); without it a run replaces its earlier row.
Deterministic methods (PCA baseline, Seurat) run with the first seed only. Scratch (exported
inputs, runners' outputs and logs): ``--work`` (default ``/tmp/minnet_realdata``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED  # noqa: E402
from _runner import PEERS, PEERS_VENV, collect_run, run_measured  # noqa: E402
from _scoring import (  # noqa: E402
    FOSCTTM,
    OWN_ACC,
    OWN_MACRO,
    REFERENCE_PREFIX,
    label_information,
    score,
)
from exchange import write_inputs  # noqa: E402
from realdata_minnet import code_hash  # noqa: E402

import minnet  # noqa: E402

DATA = SHARED / "snare_cortex_dev"
RESULTS = Path(__file__).resolve().parent / "results"
FOLDS = [["09A", "09B"], ["09C", "09D"], ["09E", "09F"], ["09G", "09H"]]
DEFAULT_ACC = "default labeller accuracy"
DEFAULT_MACRO = "default labeller macro accuracy"
PAPER_RECIPE = {"n_hidden": 768, "margin": 10.0, "contrastive_weight": 0.5, "lr": 1e-4,
                "input_dropout": 0.0, "hidden_dropout": 0.0, "class_balance": 0.0,
                "n_networks": 1}
# the table's columns (CSV column → header)
TABLE = {
    FOSCTTM: "FOSCTTM ↓",
    "label transfer accuracy": "transfer acc.",
    "label transfer macro accuracy": "transfer macro",
    DEFAULT_ACC: "default labeller acc.",
    DEFAULT_MACRO: "default labeller macro",
    OWN_ACC: "own labels acc. (Seurat)",
    OWN_MACRO: "own labels macro (Seurat)",
    "cell-type silhouette": "cell-type ASW",
    "modality mixing (1 - ASW)": "1 − modality ASW",
    "batch mixing (1 - ASW)": "1 − batch ASW",
    "ARI max": "ARI max",
    "wall_s": "wall s",
    "peak_rss_mb": "peak MB",
}
log = logging.getLogger("benchmarks.realdata")


@dataclass
class Method:
    """One benchmarked method: its runner and what it is given."""

    name: str
    kind: str  # "minnet" (rebuilds the fold), "exchange" (held-out cells), "glue" (all cells)
    script: str
    python: str = "project"  # "project", "peers" or "R"
    stochastic: bool = True
    options: dict = field(default_factory=dict)


METHODS = [
    Method("MinNet (peaks)", "minnet", "realdata_minnet.py", options={"atac": "peaks"}),
    Method("MinNet (gene activity)", "minnet", "realdata_minnet.py",
           options={"atac": "gene_activity"}),
    Method("MinNet (peaks, query-aware)", "minnet", "realdata_minnet.py",
           options={"atac": "peaks", "query-aware": True}),
    Method("MinNet paper recipe", "minnet", "realdata_minnet.py",
           options={"atac": "gene_activity", "train": json.dumps(PAPER_RECIPE)}),
    Method("PCA baseline", "exchange", "realdata_baseline.py", stochastic=False),
    Method("Seurat v4", "exchange", "run_seurat.R", python="R", stochastic=False),
    Method("uniPort", "exchange", "run_uniport.py", python="peers"),
    Method("GLUE", "glue", "realdata_glue.py", python="peers"),
]


def load() -> tuple[ad.AnnData, ad.AnnData, ad.AnnData]:
    """RNA, ATAC peaks and gene activity of the development set (same cells, same order)."""
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is not there: this benchmark needs ../shared/data.")
    rna, atac, act = (ad.read_h5ad(DATA / f) for f in
                      ("rna.h5ad", "atac.h5ad", "gene_activity.h5ad"))
    for other in (atac, act):
        if not (other.obs_names == rna.obs_names).all():
            raise SystemExit(f"{DATA}: the three files must hold the same cells in one order")
    return rna, atac, act


def export(rna: ad.AnnData, atac: ad.AnnData, act: ad.AnnData, cells: np.ndarray,
           folder: Path, task: str, seed: int = 0, links: bool = False) -> np.ndarray:
    """Write ``cells`` (a boolean mask) in the exchange format; return the ATAC permutation.

    RNA keeps the data's order and gets ``cell, cell_type``; ATAC peaks and the shipped gene
    activity are shuffled with one permutation (exchange row ``j`` is cell ``perm[j]`` of the
    selection), renamed and unlabelled. ``links`` adds ``peak_gene.tsv`` (``peak, gene`` from
    ``atac.var.linked_gene``) for GLUE. The permutation is saved beside the folder, out of the
    runners' sight.
    """
    done = folder / "meta.json"
    perm_path = folder.parent / f"{folder.name}_perm.npy"
    n = int(cells.sum())
    perm = np.random.default_rng(seed + 12345).permutation(n)
    if done.is_file() and perm_path.is_file() and np.array_equal(np.load(perm_path), perm):
        return perm  # written by an earlier invocation
    r, a, g = rna[cells], atac[cells][perm], act[cells][perm]
    rna_obs = pd.DataFrame({"cell": [f"rna_{i:06d}" for i in range(n)],
                            "cell_type": r.obs["cell_type"].astype(str).to_numpy()})
    other_obs = pd.DataFrame({"cell": [f"other_{j:06d}" for j in range(n)]})
    write_inputs(folder, task=task, modality="atac", rna=r.X, rna_features=r.var_names,
                 rna_obs=rna_obs, other=a.X, other_features=a.var_names, other_obs=other_obs,
                 activity=g.X, activity_features=g.var_names)
    if links:
        pd.DataFrame({"peak": atac.var_names, "gene": atac.var["linked_gene"].astype(str)}
                     ).to_csv(folder / "peak_gene.tsv", sep="\t", index=False)
    np.save(perm_path, perm)
    return perm


def command(method: Method, fold: int, data: Path | None, seed: int, out: Path) -> list[str]:
    """The command line of one run."""
    script = str(PEERS / method.script)
    if method.python == "R":
        cmd = ["Rscript", script]
    else:
        py = PEERS_VENV / "bin" / "python" if method.python == "peers" else Path(sys.executable)
        cmd = [str(py), script]
    if method.kind == "minnet":
        cmd += ["--data", str(DATA), "--held", ",".join(FOLDS[fold])]
    else:
        cmd += ["--data", str(data)]
    cmd += ["--seed", str(seed), "--out", str(out)]
    for k, v in method.options.items():
        if v is True:
            cmd.append(f"--{k}")
        elif v is not None and v is not False:
            cmd += [f"--{k}", str(v)]
    return cmd


def run_one(method: Method, fold: int, data: Path | None, seed: int, work: Path,
            timeout: float) -> dict:
    """Run one method on one fold and seed in its own process: measurements plus ``result``
    (embeddings and own labels, rows back in the data's order of the runner's cells) or
    ``error``.

    GLUE's input is the same in every fold (all eight libraries, one permutation), so one run
    per seed serves every fold: a finished run (``runs/all_GLUE_seed<s>``, with its
    measurements in ``….json``) is read back instead of being repeated (``reused``).
    """
    shared = method.kind == "glue"
    tag = f"{'all' if shared else f'fold{fold}'}_{method.name.replace(' ', '_')}_seed{seed}"
    tag = "".join(c for c in tag if c.isalnum() or c in "_-")
    out = work / "runs" / tag
    meas_path = work / "runs" / f"{tag}.json"
    log_path = work / "runs" / f"{tag}.log"
    if shared and (out / "info.json").is_file() and meas_path.is_file():
        meas = {**json.loads(meas_path.read_text()), "reused": True}
        log.info("%s: the finished run of another fold, read back", tag)
    else:
        if out.exists():
            for f in out.iterdir():
                f.unlink()
        meas_path.unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        cmd = command(method, fold, data, seed, out)
        log.info("%s: %s", tag, " ".join(cmd))
        meas = {**run_measured(cmd, log_path, timeout), "reused": False}
        if meas["timed_out"]:
            return {**meas, "error": f"did not finish in {timeout / 60:.0f} min"}
        if meas["returncode"] == 0 and (out / "info.json").exists():
            meas_path.write_text(json.dumps(meas))
    meas["run"] = tag
    return collect_run(meas, out, log_path, data)


def run_key(fold, method, seed) -> tuple[int, str, int]:
    """(fold, method, seed) of one run, as read back from the CSV."""
    return int(fold), str(method), int(seed)


def save_row(csv: Path, row: dict) -> None:
    """Put ``row`` into ``csv`` (replacing the row of the same run), rewritten at once."""
    new = pd.DataFrame([row])
    if csv.is_file():
        old = pd.read_csv(csv)
        keys = [run_key(*k) for k in old[["fold", "method", "seed"]].itertuples(index=False)]
        old = old[[k != run_key(row["fold"], row["method"], row["seed"]) for k in keys]]
        # all-NA columns (a failed run's metrics, an ok run's error) carry nothing
        new = pd.concat([df.dropna(axis=1, how="all") for df in (old, new)], ignore_index=True)
    order = {m.name.split(" (")[0] if m.name.startswith(("GLUE", "uniPort")) else m.name: i
             for i, m in enumerate(METHODS)}
    rank = [order.get(m, order.get(str(m).split(" (")[0], 99)) for m in new["method"]]
    new = new.iloc[np.lexsort((np.asarray(rank),
                               new["seed"].to_numpy(), new["fold"].to_numpy()))]
    csv.parent.mkdir(parents=True, exist_ok=True)
    tmp = csv.with_suffix(".tmp")
    new.to_csv(tmp, index=False)
    tmp.replace(csv)


def run_fold(fold: int, methods: list[Method], seeds: list[int], data3, work: Path,
             csv: Path, done: set, timeout: float) -> None:
    """Every wanted run of one fold that ``done`` does not hold; each row saved as it ends."""
    rna, atac, act = data3
    held = FOLDS[fold]
    test = rna.obs["batch"].astype(str).isin(held).to_numpy()
    todo = [(m, s) for m in methods for s in (seeds if m.stochastic else seeds[:1])
            if run_key(fold, m.name, s) not in done]
    if not todo:
        log.info("fold %d: every run is in %s", fold, csv)
        return
    labels = rna.obs["cell_type"].astype(str).to_numpy()[test]
    batches = rna.obs["batch"].astype(str).to_numpy()[test]
    reference = label_information(rna.X[test], atac.X[test], "atac", labels)
    base = {"fold": fold, "held_out": "+".join(held), "train_cells": int((~test).sum()),
            "heldout_cells": int(test.sum()),
            **{REFERENCE_PREFIX + k: v for k, v in reference.items()}}
    folders = {}
    for method, seed in todo:
        if method.kind == "exchange" and "exchange" not in folders:
            folders["exchange"] = work / "data" / f"fold{fold}_heldout"
            export(rna, atac, act, test, folders["exchange"], f"snare_fold{fold}")
        if method.kind == "glue" and "glue" not in folders:  # every fold: all the cells
            folders["glue"] = work / "data" / "all"
            export(rna, atac, act, np.ones(rna.n_obs, bool), folders["glue"], "snare_all",
                   links=True)
        data = folders.get(method.kind)
        given = int(test.sum()) if method.kind != "glue" else rna.n_obs
        row = {**base, "method": method.name, "seed": seed, "cells_given": given,
               "started": datetime.datetime.now().isoformat(timespec="seconds")}
        r = run_one(method, fold, data, seed, work, timeout)
        row.update(wall_s=round(r["wall_s"], 1), peak_rss_mb=round(r["peak_rss_mb"], 1),
                   run=r.get("run"), reused=r.get("reused"))
        if "error" in r:
            log.warning("fold %d %s seed %d: %s", fold, method.name, seed, r["error"])
            save_row(csv, {**row, "status": "failed", "error": r["error"]})
            continue
        res = r["result"]
        info = res["info"]
        z_rna, z_other, pred = res["z_rna"], res["z_other"], res["pred_other"]
        if method.kind == "glue":  # embedded every cell: score the held-out ones
            z_rna, z_other = z_rna[test], z_other[test]
        own = pred if info.get("own_labeller") is None else None
        metrics = score(z_rna, z_other, labels, batches, own, seed=seed)
        if pred is not None and own is None:
            acc = minnet.metrics.label_transfer_accuracy(labels, pred)
            metrics[DEFAULT_ACC], metrics[DEFAULT_MACRO] = acc["accuracy"], acc["macro"]
        save_row(csv, {**row, "status": "ok", "compute_s": info.get("seconds"),
                       "train_s": info.get("train_s"), "epochs": info.get("epochs"),
                       "best_epoch": info.get("best_epoch"), "version": info.get("version"),
                       "code": info.get("code"),
                       "settings": info.get("settings"), "dims": z_rna.shape[1], **metrics})
        log.info("fold %d %s seed %d: FOSCTTM %.3f, transfer %.3f, %.0f s, %.0f MB", fold,
                 method.name, seed, metrics[FOSCTTM], metrics["label transfer accuracy"],
                 r["wall_s"], r["peak_rss_mb"])


def table(csv: Path) -> str:
    """Markdown table of ``csv``: per method, mean ± sd over folds (seeds averaged within a
    fold first) of the finished runs, and the number of folds."""
    runs = pd.read_csv(csv)
    ok = runs[runs["status"] == "ok"]
    cols = [c for c in TABLE if c in ok.columns and ok[c].notna().any()]
    known = [m.name for m in METHODS]
    order = [n for n in known if n in set(ok["method"])] + [
        n for n in dict.fromkeys(ok["method"]) if n not in known]
    lines = ["| method | folds | " + " | ".join(TABLE[c] for c in cols) + " |",
             "|---|---|" + "---|" * len(cols)]
    for name in order:
        per_fold = ok[ok["method"] == name].groupby("fold")[cols].mean()
        cells = []
        for c in cols:
            v = per_fold[c].dropna()
            digits = 0 if c in ("wall_s", "peak_rss_mb") else 3
            if v.empty:
                cells.append("–")
            elif len(v) == 1:
                cells.append(f"{v.mean():.{digits}f}")
            else:
                cells.append(f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}")
        lines.append(f"| {name} | {len(per_fold)} | " + " | ".join(cells) + " |")
    failed = runs[runs["status"] != "ok"]
    for r in failed.itertuples(index=False):
        lines.append(f"\nfailed: fold {r.fold} {r.method} seed {r.seed}: {r.error}")
    return "\n".join(lines)


def write_report(out_dir: Path) -> None:
    """Write and print ``realdata.md`` from ``realdata.csv``."""
    csv = out_dir / "realdata.csv"
    if not csv.is_file():
        raise SystemExit(f"{csv} does not exist: nothing has run yet")
    text = ("SNARE-seq cortex (../shared/data/snare_cortex_dev), four folds of two held-out "
            "libraries; mean ± sd over folds (benchmarks/realdata.py).\n\n" + table(csv) + "\n")
    (out_dir / "realdata.md").write_text(text)
    print(text)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--folds", default="0,1,2,3", help="comma-separated, of 0–3")
    p.add_argument("--methods", default="all",
                   help="comma-separated, of: " + ", ".join(m.name for m in METHODS))
    p.add_argument("--seeds", default="0")
    p.add_argument("--resume", action="store_true",
                   help="skip the runs the CSV already holds with status ok")
    p.add_argument("--out-dir", type=Path, default=RESULTS)
    p.add_argument("--work", type=Path, default=Path("/tmp/minnet_realdata"),
                   help="scratch: exported inputs, runners' outputs and logs")
    p.add_argument("--timeout", type=float, default=7200, help="seconds per run")
    p.add_argument("--uniport-iterations", type=int, default=None,
                   help="uniPort's iteration budget (default: uniPort's 30,000)")
    p.add_argument("--glue-iterations", type=int, default=None,
                   help="GLUE's budget per stage (default: GLUE's automatic schedule)")
    p.add_argument("--report", action="store_true", help="run nothing: rewrite the table")
    args = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s",
                        stream=sys.stderr)
    logging.getLogger("minnet").setLevel(logging.WARNING)
    if args.report:
        write_report(args.out_dir)
        return
    folds = [int(f) for f in args.folds.split(",") if f.strip()]
    if any(f not in range(len(FOLDS)) for f in folds):
        p.error(f"--folds: choose from 0–{len(FOLDS) - 1}")
    names = {m.name for m in METHODS}
    wanted = names
    if args.methods != "all":  # "MinNet (peaks, query-aware)" has a comma: rejoin its pieces
        wanted, piece = set(), ""
        for part in args.methods.split(","):
            piece = f"{piece},{part}" if piece else part.strip()
            if piece.count("(") == piece.count(")"):
                wanted.add(piece.strip())
                piece = ""
    unknown = sorted(wanted - names)
    if unknown:
        p.error(f"--methods: unknown {', '.join(unknown)}; choose from "
                f"{', '.join(m.name for m in METHODS)}")
    methods = [m for m in METHODS if m.name in wanted]
    for m in methods:  # a capped budget is another method (a full run is not "done" by it)
        if m.name == "uniPort" and args.uniport_iterations:
            m.options["iterations"] = args.uniport_iterations
            m.name = f"uniPort ({args.uniport_iterations} iterations)"
        if m.name == "GLUE" and args.glue_iterations:
            m.options["iterations"] = args.glue_iterations
            m.name = f"GLUE ({args.glue_iterations} iterations per stage)"
        if m.python == "peers" and not (PEERS_VENV / "bin" / "python").exists():
            p.error(f"{m.name}: {PEERS_VENV} missing (bash benchmarks/setup_peers.sh)")
    seeds = [int(s) for s in args.seeds.split(",")]
    csv = args.out_dir / "realdata.csv"
    done: set = set()
    if args.resume and csv.is_file():
        old = pd.read_csv(csv)
        ok = (old["status"] == "ok").to_numpy()
        # a MinNet row made with other package code is run again
        code = code_hash()
        minnet_rows = old["method"].isin([m.name for m in METHODS if m.kind == "minnet"])
        stale = minnet_rows & (old["code"] != code if "code" in old else True)
        if stale.any():
            log.info("resume: %d MinNet run(s) made with other minnet code (now %s) are "
                     "run again", int((stale & ok).sum()), code)
        done = {run_key(*k) for k in old.loc[ok & ~stale.to_numpy(),
                                             ["fold", "method", "seed"]].itertuples(index=False)}
        log.info("resume: %d finished run(s) in %s", len(done), csv)
    args.work.mkdir(parents=True, exist_ok=True)
    data3 = load()
    t0 = time.perf_counter()
    for fold in folds:
        run_fold(fold, methods, seeds, data3, args.work, csv, done, args.timeout)
    log.info("%.1f min", (time.perf_counter() - t0) / 60)
    if csv.is_file():
        write_report(args.out_dir)


if __name__ == "__main__":
    main()
