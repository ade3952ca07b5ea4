#!/usr/bin/env bash
# Install everything MinNet needs on a fresh Debian machine; quick no-op when already done.
#   1. R 4.2 + Seurat + reticulate + testthat + rmarkdown from Debian (apt), when missing
#   2. a virtual environment (.venv): torch==2.13.0 (CPU) first, then the rest in one pip command,
#      at the versions of constraints.txt
#   3. the R package (rpkg/) when R is present, pointed at the venv's Python
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
R_DEBS="r-base-core r-base-dev r-cran-seurat r-cran-seuratobject r-cran-reticulate r-cran-testthat
r-cran-rmarkdown r-cran-knitr pandoc r-bioc-singlecellexperiment r-bioc-genomicranges
r-cran-roxygen2"

stamp="$VENV/.minnet-installed"
# The R package's files are part of the stamp: changing rpkg/ reinstalls it.
want=$( (cat pyproject.toml constraints.txt scripts/install.sh
         if [ -d rpkg ]; then find rpkg -type f | LC_ALL=C sort | xargs cat; fi) |
       sha1sum | cut -c1-40)
r_package_ok() {  # no R, or the R package is installed
  ! command -v Rscript >/dev/null 2>&1 ||
    Rscript -e 'quit(status = !requireNamespace("minnet", quietly = TRUE))' >/dev/null 2>&1
}
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ "${MINNET_REINSTALL:-0}" != 1 ] &&
   r_package_ok; then
  exit 0
fi

missing=""
for p in $R_DEBS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "[install] Debian packages missing:$missing"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  if [ -z "$SUDO" ] || command -v sudo >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
  else
    echo "[install] not root and no sudo: install them by hand for the R package" >&2
  fi
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[install] creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
FIND=""
[ -d /opt/wheels ] && FIND="--find-links /opt/wheels"
# torch first: an unpinned torch would pull a multi-GB CUDA build.
if ! "$VENV/bin/python" -c "import torch, sys; sys.exit(not torch.__version__.startswith('2.13.0'))" 2>/dev/null; then
  echo "[install] torch==2.13.0 (CPU)"
  $PIP install -q $FIND "torch==2.13.0"
fi
EXTRAS="test"
command -v R >/dev/null 2>&1 && EXTRAS="test,r"
echo "[install] minnet[$EXTRAS] and dependencies"
# pinned to the versions the benchmarks were measured with (constraints.txt): same numbers
$PIP install -q $FIND -c constraints.txt -e ".[$EXTRAS]"

# The R package (rpkg/, package minnet) when R is present: into the default site library
# (a user library when that is not writable), pointed at this venv's Python by recording the
# interpreter in the installed package (GetMinNetPython() reads it).
if [ -d rpkg ] && command -v R >/dev/null 2>&1 && command -v Rscript >/dev/null 2>&1; then
  if Rscript -e 'quit(status = !all(vapply(c("SeuratObject", "reticulate", "Matrix"),
                   requireNamespace, NA, quietly = TRUE)))' >/dev/null 2>&1; then
    rlib=$(Rscript -e 'cat(.libPaths()[1])')
    if [ ! -w "$rlib" ]; then
      rlib=$(Rscript -e 'cat(path.expand(Sys.getenv("R_LIBS_USER")))')
      mkdir -p "$rlib"
    fi
    echo "[install] R package minnet -> $rlib"
    rlog=$(mktemp)
    if ! R CMD INSTALL --no-multiarch --library="$rlib" rpkg >"$rlog" 2>&1; then
      tail -40 "$rlog" >&2
      echo "[install] R CMD INSTALL rpkg failed" >&2
      exit 1
    fi
    rm -f "$rlog"
    echo "$(cd "$VENV" && pwd)/bin/python" > "$rlib/minnet/python_path"
  else
    echo "[install] R is present but SeuratObject/reticulate/Matrix are not: skipping the R package" >&2
  fi
fi
echo "$want" > "$stamp"
echo "[install] done: $("$VENV/bin/python" -c 'import minnet; print("minnet", minnet.__version__)')"
