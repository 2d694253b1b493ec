"""The simulator: vehicle physics at a fixed step, the camera, race state and reward params.

`step()` advances one camera period (several physics steps) and is what the gym env and
the lock-step sim node call; `advance(dt)` advances by any dt for real-time use. Race
state is updated once per call, as DeepRacer does once per agent step.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from deepracer.errors import ConfigError
from deepracer.sim.camera import (
    Appearance,
    CameraPose,
    Renderer,
    randomize_appearance,
    randomize_pose,
)
from deepracer.sim.objects import (
    RESET_BEHIND_M,
    START_CLEARANCE_M,
    BotConfig,
    ObjectKind,
    ObstacleConfig,
    RaceObjects,
    RaceType,
    TrackObject,
)
from deepracer.sim.race import (
    EVALUATION_OFF_TRACK_PENALTY_S,
    RESET_STATUSES,
    RaceStatus,
    RaceTracker,
)
from deepracer.sim.track import DEFAULT_TRACK, Projection, Track, load_track
from deepracer.sim.trackmap import TrackMap
from deepracer.sim.vehicle import BASE_LINK_M, Vehicle, VehicleParams, VehicleState, clip_action

# x, y of DeepRacer's reward params are this far ahead of the car's origin (see docs/simulator.md)
DEEPRACER_XY_OFFSET_M = 0.14
# DeepRacer's "front of car" (progress, centre-line distances, waypoints, reward x/y): from our rear axle
FRONT_POINT_M = BASE_LINK_M + DEEPRACER_XY_OFFSET_M


@dataclass
class Randomization:
    """Ranges of the sim-to-real randomisation, drawn per episode (reset) unless noted."""

    appearance: bool = True  # lighting, colours, ground texture
    camera_pose: bool = True  # height, pitch, yaw, field of view
    blur_sigma_max: float = 1.0  # px, Gaussian blur (per episode sigma)
    image_noise_max: float = 6.0  # grey levels, per-frame Gaussian noise (per episode std)
    latency_max_s: float = 0.1  # actuation latency, uniform 0..max per episode
    speed_gain: float = 0.1  # the car's actual speed is command * (1 ± this)
    # share of episodes whose floor takes nearly the road's colour, only the borders marking the track
    # (0: none beyond chance; training can ask for more with `deepracer train --floor-like-road`)
    floor_like_road: float = 0.0


@dataclass
class SimConfig:
    track: str | Path | Track = DEFAULT_TRACK
    physics_hz: float = 60.0
    camera_hz: float = 15.0
    width: int = 160
    height: int = 120
    grayscale: bool = True
    randomize: bool = False
    seed: int | None = 0
    reverse_direction: bool = False  # drive the track clockwise (DeepRacer's is_reversed)
    off_track: Literal["reset", "end"] = "reset"  # failure: put the car back (evaluation) or stop
    off_track_penalty_s: float = EVALUATION_OFF_TRACK_PENALTY_S  # added to the lap time on each reset
    race_type: RaceType = RaceType.TIME_TRIAL
    obstacles: ObstacleConfig = field(default_factory=ObstacleConfig)  # object avoidance
    bots: BotConfig = field(default_factory=BotConfig)  # head-to-bot
    collision_penalty_s: float = 5.0  # DeepRacer's evaluation COLLISION_PENALTY, per crash (reset mode)
    vehicle: VehicleParams = field(default_factory=VehicleParams)
    camera: CameraPose = field(default_factory=CameraPose)
    appearance: Appearance = field(default_factory=Appearance)
    randomization: Randomization = field(default_factory=Randomization)
    map_resolution_m: float = 0.01
    # DeepRacer's action clip on every command (speed [0.1, 4] m/s: an action of 0 creeps); sim_node turns
    # it off, since there a 0 from the control node (stopped, e-stop, stale) must stop the car
    action_clip: bool = True

    def validate(self) -> None:
        if self.physics_hz <= 0 or self.camera_hz <= 0:
            raise ConfigError(f"physics_hz and camera_hz must be positive (got {self.physics_hz}, {self.camera_hz})")
        if self.camera_hz > self.physics_hz:
            raise ConfigError(f"camera_hz {self.camera_hz} cannot exceed physics_hz {self.physics_hz}")
        if not (8 <= self.width <= 1920 and 8 <= self.height <= 1080):
            raise ConfigError(f"camera size {self.width}x{self.height} is out of range")
        if self.camera.projection not in ("pinhole", "fisheye"):
            raise ConfigError(f"camera projection must be 'pinhole' or 'fisheye', not {self.camera.projection!r}")
        if self.off_track not in ("reset", "end"):
            raise ConfigError(f"off_track must be 'reset' or 'end', not {self.off_track!r}")
        self.race_type = RaceType.parse(self.race_type)
        if not (self.collision_penalty_s >= 0 and math.isfinite(self.collision_penalty_s)):
            raise ConfigError(f"collision penalty must be >= 0 seconds, got {self.collision_penalty_s}")
        if self.race_type is RaceType.OBJECT_AVOIDANCE:
            self.obstacles.validate()
        elif self.race_type is RaceType.HEAD_TO_BOT:
            self.bots.validate()


class Simulator:
    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = cfg = config or SimConfig()
        cfg.validate()
        track = cfg.track if isinstance(cfg.track, Track) else load_track(cfg.track)
        self.track = track.reversed() if cfg.reverse_direction else track
        self.map = TrackMap(self.track, cfg.map_resolution_m)
        self.renderer = Renderer(self.map, cfg.width, cfg.height, cfg.grayscale, cfg.camera, cfg.appearance)
        self.vehicle = Vehicle(cfg.vehicle)
        self.race_tracker = RaceTracker(self.track.length_m)
        self.physics_dt = 1.0 / cfg.physics_hz
        self.camera_dt = 1.0 / cfg.camera_hz
        self.rng = np.random.default_rng(cfg.seed)
        self.command = (0.0, 0.0)  # last (steering_deg, speed_mps) asked for
        self.done = False
        self._queue: deque[tuple[float, float]] = deque()
        self._latency_steps = 0
        self._speed_gain = 1.0
        self._blur = 0.0
        self._noise = 0.0
        self._blur_kernel: np.ndarray | None = None
        self._acc = 0.0
        self._proj: Projection = self.track.project(*self.track.center[0])
        # obstacles / bot cars (None in a time trial: its per-step path stays as it was)
        self.objects: RaceObjects | None = None
        if cfg.race_type is not RaceType.TIME_TRIAL:
            self.objects = RaceObjects(self.track, cfg.race_type, cfg.obstacles, cfg.bots)
            self.objects.reset(0.0, self.rng, first=True)
        self._footprint_offset = cfg.vehicle.wheelbase_m / 2  # DeepRacer's base_link: mid-wheelbase
        self.last_crash: int = -1  # index of the object hit on the last step, -1 if none
        self._time_base = 0.0  # sim time before this episode (DeepRacer's sim_time never restarts)
        self.reset(0)

    # -- episode ---------------------------------------------------------------------
    def seed(self, seed: int | None) -> None:
        self.rng = np.random.default_rng(seed)

    def reset(self, start_waypoint: int = 0, lateral_m: float = 0.0, heading_offset_rad: float = 0.0) -> RaceStatus:
        """Car at rest on the centre line at a waypoint, heading along the track.

        With objects on the track they are placed first (re-drawn when randomised); when one
        stands within START_CLEARANCE_M ahead of the start the car starts on the other lane,
        as DeepRacer starts its training episodes."""
        tr = self.track
        i = int(start_waypoint) % tr.n
        x, y, heading = tr.point_at(tr.cum[i])
        self.last_crash = -1
        if self.objects is not None:
            self.objects.reset(0.0, self.rng)
            k = self.objects.ahead(float(tr.cum[i]), START_CLEARANCE_M) if lateral_m == 0.0 else -1
            if k >= 0:
                x, y, _, _ = self.objects.lanes.point(float(tr.cum[i]), -self.objects.items[k].f or 1.0)
        x -= math.sin(heading) * lateral_m
        y += math.cos(heading) * lateral_m
        self._time_base += self.vehicle.state.t
        self.vehicle.reset(x, y, heading + heading_offset_rad)
        self._acc = 0.0
        self.done = False
        self.command = (0.0, 0.0)
        self._randomize_episode()
        self._queue = deque([(0.0, 0.0)] * self._latency_steps)
        self._proj = tr.project(*self.front_point(), hint=i)
        self.race_tracker.reset(self._proj.s, x, y, self.vehicle.state.t,
                                tr.closest_waypoint(*self.front_point(), self._proj.segment))
        self._update_wheels()
        self.race_tracker.status.all_wheels_on_track = self._all_on
        return self.race

    def _randomize_episode(self) -> None:
        cfg, r = self.config, self.config.randomization
        if not cfg.randomize:
            self._latency_steps, self._speed_gain, self._blur, self._noise = 0, 1.0, 0.0, 0.0
            self._blur_kernel = None
            return
        rng = self.rng
        self.renderer.set_appearance(randomize_appearance(rng, cfg.appearance, r.floor_like_road)
                                     if r.appearance else cfg.appearance)
        self.renderer.set_pose(randomize_pose(rng, cfg.camera) if r.camera_pose else cfg.camera)
        self._latency_steps = int(rng.integers(0, int(r.latency_max_s * cfg.physics_hz) + 1))
        self._speed_gain = float(rng.uniform(1 - r.speed_gain, 1 + r.speed_gain))
        self._blur = float(rng.uniform(0.0, r.blur_sigma_max))
        self._noise = float(rng.uniform(0.0, r.image_noise_max))
        self._blur_kernel = None
        if self._blur > 0.3:
            size = 3 if self._blur < 0.8 else 5
            self._blur_kernel = cv2.getGaussianKernel(size, self._blur, cv2.CV_32F)
        if self._noise > 0.5:
            # one field twice the frame size per episode; each frame adds a random crop of it
            # (drawing a Gaussian per pixel per frame would cost more than rendering)
            shape = (2 * cfg.height, 2 * cfg.width) + (() if cfg.grayscale else (3,))
            noise = np.rint(rng.normal(0.0, self._noise, shape)).clip(-255, 255).astype(np.int16)
            self._noise_pos = np.maximum(noise, 0).astype(np.uint8)
            self._noise_neg = np.maximum(-noise, 0).astype(np.uint8)

    # -- stepping --------------------------------------------------------------------
    def step(self, steering_deg: float, speed_mps: float) -> RaceStatus:
        """Apply a command and advance one camera period."""
        return self.advance(self.camera_dt, steering_deg, speed_mps)

    def advance(self, dt: float, steering_deg: float, speed_mps: float) -> RaceStatus:
        """Apply a command for dt seconds (fixed physics steps; the remainder carries over)."""
        if self.done:
            return self.race
        if not (math.isfinite(steering_deg) and math.isfinite(speed_mps)):
            raise ValueError(f"command must be finite, got steering {steering_deg}, speed {speed_mps}")
        self.command = (float(steering_deg), float(speed_mps))
        drive = clip_action(*self.command, self.config.vehicle) if self.config.action_clip else self.command
        self._acc += dt
        h = self.physics_dt
        veh, q = self.vehicle, self._queue
        while self._acc >= h - 1e-9:
            self._acc -= h
            if self._latency_steps:
                q.append(drive)
                steer, speed = q.popleft()
            else:
                steer, speed = drive
            veh.step(h, steer, speed * self._speed_gain)
        self._update_race()
        return self.race

    def _update_race(self) -> None:
        s, tr = self.vehicle.state, self.track
        window = 12 + int(abs(s.speed) * self.camera_dt / max(tr.min_seg_len, 1e-3))
        fx, fy = self.front_point()
        self._proj = p = tr.project(fx, fy, hint=self._proj.segment, window=min(window, tr.n // 2))
        self._update_wheels()
        cw = tr.closest_waypoint(fx, fy, p.segment)
        crash = self._collision(p.s) if self.objects is not None else -1
        status = self.race_tracker.update(p.s, s.x, s.y, s.t, self._any_on, self._all_on, cw, crash >= 0)
        self.last_crash = crash if status.status == "crashed" else -1
        if status.status in RESET_STATUSES:
            if self.config.off_track == "end":
                self.done = True
            elif status.status == "immobilized":
                # nothing to put right (a stopped car, e.g. e-stop): report it, no penalty
                self.race_tracker.restart_counters(p.s, s.x, s.y)
            elif status.status == "crashed":
                assert self.objects is not None
                o = self.objects.all[crash]
                self._place(o.s - RESET_BEHIND_M, -o.f or 1.0, self.config.collision_penalty_s)
            else:
                self._put_back()

    def _collision(self, s_along: float) -> int:
        """The object the car hit on this step (DeepRacer's fault rule for moving cars), or -1."""
        objs = self.objects
        assert objs is not None
        st = self.vehicle.state
        objs.update(st.t)
        k = objs.collide(st.x, st.y, st.yaw, self._footprint_offset)
        if k < 0:
            return -1
        o = objs.all[k]
        if o.kind is not ObjectKind.BOX and o.speed > 0:
            # a moving car: the agent is at fault only when it runs into it from behind
            ahead = (o.s - s_along) % self.track.length_m < self.track.length_m / 2
            if not ahead:
                if k < len(objs.items):
                    objs.pause(k, st.t)
                return -1
        return k

    def _update_wheels(self) -> None:
        on = [self.map.on_road(x, y) for x, y in self.vehicle.wheels()]
        self._any_on, self._all_on = any(on), all(on)

    def _put_back(self) -> None:
        """Evaluation rule: the car goes back on the centre line where it left, at rest (or, with
        an object within 1 m ahead, 1 m behind it on the other lane, as DeepRacer does)."""
        tr, p = self.track, self._proj
        if self.objects is not None:
            k = self.objects.ahead(p.s, RESET_BEHIND_M)
            if k >= 0:
                o = self.objects.items[k]
                self._place(o.s - RESET_BEHIND_M, -o.f or 1.0, self.config.off_track_penalty_s)
                return
        x, y, heading = tr.point_at(p.s - FRONT_POINT_M)  # the front point back where it was
        t = self.vehicle.state.t
        self.vehicle.reset(x, y, heading, 0.0, t)
        self._queue = deque([(0.0, 0.0)] * self._latency_steps)
        self.race_tracker.penalty(self.config.off_track_penalty_s)
        self._proj = tr.project(*self.front_point(), hint=p.segment)
        self.race_tracker.restart_counters(self._proj.s, x, y)
        self._update_wheels()

    def _place(self, s_along: float, lane: float, penalty_s: float) -> None:
        """Put the car at rest on a lane at s (after a crash), served with a penalty; the lap's
        distance goes back by as much as the car was moved back."""
        assert self.objects is not None
        tr, p = self.track, self._proj
        x, y, heading, seg = self.objects.lanes.point(s_along, lane)
        self.vehicle.reset(x, y, heading, 0.0, self.vehicle.state.t)
        self._queue = deque([(0.0, 0.0)] * self._latency_steps)
        self.race_tracker.penalty(penalty_s)
        self._proj = tr.project(*self.front_point(), hint=seg)
        back = (p.s - self._proj.s + tr.length_m / 2) % tr.length_m - tr.length_m / 2
        self.race_tracker.driven -= back
        self.race_tracker.restart_counters(self._proj.s, x, y)
        self._update_wheels()

    @property
    def object_list(self) -> list[TrackObject]:
        """The obstacles, bot cars and other racers' cars on the track (empty in a time trial)."""
        return self.objects.all if self.objects is not None else []

    # -- outputs -----------------------------------------------------------------------
    @property
    def state(self) -> VehicleState:
        return self.vehicle.state

    @property
    def race(self) -> RaceStatus:
        return self.race_tracker.status

    @property
    def projection(self) -> Projection:
        """The projection of DeepRacer's front point (`front_point()`) on the centre line."""
        return self._proj

    def front_point(self) -> tuple[float, float]:
        """DeepRacer's \"front of car\": 0.14 m ahead of its base_link (the middle of the wheelbase),
        where progress, the centre-line distances, the closest waypoints and reward x, y are taken."""
        s = self.vehicle.state
        return s.x + FRONT_POINT_M * math.cos(s.yaw), s.y + FRONT_POINT_M * math.sin(s.yaw)

    @property
    def sim_time(self) -> float:
        """Seconds simulated since the simulator was made (across episodes, as DeepRacer's clock)."""
        return self._time_base + self.vehicle.state.t

    def render(self) -> np.ndarray:
        """The car's camera view: uint8 (H, W) grey or (H, W, 3) BGR. A fresh array."""
        s = self.vehicle.state
        frame = self.renderer.render(s.x, s.y, s.yaw)
        copied = False
        if self.objects is not None and len(self.objects):
            frame, copied = frame.copy(), True  # the renderer's buffer keeps only the ground and the sky
            self.renderer.draw_objects(frame, s.x, s.y, s.yaw, self.objects.all)
        if self._blur_kernel is not None:
            frame = cv2.sepFilter2D(frame, -1, self._blur_kernel, self._blur_kernel)
        elif not copied:
            frame = frame.copy()
        if self._noise > 0.5:
            h, w = frame.shape[:2]
            r, c = self.rng.integers(0, (h, w))
            cv2.add(frame, self._noise_pos[r:r + h, c:c + w], dst=frame)  # saturating uint8
            cv2.subtract(frame, self._noise_neg[r:r + h, c:c + w], dst=frame)
        return frame

    def render_stereo(self) -> np.ndarray:
        """STEREO_CAMERAS: (H, W, 2) uint8 grey, channels (left, right), the cameras 0.06 m apart
        (DeepRacer's y = ±0.03 m), objects drawn in both."""
        from deepracer.sim.sensors import STEREO_BASELINE_M

        if not hasattr(self, "_stereo"):
            cfg = self.config
            self._stereo = [Renderer(self.map, cfg.width, cfg.height, True,
                                     replace(self.renderer.pose, lateral_m=side * STEREO_BASELINE_M / 2),
                                     self.renderer.appearance) for side in (1.0, -1.0)]
        s = self.vehicle.state
        out = np.empty((self.config.height, self.config.width, 2), np.uint8)
        for k, r in enumerate(self._stereo):
            r.set_pose(replace(self.renderer.pose, lateral_m=(1.0 if k == 0 else -1.0) * STEREO_BASELINE_M / 2))
            r.set_appearance(self.renderer.appearance)
            frame = r.render(s.x, s.y, s.yaw)
            if self.objects is not None and len(self.objects):
                frame = frame.copy()
                r.draw_objects(frame, s.x, s.y, s.yaw, self.objects.all)
            out[:, :, k] = frame
        return out

    @property
    def lidar(self) -> Any:
        """The car's LiDAR (deepracer.sim.sensors.Lidar), made on first use."""
        if not hasattr(self, "_lidar"):
            from deepracer.sim.sensors import Lidar

            self._lidar = Lidar(seed=self.config.seed)
        return self._lidar

    def lidar_scan(self) -> np.ndarray:
        """The LiDAR's (64,) ranges in m (+inf: nothing in reach), a new scan at 10 Hz of sim time
        (between scans the same array again, as DeepRacer's LiDAR buffer is not cleared on read)."""
        s = self.vehicle.state
        return self.lidar.scan(s.t, s.x, s.y, s.yaw, self.object_list)

    def reward_params(self) -> dict[str, Any]:
        """DeepRacer's reward-function input for the current state (see docs/simulator.md)."""
        from deepracer.sim.reward_params import reward_params

        return reward_params(self)

    def top_down(self, size: int = 480, trail: list[tuple[float, float]] | None = None) -> np.ndarray:
        """uint8 BGR bird's-eye view of the track with the car (for videos and `tracks show`)."""
        from deepracer.sim.render2d import top_down

        return top_down(self, size, trail)
