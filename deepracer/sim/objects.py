"""Objects on the track: DeepRacer's obstacles (object avoidance) and bot cars (head-to-bot).

One source for DeepRacer's numbers (../shared/deepracer-facts.md §5, §6) and the rules that
use them:

- lanes: the inner lane runs midway between the centre line and the inner border, the outer
  lane midway between the centre line and the outer border (DeepRacer's `track_data`); a lane
  position f is +1 on the inner lane, -1 on the outer lane, 0 on the centre line;
- obstacles: boxes 0.40 x 0.30 x 0.25 m (length along the lane, width, height), placed either
  at an explicit list of (progress %, lane) or evenly spaced (linspace from `min_distance_pct`
  % of the track to 1.0 m before its end, lanes alternating inner first), optionally re-drawn
  every episode; DeepRacer's bot car can stand in for the box (`IS_OBSTACLE_BOT_CAR`);
- bot cars: drive a lane at a constant speed from evenly spaced starts (2.0 m to L - 1.0 m),
  change lanes after a uniform wait between a minimum and a maximum over 1.0 m of track;
- collision: the agent's four footprint corners (0.1961 x 0.32352 m about the middle of its
  wheelbase, DeepRacer's base_link) tested for containment in each object's rectangle (a box
  counts as 0.5 x 0.4 m, a car as its footprint). Only the agent's corners are tested, as in
  DeepRacer.

Positions are kept as (s along the centre line from waypoint 0, lane position f): the reward
params (`objects_distance`, `objects_left_of_center`, `closest_objects`) follow from them
without projecting anything per step.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from enum import IntEnum, StrEnum

import numpy as np

from deepracer.errors import ConfigError
from deepracer.sim.track import Track


class RaceType(StrEnum):
    """DeepRacer's race types (the console's and simapp's RACE_TYPE, in lower case)."""

    TIME_TRIAL = "time_trial"
    OBJECT_AVOIDANCE = "object_avoidance"
    HEAD_TO_BOT = "head_to_bot"

    @classmethod
    def parse(cls, text: str | RaceType) -> RaceType:
        key = str(text).strip().lower().replace("-", "_")
        for rt in cls:
            if key == rt.value:
                return rt
        raise ConfigError(f"unknown race type {text!r}; use one of {', '.join(r.value for r in cls)}")


class Lane(IntEnum):
    """DeepRacer's OBJECT_POSITIONS lane: 1 = inner, -1 = outer."""

    INNER = 1
    OUTER = -1

    @classmethod
    def parse(cls, text: str | int) -> Lane:
        key = str(text).strip().lower()
        words = {"1": cls.INNER, "inner": cls.INNER, "in": cls.INNER, "i": cls.INNER,
                 "-1": cls.OUTER, "outer": cls.OUTER, "out": cls.OUTER, "o": cls.OUTER}
        if key not in words:
            raise ConfigError(f"unknown lane {text!r}: use inner (1) or outer (-1)")
        return words[key]


class ObjectKind(StrEnum):
    BOX = "box"  # box_obstacle
    BOT_CAR = "bot_car"  # a bot car, driving or standing as an obstacle
    CAR = "car"  # another racer's car (head-to-head)


# -- DeepRacer's numbers (facts §5, §6) ----------------------------------------------------
BOX_SIZE_M = (0.40, 0.30, 0.25)  # length along the lane, width, height (box_obstacle/model.sdf)
BOX_COLLISION_M = (0.50, 0.40)  # collision rectangle: the SDF box + 0.1 m each way
CAR_FOOTPRINT_M = (0.32352, 0.1961)  # length, width: the agent's and a bot car's footprint
CAR_HEIGHT_M = 0.17  # drawing only: the shell's roof (not a DeepRacer number)
MIN_OBJECTS, MAX_OBJECTS = 1, 6  # the console's range for obstacles and bots
OBSTACLE_END_MARGIN_M = 1.0  # evenly spaced obstacles end this far before the lap's end
RESET_BEHIND_M = 1.0  # after a crash the car is put back this far behind the object
START_CLEARANCE_M = 1.0  # an object this close to the start sends the car to the other lane
BOT_END_MARGIN_M = 1.0


