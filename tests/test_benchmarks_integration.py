"""Light checks of the comparative benchmark's helpers (benchmarks/integration.py and peers/)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH / "peers"))

exchange = pytest.importorskip("exchange")


def test_exchange_roundtrip_hides_pairing(tmp_path):
    from _common import Task
    from _runner import TaskSpec, export_task

    import minnet

    sim = minnet.datasets.simulate_multiome(n_cells=120, n_genes=50, n_batches=3, seed=1)
    task = Task("sim_strong", sim.rna, sim.atac, "atac", sim.annotation, ["batch0", "batch1"])
    perm = export_task(task, TaskSpec("sim_strong", 120, 3), tmp_path / "t")
    inp = exchange.read_inputs(tmp_path / "t")
    held = ~task.is_train
    assert inp["modality"] == "atac" and inp["rna"].n_obs == held.sum()
    assert "cell_type" not in inp["other"].obs.columns  # the query is unlabelled
    assert not set(inp["rna"].obs_names) & set(inp["other"].obs_names)
    # exchange row j of the other modality is held-out cell perm[j]
    want = sp.csr_matrix(task.other[held].X)[perm].toarray()
    np.testing.assert_array_equal(inp["other"].X.toarray(), want)
    assert inp["activity"].n_obs == inp["other"].n_obs
    assert {"gene_name", "chrom", "tss", "strand"} <= set(inp["annotation"].columns)


def test_result_roundtrip(tmp_path):
    z1, z2 = np.arange(6.0).reshape(3, 2), -np.arange(6.0).reshape(3, 2)
    exchange.write_result(tmp_path, z1, z2, {"method": "x", "row_order": "task"},
                          pd.DataFrame({"cell": list("abc"), "predicted": list("xyz")}))
    res = exchange.read_result(tmp_path)
    np.testing.assert_array_equal(res["z_rna"], z1)
    np.testing.assert_array_equal(res["z_other"], z2)
    assert res["info"]["method"] == "x" and list(res["pred_other"]["predicted"]) == list("xyz")


def test_score_perfect_and_shuffled():
    from _scoring import FOSCTTM, OWN_ACC, score

    rng = np.random.default_rng(0)
    labels = np.repeat(["a", "b", "c"], 40)
    centres = {"a": 0.0, "b": 10.0, "c": 20.0}
    z = np.stack([[centres[x], 0.0] for x in labels]) + rng.normal(0, 1, (120, 2))
    batches = np.tile(["b1", "b2"], 60)
    good = score(z, z + 0.01, labels, batches, own_pred=labels)
    assert good[FOSCTTM] < 0.05 and good["label transfer accuracy"] == 1.0
    assert good[OWN_ACC] == 1.0 and good["ARI max"] > 0.9
    bad = score(z, z[rng.permutation(120)], labels, batches)
    assert bad[FOSCTTM] > 0.3
    assert np.isnan(score(z, z, labels, np.repeat("b1", 120))["batch mixing (1 - ASW)"])


def test_glue_coordinates_and_schedule():
    from run_glue import gene_coordinates, peak_coordinates, schedule

    ann = pd.DataFrame({"gene_name": ["A", "B"], "chrom": ["chr1", "chr2"], "tss": [100, 500],
                        "strand": ["+", "-"]})
    c = gene_coordinates(pd.Index(["A", "B", "C"]), ann)
    assert c.loc["A", "chromStart"] == 99 and c.loc["A", "chromEnd"] == 100
    assert c["chrom"].isna().tolist() == [False, False, True]
    ann["end"] = [900, 200]
    c = gene_coordinates(pd.Index(["B"]), ann)
    assert (c.loc["B", "chromStart"], c.loc["B", "chromEnd"]) == (199, 500)
    p = peak_coordinates(pd.Index(["chr1-10-20", "chrX-5-9"]))
    assert p["chromStart"].tolist() == [10, 5] and p["chrom"].tolist() == ["chr1", "chrX"]
    assert schedule(1000, None) == {}
    s = schedule(1280, 900)  # 9 mini-batches per epoch → 100 epochs
    assert s["max_epochs"] == 100 and s["align_burnin"] == 16


def test_replace_section(tmp_path):
    from _report import replace_section

    md = tmp_path / "B.md"
    md.write_text("# B\n\nhand-written\n")
    replace_section(md, "x", "one")
    replace_section(md, "x", "two")
    text = md.read_text()
    assert "hand-written" in text and "two" in text and "one" not in text
    assert text.count("<!-- x:begin -->") == 1


def test_scale_table_merges_runs():
    from scale_methods import markdown, merged_table

    def rows(*items):
        return pd.DataFrame([{"cells": c, "train_cells": c // 2, "heldout_cells": c // 2,
                              "method": m, "options": "defaults", "status": "ok", "wall_s": w,
                              "epochs": e} for c, m, w, e in items])

    earlier = rows((10_000, "GLUE", 300.0, np.nan), (10_000, "MinNet", 90.0, 60),
                   (50_000, "MinNet", 180.0, 30))
    new = rows((50_000, "MinNet", 200.0, 24), (50_000, "uniPort", 100.0, np.nan))
    table = merged_table(earlier, new)
    # a re-measured size and method replaces the old row; others stay; MinNet first per size
    assert table[["cells", "method"]].values.tolist() == [
        [10_000, "MinNet"], [10_000, "GLUE"], [50_000, "MinNet"], [50_000, "uniPort"]]
    assert table.loc[2, "wall_s"] == 200.0
    text = markdown(table)
    assert "defaults (24 epochs)" in text and "defaults (30 epochs)" not in text
    assert merged_table(pd.DataFrame(), new).equals(merged_table(new, pd.DataFrame()))


def test_integration_add_keeps_earlier_rows():
    from integration import with_earlier_rows

    def rows(*items):
        return pd.DataFrame([{"task": t, "method": m, "seed": s, "FOSCTTM": f}
                             for t, m, s, f in items])

    earlier = rows(("sim_mild", "MinNet", 0, 0.1), ("sim_mild", "Seurat v4", 0, 0.2),
                   ("bmmc_cite", "MinNet", 0, 0.3))
    new = rows(("sim_mild", "GLUE", 0, 0.4), ("sim_mild", "MinNet", 0, 0.05))
    both = with_earlier_rows(earlier, new)
    assert len(both) == 4  # MinNet sim_mild seed 0 re-measured: replaced, not doubled
    assert both.loc[(both.task == "sim_mild") & (both.method == "MinNet"), "FOSCTTM"].item() == 0.05
    assert both["task"].tolist()[-1] == "bmmc_cite"  # tasks stay grouped


def test_integration_add_replaces_rows_read_back_from_csv(tmp_path):
    from integration import with_earlier_rows

    earlier = pd.DataFrame({"task": ["t", "t"], "method": ["MinNet", "GLUE"],
                            "seed": [0, np.nan], "v": [1.0, 2.0]})  # GLUE n/a: no seed
    earlier.to_csv(tmp_path / "runs.csv", index=False)
    from_csv = pd.read_csv(tmp_path / "runs.csv")  # seeds come back as 0.0 and NaN
    new = pd.DataFrame({"task": ["t"], "method": ["MinNet"], "seed": [0], "v": [9.0]})
    both = with_earlier_rows(from_csv, new)
    assert len(both) == 2 and both.loc[both.method == "MinNet", "v"].tolist() == [9.0]
    again = pd.DataFrame({"task": ["t"], "method": ["GLUE"], "seed": [np.nan], "v": [3.0]})
    assert with_earlier_rows(both, again).loc[lambda d: d.method == "GLUE", "v"].tolist() == [3.0]


def _blobs(n_types: int, n_per: int, n_features: int, signal: float, seed: int):
    """Poisson counts of ``n_types`` groups whose rates differ by ``signal`` (0 = no signal)."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([f"t{i}" for i in range(n_types)], n_per)
    base = rng.gamma(2.0, 1.0, size=n_features)
    effect = rng.normal(0, signal, size=(n_types, n_features))
    rates = base * np.exp(effect[np.repeat(np.arange(n_types), n_per)])
    return sp.csr_matrix(rng.poisson(rates).astype(np.float32)), labels


