test_that("GetMinNetPython() reports the interpreter and where it came from", {
  withr::local_options(minnet.python = NULL)
  withr::local_envvar(MINNET_PYTHON = "")
  py <- GetMinNetPython()
  expect_type(py, "character")
  expect_s3_class(py, "MinNetPython")
  expect_length(py, 1L)
  expect_output(print(py), "MinNet Python: .*\n  from: ")
  expect_true(attr(py, "source") %in% c(
    "environment variable RETICULATE_PYTHON", "scripts/install.sh (recorded at install time)",
    "reticulate's default discovery"))
  withr::local_envvar(MINNET_PYTHON = "/some/where/python")
  expect_equal(as.character(GetMinNetPython()), "/some/where/python")
  expect_equal(attr(GetMinNetPython(), "source"), "environment variable MINNET_PYTHON")
  withr::local_options(minnet.python = "/opt/py/bin/python")
  expect_equal(as.character(GetMinNetPython()), "/opt/py/bin/python")
  expect_equal(attr(GetMinNetPython(), "source"), "option minnet.python")
})

test_that("SetMinNetPython(path) sets the option and rejects missing interpreters", {
  withr::local_options(minnet.python = NULL)
  expect_error(SetMinNetPython("/no/such/python"), "no Python interpreter at '/no/such/python'")
  expect_error(SetMinNetPython(c("a", "b")), "single string")
  expect_error(SetMinNetPython(tempdir()), "a folder without bin/python")
  # a virtual environment: bin/python is a link that must not be resolved (reticulate would
  # then run the base interpreter, without the environment's packages)
  venv <- file.path(tempfile("venv"))
  dir.create(file.path(venv, "bin"), recursive = TRUE)
  exe <- file.path(R.home("bin"), "Rscript")  # any existing file will do for the option
  file.symlink(exe, file.path(venv, "bin", "python"))
  want <- file.path(normalizePath(venv), "bin", "python")
  res <- suppressWarnings(SetMinNetPython(file.path(venv, "bin", "python")))
  expect_equal(res, want)
  expect_equal(getOption("minnet.python"), want)
  expect_equal(suppressWarnings(SetMinNetPython(venv)), want)   # the folder works too
  expect_equal(as.character(GetMinNetPython()), want)
  expect_equal(attr(GetMinNetPython(), "source"), "option minnet.python")
})

test_that("the install command recorded the project's venv Python", {
  rec <- system.file("python_path", package = "minnet")
  skip_if(!nzchar(rec), "package not installed by scripts/install.sh")
  path <- readLines(rec, n = 1L)
  expect_true(file.exists(path))
  out <- run_rscript(c("library(minnet)", "p <- GetMinNetPython()",
                       "cat('PY=', p, '\\nSRC=', attr(p, 'source'), '\\n', sep = '')"),
                     env = c("RETICULATE_PYTHON=", "MINNET_PYTHON="))
  expect_match(out$output, paste0("PY=", path), fixed = TRUE)
  expect_match(out$output, "SRC=scripts/install.sh", fixed = TRUE)
})

test_that("the core loads with the configured Python", {
  skip_if_no_core()
  expect_true(IsMinNetAvailable())
  py <- GetMinNetPython()
  expect_false(is.na(attr(py, "active")))
  expect_match(attr(py, "core"), "^[0-9]+\\.[0-9]+")
})

