# The Seurat workflow through the Python core: simulate, train, save/load, embed, transfer,
# link. Shares one simulated data set and one trained model (helper-minnet.R).

test_that("SimulateMinNetData returns paired and unpaired Seurat objects and an annotation", {
  skip_if_no_core()
  sim <- fx_sim()
  expect_named(sim, c("paired", "rna", "atac", "multiome", "annotation", "links"))
  expect_equal(SeuratObject::Assays(sim$paired), c("RNA", "peaks", "ACTIVITY"))
  expect_equal(SeuratObject::Assays(sim$rna), "RNA")
  expect_equal(SeuratObject::Assays(sim$atac), c("peaks", "ACTIVITY"))
  expect_equal(ncol(sim$multiome), 600)
  expect_length(intersect(colnames(sim$rna), colnames(sim$atac)), 0)
  expect_length(intersect(colnames(sim$paired), colnames(sim$rna)), 0)
  expect_equal(ncol(sim$paired) + ncol(sim$rna) + ncol(sim$atac), 600)
  expect_true(all(sim$paired$batch == "batch0"))
  expect_true(all(c("celltype", "batch", "lineage") %in% colnames(sim$rna[[]])))
  expect_true(all(grepl("^chr[0-9]+-[0-9]+-[0-9]+$", rownames(sim$atac[["peaks"]]))))
  expect_equal(colnames(sim$annotation)[1:6], c("gene_name", "gene_id", "chrom", "tss", "strand", "end"))
  expect_true(all(rownames(sim$atac[["ACTIVITY"]]) %in% sim$annotation$gene_name))
  expect_true(all(c("gene", "peak", "distance") %in% colnames(sim$links)))
  expect_true("SimulateMinNetData" %in% names(sim$paired@commands))
  # integer counts survive the trip from Python
  m <- assay_data(sim$rna, "counts")
  expect_true(all(m@x == round(m@x)))
})

test_that("TrainMinNet returns a model handle with what R needs", {
  skip_if_no_core()
  model <- fx_model()
  expect_s3_class(model, "MinNetModel")
  expect_equal(model$modalities, c("rna", "atac"))
  expect_true(model$has.annotation)
  expect_equal(model$labels, sort(unique(fx_sim()$paired$celltype)))
  expect_equal(model$config$n_hidden, 128)
  expect_true(nrow(model$history) >= 1)
  expect_true(all(c("epoch", "train_loss") %in% colnames(model$history)))
  expect_s4_class(model$command, "SeuratCommand")
  expect_equal(model$command@name, "TrainMinNet")
  expect_equal(model$command$label, "celltype")
  expect_output(print(model), "MinNet model: rna \\+ atac")
})

test_that("RunMinNet adds the co-embedding as a reduction that RunUMAP can use", {
  skip_if_no_core()
  sim <- fx_sim()
  model <- fx_model()
  rna <- RunMinNet(sim$rna, model, assay = "RNA", modality = "rna", verbose = FALSE)
  expect_keeps_original(rna, sim$rna)
  expect_false("minnet" %in% SeuratObject::Reductions(sim$rna))   # the input is untouched
  dr <- rna[["minnet"]]
  expect_s4_class(dr, "DimReduc")
  expect_equal(dim(SeuratObject::Embeddings(dr)), c(ncol(sim$rna), 32L))
  expect_equal(rownames(SeuratObject::Embeddings(dr)), colnames(sim$rna))
  expect_equal(SeuratObject::Key(dr), "minnet_")
  expect_equal(SeuratObject::DefaultAssay(dr), "RNA")
  expect_true("RunMinNet.RNA" %in% names(rna@commands))
  expect_true(is.character(rna@commands[["RunMinNet.RNA"]]$model))
  rna <- suppressWarnings(Seurat::RunUMAP(rna, reduction = "minnet", dims = 1:32, verbose = FALSE))
  expect_equal(dim(SeuratObject::Embeddings(rna, "umap")), c(ncol(sim$rna), 2L))
  # other names and keys
  rna2 <- RunMinNet(sim$rna, model, assay = "RNA", modality = "rna", reduction.name = "mn",
                    reduction.key = "MN_", verbose = FALSE)
  expect_equal(colnames(SeuratObject::Embeddings(rna2, "mn"))[1:2], c("MN_1", "MN_2"))
  expect_equal(SeuratObject::Embeddings(rna2, "mn"), SeuratObject::Embeddings(rna, "minnet"),
               ignore_attr = TRUE)
})

