# One-command setup and the README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PIP := $(VENV)/bin/pip
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
# pip's own resolver installs the ROS 2 wheels and everything else in one pass, pinned.
PIP_INSTALL := $(PIP) install --disable-pip-version-check -c $(CONSTRAINTS)

.PHONY: setup setup-train setup-tf run test test-slow lint bench clean console-web console

$(BIN)/python:
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is needed"'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --disable-pip-version-check -q --upgrade pip

# Car + simulator: no torch.
$(VENV)/.setup-car: $(BIN)/python setup.py $(CONSTRAINTS) requirements/ros.txt
	$(PIP_INSTALL) -r requirements/ros.txt -e '.[hardware,sim,analysis,device-console]'
	touch $@

# Training and tests: adds CPU torch (torch==2.13.0 is pinned in the constraints), SB3, gymnasium.
$(VENV)/.setup-train: $(VENV)/.setup-car
	$(PIP_INSTALL) -e '.[hardware,sim,analysis,train,test,console,device-console]'
	# deepracer-utils (cross-checks the analysis figures in tests) ships a top-level package also
	# named `deepracer`, so it goes beside the venv, off sys.path; tests load it from there.
	-$(PIP_INSTALL) boto3 joblib scikit-learn python-dateutil pandas pillow && \
	  $(PIP_INSTALL) --no-deps --target $(VENV)/opt/deepracer-utils deepracer-utils
	touch $@

# `deepracer model import` (AWS-trained TensorFlow models): tensorflow-cpu + tf2onnx, about 1.4 GB
# and 25-60 s; pinned to the same numpy/protobuf/onnx as the rest, so it shares the venv.
$(VENV)/.setup-tf: $(VENV)/.setup-train
	$(PIP_INSTALL) -e '.[tf-import]'
	touch $@

setup: $(VENV)/.setup-car
setup-train: $(VENV)/.setup-train
setup-tf: $(VENV)/.setup-tf

# The console's browser pages (deepracer_console/web, TypeScript + Vite) built into web/dist/,
# which `deepracer console` serves. npm ci installs exactly the lock file; both steps re-run
# only when their inputs change. Works with Debian's nodejs 18 + npm 9 and with newer ones.
WEB := deepracer_console/web
WEB_SOURCES := $(shell find $(WEB)/src -type f 2>/dev/null) $(WEB)/index.html $(WEB)/vite.config.ts $(WEB)/tsconfig.json
$(WEB)/node_modules/.ci-stamp: $(WEB)/package.json $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund
	touch $@
$(WEB)/dist/index.html: $(WEB)/node_modules/.ci-stamp $(WEB_SOURCES)
	cd $(WEB) && npm run build
	touch $@
console-web: $(WEB)/dist/index.html

# The console (laptop, classroom, event): web pages + API on http://127.0.0.1:8080.
console: setup-train console-web
	$(BIN)/deepracer console

# The main job: the simulated car driven by the bundled model through the node graph.
run: setup
	$(BIN)/deepracer sim --laps 2 --video out/sim.mp4 --png out/trajectory.png

lint: setup-train
	$(BIN)/ruff check .

test: setup-train setup-tf lint console-web
	$(BIN)/python -m pytest -q

test-slow: setup-train
	$(BIN)/python -m pytest -q -m slow

bench: setup-train
	$(BIN)/deepracer bench latency --json
	$(BIN)/deepracer bench sim --json

clean:
	rm -rf $(VENV) build install log *.egg-info out $(WEB)/dist $(WEB)/node_modules
