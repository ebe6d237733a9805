# The README's two commands: `make demo` (set up, then index data/samples and search them) and
# `make test` (set up, then lint and run the tests). Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU build of PyTorch; an unpinned torch pulls a multi-GB CUDA build.
TORCH := torch==2.13.0
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

# The page viewer's JavaScript (OpenSeadragon), installed from the npm registry at build time
# and copied into the package: the browser never asks a CDN for it.
VIEWER_LOCK := ui/viewer/package-lock.json
VIEWER_STAMP := ui/viewer/frontend/vendor/.lock-sha256
# Mirador, for `legajo serve`'s /viewer, bundled the same way (legajo/server/iiif/bundle.py).
MIRADOR_LOCK := legajo/server/iiif/mirador/package-lock.json
MIRADOR_STAMP := legajo/server/iiif/mirador/vendor/.lock-sha256
# Swagger UI, for `legajo serve`'s /docs, the same way (legajo/server/api/docs_bundle.py).
DOCS_LOCK := legajo/server/api/docs/package-lock.json
DOCS_STAMP := legajo/server/api/docs/vendor/.lock-sha256

.PHONY: setup demo test lint model-code wheel viewer clean-venv

setup: $(STAMP) $(VIEWER_STAMP) $(MIRADOR_STAMP) $(DOCS_STAMP)

$(VIEWER_STAMP): $(VIEWER_LOCK) | $(STAMP)
	$(BIN)/python -m ui.viewer.bundle

$(MIRADOR_STAMP): $(MIRADOR_LOCK) | $(STAMP)
	$(BIN)/python -m legajo.server.iiif.bundle

$(DOCS_STAMP): $(DOCS_LOCK) | $(STAMP)
	$(BIN)/python -m legajo.server.api.docs_bundle

viewer: setup
	$(BIN)/python -m ui.viewer.bundle --force
	$(BIN)/python -m legajo.server.iiif.bundle --force
	$(BIN)/python -m legajo.server.api.docs_bundle --force

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[cpu,dev,ray]'
	touch $@

# The main job: index the sample pages into ./legajo-data with the bundled default model, then
# search them. A second run skips the pages already indexed.
DEMO_QUERY ?= rey
demo: setup
	$(BIN)/legajo index data/samples --collection samples
	$(BIN)/legajo stats
	$(BIN)/legajo search '$(DEMO_QUERY)' --limit 5

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m mypy

# pytest's exit code 5 means no test ran: that is a failure here, not a pass.
test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "no tests were collected" >&2; exit 1; fi; exit $$status

# The bundled model's remote code (what lets plain transformers load it) is generated from
# htr/line_model.py and htr/line_processor.py; a test fails until this has been run after a change.
MODEL := data/models/legajo-default
model-code: setup
	$(BIN)/python -c 'from htr.remote_code import write_remote_code; write_remote_code("$(MODEL)")'

# A wheel in dist/ that carries the bundled model as htr/models/legajo-default (see setup.py).
wheel: setup
	$(BIN)/python -m pip wheel --no-deps --no-build-isolation -w dist .

clean-venv:
	rm -rf $(VENV)
