"""ament_python package `deepracer`: builds with colcon on a car, installs with pip in a venv."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "deepracer"

NODES = {
    "camera_node": "deepracer_nodes.camera_node:main",
    "inference_node": "deepracer_nodes.inference_node:main",
    "control_node": "deepracer_nodes.control_node:main",
    "servo_node": "deepracer_nodes.servo_node:main",
    "calibration_node": "deepracer_nodes.calibration_node:main",
    "sim_node": "deepracer_nodes.sim_node:main",
    "device_console_node": "deepracer_nodes.device_console_node:main",
}


def data_dir(folder: str, pattern: str = "*") -> tuple[str, list[str]]:
    return (f"share/{PACKAGE}/{folder}", [p for p in glob(f"{folder}/{pattern}") if "." in p])


setup(
    name=PACKAGE,
    version="0.1.0",
    description="Open, local DeepRacer-style car software, simulator, training and analysis",
    license="Apache-2.0",
    python_requires=">=3.11",
    packages=find_packages(include=["deepracer", "deepracer.*", "deepracer_nodes", "deepracer_nodes.*",
                                    "deepracer_console", "deepracer_console.*"]),
    package_data={"deepracer": ["sim/tracks/*.npy", "sim/assets/*", "train/presets/*.json", "train/rewards/*.py",
                                "device_console/static/*", "device_console/static/vendor/*"],
                  "deepracer_console": ["migrations/*.py", "migrations/*.mako", "migrations/versions/*.py",
                                        "web/dist/*", "web/dist/**/*"]},
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        data_dir("launch", "*.py"),
        data_dir("config", "*.yaml"),
        data_dir("models", "*.tar.gz"),
        data_dir("udev", "*.rules"),
        data_dir("systemd", "*"),
    ],
    # The car needs only these; rclpy comes from the ROS 2 distro (or the venv's ros-* wheels).
    install_requires=["numpy", "pyyaml", "onnxruntime", "opencv-python-headless"],
    extras_require={
        "hardware": ["smbus2", "gpiozero", "pyserial"],
        "sim": ["matplotlib", "tqdm", "onnx"],
        "train": ["gymnasium", "stable-baselines3", "torch", "tqdm", "onnx", "shapely", "scipy"],
        "analysis": ["matplotlib", "tqdm"],
        "console": ["fastapi", "uvicorn", "sqlalchemy", "alembic", "python-multipart", "httpx",
                    # the event server: accounts (argon2 hashes, signed cookies), PostgreSQL (psycopg 3)
                    "argon2-cffi", "itsdangerous", "psycopg[binary]",
                    # cars' console passwords encrypted at rest (Fernet)
                    "cryptography",
                    # uvicorn's C HTTP parser and event loop (a league night's leaderboard traffic)
                    "httptools", "uvloop"],
        # `deepracer console --ray ADDRESS`: jobs as tasks on a Ray cluster (docs/event-server.md)
        "ray": ["ray"],
        # `deepracer model import`: AWS-trained TensorFlow frozen graphs -> ONNX (never needed on the car)
        "tf-import": ["tensorflow-cpu", "tf2onnx"],
        # the car's own web page (device_console_node): no database, no torch
        "device-console": ["fastapi", "uvicorn", "argon2-cffi", "python-multipart"],
        "test": ["pytest", "pytest-timeout", "ruff", "mypy", "types-PyYAML", "onnx", "gymnasium", "smbus2", "gpiozero", "pyserial", "httpx", "playwright"],
    },
    zip_safe=False,
    entry_points={
        "console_scripts": [f"{name} = {target}" for name, target in NODES.items()]
        + ["deepracer = deepracer.cli:main"],
    },
)
