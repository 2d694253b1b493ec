"""A racing reference: the minimum-time line for the simulator's own vehicle limits.

What the simulator's vehicle (deepracer/sim/vehicle.py) enforces, read from its VehicleParams:
- speed: min_speed_mps <= command <= max_speed_mps (DeepRacer's clip, 0.1..4 m/s); the speed
  moves towards the command at up to the tyres' grip μg (4.9 m/s²) both ways, then as a lag
  with the wheels' time constant (2.6 ms): braking aims at the lowest command;
- grip: above max_lateral_accel (the same μg) the tyres slide and the path curvature is
  capped at a/v², so v <= sqrt(a_lat/|κ|);
- steering: |δ| <= max_steering_deg, i.e. |κ| <= tan(δ_max)/L, slewing at steering_rate_deg_s,
  i.e. v·|dκ/ds| <= rate·sec²δ/L.

The line is a lateral offset α(s) from a smoothed centre line, bounded by the borders minus
half the car's width (and a small margin for the front wheels, which run outside the rear
axle's path in a bend). Two steps: a minimum-curvature line (bounded linear least squares on
the second differences, `scipy.optimize.lsq_linear`), then a minimum-time refinement of the
offsets at control points every ~0.5 m (`scipy.optimize.minimize`, L-BFGS-B within the
bounds) with the lap time from a forward-backward speed profile under the limits above.

`LineFollower` drives a line in the simulator (pure pursuit on the line, speed from the
profile through a command that undoes the lag), so the computed time can be checked against
a driven one. `fastest_pure_pursuit` searches the centre-line driver's parameters for its
fastest clean lap. All lap times here are from a standing start on the start line, as
DeepRacer's evaluation's first trial (the flying-lap time of the line is reported too).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from deepracer.sim.track import Track
from deepracer.sim.vehicle import VehicleParams, VehicleState

FRONT_WHEEL_MARGIN_M = 0.02  # front wheels run up to L²/2R outside the rear axle's path (2.7 cm at R = 0.5 m)
DEFAULT_SPACING_M = 0.05  # resolution of the line and of its speed profile
CONTROL_SPACING_M = 0.5  # spacing of the offsets the minimum-time step moves
MAX_LAP_SECONDS = 120.0


class BorderRule(StrEnum):
    """What counts as a clean lap, for the line and for every driver measured against it.

    all_wheels: all four wheels on the road at every step (the line keeps half the car's width
    from the borders); deepracer: DeepRacer's off-track rule, at least one wheel on the road
    (the line may put the car up to half its width minus a margin over a border).
    """

    ALL_WHEELS = "all_wheels"
    DEEPRACER = "deepracer"

    def margin_m(self, track_m: float) -> float:
        """Distance the rear-axle path keeps inside each border (negative: over it)."""
        if self is BorderRule.ALL_WHEELS:
            return track_m / 2 + FRONT_WHEEL_MARGIN_M
        return -track_m / 2 + 1.5 * FRONT_WHEEL_MARGIN_M

# the pure-pursuit driver's search grid (fastest_pure_pursuit)
PP_MAX_SPEEDS = (2.5, 3.0, 3.5, 4.0)
PP_LATERAL = (3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0, 16.0, 24.0)
PP_LOOKAHEADS = ((0.25, 0.15), (0.35, 0.15), (0.35, 0.3), (0.5, 0.3))


@dataclass(frozen=True)
class VehicleLimits:
    """The simulator vehicle's limits, as the speed profile uses them."""

    max_speed: float
    max_lateral_accel: float
    max_curvature: float  # 1/m, from the steering limit
    steering_rate_rad_s: float
    max_accel: float  # m/s², accelerating and braking (the tyres' grip; inf: only the lag)
    wheel_time_constant_s: float  # the speed's lag inside the grip limit
    wheelbase_m: float
    track_m: float
    min_speed: float = 0.0  # the lowest speed command (DeepRacer's clip: 0.1): braking aims here

    @classmethod
    def from_params(cls, p: VehicleParams | None = None) -> VehicleLimits:
        p = p or VehicleParams()
        a_lat = p.max_lateral_accel if p.max_lateral_accel > 0 else math.inf
        a_x = p.max_longitudinal_accel if p.max_longitudinal_accel > 0 else math.inf
        if math.isinf(a_x) and p.wheel_time_constant_s <= 0:
            raise ValueError("a vehicle needs a longitudinal acceleration limit or a wheel time constant")
        return cls(max_speed=p.max_speed_mps, max_lateral_accel=a_lat,
                   max_curvature=math.tan(math.radians(p.max_steering_deg)) / p.wheelbase_m,
                   steering_rate_rad_s=math.radians(p.steering_rate_deg_s), max_accel=a_x,
                   wheel_time_constant_s=p.wheel_time_constant_s, wheelbase_m=p.wheelbase_m, track_m=p.track_m,
                   min_speed=max(p.min_speed_mps, 0.0))

    def to_dict(self) -> dict[str, float]:
        return {"max_speed_mps": self.max_speed, "min_speed_mps": self.min_speed,
                "max_lateral_accel_mps2": self.max_lateral_accel, "max_accel_mps2": self.max_accel,
                "max_curvature_1pm": round(self.max_curvature, 4), "min_radius_m": round(1 / self.max_curvature, 4),
                "steering_rate_deg_s": round(math.degrees(self.steering_rate_rad_s), 3),
                "wheel_time_constant_s": round(self.wheel_time_constant_s, 5),
                "wheelbase_m": self.wheelbase_m, "track_m": self.track_m}


