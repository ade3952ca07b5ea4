"""Tables, figures and the generated sections of ``BENCHMARKS.md`` for the integration benchmark."""

from __future__ import annotations

import logging
import math
import os
import platform
import re
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
from _scoring import FOSCTTM, METRICS, OWN_ACC, REFERENCE_PREFIX

log = logging.getLogger("benchmarks.report")
LOWER_BETTER = {FOSCTTM}
COST = {"wall_s": "wall s", "peak_rss_mb": "peak MB"}
ORDER = ["MinNet", "MinNet (query scaling)", "Seurat v4", "GLUE", "uniPort", "PCA baseline"]
# MinNet's modes: each is ranked against the peers, not against the other mode
MINNET_MODES = ("MinNet", "MinNet (query scaling)")


def _methods(df: pd.DataFrame) -> list[str]:
    present = list(dict.fromkeys(df["method"]))
    return [m for m in ORDER if m in present] + [m for m in present if m not in ORDER]


def _cell(values: pd.Series, digits: int = 3) -> str:
    v = values.dropna().astype(float)
    if v.empty:
        return "–"
    if len(v) == 1:
        return f"{v.iloc[0]:.{digits}f}"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"


def fmt_number(v, digits: int = 3) -> str:
    """A table cell: "–" for missing, ``digits`` significant digits below 1,000, thousands
    separated above, whole numbers with separators."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    return str(v)


def summarise(runs: pd.DataFrame, wide: bool = True) -> pd.DataFrame:
    """Per task and method: ``mean ± sd`` strings (``wide``) or a long table of mean, sd,
    min, max and number of runs for every metric and cost."""
    cols = [c for c in [*METRICS, OWN_ACC, *COST] if c in runs.columns]
    out = []
    for (task, method), g in runs.groupby(["task", "method"], sort=False):
        ok = g[g.get("status", "ok") == "ok"] if "status" in g else g
        if wide:
            row = {"task": task, "method": method, "runs": len(ok)}
            for c in cols:
                row[METRICS.get(c, COST.get(c, c))] = _cell(ok[c], 0 if c in COST else 3)
            if len(ok) < len(g):
                row["note"] = "; ".join(sorted(set(g["error"].dropna().astype(str))))[:120]
            out.append(row)
            continue
        for c in cols:
            v = ok[c].dropna().astype(float)
            out.append({"task": task, "method": method, "metric": c, "n": len(v),
                        "mean": v.mean() if len(v) else np.nan,
                        "sd": v.std(ddof=1) if len(v) > 1 else np.nan,
                        "min": v.min() if len(v) else np.nan,
                        "max": v.max() if len(v) else np.nan})
    return pd.DataFrame(out)


def task_means(runs: pd.DataFrame, task: str) -> pd.DataFrame:
    """Each method's mean over its successful runs of one task, on every metric."""
    ok = runs[(runs["task"] == task) & (runs["status"] == "ok")]
    return ok.groupby("method")[[c for c in METRICS if c in ok.columns]].mean()


def accuracy_se(p: float, n: int) -> float:
    """Binomial standard error of an accuracy ``p`` measured on ``n`` cells."""
    return float(np.sqrt(p * (1 - p) / n))


def ranks(runs: pd.DataFrame, task: str) -> pd.DataFrame:
    """Rank (1 = best) of each method's mean on every metric of one task."""
    means = task_means(runs, task)
    out = {}
    for c in means.columns:
        col = means[c].dropna()
        out[c] = col.rank(ascending=c in LOWER_BETTER, method="min")
    return pd.DataFrame(out)


def markdown_table(runs: pd.DataFrame, task: str) -> str:
    """One task's results as a Markdown table (best mean per metric in bold)."""
    sub = runs[runs["task"] == task]
    rk = ranks(runs, task)
    cols = [c for c in [*METRICS, OWN_ACC] if c in sub.columns and sub[c].notna().any()]
    head = ["method", *[METRICS.get(c, "own transfer acc.") for c in cols], "wall s",
            "peak MB", "runs"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(["---"] + ["---:"] * (len(head) - 1)) + "|"]
    for m in _methods(sub):
        g = sub[sub["method"] == m]
        ok = g[g["status"] == "ok"]
        if ok.empty:
            why = "; ".join(sorted(set(g["error"].dropna().astype(str))))
            lines.append(f"| {m} | " + " | ".join(["–"] * len(cols)) + f" | – | – | {why} |")
            continue
        cells = []
        for c in cols:
            s = _cell(ok[c])
            if c in rk.columns and m in rk.index and rk.loc[m, c] == 1 and rk[c].notna().sum() > 1:
                s = f"**{s}**"
            cells.append(s)
        n_failed = len(g) - len(ok)
        runs_txt = f"{len(ok)}" + (f" ({n_failed} failed)" if n_failed else "")
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {_cell(ok['wall_s'], 0)} | "
                     f"{_cell(ok['peak_rss_mb'], 0)} | {runs_txt} |")
    return "\n".join(lines)


