# Real Signac objects (skipped when Signac is not installed): a ChromatinAssay named "ATAC"
# with an annotation GRanges made from a TSS table and a fragment file, a gene-activity assay,
# training, links in Links(), and Signac's CoveragePlot / LinkPlot drawing them.

skip_if_no_signac <- function() {
  testthat::skip_if_not_installed("Signac")
  testthat::skip_if_not_installed("GenomicRanges")
  testthat::skip_if_not_installed("Rsamtools")
}

# A Signac-style gene annotation (one range per gene body, EnsDb's columns) from a TSS table.
signac_annotation <- function(ann, genome = "sim1") {
  gr <- GenomicRanges::GRanges(
    seqnames = ann$chrom,
    ranges = IRanges::IRanges(start = pmin(ann$tss, ann$end), end = pmax(ann$tss, ann$end)),
    strand = ann$strand, gene_name = ann$gene_name, gene_id = ann$gene_id,
    gene_biotype = "protein_coding", type = "exon", tx_id = paste0(ann$gene_id, ".1"))
  GenomeInfoDb::genome(gr) <- genome
  gr
}

# A tabix-indexed fragment file with one 50-bp fragment per count inside each peak.
write_fragments <- function(peaks, dir) {
  m <- methods::as(peaks, "TsparseMatrix")
  pk <- do.call(rbind, strsplit(rownames(peaks), "-"))
  start <- as.integer(pk[m@i + 1L, 2]) + 10L
  frags <- data.frame(chrom = pk[m@i + 1L, 1], start = start, end = start + 50L,
                      cell = colnames(peaks)[m@j + 1L], count = as.integer(m@x))
  frags <- frags[order(frags$chrom, frags$start), ]
  tsv <- file.path(dir, "fragments.tsv")
  utils::write.table(frags, tsv, sep = "\t", quote = FALSE, row.names = FALSE, col.names = FALSE)
  gz <- Rsamtools::bgzip(tsv, paste0(tsv, ".gz"), overwrite = TRUE)
  Rsamtools::indexTabix(gz, format = "bed")
  gz
}

fx_signac <- function() {
  if (is.null(.fixtures$signac)) {
    sim <- fx_sim()
    p <- sim$paired
    dir <- tempfile("signac")
    dir.create(dir)
    peaks <- assay_data(p, "counts", assay = "peaks")
    # a made-up genome: a Seqinfo (a name alone must be a registered assembly)
    chroms <- sort(unique(c(sim$annotation$chrom, sub("-.*", "", rownames(peaks)))))
    seqinfo <- GenomeInfoDb::Seqinfo(seqnames = chroms, seqlengths = rep(1e8, length(chroms)),
                                     genome = "sim1")
    obj <- SeuratObject::CreateSeuratObject(counts = assay_data(p, "counts", assay = "RNA"))
    obj[["ATAC"]] <- suppressWarnings(Signac::CreateChromatinAssay(
      counts = peaks, sep = c("-", "-"), annotation = signac_annotation(sim$annotation),
      fragments = write_fragments(peaks, dir), genome = seqinfo, verbose = FALSE))
    # gene activity, as Signac's GeneActivity() adds it
    obj[["ACTIVITY"]] <- SeuratObject::CreateAssayObject(
      counts = assay_data(p, "counts", assay = "ACTIVITY"))
    obj$celltype <- p$celltype
    obj <- Seurat::NormalizeData(obj, assay = "RNA", verbose = FALSE)
    .fixtures$signac <- obj
  }
  .fixtures$signac
}

test_that("TrainMinNet finds the ChromatinAssay (named ATAC) and its annotation", {
  skip_if_no_signac()
  skip_if_no_core()
  obj <- fx_signac()
  expect_s4_class(obj[["ATAC"]], "ChromatinAssay")
  expect_equal(minnet:::.default_peak_assay(obj), "ATAC")
  model <- TrainMinNet(obj, modality = "atac", annotation = Signac::Annotation(obj[["ATAC"]]),
                       epochs = 3, n_hidden = 16, verbose = FALSE)
  expect_true(model$has.annotation)
  explicit <- TrainMinNet(obj, other.assay = "ATAC", modality = "atac",
                          annotation = Signac::Annotation(obj[["ATAC"]]), epochs = 3,
                          n_hidden = 16, verbose = FALSE)
  expect_identical(model$features, explicit$features)
  # without an annotation: the gene-activity assay
  model_ga <- TrainMinNet(obj, modality = "atac", epochs = 3, n_hidden = 16, verbose = FALSE)
  expect_false(model_ga$has.annotation)
  expect_true(all(model_ga$features$atac %in% rownames(obj[["ACTIVITY"]])))
  emb <- RunMinNet(obj, model_ga, assay = "ACTIVITY", modality = "atac", verbose = FALSE)
  expect_equal(dim(SeuratObject::Embeddings(emb, "minnet")), c(ncol(obj), 32L))
})

test_that("LinkMinNetPeaks stores Signac's significant links; CoveragePlot/LinkPlot draw them", {
  skip_if_no_signac()
  skip_if_no_core()
  obj <- fx_signac()
  model <- fx_model()   # trained on the same peaks and genes
  obj <- RunMinNet(obj, model, assay = "RNA", modality = "rna", verbose = FALSE)
  linked <- LinkMinNetPeaks(obj, obj, annotation = Signac::Annotation(obj[["ATAC"]]),
                            n.bulks = 20, n.background = 30, verbose = FALSE)
  all_links <- GetMinNetLinks(linked, all = TRUE)
  lk <- Signac::Links(linked[["ATAC"]])
  expect_s4_class(lk, "GRanges")
  expect_gt(length(lk), 0L)
  expect_lt(length(lk), nrow(all_links))
  expect_true(all(lk$pvalue < 0.05 & abs(lk$score) > 0.05))
  expect_equal(length(lk), nrow(GetMinNetLinks(linked, all = FALSE)))
  expect_identical(lk, BiocGenerics::sort(lk))
  expect_equal(unique(unname(GenomeInfoDb::genome(lk))), "sim1")
  expect_true("LinkMinNetPeaks" %in% names(linked@commands))
  # CoveragePlot with links (paired object: expression from "RNA", coverage from fragments)
  top <- lk[which.max(abs(lk$score))]
  region <- sprintf("%s-%d-%d", as.character(GenomicRanges::seqnames(top)),
                    GenomicRanges::start(top) - 2000L, GenomicRanges::end(top) + 2000L)
  dir <- tempfile("plots")
  dir.create(dir)
  p1 <- suppressWarnings(Signac::CoveragePlot(linked, region = region, assay = "ATAC",
                                              features = top$gene, expression.assay = "RNA",
                                              group.by = "celltype", links = TRUE))
  f1 <- file.path(dir, "coverage.png")
  suppressWarnings(ggplot2::ggsave(f1, p1, width = 8, height = 6, dpi = 50))
  # Signac 1.10's LinkPlot reads Links() of the default assay
  SeuratObject::DefaultAssay(linked) <- "ATAC"
  p2 <- Signac::LinkPlot(linked, region = region)
  f2 <- file.path(dir, "links.png")
  suppressWarnings(ggplot2::ggsave(f2, p2, width = 8, height = 2, dpi = 50))
  expect_gt(file.size(f1), 1000)
  expect_gt(file.size(f2), 1000)
})