@dataclass(frozen=True)
class ObstacleConfig:
    """Object avoidance (simapp's NUMBER_OF_OBSTACLES, OBJECT_POSITIONS, ...)."""

    count: int = 3  # the console's default (simapp's is 0: no race without boxes here)
    positions: tuple[tuple[float, Lane], ...] = ()  # (progress %, lane); overrides count
    min_distance_pct: float = 2.0  # MIN_DISTANCE_BETWEEN_OBSTACLES, % of the track length
    randomize: bool = False  # RANDOMIZE_OBSTACLE_LOCATIONS: re-drawn at every episode reset
    bot_cars: bool = False  # IS_OBSTACLE_BOT_CAR: stationary bot cars instead of boxes

    def validate(self) -> None:
        n = len(self.positions) or self.count
        if not MIN_OBJECTS <= n <= MAX_OBJECTS:
            raise ConfigError(f"object avoidance needs {MIN_OBJECTS}..{MAX_OBJECTS} obstacles, got {n}")
        for pct, lane in self.positions:
            if not (0.0 <= pct <= 100.0 and math.isfinite(pct)):
                raise ConfigError(f"obstacle position {pct} % is outside 0..100")
            Lane(lane)
        if not 0.0 <= self.min_distance_pct < 100.0:
            raise ConfigError(f"min_distance_pct must be in 0..100, got {self.min_distance_pct}")


@dataclass(frozen=True)
class BotConfig:
    """Head-to-bot (simapp's NUMBER_OF_BOT_CARS, BOT_CAR_SPEED, ...)."""

    count: int = 3  # deepracer-for-cloud's template (simapp's default is 0)
    speed_mps: float = 0.2  # BOT_CAR_SPEED, constant
    min_distance_m: float = 2.0  # MIN_DISTANCE_BETWEEN_BOT_CARS (metres)
    randomize: bool = False  # RANDOMIZE_BOT_CAR_LOCATIONS
    lane_change: bool = False  # IS_LANE_CHANGE
    lane_change_min_s: float = 3.0  # LOWER_LANE_CHANGE_TIME
    lane_change_max_s: float = 5.0  # UPPER_LANE_CHANGE_TIME
    lane_change_distance_m: float = 1.0  # LANE_CHANGE_DISTANCE
    penalty_s: float = 2.0  # PENALTY_SECONDS: a bot the agent hits (not from behind) stops this long

    def validate(self) -> None:
        if not MIN_OBJECTS <= self.count <= MAX_OBJECTS:
            raise ConfigError(f"head-to-bot needs {MIN_OBJECTS}..{MAX_OBJECTS} bot cars, got {self.count}")
        if not 0.0 < self.speed_mps <= 6.0:
            raise ConfigError(f"bot speed must be in (0, 6] m/s (the console's 0.2..6), got {self.speed_mps}")
        if not 0.0 < self.lane_change_min_s <= self.lane_change_max_s:
            raise ConfigError(f"lane change times need 0 < min <= max, got {self.lane_change_min_s}, "
                              f"{self.lane_change_max_s}")
        if self.lane_change_distance_m <= 0 or self.min_distance_m < 0 or self.penalty_s < 0:
            raise ConfigError("lane change distance must be > 0, spacing and penalty >= 0")


def parse_positions(text: str) -> tuple[tuple[float, Lane], ...]:
    """`--object-positions "10,inner;50,outer"` (progress %, lane; lane also 1/-1)."""
    out = []
    for item in filter(None, (p.strip() for p in text.split(";"))):
        parts = item.split(",")
        if len(parts) != 2:
            raise ConfigError(f"object position {item!r}: write PROGRESS,LANE (e.g. 25,inner)")
        try:
            pct = float(parts[0])
        except ValueError as err:
            raise ConfigError(f"object position {item!r}: {parts[0]!r} is not a progress %") from err
        out.append((pct, Lane.parse(parts[1])))
    if not out:
        raise ConfigError("--object-positions is empty")
    return tuple(out)