def write_figures(runs: pd.DataFrame, folder: Path, name: str) -> list[Path]:
    """One PNG per task: a bar per method and metric (mean, with every seed as a dot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    ok = runs[runs.get("status") == "ok"] if "status" in runs else runs
    for task in dict.fromkeys(ok["task"]):
        sub = ok[ok["task"] == task]
        metrics = [c for c in METRICS if c in sub.columns and sub[c].notna().any()]
        methods = _methods(sub)
        fig, axes = plt.subplots(1, len(metrics), figsize=(2.3 * len(metrics), 3.2), sharey=False)
        colors = plt.get_cmap("tab10")(np.arange(len(methods)))
        for ax, c in zip(np.atleast_1d(axes), metrics, strict=True):
            for i, m in enumerate(methods):
                v = sub.loc[sub["method"] == m, c].dropna().astype(float)
                if v.empty:
                    continue
                ax.bar(i, v.mean(), color=colors[i], alpha=0.8)
                ax.plot(np.full(len(v), i), v, "k.", ms=3)
            ax.set_title(METRICS[c], fontsize=9)
            ax.set_xticks(range(len(methods)))
            ax.set_xticklabels(methods, rotation=60, ha="right", fontsize=7)
            ax.tick_params(axis="y", labelsize=7)
        fig.suptitle(f"{task}: held-out cells (bars: mean; dots: seeds)", fontsize=10)
        fig.tight_layout()
        path = folder / f"{name}_{task}.png"
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def public_args() -> list[str]:
    """The script's command-line arguments for the "generated by" lines, less those that say
    where things go, not what is measured: ``--work DIR`` (scratch), ``--out-dir DIR`` and
    ``--no-md`` (runs made in another folder, e.g. side by side, and merged with ``--merge``)
    and ``--resume`` (a resumed run measures what the same command measures)."""
    import sys

    valued, flags = ("--work", "--out-dir"), ("--resume", "--no-md")
    out, skip = [], False
    for a in sys.argv[1:]:
        if skip:
            skip = False
        elif a in valued:
            skip = True
        elif a not in flags and not a.startswith(tuple(v + "=" for v in valued)):
            out.append(a)
    return out


def _run(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info() -> dict:
    """CPU, cores, memory, OS and the versions of the project's own stack."""
    import numpy
    import scipy
    import torch

    import minnet

    cpu = ""
    mem = 0.0
    try:
        cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo")
                    if ln.startswith("model name")), "")
        mem = next(int(ln.split()[1]) / 2**20 for ln in open("/proc/meminfo")
                   if ln.startswith("MemTotal"))
    except OSError:
        pass
    r = _run(["Rscript", "-e", 'cat(R.version$major, R.version$minor, '
              'as.character(packageVersion("Seurat")))']).split()
    return {"cpu": cpu or platform.machine(), "cores": os.cpu_count(), "ram_gb": round(mem, 1),
            "os": platform.platform(), "python": platform.python_version(),
            "minnet": minnet.__version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "scipy": scipy.__version__,
            "R": ".".join(r[:2]) if len(r) >= 2 else None,
            "Seurat": r[2] if len(r) >= 3 else None,
            "bedtools": _run(["bedtools", "--version"]) or None}


def minnet_standing(runs: pd.DataFrame) -> list[str]:
    """One line per task and MinNet mode: its rank among the peers on every metric (and who
    beats it)."""
    lines = []
    for task in dict.fromkeys(runs["task"]):
        for mode in MINNET_MODES:
            others = [m for m in MINNET_MODES if m != mode]
            line = _standing(runs[~runs["method"].isin(others)], task, mode)
            if line:
                lines.append(line)
    return lines


def _standing(runs: pd.DataFrame, task: str, mode: str) -> str | None:
    """MinNet mode ``mode``'s ranks on ``task`` among the methods of ``runs``."""
    rk = ranks(runs, task)
    if mode not in rk.index:
        return None
    means = task_means(runs, task)
    n_cells = int(runs.loc[runs["task"] == task, "heldout_cells"].iloc[0])
    parts = []
    for c in rk.columns:
        r = rk.loc[mode, c]
        if np.isnan(r):
            continue
        better = [m for m in rk.index if rk.loc[m, c] < r]
        text = f"{METRICS[c]} {int(r)}/{int(rk[c].notna().sum())}"
        if better:
            gap = abs(means.loc[better, c] - means.loc[mode, c]).max()
            # a gap below the table's 3 decimals gets one more, never "by 0.000"
            text += f" (behind {', '.join(better)} by {gap:.{3 if gap >= 5e-4 else 4}f}"
            if c == "label transfer accuracy":  # a binomial proportion: its noise is known
                se = accuracy_se(means.loc[mode, c], n_cells)
                text += f", {'within' if gap < se else 'beyond'} one standard error"
            text += ")"
        parts.append(text)
    label = task if mode == "MinNet" else f"{task}, {mode}"
    return f"- **{label}**: " + "; ".join(parts)


