# The two set-up commands of the README: `make demo` (main job on the built-in data) and
# `make test` (the test suite). Both create .venv and install everything on a fresh machine.
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_OUT ?= demo_out

.PHONY: setup demo demo-retrain models test test-random bench clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml third_party/pix2vox/pyproject.toml third_party/mvfnet/pyproject.toml
	@# open3d needs Debian's libusb-1.0-0
	@dpkg -s libusb-1.0-0 >/dev/null 2>&1 || $(SUDO) apt-get install -y libusb-1.0-0 \
		|| ($(SUDO) apt-get update && $(SUDO) apt-get install -y libusb-1.0-0)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install --quiet -e third_party/pix2vox -e third_party/mvfnet -e '.[dev]'
	@touch $@

demo: setup
	$(VENV)/bin/mvaug demo --out $(DEMO_OUT)

demo-retrain: setup
	$(VENV)/bin/mvaug demo --retrain --out $(DEMO_OUT)

models: setup
	$(PY) scripts/train_defaults.py --work work/defaults

# one OpenBLAS thread per process: numpy's threads spin against each other on 2 shared cores (tests/conftest.py sets
# it too, for a bare pytest; pytest-randomly loads numpy before conftest runs)
test test-random: export OPENBLAS_NUM_THREADS = 1

# in file order; per-test time limit from pyproject.toml (pytest-timeout)
test: setup
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -n 2 -p no:randomly

# the same suite in random order; pytest-randomly prints the seed (rerun one order with --randomly-seed=N)
test-random: setup
	$(PY) -m pytest -n 2 -p randomly

bench: setup
	$(PY) scripts/bench.py

clean:
	rm -rf $(DEMO_OUT) .pytest_cache
