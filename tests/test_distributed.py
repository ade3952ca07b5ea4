"""Data-parallel training with torch.distributed on CPU (gloo): torchrun with two processes on
one machine, two torchrun "nodes" on localhost, and the checks around them.

Tolerance stated in the README ("Large data"): two processes of per-process batch B agree with
one process of batch 2B up to BatchNorm's per-process batch statistics and the dropout draws,
so the embeddings are compared by shape, not bit for bit: the correlation of the query cells'
pairwise distances in the two embeddings is at least 0.95 and their FOSCTTM differ by at most
0.02.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import numpy as np
import pytest
from scipy.spatial.distance import pdist

import minnet
from minnet.distributed import SINGLE, Ranks
from minnet.step import pair_batches

EPOCHS = 6
WORKER = """
import sys
import anndata as ad
import numpy as np
import minnet

rna, adt = ad.read_h5ad(sys.argv[1]), ad.read_h5ad(sys.argv[2])
model = minnet.train(rna, adt, "adt", batch_key="batch", epochs={epochs}, batch_size=32,
                     seed=0, progress=False, distributed=True, checkpoint=sys.argv[3])
query = ad.read_h5ad(sys.argv[4])
np.save(sys.argv[5] + "_" + sys.argv[6] + ".npy", model.embed(query, "rna"))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args: str) -> subprocess.Popen:
    """A torchrun launch (as ``python -m torch.distributed.run``) with one thread per worker."""
    cmd = [sys.executable, "-m", "torch.distributed.run", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**_env(), "OMP_NUM_THREADS": "1"})


def _env() -> dict[str, str]:
    """This environment without a surrounding torchrun's variables."""
    return {k: v for k, v in os.environ.items()
            if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}


def _wait(proc: subprocess.Popen, timeout: int = 400) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


@pytest.fixture(scope="module")
def cite(tmp_path_factory):
    """Paired CITE-seq training files (two batches) and a held-out batch as query."""
    sim = minnet.datasets.simulate_citeseq(n_cells=900, n_cell_types=5, n_batches=3, seed=3)
    tr = sim.rna.obs["batch"].isin(["batch0", "batch1"]).to_numpy()
    d = tmp_path_factory.mktemp("ddp")
    sim.rna[tr].write_h5ad(d / "rna.h5ad")
    sim.adt[tr].write_h5ad(d / "adt.h5ad")
    sim.rna[~tr].write_h5ad(d / "rna_q.h5ad")
    return {"dir": d, "rna": sim.rna[tr].copy(), "adt": sim.adt[tr].copy(),
            "rna_q": sim.rna[~tr].copy(), "adt_q": sim.adt[~tr].copy()}


@pytest.fixture(scope="module")
def single(cite):
    """One process, global batch 64: what two processes of 32 should reproduce."""
    return minnet.train(cite["rna"], cite["adt"], "adt", batch_key="batch", epochs=EPOCHS,
                        batch_size=64, seed=0, progress=False)


def _agree(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(pdist(a), pdist(b))[0, 1])


def test_torchrun_two_processes_match_one_process(cite, single):
    d = cite["dir"]
    out = d / "ddp.safetensors"
    log = _wait(_torchrun(
        "--nproc_per_node=2", f"--master_port={_free_port()}", "-m", "minnet", "-q", "train",
        "--rna", str(d / "rna.h5ad"), "--other", str(d / "adt.h5ad"), "--modality", "adt",
        "--batch-key", "batch", "--epochs", str(EPOCHS), "--batch-size", "32", "--seed", "0",
        "--distributed", "--out", str(out)))
    assert log.count(f"Wrote {out}") == 1  # rank 0 alone reports and writes
    ddp = minnet.load(out)
    assert ddp.summary["distributed"] == {"world_size": 2, "backend": "gloo"}
    assert ddp.summary["epochs_run"] == single.summary["epochs_run"]
    zr_d, za_d = ddp.embed(cite["rna_q"], "rna"), ddp.embed(cite["adt_q"], "adt")
    zr_s, za_s = single.embed(cite["rna_q"], "rna"), single.embed(cite["adt_q"], "adt")
    assert _agree(zr_d, zr_s) >= 0.95
    assert _agree(za_d, za_s) >= 0.95
    f_d, f_s = minnet.metrics.foscttm(zr_d, za_d), minnet.metrics.foscttm(zr_s, za_s)
    assert abs(f_d - f_s) <= 0.02
    assert f_d < 0.2  # it learnt the pairing, not just agreed on noise


