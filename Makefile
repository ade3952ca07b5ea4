# Two commands for a fresh machine: `make demo` and `make test` (both install what is missing).
VENV ?= .venv
export VENV

.PHONY: install demo test lint clean
install:
	bash scripts/install.sh

demo: install
	$(VENV)/bin/minnet demo --out minnet-demo

test: install
	bash scripts/test.sh

lint: install
	$(VENV)/bin/ruff check python tests benchmarks

clean:
	rm -rf minnet-demo .pytest_cache
