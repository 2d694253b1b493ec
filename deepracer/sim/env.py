"""`DeepRacerEnv`: the simulator as a gymnasium environment, episodes as DeepRacer runs them.

- actions from a model_metadata.json: discrete -> Discrete(n) indexing the action list;
  continuous -> Box(-1, 1, (2,)) (0 = steering, 1 = speed) rescaled to [low, high], the
  convention of the ONNX decoder;
- observations: the camera frame, uint8 (H, W, 1) grey or (H, W, 3) BGR, as
  `Simulator.render()` makes it;
- reward: `reward_function(params)` with DeepRacer's params, computed for every step
  including the one that goes off track;
- episodes start at points rotating round the track (DeepRacer advances the start by 5 %
  of the track each episode) and end on lap_complete, off_track, reversed, immobilized
  (terminated) or after max_steps (truncated);
- info: the SIM_TRACE_LOG fields of the step (object races add crash_count and the objects' x, y).

Registered as "DeepRacer-v0": `gymnasium.make("deepracer.sim.env:DeepRacer-v0", track=...)`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from deepracer.model.metadata import Action, ContinuousRange, ModelMetadata
from deepracer.sim.camera import CameraPose
from deepracer.sim.race import RESET_STATUSES
from deepracer.sim.simulator import SimConfig, Simulator
from deepracer.sim.track import DEFAULT_TRACK, Track

ROUND_ROBIN_ADVANCE = 0.05  # DeepRacer: each episode starts 5 % of the track further on
DEFAULT_CONTINUOUS = ContinuousRange(-30.0, 30.0, 0.5, 3.0)

RewardFunction = Callable[[dict[str, Any]], float]


def centerline_reward(params: dict[str, Any]) -> float:
    """DeepRacer's default reward: stay near the centre line."""
    d, w = params["distance_from_center"], params["track_width"]
    if d <= 0.1 * w:
        return 1.0
    if d <= 0.25 * w:
        return 0.5
    if d <= 0.5 * w:
        return 0.1
    return 1e-3


class DeepRacerEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(
        self,
        track: str | Path | Track = DEFAULT_TRACK,
        metadata: ModelMetadata | str | Path | None = None,
        reward_function: RewardFunction | None = None,
        randomize: bool = True,
        seed: int | None = None,
        start: str | int = "rotate",
        max_steps: int | None = None,
        camera: CameraPose | None = None,
        width: int | None = None,
        height: int | None = None,
        grayscale: bool | None = None,
        sim_config: SimConfig | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__()
        if isinstance(metadata, (str, Path)):
            path = Path(metadata)
            metadata = ModelMetadata.from_file(path / "model_metadata.json" if path.is_dir() else path)
        if metadata is None:
            metadata = ModelMetadata("continuous", continuous=DEFAULT_CONTINUOUS)
        self.model_metadata = metadata
        spec = metadata.input
        if width is None:
            width = spec.width if spec else 160
        if height is None:
            height = spec.height if spec else 120
        if grayscale is None:
            grayscale = spec.channels == 1 if spec else True
        cfg = sim_config or SimConfig()
        if camera is None and metadata.camera_profile is not None:  # the camera the model is trained for
            camera = CameraPose.from_profile(metadata.camera_profile)
        cfg = replace(cfg, track=track, width=width, height=height, grayscale=grayscale, randomize=randomize,
                      seed=seed, off_track="end", camera=camera or cfg.camera)
        self.sim = Simulator(cfg)
        self.reward_function = reward_function or centerline_reward
        self.start = start
        if max_steps is None:  # a lap at 0.3 m/s average, generously
            max_steps = int(math.ceil(self.sim.track.length_m / 0.3 * cfg.camera_hz))
        self.max_steps = max_steps
        self.render_mode = render_mode
        self._episode = 0
        self._steps = 0
        from deepracer.sim.sensors import (
            Sensor,
            camera_sensor,
            lidar_observation,
            lidar_sensor,
            parse_sensors,
        )

        sensors = parse_sensors(metadata.sensor)
        self.stereo = camera_sensor(sensors) is Sensor.STEREO_CAMERAS
        self.lidar = lidar_sensor(sensors)
        ch = 2 if self.stereo else (1 if grayscale else 3)
        camera_space = spaces.Box(0, 255, (height, width, ch), np.uint8)
        if self.lidar is None:
            self.observation_space: spaces.Space = camera_space
        else:  # DeepRacer's camera + LiDAR networks: a dict of the two inputs
            n = len(lidar_observation(np.full(64, np.inf), self.lidar))
            self.observation_space = spaces.Dict({
                "camera": camera_space,
                "lidar": spaces.Box(0.0, 12.0, (n,), np.float32),
            })
        if metadata.action_space_type == "discrete":
            self.actions: list[Action] = list(metadata.actions)
            self.action_space: spaces.Space = spaces.Discrete(len(self.actions))
            self.continuous: ContinuousRange | None = None
        else:
            self.actions = []
            self.continuous = metadata.continuous
            self.action_space = spaces.Box(-1.0, 1.0, (2,), np.float32)

    # -- gymnasium API -------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self.sim.seed(seed)
            self._episode = 0
        start = (options or {}).get("start_waypoint", self.start)
        tr = self.sim.track
        if start == "rotate":
            s = (self._episode * ROUND_ROBIN_ADVANCE * tr.length_m) % tr.length_m
            wp = int(np.searchsorted(tr.cum, s, side="right") - 1) % tr.n
        else:
            wp = int(start) % tr.n
        self._episode += 1
        self._steps = 0
        self.sim.reset(wp)
        return self._observation(), {"start_waypoint": wp, "track_len": tr.length_m}

    def step(self, action: Any):
        steer, speed, logged = self.decode(action)
        race = self.sim.step(steer, speed)
        self._steps += 1
        params = self.sim.reward_params()
        reward = float(self.reward_function(params))
        status = race.status
        terminated = status in RESET_STATUSES or status == "lap_complete"
        truncated = not terminated and self._steps >= self.max_steps
        s = self.sim.state
        info = {
            "x": s.x, "y": s.y, "yaw_deg": math.degrees(s.yaw), "steering_angle": steer, "speed": speed,
            "action": logged, "progress": race.progress, "closest_waypoint": race.closest_waypoint,
            "track_len": self.sim.track.length_m, "all_wheels_on_track": race.all_wheels_on_track,
            "episode_status": status, "steps": self._steps, "sim_time": race.sim_time,
        }
        if self.sim.objects is not None:  # object races: DeepRacer's obstacle_crash_counter and the objects
            info["crash_count"] = int(race.crash_count)
            info["objects"] = [(round(float(o.x), 4), round(float(o.y), 4)) for o in self.sim.object_list]
        if status == "lap_complete":
            info["lap_time_s"] = race.lap_times[-1]
        elif truncated:
            info["episode_status"] = "time_up"
        return self._observation(), reward, terminated, truncated, info

    def render(self) -> np.ndarray | None:
        if self.render_mode == "rgb_array":
            return self.sim.top_down(480)[:, :, ::-1].copy()  # gymnasium wants RGB
        return None

    # -- helpers -------------------------------------------------------------------------
    def decode(self, action: Any) -> tuple[float, float, Any]:
        """Action -> (steering_deg, speed_mps, the action as SIM_TRACE logs it)."""
        if self.continuous is None:
            i = int(action)
            if not 0 <= i < len(self.actions):
                raise ValueError(f"action {action} is not in Discrete({len(self.actions)})")
            a = self.actions[i]
            return a.steering_angle, a.speed, i
        a = np.clip(np.asarray(action, dtype=np.float64).reshape(2), -1.0, 1.0)
        r = self.continuous
        steer = r.steering_low + (a[0] + 1.0) / 2.0 * (r.steering_high - r.steering_low)
        speed = r.speed_low + (a[1] + 1.0) / 2.0 * (r.speed_high - r.speed_low)
        return float(steer), float(speed), [round(float(steer), 4), round(float(speed), 4)]

    def _observation(self) -> Any:
        if self.stereo:
            frame = self.sim.render_stereo()
        else:
            frame = self.sim.render()
            frame = frame[:, :, None] if frame.ndim == 2 else frame
        if self.lidar is None:
            return frame
        from deepracer.sim.sensors import lidar_observation

        return {"camera": frame, "lidar": lidar_observation(self.sim.lidar_scan(), self.lidar)}


def _register() -> None:
    if "DeepRacer-v0" not in gym.registry:
        gym.register(id="DeepRacer-v0", entry_point="deepracer.sim.env:DeepRacerEnv")


_register()
