"""Typed records of the JSON API (pydantic): every request and response body."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from deepracer_console import defaults as d


class ErrorOut(BaseModel):
    detail: str = Field(description="what is wrong, in words a user can act on")
    field: str | None = Field(None, description="the request field at fault, e.g. hyperparameters.lr")


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    database: str
    jobs_running: int
    jobs_queued: int
    max_jobs: int
    web_built: bool
    job_runner: str = "embedded"  # or "ray" (deepracer console --ray)


class TrackOut(BaseModel):
    name: str
    source: str = Field(description="builtin or imported")
    length_m: float
    width_m: float
    waypoints: int
    description: str
    directions: list[str] = Field(description="directions the track can be driven in")
    image_url: str


class RaceOptions(BaseModel):
    """A race type's options (DeepRacer's object avoidance and head-to-bot); unset = DeepRacer's default."""

    model_config = ConfigDict(extra="forbid")

    objects: int | None = Field(None, description="object avoidance: 1-6 obstacles, evenly spaced (default 3)")
    object_positions: list[list[Any]] | None = Field(
        None, description="object avoidance: [[progress %, 'inner'|'outer'], ...] at 7-90 %, >= 13 % apart")
    randomize_objects: bool | None = Field(None, description="object avoidance: new positions every episode")
    obstacle_bot_cars: bool | None = Field(None, description="object avoidance: stationary bot cars, not boxes")
    bots: int | None = Field(None, description="head-to-bot: 1-6 bot cars (default 3)")
    bot_speed: float | None = Field(None, description="head-to-bot: m/s, 0.2-6 (default 0.2)")
    bot_lane_change: bool | None = Field(None, description="head-to-bot: bots change lanes")
    lane_change_min_s: float | None = Field(None, description="head-to-bot: shortest time between lane changes")
    lane_change_max_s: float | None = Field(None, description="head-to-bot: longest time between lane changes")
    randomize_bots: bool | None = Field(None, description="head-to-bot: random bot starts and lanes")
    collision_penalty_s: float | None = Field(None, description="evaluation: seconds per crash (default 5)")


class ModelCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description=f"1-64 characters of a-z, A-Z, 0-9 and - ({d.NAME_PATTERN})")
    description: str = ""
    track: str = Field(description="a track name from GET /api/tracks")
    direction: str = d.DEFAULT_DIRECTION
    race_type: str = d.DEFAULT_RACE_TYPE
    algorithm: str = Field(d.DEFAULT_ALGORITHM, description="ppo or sac")
    network: str = d.DEFAULT_NETWORK
    action_space_type: Literal["discrete", "continuous"] | None = Field(
        None, description="as in model_metadata.json; default: from the shape of action_space")
    action_space: Any = Field(None, description="as in model_metadata.json: a list of {steering_angle, speed} "
                                                 "(discrete) or {steering_angle: {low, high}, speed: {low, high}}; "
                                                 "default: the console's 10 discrete actions")
    hyperparameters: dict[str, Any] | None = Field(None, description="as in hyperparameters.json; missing keys "
                                                                      "take the algorithm's defaults")
    reward_function: str | None = Field(None, description="Python source; default: the console's default example")
    max_minutes: int = Field(d.DEFAULT_MAX_MINUTES, description="stop condition: maximum training time")
    max_steps: int | None = Field(None, description="our extension: stop after this many environment steps")
    clone_of: int | None = Field(None, description="start from this model's trained weights")
    race: RaceOptions | None = Field(None, description="the race type's options")
    sensor: list[str] | None = Field(None, description="DeepRacer's sensor list: FRONT_FACING_CAMERA or "
                                                       "STEREO_CAMERAS, optionally LIDAR or SECTOR_LIDAR")
    camera_profile: str | None = Field(None, description="the camera it trains for: a built-in camera profile "
                                                         "(GET /api/defaults camera_profiles); default car")


class ModelOut(BaseModel):
    id: int
    name: str
    description: str
    track: str
    direction: str
    race_type: str
    algorithm: str
    network: str
    action_space_type: str
    action_space: Any
    hyperparameters: dict[str, Any]
    max_minutes: int
    max_steps: int | None
    clone_of: int | None
    source: str = Field(description="created, cloned or imported")
    status: str = Field(description="queued, initialising, training, stopping, ready or failed")
    failure_reason: str | None
    trained_seconds: float
    best_progress: float | None = Field(description="best evaluation progress, %")
    best_lap_time_s: float | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    has_package: bool = Field(description="a model package can be downloaded")
    owner_id: int | None = Field(default=None, description="the owner's user id (names are unique per owner); "
                                                           "null: made without an account")
    owner: str | None = Field(default=None, description="the owner's username (the pages show it to "
                                                        "facilitators and admins)")


class ModelDetail(ModelOut):
    reward_function: str
    race: dict[str, Any] = Field(default_factory=dict, description="the race type's options it trains with")
    sensor: list[str] = Field(default_factory=lambda: ["FRONT_FACING_CAMERA"], description="its sensor list")
    camera_profile: str = Field("car", description="the camera profile it is trained for")
    training_folder: str
    log_url: str
    live_url: str
    package_url: str


class MetricsPoint(BaseModel):
    iteration: int
    episodes: int
    average_reward: float = Field(description="average reward per episode (training)")
    average_progress: float = Field(description="average percentage completion (training)")
    evaluation_progress: float | None = Field(description="average percentage completion (evaluation)")
    evaluation_laps: int | None = None
    best_lap_time_s: float | None = None
    wall_s: float | None = None


class MetricsOut(BaseModel):
    model_id: int
    status: str
    iterations: list[MetricsPoint]
    episodes_per_iteration: int | None
    updated_at: float | None = Field(description="unix time the training last wrote its metrics")


class EvaluationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    track: str | None = Field(None, description="default: the model's training track")
    direction: str | None = None
    race_type: str = d.DEFAULT_RACE_TYPE
    trials: int = d.EVALUATION["trials"]["default"]
    off_track_penalty_s: float = d.EVALUATION["off_track_penalty_s"]["default"]
    race: RaceOptions | None = Field(None, description="the race type's options")


class TrialOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    trial: int
    status: str
    progress: float
    lap_time_s: float | None
    elapsed_s: float
    off_track: int
    resets: int


class EvaluationOut(BaseModel):
    id: int
    model_id: int
    track: str
    direction: str
    race_type: str
    trials_requested: int
    off_track_penalty_s: float
    status: str = Field(description="queued, running, completed or failed")
    failure_reason: str | None
    trials: list[TrialOut] = Field(description="as `deepracer evaluate --json` gives them")
    summary: dict[str, Any] | None
    video_url: str | None
    created_at: datetime
    finished_at: datetime | None
    race: dict[str, Any] = Field(default_factory=dict, description="the race type's options")


class RewardValidate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reward_function: str
    track: str | None = None
    direction: str | None = None
    race_type: str | None = Field(None, description="validate with this race type's objects (default time trial)")


class RewardValidation(BaseModel):
    ok: bool
    error: str | None = None
    line: int | None = Field(None, description="line of the reward function the error is on, when known")
    situations: list[dict[str, Any]] = Field(default_factory=list, description="(situation, reward) pairs")


class StopOut(BaseModel):
    id: int
    status: str


class ImportOut(BaseModel):
    model: ModelOut
    kind: str = Field(description="package or training_folder")
    layout: str = Field(description="which tool wrote it: deepracer, drfc, deepracer_on_aws or package")
