"""Long runs: the checkpoint file, Ctrl-C, resuming, and saves that are killed half-way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import minnet
from minnet import MinNetInputError


def _train(rna, act, **kw):
    # one network: how a single network resumes (ensembles: test_ensemble.py)
    kw = {"modality": "atac", "label_key": "cell_type", "progress": False, "n_hidden": 32,
          "seed": 0, "patience": None, "n_networks": 1, **kw}
    return minnet.train(rna, act, **kw)


def test_checkpoint_holds_the_returned_model(small_activity, tmp_path):
    rna, act = small_activity
    path = tmp_path / "run.safetensors"
    model = _train(rna, act, epochs=3, checkpoint=path)
    saved = minnet.load(path)
    np.testing.assert_array_equal(saved.embed(rna, "rna"), model.embed(rna, "rna"))
    assert saved.summary["epochs_run"] == 3 and saved.summary["interrupted"] is False
    assert [p.name for p in tmp_path.iterdir()] == ["run.safetensors"]  # no temp files


def test_ctrl_c_returns_best_so_far_and_leaves_it_on_disk(small_activity, tmp_path, ctrl_c):
    rna, act = small_activity
    path = tmp_path / "run.safetensors"
    ctrl_c.at(3)
    model = _train(rna, act, epochs=10, checkpoint=path)
    assert model.summary["interrupted"] is True
    assert model.summary["epochs_run"] == 2  # epoch 3 never finished
    saved = minnet.load(path)
    assert saved.summary["interrupted"] is True
    assert saved.summary["best_epoch"] == model.summary["best_epoch"]
    np.testing.assert_array_equal(saved.embed(rna, "rna"), model.embed(rna, "rna"))


def test_ctrl_c_in_the_first_epoch_propagates(small_activity, ctrl_c):
    rna, act = small_activity
    ctrl_c.at(1)
    with pytest.raises(KeyboardInterrupt):
        _train(rna, act, epochs=3)


def test_resume_continues_the_run(small_activity, tmp_path):
    rna, act = small_activity
    path = tmp_path / "run.safetensors"
    first = _train(rna, act, epochs=2, checkpoint=path)
    resumed = _train(rna, act, epochs=5, checkpoint=path, resume=True)
    hist = resumed.summary["history"]
    assert [r["epoch"] for r in hist] == [1, 2, 3, 4, 5]
    assert hist[:2] == first.summary["history"]
    # a resumed run is reproducible
    other = tmp_path / "other.safetensors"
    _train(rna, act, epochs=2, checkpoint=other)
    twin = _train(rna, act, epochs=5, checkpoint=other, resume=True)
    np.testing.assert_array_equal(twin.embed(rna, "rna"), resumed.embed(rna, "rna"))
    # and a finished run has nothing left to do
    done = _train(rna, act, epochs=5, checkpoint=path, resume=True)
    assert done.summary["epochs_run"] == 5
    np.testing.assert_array_equal(done.embed(rna, "rna"), resumed.embed(rna, "rna"))


def test_resume_refuses_another_run(small_activity, tmp_path):
    rna, act = small_activity
    path = tmp_path / "run.safetensors"
    with pytest.raises(MinNetInputError, match="needs checkpoint="):
        _train(rna, act, epochs=2, resume=True)
    with pytest.raises(MinNetInputError, match="does not exist"):
        _train(rna, act, epochs=2, checkpoint=path, resume=True)
    _train(rna, act, epochs=1, checkpoint=path)
    with pytest.raises(MinNetInputError, match="margin: 2.0 vs 5.0"):
        _train(rna, act, epochs=2, checkpoint=path, resume=True, margin=5.0)
    with pytest.raises(MinNetInputError, match="features differ"):
        _train(rna[:, :400], act, epochs=2, checkpoint=path, resume=True)


_SIGINT_SCRIPT = textwrap.dedent("""
    import signal
    import sys
    import minnet
    # as in a terminal: a job started in the background (CI, nohup ... &) inherits an ignored
    # SIGINT, and Python then never raises KeyboardInterrupt
    signal.signal(signal.SIGINT, signal.default_int_handler)
    sim = minnet.datasets.simulate_multiome(n_cells=400, n_cell_types=4, n_genes=300, seed=1)
    model = minnet.train(sim.rna, sim.atac, modality="atac", annotation=sim.annotation,
                         epochs=100000, patience=None, n_hidden=32, progress=False,
                         checkpoint=sys.argv[1])
    print("interrupted" if model.summary["interrupted"] else "finished", flush=True)
""")


def test_sigint_leaves_a_loadable_model(tmp_path):
    path = tmp_path / "run.safetensors"
    proc = subprocess.Popen([sys.executable, "-c", _SIGINT_SCRIPT, str(path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 240
        while not path.exists() and time.time() < deadline and proc.poll() is None:
            time.sleep(0.2)
        assert path.exists(), proc.stderr.read() if proc.poll() is not None else "no checkpoint"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out.strip() == "interrupted"
    model = minnet.load(path)
    assert model.summary["interrupted"] is True
    assert model.summary["epochs_run"] >= 1


_SAVE_LOOP = textwrap.dedent("""
    import sys
    import minnet
    model = minnet.load(sys.argv[1])
    print("ready", flush=True)
    while True:
        model.save(sys.argv[2])
""")


def test_killed_save_never_leaves_a_broken_file(small_activity, tmp_path):
    rna, act = small_activity
    src = tmp_path / "source.safetensors"
    _train(rna, act, epochs=1, checkpoint=src)
    target = tmp_path / "model.safetensors"
    reference = minnet.load(src).embed(rna[:20], "rna")
    rng = np.random.default_rng(0)
    for _ in range(5):
        proc = subprocess.Popen([sys.executable, "-c", _SAVE_LOOP, str(src), str(target)],
                                stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.05, 0.5)))
        os.kill(proc.pid, signal.SIGKILL)  # no clean-up can run
        proc.wait()
        if target.exists():
            np.testing.assert_array_equal(minnet.load(target).embed(rna[:20], "rna"), reference)
    assert target.exists()