@pytest.mark.parametrize("modality", ["atac", "adt"])
def test_label_information_tells_signal_from_noise(modality):
    from _scoring import label_information

    informative, labels = _blobs(4, 60, 120, 1.5, seed=0)
    noise, _ = _blobs(4, 60, 120, 0.0, seed=1)
    labels = labels.copy()
    labels[:30] = "t1"  # an unbalanced largest class: 90 of 240
    ref = label_information(informative, noise, modality, labels)
    assert ref["most common type"] == pytest.approx(90 / 240)
    assert ref["RNA alone"] > 0.6  # structure is found in the informative modality ...
    assert ref[f"{modality.upper()} alone"] < ref["most common type"] + 0.1  # ... not in noise
    again = label_information(informative, noise, modality, labels)
    assert again == ref  # seeded


def test_report_names_commands_and_reference_points():
    from _report import _commands, reference_line
    from _scoring import REFERENCE_PREFIX

    runs = pd.DataFrame({
        "task": ["t", "t", "t"], "method": ["MinNet", "MinNet", "GLUE"], "modality": "atac",
        "heldout_cells": 100, "label transfer accuracy": [0.5, 0.7, 0.4],
        "command": ["python a", "python a", "python b --add"],
        "started": ["2026-01-01", "2026-01-01", "2026-01-02"],
        REFERENCE_PREFIX + "most common type": [0.25, 0.25, np.nan],
        REFERENCE_PREFIX + "RNA alone": [0.9, 0.9, np.nan],
        REFERENCE_PREFIX + "other alone": [0.3, 0.3, np.nan]})
    text = " ".join(_commands(runs))
    assert "`python a` on 2026-01-01 (2 rows)" in text and "`python b --add`" in text
    line = " ".join(reference_line(runs, "t"))
    assert "most common type 0.250" in line and "ATAC alone 0.300" in line
    assert "near 0.60 on 100 cells: ±0.049" in line  # sqrt(0.6 * 0.4 / 100), MinNet mean
    assert reference_line(runs.drop(columns=[c for c in runs if c.startswith(REFERENCE_PREFIX)]),
                          "t") == []


