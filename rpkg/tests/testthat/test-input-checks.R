# Every Python-backed function checks its inputs in R first; none of these needs Python.

paired_toy <- function() {
  obj <- toy_peaks(toy_object())
  obj[["ACTIVITY"]] <- SeuratObject::CreateAssayObject(counts = SeuratObject::GetAssayData(obj, slot = "counts"))
  obj
}

test_that("TrainMinNet rejects bad input with clear errors", {
  obj <- paired_toy()
  expect_error(TrainMinNet(list()), "`object` must be a Seurat object, got an object of class 'list'")
  expect_error(TrainMinNet(obj, rna.assay = "GEX"), "assay 'GEX' \\(argument `rna.assay`\\) is not in object; its assays are: 'RNA', 'peaks', 'ACTIVITY'")
  expect_error(TrainMinNet(obj, other.assay = "ADT"), "assay 'ADT' \\(argument `other.assay`\\)")
  expect_error(TrainMinNet(obj, label = "cell_type"), "metadata column 'cell_type' \\(argument `label`\\) is not in object")
  expect_error(TrainMinNet(obj, batch = "run"), "metadata column 'run' \\(argument `batch`\\)")
  obj_na <- obj
  obj_na$celltype[3] <- NA
  expect_error(TrainMinNet(obj_na), "has 1 missing value")
  obj_one <- obj
  obj_one$celltype <- "A"
  expect_error(TrainMinNet(obj_one), "single cell type")
  expect_error(TrainMinNet(obj, modality = "rna"), "`modality` must be one of 'atac', 'adt'")
  # the second assay defaults to ADT for CITE-seq
  expect_error(TrainMinNet(obj, modality = "adt"), "assay 'ADT' \\(argument `other.assay`\\) is not in object")
  expect_error(TrainMinNet(obj, slot = "scale.data"), "`slot` must be")
  expect_error(TrainMinNet(obj, epochs = 0), "`epochs` must be a whole number >= 1")
  expect_error(TrainMinNet(obj, other.assay = "peaks"), "holds peaks .* pass `annotation`")
  expect_error(TrainMinNet(obj, n_hiden = 3), "unknown argument\\(s\\) for TrainMinNet\\(\\): n_hiden")
  expect_error(TrainMinNet(obj, other.object = "x"), "`other.object` must be a Seurat object")
  other <- SeuratObject::RenameCells(obj, new.names = paste0("other_", colnames(obj)))
  expect_error(TrainMinNet(obj, other.object = other), "no shared cells")
  expect_error(TrainMinNet(obj, annotation = data.frame(a = 1), other.assay = "peaks"),
               "lacks column\\(s\\) gene_name, chrom, tss, strand")
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

test_that("MinNetTransferLabels rejects bad input with clear errors", {
  obj <- toy_object()
  emb <- matrix(rnorm(ncol(obj) * 4), ncol = 4, dimnames = list(colnames(obj), NULL))
  ref <- MinNetAddEmbedding(obj, emb, assay = "RNA")
  expect_error(MinNetTransferLabels("q", ref), "`query` must be a Seurat object")
  expect_error(MinNetTransferLabels(ref, NULL), "`reference` must be a Seurat object")
  expect_error(MinNetTransferLabels(obj, ref), "reduction 'minnet' is not in query .*RunMinNet")
  expect_error(MinNetTransferLabels(ref, obj), "reduction 'minnet' is not in reference")
  expect_error(MinNetTransferLabels(ref, ref, refdata = "type"), "metadata column 'type' \\(argument `refdata`\\) is not in reference")
  expect_error(MinNetTransferLabels(ref, ref, k = 0), "`k` must be a whole number >= 1")
  expect_error(MinNetTransferLabels(ref, ref, min.confidence = 2), "min.confidence")
  expect_error(MinNetTransferLabels(ref, ref, unassigned = NA_character_), "`unassigned`")
  q <- MinNetAddEmbedding(obj, emb[, 1:3], assay = "RNA")
  expect_error(MinNetTransferLabels(q, ref), "differ in width \\(4 vs 3\\)")
  ref_na <- ref
  ref_na$celltype <- NA
  expect_error(MinNetTransferLabels(ref, ref_na), "no labelled cells")
})

test_that("SaveMinNet, LoadMinNet and MinNetSimulate check their arguments", {
  expect_error(SaveMinNet(list(), "x.minnet"), "`model` must be a MinNet model")
  expect_error(SaveMinNet(fake_model(), file.path(tempdir(), "no", "such", "m.minnet")), "does not exist")
  expect_error(SaveMinNet(fake_model(), 3), "`file` must be a single non-empty string")
  expect_error(LoadMinNet(file.path(tempdir(), "missing.minnet")), "model file .* does not exist")
  expect_error(MinNetSimulate(n.cells = 5), "`n.cells` must be a whole number >= 20")
  expect_error(MinNetSimulate(n.cell.types = 1), "`n.cell.types`")
  expect_error(MinNetSimulate(batch.effect = -1), "`batch.effect`")
  expect_error(MinNetSimulate(modality = "rna"), "`modality` must be one of 'atac', 'adt'")
  expect_error(MinNetSimulate(modality = "adt", n.genes = 20, n.proteins = 30),
               "`n.proteins` \\(30\\) cannot exceed `n.genes` \\(20\\)")
})

test_that("print shows a model's summary without Python", {
  out <- capture.output(print(fake_model()))
  expect_match(out[1], "MinNet model: rna \\+ atac")
  expect_match(out[3], "cell types \\(2\\): A, B")
})
