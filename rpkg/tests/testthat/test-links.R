toy_links <- function() {
  data.frame(gene = c("Gene0001", "Gene0002"), peak = c("chr1-1000-1500", "chr1-5000-5500"),
             distance = c(-250, 1250), score = c(0.5, -0.2), zscore = c(3, -1),
             pvalue = c(0.001, 0.3), qvalue = c(0.01, 0.4), stringsAsFactors = FALSE)
}

test_that("CreateMinNetAnnotation reads a data.frame with the core's read_annotation", {
  skip_if_no_core()
  ann <- data.frame(gene_name = c("A", "B"), chrom = c("chr1", "chr2"), tss = c(100, 900),
                    strand = c("+", "-1"), end = c(500, 300), gene_id = c("g1", "g2"))
  out <- CreateMinNetAnnotation(ann)
  expect_equal(out$strand, c("+", "-"))
  expect_type(out$tss, "integer")
  expect_equal(out$end, c(500L, 300L))
  expect_equal(out$gene_id, c("g1", "g2"))
  expect_error(CreateMinNetAnnotation(ann[, -3]), "missing required column\\(s\\) \\['tss'\\]")
  expect_error(CreateMinNetAnnotation(transform(ann, strand = c("+", "?"))), "'strand' has 1 invalid value")
  expect_error(CreateMinNetAnnotation(transform(ann, tss = c(1.5, 2))), "non-integer values")
  # the core's strand map (e.g. 1.0 / -1.0 from a numeric column) and its handling of rows
  # without a gene name
  out2 <- CreateMinNetAnnotation(transform(ann, strand = c(1, -1), gene_name = c("A", NA)))
  expect_equal(out2$gene_name, "A")
  expect_equal(out2$strand, "+")
  expect_error(CreateMinNetAnnotation(list(a = 1)), "must be a data.frame .* or a GRanges")
})

test_that("CreateMinNetAnnotation collapses a Signac-style GRanges to one TSS per gene", {
  skip_if_not_installed("GenomicRanges")
  gr <- GenomicRanges::GRanges(
    seqnames = c("chr1", "chr1", "chr2", "chr2", "chr3"),
    ranges = IRanges::IRanges(start = c(100, 400, 1000, 1500, 50), end = c(200, 800, 1200, 2000, 90)),
    strand = c("+", "+", "-", "-", "*"),
    gene_name = c("A", "A", "B", "B", "C"), gene_id = c("gA", "gA", "gB", "gB", "gC"),
    type = c("exon", "exon", "exon", "cds", "exon"))
  out <- CreateMinNetAnnotation(gr)
  expect_equal(out$gene_name, c("A", "B", "C"))
  expect_equal(out$chrom, c("chr1", "chr2", "chr3"))
  expect_equal(out$tss, c(100L, 2000L, 50L))   # + : start, - : end
  expect_equal(out$end, c(800L, 1000L, 90L))
  expect_equal(out$strand, c("+", "-", "+"))
  expect_equal(out$gene_id, c("gA", "gB", "gC"))
  # a name on two chromosomes (pseudo-autosomal genes) keeps its first locus only
  gr3 <- suppressWarnings(c(gr, GenomicRanges::GRanges(
    "chrY", IRanges::IRanges(5000, 9000), strand = "+", gene_name = "A", gene_id = "gA",
    type = "exon")))
  expect_equal(CreateMinNetAnnotation(gr3), out)
  gr2 <- gr
  S4Vectors::mcols(gr2) <- NULL
  expect_error(CreateMinNetAnnotation(gr2), "no 'gene_name' metadata column")
})

test_that("CreateMinNetLinksGRanges spans TSS to peak midpoint", {
  skip_if_not_installed("GenomicRanges")
  gr <- CreateMinNetLinksGRanges(toy_links())
  expect_s4_class(gr, "GRanges")
  df <- BiocGenerics::as.data.frame(gr)
  # peak midpoints 1250 and 5250; TSS = midpoint - distance = 1500 and 4000
  expect_equal(df$start, c(1250, 4000))
  expect_equal(df$end, c(1500, 5250))
  expect_equal(df$gene, c("Gene0001", "Gene0002"))
  expect_equal(df$zscore, c(3, -1))
  expect_error(CreateMinNetLinksGRanges(toy_links()[, -4]), "lacks column\\(s\\) score")
  expect_error(CreateMinNetLinksGRanges(transform(toy_links(), peak = c("x", "y"))), "chr-start-end")
})

test_that("AddMinNetLinks stores links in Misc (and as GRanges) and logs itself", {
  before <- toy_peaks(toy_object())
  obj <- AddMinNetLinks(before, toy_links(), peak.assay = "peaks")
  expect_keeps_original(obj, before)
  links <- GetMinNetLinks(obj)
  expect_equal(colnames(links), c("gene", "peak", "score", "zscore", "pvalue", "qvalue", "distance"))
  expect_equal(links$score, c(0.5, -0.2))
  expect_identical(SeuratObject::Misc(obj, "minnet_links"), links)
  if (requireNamespace("GenomicRanges", quietly = TRUE)) {
    expect_s4_class(GetMinNetLinks(obj, granges = TRUE), "GRanges")
  }
  expect_true("AddMinNetLinks" %in% names(obj@commands))
  expect_equal(obj@commands[["AddMinNetLinks"]]@assay.used, "peaks")
  expect_error(AddMinNetLinks(obj, toy_links(), peak.assay = "ATAC"), "assay 'ATAC'")
  expect_error(AddMinNetLinks(obj, "links"), "must be a data.frame")
  expect_error(GetMinNetLinks(toy_object()), "no MinNet links")
  expect_error(GetMinNetLinks(1), "Seurat object")
})