def test_report_only_rewrites_tables_from_csv(tmp_path):
    import subprocess

    from _scoring import FOSCTTM

    runs = pd.DataFrame({
        "task": "sim_mild", "modality": "atac", "train_cells": 10, "heldout_cells": 8,
        "heldout_batches": "b2", "method": ["MinNet", "PCA baseline"], "seed": [0, 0],
        "status": "ok", "wall_s": [3.0, 1.0], "peak_rss_mb": [500.0, 400.0],
        FOSCTTM: [0.1, 0.3], "label transfer accuracy": [0.9, 0.5],
        "command": "python benchmarks/integration.py", "started": "2026-01-01T00:00:00"})
    runs.to_csv(tmp_path / "integration.csv", index=False)
    md = tmp_path / "B.md"
    md.write_text("# B\n")
    subprocess.run([sys.executable, str(BENCH / "integration.py"), "--report", "--out-dir",
                    str(tmp_path), "--benchmarks-md", str(md)], check=True, capture_output=True)
    text = md.read_text()
    assert "| MinNet | **0.100** |" in text and "| PCA baseline | 0.300 |" in text
    assert "0.1 min of method runs" in text  # 4 s of wall time
    assert pd.read_csv(tmp_path / "integration.csv").equals(runs)  # rewritten unchanged
    assert (tmp_path / "figures" / "integration_sim_mild.png").is_file()


