# Every Python-backed function checks the Seurat side of its inputs in R first (none of those
# checks needs Python); the numbers and values it hands to the core are checked there, and the
# core's message reaches R naming the R argument.

paired_toy <- function() {
  obj <- toy_peaks(toy_object())
  obj[["ACTIVITY"]] <- SeuratObject::CreateAssayObject(counts = assay_data(obj, "counts"))
  obj
}

test_that("TrainMinNet rejects bad input with clear errors", {
  obj <- paired_toy()
  expect_error(TrainMinNet(list()), "`object` must be a Seurat object, got an object of class 'list'")
  expect_error(TrainMinNet(obj, rna.assay = "GEX"), "assay 'GEX' \\(argument `rna.assay`\\) is not in object; its assays are: 'RNA', 'peaks', 'ACTIVITY'")
  expect_error(TrainMinNet(obj, other.assay = "ADT"), "assay 'ADT' \\(argument `other.assay`\\)")
  expect_error(TrainMinNet(obj, label = "cell_type"), "metadata column 'cell_type' \\(argument `label`\\) is not in object")
  expect_error(TrainMinNet(obj, batch = "run"), "metadata column 'run' \\(argument `batch`\\)")
  expect_error(TrainMinNet(obj, modality = "rna"), "`modality` must be one of 'atac', 'adt'")
  # the second assay defaults to ADT for CITE-seq
  expect_error(TrainMinNet(obj, modality = "adt"), "assay 'ADT' \\(argument `other.assay`\\) is not in object")
  expect_error(TrainMinNet(obj, slot = "scale.data"), "`slot` must be")
  expect_error(TrainMinNet(obj, other.object = "x"), "`other.object` must be a Seurat object")
  other <- SeuratObject::RenameCells(obj, new.names = paste0("other_", colnames(obj)))
  expect_error(TrainMinNet(obj, other.object = other), "no shared cells")
  expect_error(TrainMinNet(obj, annotation = 1), "`annotation` must be a data.frame .* or a GRanges")
})

test_that("TrainMinNet's values are checked by the core, in R's names", {
  skip_if_no_core()
  obj <- paired_toy()
  obj_na <- obj
  obj_na$celltype[3] <- NA
  expect_error(TrainMinNet(obj_na), "has 1 missing value")
  obj_one <- obj
  obj_one$celltype <- "A"
  expect_error(TrainMinNet(obj_one), "^TrainMinNet failed: .*single class")
  expect_error(TrainMinNet(obj, epochs = 0), "^TrainMinNet failed: epochs must be .*got 0")
  # peaks without an annotation train the LSI peak encoder; gene activity needs one
  expect_error(TrainMinNet(obj, other.assay = "peaks", peak.input = "gene_activity"),
               "holds ATAC peaks .* Pass annotation=")
  expect_error(TrainMinNet(obj, n_hiden = 3), "unknown argument\\(s\\) for TrainMinNet\\(\\): n_hiden")
  expect_error(TrainMinNet(obj, n.hidden = 0, verbose = FALSE), "^TrainMinNet failed: `n.hidden` must be .*got 0")
  expect_error(TrainMinNet(obj, annotation = data.frame(a = 1), other.assay = "peaks"),
               "missing required column\\(s\\) \\['gene_name', 'chrom', 'tss', 'strand'\\]")
})

test_that("RunMinNet rejects bad input with clear errors", {
  obj <- paired_toy()
  model <- fake_model()
  expect_error(RunMinNet(1, model, "RNA", "rna"), "`object` must be a Seurat object")
  expect_error(RunMinNet(obj, list(), "RNA", "rna"), "`model` must be a MinNet model")
  expect_error(RunMinNet(obj, model, "GEX", "rna"), "assay 'GEX'")
  expect_error(RunMinNet(obj, model, "RNA"), "`modality` is required")
  expect_error(RunMinNet(obj, model, "RNA", "adt"), "trained on rna \\+ atac; it cannot embed modality 'adt'")
  expect_error(RunMinNet(obj, model, "RNA", "protein"), "`modality` must be one of")
  expect_error(RunMinNet(obj, model, "RNA", "rna", reduction.key = "minnet"), "underscore")
  expect_error(RunMinNet(obj, model, "RNA", "rna", batch = "nope"), "metadata column 'nope'")
  expect_error(RunMinNet(obj, model, "peaks", "atac"), "holds peaks but the model has no gene annotation")
  expect_error(RunMinNet(obj, fake_model(paste0("X", 1:5)), "RNA", "rna"), "none of the model's 5 rna features")
  expect_error(RunMinNet(obj, model, "RNA", "rna", slot = "scale.data"), "`slot` must be")
  expect_error(RunMinNet(obj, model, "RNA", "rna", reduction.name = ""), "`reduction.name` must be")
  peaks_model <- fake_model()
  peaks_model$has.annotation <- TRUE
  expect_error(RunMinNet(obj, peaks_model, "peaks", "atac", slot = "data"), "holds peaks: .* slot = 'counts'")
})