# -- the frame the line lives in ------------------------------------------------------------------


@dataclass
class Frame:
    """A smoothed centre line sampled every `spacing` metres, its left normals and the offset bounds."""

    s: np.ndarray  # (K,) centre-line distance of each sample from waypoint 0
    center: np.ndarray  # (K, 2)
    normal: np.ndarray  # (K, 2), unit, to the left of the driving direction
    lo: np.ndarray  # (K,) lowest offset (right border + margin), < 0
    hi: np.ndarray  # (K,) highest offset (left border - margin), > 0
    length: float

    def points(self, alpha: np.ndarray) -> np.ndarray:
        return self.center + alpha[:, None] * self.normal


def make_frame(track: Track, margin_m: float, spacing_m: float = DEFAULT_SPACING_M) -> Frame:
    from scipy.interpolate import CubicSpline

    pts = np.vstack([track.center, track.center[:1]])
    cum = track.cum
    sx = CubicSpline(cum, pts[:, 0], bc_type="periodic")
    sy = CubicSpline(cum, pts[:, 1], bc_type="periodic")
    k = max(16, int(round(track.length_m / spacing_m)))
    s = np.linspace(0.0, track.length_m, k, endpoint=False)
    center = np.stack([sx(s), sy(s)], axis=1)
    d = np.stack([sx(s, 1), sy(s, 1)], axis=1)
    d /= np.hypot(d[:, 0], d[:, 1])[:, None]
    normal = np.stack([-d[:, 1], d[:, 0]], axis=1)
    # half widths along the polyline, at the samples (periodic linear interpolation)
    hl = np.interp(s, cum, np.r_[track.half_left, track.half_left[:1]])
    hr = np.interp(s, cum, np.r_[track.half_right, track.half_right[:1]])
    # the smoothed centre sits slightly off the polyline: measure the offset and shift the bounds
    off = _lateral_offsets(track, center)
    lo, hi = -hr - off + margin_m, hl - off - margin_m
    # smooth the bounds from inside (a running minimum, then its running mean, never exceeds the
    # bound): a line riding a border must not inherit the kinks of a piecewise-linear route
    w = max(3, int(round(0.3 / spacing_m)) | 1)
    hi = _inner_smooth(hi, w)
    lo = -_inner_smooth(-lo, w)
    if np.any(hi <= lo):
        raise ValueError(f"track {track.name!r} is narrower than the car plus margins ({2 * margin_m:.3f} m) "
                         f"at s = {s[int(np.argmin(hi - lo))]:.2f} m")
    return Frame(s, center, normal, lo, hi, track.length_m)


def _inner_smooth(x: np.ndarray, w: int) -> np.ndarray:
    from scipy.ndimage import minimum_filter1d, uniform_filter1d

    return uniform_filter1d(minimum_filter1d(x, w, mode="wrap"), w, mode="wrap")