def test_merge_takes_runs_made_in_other_folders(tmp_path):
    import subprocess

    from _scoring import FOSCTTM

    def runs(method, seed, fos, command):
        return pd.DataFrame({
            "task": "sim_mild", "modality": "atac", "train_cells": 10, "heldout_cells": 8,
            "heldout_batches": "b2", "method": [method], "seed": [seed], "status": "ok",
            "wall_s": [3.0], "peak_rss_mb": [500.0], FOSCTTM: [fos],
            "label transfer accuracy": [0.9], "command": command,
            "started": "2026-01-01T00:00:00"})

    main = pd.concat([runs("MinNet", 0, 0.1, "python a"), runs("GLUE", 0, 0.2, "python b")])
    main.to_csv(tmp_path / "integration.csv", index=False)
    side = tmp_path / "side"
    side.mkdir()
    # one new seed and one re-measured run, as a side-by-side run with --out-dir writes them
    pd.concat([runs("GLUE", 1, 0.3, "python c"), runs("GLUE", 0, 0.25, "python c")]).to_csv(
        side / "integration.csv", index=False)
    md = tmp_path / "B.md"
    md.write_text("# B\n")
    cmd = [sys.executable, str(BENCH / "integration.py"), "--out-dir", str(tmp_path),
           "--benchmarks-md", str(md), "--merge"]
    subprocess.run([*cmd, str(side / "integration.csv")], check=True, capture_output=True)
    merged = pd.read_csv(tmp_path / "integration.csv")
    assert merged[["method", "seed", FOSCTTM]].values.tolist() == [
        ["MinNet", 0, 0.1], ["GLUE", 1, 0.3], ["GLUE", 0, 0.25]]
    assert "`python c`" in md.read_text()
    # a wrong file is refused with the reason, and nothing is rewritten
    (side / "other.csv").write_text("a,b\n1,2\n")
    bad = subprocess.run([*cmd, str(side / "other.csv")], capture_output=True, text=True)
    assert bad.returncode != 0 and "no column command, method" in bad.stderr
    missing = subprocess.run([*cmd, str(side / "nope.csv")], capture_output=True, text=True)
    assert missing.returncode != 0 and "does not exist" in missing.stderr
    assert pd.read_csv(tmp_path / "integration.csv").equals(merged)


def test_public_args_leave_out_where_results_go(monkeypatch):
    from _report import public_args

    monkeypatch.setattr(sys, "argv", [
        "integration.py", "--tasks", "sim_mild", "--out-dir", "/tmp/x", "--no-md", "--work=/w",
        "--methods", "GLUE", "--resume", "--out-dir=/tmp/y", "--add"])
    assert public_args() == ["--tasks", "sim_mild", "--methods", "GLUE", "--add"]


def test_standing_gives_the_gap_and_its_noise():
    from _report import minnet_standing

    runs = pd.DataFrame({
        "task": "t", "method": ["MinNet", "MinNet", "GLUE", "Seurat v4"], "status": "ok",
        "heldout_cells": 100, "label transfer accuracy": [0.5, 0.7, 0.62, 0.9],
        "ARI max": [0.8, 0.8, 0.7, 0.75]})
    line = minnet_standing(runs)[0]
    # Seurat is 0.3 above MinNet's mean 0.6: beyond one standard error (0.049)
    assert "transfer acc. 3/3 (behind GLUE, Seurat v4 by 0.300, beyond one standard error)" in line
    assert "ARI max 1/3;" in line or line.endswith("ARI max 1/3")
    runs.loc[3, "label transfer accuracy"] = 0.3
    assert "2/3 (behind GLUE by 0.020, within one standard error)" in minnet_standing(runs)[0]
    runs.loc[2, "ARI max"] = 0.8003  # a gap the table's rounding hides
    assert "ARI max 2/3 (behind GLUE by 0.0003)" in minnet_standing(runs)[0]