class LaneGeometry:
    """Points on the lanes of a track, interpolated along the centre line (plain floats: this runs
    per bot car per step)."""

    def __init__(self, track: Track) -> None:
        self.track = track
        self.length = track.length_m
        n = track.n
        self._cum = track.cum.tolist()
        self._n = n
        nxt = [(k + 1) % n for k in range(n)]
        c, i, o = track.center, track.inner, track.outer
        self._c = c.tolist()
        self._dc = (c[nxt] - c).tolist()
        self._bi = (i - c).tolist()  # centre -> inner border
        self._dbi = ((i[nxt] - c[nxt]) - (i - c)).tolist()
        self._bo = (o - c).tolist()
        self._dbo = ((o[nxt] - c[nxt]) - (o - c)).tolist()
        self._dir = track.seg_dir.tolist()
        self._heading = track.seg_heading.tolist()
        self._seg_len = track.seg_len.tolist()

    def point(self, s: float, f: float) -> tuple[float, float, float, int]:
        """(x, y, heading rad of the centre line, segment) at distance s and lane position f."""
        x, y, heading, k, _ = self.pose(s, f)
        return x, y, heading, k

    def pose(self, s: float, f: float) -> tuple[float, float, float, int, float]:
        """point() and the signed distance from the centre line (+ = left of the driving direction)."""
        s %= self.length
        k = min(bisect.bisect_right(self._cum, s) - 1, self._n - 1)
        t = (s - self._cum[k]) / self._seg_len[k]
        c, dc = self._c[k], self._dc[k]
        b, db = (self._bi[k], self._dbi[k]) if f >= 0 else (self._bo[k], self._dbo[k])
        a = 0.5 * abs(f)
        ox, oy = a * (b[0] + t * db[0]), a * (b[1] + t * db[1])
        d = self._dir[k]
        return c[0] + t * dc[0] + ox, c[1] + t * dc[1] + oy, self._heading[k], k, d[0] * oy - d[1] * ox


@dataclass
class TrackObject:
    """One object's pose and what the reward params and the renderer need of it."""

    kind: ObjectKind
    s: float  # m along the centre line from waypoint 0
    f: float  # lane position, +1 inner, -1 outer
    x: float = 0.0
    y: float = 0.0
    yaw: float = 0.0
    speed: float = 0.0  # m/s (bots)
    length: float = 0.0  # collision rectangle
    width: float = 0.0
    lateral: float = 0.0  # signed distance from the centre line, + = left of the driving direction
    # bot state
    paused_until: float = -1.0
    change_at: float = math.inf  # sim time the next lane change starts
    change_from: float = 0.0  # lane position at the start of a change
    change_s0: float = math.nan  # driven distance at the start of a change (nan: not changing)
    driven: float = 0.0

    @property
    def lane(self) -> Lane:
        return Lane.INNER if self.f >= 0 else Lane.OUTER


def _smoothstep(u: float) -> float:
    u = min(max(u, 0.0), 1.0)
    return u * u * (3.0 - 2.0 * u)


