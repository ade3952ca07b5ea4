"""The ``minnet`` command line."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import minnet
from minnet import cli
from minnet.cli import main


@pytest.mark.parametrize("cmd", [[], ["demo"], ["train"], ["embed"], ["transfer"], ["links"]])
def test_help(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([*cmd, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: minnet" in out


def test_settings_that_may_be_auto_take_numbers_too():
    parser = cli.build_parser()
    base = ["train", "--rna", "r.h5ad", "--other", "o.h5ad", "--modality", "atac", "--out", "m"]
    auto = parser.parse_args(base)
    assert (auto.n_networks, auto.input_dropout, auto.radius, auto.batch_size, auto.lr) == \
        ("auto",) * 5
    given = parser.parse_args([*base, "--n-networks", "2", "--input-dropout", "0.3",
                               "--hidden-dropout", "0", "--radius", "1.5", "--batch-size",
                               "256", "--lr", "2e-3"])
    assert (given.n_networks, given.input_dropout, given.hidden_dropout, given.radius,
            given.batch_size, given.lr) == (2, 0.3, 0.0, 1.5, 256, 2e-3)


def test_console_script_installed():
    res = subprocess.run([sys.executable, "-m", "minnet.cli", "--version"], capture_output=True,
                         text=True, check=True)
    assert res.stdout.startswith("minnet ")


def test_train_embed_transfer_files(sim, sim_split, tmp_path, capsys):
    tr = sim_split
    sim.rna[tr].copy().write_h5ad(tmp_path / "rna.h5ad")
    act = __import__("minnet").pp.gene_activity(sim.atac, sim.annotation)
    act[tr].copy().write_h5ad(tmp_path / "act.h5ad")
    act[~tr].copy().write_h5ad(tmp_path / "act_q.h5ad")
    sim.rna[~tr].copy().write_h5ad(tmp_path / "rna_q.h5ad")
    model = tmp_path / "m.safetensors"
    assert main(["-q", "train", "--rna", str(tmp_path / "rna.h5ad"), "--other",
                 str(tmp_path / "act.h5ad"), "--modality", "atac", "--batch-key", "batch",
                 "--epochs", "2", "--out", str(model)]) == 0
    assert model.exists()
    for name, mod in (("rna_q", "rna"), ("act_q", "atac")):
        assert main(["-q", "embed", "--model", str(model), "--input",
                     str(tmp_path / f"{name}.h5ad"), "--modality", mod, "--out",
                     str(tmp_path / f"{name}_emb.h5ad")]) == 0
    assert main(["-q", "transfer", "--reference", str(tmp_path / "rna_q_emb.h5ad"), "--query",
                 str(tmp_path / "act_q_emb.h5ad"), "--out", str(tmp_path / "lab.h5ad")]) == 0
    lab = ad.read_h5ad(tmp_path / "lab.h5ad")
    assert "cell_type_pred" in lab.obs and lab.obsm["X_minnet"].shape[1] == 32
    # blended with the model's classifier; the classifier alone equals predict_labels
    assert main(["-q", "transfer", "--reference", str(tmp_path / "rna_q_emb.h5ad"), "--query",
                 str(tmp_path / "act_q_emb.h5ad"), "--model", str(model), "--modality", "atac",
                 "--head-weight", "1", "--out", str(tmp_path / "lab2.h5ad")]) == 0
    lab2 = ad.read_h5ad(tmp_path / "lab2.h5ad")
    head = __import__("minnet").load(model).predict_labels(act[~tr], "atac")
    assert (lab2.obs["cell_type_pred"].astype(str).to_numpy()
            == head["label"].astype(str).to_numpy()).all()
    # links from the query's RNA and ATAC peaks, embedding both with the model first
    atac_q = sim.atac[~tr].copy()
    del atac_q.obs["cell_type"]  # labels come from the RNA by transfer
    atac_q.write_h5ad(tmp_path / "atac_q.h5ad")
    sim.annotation.to_csv(tmp_path / "tss.tsv", sep="\t", index=False)
    tsv = tmp_path / "links.tsv"
    assert main(["-q", "links", "--rna", str(tmp_path / "rna_q.h5ad"), "--atac",
                 str(tmp_path / "atac_q.h5ad"), "--annotation", str(tmp_path / "tss.tsv"),
                 "--model", str(model), "--n-bulks", "20", "--out", str(tsv)]) == 0
    links = pd.read_csv(tsv, sep="\t")
    assert list(links.columns[:7]) == ["gene", "peak", "distance", "score", "zscore", "pvalue",
                                       "qvalue"]
    assert len(links) > 100 and links["distance"].abs().max() <= 150_000


def test_cli_reports_errors(tmp_path, capsys):
    code = main(["embed", "--model", str(tmp_path / "none.safetensors"), "--input", "x.h5ad",
                 "--modality", "rna", "--out", "y.h5ad"])
    assert code == 2
    assert "error" in capsys.readouterr().err


def test_links_command_is_one_peak_gene_links_call(sim, tmp_path, peak_gene_links_calls):
    import minnet

    # unpaired halves in a stand-in co-embedding (cell type + noisy latent state)
    rng = np.random.default_rng(0)
    onehot = pd.get_dummies(sim.rna.obs["cell_type"]).to_numpy(float) * 10
    emb = np.hstack([onehot, sim.rna.obsm["latent_state"] + rng.normal(0, 1, (sim.rna.n_obs, 2))])
    idx = np.arange(sim.rna.n_obs)
    rna, atac = sim.rna[idx % 2 == 0].copy(), sim.atac[idx % 2 == 1].copy()
    rna.obsm["X_minnet"], atac.obsm["X_minnet"] = emb[idx % 2 == 0], emb[idx % 2 == 1]
    atac.obs["cell_type_pred"] = atac.obs.pop("cell_type")
    rna.write_h5ad(tmp_path / "rna.h5ad")
    atac.write_h5ad(tmp_path / "atac.h5ad")
    sim.annotation.to_csv(tmp_path / "tss.tsv", sep="\t", index=False)
    genes = list(sim.annotation["gene_name"][:60])
    calls = peak_gene_links_calls
    tsv = tmp_path / "links.tsv"
    assert main(["-q", "links", "--rna", str(tmp_path / "rna.h5ad"), "--atac",
                 str(tmp_path / "atac.h5ad"), "--annotation", str(tmp_path / "tss.tsv"),
                 "--groupby", "cell_type", "cell_type_pred", "--genes", *genes,
                 "--n-bulks", "40", "--n-background", "30", "--n-neighbors", "7",
                 "--percentile", "90", "--method", "pearson", "--seed", "3",
                 "--out", str(tsv)]) == 0
    assert len(calls) == 1
    kw = calls[0]["kwargs"]
    assert kw["groupby"] == ("cell_type", "cell_type_pred") and kw["genes"] == genes
    assert (kw["n_background"], kw["n_neighbors"], kw["percentile"]) == (30, 7, 90.0)
    # the TSV is the table of a direct call with the same settings
    direct = minnet.tl.peak_gene_links(
        rna, atac, sim.annotation, groupby=("cell_type", "cell_type_pred"), genes=genes,
        n_bulks=40, n_background=30, n_neighbors=7, percentile=90.0, method="pearson", seed=3,
        progress=False,
    )
    written = pd.read_csv(tsv, sep="\t", float_precision="round_trip")
    assert set(written["gene"]) <= set(genes) and len(written) > 20
    pd.testing.assert_frame_equal(written, direct, check_exact=True, check_dtype=False)
    # the default statistic, without the distance prior, and n_bulks "auto"
    assert main(["-q", "links", "--rna", str(tmp_path / "rna.h5ad"), "--atac",
                 str(tmp_path / "atac.h5ad"), "--annotation", str(tmp_path / "tss.tsv"),
                 "--groupby", "cell_type", "cell_type_pred", "--no-distance-prior",
                 "--out", str(tsv)]) == 0
    kw = calls[-1]["kwargs"]
    assert kw["method"] == "empirical_bayes" and kw["distance_prior"] is False
    assert kw["n_bulks"] == "auto"
    # more than two group columns is an input error (exit code 2)
    assert main(["-q", "links", "--rna", str(tmp_path / "rna.h5ad"), "--atac",
                 str(tmp_path / "atac.h5ad"), "--annotation", str(tmp_path / "tss.tsv"),
                 "--groupby", "a", "b", "c", "--out", str(tsv)]) == 2


# --------------------------------------------------------------------------------------------
# Files are checked before any work; the CLI never writes over its inputs (issue #14)
# --------------------------------------------------------------------------------------------


@pytest.fixture()
def files(tmp_path, monkeypatch):
    """Small input files of each kind in tmp_path (also the working folder)."""
    import safetensors.numpy as stn

    monkeypatch.chdir(tmp_path)
    a = ad.AnnData(np.ones((4, 3), dtype=np.float32))
    a.write_h5ad("rna.h5ad")
    a.write_h5ad("atac.h5ad")
    pd.DataFrame({"gene_name": ["g"], "chrom": ["chr1"], "tss": [1], "strand": ["+"]}).to_csv(
        "tss.tsv", sep="\t", index=False)
    # the first bytes of a model file are all the checks read
    stn.save_file({"w": np.zeros(2)}, "m.safetensors", metadata={"minnet": "{}"})
    Path("notes.txt").write_text("my notes\n")
    return tmp_path


@pytest.fixture()
def work(monkeypatch):
    """Every step after the file checks (reading, loading, training…) raises 'WORK STARTED'."""
    def started(*args, **kwargs):
        raise minnet.MinNetInputError("WORK STARTED")

    # import every module first: one imported while another is patched would keep the fake
    train_mod, model_mod, demo_mod = (importlib.import_module(f"minnet.{m}")
                                      for m in ("train", "model", "demo"))
    monkeypatch.setattr(cli, "_read", started)
    monkeypatch.setattr(train_mod, "train", started)
    monkeypatch.setattr(model_mod, "load", started)
    monkeypatch.setattr(demo_mod, "run_demo", started)
    for name in ("embed", "transfer_labels", "peak_gene_links"):
        monkeypatch.setattr(minnet.tl, name, started)


COMMANDS = {
    "train": ["train", "--rna", "rna.h5ad", "--other", "atac.h5ad", "--modality", "atac",
              "--annotation", "tss.tsv"],
    "embed": ["embed", "--model", "m.safetensors", "--input", "rna.h5ad", "--modality", "rna",
              "--annotation", "tss.tsv"],
    "transfer": ["transfer", "--reference", "rna.h5ad", "--query", "atac.h5ad", "--model",
                 "m.safetensors", "--modality", "atac"],
    "links": ["links", "--rna", "rna.h5ad", "--atac", "atac.h5ad", "--annotation", "tss.tsv",
              "--model", "m.safetensors"],
}
OUT_OK = {"train": "new.safetensors", "embed": "new.h5ad", "transfer": "new.h5ad",
          "links": "new.tsv"}


def _run(cmd: str, capsys, *extra: str, out: str | None = None) -> tuple[int, str]:
    """Exit code and stderr of one command; stderr must be one ``minnet <cmd>: error:`` line."""
    code = main(["-q", *COMMANDS[cmd], *extra, "--out", out if out is not None else OUT_OK[cmd]])
    err = capsys.readouterr().err
    if code == 2:
        assert err.startswith(f"minnet {cmd}: error: ") and err.count("\n") == 1, err
    return code, err


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


INPUTS = [(cmd, opt, COMMANDS[cmd][COMMANDS[cmd].index(opt) + 1])
          for cmd in COMMANDS for opt in COMMANDS[cmd]
          if opt.startswith("--") and opt not in ("--modality",)]


@pytest.mark.parametrize(("cmd", "option", "path"), INPUTS)
def test_out_equal_to_an_input_is_refused_and_the_input_kept(cmd, option, path, files, work,
                                                             capsys):
    before = _snapshot(files)
    code, err = _run(cmd, capsys, out=path)
    assert code == 2 and "WORK STARTED" not in err
    assert f"is the same file as the input {option} '{path}'" in err
    assert "never writes over its inputs" in err
    assert _snapshot(files) == before  # byte-identical, nothing added


@pytest.mark.parametrize("how", ["symlink", "hardlink", "dotted"])
def test_out_that_is_an_input_by_another_name_is_refused(how, files, work, capsys):
    before = (files / "rna.h5ad").read_bytes()
    if how == "symlink":
        os.symlink(files / "rna.h5ad", "alias.h5ad")
    elif how == "hardlink":
        os.link(files / "rna.h5ad", "alias.h5ad")
    out = "./sub/../alias.h5ad" if how != "dotted" else "./sub/../rna.h5ad"
    Path("sub").mkdir()
    code, err = _run("embed", capsys, out=out)
    assert code == 2 and "is the same file as the input --input 'rna.h5ad'" in err
    assert (files / "rna.h5ad").read_bytes() == before


def test_train_out_equal_to_rna_keeps_the_data_with_a_real_run(sim, tmp_path, capsys):
    """No stand-ins: the real command must stop before training writes its first checkpoint."""
    sim.rna[:200].copy().write_h5ad(tmp_path / "rna.h5ad")
    sim.atac[:200].copy().write_h5ad(tmp_path / "atac.h5ad")
    before = (tmp_path / "rna.h5ad").read_bytes()
    code = main(["-q", "train", "--rna", str(tmp_path / "rna.h5ad"), "--other",
                 str(tmp_path / "atac.h5ad"), "--modality", "atac", "--epochs", "1",
                 "--out", str(tmp_path / "rna.h5ad")])
    assert code == 2 and "never writes over its inputs" in capsys.readouterr().err
    assert (tmp_path / "rna.h5ad").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atac.h5ad", "rna.h5ad"]


@pytest.mark.parametrize("cmd", list(COMMANDS))
def test_out_that_is_a_folder_is_refused_before_any_work(cmd, files, work, capsys):
    Path("results").mkdir()
    code, err = _run(cmd, capsys, out="results")
    assert code == 2 and "--out 'results' is a folder; give a file name, e.g. 'results/" in err
    assert list(Path("results").iterdir()) == []


@pytest.mark.parametrize("cmd", list(COMMANDS))
def test_out_into_a_missing_folder_is_refused_before_any_work(cmd, files, work, capsys):
    code, err = _run(cmd, capsys, out=f"missing/{OUT_OK[cmd]}")
    assert code == 2 and "WORK STARTED" not in err
    assert "folder 'missing' does not exist; create it first (mkdir -p missing)" in err


def test_out_with_a_trailing_slash_or_under_a_file_is_refused(files, work, capsys):
    code, err = _run("train", capsys, out="model/")
    assert code == 2 and "ends with '/' but must name a file" in err
    assert not Path("model").exists()
    code, err = _run("links", capsys, out="notes.txt/links.tsv")
    assert code == 2 and "'notes.txt' is a file, not a folder" in err


def test_unwritable_out_folder_or_read_only_out_is_refused(files, work, capsys, monkeypatch):
    Path("locked").mkdir()
    Path("ro.h5ad").write_bytes((files / "rna.h5ad").read_bytes())
    real_access = os.access
    # root may write anywhere, so os.access stands in for a folder and a file without rights
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p).name not in ("locked", "ro.h5ad")
                        and real_access(p, mode))
    code, err = _run("embed", capsys, out="locked/q.h5ad")
    assert code == 2 and "folder 'locked' is not writable; choose another folder" in err
    code, err = _run("embed", capsys, out="ro.h5ad")
    assert code == 2 and "--out 'ro.h5ad' is read-only" in err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root can write into read-only folders")
def test_unwritable_out_folder_for_real(files, work, capsys):
    Path("locked").mkdir(mode=0o555)
    code, err = _run("train", capsys, out="locked/m.safetensors")
    assert code == 2 and "is not writable" in err


@pytest.mark.parametrize(("cmd", "existing", "kind"), [
    ("train", "notes.txt", "a text file"), ("train", "other.h5ad", "an h5ad (HDF5) file"),
    ("embed", "m2.safetensors", "a MinNet model file"), ("links", "other.h5ad", "an h5ad"),
])
def test_out_never_replaces_a_file_of_another_kind(cmd, existing, kind, files, work, capsys):
    Path("other.h5ad").write_bytes((files / "rna.h5ad").read_bytes())
    Path("m2.safetensors").write_bytes((files / "m.safetensors").read_bytes())
    before = Path(existing).read_bytes()
    code, err = _run(cmd, capsys, out=existing)
    assert code == 2 and f"--out '{existing}' exists and is {kind}" in err
    assert "MinNet does not replace it" in err
    assert Path(existing).read_bytes() == before


def test_out_of_its_own_kind_or_empty_is_replaced(files, work, capsys):
    """The checks let the work start when --out is an earlier result of the same kind."""
    Path("old.safetensors").write_bytes((files / "m.safetensors").read_bytes())
    Path("old.h5ad").write_bytes((files / "rna.h5ad").read_bytes())
    Path("empty.tsv").touch()
    for cmd, out in (("train", "old.safetensors"), ("embed", "old.h5ad"),
                     ("links", "empty.tsv"), ("transfer", "fresh.h5ad")):
        code, err = _run(cmd, capsys, out=out)
        assert code == 2 and "WORK STARTED" in err, (cmd, err)


def test_train_out_named_h5ad_is_refused(files, work, capsys):
    code, err = _run("train", capsys, out="model.h5ad")
    assert code == 2 and "name it e.g. 'model.safetensors'" in err


@pytest.mark.parametrize("option", ["--rna", "--other"])
def test_input_that_is_not_h5ad_is_a_clear_error(option, files, work, capsys):
    argv = ["-q", *COMMANDS["train"], "--out", "m_new.safetensors"]
    argv[argv.index(option) + 1] = "notes.txt"
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"input file 'notes.txt' ({option}) is not an h5ad file: it is a text file" in err
    argv[argv.index(option) + 1] = "m.safetensors"
    assert main(argv) == 2
    assert "it is a MinNet model file (pass it as --model)" in capsys.readouterr().err


def test_hdf5_input_that_is_not_anndata_is_a_clear_error(files, capsys, monkeypatch):
    import h5py

    with h5py.File("plain.h5", "w") as fh:
        fh["x"] = 1
    monkeypatch.setattr(minnet.tl, "transfer_labels", lambda *a, **k: pytest.fail("ran"))
    code = main(["-q", "transfer", "--reference", "plain.h5", "--query", "atac.h5ad",
                 "--out", "lab.h5ad"])
    err = capsys.readouterr().err
    assert code == 2 and "'plain.h5' is an HDF5 file but not an h5ad file anndata can read" in err


def test_missing_or_folder_input_is_a_clear_error(files, work, capsys):
    argv = ["-q", *COMMANDS["embed"], "--out", "q.h5ad"]
    argv[argv.index("--input") + 1] = "nope.h5ad"
    assert main(argv) == 2
    assert "input file 'nope.h5ad' (--input) does not exist." in capsys.readouterr().err
    argv[argv.index("--input") + 1] = str(files)
    assert main(argv) == 2
    assert "(--input) is a folder; give the file's path" in capsys.readouterr().err
    argv[argv.index("--input") + 1] = "rna.h5ad"
    argv[argv.index("--model") + 1] = "gone.safetensors"
    assert main(argv) == 2
    assert "model file 'gone.safetensors' (--model) does not exist." in capsys.readouterr().err
    if hasattr(os, "mkfifo"):  # a pipe would block the read: refused without opening it
        os.mkfifo("pipe")
        argv[argv.index("--model") + 1] = "pipe"
        assert main(argv) == 2
        assert "model file 'pipe' (--model) is not a regular file" in capsys.readouterr().err


@pytest.mark.parametrize("key", ["X/evil/../../x", "", "."])
def test_keys_that_h5ad_cannot_store_are_refused(key, files, work, capsys):
    code, err = _run("embed", capsys, "--key-added", key)
    assert code == 2 and "--key-added must be a non-empty string without '/'" in err
    code, err = _run("transfer", capsys, "--use-rep", key)
    assert code == 2 and "--use-rep must be a non-empty string without '/'" in err
    assert not Path("new.h5ad").exists()


def test_demo_out_that_is_a_file_is_refused(files, work, capsys):
    before = Path("notes.txt").read_bytes()
    assert main(["-q", "demo", "--out", "notes.txt"]) == 2
    assert "--out 'notes.txt' is a file; give a folder name" in capsys.readouterr().err
    assert Path("notes.txt").read_bytes() == before


def test_errors_are_one_line_and_ctrl_c_is_quiet(files, capsys, monkeypatch):
    def multiline(*args, **kwargs):
        raise minnet.MinNetInputError("first line\n  second line")

    monkeypatch.setattr(importlib.import_module("minnet.model"), "load", multiline)
    assert main(["-q", *COMMANDS["embed"], "--out", "q.h5ad"]) == 2
    assert capsys.readouterr().err == "minnet embed: error: first line second line\n"

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(importlib.import_module("minnet.model"), "load", interrupted)
    assert main(["-q", *COMMANDS["embed"], "--out", "q.h5ad"]) == 130
    assert capsys.readouterr().err == "minnet embed: interrupted\n"


def test_python_dash_m_minnet_is_the_command_line():
    """What `torchrun -m minnet train ...` runs."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "minnet", "--version"], capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == f"minnet {minnet.__version__}"