test_that("ATAC embeds from peaks (model annotation) and from gene activity", {
  skip_if_no_core()
  sim <- fx_sim()
  model <- fx_model()
  a1 <- RunMinNet(sim$atac, model, assay = "peaks", modality = "atac", verbose = FALSE)
  expect_warning(a2 <- RunMinNet(sim$atac, model, assay = "ACTIVITY", modality = "atac",
                                 verbose = FALSE),
                 "made another way.*Embed the peak assay instead")
  e1 <- SeuratObject::Embeddings(a1, "minnet")
  e2 <- SeuratObject::Embeddings(a2, "minnet")
  expect_equal(dim(e1), c(ncol(sim$atac), 32L))
  expect_equal(SeuratObject::DefaultAssay(a1[["minnet"]]), "peaks")
  # The simulator's ACTIVITY is Signac-style (window sums); the model computes its own
  # distance-weighted activity from peaks, so the two routes give different (finite) values.
  expect_equal(dim(e2), dim(e1))
  expect_true(all(is.finite(e2)))
})

test_that("peaks without an annotation train an LSI peak encoder that R can save and use", {
  skip_if_no_core()
  sim <- fx_sim()
  model <- TrainMinNet(sim$paired, other.assay = "peaks", modality = "atac",
                       label = "celltype", epochs = 2, n_hidden = 32, n.lsi.components = 10,
                       verbose = FALSE)
  expect_equal(model$config$atac_input, "peak_lsi")
  expect_false(model$has.annotation)
  expect_equal(model$features$atac, paste0("LSI_", 2:11))
  a <- RunMinNet(sim$atac, model, assay = "peaks", modality = "atac", verbose = FALSE)
  e <- SeuratObject::Embeddings(a, "minnet")
  expect_equal(dim(e), c(ncol(sim$atac), 32L))
  path <- tempfile(fileext = ".minnet")
  SaveMinNet(model, path)
  back <- RunMinNet(sim$atac, LoadMinNet(path), assay = "peaks", modality = "atac",
                    verbose = FALSE)
  expect_equal(SeuratObject::Embeddings(back, "minnet"), e)
  # gene activity cannot stand in for the peaks this model reads
  expect_error(RunMinNet(sim$atac, model, assay = "ACTIVITY", modality = "atac",
                         verbose = FALSE), "reads ATAC peaks")
})

test_that("the query-aware mode trains on unpaired query objects from R", {
  skip_if_no_core()
  sim <- fx_sim()
  model <- TrainMinNet(sim$paired, other.assay = "peaks", modality = "atac",
                       label = "celltype", epochs = 2, n_hidden = 32, n.lsi.components = 10,
                       verbose = FALSE, query = list(rna = sim$rna, atac = sim$atac))
  expect_equal(model$summary$query_cells$rna, ncol(sim$rna))
  expect_equal(model$summary$query_cells$atac, ncol(sim$atac))
  a <- RunMinNet(sim$atac, model, assay = "peaks", modality = "atac", verbose = FALSE)
  expect_true(all(is.finite(SeuratObject::Embeddings(a, "minnet"))))
  expect_error(TrainMinNet(sim$paired, other.assay = "peaks", modality = "atac",
                           label = "celltype", epochs = 1, verbose = FALSE,
                           query = list(protein = sim$atac)),
               "named list with elements 'rna' and/or 'atac'")
  expect_error(TrainMinNet(sim$paired, other.assay = "peaks", modality = "atac",
                           label = "celltype", epochs = 1, verbose = FALSE,
                           query = list(atac = sim$rna)),
               "query\\$atac")
})

