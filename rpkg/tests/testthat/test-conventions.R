# Seurat's and Signac's conventions that hold on every stack: DimReduc stdev (ElbowPlot), the
# links kept for Links() (Signac's LinkPeaks cutoffs), sorted GRanges, gene_id fallback.

test_that("the minnet DimReduc carries stdev, so ElbowPlot works", {
  emb <- matrix(rnorm(40), 10, 4, dimnames = list(paste0("c", 1:10), NULL))
  dr <- CreateMinNetDimReduc(emb, assay = "RNA")
  expect_equal(SeuratObject::Stdev(dr), unname(apply(emb, 2, sd)))
  obj <- toy_object()
  obj <- AddMinNetEmbedding(obj, matrix(rnorm(ncol(obj) * 4), ncol(obj), 4,
                                        dimnames = list(colnames(obj), NULL)), assay = "RNA")
  expect_length(SeuratObject::Stdev(obj, "minnet"), 4L)
  p <- Seurat::ElbowPlot(obj, reduction = "minnet", ndims = 4)
  expect_s3_class(p, "ggplot")
})

test_that("GetMinNetLinks(all = FALSE) keeps the links that pass the stored cutoffs", {
  skip_if_not_installed("GenomicRanges")
  obj <- toy_peaks(toy_object())
  links <- data.frame(gene = c("A", "B", "C", "D"),
                      peak = c("chr1-5000-5500", "chr1-1000-1500", "chr1-3000-3500", "chr1-2000-2500"),
                      score = c(0.5, -0.3, 0.01, 0.4), zscore = c(3, -2, 0.1, 1),
                      pvalue = c(0.001, 0.01, 0.001, 0.2), qvalue = c(0.01, 0.05, 0.01, 0.5),
                      distance = c(100, -200, 50, 10))
  obj <- AddMinNetLinks(obj, links, peak.assay = "peaks")
  expect_equal(GetMinNetLinks(obj), links)                 # all tested pairs by default
  sig <- GetMinNetLinks(obj, all = FALSE)
  expect_equal(sig$gene, c("A", "B", "C"))                 # the default: q < 0.1
  gr <- GetMinNetLinks(obj, granges = TRUE)
  expect_equal(gr$gene, links$gene)                        # row for row the table
  expect_length(gr, 4L)
  expect_length(GetMinNetLinks(obj, granges = TRUE, all = FALSE), 3L)
  signac <- AddMinNetLinks(obj, links, peak.assay = "peaks", qvalue.cutoff = 1,
                           pvalue.cutoff = 0.05, score.cutoff = 0.05)
  expect_equal(GetMinNetLinks(signac, all = FALSE)$gene, c("A", "B"))  # Signac's LinkPeaks rule
  obj2 <- AddMinNetLinks(obj, links, peak.assay = "peaks", qvalue.cutoff = 1)
  expect_equal(GetMinNetLinks(obj2, all = FALSE)$gene, c("A", "B", "C", "D"))
  expect_error(AddMinNetLinks(obj, links, peak.assay = "peaks", qvalue.cutoff = "a"),
               "`qvalue.cutoff` must be one number")
  # objects stored by earlier releases (no q-value cutoff) keep Signac's rule
  old <- obj
  old@misc[["minnet_links_cutoffs"]] <- c(pvalue.cutoff = 0.05, score.cutoff = 0.05)
  expect_equal(GetMinNetLinks(old, all = FALSE)$gene, c("A", "B"))
  # the default peak assay: no ChromatinAssay, default assay RNA without peaks -> "peaks"
  expect_equal(minnet:::.default_peak_assay(obj), "peaks")
})

test_that("a GRanges annotation falls back to gene_id where gene_name is NA (as Signac)", {
  skip_if_not_installed("GenomicRanges")
  gr <- GenomicRanges::GRanges(
    seqnames = c("chr1", "chr2"), ranges = IRanges::IRanges(start = c(100, 1000), end = c(200, 1200)),
    strand = c("+", "-"), gene_name = c("A", NA), gene_id = c("gA", "gB"))
  out <- CreateMinNetAnnotation(gr)
  expect_equal(out$gene_name, c("A", "gB"))
})
