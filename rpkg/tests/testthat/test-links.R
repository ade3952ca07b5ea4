toy_links <- function() {
  data.frame(gene = c("Gene0001", "Gene0002"), peak = c("chr1-1000-1500", "chr1-5000-5500"),
             distance = c(-250, 1250), score = c(0.5, -0.2), zscore = c(3, -1),
             pvalue = c(0.001, 0.3), qvalue = c(0.01, 0.4), stringsAsFactors = FALSE)
}

test_that("MinNetAnnotation checks and normalises a data.frame", {
  ann <- data.frame(gene_name = c("A", "B"), chrom = c("chr1", "chr2"), tss = c(100, 900),
                    strand = c("+", "-1"), end = c(500, 300), gene_id = c("g1", "g2"))
  out <- MinNetAnnotation(ann)
  expect_equal(out$strand, c("+", "-"))
  expect_type(out$tss, "integer")
  expect_equal(out$end, c(500L, 300L))
  expect_equal(out$gene_id, c("g1", "g2"))
  expect_error(MinNetAnnotation(ann[, -3]), "lacks column\\(s\\) tss")
  expect_error(MinNetAnnotation(transform(ann, strand = c("+", "?"))), "other than '\\+'/'-'")
  expect_error(MinNetAnnotation(transform(ann, tss = c(1.5, 2))), "whole numbers")
  expect_error(MinNetAnnotation(list(a = 1)), "must be a data.frame .* or a GRanges")
})

test_that("MinNetAnnotation collapses a Signac-style GRanges to one TSS per gene", {
  skip_if_not_installed("GenomicRanges")
  gr <- GenomicRanges::GRanges(
    seqnames = c("chr1", "chr1", "chr2", "chr2", "chr3"),
    ranges = IRanges::IRanges(start = c(100, 400, 1000, 1500, 50), end = c(200, 800, 1200, 2000, 90)),
    strand = c("+", "+", "-", "-", "*"),
    gene_name = c("A", "A", "B", "B", "C"), gene_id = c("gA", "gA", "gB", "gB", "gC"),
    type = c("exon", "exon", "exon", "cds", "exon"))
  out <- MinNetAnnotation(gr)
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
  expect_equal(MinNetAnnotation(gr3), out)
  gr2 <- gr
  S4Vectors::mcols(gr2) <- NULL
  expect_error(MinNetAnnotation(gr2), "no 'gene_name' metadata column")
})

test_that("MinNetLinksGRanges spans TSS to peak midpoint", {
  skip_if_not_installed("GenomicRanges")
  gr <- MinNetLinksGRanges(toy_links())
  expect_s4_class(gr, "GRanges")
  df <- BiocGenerics::as.data.frame(gr)
  # peak midpoints 1250 and 5250; TSS = midpoint - distance = 1500 and 4000
  expect_equal(df$start, c(1250, 4000))
  expect_equal(df$end, c(1500, 5250))
  expect_equal(df$gene, c("Gene0001", "Gene0002"))
  expect_equal(df$zscore, c(3, -1))
  expect_error(MinNetLinksGRanges(toy_links()[, -4]), "lacks column\\(s\\) score")
  expect_error(MinNetLinksGRanges(transform(toy_links(), peak = c("x", "y"))), "chr-start-end")
})

test_that("MinNetStoreLinks stores links in Misc (and as GRanges) and logs itself", {
  before <- toy_peaks(toy_object())
  obj <- MinNetStoreLinks(before, toy_links(), peak.assay = "peaks")
  expect_keeps_original(obj, before)
  links <- MinNetLinks(obj)
  expect_equal(colnames(links), c("gene", "peak", "score", "zscore", "pvalue", "qvalue", "distance"))
  expect_equal(links$score, c(0.5, -0.2))
  expect_identical(SeuratObject::Misc(obj, "minnet_links"), links)
  if (requireNamespace("GenomicRanges", quietly = TRUE)) {
    expect_s4_class(MinNetLinks(obj, granges = TRUE), "GRanges")
  }
  expect_true("MinNetStoreLinks" %in% names(obj@commands))
  expect_equal(obj@commands[["MinNetStoreLinks"]]@assay.used, "peaks")
  expect_error(MinNetStoreLinks(obj, toy_links(), peak.assay = "ATAC"), "assay 'ATAC'")
  expect_error(MinNetStoreLinks(obj, "links"), "must be a data.frame")
  expect_error(MinNetLinks(toy_object()), "no MinNet links")
  expect_error(MinNetLinks(1), "Seurat object")
})

