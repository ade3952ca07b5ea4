"""Run one integration method on one task in its own process: inputs, command, time, peak memory.

Every method runs as a separate subprocess (``benchmarks/peers/*``), so its wall time and peak
resident memory (``os.wait4``'s ``ru_maxrss``: the process and the children it waited for) belong
to it alone. In-project methods (MinNet, the PCA baseline) rebuild the task from its name with
``_common.task_by_name``; the peers read the held-out cells written by :func:`export_task` in
the exchange format of ``benchmarks/peers/_io.py`` (RNA labelled, the other modality shuffled,
unlabelled and renamed, so that no peer can use the pairing).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
PEERS_VENV = Path(os.environ.get("PEERS_VENV", HERE / ".venv-peers"))
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
sys.path.insert(0, str(PEERS))

from _common import TaskSpec  # noqa: E402,F401  (re-exported: the runners' task)
from exchange import read_result, write_inputs  # noqa: E402

QUICK_ITERATIONS = 1000
log = logging.getLogger("benchmarks.runner")


@dataclass
class Method:
    """One method: how to start it and on which modalities it runs."""

    name: str
    kind: str  # "project" (rebuilds the task), "python-peer" or "r-peer" (reads exported data)
    script: str
    modalities: tuple[str, ...] = ("atac", "adt")
    stochastic: bool = True
    options: dict = field(default_factory=dict)  # extra ``--key value`` arguments
    max_seeds: int | None = None  # run only the first seeds (expensive peers in quick mode)

    def available(self) -> tuple[bool, str]:
        """Whether the method can run on this machine, and why not."""
        if self.kind == "python-peer" and not (PEERS_VENV / "bin" / "python").exists():
            return False, f"{PEERS_VENV} missing: run bash benchmarks/setup_peers.sh"
        if self.kind == "r-peer":
            if shutil.which("Rscript") is None:
                return False, "Rscript not found"
            ok = subprocess.run(["Rscript", "-e", 'quit(status = !requireNamespace("Seurat", '
                                 'quietly = TRUE))'], capture_output=True).returncode == 0
            if not ok:
                return False, "R package Seurat not installed"
        if self.name == "GLUE" and shutil.which("bedtools") is None:
            return False, "bedtools not found (apt-get install bedtools)"
        return True, ""


def default_methods(quick: bool = False) -> list[Method]:
    """MinNet, the PCA baseline, Seurat v4, GLUE and uniPort.

    With ``quick`` GLUE and uniPort run one seed with a budget of ``QUICK_ITERATIONS``
    mini-batches (GLUE: per stage, schedule scaled; their own defaults: up to 24,000 and
    30,000, over an hour per run on one thread).
    """
    return [
        Method("MinNet", "project", "run_minnet.py"),
        # the query-aware mode: held-out cells scaled by their own statistics (see README)
        Method("MinNet (query scaling)", "project", "run_minnet.py",
               options={"scaling": "query"}),
        Method("PCA baseline", "project", "run_baseline.py", stochastic=False),
        Method("Seurat v4", "r-peer", "run_seurat.R", stochastic=False),
        Method("GLUE", "python-peer", "run_glue.py", modalities=("atac",),
               options={"iterations": QUICK_ITERATIONS} if quick else {},
               max_seeds=1 if quick else None),
        Method("uniPort", "python-peer", "run_uniport.py",
               options={"iterations": QUICK_ITERATIONS} if quick else {},
               max_seeds=1 if quick else None),
    ]


def select_methods(methods: list[Method], names: str | None) -> list[Method]:
    """The ``methods`` named in the comma-separated ``names`` (``None`` or ``all``: every one).

    Raises
    ------
    ValueError
        For a name that is not one of ``methods``, with the choices.
    """
    if not names or names == "all":
        return methods
    wanted = [m.strip() for m in names.split(",")]
    unknown = sorted(set(wanted) - {m.name for m in methods})
    if unknown:
        raise ValueError(f"--methods: unknown {', '.join(unknown)}; choose from "
                         f"{', '.join(m.name for m in methods)} (or 'all')")
    return [m for m in methods if m.name in wanted]


def export_task(task, spec: TaskSpec, folder: Path, seed: int = 0) -> np.ndarray:
    """Write the held-out cells of ``task`` for the peers; return the permutation of the other
    modality's rows (exchange row ``j`` is held-out cell ``perm[j]``)."""
    import minnet

    tr = task.is_train
    rna, other = task.rna[~tr], task.other[~tr]
    layer = task.layer

    def counts(a):
        return a.layers[layer] if layer else a.X

    perm = np.random.default_rng(seed + 12345).permutation(other.n_obs)
    other = other[perm]
    n = rna.n_obs
    rna_obs = pd.DataFrame({"cell": [f"rna_{i:06d}" for i in range(n)],
                            "cell_type": rna.obs["cell_type"].astype(str).to_numpy()})
    other_obs = pd.DataFrame({"cell": [f"other_{j:06d}" for j in range(other.n_obs)]})
    activity = activity_features = ann = None
    if task.modality == "atac":
        # Signac's GeneActivity (window sum), as the Seurat vignette and uniPort use it
        act = minnet.pp.gene_activity(other, task.annotation, upstream=2000, gene_body=True,
                                      layer=layer, distance=0)
        activity, activity_features = act.X, act.var_names
        cols = [c for c in ("gene_name", "chrom", "tss", "strand", "end")
                if c in task.annotation.columns]
        ann = task.annotation[cols]
    write_inputs(folder, task=spec.name, modality=task.modality, rna=counts(rna),
                 rna_features=rna.var_names, rna_obs=rna_obs, other=counts(other),
                 other_features=other.var_names, other_obs=other_obs, activity=activity,
                 activity_features=activity_features, annotation=ann)
    np.save(folder.parent / f"{folder.name}_perm.npy", perm)  # outside the peers' folder
    return perm


