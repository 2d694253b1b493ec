"""The real `ros2 launch` / `ros2 node` / `ros2 topic` for tests (../shared/ros2-launch).

`make setup-launch` runs ../shared/ros2-launch/install.sh into the venv and builds this package
with colcon (symlink install) into .venv/ros2-ws, so `ros2 launch deepracer ...` runs this
checkout's launch files and nodes. Absent sources skip with the reason; under CI=1 (where the
Makefile provides them) a missing install fails.

Also the car at its device boundary for launch tests: a synthetic camera and an emulated sysfs
PWM tree (plain files, so servo_node in another process writes into it and the test reads it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from testenv import REPO, SHARED, skip_or_fail

from deepracer.control.calibration import Calibration, Steering, Throttle, save
from deepracer.hardware.emulated.sysfs import EmulatedSysfsPwm

VENV = Path(sys.prefix)
WORKSPACE = VENV / "ros2-ws"
INSTALL = WORKSPACE / "install" / "deepracer"
CAL = Calibration(50, Steering(1900, 1500, 1100, 30), Throttle(1300, 1500, 1700, 2.0))
NEUTRAL_US = 1500.0


def ros2_env() -> dict[str, str]:
    """The environment `source install/setup.bash` gives, for this checkout; skips without it."""
    if not (SHARED / "ros2-launch" / "install.sh").exists():
        skip_or_fail(f"{SHARED / 'ros2-launch'} is absent: the real launch system cannot be installed here")
    if not (INSTALL / "share" / "deepracer" / "launch" / "drive.launch.py").exists() or not (VENV / "bin" / "ros2").exists():
        skip_or_fail(f"the real launch system is not installed in {VENV}: run `make setup-launch`")
    env = dict(os.environ)
    env["AMENT_PREFIX_PATH"] = os.pathsep.join([str(INSTALL), str(VENV)])
    env["PATH"] = os.pathsep.join([str(VENV / "bin"), env.get("PATH", "")])
    site = INSTALL / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(site), str(REPO)) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["RCUTILS_COLORIZED_OUTPUT"] = "0"
    return env


@dataclass
class Car:
    """A drive.launch.py config for the car at its device boundary: synthetic camera, emulated PWM."""

    folder: Path
    tree: EmulatedSysfsPwm
    config: Path
    extra: dict = field(default_factory=dict)

    @classmethod
    def make(cls, folder: Path, mode: str = "autonomous") -> Car:
        tree = EmulatedSysfsPwm(folder / "sys" / "class" / "pwm", {0: 2}).start()
        cal = folder / "calibration.yaml"
        save(CAL, cal)
        config = folder / "car.yaml"
        config.write_text(yaml.safe_dump({
            "camera_node": {"ros__parameters": {"device": "synthetic", "fps": 15.0}},
            "control_node": {"ros__parameters": {"mode": mode}},
            "servo_node": {"ros__parameters": {"backend": "sysfs", "sysfs_root": str(tree.root),
                                               "calibration_file": str(cal)}},
        }))
        return cls(folder, tree, config)

    def pulses(self) -> tuple[float | None, float | None]:
        return self.tree.pulse_us(0), self.tree.pulse_us(1)

    def wait_driving(self, proc: Process, timeout: float = 60.0) -> bool:
        """Neutral first (servo_node at start), then the model's commands move the throttle;
        False at once if `proc` ended."""
        def ended() -> bool:
            return proc.proc.poll() is not None

        return (self.tree.wait_for(lambda t: t.pulse_us(0) == NEUTRAL_US or ended(), timeout=timeout) and not ended()
                and self.tree.wait_for(lambda t: t.pulse_us(0) not in (None, 0.0, NEUTRAL_US) or ended(), timeout=timeout)
                and not ended())

    def stop(self) -> None:
        self.tree.stop()



def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Process:
    """A command in its own session (process group), output to a file, stopped at the end."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path, cwd: Path) -> None:
        self.log = log
        self._out = log.open("w")
        # SIGINT as a terminal delivers it: a shell that runs the tests in the background starts
        # its jobs with SIGINT ignored, and `ros2 launch` would then respawn the nodes it stops
        self.proc = subprocess.Popen(argv, env=env, stdout=self._out, stderr=subprocess.STDOUT, cwd=cwd,
                                     start_new_session=True, preexec_fn=_default_sigint)

    def signal_group(self, sig: int, times: int = 1, gap_s: float = 0.05) -> None:
        """As a terminal's Ctrl-C or systemd's KillMode=control-group: every process gets it."""
        for i in range(times):
            if i:
                time.sleep(gap_s)
            os.killpg(self.proc.pid, sig)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def output(self) -> str:
        self._out.flush()
        return self.log.read_text(errors="replace")

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        self._out.close()


def ros2(env: dict[str, str], *args: str, timeout: float = 30.0) -> str:
    """`ros2 ARGS` (no daemon: nothing is left running), its stdout; fails with its output."""
    out = subprocess.run(["ros2", *args], env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"ros2 {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
    return out.stdout


def topic_hz(env: dict[str, str], topic: str, seconds: float = 10.0) -> float | None:
    """The last average rate `ros2 topic hz` printed within `seconds`, or None."""
    proc = subprocess.Popen(["ros2", "topic", "hz", "--window", "15", topic], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            out, _ = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
    rates = [float(line.split(":")[1]) for line in out.splitlines() if line.strip().startswith("average rate:")]
    return rates[-1] if rates else None
