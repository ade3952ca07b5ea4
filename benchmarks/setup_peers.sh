#!/usr/bin/env bash
# Install the comparison methods of benchmarks/integration.py into their own environment.
#
#   bash benchmarks/setup_peers.sh          # idempotent; MINNET_PEERS_REINSTALL=1 forces it
#
#   1. bedtools (Debian apt; GLUE's guidance graph needs it), when missing and root/sudo
#   2. benchmarks/.venv-peers: torch==2.13.0 (CPU, local wheel in /opt/wheels when present)
#      first, so that pip never pulls a CUDA build, then scglue (GLUE) and uniport, pinned
#   3. a check that Seurat (R) is installed (scripts/install.sh installs it from Debian)
# The peers' versions are written to benchmarks/.venv-peers/versions.json; integration.py copies
# them into the results.
set -euo pipefail
cd "$(dirname "$0")/.."
PEERS_VENV=${PEERS_VENV:-benchmarks/.venv-peers}
PYTHON=${PYTHON:-python3}
SCGLUE_VERSION=${SCGLUE_VERSION:-0.4.1}
UNIPORT_VERSION=${UNIPORT_VERSION:-1.3}
stamp="$PEERS_VENV/.peers-installed"
want=$(cat benchmarks/setup_peers.sh benchmarks/peers-constraints.txt | sha1sum | cut -c1-40)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ "${MINNET_PEERS_REINSTALL:-0}" != 1 ]; then
  echo "[peers] already installed in $PEERS_VENV"
  exit 0
fi

if ! command -v bedtools >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  if [ -z "$SUDO" ] || command -v sudo >/dev/null 2>&1; then
    echo "[peers] apt-get install bedtools"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends bedtools
  else
    echo "[peers] bedtools missing and no root/sudo: GLUE will be skipped" >&2
  fi
fi

if [ ! -x "$PEERS_VENV/bin/python" ]; then
  echo "[peers] creating $PEERS_VENV"
  "$PYTHON" -m venv "$PEERS_VENV"
fi
PIP="$PEERS_VENV/bin/python -m pip"
FIND=""
[ -d /opt/wheels ] && FIND="--find-links /opt/wheels"
$PIP install -q --upgrade pip
# torch first: an unpinned torch would pull a multi-GB CUDA build.
if ! "$PEERS_VENV/bin/python" -c "import torch, sys; sys.exit(not torch.__version__.startswith('2.13.0'))" 2>/dev/null; then
  echo "[peers] torch==2.13.0 (CPU)"
  $PIP install -q $FIND "torch==2.13.0"
fi
# Pins: scglue 0.4.x uses APIs removed in newer releases of some of its dependencies
# (see BENCHMARKS.md, "Peers"); the torch pin keeps the CPU wheel installed above;
# peers-constraints.txt fixes every other version, so the tables' numbers come out again.
echo "[peers] scglue==$SCGLUE_VERSION uniport==$UNIPORT_VERSION"
$PIP install -q $FIND -c benchmarks/peers-constraints.txt "torch==2.13.0" "scglue==$SCGLUE_VERSION" "uniport==$UNIPORT_VERSION" \
  "numpy<2" "anndata<0.11" "scanpy<1.11" "pandas<2.3" "scipy<1.14" "networkx<3.5" "scikit-learn<1.6" \
  "pynndescent<0.6" "umap-learn<0.5.8" \
  "scikit-misc" "leidenalg" "igraph"
"$PEERS_VENV/bin/python" - <<'PY' > "$PEERS_VENV/versions.json"
import importlib.metadata as md, json
out = {}
for name in ("scglue", "uniport", "torch", "numpy", "scanpy", "anndata", "scipy", "pandas",
             "scikit-learn", "pynndescent", "umap-learn"):
    try:
        out[name] = md.version(name)
    except md.PackageNotFoundError:
        out[name] = None
print(json.dumps(out))
PY
cat "$PEERS_VENV/versions.json"
if command -v Rscript >/dev/null 2>&1 &&
   Rscript -e 'quit(status = !requireNamespace("Seurat", quietly = TRUE))' >/dev/null 2>&1; then
  echo "[peers] Seurat $(Rscript -e 'cat(as.character(packageVersion("Seurat")))')"
else
  echo "[peers] Seurat (R) not installed: run make install (scripts/install.sh) first" >&2
fi
echo "$want" > "$stamp"