def _lateral_offsets(track: Track, points: np.ndarray) -> np.ndarray:
    out = np.empty(len(points))
    hint = None
    for i, (x, y) in enumerate(points):
        p = track.project(float(x), float(y), hint=hint, window=8)
        hint = p.segment
        out[i] = p.lateral
    return out


# -- geometry and speed of a line -----------------------------------------------------------------


def line_geometry(points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(segment lengths ds[i] from point i to i+1, signed curvature κ[i], heading[i]) of a closed polyline."""
    nxt, prv = np.roll(points, -1, axis=0), np.roll(points, 1, axis=0)
    ds = np.hypot(*(nxt - points).T)
    d1 = (nxt - prv)
    a, b = np.hypot(*(points - prv).T), ds
    # curvature of the circle through three consecutive points (exact on arcs, any spacing)
    cross = (points[:, 0] - prv[:, 0]) * (nxt[:, 1] - points[:, 1]) - (points[:, 1] - prv[:, 1]) * (nxt[:, 0] - points[:, 0])
    c = np.hypot(*d1.T)
    kappa = 2.0 * cross / np.maximum(a * b * c, 1e-12)
    heading = np.arctan2(d1[:, 1], d1[:, 0])
    return ds, kappa, heading


def speed_caps(ds: np.ndarray, kappa: np.ndarray, lim: VehicleLimits) -> np.ndarray:
    """The highest speed at each point: top speed, grip, steering rate (and a crawl at the lowest
    speed command where the line bends tighter than the steering allows: the optimiser steers
    clear of it)."""
    k = np.abs(kappa)
    cap = np.minimum(lim.max_speed, np.sqrt(lim.max_lateral_accel / np.maximum(k, 1e-9)))
    dk = np.abs(np.roll(kappa, -1) - np.roll(kappa, 1)) / np.maximum(ds + np.roll(ds, 1), 1e-9)
    delta = np.arctan(lim.wheelbase_m * k)
    rate_cap = lim.steering_rate_rad_s / (np.cos(delta) ** 2 * lim.wheelbase_m * np.maximum(dk, 1e-9))
    cap = np.maximum(np.minimum(cap, rate_cap), lim.min_speed + CRAWL_ABOVE_MIN_MPS)
    return np.where(k > lim.max_curvature, lim.min_speed + CRAWL_ABOVE_MIN_MPS, cap)


CRAWL_ABOVE_MIN_MPS = 0.05  # the slowest cap: braking reaches the lowest command only asymptotically (the lag)


def _accel_distance(v: np.ndarray, lim: VehicleLimits) -> np.ndarray:
    """Distance full throttle needs from rest to v, S(v) = ∫ u / a(u) du with a(u) = min(a_max,
    (v_max - u)/τ): v²/2a_max up to u1 = v_max - a_max τ, then the lag's τ (v_max ln((v_max - u1) /
    (v_max - v)) - (v - u1)). Accelerating over ds moves S by exactly ds."""
    vmax, a, tau = lim.max_speed, lim.max_accel, lim.wheel_time_constant_s
    v = np.minimum(np.asarray(v, float), vmax * (1 - 1e-12))
    u1 = vmax if tau <= 0 else max(vmax - a * tau, 0.0)  # a = inf: u1 = 0, the pure lag
    base = np.minimum(v, u1)
    out = base * base / (2 * a) if math.isfinite(a) else np.zeros_like(v)
    if tau > 0:
        w = np.maximum(v, u1)
        out = out + tau * (vmax * np.log((vmax - u1) / (vmax - w)) - (w - u1))
    return out


def _brake_distance(v: np.ndarray, lim: VehicleLimits) -> np.ndarray:
    """Braking towards the lowest command v_b as a distance potential, B(v) = ∫ u / a(u) du with
    a(u) = min(a_max, (u - v_b)/τ): (v² - u2²)/2a_max above u2 = v_b + a_max τ, the lag's
    τ ((v - u2) + v_b ln((v - v_b)/(u2 - v_b))) below; B grows by exactly ds per ds travelled backwards."""
    vb, a, tau = lim.min_speed, lim.max_accel, lim.wheel_time_constant_s
    v = np.maximum(np.asarray(v, float), vb + 1e-3)
    if tau <= 0:
        return v * v / (2 * a)
    u2 = vb + a * tau if math.isfinite(a) else math.inf
    hi = np.maximum(v, u2) if math.isfinite(u2) else v
    out = (hi * hi - u2 * u2) / (2 * a) if math.isfinite(u2) else np.zeros_like(v)
    lo = np.minimum(v, u2)
    ref = u2 if math.isfinite(u2) else 1.0  # with no grip limit, any reference speed will do
    out = out + tau * ((lo - ref) + (vb * np.log((lo - vb) / (ref - vb)) if vb > 0 else 0.0))
    return out


def _inverse(fn: Callable[[np.ndarray], np.ndarray], values: np.ndarray, vmax: float) -> np.ndarray:
    grid = np.linspace(0.0, vmax, 8001)
    g = fn(grid)
    return np.interp(values, g, grid)


def speed_profile(ds: np.ndarray, cap: np.ndarray, lim: VehicleLimits, start: int | None = None) -> np.ndarray:
    """Forward-backward speed profile on a closed line, exact for the grip limit and the lag
    (no time stepping).

    Full throttle moves the potential S(v) by the distance driven, so the forward pass is a
    running minimum: S(v_i) = min over j <= i of S(cap_j) + (s_i - s_j); braking likewise with
    B(v) going backwards. start=None: a flying lap (periodic; the pass starts at the slowest
    point, whose cap is always reached). start=i: from rest at point i, once round to point i
    again; the result then has len(ds) + 1 entries (point i at both ends), indices from i.
    """
    n = len(ds)
    vmax = lim.max_speed
    cap = np.minimum(np.asarray(cap, float), vmax)
    i0 = int(np.argmin(cap)) if start is None else int(start)
    order = (i0 + np.arange(n + 1)) % n
    c = cap[order].copy()
    if start is not None:
        c[0] = 0.0
    d = np.asarray(ds, float)[order[:-1]]
    s = np.r_[0.0, np.cumsum(d)]

    def accel(x: np.ndarray) -> np.ndarray:
        return _accel_distance(x, lim)

    def brake(x: np.ndarray) -> np.ndarray:
        return _brake_distance(x, lim)

    fwd = np.minimum.accumulate(accel(c) - s) + s
    v = np.minimum(_inverse(accel, fwd, vmax), c)
    b = brake(v) + s  # going backwards from the end: B grows by ds
    back = np.minimum.accumulate(b[::-1])[::-1] - s
    v = np.minimum(v, _inverse(brake, back, vmax))
    if start is not None:
        v[0] = 0.0
        return v
    return np.roll(v[:n], i0)


def lap_time(ds: np.ndarray, v: np.ndarray, start: int | None = None) -> float:
    """Σ ds / mean speed over each segment (flying: v per point; standing: the profile from `start`)."""
    n = len(ds)
    if start is None:
        vv = np.r_[v, v[:1]]
        d = ds
    else:
        vv = v
        d = np.roll(ds, -start)
    mean = 0.5 * (vv[:-1] + vv[1:])
    return float(np.sum(d[:n] / np.maximum(mean[:n], 1e-3)))


# -- the line -----------------------------------------------------------------------------------


@dataclass
class RacingLine:
    track: str
    points: np.ndarray  # (K, 2) rear-axle path
    ds: np.ndarray
    kappa: np.ndarray
    heading: np.ndarray
    speed: np.ndarray  # flying-lap speed at each point
    start_index: int  # the point on the start line
    flying_lap_s: float
    standing_lap_s: float
    method: str
    margin_m: float
    limits: VehicleLimits
    alpha: np.ndarray = field(repr=False)
    iterations: int = 0
    standing_speed: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def length_m(self) -> float:
        return float(self.ds.sum())

    def summary(self) -> dict[str, Any]:
        return {
            "method": self.method, "computed_lap_s": round(self.standing_lap_s, 3),
            "computed_flying_lap_s": round(self.flying_lap_s, 3), "line_length_m": round(self.length_m, 3),
            "max_curvature_1pm": round(float(np.abs(self.kappa).max()), 3),
            "top_speed_mps": round(float(self.speed.max()), 3), "min_speed_mps": round(float(self.speed.min()), 3),
            "border_margin_m": round(self.margin_m, 4), "optimizer_iterations": self.iterations,
        }


def _evaluate(frame: Frame, alpha: np.ndarray, lim: VehicleLimits, start: int | None) -> tuple[float, Any]:
    pts = frame.points(alpha)
    ds, kappa, heading = line_geometry(pts)
    cap = speed_caps(ds, kappa, lim)
    v = speed_profile(ds, cap, lim, start)
    return lap_time(ds, v, start), (pts, ds, kappa, heading, v)


QP_SPACING_M = 0.2  # the minimum-curvature problem is solved on this coarser grid (well conditioned, small)


def min_curvature_offsets(frame: Frame, qp_spacing_m: float = QP_SPACING_M) -> np.ndarray:
    """Offsets minimising Σ |p[i-1] - 2 p[i] + p[i+1]|² within the bounds: a bounded linear least
    squares (`scipy.optimize.lsq_linear`) on a uniform grid every `qp_spacing_m`, then a
    periodic spline onto the frame's samples."""
    from scipy.interpolate import CubicSpline
    from scipy.optimize import lsq_linear

    k = max(8, int(round(frame.length / qp_spacing_m)))
    sc = np.linspace(0.0, frame.length, k, endpoint=False)  # uniform, also across the start line

    def at(values: np.ndarray) -> np.ndarray:
        return np.interp(sc, np.r_[frame.s, frame.length], np.r_[values, values[:1]])

    c = np.stack([at(frame.center[:, 0]), at(frame.center[:, 1])], axis=1)
    nrm = np.stack([at(frame.normal[:, 0]), at(frame.normal[:, 1])], axis=1)
    nrm /= np.hypot(nrm[:, 0], nrm[:, 1])[:, None]
    lo, hi = at(frame.lo), at(frame.hi)
    a = np.zeros((2 * k, k))
    b = np.zeros(2 * k)
    for axis in (0, 1):
        for i in range(k):
            for j, w in (((i - 1) % k, 1.0), (i, -2.0), ((i + 1) % k, 1.0)):
                a[axis * k + i, j] += w * nrm[j, axis]
            b[axis * k + i] = -(c[(i - 1) % k, axis] - 2 * c[i, axis] + c[(i + 1) % k, axis])
    scale = 1.0 / (frame.length / k) ** 2  # residuals in curvature units: the tolerances then mean something
    res = lsq_linear(a * scale, b * scale, bounds=(lo, hi), method="trf", tol=1e-12, max_iter=10000)
    x = np.clip(res.x, lo, hi)
    spline = CubicSpline(np.r_[sc, frame.length], np.r_[x, x[:1]], bc_type="periodic")
    return np.clip(spline(frame.s), frame.lo, frame.hi)