test_that("an object or assay without cells is named as such (not as a data-only assay)", {
  obj <- paired_toy()
  empty <- without_cells(obj)
  expect_length(SeuratObject::Cells(empty), 0L)
  err <- expect_error(RunMinNet(empty, fake_model(), "RNA", "rna"), "^`object` has no cells")
  expect_false(grepl("slot = 'data'", conditionMessage(err), fixed = TRUE))
  expect_error(TrainMinNet(empty), "^`object` has no cells")
  emb <- matrix(rnorm(ncol(obj) * 4), ncol = 4, dimnames = list(colnames(obj), NULL))
  ref <- AddMinNetEmbedding(obj, emb, assay = "RNA")
  expect_error(TransferMinNetLabels(without_cells(ref), ref), "^`query` has no cells")
  # one assay without cells in an object that has cells
  obj@assays$ACTIVITY <- drop_assay_cells(obj@assays$ACTIVITY)
  err <- expect_error(RunMinNet(obj, fake_model(), "ACTIVITY", "atac"),
                      "^assay 'ACTIVITY' has no cells \\(the object has 20\\)")
  expect_false(grepl("slot = 'data'", conditionMessage(err), fixed = TRUE))
})

test_that("duplicated feature or cell names get an R fix, not AnnData's", {
  obj <- toy_object()
  counts <- assay_data(obj, "counts")[1:6, ]
  rownames(counts) <- paste0("CD", 1:6)
  obj[["ADT"]] <- SeuratObject::CreateAssayObject(counts = counts)
  obj@assays$ADT@counts@Dimnames[[1]][2] <- "CD1"   # an edited slot: Seurat would not allow it
  model <- fake_model()
  model$modalities <- c("rna", "adt")
  model$features <- list(rna = rownames(obj), adt = paste0("CD", 1:6))
  err <- expect_error(RunMinNet(obj, model, "ADT", "adt"),
                      "assay 'ADT' has 1 duplicated feature names \\(e.g. 'CD1'\\).*make.unique\\(rownames\\(counts\\)\\)")
  expect_false(grepl("var_names_make_unique", conditionMessage(err), fixed = TRUE))
  dup <- as_v4_assays(toy_object())
  dup@assays$RNA@counts@Dimnames[[2]][2] <- colnames(dup)[1]
  err <- expect_error(RunMinNet(dup, fake_model(), "RNA", "rna"),
                      "assay 'RNA' has 1 duplicated cell names \\(e.g. 'cell001'\\).*RenameCells\\(")
  expect_false(grepl("obs_names_make_unique", conditionMessage(err), fixed = TRUE))
})

test_that("reductions that different models made are refused before any Python", {
  obj <- toy_peaks(toy_object())
  emb <- matrix(rnorm(ncol(obj) * 4), ncol = 4, dimnames = list(colnames(obj), NULL))
  ref <- qry <- AddMinNetEmbedding(obj, emb, assay = "RNA")
  ref@reductions$minnet@misc$minnet <- list(model = "aaaaaaaaaaaaaaaa", modality = "rna")
  qry@reductions$minnet@misc$minnet <- list(model = "bbbbbbbbbbbbbbbb", modality = "atac")
  expect_error(TransferMinNetLabels(qry, ref),
               "reduction 'minnet' was made by different MinNet models \\(reference: aaaaaaaaaaaaaaaa; query: bbbbbbbbbbbbbbbb\\).*RunMinNet\\(\\) .*same model, or pass check.model = FALSE")
  expect_error(TransferMinNetLabels(qry, ref, check.model = NA), "`check.model` must be TRUE or FALSE")
  model <- fake_model()
  model$fingerprint <- "cccccccccccccccc"
  expect_error(TransferMinNetLabels(ref, ref, model = model, modality = "rna"),
               "\\(reference: a+; query: a+; `model`: c+\\)")
  expect_error(LinkMinNetPeaks(ref, qry, annotation = data.frame()),
               "different MinNet models \\(rna: a+; atac: b+\\)")
})

