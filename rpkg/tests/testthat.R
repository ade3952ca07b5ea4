library(testthat)
library(minnet)

test_check("minnet")