def compute_racing_line(track: Track, params: VehicleParams | None = None, *, method: str = "min_time",
                        margin_m: float | None = None, spacing_m: float = DEFAULT_SPACING_M,
                        control_spacing_m: float = CONTROL_SPACING_M, max_iterations: int = 60,
                        rule: BorderRule = BorderRule.ALL_WHEELS) -> RacingLine:
    """The racing line of `track` for the vehicle `params` (default: the simulator's).

    method: "min_curvature" (fast) or "min_time" (min-curvature start, then lap time minimised).
    margin_m: distance kept from each border by the rear-axle path (default from `rule`: half
    the car's width plus FRONT_WHEEL_MARGIN_M, so all four wheels stay on the road).
    """
    from scipy.interpolate import CubicSpline
    from scipy.optimize import minimize

    if method not in ("min_curvature", "min_time"):
        raise ValueError(f"method must be min_curvature or min_time, not {method!r}")
    lim = VehicleLimits.from_params(params)
    margin = BorderRule(rule).margin_m(lim.track_m) if margin_m is None else margin_m
    frame = make_frame(track, margin, spacing_m)
    alpha = min_curvature_offsets(frame)
    iterations = 0
    if method == "min_time":
        # start from the fastest of: the min-curvature line, the centre line, and min-curvature
        # lines in half the room and in the room less a car's width (min curvature can bend
        # tighter than the steering allows where the track is wide: a start the gradient cannot leave)
        starts = [alpha, np.zeros_like(alpha)]
        for lo, hi in ((frame.lo / 2, frame.hi / 2), (frame.lo + lim.track_m, frame.hi - lim.track_m)):
            if np.all(hi > lo):
                starts.append(min_curvature_offsets(Frame(frame.s, frame.center, frame.normal, lo, hi, frame.length)))
        alpha = min(starts, key=lambda a: _evaluate(frame, a, lim, None)[0])
        m = max(8, int(round(frame.length / control_spacing_m)))
        idx = np.linspace(0, len(frame.s), m, endpoint=False).astype(int)
        s_ctrl = frame.s[idx]
        lo_c, hi_c = frame.lo[idx], frame.hi[idx]
        base = alpha.copy()

        def fine(x: np.ndarray) -> np.ndarray:
            knots = np.r_[s_ctrl, frame.length]
            spline = CubicSpline(knots, np.r_[x, x[:1]], bc_type="periodic")
            return np.clip(base + spline(frame.s), frame.lo, frame.hi)

        def objective(x: np.ndarray) -> float:
            return _evaluate(frame, fine(x), lim, None)[0]

        # x = change of the offset at the control points (0 = the min-curvature line)
        res = minimize(objective, np.zeros(m), method="L-BFGS-B", bounds=list(zip(lo_c - base[idx], hi_c - base[idx],
                                                                                      strict=True)),
                       options={"maxiter": max_iterations, "eps": 2e-3})
        candidate = fine(res.x)
        if objective(res.x) < _evaluate(frame, alpha, lim, None)[0]:
            alpha = candidate
        iterations = int(res.nit)
    flying, (pts, ds, kappa, heading, v) = _evaluate(frame, alpha, lim, None)
    start = int(np.argmin(np.hypot(*(pts - track.center[0]).T)))
    standing_v = speed_profile(ds, speed_caps(ds, kappa, lim), lim, start)
    standing = lap_time(ds, standing_v, start)
    return RacingLine(track=track.name, points=pts, ds=ds, kappa=kappa, heading=heading, speed=v, start_index=start,
                      flying_lap_s=flying, standing_lap_s=standing, method=method, margin_m=margin, limits=lim,
                      alpha=alpha, iterations=iterations, standing_speed=standing_v)