test_that("TransferMinNetLabels rejects bad input with clear errors", {
  obj <- toy_object()
  emb <- matrix(rnorm(ncol(obj) * 4), ncol = 4, dimnames = list(colnames(obj), NULL))
  ref <- AddMinNetEmbedding(obj, emb, assay = "RNA")
  expect_error(TransferMinNetLabels("q", ref), "`query` must be a Seurat object")
  expect_error(TransferMinNetLabels(ref, NULL), "`reference` must be a Seurat object")
  expect_error(TransferMinNetLabels(obj, ref), "reduction 'minnet' is not in query .*RunMinNet")
  expect_error(TransferMinNetLabels(ref, obj), "reduction 'minnet' is not in reference")
  expect_error(TransferMinNetLabels(ref, ref, refdata = "type"), "metadata column 'type' \\(argument `refdata`\\) is not in reference")
  expect_error(TransferMinNetLabels(ref, ref, unassigned = NA_character_), "`unassigned`")
})

test_that("TransferMinNetLabels's values are checked by the core, in R's names", {
  skip_if_no_core()
  obj <- toy_object()
  emb <- matrix(rnorm(ncol(obj) * 4), ncol = 4, dimnames = list(colnames(obj), NULL))
  ref <- AddMinNetEmbedding(obj, emb, assay = "RNA")
  expect_error(TransferMinNetLabels(ref, ref, k = 0), "`k` must be an integer >= 1")
  expect_error(TransferMinNetLabels(ref, ref, k = 2.5), "`k` must be an integer >= 1, got 2.5")
  expect_error(TransferMinNetLabels(ref, ref, min.confidence = 2), "min.confidence")
  q <- AddMinNetEmbedding(obj, emb[, 1:3], assay = "RNA")
  expect_error(TransferMinNetLabels(q, ref), "differ in width \\(4 vs 3\\)")
  ref_na <- ref
  ref_na$celltype <- NA
  expect_error(TransferMinNetLabels(ref, ref_na), "no labelled cells")
})

test_that("SaveMinNet, LoadMinNet and SimulateMinNetData check their arguments", {
  expect_error(SaveMinNet(list(), "x.minnet"), "`model` must be a MinNet model")
  expect_error(SaveMinNet(fake_model(), file.path(tempdir(), "no", "such", "m.minnet")), "does not exist")
  expect_error(SaveMinNet(fake_model(), 3), "`file` must be a single non-empty string")
  broken <- fake_model()
  broken$features <- NULL   # a handle edited by hand
  expect_error(SaveMinNet(broken, "x.minnet"),
               "^`model` is a damaged MinNet model handle .*Fix: load the model file again with LoadMinNet\\(\\)")
  expect_error(LoadMinNet(file.path(tempdir(), "missing.minnet")), "model file .* does not exist")
  expect_error(SimulateMinNetData(n.cells = 5), "`n.cells` must be a whole number >= 20")
  expect_error(SimulateMinNetData(modality = "rna"), "`modality` must be one of 'atac', 'adt'")
})

test_that("SimulateMinNetData's values are checked by the core, in R's names", {
  skip_if_no_core()
  expect_error(SimulateMinNetData(n.cell.types = 1), "`n.cell.types`")
  expect_error(SimulateMinNetData(batch.effect = -1), "`batch.effect`")
  expect_error(SimulateMinNetData(batch.effect = "huge"), "`batch.effect` .*'huge'")
  expect_error(SimulateMinNetData(modality = "adt", n.genes = 20, n.proteins = 30),
               "`n.proteins` \\(30\\) must not exceed `n.genes` \\(20\\)")
})

test_that("print shows a model's summary without Python", {
  out <- capture.output(print(fake_model()))
  expect_match(out[1], "MinNet model: rna \\+ atac")
  expect_match(out[3], "cell types \\(2\\): A, B")
})