test_that("SaveMinNet / LoadMinNet round-trip the core's model file", {
  skip_if_no_core()
  sim <- fx_sim()
  model <- fx_model()
  f <- tempfile(fileext = ".minnet")
  expect_invisible(SaveMinNet(model, f))
  expect_true(file.exists(f))
  loaded <- LoadMinNet(f)
  expect_s3_class(loaded, "MinNetModel")
  expect_equal(loaded$features, model$features)
  expect_equal(loaded$labels, model$labels)
  a <- RunMinNet(sim$rna, model, assay = "RNA", modality = "rna", verbose = FALSE)
  b <- RunMinNet(sim$rna, loaded, assay = "RNA", modality = "rna", verbose = FALSE)
  expect_equal(SeuratObject::Embeddings(a, "minnet"), SeuratObject::Embeddings(b, "minnet"))
  # a handle whose Python object is gone (e.g. after saveRDS/readRDS) is restored
  rds <- tempfile(fileext = ".rds")
  saveRDS(model, rds)
  again <- readRDS(rds)
  again$cache$py <- NULL
  c2 <- RunMinNet(sim$rna, again, assay = "RNA", modality = "rna", verbose = FALSE)
  expect_equal(SeuratObject::Embeddings(c2, "minnet"), SeuratObject::Embeddings(a, "minnet"))
  bad <- tempfile(fileext = ".minnet")
  writeLines("not a model", bad)
  expect_error(LoadMinNet(bad), "^LoadMinNet failed: ")
})

test_that("TransferMinNetLabels labels unpaired ATAC cells from RNA", {
  skip_if_no_core()
  sim <- fx_sim()
  model <- fx_model()
  rna <- RunMinNet(sim$rna, model, assay = "RNA", modality = "rna", verbose = FALSE)
  atac <- RunMinNet(sim$atac, model, assay = "peaks", modality = "atac", verbose = FALSE)
  labelled <- TransferMinNetLabels(atac, rna, refdata = "celltype", k = 15)
  expect_keeps_original(labelled, atac)
  expect_false("predicted.celltype" %in% colnames(atac[[]]))
  atac <- labelled
  expect_true(all(c("predicted.celltype", "predicted.celltype.score") %in% colnames(atac[[]])))
  expect_true(all(atac$predicted.celltype %in% unique(rna$celltype)))
  expect_true(all(atac$predicted.celltype.score > 0 & atac$predicted.celltype.score <= 1))
  expect_gt(mean(atac$predicted.celltype == atac$celltype), 0.45)   # 4 types: chance 0.25
  expect_true("TransferMinNetLabels" %in% names(atac@commands))
  strict <- TransferMinNetLabels(atac, rna, refdata = "lineage", min.confidence = 0.999)
  expect_true(any(strict$predicted.lineage == "unassigned"))
  expect_true(all(strict$predicted.lineage[strict$predicted.lineage.score < 0.999] == "unassigned"))
  # reference cells without a label do not vote
  part <- rna
  part$celltype[part$celltype == "T0"] <- NA
  got <- TransferMinNetLabels(atac, part, refdata = "celltype", k = 15)
  expect_false(any(got$predicted.celltype == "T0"))
  expect_false(anyNA(got$predicted.celltype))
})

test_that("TransferMinNetLabels blends the vote with the model's classifier", {
  skip_if_no_core()
  sim <- fx_sim()
  model <- fx_model()
  rna <- RunMinNet(sim$rna, model, assay = "RNA", modality = "rna", verbose = FALSE)
  atac <- RunMinNet(sim$atac, model, assay = "peaks", modality = "atac", verbose = FALSE)
  plain <- TransferMinNetLabels(atac, rna, refdata = "celltype")
  none <- TransferMinNetLabels(atac, rna, refdata = "celltype", model = model, assay = "peaks",
                               modality = "atac", head.weight = 0)
  expect_identical(none$predicted.celltype, plain$predicted.celltype)
  expect_equal(none$predicted.celltype.score, plain$predicted.celltype.score, tolerance = 1e-6)
  blend <- TransferMinNetLabels(atac, rna, refdata = "celltype", model = model, assay = "peaks",
                                modality = "atac")
  expect_keeps_original(blend, atac)
  expect_true(all(blend$predicted.celltype %in% model$labels))
  expect_true(all(blend$predicted.celltype.score > 0 & blend$predicted.celltype.score <= 1))
  expect_gt(mean(blend$predicted.celltype == blend$celltype), 0.45)
  expect_match(blend@commands[["TransferMinNetLabels"]]$model, "<MinNetModel rna\\+atac>")
  # logged under one name, with or without a model
  expect_false(any(startsWith(setdiff(names(blend@commands), names(atac@commands)),
                              "TransferMinNetLabels.")))
  expect_error(TransferMinNetLabels(atac, rna, model = model, assay = "peaks"),
               "`model` needs `modality`")
  expect_error(TransferMinNetLabels(atac, rna, model = model, assay = "peaks", modality = "atac",
                                    slot = "data"), "reads raw counts")
  expect_error(TransferMinNetLabels(atac, rna, model = model, assay = "peaks", modality = "atac",
                                    head.weight = 2), "`head.weight` must be a finite number in \\[0, 1\\]")
})