def wheels_on_road(track: Track, line: RacingLine, resolution_m: float = 0.005,
                   rule: BorderRule = BorderRule.ALL_WHEELS) -> np.ndarray:
    """Per line point: does a car on the line (rear axle on it, heading along it) meet `rule`
    (all four wheels, or at least one, inside the track polygon)? The simulator's own on-road
    test, on a finer raster."""
    from deepracer.sim.trackmap import TrackMap

    tmap = TrackMap(track, resolution_m)
    lim = line.limits
    c, s = np.cos(line.heading), np.sin(line.heading)
    out = np.ones(len(line.points), bool)
    need_all = BorderRule(rule) is BorderRule.ALL_WHEELS
    for i, (x, y) in enumerate(line.points):
        hx, hy = -s[i] * lim.track_m / 2, c[i] * lim.track_m / 2
        fx, fy = c[i] * lim.wheelbase_m, s[i] * lim.wheelbase_m
        on = [tmap.on_road(wx, wy) for wx, wy in ((x + hx, y + hy), (x - hx, y - hy),
                                                   (x + fx + hx, y + fy + hy), (x + fx - hx, y + fy - hy))]
        out[i] = all(on) if need_all else any(on)
    return out


# -- driving in the simulator --------------------------------------------------------------------


@dataclass
class DrivenLap:
    lap_time_s: float | None  # None: not completed cleanly
    status: str
    progress: float
    all_wheels_on_fraction: float
    steps: int
    params: dict[str, float] = field(default_factory=dict)

    @property
    def clean(self) -> bool:
        return self.lap_time_s is not None

    def to_dict(self) -> dict[str, Any]:
        return {"lap_time_s": None if self.lap_time_s is None else round(self.lap_time_s, 3), "status": self.status,
                "progress": round(self.progress, 2), "all_wheels_on_fraction": round(self.all_wheels_on_fraction, 4),
                "steps": self.steps, "params": self.params}