test_that("MinNetLinkPeaks checks its inputs before using Python", {
  obj <- toy_peaks(toy_object())
  obj <- MinNetAddEmbedding(obj, matrix(rnorm(ncol(obj) * 4), ncol = 4,
                                        dimnames = list(colnames(obj), NULL)), assay = "RNA")
  ann <- data.frame(gene_name = rownames(obj[["RNA"]]), chrom = "chr1",
                    tss = seq(1200, by = 300, length.out = nrow(obj[["RNA"]])), strand = "+")
  expect_error(MinNetLinkPeaks("x", obj, annotation = ann), "`rna` must be a Seurat object")
  expect_error(MinNetLinkPeaks(obj, 1, annotation = ann), "`atac` must be a Seurat object")
  expect_error(MinNetLinkPeaks(obj, annotation = ann, peak.assay = "ATAC"), "assay 'ATAC' \\(argument `peak.assay`\\) is not in atac")
  expect_error(MinNetLinkPeaks(obj, annotation = ann, expression.assay = "GEX"), "assay 'GEX'")
  expect_error(MinNetLinkPeaks(obj, annotation = ann, reduction = "umap"), "reduction 'umap' is not in rna")
  expect_error(MinNetLinkPeaks(obj), "`annotation` is required")
  expect_error(MinNetLinkPeaks(obj, annotation = ann, group.by = "nope"), "metadata column 'nope'")
  expect_error(MinNetLinkPeaks(obj, annotation = ann, group.by = c("celltype", "nope")), "'nope' .* not in atac")
  expect_error(MinNetLinkPeaks(obj, annotation = ann, method = "kendall"), "'spearman' or 'pearson'")
  expect_error(MinNetLinkPeaks(obj, annotation = ann, n.bulks = 2), "`n.bulks` must be a whole number >= 3")
  expect_error(MinNetLinkPeaks(obj, annotation = ann, peak.assay = "RNA"), "does not hold peaks")
  expect_error(MinNetLinkPeaks(obj, annotation = transform(ann, gene_name = paste0("x", gene_name))),
               "none of the genes")
  other <- MinNetAddEmbedding(obj, matrix(0, ncol(obj), 3, dimnames = list(colnames(obj), NULL)), assay = "RNA")
  expect_error(MinNetLinkPeaks(obj, other, annotation = ann), "differ in width \\(4 vs 3\\)")
  expect_error(MinNetLinkPeaks(obj, annotation = ann, percentile = 0), "`percentile`")
  expect_error(MinNetLinkPeaks(obj, annotation = ann, group.by = 1), "`group.by` must be")
  # a string in place of the model is the reduction
  expect_error(MinNetLinkPeaks(obj, obj, "umap", annotation = ann), "reduction 'umap' is not in rna")
  # with a model instead of a reduction
  expect_error(MinNetLinkPeaks(obj, obj, model = list(), annotation = ann), "`model` must be a MinNet model")
  adt_model <- fake_model()
  adt_model$modalities <- c("rna", "adt")
  expect_error(MinNetLinkPeaks(obj, obj, adt_model, annotation = ann), "needs an RNA \\+ ATAC model")
  expect_error(MinNetLinkPeaks(obj, obj, fake_model(), annotation = ann),
               "assay 'ACTIVITY' \\(argument `atac.assay`\\) is not in atac")
})