broken_core_script <- c(
  "suppressPackageStartupMessages({library(SeuratObject); library(minnet)})",
  "set.seed(1)",
  "m <- Matrix::rsparsematrix(30, 20, 0.3, rand.x = function(n) rpois(n, 4) + 1)",
  "dimnames(m) <- list(paste0('Gene', 1:30), paste0('cell', 1:20))",
  "obj <- CreateSeuratObject(counts = m)",
  "obj[['ACTIVITY']] <- CreateAssayObject(counts = m)",
  "pk <- m[1:12, ]; rownames(pk) <- sprintf('chr1-%d-%d', 1:12 * 1000, 1:12 * 1000 + 500)",
  "obj[['peaks']] <- CreateAssayObject(counts = pk)",
  "obj$celltype <- rep(c('A', 'B'), 10)",
  "obj <- AddMinNetEmbedding(obj, matrix(rnorm(80), 20, dimnames = list(colnames(obj), NULL)))",
  "ann <- data.frame(gene_name = rownames(m), chrom = 'chr1', tss = 1:30 * 400, strand = '+')",
  "model <- structure(list(modalities = c('rna', 'atac'), features = list(rna = rownames(m),",
  "  atac = rownames(m)), labels = c('A', 'B'), has.annotation = FALSE, bytes = raw(0),",
  "  cache = new.env()), class = 'MinNetModel')",
  "f <- tempfile(); writeLines('x', f)",
  "ok <- IsMinNetAvailable(); cat('AVAILABLE=', isTRUE(ok), '\\n', sep = '')",
  # an input error is still reported as such: checks come before Python
  "e1 <- tryCatch(TrainMinNet(obj, rna.assay = 'RNAX'), error = conditionMessage)",
  "cat('INPUT=', e1, '\\n', sep = '')",
  "e2 <- tryCatch(TrainMinNet(obj, epochs = 2), error = conditionMessage)",
  "cat('CORE=', e2, '\\n', sep = '')",
  "calls <- list(",
  "  SimulateMinNetData = quote(SimulateMinNetData(100)),",
  "  RunMinNet = quote(RunMinNet(obj, model, 'RNA', 'rna')),",
  "  SaveMinNet = quote(SaveMinNet(model, tempfile())),",
  "  LoadMinNet = quote(LoadMinNet(f)),",
  "  TransferMinNetLabels = quote(TransferMinNetLabels(obj, obj)),",
  "  LinkMinNetPeaks = quote(LinkMinNetPeaks(obj, annotation = ann)))",
  "for (fn in names(calls)) {",
  "  e <- tryCatch({eval(calls[[fn]]); 'no error'}, error = conditionMessage)",
  "  cat('CALL ', fn, '=', e, '\\n', sep = '')",
  "}"
)

test_that("without a working core every function stops with one clear message", {
  out <- run_rscript(broken_core_script, env = c("MINNET_PYTHON=/nonexistent/bin/python"))
  expect_match(out$output, "AVAILABLE=FALSE", fixed = TRUE)
  expect_match(out$output, "INPUT=assay 'RNAX' (argument `rna.assay`) is not in object", fixed = TRUE)
  core_line <- regmatches(out$output, regexpr("CORE=[^\n]*", out$output))
  expect_match(core_line, "MinNet's Python core is not available: the interpreter does not exist", fixed = TRUE)
  expect_match(core_line, "/nonexistent/bin/python", fixed = TRUE)
  expect_match(core_line, "scripts/install.sh", fixed = TRUE)
  expect_match(core_line, "SetMinNetPython(", fixed = TRUE)
  for (fn in c("SimulateMinNetData", "RunMinNet", "SaveMinNet", "LoadMinNet", "TransferMinNetLabels",
               "LinkMinNetPeaks")) {
    expect_match(out$output, paste0("CALL ", fn, "=", substr(core_line, 6, nchar(core_line))),
                 fixed = TRUE, info = fn)
  }
})

test_that("a Python without the minnet module gives the same message", {
  # a Python without minnet (reticulate puts the venv first on PATH, so look elsewhere too)
  cands <- unique(c("/usr/bin/python3", "/usr/local/bin/python3", Sys.which("python3")))
  cands <- cands[nzchar(cands) & file.exists(cands)]
  lacks <- vapply(cands, function(p) system2(p, c("-c", shQuote("import minnet")),
                                             stdout = FALSE, stderr = FALSE) != 0, TRUE)
  skip_if(!any(lacks), "no Python without minnet found")
  py3 <- cands[lacks][1]
  out <- run_rscript(broken_core_script, env = c(paste0("MINNET_PYTHON=", py3)))
  core_line <- regmatches(out$output, regexpr("CORE=[^\n]*", out$output))
  expect_match(core_line, "MinNet's Python core is not available", fixed = TRUE)
  expect_match(core_line, "No module named 'minnet'", fixed = TRUE)
  expect_match(core_line, "scripts/install.sh", fixed = TRUE)
})