Controller = Callable[[VehicleState], tuple[float, float]]


def drive_lap(track: Track, controller: Controller, reset: Callable[[], None] | None = None,
              params: dict[str, float] | None = None, vehicle: VehicleParams | None = None,
              rule: BorderRule = BorderRule.ALL_WHEELS) -> DrivenLap:
    """One lap from rest on the start line, commands at the camera rate (15 Hz) as a model gets;
    any failure (off track, reversed, immobilized) ends it unclean, and so does a wheel off the
    road under the all_wheels rule."""
    from deepracer.sim.simulator import SimConfig, Simulator

    sim = Simulator(SimConfig(track=track, off_track="end", randomize=False, seed=0,
                              vehicle=vehicle or VehicleParams()))
    return drive_lap_on(sim, controller, reset, params, rule)


def drive_lap_on(sim: Any, controller: Controller, reset: Callable[[], None] | None = None,
                 params: dict[str, float] | None = None, rule: BorderRule = BorderRule.ALL_WHEELS) -> DrivenLap:
    race = sim.reset(0)
    if reset is not None:
        reset()
    steps = on = 0
    while race.lap < 1 and not sim.done and sim.state.t < MAX_LAP_SECONDS:
        steer, speed = controller(sim.state)
        race = sim.step(steer, speed)
        steps += 1
        on += bool(race.all_wheels_on_track)
        if BorderRule(rule) is BorderRule.ALL_WHEELS and not race.all_wheels_on_track:
            return DrivenLap(None, "wheel_off_track", race.progress, on / steps, steps, dict(params or {}))
    done = race.lap >= 1 and race.off_track_count == 0
    return DrivenLap(race.lap_times[0] if done else None, race.status if not done else "lap_complete",
                     100.0 if done else race.progress, on / max(steps, 1), steps, dict(params or {}))


