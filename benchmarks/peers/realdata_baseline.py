"""Runner: the PCA baseline (``_common.pca_baseline``) on an exchange folder with gene activity.

    .venv/bin/python benchmarks/peers/realdata_baseline.py --data TASK_DIR --out OUT

For data without a gene annotation (``benchmarks/realdata.py``): the held-out RNA counts and
the shipped gene activity of the held-out ATAC (``activity.mtx``), the genes both share each
scaled, then one joint PCA (32 components). Deterministic; rows in the exchange order.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from exchange import read_inputs, runner_args, write_result  # noqa: E402


def run(data: Path, out: Path) -> None:
    """Embed the exchange folder's RNA and gene activity with the baseline; write them."""
    import sklearn
    from _common import pca_baseline

    inp = read_inputs(data)
    if inp["activity"] is None:
        raise SystemExit(f"{data}: no activity.mtx (gene activity of the ATAC cells)")
    t0 = time.perf_counter()
    zx, zy = pca_baseline(inp["rna"], inp["activity"], "atac", None)
    write_result(out, zx, zy, {"method": "PCA baseline",
                               "version": f"scikit-learn {sklearn.__version__}",
                               "seconds": time.perf_counter() - t0, "row_order": "exchange",
                               "settings": "RNA vs shipped gene activity, 32 PCs"})


def main() -> None:
    a = runner_args(__doc__, exchange=True, seed_help="unused: the baseline is deterministic")
    run(a.data, a.out)


if __name__ == "__main__":
    main()
