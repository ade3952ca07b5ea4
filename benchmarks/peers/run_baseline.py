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

from _common import TaskSpec, spec_from_args  # noqa: E402
from exchange import runner_args, write_result  # noqa: E402


def run(spec: TaskSpec, out: Path) -> None:
    """Embed the held-out cells of the task with the baseline and write them to ``out``."""
    import sklearn
    from _common import pca_baseline

    task = spec.load()
    if task is None:
        raise SystemExit(f"task {spec.name} is not available")
    tr = task.is_train
    t0 = time.perf_counter()
    zx, zy = pca_baseline(task.rna[~tr], task.other[~tr], task.modality, task.annotation,
                          task.layer)
    write_result(out, zx, zy, {"method": "PCA baseline", "version": f"scikit-learn {sklearn.__version__}",
                               "seconds": time.perf_counter() - t0, "row_order": "task"})


def main() -> None:
    a = runner_args(__doc__, exchange=False, seed_help="unused: the baseline is deterministic")
    run(spec_from_args(a), a.out)


if __name__ == "__main__":
    main()