class LineFollower:
    """Tracks a RacingLine: pure pursuit on the line for steering; for speed, the command that
    brings the lagged speed to the profile's speed one command period ahead."""

    def __init__(self, line: RacingLine, lookahead_min_m: float = 0.25, lookahead_gain_s: float = 0.1,
                 speed_scale: float = 1.0, command_dt: float = 1.0 / 15.0, standing: bool = True,
                 stanley_gain: float = 0.0) -> None:
        """stanley_gain > 0: instead of pure pursuit (which cuts tight bends by about ℓ²κ/2), steer
        the line's curvature a little ahead (feed-forward) plus the heading error plus
        atan(gain · lateral error / v) — Stanley's law; it follows a line that rides a border."""
        self.line, self.scale, self.dt = line, speed_scale, command_dt
        self.stanley_gain = stanley_gain
        self.lookahead_min_m, self.lookahead_gain_s = lookahead_min_m, lookahead_gain_s
        n = len(line.points)
        normal = np.stack([-np.sin(line.heading), np.cos(line.heading)], axis=1) * 0.05
        self.path = Track(f"{line.track}-line", line.points, line.points + normal, line.points - normal)
        self.cum = self.path.cum
        self.v_fly = line.speed
        # standing-start profile, indexed by line point (first lap only, until the car is up to speed)
        self.v_standing = np.roll(line.standing_speed[:n], line.start_index) if standing else None
        if self.v_standing is not None:  # the 0 at rest is where the car stands, not a speed to hold
            self.v_standing[line.start_index] = line.standing_speed[1]
        tau = line.limits.wheel_time_constant_s  # the lag inside the grip limit (the profile keeps to the grip)
        self.alpha_lag = 1.0 - math.exp(-command_dt / tau) if tau > 0 else 1.0
        self.spacing = float(np.median(line.ds))
        self._hint: int | None = None

    def reset(self) -> None:
        self._hint = None

    def _speed_at(self, s: float) -> float:
        i = int(np.searchsorted(self.cum, s % self.path.length_m, side="right") - 1) % len(self.v_fly)
        return float((self.v_standing if self.v_standing is not None else self.v_fly)[i])

    def __call__(self, state: VehicleState) -> tuple[float, float]:
        p = self.path.project(state.x, state.y, hint=self._hint, window=20)
        self._hint = p.segment
        v = max(state.speed, 0.0)
        lim = self.line.limits
        if self.stanley_gain > 0:
            n = len(self.line.kappa)
            ahead = p.s + v * (0.5 * self.dt + self.lookahead_gain_s) + self.lookahead_min_m
            i = int(np.searchsorted(self.cum, ahead % self.path.length_m, side="right") - 1) % n
            heading_err = (self.path.seg_heading[p.segment] - state.yaw + math.pi) % (2 * math.pi) - math.pi
            delta = (math.atan(lim.wheelbase_m * float(self.line.kappa[i])) + heading_err
                     - math.atan(self.stanley_gain * p.lateral / (v + 0.5)))
            steer = math.degrees(delta)
        else:
            look = self.lookahead_min_m + self.lookahead_gain_s * v
            tx, ty, _ = self.path.point_at(p.s + look)
            alpha = (math.atan2(ty - state.y, tx - state.x) - state.yaw + math.pi) % (2 * math.pi) - math.pi
            dist = max(math.hypot(tx - state.x, ty - state.y), 1e-3)
            steer = math.degrees(math.atan2(2 * lim.wheelbase_m * math.sin(alpha), dist))
        # the speed wanted where the car will be at the end of this command period
        target = self.scale * self._speed_at(p.s + v * self.dt + self.spacing)
        a = self.alpha_lag
        command = (target - v * (1 - a)) / a
        return steer, min(max(command, lim.min_speed), lim.max_speed)


