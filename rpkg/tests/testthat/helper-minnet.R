# Shared helpers and small fixtures for the minnet tests.
suppressPackageStartupMessages({
  library(Seurat)
  library(minnet)
})

# One layer (v5) / slot (v4) of an assay, on SeuratObject 4.1 and 5.x alike: `slot =` of
# GetAssayData() is defunct from SeuratObject 5.3, and LayerData() does not exist before 5.0.
so_v5 <- function() utils::packageVersion("SeuratObject") >= "5.0.0"
assay_data <- function(object, layer = "counts", assay = NULL) {
  if (so_v5()) {
    SeuratObject::LayerData(object, layer = layer, assay = assay)
  } else {
    SeuratObject::GetAssayData(object, slot = layer, assay = assay)
  }
}

# A small Seurat object built in R only (no Python): 30 genes x 20 cells, two cell types.
toy_object <- function(n_genes = 30, n_cells = 20, seed = 1) {
  set.seed(seed)
  m <- Matrix::rsparsematrix(n_genes, n_cells, 0.3, rand.x = function(n) rpois(n, 4) + 1)
  dimnames(m) <- list(sprintf("Gene%04d", seq_len(n_genes) - 1L), sprintf("cell%03d", seq_len(n_cells)))
  obj <- SeuratObject::CreateSeuratObject(counts = m)
  obj$celltype <- rep(c("A", "B"), length.out = n_cells)
  obj$batch <- rep(c("b1", "b2"), each = n_cells / 2)
  obj
}

toy_peaks <- function(obj) {
  set.seed(2)
  peaks <- sprintf("chr1-%d-%d", seq(1000, by = 1000, length.out = 12), seq(1500, by = 1000, length.out = 12))
  m <- Matrix::rsparsematrix(length(peaks), ncol(obj), 0.3, rand.x = function(n) rpois(n, 2) + 1)
  dimnames(m) <- list(peaks, colnames(obj))
  obj[["peaks"]] <- SeuratObject::CreateAssayObject(counts = m)
  obj
}

# `obj` with its cells removed through the slots (SeuratObject 4's subset() refuses to keep no
# cells; SeuratObject 5 and edited objects do not).
without_cells <- function(obj) {
  obj <- as_v4_assays(obj)
  for (a in SeuratObject::Assays(obj)) {
    obj@assays[[a]] <- drop_assay_cells(obj@assays[[a]])
  }
  obj@meta.data <- obj@meta.data[0, , drop = FALSE]
  obj@active.ident <- factor()
  obj
}

# `obj` with its Assay5 assays (SeuratObject 5's default) turned into v4 assays, for tests that
# edit an assay's slots directly.
as_v4_assays <- function(obj) {
  for (a in SeuratObject::Assays(obj)) {
    if (inherits(obj[[a]], "Assay5")) {
      suppressWarnings(obj[[a]] <- methods::as(obj[[a]], "Assay"))
    }
  }
  obj
}

# A v4 assay with its cells removed through the slots.
drop_assay_cells <- function(a) {
  a@counts <- a@counts[, 0, drop = FALSE]
  a@data <- a@data[, 0, drop = FALSE]
  a
}

# A model handle made in R only, for checks that must fail before Python is used.
fake_model <- function(genes = sprintf("Gene%04d", 0:29)) {
  structure(list(modalities = c("rna", "atac"), features = list(rna = genes, atac = genes),
                 labels = c("A", "B"), config = list(n_latent = 32L, n_hidden = 8L),
                 summary = list(), history = data.frame(), has.annotation = FALSE,
                 bytes = raw(0), command = NULL, cache = new.env()),
            class = "MinNetModel")
}

# The core is needed by the workflow tests; scripts/test.sh sets MINNET_TEST_REQUIRE_CORE=1
# so that a broken installation fails instead of skipping.
skip_if_no_core <- function() {
  ok <- IsMinNetAvailable()
  if (!isTRUE(ok)) {
    if (identical(Sys.getenv("MINNET_TEST_REQUIRE_CORE"), "1")) {
      stop(attr(ok, "message"), call. = FALSE)
    }
    testthat::skip(paste("MinNet Python core not available:", attr(ok, "message")))
  }
}

.fixtures <- new.env()

# Simulated data (600 cells: paired batch0, unpaired RNA / ATAC from batch1) and a model
# trained on peaks + annotation, shared by the workflow tests.
fx_sim <- function() {
  if (is.null(.fixtures$sim)) {
    .fixtures$sim <- SimulateMinNetData(n.cells = 600, n.cell.types = 4, n.genes = 200,
                                    n.background.peaks = 100, seed = 3)
  }
  .fixtures$sim
}

fx_model <- function() {
  if (is.null(.fixtures$model)) {
    sim <- fx_sim()
    .fixtures$model <- TrainMinNet(sim$paired, other.assay = "peaks", modality = "atac",
                                   label = "celltype", annotation = sim$annotation,
                                   epochs = 30, n_hidden = 128, verbose = FALSE)
  }
  .fixtures$model
}

# A second model (other weights, the same features), for checks that two models' co-embeddings
# are not mixed.
fx_other_model <- function() {
  if (is.null(.fixtures$other)) {
    sim <- fx_sim()
    .fixtures$other <- TrainMinNet(sim$paired, other.assay = "peaks", modality = "atac",
                                   label = "celltype", annotation = sim$annotation,
                                   epochs = 2, n_hidden = 16, seed = 1, verbose = FALSE)
  }
  .fixtures$other
}

# `returned` keeps everything `original` held: cells, every assay's counts and data, metadata
# columns, reductions, commands and identities (results may only be added).
expect_keeps_original <- function(returned, original) {
  expect_identical(SeuratObject::Cells(returned), SeuratObject::Cells(original))
  expect_true(all(SeuratObject::Assays(original) %in% SeuratObject::Assays(returned)))
  for (a in SeuratObject::Assays(original)) {
    for (slot in c("counts", "data")) {
      expect_identical(suppressWarnings(assay_data(returned, slot, assay = a)),
                       suppressWarnings(assay_data(original, slot, assay = a)))
    }
  }
  expect_identical(returned[[]][, colnames(original[[]]), drop = FALSE], original[[]])
  for (r in SeuratObject::Reductions(original)) {
    expect_identical(SeuratObject::Embeddings(returned, r), SeuratObject::Embeddings(original, r))
  }
  expect_true(all(names(original@commands) %in% names(returned@commands)))
  expect_identical(SeuratObject::Idents(returned), SeuratObject::Idents(original))
  expect_identical(SeuratObject::DefaultAssay(returned), SeuratObject::DefaultAssay(original))
}

# Run R code in a fresh Rscript with extra environment variables; returns its output lines
# and exit status.
run_rscript <- function(code, env = character()) {
  f <- tempfile(fileext = ".R")
  writeLines(code, f)
  on.exit(unlink(f))
  out <- suppressWarnings(system2(file.path(R.home("bin"), "Rscript"), c("--vanilla", f),
                                  env = env, stdout = TRUE, stderr = TRUE))
  list(output = paste(out, collapse = "\n"), status = attr(out, "status") %||% 0L)
}

`%||%` <- function(a, b) if (is.null(a)) b else a
