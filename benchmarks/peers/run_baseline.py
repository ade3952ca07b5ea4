"""Runner: PCA on the features both modalities share (``_common.pca_baseline``), held-out cells.

    python benchmarks/peers/run_baseline.py --task sim_strong --n-cells 4000 --n-batches 4 --out OUT

RNA genes vs gene activity (ATAC) or vs proteins named like genes (ADT), each scaled, then one
joint PCA (32 components). Deterministic; rows in the task's held-out order.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from exchange import runner_args, write_result  # noqa: E402


def run(task_name: str, n_cells: int, n_batches: int, data_seed: int, out: Path) -> None:
    """Embed the held-out cells of the task with the baseline and write them to ``out``."""
    import sklearn
    from _common import pca_baseline, task_by_name

    task = task_by_name(task_name, n_cells=n_cells, seed=data_seed, n_batches=n_batches)
    if task is None:
        raise SystemExit(f"task {task_name} is not available")
    tr = task.is_train
    t0 = time.perf_counter()
    zx, zy = pca_baseline(task.rna[~tr], task.other[~tr], task.modality, task.annotation,
                          task.layer)
    write_result(out, zx, zy, {"method": "PCA baseline", "version": f"scikit-learn {sklearn.__version__}",
                               "seconds": time.perf_counter() - t0, "row_order": "task"})


def main() -> None:
    a = runner_args(__doc__, exchange=False, seed_help="unused: the baseline is deterministic")
    run(a.task, a.n_cells, a.n_batches, a.data_seed, a.out)


if __name__ == "__main__":
    main()
