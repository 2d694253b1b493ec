"""The training output folder, in DeepRacer-for-Cloud's layout so existing tools read it.

    OUT/
      training-simtrace/N-iteration.csv   SIM_TRACE_LOG rows, num_episodes_between_training episodes each
      metrics/TrainingMetrics.json        DRfC's metrics: one row per episode (training and evaluation)
      metrics/iterations.json             our summary per iteration: reward, progress, evaluation
      model/                              the best model package (model.onnx + model_metadata.json)
      ip/hyperparameters.json             the hyperparameters used
      reward_function.py                  the reward function used
      checkpoints/latest.zip, best.zip    stable-baselines3 checkpoints (--resume continues from latest)
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deepracer.analysis.simtrace import SimTraceWriter

# our env's episode_status -> the text DRfC writes in TrainingMetrics.json
STATUS_TEXT = {
    "lap_complete": "Lap complete", "off_track": "Off track", "reversed": "Reversed",
    "immobilized": "Immobilized", "crashed": "Crashed", "time_up": "Time up", "in_progress": "In progress",
}


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class EpisodeSummary:
    episode: int
    reward: float
    progress: float
    steps: int
    status: str
    start_s: float
    end_s: float
    lap_time_s: float | None = None


@dataclass
class IterationSummary:
    iteration: int
    episodes: list[EpisodeSummary] = field(default_factory=list)
    evaluation: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        eps = self.episodes
        n = max(len(eps), 1)
        return {
            "iteration": self.iteration,
            "episodes": len(eps),
            "mean_reward": sum(e.reward for e in eps) / n,
            "mean_progress": sum(e.progress for e in eps) / n,
            "laps": sum(e.status == "lap_complete" for e in eps),
            "steps": sum(e.steps for e in eps),
            "evaluation": self.evaluation,
        }


class TrainingLog:
    """Writes simtrace rows and metrics as vectorised environments report their steps.

    Episodes get global numbers in the order they start; an iteration is
    `episodes_per_iteration` consecutive episodes, one CSV file, as in DeepRacer.
    """

    def __init__(self, out: Path, episodes_per_iteration: int, n_envs: int, resume: bool = False,
                 objects: bool = False) -> None:
        """`objects`: an object race; the simtrace adds DeepRacer's obstacle_crash_counter and the
        objects' [[x, y], ...] (JSON) of each step, as the evaluation simtrace does."""
        self.out = out
        self.objects = objects
        self.per_iteration = episodes_per_iteration
        self.simtrace_dir = out / "training-simtrace"
        self.metrics_dir = out / "metrics"
        self.simtrace_dir.mkdir(parents=True, exist_ok=True)
        self.metrics_dir.mkdir(parents=True, exist_ok=True)
        self.t0 = time.time()
        self.metrics: list[dict[str, Any]] = []
        self.iterations: list[dict[str, Any]] = []
        self.next_episode = 0
        if resume:
            self._load_previous()
        self.writers: dict[int, SimTraceWriter] = {}
        self.env_episode = [self._new_episode() for _ in range(n_envs)]
        self.env_reward = [0.0] * n_envs
        self.env_start = [time.time()] * n_envs
        self.current: dict[int, IterationSummary] = {}
        self.completed: list[IterationSummary] = []
        self.total_laps = sum(i.get("laps", 0) for i in self.iterations)

    def _load_previous(self) -> None:
        metrics = self.metrics_dir / "TrainingMetrics.json"
        iterations = self.metrics_dir / "iterations.json"
        if metrics.is_file():
            self.metrics = json.loads(metrics.read_text(encoding="utf-8")).get("metrics", [])
        if iterations.is_file():
            self.iterations = json.loads(iterations.read_text(encoding="utf-8"))
        done = len(self.iterations)
        # start at the first iteration not yet summarised; a partly written one is rewritten
        self.next_episode = done * self.per_iteration
        self.t0 -= max((m.get("metric_time", 0) for m in self.metrics), default=0) / 1000.0

    def _new_episode(self) -> int:
        episode = self.next_episode
        self.next_episode += 1
        return episode

    def _writer(self, iteration: int) -> SimTraceWriter:
        if iteration not in self.writers:
            self.writers[iteration] = SimTraceWriter(self.simtrace_dir / f"{iteration}-iteration.csv",
                                                     ("obstacle_crash_counter", "objects") if self.objects else ())
        return self.writers[iteration]

    def _ms(self, t: float) -> int:
        return int(round((t - self.t0) * 1000))

    def step(self, env_index: int, info: dict[str, Any], reward: float, done: bool, action: Any) -> EpisodeSummary | None:
        """Record one environment step; returns the episode's summary when it ends."""
        episode = self.env_episode[env_index]
        iteration = episode // self.per_iteration
        self.env_reward[env_index] += float(reward)
        status = str(info.get("episode_status", "in_progress"))
        now = time.time()
        steps = int(info.get("steps", 0))
        # DeepRacer marks an episode's first row `prepare`: tools (deepracer-utils' simulation_agg)
        # start the episode's clock there instead of at the row before it, which belongs to
        # another episode (another environment's, when several run in parallel)
        row_status = "prepare" if steps == 1 and not done else status
        self._writer(iteration).row(
            episode=episode, steps=steps, X=float(info["x"]), Y=float(info["y"]),
            yaw=float(info["yaw_deg"]), steer=float(info["steering_angle"]), throttle=float(info["speed"]),
            action=_action_value(info.get("action", action)), reward=float(reward), done=bool(done),
            all_wheels_on_track=bool(info.get("all_wheels_on_track", True)), progress=float(info["progress"]),
            closest_waypoint=int(info["closest_waypoint"]), track_len=float(info["track_len"]),
            tstamp=round(now - self.t0, 3), episode_status=row_status, pause_duration=0.0,
            **({"obstacle_crash_counter": int(info.get("crash_count", 0)),
                "objects": json.dumps([list(xy) for xy in info.get("objects", [])])} if self.objects else {}),
        )
        if not done:
            return None
        summary = EpisodeSummary(
            episode=episode, reward=self.env_reward[env_index], progress=float(info["progress"]),
            steps=int(info.get("steps", 0)), status=status, start_s=self.env_start[env_index], end_s=now,
            lap_time_s=float(info["lap_time_s"]) if status == "lap_complete" and info.get("lap_time_s") else None,
        )
        self.metrics.append({
            "reward_score": int(round(summary.reward)), "metric_time": self._ms(now),
            "start_time": self._ms(summary.start_s), "elapsed_time_in_milliseconds": int((now - summary.start_s) * 1000),
            "episode": episode + 1, "trial": episode % self.per_iteration + 1, "phase": "training",
            "completion_percentage": int(round(summary.progress)), "episode_status": STATUS_TEXT.get(status, status),
        })
        self.total_laps += status == "lap_complete"
        self.current.setdefault(iteration, IterationSummary(iteration)).episodes.append(summary)
        if len(self.current[iteration].episodes) == self.per_iteration:
            self.completed.append(self.current.pop(iteration))
            if iteration in self.writers:
                self.writers.pop(iteration).close()
        self.env_episode[env_index] = self._new_episode()
        self.env_reward[env_index] = 0.0
        self.env_start[env_index] = now
        return summary

    def take_completed(self) -> list[IterationSummary]:
        done, self.completed = self.completed, []
        return done

    def evaluation(self, iteration: IterationSummary, results: list[dict[str, Any]]) -> None:
        """Add evaluation episodes (run after an iteration) to the metrics, as DRfC does."""
        now = time.time()
        for trial, r in enumerate(results, 1):
            self.metrics.append({
                "reward_score": int(round(r.get("reward", 0.0))), "metric_time": self._ms(now),
                "start_time": self._ms(now - r.get("wall_s", 0.0)),
                "elapsed_time_in_milliseconds": int(r.get("wall_s", 0.0) * 1000),
                "episode": (iteration.iteration + 1) * self.per_iteration, "trial": trial, "phase": "evaluation",
                "completion_percentage": int(round(r["progress"])),
                "episode_status": STATUS_TEXT.get(r["status"], r["status"]),
            })
        n = max(len(results), 1)
        laps = [r["lap_time_s"] for r in results if r["status"] == "lap_complete"]
        iteration.evaluation = {
            "mean_progress": sum(r["progress"] for r in results) / n,
            "laps": len(laps), "trials": len(results),
            "best_lap_time_s": min(laps) if laps else None,
        }

    def finish_iteration(self, iteration: IterationSummary) -> dict[str, Any]:
        row = iteration.to_dict()
        row["wall_s"] = round(time.time() - self.t0, 1)
        self.iterations.append(row)
        self.save()
        return row

    def save(self) -> None:
        write_json_atomic(self.metrics_dir / "TrainingMetrics.json",
                          {"metrics": self.metrics, "version": 2.0, "best_model_metric": "progress"})
        write_json_atomic(self.metrics_dir / "iterations.json", self.iterations)
        for writer in self.writers.values():
            writer.flush()

    def close(self) -> None:
        self.save()
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()


def _action_value(action: Any) -> Any:
    """Discrete: the index; continuous: DeepRacer's "[steering, speed]"."""
    try:
        import numpy as np

        arr = np.asarray(action).reshape(-1)
    except Exception:  # pragma: no cover - exotic action types
        return action
    if arr.size == 1:
        value = arr[0].item()
        return int(value) if float(value).is_integer() else float(value)
    return [round(float(x), 4) for x in arr if math.isfinite(float(x))]