test_that("Python-side errors come back as one R error", {
  skip_if_no_core()
  sim <- fx_sim()
  model <- fx_model()
  few <- subset(sim$rna, features = rownames(sim$rna)[1:5])
  expect_error(RunMinNet(few, model, assay = "RNA", modality = "rna", verbose = FALSE),
               "^RunMinNet failed: ")
  err <- tryCatch(RunMinNet(few, model, assay = "RNA", modality = "rna", verbose = FALSE),
                  error = conditionMessage)
  expect_false(grepl("Traceback", err))
})

test_that("TrainMinNet keeps a checkpoint and resumes from it", {
  skip_if_no_core()
  sim <- fx_sim()
  f <- tempfile(fileext = ".minnet")
  first <- TrainMinNet(sim$paired, other.assay = "peaks", modality = "atac", label = "celltype",
                       annotation = sim$annotation, epochs = 2, n_hidden = 16,
                       patience = NULL, checkpoint = f, verbose = FALSE)
  expect_true(file.exists(f))
  expect_equal(LoadMinNet(f)$summary$epochs_run, 2L)
  more <- TrainMinNet(sim$paired, other.assay = "peaks", modality = "atac", label = "celltype",
                      annotation = sim$annotation, epochs = 4, n_hidden = 16,
                      patience = NULL, checkpoint = f, resume = TRUE, verbose = FALSE)
  expect_equal(more$summary$epochs_run, 4L)
  expect_error(TrainMinNet(sim$paired, other.assay = "peaks", modality = "atac",
                           label = "celltype", annotation = sim$annotation, epochs = 4,
                           n_hidden = 32, checkpoint = f, resume = TRUE, verbose = FALSE),
               "from another run")
})

test_that("gene-activity settings pass through to the core and stay in the model", {
  skip_if_no_core()
  sim <- fx_sim()
  model <- TrainMinNet(sim$paired, other.assay = "peaks", modality = "atac", label = "celltype",
                       annotation = sim$annotation, epochs = 2, n_hidden = 16,
                       gene.activity.kwds = list(distance = 20000, decay = 4000),
                       verbose = FALSE)
  expect_equal(model$config$gene_activity$distance, 20000)
  expect_equal(model$config$gene_activity$decay, 4000)
  expect_error(TrainMinNet(sim$paired, other.assay = "peaks", modality = "atac",
                           label = "celltype", annotation = sim$annotation, epochs = 2,
                           gene.activity.kwds = list(window = 1), verbose = FALSE),
               "unknown keys")
})

test_that("paired cells in two objects are matched by name, in any order", {
  skip_if_no_core()
  sim <- fx_sim()
  paired <- sim$paired
  atac_only <- subset(paired, cells = rev(colnames(paired)))  # same cells, reversed
  args <- list(other.assay = "peaks", modality = "atac", label = "celltype",
               annotation = sim$annotation, epochs = 2, n_hidden = 16, seed = 5,
               verbose = FALSE)
  one <- do.call(TrainMinNet, c(list(paired), args))
  two <- do.call(TrainMinNet, c(list(paired, other.object = atac_only), args))
  a <- RunMinNet(sim$rna, one, assay = "RNA", modality = "rna", verbose = FALSE)
  b <- RunMinNet(sim$rna, two, assay = "RNA", modality = "rna", verbose = FALSE)
  expect_equal(SeuratObject::Embeddings(a, "minnet"), SeuratObject::Embeddings(b, "minnet"),
               tolerance = 1e-4)
})