def test_integration_keeps_finished_runs_of_a_stopped_invocation(tmp_path, monkeypatch):
    import integration
    from _runner import Method

    calls: list[int] = []

    def fake_run(method, spec, data, seed, work, timeout):
        calls.append(seed)
        if len(calls) == 2:
            return {"wall_s": 1.0, "peak_rss_mb": 1.0, "error": "exit 1: crashed"}
        if len(calls) == 3:
            raise KeyboardInterrupt  # the invocation is stopped during its third run
        n = len(np.load(data.parent / f"{data.name}_perm.npy"))
        z = np.random.default_rng(seed).normal(size=(n, 2))
        return {"wall_s": 1.0, "peak_rss_mb": 1.0,
                "result": {"z_rna": z, "z_other": z + 0.1, "info": {"seconds": 1.0},
                           "pred_other": None}}

    monkeypatch.setattr(integration, "default_methods", lambda quick: [Method("Fake", "x", "x")])
    monkeypatch.setattr(integration, "run_method", fake_run)
    argv = ["integration.py", "--tasks", "sim_mild", "--n-cells", "200", "--seeds", "0,1,2",
            "--no-md", "--out-dir", str(tmp_path)]
    partial = tmp_path / "integration.partial.csv"

    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(KeyboardInterrupt):
        integration.main()
    kept = pd.read_csv(partial)
    assert kept["seed"].tolist() == [0, 1] and kept["status"].tolist() == ["ok", "failed"]
    assert not (tmp_path / "integration.csv").exists()

    # the same command again refuses to start over and lose the finished run
    with pytest.raises(SystemExit, match="add --resume"):
        integration.main()
    # --resume with another command would mix two questions
    monkeypatch.setattr(sys, "argv", [*argv[:6], "0,2", *argv[7:], "--resume"])
    with pytest.raises(SystemExit, match="was written by"):
        integration.main()

    monkeypatch.setattr(sys, "argv", [*argv, "--resume"])
    integration.main()
    assert calls == [0, 1, 2, 1, 2]  # the finished seed 0 was not run again; the failed 1 was
    runs = pd.read_csv(tmp_path / "integration.csv")
    assert runs["seed"].tolist() == [0, 1, 2] and (runs["status"] == "ok").all()
    assert runs.loc[0, "FOSCTTM (lower is better)"] == kept.loc[0, "FOSCTTM (lower is better)"]
    assert "--resume" not in runs.loc[1, "command"]  # both rows: the same command
    assert runs["command"].nunique() == 1
    assert not partial.exists()


def test_sweep_settings_product_or_one_at_a_time():
    from sweep import _nested, settings

    keys, values = ["lr", "n_hidden"], [[1e-3, 3e-4], [128]]
    assert settings(keys, values, one_at_a_time=False) == [
        {"lr": 1e-3, "n_hidden": 128}, {"lr": 3e-4, "n_hidden": 128}]
    # the defaults once, then every value with every other argument at its default
    assert settings(keys, values, one_at_a_time=True) == [
        {}, {"lr": 1e-3}, {"lr": 3e-4}, {"n_hidden": 128}]
    assert settings([], [], one_at_a_time=False) == [{}]
    assert _nested({"gene_activity_kwds.distance": 0, "lr": 1}) == {
        "gene_activity_kwds": {"distance": 0}, "lr": 1}