def test_two_nodes_on_localhost_from_python(cite, tmp_path):
    """`torchrun --nnodes=2` twice on one machine; minnet.train(distributed=True) in workers."""
    d = cite["dir"]
    script = tmp_path / "worker.py"
    script.write_text(WORKER.format(epochs=EPOCHS))
    model_file, emb = tmp_path / "model.safetensors", tmp_path / "emb"
    port = _free_port()
    nodes = [
        _torchrun("--nnodes=2", "--nproc_per_node=1", f"--node_rank={rank}",
                  "--master_addr=127.0.0.1", f"--master_port={port}", str(script),
                  str(d / "rna.h5ad"), str(d / "adt.h5ad"), str(model_file),
                  str(d / "rna_q.h5ad"), str(emb), str(rank))
        for rank in (0, 1)
    ]
    for proc in nodes:
        _wait(proc)
    model = minnet.load(model_file)
    assert model.summary["distributed"] == {"world_size": 2, "backend": "gloo"}
    z0, z1 = np.load(f"{emb}_0.npy"), np.load(f"{emb}_1.npy")
    np.testing.assert_array_equal(z0, z1)  # every rank returns the same model
    np.testing.assert_allclose(model.embed(cite["rna_q"], "rna"), z0, rtol=1e-5, atol=1e-5)


FROM_MAIN = """
import sys
import torch
import scipy.sparse as sp
from minnet.distributed import from_main, join_group, leave_group

ranks, dev = join_group(torch.device("cpu"))
made = []
graph = from_main(lambda: made.append(ranks.rank) or sp.random(50, 50, 0.1, random_state=0,
                                                              format="csr"), ranks, dev)
print(f"rank {ranks.rank} made {made} sum {graph.sum():.6f} nnz {graph.nnz}", flush=True)
leave_group(ranks)
"""


def test_rank_zero_alone_builds_what_every_rank_gets(tmp_path):
    """``from_main``: rank 0 runs the builder (here a sparse matrix, as the RNA graph), the
    other rank receives the same object without running it."""
    script = tmp_path / "from_main.py"
    script.write_text(FROM_MAIN)
    log = _wait(_torchrun("--nproc_per_node=2", f"--master_port={_free_port()}", str(script)))
    lines = sorted(line for line in log.splitlines() if line.startswith("rank "))
    assert len(lines) == 2, log[-2000:]
    assert lines[0].startswith("rank 0 made [0] ") and lines[1].startswith("rank 1 made [] ")
    assert lines[0].split(" sum ")[1] == lines[1].split(" sum ")[1]


def test_the_group_waits_long_enough_for_rank_zeros_graph(monkeypatch):
    """The process group ``join_group`` creates has a timeout far above torch's defaults
    (NCCL 10 min), since the other ranks wait in ``from_main`` while rank 0 builds the graph."""
    import datetime

    import torch
    import torch.distributed as dist

    from minnet.distributed import join_group

    seen = {}

    class Stop(Exception):
        pass

    def init(backend, **kwargs):
        seen.update(backend=backend, **kwargs)
        raise Stop

    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", init)
    env = {"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": "29999"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(Stop):
        join_group(torch.device("cpu"))
    assert seen["backend"] == "gloo" and seen["timeout"] >= datetime.timedelta(hours=1)


def test_distributed_outside_torchrun_is_a_clear_error(cite, monkeypatch):
    for key in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(minnet.MinNetInputError, match="torchrun"):
        minnet.train(cite["rna"], cite["adt"], "adt", epochs=1, progress=False,
                     distributed=True)


def test_each_rank_trains_on_its_own_contiguous_shard():
    ranks = [Ranks(rank=r, world_size=3) for r in range(3)]
    batch = np.arange(10)
    shards = [r.shard(batch) for r in ranks]
    np.testing.assert_array_equal(np.concatenate(shards), batch)  # a partition, in order
    assert [len(s) for s in shards] == [4, 3, 3]
    np.testing.assert_array_equal(SINGLE.shard(batch), batch)


def test_last_batch_gives_every_rank_two_rows():
    batches = list(pair_batches(131, 64, None, min_last=4))  # 131 = 2·64 + 3: 3 < 4 folded
    assert [len(b) for b in batches] == [64, 67]
    assert [len(b) for b in pair_batches(131, 64, None)] == [64, 64, 3]


def test_one_process_path_is_unchanged(cite, single):
    """distributed=False and the default agree bit for bit (same seed, CPU)."""
    again = minnet.train(cite["rna"], cite["adt"], "adt", batch_key="batch", epochs=EPOCHS,
                         batch_size=64, seed=0, progress=False, distributed=False)
    np.testing.assert_array_equal(again.embed(cite["rna_q"], "rna"),
                                  single.embed(cite["rna_q"], "rna"))
    assert again.summary["distributed"] is None