test_that("hostile model files and a wrong modality are refused", {
  skip_if_no_core()
  sim <- fx_sim()
  model <- fx_model()
  # a pickle whose unpickling would create a file: refused, and nothing runs
  marker <- tempfile("pwned")
  evil <- tempfile(fileext = ".minnet")
  py <- as.character(GetMinNetPython())
  code <- sprintf(paste0("import pickle,sys\nclass P:\n    def __reduce__(self): ",
                         "return (open, (%s, 'w'))\nopen(sys.argv[1], 'wb').write(pickle.dumps(P()))"),
                  deparse(marker))
  system2(py, c("-c", shQuote(code), shQuote(evil)))
  expect_true(file.exists(evil))
  expect_error(LoadMinNet(evil), "not a readable MinNet model file")
  expect_false(file.exists(marker))
  # a truncated model file
  good <- tempfile(fileext = ".minnet")
  SaveMinNet(model, good)
  raw <- readBin(good, "raw", file.info(good)$size)
  half <- tempfile(fileext = ".minnet")
  writeBin(raw[seq_len(length(raw) %/% 2)], half)
  expect_error(LoadMinNet(half), "LoadMinNet failed: .*(damaged|truncated)")
  # RNA counts given as the ATAC (gene activity) modality
  expect_error(RunMinNet(sim$rna, model, assay = "RNA", modality = "atac", verbose = FALSE),
               "look like rna data")
})

test_that("LinkMinNetPeaks stores links from unpaired RNA and ATAC", {
  skip_if_no_core()
  sim <- fx_sim()
  model <- fx_model()
  rna <- RunMinNet(sim$rna, model, assay = "RNA", modality = "rna", verbose = FALSE)
  atac <- RunMinNet(sim$atac, model, assay = "peaks", modality = "atac", verbose = FALSE)
  atac <- TransferMinNetLabels(atac, rna, refdata = "celltype")
  linked <- LinkMinNetPeaks(rna, atac, annotation = sim$annotation, n.bulks = 20,
                            group.by = c("celltype", "predicted.celltype"), n.background = 50,
                            verbose = FALSE)
  expect_keeps_original(linked, atac)
  expect_error(GetMinNetLinks(atac), "no MinNet links")   # the input is untouched
  atac <- linked
  links <- GetMinNetLinks(atac)
  expect_equal(colnames(links)[1:7], c("gene", "peak", "score", "zscore", "pvalue", "qvalue", "distance"))
  expect_gt(nrow(links), 100)
  expect_true(all(links$peak %in% rownames(atac[["peaks"]])))
  expect_true(all(abs(links$distance) <= 150000))
  expect_true(all(links$pvalue >= 0 & links$pvalue <= 1))
  expect_true("LinkMinNetPeaks" %in% names(atac@commands))
  expect_equal(atac@commands[["LinkMinNetPeaks"]]@assay.used, "peaks")
  if (requireNamespace("GenomicRanges", quietly = TRUE)) {
    gr <- GetMinNetLinks(atac, granges = TRUE)
    expect_equal(length(gr), nrow(links))
  }
  # true links score higher than the rest
  truth <- paste(sim$links$gene, sim$links$peak)
  is_true <- paste(links$gene, links$peak) %in% truth
  expect_gt(mean(links$score[is_true]), mean(links$score[!is_true]))
  # the same links as a data.frame, with the model computing the co-embedding on the fly
  expect_error(LinkMinNetPeaks(sim$rna, sim$atac, model, annotation = sim$annotation,
                               group.by = c("celltype", "predicted.celltype")),
               "metadata column 'predicted.celltype' .* not in atac")
  direct <- LinkMinNetPeaks(sim$rna, atac, model, annotation = sim$annotation,
                            n.bulks = 20, group.by = c("celltype", "predicted.celltype"),
                            n.background = 50, return.links = TRUE, verbose = FALSE)
  expect_s3_class(direct, "data.frame")
  expect_equal(direct, links)
  # a GRanges annotation and a paired object work too
  skip_if_not_installed("GenomicRanges")
  ann <- sim$annotation
  gr <- GenomicRanges::GRanges(ann$chrom, IRanges::IRanges(pmin(ann$tss, ann$end), pmax(ann$tss, ann$end)),
                               strand = ann$strand, gene_name = ann$gene_name)
  paired <- RunMinNet(sim$paired, model, assay = "RNA", modality = "rna", verbose = FALSE)
  paired <- LinkMinNetPeaks(paired, annotation = gr, n.bulks = 20, group.by = "celltype",
                            n.background = 50, smooth = FALSE, method = "pearson", verbose = FALSE)
  expect_gt(nrow(GetMinNetLinks(paired)), 100)
})