class RaceObjects:
    """The obstacles or bot cars of one simulator (empty for a time trial)."""

    def __init__(self, track: Track, race_type: RaceType, obstacles: ObstacleConfig | None = None,
                 bots: BotConfig | None = None) -> None:
        self.track = track
        self.race_type = race_type
        self.obstacles_cfg = obstacles or ObstacleConfig()
        self.bots_cfg = bots or BotConfig()
        if race_type is RaceType.OBJECT_AVOIDANCE:
            self.obstacles_cfg.validate()
        elif race_type is RaceType.HEAD_TO_BOT:
            self.bots_cfg.validate()
        self.lanes = LaneGeometry(track)
        self.items: list[TrackObject] = []
        self.extra: list[TrackObject] = []  # other racers' cars (head-to-head), posed from outside
        self._t = 0.0
        self.crash_counts: list[int] = []
        self.moves_bots = True  # False: the bots are another simulator's (head-to-head shares them)

    @property
    def bots(self) -> bool:
        return self.race_type is RaceType.HEAD_TO_BOT

    @property
    def all(self) -> list[TrackObject]:
        return self.items + self.extra if self.extra else self.items

    def __len__(self) -> int:
        return len(self.items) + len(self.extra)

    # -- placement (each episode) -------------------------------------------------------
    def reset(self, t: float, rng: np.random.Generator, first: bool = False) -> None:
        """Place the objects for an episode: fixed placements once, randomised ones every time."""
        self._t = t
        if self.race_type is RaceType.OBJECT_AVOIDANCE:
            if first or self.obstacles_cfg.randomize or not self.items:
                self.items = self._place_obstacles(rng)
        elif self.race_type is RaceType.HEAD_TO_BOT:
            self.items = self._place_bots(rng, t)
        self.crash_counts = [0] * len(self.items)
        for o in self.items:
            self._pose(o)

    def _place_obstacles(self, rng: np.random.Generator) -> list[TrackObject]:
        cfg, length = self.obstacles_cfg, self.track.length_m
        if cfg.positions:
            spots = [(pct / 100.0 * length, float(lane)) for pct, lane in cfg.positions]
        else:
            d_min = cfg.min_distance_pct / 100.0 * length
            dists = np.linspace(d_min, length - OBSTACLE_END_MARGIN_M, cfg.count)
            lanes = [float(Lane.INNER if k % 2 == 0 else Lane.OUTER) for k in range(cfg.count)]
            if cfg.randomize:
                # each distance anywhere between its neighbours (± d_min of them), lanes at random
                lo = np.r_[d_min, dists[:-1] + d_min]
                hi = np.r_[dists[1:] - d_min, length - OBSTACLE_END_MARGIN_M]
                dists = rng.uniform(np.minimum(lo, hi), np.maximum(lo, hi))
                lanes = [float(Lane.INNER if v else Lane.OUTER) for v in rng.integers(0, 2, cfg.count)]
            spots = list(zip(dists.tolist(), lanes, strict=True))
        if cfg.bot_cars:
            kind, (ln, wd) = ObjectKind.BOT_CAR, CAR_FOOTPRINT_M
        else:
            kind, (ln, wd) = ObjectKind.BOX, BOX_COLLISION_M
        return [TrackObject(kind, s % length, f, length=ln, width=wd) for s, f in spots]

    def _place_bots(self, rng: np.random.Generator, t: float) -> list[TrackObject]:
        cfg, length = self.bots_cfg, self.track.length_m
        dists = np.linspace(cfg.min_distance_m, length - BOT_END_MARGIN_M, cfg.count)
        lanes = [float(Lane.INNER if k % 2 == 0 else Lane.OUTER) for k in range(cfg.count)]
        if cfg.randomize:
            for _ in range(100):  # random starts at least min_distance apart (round the loop)
                d = np.sort(rng.uniform(0.0, length, cfg.count))
                gaps = np.diff(np.r_[d, d[0] + length])
                if cfg.count == 1 or gaps.min() >= cfg.min_distance_m:
                    dists = d
                    break
            lanes = [float(Lane.INNER if v else Lane.OUTER) for v in rng.integers(0, 2, cfg.count)]
        bots = []
        ln, wd = CAR_FOOTPRINT_M
        for s, f in zip(dists.tolist(), lanes, strict=True):
            b = TrackObject(ObjectKind.BOT_CAR, s % length, f, speed=cfg.speed_mps, length=ln, width=wd)
            if cfg.lane_change:
                b.change_at = t + float(rng.uniform(cfg.lane_change_min_s, cfg.lane_change_max_s))
            bots.append(b)
        self._rng = rng
        return bots

    def _pose(self, o: TrackObject, moving: bool = False) -> None:
        x, y, heading, _, lateral = self.lanes.pose(o.s, o.f)
        if moving:  # a bot faces where it went (lane changes turn it)
            dx, dy = x - o.x, y - o.y
            if dx * dx + dy * dy > 1e-10:
                heading = math.atan2(dy, dx)
            else:
                heading = o.yaw
        o.x, o.y, o.yaw, o.lateral = x, y, heading, lateral

    # -- motion (bots) ------------------------------------------------------------------
    def update(self, t: float) -> None:
        """Advance the bot cars to sim time t (obstacles stand still)."""
        dt, self._t = t - self._t, t
        if not self.bots or dt <= 0 or not self.moves_bots:
            return
        cfg, length = self.bots_cfg, self.track.length_m
        for o in self.items:
            run = dt
            if o.paused_until > t - dt:
                run = max(0.0, t - o.paused_until)
            ds = o.speed * run
            o.driven += ds
            o.s = (o.s + ds) % length
            if cfg.lane_change:
                if o.change_s0 != o.change_s0 and t >= o.change_at:
                    o.change_s0, o.change_from = o.driven, o.f
                if o.change_s0 == o.change_s0:
                    u = (o.driven - o.change_s0) / cfg.lane_change_distance_m
                    o.f = o.change_from * (1.0 - 2.0 * _smoothstep(u))
                    if u >= 1.0:
                        o.f = -o.change_from
                        o.change_s0 = math.nan
                        o.change_at = t + float(self._rng.uniform(cfg.lane_change_min_s, cfg.lane_change_max_s))
            self._pose(o, moving=True)

    def pause(self, index: int, t: float) -> None:
        """A bot struck by the agent from the side or behind stops for its penalty (DeepRacer)."""
        self.items[index].paused_until = t + self.bots_cfg.penalty_s

    # -- collision ------------------------------------------------------------------------
    def collide(self, x: float, y: float, yaw: float, offset: float) -> int:
        """Index (in `all`) of the first object one of the agent's footprint corners is inside, or -1.

        (x, y, yaw) is the agent's pose; `offset` moves it forward to the footprint's centre."""
        c, s = math.cos(yaw), math.sin(yaw)
        cx, cy = x + offset * c, y + offset * s
        hl, hw = CAR_FOOTPRINT_M[0] / 2, CAR_FOOTPRINT_M[1] / 2
        for k, o in enumerate(self.all):
            dx, dy = o.x - cx, o.y - cy
            reach = hl + 0.5 * math.hypot(o.length, o.width) + 0.25
            if dx * dx + dy * dy > reach * reach:
                continue
            oc, os_ = math.cos(o.yaw), math.sin(o.yaw)
            ol, ow = o.length / 2, o.width / 2
            for fx, fy in ((hl, hw), (hl, -hw), (-hl, hw), (-hl, -hw)):
                px = cx + fx * c - fy * s - o.x
                py = cy + fx * s + fy * c - o.y
                if abs(px * oc + py * os_) <= ol and abs(-px * os_ + py * oc) <= ow:
                    return k
        return -1

    def ahead(self, s: float, window: float) -> int:
        """Index of the nearest object within `window` m ahead of s along the track (or overlapping
        it by up to half its length behind), or -1."""
        length = self.track.length_m
        best, best_d = -1, math.inf
        for k, o in enumerate(self.items):
            d = (o.s - s) % length
            if d > length - o.length:  # the object reaches back over s
                d -= length
            if -o.length <= d <= window and d < best_d:
                best, best_d = k, d
        return best