def _commands(runs: pd.DataFrame) -> list[str]:
    """The commands that measured ``runs`` (rows merged with ``--add`` keep their own), one
    ``` `command` on start (n rows)``` each."""
    if "command" not in runs:
        return ["an earlier version of `benchmarks/integration.py`"]
    return [f"`{cmd}` on {started} ({len(g)} row{'s' if len(g) != 1 else ''})" for (cmd, started), g
            in runs.groupby(["command", "started"], sort=False, dropna=False)]


def reference_line(runs: pd.DataFrame, task: str) -> list[str]:
    """The task's reference points for label transfer (``_scoring.label_information``) and
    the binomial standard error of an accuracy on its held-out cells, as one paragraph."""
    sub = runs[runs["task"] == task]
    cols = [c for c in sub.columns if c.startswith(REFERENCE_PREFIX) and sub[c].notna().any()]
    if not cols:
        return []
    ref = {c[len(REFERENCE_PREFIX):]: sub[c].dropna().iloc[0] for c in cols}
    n = int(sub["heldout_cells"].iloc[0])
    other = sub["modality"].iloc[0].upper()
    acc = sub.loc[sub["method"] == "MinNet", "label transfer accuracy"].dropna()
    p = float(acc.mean()) if len(acc) else 0.5
    return [f"Label transfer reference points (`_scoring.label_information`, true labels of the "
            f"held-out cells, 5-fold cross-validated 15-NN in each modality's own space): "
            f"calling every cell the most common type {ref.get('most common type', np.nan):.3f}; "
            f"RNA alone {ref.get('RNA alone', np.nan):.3f}; {other} alone "
            f"{ref.get('other alone', np.nan):.3f}. Standard error of an accuracy near "
            f"{p:.2f} on {n:,} cells: ±{accuracy_se(p, n):.3f}.", ""]


def section(name: str, runs: pd.DataFrame, meta: dict, figures: list[Path], md_dir: Path) -> str:
    """The generated Markdown of one run (tables, standing, figures, failures, set-up)."""
    m = meta["machine"]
    peers = meta.get("peers") or {}
    seeds = sorted({int(x) for x in runs["seed"].dropna()})
    sims = runs[runs["task"].str.startswith("sim")]
    cells = (f"{int(sims['train_cells'].iloc[0] + sims['heldout_cells'].iloc[0]):,} simulated "
             "cells per simulator task, about half held out" if len(sims) else "no simulator task")
    commands = _commands(runs)
    out = ([f"_Generated by {commands[0]}._"] if len(commands) == 1 else
           ["_Generated by these commands, their rows merged with `--add`:_", "",
            *[f"- {c}" for c in commands]])
    out += ["", f"{runs['wall_s'].sum() / 60:.1f} min of method runs in all; mode "
            f"{meta['mode']}; seeds {','.join(map(str, seeds))} for the stochastic methods; "
            f"{cells}.", "",
           f"Machine: {m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM, {m['os']}; every "
           "method single-threaded in its own process. Versions: "
           f"Python {m['python']}, MinNet {m['minnet']}, torch {m['torch']}, numpy {m['numpy']}, "
           f"scipy {m['scipy']}; R {m['R']}, Seurat {m['Seurat']}; "
           f"scglue {peers.get('scglue')}, uniport {peers.get('uniport')} (peers' env: torch "
           f"{peers.get('torch')}, scanpy {peers.get('scanpy')}, anndata {peers.get('anndata')}, "
           f"scipy {peers.get('scipy')}, scikit-learn {peers.get('scikit-learn')}); "
           f"{m['bedtools']}.", ""]
    for task in dict.fromkeys(runs["task"]):
        sub = runs[runs["task"] == task].iloc[0]
        out += [f"#### {task}", "",
                f"{sub['train_cells']:,} training cells (MinNet only), {sub['heldout_cells']:,} "
                f"held-out cells ({sub['heldout_batches']}), modality {sub['modality'].upper()}.",
                "", markdown_table(runs, task), "", *reference_line(runs, task)]
    out += ["#### MinNet's rank per metric (mean over seeds; 1 = best)", "",
            *minnet_standing(runs), ""]
    if figures:
        out += ["#### Figures", ""]
        out += [f"![{p.stem}]({os.path.relpath(p, md_dir)})" for p in figures]
        out += [""]
    fails = runs[runs["status"] != "ok"]
    if not fails.empty:
        out += ["#### Not run or failed", ""]
        for (task, method, err), g in fails.groupby(["task", "method", "error"], sort=False):
            out.append(f"- {task} / {method} ({len(g)} run(s)): {err}")
        out += [""]
    return "\n".join(out)


def replace_section(path: Path, name: str, body: str) -> None:
    """Replace the text between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->`` in ``path``
    (appended at the end when the markers are missing)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{begin}\n{body}\n{end}"
    if begin in text and end in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, text,
                      flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    path.write_text(text)
    log.info("updated %s (%s)", path, name)


def update_benchmarks_md(path: Path, name: str, runs: pd.DataFrame, meta: dict,
                         figures: list[Path]) -> None:
    """Write one run's tables into its section of ``BENCHMARKS.md``."""
    replace_section(path, name, section(name, runs, meta, figures, path.parent))
