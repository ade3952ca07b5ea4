#!/usr/bin/env bash
# Install everything MinNet needs on a fresh Debian machine; quick no-op when already done.
#   1. R 4.2 + Seurat + reticulate + testthat + rmarkdown from Debian (apt), when missing
#   2. a virtual environment (.venv): torch==2.13.0 (CPU) first, then the rest in one pip command,
#      at the versions of constraints.txt
#   3. the R package (rpkg/) when R is present, pointed at the venv's Python
#   4. when ../shared/r-sources exists (see its README): two extra R libraries layered over
#      Debian's, "v4signac" (Signac 1.10) and "v5" (Matrix 1.6-5, SeuratObject 5.4, Seurat 5.1),
#      built once and cached under ~/.cache/minnet/r-stacks/ keyed by the tarballs' hashes; the
#      R package is installed into a small per-stack library in the venv ($VENV/rlib/<stack>;
#      $VENV/rlib/v4 for Debian's stack, next to the site-library copy)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
R_DEBS="r-base-core r-base-dev r-cran-seurat r-cran-seuratobject r-cran-reticulate r-cran-testthat
r-cran-rmarkdown r-cran-knitr pandoc r-bioc-singlecellexperiment r-bioc-genomicranges
r-cran-roxygen2"
R_SOURCES=${MINNET_R_SOURCES:-../shared/r-sources}
R_STACK_CACHE=${MINNET_R_STACK_CACHE:-$HOME/.cache/minnet/r-stacks}
if [ -d "$R_SOURCES" ]; then
  # needed by Signac 1.10 / Seurat 5.1 (and Signac's LinkPeaks: qlcMatrix)
  R_DEBS="$R_DEBS r-bioc-rsamtools r-cran-fastmatch r-cran-rcpproll r-cran-ggforce r-cran-spam
r-cran-rcpphnsw r-cran-rspectra r-cran-qlcmatrix"
fi

stamp="$VENV/.minnet-installed"
# The R package's files are part of the stamp: changing rpkg/ reinstalls it.
want=$( (cat pyproject.toml constraints.txt scripts/install.sh
         if [ -d rpkg ]; then find rpkg -type f | LC_ALL=C sort | xargs cat; fi) |
       sha1sum | cut -c1-40)
r_package_ok() {  # no R, or the R package is installed (in every extra stack too)
  command -v Rscript >/dev/null 2>&1 || return 0
  Rscript -e 'quit(status = !requireNamespace("minnet", quietly = TRUE))' >/dev/null 2>&1 ||
    return 1
  [ -d "$VENV/rlib/v4/minnet" ] || return 1
  [ -d "$R_SOURCES" ] || return 0
  local st
  for st in v4signac v5; do
    [ -f "$VENV/rlib/$st/.stack" ] && [ -d "$(cat "$VENV/rlib/$st/.stack")" ] &&
      [ -d "$VENV/rlib/$st/minnet" ] || return 1
  done
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
    # and this clone's own copy, which the test command loads first (the site library is
    # shared by every clone on the machine: the tests must test this clone's rpkg/)
    rm -rf "$VENV/rlib/v4"
    mkdir -p "$VENV/rlib/v4"
    R CMD INSTALL --no-multiarch --library="$VENV/rlib/v4" rpkg >/dev/null 2>&1
    echo "$(cd "$VENV" && pwd)/bin/python" > "$VENV/rlib/v4/minnet/python_path"
  else
    echo "[install] R is present but SeuratObject/reticulate/Matrix are not: skipping the R package" >&2
  fi
fi

# 4. The extra R stacks (only with ../shared/r-sources): each a library of packages built from
# the source tarballs, cached outside the clone under a key made from the tarballs' hashes (a
# rebuild only when a tarball changes), plus $VENV/rlib/<stack> holding the R package minnet
# (reinstalled with rpkg/) and, in .stack, the path of the cached library it sits on.
build_r_stack() {  # name, tarball names in install order
  local name=$1; shift
  local tb files=() key dir tmp t0=$SECONDS
  for tb in "$@"; do
    files+=("$(ls "$R_SOURCES"/"$tb"_*.tar.gz | head -1)")
  done
  key=$(sha1sum "${files[@]}" | awk '{print $1}' | sha1sum | cut -c1-16)
  dir="$R_STACK_CACHE/$name-$key"
  if [ ! -f "$dir/.complete" ]; then
    echo "[install] building R stack $name (${*}) -> $dir (a few minutes, once)"
    mkdir -p "$R_STACK_CACHE"
    tmp=$(mktemp -d "$R_STACK_CACHE/.$name.XXXXXX")
    for tb in "${files[@]}"; do
      if ! R_LIBS="$tmp" MAKEFLAGS=-j2 R CMD INSTALL --no-docs --no-html --no-multiarch \
           -l "$tmp" "$tb" >"$tmp/.log" 2>&1; then
        tail -40 "$tmp/.log" >&2
        echo "[install] building $(basename "$tb") for stack $name failed" >&2
        rm -rf "$tmp"
        exit 1
      fi
    done
    rm -f "$tmp/.log"
    touch "$tmp/.complete"
    rm -rf "$dir"
    mv "$tmp" "$dir"
    echo "[install] R stack $name built in $((SECONDS - t0)) s"
  fi
  local lib="$VENV/rlib/$name" rlog
  rm -rf "$lib"
  mkdir -p "$lib"
  rlog=$(mktemp)
  if ! R_LIBS="$dir" R CMD INSTALL --no-multiarch --library="$lib" rpkg >"$rlog" 2>&1; then
    tail -40 "$rlog" >&2
    echo "[install] R CMD INSTALL rpkg into stack $name failed" >&2
    exit 1
  fi
  rm -f "$rlog"
  echo "$(cd "$VENV" && pwd)/bin/python" > "$lib/minnet/python_path"
  echo "$dir" > "$lib/.stack"
  echo "[install] R package minnet -> $lib (stack $name)"
}
if [ -d "$R_SOURCES" ] && [ -d rpkg ] && command -v R >/dev/null 2>&1; then
  build_r_stack v4signac Signac
  build_r_stack v5 Matrix SeuratObject fastDummies scattermore sctransform Seurat
fi
echo "$want" > "$stamp"
echo "[install] done: $("$VENV/bin/python" -c 'import minnet; print("minnet", minnet.__version__)')"
