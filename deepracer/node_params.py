"""The nodes' parameters and their defaults, once (ROS-free).

Each node declares its ROS parameters from these dataclasses (`deepracer_nodes.params.declare`),
config/*.yaml lists the same names (tests/test_node_params.py checks the names and the values),
and code that needs the same set-up without ROS builds it from here too: the evaluation's
simulator is `SimNodeParams(...).sim_config(track)`, exactly what sim_node builds.
Defaults shared with the core come from the core's own dataclasses (SimConfig, BackendOptions).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from deepracer.errors import ConfigError
from deepracer.hardware.pwm import BackendOptions

if TYPE_CHECKING:
    from deepracer.sim.simulator import SimConfig
    from deepracer.sim.track import Track

ENCODINGS = ("mono8", "bgr8")
SERVO_COMMAND_TIMEOUT_S = 0.5  # the servo's own watchdog; sim_node stands in for the servo with the same
_PWM = BackendOptions()


def _sim_defaults() -> Any:
    from deepracer.sim.simulator import SimConfig

    return SimConfig()


_SIM = _sim_defaults()


def _race_defaults() -> Any:
    from deepracer.sim.objects import BotConfig, ObstacleConfig

    return ObstacleConfig(), BotConfig()


_OBST, _BOT = _race_defaults()


@dataclass(frozen=True)
class SimNodeParams:
    """sim_node (config/sim.yaml)."""

    track: str = ""  # "" = the default built-in track
    camera_hz: float = _SIM.camera_hz
    physics_hz: float = _SIM.physics_hz
    width: int = _SIM.width
    height: int = _SIM.height
    encoding: str = "mono8" if _SIM.grayscale else "bgr8"
    lock_step: bool = False  # each frame waits for the command that answers it
    randomize: bool = _SIM.randomize
    seed: int = 0
    start_waypoint: int = 0
    max_laps: int = 0  # stop the car after this many laps (0 = drive on)
    max_time: float = 0.0  # simulated seconds, 0 = no limit
    off_track: str = _SIM.off_track  # reset: back on the centre line with a penalty (evaluation); end: stop
    off_track_penalty: float = _SIM.off_track_penalty_s  # seconds added to the lap time per reset
    command_timeout: float = SERVO_COMMAND_TIMEOUT_S  # real time: zero speed without cmd_vel for this long
    lock_step_timeout: float = 2.0  # lock-step: wall seconds to wait for the answer to a frame
    real_time_factor: float = 1.0  # real time: sim seconds per wall second
    frame_id: str = "camera"
    wait_for_status_reader: bool = False  # hold the start until someone reads sim/status (run_sim_graph)
    exit_when_finished: bool = False  # exit (0) once the race is over: sim.launch.py laps:=N ends the launch
    # race type (docs/simulator.md): DeepRacer's obstacles and bot cars, defaults from deepracer.sim.objects
    race_type: str = "time_trial"  # time_trial | object_avoidance | head_to_bot
    objects: int = _OBST.count
    object_positions: str = ""  # "20,inner;50,outer" (progress %, lane); overrides objects
    randomize_objects: bool = False
    obstacle_bot_cars: bool = False
    bots: int = _BOT.count
    bot_speed: float = _BOT.speed_mps
    bot_lane_change: bool = False
    randomize_bots: bool = False
    collision_penalty: float = _SIM.collision_penalty_s  # seconds per crash (reset mode)
    stereo: bool = False  # also publish camera/left/image_raw and camera/right/image_raw (STEREO_CAMERAS)
    lidar: bool = False  # also publish scan (sensor_msgs/LaserScan, DeepRacer's LiDAR at 10 Hz)
    model: str = ""  # the model package the graph drives: its `sensor` list adds the stereo / LiDAR topics
    camera_profile: str = ""  # render through this camera profile (built-in name or file); "" = `car`

    def __post_init__(self) -> None:
        for key in ("camera_hz", "physics_hz", "lock_step_timeout", "real_time_factor"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"sim_node: parameter {key} must be > 0, got {getattr(self, key)}")
        if self.encoding not in ENCODINGS:
            raise ConfigError(f"sim_node: encoding must be one of {ENCODINGS}, not {self.encoding!r}")
        if self.off_track not in ("reset", "end"):
            raise ConfigError(f"sim_node: off_track must be reset or end, not {self.off_track!r}")
        self.race_config()  # a bad race parameter is a ConfigError naming it, before anything starts
        if self.camera_profile:
            from deepracer.camera_profile import resolve_profile

            resolve_profile(self.camera_profile)  # an unknown name or a bad file, named

    def race_config(self) -> Any:
        """The deepracer.sim.objects.RaceConfig these parameters describe."""
        from deepracer.sim.objects import (
            BotConfig,
            ObstacleConfig,
            RaceConfig,
            RaceType,
            parse_positions,
        )

        try:
            race = RaceConfig(
                RaceType.parse(self.race_type),
                ObstacleConfig(count=self.objects, randomize=self.randomize_objects, bot_cars=self.obstacle_bot_cars,
                               positions=parse_positions(self.object_positions) if self.object_positions else ()),
                BotConfig(count=self.bots, speed_mps=self.bot_speed, lane_change=self.bot_lane_change,
                          randomize=self.randomize_bots),
                self.collision_penalty)
            race.validate()
        except ConfigError as err:
            raise ConfigError(f"sim_node: {err}") from None
        return race

    def sim_config(self, track: Track | str | Path | None = None, **more: Any) -> SimConfig:
        """The simulator these parameters describe (sim_node's, and the evaluation's direct one)."""
        from deepracer.sim.simulator import SimConfig
        from deepracer.sim.track import DEFAULT_TRACK

        if self.camera_profile and "camera" not in more:
            from deepracer.camera_profile import resolve_profile
            from deepracer.sim.camera import CameraPose

            more = more | {"camera": CameraPose.from_profile(resolve_profile(self.camera_profile))}
        return SimConfig(track=track if track is not None else (self.track or DEFAULT_TRACK),
                         physics_hz=self.physics_hz, camera_hz=self.camera_hz, width=self.width, height=self.height,
                         grayscale=self.encoding == "mono8", randomize=self.randomize, seed=self.seed,
                         off_track=self.off_track,  # type: ignore[arg-type]  # checked in __post_init__
                         off_track_penalty_s=self.off_track_penalty, **(self.race_config().sim_fields() | more))


@dataclass(frozen=True)
class ServoNodeParams:
    """servo_node (config/drive.yaml), start-time parameters; calibration.* come from the calibration file."""

    backend: str = _PWM.backend  # pca9685 | sysfs | gpiozero | serial | emulated
    calibration_file: str = ""  # "" = $DEEPRACER_CALIBRATION or the user's default
    command_timeout: float = SERVO_COMMAND_TIMEOUT_S  # s without input -> neutral (steady clock)
    throttle_channel: int = 0
    steering_channel: int = 1
    i2c_bus: int = _PWM.i2c_bus
    i2c_address: int = _PWM.i2c_address
    sysfs_root: str = _PWM.sysfs_root
    pwmchip: int = _PWM.pwmchip
    gpio_pins: list[int] = field(default_factory=lambda: list(_PWM.gpio_pins))
    serial_port: str = _PWM.serial_port
    baud: int = _PWM.baud
    arm_esc: bool = False  # run the ESC arming sequence at start
    arm_seconds: float = 2.0
    calibration_mode: bool = False  # honour raw pulses on servo/raw (the calibration wizard sets it)

    def backend_options(self) -> BackendOptions:
        return BackendOptions(**{f.name: getattr(self, f.name) for f in fields(BackendOptions)})


def defaults(cls: type) -> dict[str, Any]:
    """name -> default of a params dataclass (what a node declares)."""
    return {f.name: getattr(cls(), f.name) for f in fields(cls)}
