#!/usr/bin/env bash
# The test command (README, .ci/run): lint, then the whole pytest suite, then the R package's
# testthat tests and its Seurat vignette (when R is present).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
export MPLBACKEND=Agg
"$VENV/bin/ruff" check python tests benchmarks vignettes rpkg/inst/python
"$VENV/bin/python" -m pytest -q -p no:cacheprovider tests "$@"

# The R package (rpkg/): its testthat tests and the Seurat vignette, rendered to HTML, with
# the venv's Python, under every R stack the install command set up: Debian's (Seurat 4.3 /
# SeuratObject 4.1), and, when ../shared/r-sources exists, "v4signac" (Signac 1.10) and "v5"
# (SeuratObject 5.4 / Seurat 5.1), each a library cached outside the clone under the package
# minnet installed in $VENV/rlib/<stack>. Then `R CMD check --no-manual` of rpkg/ (Debian stack).
# Skipped only when R or the installed R package is missing (the install command installs both
# wherever R is present), or with MINNET_SKIP_R=1; MINNET_SKIP_RCHECK=1 skips R CMD check.
if [ "${MINNET_SKIP_R:-0}" != 1 ] && command -v Rscript >/dev/null 2>&1 &&
   Rscript -e 'quit(status = !requireNamespace("minnet", quietly = TRUE))' >/dev/null 2>&1; then
  RETICULATE_PYTHON="$(cd "$VENV" && pwd)/bin/python"
  export RETICULATE_PYTHON
  r_start=$SECONDS
  stacks="v4"
  for st in v4signac v5; do
    if [ -f "$VENV/rlib/$st/.stack" ] && [ -d "$(cat "$VENV/rlib/$st/.stack")" ]; then
      stacks="$stacks $st"
    fi
  done
  r_out=$(mktemp -d)
  summary=""
  for st in $stacks; do
    libs=""
    if [ "$st" != v4 ]; then
      libs="$(cd "$VENV/rlib/$st" && pwd):$(cat "$VENV/rlib/$st/.stack")"
    elif [ -d "$VENV/rlib/v4/minnet" ]; then   # this clone's rpkg/, before the site library's
      libs="$(cd "$VENV/rlib/v4" && pwd)"
    fi
    st_start=$SECONDS
    echo "[test] R stack $st: testthat and vignette"
    # MINNET_TEST_REQUIRE_CORE: a missing Python core fails the tests instead of skipping them
    R_LIBS="$libs" MINNET_TEST_REQUIRE_CORE=1 Rscript -e "
      v <- function(p) if (requireNamespace(p, quietly = TRUE)) as.character(packageVersion(p)) else 'none'
      cat(sprintf('[test] stack $st: Seurat %s, SeuratObject %s, Signac %s, Matrix %s\n',
                  v('Seurat'), v('SeuratObject'), v('Signac'), v('Matrix')))
      r <- as.data.frame(testthat::test_dir('rpkg/tests/testthat', stop_on_failure = TRUE))
      cat(sprintf('passed %d, skipped %d, failed %d, errors %d',
                  sum(r\$passed), sum(r\$skipped), sum(r\$failed), sum(r\$error)),
          file = '$r_out/$st.counts')"
    R_LIBS="$libs" Rscript -e "rmarkdown::render('vignettes/minnet-seurat.Rmd',
              output_file = 'minnet-seurat-$st.html', output_dir = '$r_out',
              intermediates_dir = '$r_out', knit_root_dir = '$r_out', quiet = TRUE)"
    line="[test] R stack $st: testthat $(cat "$r_out/$st.counts"); vignette $r_out/minnet-seurat-$st.html ($((SECONDS - st_start)) s)"
    echo "$line"
    summary="$summary$line"$'\n'
  done
  if [ "${MINNET_SKIP_RCHECK:-0}" != 1 ]; then
    check_start=$SECONDS
    (cd "$r_out" && R CMD build --no-build-vignettes "$OLDPWD/rpkg" >build.log 2>&1) ||
      { cat "$r_out/build.log"; exit 1; }
    tarball=$(ls "$r_out"/minnet_*.tar.gz)
    (cd "$r_out" && _R_CHECK_FORCE_SUGGESTS_=false R CMD check --no-manual "$tarball" >check.log 2>&1) ||
      { cat "$r_out/check.log"; exit 1; }
    if grep -qE "^Status: .*(ERROR|WARNING)" "$r_out/check.log"; then
      cat "$r_out/check.log"
      echo "[test] R CMD check: errors or warnings" >&2
      exit 1
    fi
    line="[test] R CMD check --no-manual (stack v4): $(grep '^Status:' "$r_out/check.log") ($((SECONDS - check_start)) s; $r_out/check.log)"
    echo "$line"
    summary="$summary$line"$'\n'
  fi
  printf '%s' "$summary"
  echo "[test] R package tests, vignettes and check: $((SECONDS - r_start)) s"
else
  echo "[test] R or the R package minnet is not installed: R tests skipped"
fi