test_that("LinkMinNetPeaks checks its inputs before using Python", {
  obj <- toy_peaks(toy_object())
  obj <- AddMinNetEmbedding(obj, matrix(rnorm(ncol(obj) * 4), ncol = 4,
                                        dimnames = list(colnames(obj), NULL)), assay = "RNA")
  ann <- data.frame(gene_name = rownames(obj[["RNA"]]), chrom = "chr1",
                    tss = seq(1200, by = 300, length.out = nrow(obj[["RNA"]])), strand = "+")
  expect_error(LinkMinNetPeaks("x", obj, annotation = ann), "`rna` must be a Seurat object")
  expect_error(LinkMinNetPeaks(obj, 1, annotation = ann), "`atac` must be a Seurat object")
  expect_error(LinkMinNetPeaks(obj, annotation = ann, peak.assay = "ATAC"), "assay 'ATAC' \\(argument `peak.assay`\\) is not in atac")
  expect_error(LinkMinNetPeaks(obj, annotation = ann, expression.assay = "GEX"), "assay 'GEX'")
  expect_error(LinkMinNetPeaks(obj, annotation = ann, reduction = "umap"), "reduction 'umap' is not in rna")
  expect_error(LinkMinNetPeaks(obj), "`annotation` is required")
  expect_error(LinkMinNetPeaks(obj, annotation = ann, group.by = "nope"), "metadata column 'nope'")
  expect_error(LinkMinNetPeaks(obj, annotation = ann, group.by = c("celltype", "nope")), "'nope' .* not in atac")
  expect_error(LinkMinNetPeaks(obj, annotation = ann, peak.assay = "RNA"), "does not hold peaks")
  # group.by names a column of both objects, or the ATAC cells' transferred labels
  unlabelled <- obj
  unlabelled$celltype <- NULL
  expect_error(LinkMinNetPeaks(obj, unlabelled, annotation = ann),
               "'celltype' \\(argument `group.by`\\) is not in atac.*TransferMinNetLabels")
  expect_error(LinkMinNetPeaks(obj, annotation = ann, group.by = 1), "`group.by` must be")
  # a string in place of the model is the reduction
  expect_error(LinkMinNetPeaks(obj, obj, "umap", annotation = ann), "reduction 'umap' is not in rna")
  # with a model instead of a reduction
  expect_error(LinkMinNetPeaks(obj, obj, model = list(), annotation = ann), "`model` must be a MinNet model")
  adt_model <- fake_model()
  adt_model$modalities <- c("rna", "adt")
  names(adt_model$features) <- adt_model$modalities
  expect_error(LinkMinNetPeaks(obj, obj, adt_model, annotation = ann), "needs an RNA \\+ ATAC model")
  expect_error(LinkMinNetPeaks(obj, obj, fake_model(), annotation = ann),
               "assay 'ACTIVITY' \\(argument `atac.assay`\\) is not in atac")
})

test_that("LinkMinNetPeaks's values are checked by the core, in R's names", {
  skip_if_no_core()
  obj <- toy_peaks(toy_object())
  obj <- AddMinNetEmbedding(obj, matrix(rnorm(ncol(obj) * 4), ncol = 4,
                                        dimnames = list(colnames(obj), NULL)), assay = "RNA")
  ann <- data.frame(gene_name = rownames(obj[["RNA"]]), chrom = "chr1",
                    tss = seq(1200, by = 300, length.out = nrow(obj[["RNA"]])), strand = "+")
  expect_error(LinkMinNetPeaks(obj, annotation = ann, group.by = NULL, method = "kendall",
                               n.bulks = 4, verbose = FALSE), "method must be one of")
  expect_error(LinkMinNetPeaks(obj, annotation = ann, n.bulks = 2, verbose = FALSE),
               "^LinkMinNetPeaks failed: .*needs at least 3 bulks")
  expect_error(LinkMinNetPeaks(obj, annotation = ann, group.by = NULL, n.bulks = 0,
                               verbose = FALSE), "`n.bulks` must be a positive integer or 'auto', got 0")
  expect_error(LinkMinNetPeaks(obj, annotation = transform(ann, gene_name = paste0("x", gene_name)),
                               group.by = NULL, n.bulks = 4, verbose = FALSE),
               "^LinkMinNetPeaks failed: no gene to link")
  other <- AddMinNetEmbedding(obj, matrix(0, ncol(obj), 3, dimnames = list(colnames(obj), NULL)), assay = "RNA")
  expect_error(LinkMinNetPeaks(obj, other, annotation = ann, verbose = FALSE), "differ in width \\(4 vs 3\\)")
  expect_error(LinkMinNetPeaks(obj, annotation = ann, percentile = 0, verbose = FALSE),
               "percentile must be in \\(0, 100\\]")
  expect_error(LinkMinNetPeaks(obj, annotation = ann, group.by = NULL, distance.prior = "no",
                               n.bulks = 4, verbose = FALSE),
               "`distance.prior` must be True or False")
})
