# One-command setup and the README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PIP := $(VENV)/bin/pip
BIN := $(VENV)/bin
CONSTRAINTS := requirements/constraints.txt
# pip's own resolver installs the ROS 2 wheels and everything else in one pass, pinned.
PIP_INSTALL := $(PIP) install --disable-pip-version-check -c $(CONSTRAINTS)

.PHONY: setup setup-train setup-tf run test test-slow lint bench clean console-web console setup-launch typecheck test-unit test-integration

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
	$(PIP_INSTALL) -e '.[hardware,sim,analysis,train,test,console,device-console,ray]'
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

# The real ROS 2 launch system (launch, launch_ros, ros2cli) from ../shared/ros2-launch, for the
# tests that run the launch files under `ros2 launch` (about 80 s, once). Then this package is
# built with colcon as a symlink install into $(ROS2_WS) (git-ignored, in the venv), so
# `ros2 launch deepracer ...` runs this checkout's launch files, config and nodes as they are.
# Without ../shared/ros2-launch those tests skip (and fail under CI=1).
ROS2_LAUNCH := ../shared/ros2-launch
ROS2_WS := $(VENV)/ros2-ws
# install.sh runs once per venv (it patches the wheels' CMake files and is not re-runnable);
# the colcon build re-runs when the package's entry points or manifest change.
$(ROS2_WS)/.launch-system: $(ROS2_LAUNCH)/install.sh | $(VENV)/.setup-car
	bash $(ROS2_LAUNCH)/install.sh $(VENV) . $(ROS2_WS) $(CONSTRAINTS)
	touch $@
$(ROS2_WS)/.installed: $(ROS2_WS)/.launch-system setup.py package.xml
	cd $(ROS2_WS) && AMENT_PREFIX_PATH=$(abspath $(VENV)) $(abspath $(BIN))/colcon build --symlink-install \
	  --base-paths $(CURDIR) --packages-select deepracer > colcon-symlink.log
	touch $@
setup-launch:
	@if [ -f $(ROS2_LAUNCH)/install.sh ]; then $(MAKE) --no-print-directory $(ROS2_WS)/.installed; \
	else echo "setup-launch: $(ROS2_LAUNCH) is absent; the real ros2 launch tests will skip"; fi

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

# mypy on the ROS-free core (mypy.ini says which modules are held to it, and how strictly)
typecheck: setup-train
	$(BIN)/mypy

# Two tiers (docs/testing.md): unit (no server, launch or browser; about a minute) and
# integration (tests marked `integration`: real launch files, servers, browsers, node graphs).
test: setup-train setup-tf lint typecheck console-web setup-launch
	$(BIN)/python -m pytest -q -m "not integration and not slow"
	$(BIN)/python -m pytest -q -m "integration and not slow"

test-unit: setup-train
	$(BIN)/python -m pytest -q -m "not integration and not slow"

test-integration: setup-train setup-tf setup-launch console-web
	$(BIN)/python -m pytest -q -m "integration and not slow"

test-slow: setup-train
	$(BIN)/python -m pytest -q -m slow

bench: setup-train
	$(BIN)/deepracer bench latency --json
	$(BIN)/deepracer bench sim --json

clean:
	rm -rf $(VENV) build install log *.egg-info out $(WEB)/dist $(WEB)/node_modules
