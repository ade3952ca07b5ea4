# Every name of earlier releases warns that it is deprecated, names its replacement and gives
# the replacement's result.

expect_deprecated <- function(expr, old, new) {
  expect_warning(expr, sprintf("'%s' is deprecated.\nUse '%s' instead.", old, new),
                 fixed = TRUE)
}

# Seurat objects compared without their command logs' time stamps.
same_result <- function(a, b) {
  if (inherits(a, "Seurat")) {
    expect_identical(names(a@commands), names(b@commands))
    a@commands <- b@commands <- list()
  }
  expect_equal(a, b)
}

test_that("the deprecated pure-R names warn and still work", {
  obj <- toy_peaks(toy_object())
  cells <- colnames(obj)
  emb <- matrix(seq_len(length(cells) * 3), ncol = 3, dimnames = list(cells, NULL))
  links <- data.frame(gene = "Gene0001", peak = "chr1-1000-1500", score = 0.5, zscore = 3,
                      pvalue = 0.001, qvalue = 0.01, distance = -250)
  expect_deprecated(old <- MinNetAnnDataPieces(obj, "RNA"), "MinNetAnnDataPieces",
                    "CreateMinNetAnnDataPieces")
  same_result(old, CreateMinNetAnnDataPieces(obj, "RNA"))
  expect_deprecated(old <- MinNetDimReduc(emb, assay = "RNA"), "MinNetDimReduc",
                    "CreateMinNetDimReduc")
  same_result(old, CreateMinNetDimReduc(emb, assay = "RNA"))
  expect_deprecated(old <- MinNetAddEmbedding(obj, emb, assay = "RNA"), "MinNetAddEmbedding",
                    "AddMinNetEmbedding")
  same_result(old, AddMinNetEmbedding(obj, emb, assay = "RNA"))
  expect_true("AddMinNetEmbedding.RNA" %in% names(old@commands))   # logged under the new name
  lab <- rep(c("x", "y"), length.out = length(cells))
  sc <- seq(0.1, 1, length.out = length(cells))
  expect_deprecated(old <- MinNetAddPredictions(obj, lab, sc), "MinNetAddPredictions",
                    "AddMinNetPredictions")
  same_result(old, AddMinNetPredictions(obj, lab, sc))
  expect_deprecated(old <- MinNetStoreLinks(obj, links), "MinNetStoreLinks", "AddMinNetLinks")
  same_result(old, AddMinNetLinks(obj, links))
  expect_deprecated(got <- MinNetLinks(old), "MinNetLinks", "GetMinNetLinks")
  same_result(got, GetMinNetLinks(old))
  withr::local_options(minnet.python = "/opt/py/bin/python")
  expect_deprecated(py <- minnet_python(), "minnet_python", "GetMinNetPython")
  expect_equal(py, GetMinNetPython())
  expect_deprecated(expect_error(minnet_python("/no/such/python"), "no Python interpreter"),
                    "minnet_python", "SetMinNetPython")
  skip_if_not_installed("GenomicRanges")
  expect_deprecated(old <- MinNetLinksGRanges(links), "MinNetLinksGRanges",
                    "CreateMinNetLinksGRanges")
  same_result(old, CreateMinNetLinksGRanges(links))
  gr <- GenomicRanges::GRanges("chr1", IRanges::IRanges(c(100, 900), c(200, 1500)),
                               strand = c("+", "-"), gene_name = c("A", "B"))
  expect_deprecated(old <- MinNetAnnotation(gr), "MinNetAnnotation", "CreateMinNetAnnotation")
  same_result(old, CreateMinNetAnnotation(gr))
})

test_that("the deprecated names that use the core warn and still work", {
  skip_if_no_core()
  expect_deprecated(ok <- minnet_available(), "minnet_available", "IsMinNetAvailable")
  expect_identical(ok, IsMinNetAvailable())
  expect_deprecated(old <- MinNetSimulate(80, 2, n.genes = 120, n.background.peaks = 20,
                                          seed = 1), "MinNetSimulate", "SimulateMinNetData")
  sim <- SimulateMinNetData(80, 2, n.genes = 120, n.background.peaks = 20, seed = 1)
  for (nm in c("paired", "rna", "atac", "multiome")) same_result(old[[nm]], sim[[nm]])
  expect_equal(old[c("annotation", "links")], sim[c("annotation", "links")])
  expect_deprecated(old <- MinNetAnnotation(sim$annotation), "MinNetAnnotation",
                    "CreateMinNetAnnotation")
  same_result(old, CreateMinNetAnnotation(sim$annotation))

  # a random co-embedding is enough to check that the same call gives the same result
  set.seed(4)
  obj <- sim$multiome
  obj <- AddMinNetEmbedding(obj, matrix(rnorm(ncol(obj) * 4), ncol = 4,
                                        dimnames = list(colnames(obj), NULL)), assay = "RNA")
  expect_deprecated(old <- MinNetTransferLabels(obj, obj, k = 5), "MinNetTransferLabels",
                    "TransferMinNetLabels")
  new <- TransferMinNetLabels(obj, obj, k = 5)
  same_result(old, new)
  expect_true("TransferMinNetLabels" %in% names(old@commands))
  expect_deprecated(old <- MinNetLinkPeaks(obj, annotation = sim$annotation, group.by = NULL,
                                           n.bulks = 8, n.background = 5, verbose = FALSE),
                    "MinNetLinkPeaks", "LinkMinNetPeaks")
  same_result(old, LinkMinNetPeaks(obj, annotation = sim$annotation, group.by = NULL,
                                    n.bulks = 8, n.background = 5, verbose = FALSE))
  expect_true("LinkMinNetPeaks" %in% names(old@commands))
})
