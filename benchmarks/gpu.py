"""The 1M-cell pipeline on a GPU: time per phase and GPU memory (not part of the test command).

    .venv/bin/python benchmarks/gpu.py                      # 1M cells, one GPU
    .venv/bin/python benchmarks/gpu.py --sizes 100000,1000000 --out-dir /tmp/gpu

Runs ``benchmarks/scale_e2e.py --modes gpu`` (the end-to-end protocol: simulate, input specs,
graph, margins, training on ``device="cuda"`` — input held on the GPU, bfloat16 autocast — and
embedding), which records each phase's seconds, the process's peak resident memory and
``torch.cuda.max_memory_allocated`` (column ``gpu_peak_mb``) and the GPU's name. Without a CUDA
device, or with the CPU build of torch the project pins, it says which and exits with status 0,
writing nothing.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--sizes", default="1000000")
    p.add_argument("--schedules", default="default")
    args, rest = p.parse_known_args()
    import torch

    if not torch.cuda.is_available():
        why = ("this torch build has no CUDA support (the CPU wheel the project pins): install "
               f"the CUDA build of torch=={torch.__version__.split('+')[0]} to measure"
               if torch.version.cuda is None else
               "no CUDA device is visible (torch.cuda.is_available() is False)")
        print(f"benchmarks/gpu.py: {why}; nothing measured.")
        return
    script = Path(__file__).with_name("scale_e2e.py")
    sys.exit(subprocess.call([sys.executable, str(script), "--sizes", args.sizes, "--modes", "gpu",
                              "--schedules", args.schedules, *rest]))


if __name__ == "__main__":
    main()
