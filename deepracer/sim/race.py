"""Race state as DeepRacer keeps it: progress, laps, lap times and the episode status.

Checked once per camera step (DeepRacer's agent step):
- progress: centre-line distance driven from the start point, in % of the track length
  (backwards driving counts negative, so going round the wrong way never completes a lap);
- lap_complete: progress reached 100 %; the lap time is recorded and a new lap starts;
- off_track: no wheel on the road (DeepRacer: all four wheels off the track);
- reversed: the car moved backwards along the track on REVERSED_STEPS consecutive steps;
- immobilized: the car moved less than IMMOBILIZED_M on IMMOBILIZED_STEPS consecutive steps;
- crashed: the car hit an obstacle or a bot car (the simulator decides; see sim/objects.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from deepracer.messages import FAILURES, EpisodeStatus

# the statuses a simulator step can have (EpisodeStatus has DeepRacer's others: prepare, time_up, ...)
STATUSES = (EpisodeStatus.IN_PROGRESS, EpisodeStatus.LAP_COMPLETE, *sorted(FAILURES))
# with obstacles or bot cars a crash too puts the car back (evaluation) or ends the episode (training)
RESET_STATUSES: frozenset[EpisodeStatus] = FAILURES | {EpisodeStatus.CRASHED}
STATUSES = (*STATUSES, EpisodeStatus.CRASHED)
__all__ = ["FAILURES", "RESET_STATUSES", "STATUSES", "RaceStatus", "RaceTracker"]
REVERSED_STEPS = 15  # 1 s at 15 Hz
REVERSED_MIN_M = 1e-3  # backwards motion below this per step is noise, not reversing
IMMOBILIZED_STEPS = 30  # 2 s at 15 Hz
IMMOBILIZED_M = 3e-4  # per step
# DeepRacer's evaluation defaults, the one source for the CLI, sim_node and the console
EVALUATION_OFF_TRACK_PENALTY_S = 2.0  # simapp evaluation_worker OFF_TRACK_PENALTY (training: 0, the episode ends)
EVALUATION_TRIALS = 3  # the console's evaluation form (laps 3/4/5, default 3); simapp's own default is 10


@dataclass
class RaceStatus:
    progress: float = 0.0  # 0..100 % of the current lap
    lap: int = 0  # completed laps
    lap_time_s: float = 0.0  # time in the current lap (penalties included)
    lap_times: list[float] = field(default_factory=list)
    status: str = "in_progress"
    off_track_count: int = 0
    crash_count: int = 0  # collisions with obstacles or bot cars (DeepRacer's obstacle_crash_counter)
    all_wheels_on_track: bool = True
    closest_waypoint: int = 0
    sim_time: float = 0.0
    steps: int = 0  # camera steps since reset

    def to_dict(self) -> dict:
        return {
            "progress": self.progress, "lap": self.lap, "lap_time_s": self.lap_time_s,
            "laps": list(self.lap_times), "status": self.status, "off_track": self.status == "off_track",
            "off_track_count": self.off_track_count, "crash_count": self.crash_count,
            "is_crashed": self.status == "crashed", "all_wheels_on_track": self.all_wheels_on_track,
            "closest_waypoint": self.closest_waypoint, "sim_time": self.sim_time, "steps": self.steps,
        }


class RaceTracker:
    def __init__(self, track_length: float) -> None:
        self.length = track_length
        self.status = RaceStatus()

    def reset(self, s: float, x: float, y: float, t: float, closest_waypoint: int) -> None:
        self.status = RaceStatus(closest_waypoint=closest_waypoint, sim_time=t)
        self.prev_s, self.prev_x, self.prev_y = s, x, y
        self.driven = 0.0  # along the centre line in this lap
        self.lap_start = t
        self.reverse_count = 0
        self.still_count = 0

    def penalty(self, seconds: float) -> None:
        self.lap_start -= seconds
        self.status.lap_time_s += seconds

    def update(self, s: float, x: float, y: float, t: float, any_wheel_on: bool, all_wheels_on: bool,
               closest_waypoint: int, crashed: bool = False) -> RaceStatus:
        r = self.status
        ds = (s - self.prev_s + self.length / 2) % self.length - self.length / 2
        moved = ((x - self.prev_x) ** 2 + (y - self.prev_y) ** 2) ** 0.5
        self.prev_s, self.prev_x, self.prev_y = s, x, y
        self.driven += ds
        self.reverse_count = self.reverse_count + 1 if ds < -REVERSED_MIN_M else 0
        self.still_count = self.still_count + 1 if moved < IMMOBILIZED_M else 0
        r.steps += 1
        r.sim_time = t
        r.closest_waypoint = closest_waypoint
        r.all_wheels_on_track = all_wheels_on
        r.lap_time_s = t - self.lap_start
        r.status = "in_progress"
        if self.driven >= self.length:
            r.lap_times.append(r.lap_time_s)
            r.lap += 1
            r.status = "lap_complete"
            r.progress = 100.0
            self.driven -= self.length
            self.lap_start = t
            return r
        r.progress = max(0.0, min(100.0, 100.0 * self.driven / self.length))
        if crashed:
            r.status = "crashed"
            r.crash_count += 1
        elif not any_wheel_on:
            r.status = "off_track"
            r.off_track_count += 1
        elif self.reverse_count >= REVERSED_STEPS:
            r.status = "reversed"
        elif self.still_count >= IMMOBILIZED_STEPS:
            r.status = "immobilized"
        return r

    def restart_counters(self, s: float, x: float, y: float) -> None:
        """After the car was put back on the track: keep laps and progress, forget motion history."""
        self.prev_s, self.prev_x, self.prev_y = s, x, y
        self.reverse_count = 0
        self.still_count = 0