# (lookahead_min_m, lookahead_gain_s, stanley_gain): pure pursuit (gain 0), then Stanley with feed-forward
LINE_TRACKING = ((0.2, 0.05, 0.0), (0.25, 0.1, 0.0), (0.35, 0.15, 0.0), (0.0, 0.0, 2.0), (0.0, 0.0, 4.0),
                 (0.05, 0.02, 4.0))


def drive_line(track: Track, line: RacingLine, vehicle: VehicleParams | None = None,
               settings: Iterable[tuple[float, float, float]] = LINE_TRACKING,
               speed_scales: Iterable[float] = (1.0, 0.98, 0.96, 0.94, 0.92, 0.9, 0.85, 0.8),
               rule: BorderRule = BorderRule.ALL_WHEELS) -> DrivenLap:
    """The fastest clean lap of the line in the simulator over a few tracking settings; for each
    setting the speed is scaled down from the profile until the lap is clean."""
    best: DrivenLap | None = None
    last: DrivenLap | None = None
    for lmin, gain, stanley in settings:
        for scale in speed_scales:
            follower = LineFollower(line, lmin, gain, scale, stanley_gain=stanley)
            lap = drive_lap(track, follower, follower.reset,
                            {"lookahead_min_m": lmin, "lookahead_gain_s": gain, "stanley_gain": stanley,
                             "speed_scale": scale}, vehicle, rule)
            last = lap
            if lap.clean:
                if best is None or lap.lap_time_s < best.lap_time_s:
                    best = lap
                break  # slower scales of this setting can only be slower
    assert last is not None
    return best or last


def fastest_pure_pursuit(track: Track, vehicle: VehicleParams | None = None,
                         max_speeds: Iterable[float] = PP_MAX_SPEEDS, lateral_accels: Iterable[float] = PP_LATERAL,
                         lookaheads: Iterable[tuple[float, float]] = PP_LOOKAHEADS,
                         rule: BorderRule = BorderRule.ALL_WHEELS) -> tuple[DrivenLap, int]:
    """The centre-line pure-pursuit driver at its fastest clean setting: a grid over its top speed,
    the lateral acceleration it brakes for (beyond the grip limit it slides wide) and its lookahead
    (minimum, and seconds of speed). Returns (best lap, settings tried)."""
    from deepracer.sim.pure_pursuit import PurePursuitDriver

    best: DrivenLap | None = None
    tried = 0
    fallback: DrivenLap | None = None
    for lmin, gain in lookaheads:
        for vmax in max_speeds:
            for a_lat in lateral_accels:
                driver = PurePursuitDriver(track, max_speed=vmax, lateral_accel=a_lat, lookahead_min_m=lmin,
                                           lookahead_gain_s=gain)
                lap = drive_lap(track, driver.command, driver.reset,
                                {"max_speed": vmax, "lateral_accel": a_lat, "lookahead_min_m": lmin,
                                 "lookahead_gain_s": gain}, vehicle, rule)
                tried += 1
                fallback = fallback or lap
                if lap.clean and (best is None or lap.lap_time_s < best.lap_time_s):
                    best = lap
                if not lap.clean:
                    break  # braking for more lateral acceleration only gets worse at this speed
    assert fallback is not None
    return best or fallback, tried