test_that("CITE-seq: simulate, train and embed ADT in R; Python models match Seurat's names", {
  skip_if_no_core()
  cite <- SimulateMinNetData(n.cells = 300, n.cell.types = 3, n.genes = 150, modality = "adt",
                         n.proteins = 20, seed = 2)
  expect_named(cite, c("paired", "rna", "adt", "citeseq"))
  expect_equal(SeuratObject::Assays(cite$paired), c("RNA", "ADT"))
  expect_equal(SeuratObject::Assays(cite$adt), "ADT")
  expect_length(intersect(colnames(cite$rna), colnames(cite$adt)), 0)
  expect_true(all(grepl("^ADT-", rownames(cite$adt[["ADT"]]))))   # Seurat's spelling
  model <- TrainMinNet(cite$paired, modality = "adt", label = "celltype", batch = NULL,
                       epochs = 10, n_hidden = 32, verbose = FALSE)   # other.assay = "ADT"
  expect_equal(model$modalities, c("rna", "adt"))
  expect_equal(length(model$features$adt), 20L)
  adt <- RunMinNet(cite$adt, model, assay = "ADT", modality = "adt", verbose = FALSE)
  rna <- RunMinNet(cite$rna, model, assay = "RNA", modality = "rna", verbose = FALSE)
  expect_equal(ncol(SeuratObject::Embeddings(adt, "minnet")), 32L)
  adt <- TransferMinNetLabels(adt, rna, refdata = "celltype")
  expect_gt(mean(adt$predicted.celltype == adt$celltype), 0.34)

  # a model trained in Python knows the proteins as ADT_...: matched to Seurat's ADT-...
  core <- minnet:::.core()
  sim <- core$datasets$simulate_citeseq(n_cells = 300L, n_cell_types = 3L, n_batches = 2L,
                                         n_genes = 150L, n_proteins = 20L, seed = 2L)
  pym <- core$train(sim$rna, sim$adt, modality = "adt", label_key = "cell_type", epochs = 2L,
                    n_hidden = 32L, progress = FALSE)
  f <- tempfile(fileext = ".minnet")
  pym$save(f)
  loaded <- LoadMinNet(f)
  expect_true(all(grepl("^ADT_", loaded$features$adt)))
  expect_message(obj <- RunMinNet(cite$citeseq, loaded, assay = "ADT", modality = "adt",
                                  reduction.name = "py", reduction.key = "py_"),
                 "matched 20 feature names")
  z_py <- pym$embed(sim$adt, "adt")   # converted to an R matrix, rows in the same cell order
  expect_equal(unname(SeuratObject::Embeddings(obj, "py")), z_py, tolerance = 1e-5,
               ignore_attr = TRUE)
})

test_that("RunMinNet records its model in the reduction; two models' reductions are refused", {
  skip_if_no_core()
  sim <- fx_sim()
  model <- fx_model()
  other <- fx_other_model()
  expect_match(model$fingerprint, "^[0-9a-f]{16}$")
  expect_false(identical(model$fingerprint, other$fingerprint))
  f <- tempfile(fileext = ".minnet")
  SaveMinNet(model, f)
  expect_identical(LoadMinNet(f)$fingerprint, model$fingerprint)   # the file keeps it
  rna <- RunMinNet(sim$rna, model, assay = "RNA", modality = "rna", verbose = FALSE)
  expect_identical(rna[["minnet"]]@misc$minnet, list(model = model$fingerprint, modality = "rna"))
  atac <- RunMinNet(sim$atac, other, assay = "peaks", modality = "atac", verbose = FALSE)
  expect_error(TransferMinNetLabels(atac, rna),
               sprintf("different MinNet models \\(reference: %s; query: %s\\).*check.model = FALSE",
                       model$fingerprint, other$fingerprint))
  expect_error(TransferMinNetLabels(atac, rna, model = model, assay = "peaks", modality = "atac"),
               sprintf("`model`: %s", model$fingerprint))
  expect_warning(got <- TransferMinNetLabels(atac, rna, check.model = FALSE),
                 "different MinNet models .*going on because check.model = FALSE")
  expect_true("predicted.celltype" %in% colnames(got[[]]))
  # a reduction without a recorded model (added from Python, or by an older minnet) is used
  plain <- AddMinNetEmbedding(atac, SeuratObject::Embeddings(atac, "minnet"), assay = "peaks")
  expect_null(plain[["minnet"]]@misc$minnet)
  expect_silent(TransferMinNetLabels(plain, rna))
})