@dataclass(frozen=True)
class RaceConfig:
    """What a race type adds to a simulator: `SimConfig(**race.sim_fields())` or `replace(cfg, ...)`."""

    race_type: RaceType = RaceType.TIME_TRIAL
    obstacles: ObstacleConfig = ObstacleConfig()
    bots: BotConfig = BotConfig()
    collision_penalty_s: float = 5.0  # DeepRacer's evaluation COLLISION_PENALTY

    def sim_fields(self) -> dict[str, object]:
        return {"race_type": self.race_type, "obstacles": self.obstacles, "bots": self.bots,
                "collision_penalty_s": self.collision_penalty_s}

    def validate(self) -> None:
        RaceType.parse(self.race_type)
        if self.race_type is RaceType.OBJECT_AVOIDANCE:
            self.obstacles.validate()
        elif self.race_type is RaceType.HEAD_TO_BOT:
            self.bots.validate()
        if not (self.collision_penalty_s >= 0 and math.isfinite(self.collision_penalty_s)):
            raise ConfigError(f"--collision-penalty must be >= 0 seconds, got {self.collision_penalty_s}")

    def node_params(self) -> dict[str, object]:
        """The same race as sim_node parameters (deepracer.node_params.SimNodeParams)."""
        o, b = self.obstacles, self.bots
        return {"race_type": str(self.race_type), "objects": o.count, "randomize_objects": o.randomize,
                "obstacle_bot_cars": o.bot_cars,
                "object_positions": ";".join(f"{p:g},{int(lane)}" for p, lane in o.positions),
                "bots": b.count, "bot_speed": b.speed_mps, "bot_lane_change": b.lane_change,
                "randomize_bots": b.randomize, "collision_penalty": self.collision_penalty_s}

    def to_json(self) -> dict[str, object]:
        """What evaluation.json and the training folder record of the race."""
        out: dict[str, object] = {"race_type": str(self.race_type)}
        if self.race_type is RaceType.OBJECT_AVOIDANCE:
            o = self.obstacles
            out["obstacles"] = {"count": len(o.positions) or o.count,
                                "positions": [[p, int(lane)] for p, lane in o.positions],
                                "randomize": o.randomize, "bot_cars": o.bot_cars,
                                "min_distance_pct": o.min_distance_pct}
        elif self.race_type is RaceType.HEAD_TO_BOT:
            b = self.bots
            out["bots"] = {"count": b.count, "speed_mps": b.speed_mps, "lane_change": b.lane_change,
                           "lane_change_min_s": b.lane_change_min_s, "lane_change_max_s": b.lane_change_max_s,
                           "randomize": b.randomize, "penalty_s": b.penalty_s}
        if self.race_type is not RaceType.TIME_TRIAL:
            out["collision_penalty_s"] = self.collision_penalty_s
        return out
