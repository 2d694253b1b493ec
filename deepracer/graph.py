"""The one description of the node graphs. launch/*.launch.py and `deepracer drive|sim` both
build from it, so `ros2 launch` on a car and the `deepracer` command start the same nodes
with the same parameters.

Parameters come from a ROS 2 params file (config/drive.yaml, config/sim.yaml: the usual
`node_name: {ros__parameters: {...}}` layout), overridden by keyword arguments.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from deepracer.errors import ConfigError
from deepracer.paths import config_file

RESPAWN_DELAY_S = 2.0  # a crashed node comes back after this; the servo's own watchdog holds neutral meanwhile


@dataclass(frozen=True)
class NodeSpec:
    name: str  # ROS node name
    executable: str  # console script (setup.py) for `ros2 run deepracer <executable>`
    module: str  # module with the Node class and main(), for in-process composition
    node_class: str  # class taking Node's keyword arguments (parameter_overrides, context, namespace)
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: dict[str, str] = field(default_factory=dict)
    respawn: bool = True  # ros2 launch and GraphRunner(processes=True) restart it after it exits
    respawn_delay: float = RESPAWN_DELAY_S


# Node name -> (executable, module, class). Topic names are relative (ARCHITECTURE.md §3).
NODES: dict[str, tuple[str, str, str]] = {
    "camera_node": ("camera_node", "deepracer_nodes.camera_node", "CameraNode"),
    "inference_node": ("inference_node", "deepracer_nodes.inference_node", "InferenceNode"),
    "control_node": ("control_node", "deepracer_nodes.control_node", "ControlNode"),
    "servo_node": ("servo_node", "deepracer_nodes.servo_node", "ServoNode"),
    "sim_node": ("sim_node", "deepracer_nodes.sim_node", "SimNode"),
    "device_console_node": ("device_console_node", "deepracer_nodes.device_console_node", "DeviceConsoleNode"),
}

# device_console_node: the car's web page (docs/device-console.md); `enabled: false` in the config turns it off
DRIVE_NODES = ["camera_node", "inference_node", "control_node", "servo_node", "device_console_node"]
# The simulator replaces the camera and the servo, nothing else.
SIM_NODES = ["sim_node", "inference_node", "control_node"]


def load_params_file(path: str | Path) -> dict[str, dict[str, Any]]:
    """node name -> parameters, from a ROS 2 params YAML file (`/**` applies to every node)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise ConfigError("params file not found", path) from None
    except yaml.YAMLError as err:
        raise ConfigError(f"invalid YAML: {err}", path) from err
    if not isinstance(data, dict):
        raise ConfigError("a params file maps node names to {ros__parameters: ...}", path)
    out: dict[str, dict[str, Any]] = {}
    for node, body in data.items():
        params = (body or {}).get("ros__parameters") if isinstance(body, dict) else None
        if not isinstance(params, dict):
            raise ConfigError(f"{node}: expected a ros__parameters mapping", path)
        out[str(node).lstrip("/")] = params
    return out


def build_graph(
    nodes: list[str],
    params_file: str | Path,
    overrides: dict[str, dict[str, Any]] | None = None,
) -> list[NodeSpec]:
    """NodeSpecs for `nodes`, parameters = params file (`/**` first, then per node) + overrides."""
    params = load_params_file(params_file)
    common = params.get("**", {})
    specs = []
    for name in nodes:
        executable, module, cls = NODES[name]
        merged = copy.deepcopy(common) | copy.deepcopy(params.get(name, {})) | dict((overrides or {}).get(name, {}))
        specs.append(NodeSpec(name, executable, module, cls, merged))
    return specs


def drive_overrides(model: str = "") -> dict[str, dict[str, Any]]:
    """The arguments `deepracer drive` and drive.launch.py share, as node parameters."""
    return {"inference_node": {"model": model}} if model else {}


def parse_bool(text: str | bool) -> bool:
    """A launch argument's true/false (launch hands over strings)."""
    if isinstance(text, bool):
        return text
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"expected true or false, not {text!r}")


def sim_overrides(track: str = "", model: str = "", lock_step: bool | None = None,
                  laps: int | None = None) -> dict[str, dict[str, Any]]:
    """The arguments `deepracer sim` and sim.launch.py share, as node parameters.

    `laps`: sim_node stops the car after that many laps and exits, which ends the launch
    (None: the config's max_laps, 0 there = drive on)."""
    sim: dict[str, Any] = {}
    if track:
        sim["track"] = str(track)
    if lock_step is not None:
        sim["lock_step"] = bool(lock_step)
    if laps is not None:
        if laps < 1:
            raise ConfigError(f"laps must be at least 1, not {laps}")
        sim |= {"max_laps": int(laps), "exit_when_finished": True}
    if model:
        sim["model"] = str(model)  # sim_node publishes the stereo / LiDAR topics the model's sensor list needs
    overrides: dict[str, dict[str, Any]] = {"sim_node": sim} if sim else {}
    if model:
        overrides["inference_node"] = {"model": str(model)}
    return overrides


def drive_graph(config: str | Path | None = None, **overrides: dict[str, Any]) -> list[NodeSpec]:
    """camera -> inference -> control -> servo, as on the car."""
    return build_graph(DRIVE_NODES, config or config_file("drive.yaml"), overrides)


def sim_graph(config: str | Path | None = None, **overrides: dict[str, Any]) -> list[NodeSpec]:
    """sim -> inference -> control -> (sim), the car's inference and control unchanged.

    A sim_node that exits when its race is over (`exit_when_finished`) is not respawned."""
    specs = build_graph(SIM_NODES, config or config_file("sim.yaml"), overrides)
    return [dataclasses.replace(s, respawn=False) if s.parameters.get("exit_when_finished") else s for s in specs]