test_that("a damaged model handle names the user's object or file and the R fix", {
  skip_if_no_core()
  sim <- fx_sim()
  model <- fx_model()
  no_temp <- function(msg) {
    expect_false(grepl(tempdir(), msg, fixed = TRUE))
    expect_false(grepl("file[0-9a-f]+\\.minnet", msg))
    expect_false(grepl("MinNetModel.save", msg, fixed = TRUE))
  }
  # the handle's kept model file truncated (e.g. a damaged .rds), its Python object gone
  cut <- model
  cut$cache <- new.env()
  cut$bytes <- cut$bytes[1:2000]
  err <- expect_error(RunMinNet(sim$rna, cut, assay = "RNA", modality = "rna", verbose = FALSE),
                      "^`model` is a damaged MinNet model handle: .*Fix: load the model file again with LoadMinNet\\(\\)")
  no_temp(conditionMessage(err))
  # a handle from LoadMinNet() names its file
  f <- tempfile(fileext = ".minnet")
  SaveMinNet(model, f)
  loaded <- LoadMinNet(f)
  loaded$cache <- new.env()
  loaded$bytes <- raw(0)
  expect_error(SaveMinNet(loaded, tempfile()),
               sprintf("^`model` is a damaged .*LoadMinNet\\('%s'\\)", normalizePath(f)))
  # another model's bytes under this handle's fingerprint
  swapped <- model
  swapped$cache <- new.env()
  swapped$bytes <- fx_other_model()$bytes
  expect_error(RunMinNet(sim$rna, swapped, assay = "RNA", modality = "rna", verbose = FALSE),
               "damaged MinNet model handle: the model it keeps is another model \\(fingerprint")
  # a damaged file is named as the user wrote it, with R's fix
  writeBin(model$bytes[1:2000], file.path(tempdir(), "half.minnet"))
  err <- withr::with_dir(tempdir(), expect_error(LoadMinNet("half.minnet"),
                                                 "^LoadMinNet failed: 'half.minnet' .*SaveMinNet\\(\\)"))
  no_temp(conditionMessage(err))
})

test_that("a cell's embedding does not depend on the other cells of the query", {
  skip_if_no_core()
  sim <- fx_sim()
  model <- fx_model()
  all <- SeuratObject::Embeddings(RunMinNet(sim$rna, model, assay = "RNA", modality = "rna",
                                            verbose = FALSE), "minnet")
  one <- colnames(sim$rna)[1]
  alone <- SeuratObject::Embeddings(RunMinNet(subset(sim$rna, cells = one), model, assay = "RNA",
                                              modality = "rna", verbose = FALSE), "minnet")
  expect_lt(max(abs(alone - all[one, , drop = FALSE])), 1e-5)
  # a sorted population: one cell type alone
  type <- colnames(sim$rna)[sim$rna$celltype == sim$rna$celltype[1]]
  sorted <- SeuratObject::Embeddings(RunMinNet(subset(sim$rna, cells = type), model,
                                               assay = "RNA", modality = "rna", verbose = FALSE),
                                     "minnet")
  expect_lt(max(abs(sorted - all[type, , drop = FALSE])), 1e-5)
  # the query's own statistics are an explicit option, which warns in R when they cannot be
  # estimated
  expect_warning(RunMinNet(subset(sim$rna, cells = one), model, assay = "RNA", modality = "rna",
                           scaling = "query", verbose = FALSE),
                 "^RunMinNet: scaling='query' .*only 1 cell")
  expect_error(RunMinNet(sim$rna, model, assay = "RNA", modality = "rna", scaling = "batch",
                         verbose = FALSE), "^RunMinNet failed: .*scaling.*'batch'")
})