def command(method: Method, spec: TaskSpec, data: Path, seed: int, out: Path) -> list[str]:
    """The command line that runs ``method`` on one task with one seed."""
    script = str(PEERS / method.script)
    if method.kind == "project":
        cmd = [sys.executable, script, *spec.runner_args()]
    elif method.kind == "python-peer":
        cmd = [str(PEERS_VENV / "bin" / "python"), script, "--data", str(data)]
    else:
        cmd = ["Rscript", script, "--data", str(data)]
    cmd += ["--seed", str(seed), "--out", str(out)]
    for k, v in method.options.items():
        cmd += [f"--{k}", str(v)]
    return cmd


def run_measured(cmd: list[str], log_path: Path, timeout: float) -> dict:
    """Run ``cmd`` single-threaded; wall seconds, peak RSS (MB), exit code, timed out or not."""
    env = dict(os.environ, **{v: "1" for v in THREAD_VARS}, PYTHONHASHSEED="0")
    t0 = time.perf_counter()
    timed_out = False
    with open(log_path, "w") as fh:
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t0 > timeout:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.25)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall_s": time.perf_counter() - t0, "peak_rss_mb": usage.ru_maxrss / 1024,
            "returncode": proc.returncode, "timed_out": timed_out}


def run_method(method: Method, spec: TaskSpec, data: Path, seed: int, work: Path,
               timeout: float = 1800) -> dict:
    """Run one method on one task and seed; returns the measurements plus ``result`` (the
    embeddings, rows in the task's held-out order) or ``error``."""
    tag = f"{spec.name}_{method.name.replace(' ', '_')}_seed{seed}"
    out = work / "runs" / tag
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    cmd = command(method, spec, data, seed, out)
    log.info("%s: %s", tag, " ".join(cmd))
    meas = run_measured(cmd, work / "runs" / f"{tag}.log", timeout)
    if meas["timed_out"]:
        return {**meas, "error": f"did not finish in {timeout / 60:.0f} min"}
    return collect_run(meas, out, work / "runs" / f"{tag}.log", data)


def collect_run(meas: dict, out: Path, log_path: Path, data: Path) -> dict:
    """A finished run's measurements plus its ``result`` (embeddings in the task's held-out
    order: the exchange format's row shuffle undone) or its ``error`` (from its log)."""
    if meas["returncode"] != 0 or not (out / "info.json").exists():
        tail = log_path.read_text(errors="replace").strip().splitlines()
        msg = next((ln for ln in reversed(tail) if "Error" in ln or "error" in ln),
                   tail[-1] if tail else "")
        return {**meas, "error": f"exit {meas['returncode']}: {msg.strip()[:300]}"}
    res = read_result(out)
    if res["pred_other"] is not None:
        res["pred_other"] = res["pred_other"]["predicted"].astype(str).to_numpy()
    if res["info"].get("row_order") == "exchange":
        perm = np.load(data.parent / f"{data.name}_perm.npy")
        for key in ("z_other", "pred_other"):
            if res[key] is not None:
                back = np.empty_like(res[key])
                back[perm] = res[key]
                res[key] = back
    return {**meas, "result": res}


def peer_versions() -> dict:
    """Versions recorded by ``setup_peers.sh`` (empty when the peers are not installed)."""
    path = PEERS_VENV / "versions.json"
    return json.loads(path.read_text()) if path.exists() else {}
