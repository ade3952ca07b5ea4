# Seurat 5 objects (skipped on SeuratObject 4): Assay5 layers, split layers, JoinLayers, merge.

v5_object <- function(src, assay) {
  withr::local_options(Seurat.object.assay.version = "v5")
  obj <- SeuratObject::CreateSeuratObject(counts = assay_data(src, "counts", assay = assay),
                                          assay = assay)
  obj$celltype <- src$celltype
  obj
}

test_that("RunMinNet reads Assay5 layers, asks for JoinLayers on split layers", {
  skip_if_not(so_v5(), "SeuratObject < 5")
  skip_if_no_core()
  sim <- fx_sim()
  model <- fx_model()
  obj <- v5_object(sim$rna, "RNA")
  expect_s4_class(obj[["RNA"]], "Assay5")
  ref <- RunMinNet(sim$rna, model, assay = "RNA", modality = "rna", verbose = FALSE)
  got <- RunMinNet(obj, model, assay = "RNA", modality = "rna", verbose = FALSE)
  expect_equal(SeuratObject::Embeddings(got, "minnet"), SeuratObject::Embeddings(ref, "minnet"))
  split <- obj
  split[["RNA"]] <- split(split[["RNA"]], f = rep(c("a", "b"), length.out = ncol(split)))
  expect_true(all(c("counts.a", "counts.b") %in% SeuratObject::Layers(split[["RNA"]])))
  expect_error(RunMinNet(split, model, assay = "RNA", modality = "rna", verbose = FALSE),
               "JoinLayers")
  joined <- SeuratObject::JoinLayers(split)
  got2 <- RunMinNet(joined, model, assay = "RNA", modality = "rna", verbose = FALSE)
  expect_equal(SeuratObject::Embeddings(got2, "minnet")[colnames(obj), ],
               SeuratObject::Embeddings(ref, "minnet"))
})

test_that("merge keeps the minnet reduction of Assay5 objects; labels transfer", {
  skip_if_not(so_v5(), "SeuratObject < 5")
  skip_if_no_core()
  sim <- fx_sim()
  model <- fx_model()
  rna <- RunMinNet(v5_object(sim$rna, "RNA"), model, assay = "RNA", modality = "rna",
                   verbose = FALSE)
  atac <- RunMinNet(v5_object(sim$atac, "peaks"), model, assay = "peaks", modality = "atac",
                    verbose = FALSE)
  atac <- TransferMinNetLabels(atac, rna, refdata = "celltype", k = 15)
  expect_true("predicted.celltype" %in% colnames(atac[[]]))
  # SeuratObject 5 merges every reduction (merge.dr = TRUE); 4 takes their names
  joint <- merge(rna, atac, merge.dr = if (so_v5()) TRUE else "minnet")
  emb <- SeuratObject::Embeddings(joint, "minnet")
  expect_equal(nrow(emb), ncol(rna) + ncol(atac))
  expect_equal(ncol(emb), 32L)
  expect_s3_class(Seurat::ElbowPlot(rna, reduction = "minnet"), "ggplot")
})
