"""The simulator core (ROS-free): tracks, vehicle, camera, race state, reward params, gym env.

    from deepracer.sim import load_track, Simulator, SimConfig, DeepRacerEnv

`DeepRacerEnv` needs gymnasium (the training extra) and is imported on first use.
"""

from __future__ import annotations

from typing import Any

from deepracer.sim.race import RaceStatus
from deepracer.sim.simulator import SimConfig, Simulator
from deepracer.sim.track import DEFAULT_TRACK, Track, list_tracks, load_track
from deepracer.sim.vehicle import VehicleParams, VehicleState

__all__ = [
    "DEFAULT_TRACK", "DeepRacerEnv", "RaceStatus", "SimConfig", "Simulator", "Track", "VehicleParams",
    "VehicleState", "list_tracks", "load_track",
]


def __getattr__(name: str) -> Any:
    if name == "DeepRacerEnv":
        from deepracer.sim.env import DeepRacerEnv

        return DeepRacerEnv
    raise AttributeError(f"module 'deepracer.sim' has no attribute {name!r}")