def test_scale_py_methods_runs_the_method_comparison(tmp_path):
    import shutil
    import subprocess

    # --from-csv only re-renders: proves the hand-over to scale_methods.py without training
    shutil.copy(BENCH / "results" / "scale_methods.csv", tmp_path / "scale_methods.csv")
    cmd = [sys.executable, str(BENCH / "scale.py"), "--out-dir", str(tmp_path), "--no-md"]
    subprocess.run([*cmd, "--methods", "all", "--from-csv"], check=True, capture_output=True)
    text = (tmp_path / "scale_methods.md").read_text()
    assert "| 50,000 (25,934 / 24,066) | Seurat v4 | defaults | did not finish in 30 min |" in text
    bad = subprocess.run([*cmd, "--methods", "GLEU", "--from-csv"], capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown GLEU" in bad.stderr
    wrong = subprocess.run([*cmd, "--peer-iterations", "5"], capture_output=True, text=True)
    assert wrong.returncode != 0 and "--peer-iterations 5 (options of the method" in wrong.stderr


def test_scale_py_end_to_end_times_every_phase_of_the_pipeline(tmp_path):
    import subprocess

    cmd = [sys.executable, str(BENCH / "scale.py"), "--end-to-end", "--sizes", "1200",
           "--modes", "cpu,file", "--schedules", "default,today", "--epochs", "2", "--out-dir",
           str(tmp_path), "--work", str(tmp_path / "work")]
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    rows = pd.read_csv(tmp_path / "scale_e2e.csv")
    # file mode: the same pipeline from backed h5ad files, which are removed afterwards
    from_files = rows[rows["mode"] == "file"]
    assert len(from_files) == 2 and (from_files["status"] == "ok").all()
    assert not list((tmp_path / "work").glob("*.h5ad"))
    rows = rows[rows["mode"] == "cpu"].set_index("schedule")
    assert (rows["status"] == "ok").all() and (rows["epochs_run"] == 2).all()
    for phase in ("inputs", "graph", "margins", "training", "embedding"):
        assert (rows[f"{phase}_s"] > 0).all(), phase
    assert (rows["peak_mb"] > 100).all() and (rows["pipeline_s"] >= rows["training_s"]).all()
    assert rows.loc["today", "batch_size"] == 64 and 0 <= rows.loc["today", "foscttm"] <= 1
    assert "| 1,200 | cpu | today | 64 | 2 (" in (tmp_path / "scale_e2e.md").read_text()


def test_gpu_benchmark_says_so_without_a_gpu(tmp_path):
    import subprocess

    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is here: benchmarks/gpu.py would run the 1M-cell pipeline")
    res = subprocess.run([sys.executable, str(BENCH / "gpu.py"), "--out-dir", str(tmp_path)],
                         capture_output=True, text=True, timeout=120)
    why = "no CUDA support" if torch.version.cuda is None else "no CUDA device is visible"
    assert res.returncode == 0 and why in res.stdout and "nothing measured" in res.stdout
    assert not list(tmp_path.iterdir())


def test_scale_e2e_merges_ranks_times_of_rank_0_memory_of_both():
    from scale_e2e import _merge

    def part(rank, peak, train_s):
        return {"rank": rank, "cells": 10, "epochs_run": 3, "train_cells": 100,
                "train_call_s": 9.0, "seconds": {"training": train_s, "embedding": 1.0},
                "peak_mb": {"simulate": 5000.0, "graph": peak, "training": peak - 1}}

    row = _merge([part(1, 300.0, 7.0), part(0, 200.0, 6.0)])
    assert row["training_s"] == 6.0 and row["pipeline_s"] == 10.0
    assert row["peak_mb"] == 500.0 and row["peak_mb_per_rank"] == 300.0  # simulate excluded
    assert row["pairs_per_s"] == pytest.approx(3 * 100 / 6.0) and row["peak_phase"] == "graph"


def test_schedule_replays_early_stopping_on_the_validation_losses():
    from schedule import replay

    val = [5, 4, 3, 3.5, 2.9, *[3.0] * 12]  # best at 5, then ten stale epochs
    run = pd.DataFrame({"epoch": range(1, 18), "val_loss": val,
                        "foscttm": np.linspace(0.5, 0.1, 17), "seconds": np.arange(1, 18) * 2.0})
    assert replay(run, 60) == {"stop": 15, "best": 5, "foscttm": run.foscttm[4],
                               "seconds": 30.0}
    assert replay(run, 4) == {"stop": 4, "best": 3, "foscttm": run.foscttm[2], "seconds": 8.0}


def _paired_folder(folder: Path, n_cells: int = 240, seed: int = 2) -> Path:
    """A simulated multiome in the starters' layout (counts in layers, TSS table beside)."""
    import minnet

    sim = minnet.datasets.simulate_multiome(n_cells=n_cells, n_genes=80, n_batches=3, seed=seed)
    folder.mkdir(parents=True)
    for a, f in ((sim.rna, "rna.h5ad"), (sim.atac, "atac.h5ad")):
        a = a.copy()
        a.layers["counts"] = a.X.copy()
        a.uns.clear()
        a.write_h5ad(folder / f)
    sim.annotation.to_csv(folder / "tss.tsv", sep="\t", index=False)
    return folder


def test_folder_task_splits_by_batch_and_refuses_bad_folders(tmp_path):
    import anndata as ad
    from _common import TaskError, TaskSpec, folder_task

    folder = _paired_folder(tmp_path / "mine")
    task = folder_task("mine", folder, annotation=folder / "tss.tsv")
    assert task.modality == "atac" and task.layer == "counts"
    assert task.train_batches == ["batch0"]  # default: the first batch; tested on the rest
    assert set(task.rna.obs["batch"][~task.is_train]) == {"batch1", "batch2"}
    only2 = TaskSpec("mine", source=str(folder), train_batches="batch0,batch1",
                     test_batches="batch2", annotation=str(folder / "tss.tsv")).load()
    assert set(only2.rna.obs["batch"]) == {"batch0", "batch1", "batch2"}
    assert set(only2.rna.obs["batch"][~only2.is_train]) == {"batch2"}
    assert only2.rna.n_obs == task.rna.n_obs
    spec = TaskSpec("mine", source=str(folder), test_batches="batch2")
    assert spec.runner_args()[-4:] == ["--source", str(folder), "--test-batches", "batch2"]

    with pytest.raises(TaskError, match="unknown: batch9"):
        folder_task("mine", folder, ["batch9"], annotation=folder / "tss.tsv")
    with pytest.raises(TaskError, match="must be disjoint"):
        folder_task("mine", folder, ["batch0"], ["batch0"], annotation=folder / "tss.tsv")
    with pytest.raises(TaskError, match="no TSS table"):
        folder_task("mine", folder, annotation=tmp_path / "none.tsv")
    bad = tmp_path / "bad"
    bad.mkdir()
    with pytest.raises(TaskError, match="exactly one of atac.h5ad / adt.h5ad"):
        folder_task("bad", bad)
    rna = ad.read_h5ad(folder / "rna.h5ad")
    rna[::-1].write_h5ad(bad / "rna.h5ad")
    ad.read_h5ad(folder / "atac.h5ad").write_h5ad(bad / "atac.h5ad")
    with pytest.raises(TaskError, match="same cells in the same order"):
        folder_task("bad", bad, annotation=folder / "tss.tsv")
    del rna.obs["cell_type"]
    rna.write_h5ad(bad / "rna.h5ad")
    with pytest.raises(TaskError, match="no column cell_type"):
        folder_task("bad", bad, annotation=folder / "tss.tsv")
    # the user's files are read, never changed
    assert ad.read_h5ad(folder / "rna.h5ad").n_obs == 240


def test_integration_runs_on_a_dataset_folder(tmp_path):
    import subprocess

    from _scoring import FOSCTTM

    folder = _paired_folder(tmp_path / "mine", n_cells=300)
    out = tmp_path / "out"
    cmd = [sys.executable, str(BENCH / "integration.py"), "--data", f"mine={folder}",
           "--annotation", str(folder / "tss.tsv"), "--test-batches", "batch1,batch2",
           "--methods", "MinNet,PCA baseline", "--seeds", "0", "--out-dir", str(out),
           "--benchmarks-md", str(out / "B.md")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    runs = pd.read_csv(out / "integration.csv")
    assert runs["task"].unique().tolist() == ["mine"]  # no built-in task with --data alone
    assert runs["status"].tolist() == ["ok", "ok"]
    assert (runs["train_cells"] + runs["heldout_cells"] == 300).all()
    minnet_fos = runs.loc[runs.method == "MinNet", FOSCTTM].item()
    assert 0 <= minnet_fos < 0.45  # trained on 105 cells of batch0: better than chance (0.5)
    assert "#### mine" in (out / "B.md").read_text()
    typo = [*cmd[:9], "MinNet,PCA", *cmd[10:]]
    wrong = subprocess.run(typo, capture_output=True, text=True)
    assert wrong.returncode != 0 and "--methods: unknown PCA; choose from" in wrong.stderr
    bad = subprocess.run([*cmd[:3], "mine", *cmd[4:]], capture_output=True, text=True)
    assert bad.returncode != 0 and "write NAME=FOLDER" in bad.stderr
    taken = subprocess.run([*cmd[:3], f"sim_mild={folder}", *cmd[4:]], capture_output=True,
                           text=True)
    assert taken.returncode != 0 and "the name sim_mild is taken" in taken.stderr
