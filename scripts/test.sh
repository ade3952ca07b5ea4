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
# the venv's Python. Skipped only when R or the installed R package is missing (the install
# command installs both wherever R is present), or with MINNET_SKIP_R=1.
if [ "${MINNET_SKIP_R:-0}" != 1 ] && command -v Rscript >/dev/null 2>&1 &&
   Rscript -e 'quit(status = !requireNamespace("minnet", quietly = TRUE))' >/dev/null 2>&1; then
  RETICULATE_PYTHON="$(cd "$VENV" && pwd)/bin/python"
  export RETICULATE_PYTHON
  r_start=$SECONDS
  # MINNET_TEST_REQUIRE_CORE: a missing Python core fails the tests instead of skipping them
  MINNET_TEST_REQUIRE_CORE=1 Rscript -e 'testthat::test_dir("rpkg/tests/testthat", stop_on_failure = TRUE)'
  vig_out=$(mktemp -d)
  Rscript -e "rmarkdown::render('vignettes/minnet-seurat.Rmd', output_dir = '$vig_out',
              intermediates_dir = '$vig_out', knit_root_dir = '$vig_out', quiet = TRUE)"
  echo "[test] vignette rendered: $vig_out/minnet-seurat.html"
  echo "[test] R package tests and vignette: $((SECONDS - r_start)) s"
else
  echo "[test] R or the R package minnet is not installed: R tests skipped"
fi
