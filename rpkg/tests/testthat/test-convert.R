csr_from_pieces <- function(p) {
  methods::new("dgRMatrix", j = as.integer(p$indices), p = as.integer(p$indptr),
               x = as.numeric(p$data), Dim = as.integer(p$shape),
               Dimnames = list(p$obs_names, p$var_names))
}

test_that("CreateMinNetAnnDataPieces gives the cells x features CSR of an assay", {
  obj <- toy_object()
  m <- assay_data(obj, "counts")
  p <- CreateMinNetAnnDataPieces(obj, "RNA")
  expect_equal(p$format, "csr")
  expect_equal(p$shape, c(ncol(m), nrow(m)))
  expect_identical(p$indptr, m@p)
  expect_identical(p$indices, m@i)
  expect_identical(p$data, m@x)
  expect_equal(p$obs_names, colnames(m))
  expect_equal(p$var_names, rownames(m))
  expect_equal(as.matrix(csr_from_pieces(p)), as.matrix(Matrix::t(m)))
  expect_equal(rownames(p$obs), colnames(m))
  expect_equal(p$obs$celltype, obj$celltype[colnames(m)], ignore_attr = TRUE)
})

test_that("CreateMinNetAnnDataPieces subsets features and cells and reads the data slot", {
  obj <- toy_object()
  obj <- Seurat::NormalizeData(obj, verbose = FALSE)
  d <- assay_data(obj, "data")
  feats <- rev(rownames(d)[c(2, 5, 9)])
  cells <- colnames(d)[c(7, 3, 1)]
  p <- CreateMinNetAnnDataPieces(obj, "RNA", slot = "data", features = feats, cells = cells)
  expect_equal(as.matrix(csr_from_pieces(p)), as.matrix(Matrix::t(d[feats, cells])))
  expect_equal(rownames(p$obs), cells)
})

test_that("dense and data-only assays are converted", {
  obj <- toy_object()
  dense <- as.matrix(assay_data(obj, "counts"))
  obj[["DENSE"]] <- SeuratObject::CreateAssayObject(data = log1p(dense))
  p <- CreateMinNetAnnDataPieces(obj, "DENSE", slot = "data")
  expect_equal(as.matrix(csr_from_pieces(p)), t(log1p(dense)))
  expect_error(CreateMinNetAnnDataPieces(obj, "DENSE", slot = "counts"), "empty 'counts' slot.*use slot = 'data'")
})

test_that("Seurat v5 Assay5 objects are converted where SeuratObject has them", {
  skip_if_not("CreateAssay5Object" %in% getNamespaceExports("SeuratObject"),
              "SeuratObject without Assay5")
  obj <- toy_object()
  m <- assay_data(obj, "counts")
  create5 <- getExportedValue("SeuratObject", "CreateAssay5Object")
  obj[["RNA5"]] <- create5(counts = m)
  p <- CreateMinNetAnnDataPieces(obj, "RNA5")
  expect_equal(as.matrix(csr_from_pieces(p)), as.matrix(Matrix::t(m)))
})

test_that("CreateMinNetAnnDataPieces checks its inputs", {
  obj <- toy_object()
  expect_error(CreateMinNetAnnDataPieces(list()), "`object` must be a Seurat object")
  expect_error(CreateMinNetAnnDataPieces(obj, "ATAC"), "assay 'ATAC' .* is not in object; its assays are: 'RNA'")
  expect_error(CreateMinNetAnnDataPieces(obj, "RNA", slot = "scale.data"), "`slot` must be 'counts'")
  expect_error(CreateMinNetAnnDataPieces(obj, "RNA", features = c("Gene0001", "nope")), "1 of the requested features")
  expect_error(CreateMinNetAnnDataPieces(obj, "RNA", cells = "nope"), "1 of the requested cells")
})

test_that("CreateMinNetDimReduc holds exactly the embedding, with key and cell names", {
  emb <- matrix(rnorm(40), 10, 4, dimnames = list(paste0("c", 1:10), NULL))
  dr <- CreateMinNetDimReduc(emb, assay = "RNA")
  expect_s4_class(dr, "DimReduc")
  e <- SeuratObject::Embeddings(dr)
  expect_equal(unname(e), unname(emb))
  expect_equal(rownames(e), rownames(emb))
  expect_equal(colnames(e), paste0("minnet_", 1:4))
  expect_equal(SeuratObject::Key(dr), "minnet_")
  expect_equal(SeuratObject::DefaultAssay(dr), "RNA")
  dr2 <- CreateMinNetDimReduc(unname(emb), assay = "ATAC", key = "mn_", cells = paste0("x", 1:10))
  expect_equal(rownames(SeuratObject::Embeddings(dr2)), paste0("x", 1:10))
  expect_error(CreateMinNetDimReduc(emb, "RNA", key = "minnet"), "ending in an underscore")
  expect_error(CreateMinNetDimReduc(unname(emb), "RNA"), "unique cell names")
  expect_error(CreateMinNetDimReduc(emb, "RNA", cells = "a"), "`cells` has 1 names")
  expect_error(CreateMinNetDimReduc(matrix(letters[1:4], 2), "RNA"), "numeric")
})

test_that("AddMinNetEmbedding stores a reduction in the object's cell order and logs itself", {
  obj <- toy_object()
  cells <- colnames(obj)
  emb <- matrix(seq_len(length(cells) * 3), ncol = 3, dimnames = list(rev(cells), NULL))
  before <- obj
  obj <- AddMinNetEmbedding(obj, emb, reduction.name = "mn", reduction.key = "mn_", assay = "RNA")
  expect_keeps_original(obj, before)
  e <- SeuratObject::Embeddings(obj, "mn")
  expect_equal(rownames(e), cells)
  expect_equal(unname(e), unname(emb[cells, ]))
  expect_true("AddMinNetEmbedding.RNA" %in% names(obj@commands))
  expect_equal(obj@commands[["AddMinNetEmbedding.RNA"]]$reduction.name, "mn")
  expect_error(AddMinNetEmbedding(obj, emb[-1, ], assay = "RNA"), "lacks 1 of the object's cells")
  expect_error(AddMinNetEmbedding(obj, emb, assay = "X"), "assay 'X'")
  expect_error(AddMinNetEmbedding(obj, emb, reduction.key = "bad"), "underscore")
  expect_error(AddMinNetEmbedding("obj", emb), "Seurat object")
})

test_that("AddMinNetPredictions uses Seurat's column names", {
  obj <- toy_object()
  cells <- colnames(obj)
  lab <- setNames(rep(c("x", "y"), length.out = length(cells)), rev(cells))
  sc <- setNames(seq(0.1, 1, length.out = length(cells)), rev(cells))
  before <- obj
  obj <- AddMinNetPredictions(obj, lab, sc, refdata = "celltype")
  expect_keeps_original(obj, before)
  expect_equal(obj$predicted.celltype[cells], lab[cells], ignore_attr = TRUE)
  expect_equal(obj$predicted.celltype.score[cells], sc[cells], ignore_attr = TRUE)
  expect_true("AddMinNetPredictions" %in% names(obj@commands))
  obj <- AddMinNetPredictions(obj, unname(lab), unname(sc), refdata = "lineage")
  expect_true(all(c("predicted.lineage", "predicted.lineage.score") %in% colnames(obj[[]])))
  expect_error(AddMinNetPredictions(obj, "x", 1), "one value per cell")
  expect_error(AddMinNetPredictions(obj, lab, as.character(sc)), "numeric")
  expect_error(AddMinNetPredictions(obj, c(zz = "x"), c(zz = 1)), "not in the object")
})
