"""The data folder's layout (docs/console.md):

    DATA/console.db                 the SQLite database (default URL)
    DATA/tracks/                    uploaded routes: the track library train/evaluate read
    DATA/models/<id>/inputs/        reward_function.py, model_metadata.json, hyperparameters.json
                                    (and pretrained.zip for a clone) as the job gets them
    DATA/models/<id>/training/      what `deepracer train --out` writes (DeepRacer-for-Cloud layout)
    DATA/models/<id>/logs/          one log per job
    DATA/models/<id>/evaluations/<eid>/   what `deepracer evaluate --out` writes, result.json, video.webm
    DATA/models/<id>/report/        `deepracer analyze` output, made on demand
    DATA/uploads/                   uploads being checked (removed after)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from deepracer_console.settings import Settings


class Storage:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.models_dir

    def model_dir(self, model_id: int) -> Path:
        return self.root / str(int(model_id))

    def inputs_dir(self, model_id: int) -> Path:
        return self.model_dir(model_id) / "inputs"

    def training_dir(self, model_id: int) -> Path:
        return self.model_dir(model_id) / "training"

    def package_dir(self, model_id: int) -> Path:
        return self.training_dir(model_id) / "model"

    def log_path(self, model_id: int, name: str) -> Path:
        return self.model_dir(model_id) / "logs" / f"{name}.log"

    def logs_dir(self, model_id: int) -> Path:
        return self.model_dir(model_id) / "logs"

    def evaluation_dir(self, model_id: int, evaluation_id: int) -> Path:
        return self.model_dir(model_id) / "evaluations" / str(int(evaluation_id))

    def report_dir(self, model_id: int) -> Path:
        return self.model_dir(model_id) / "report"

    def track_spec(self, track: str, direction: str) -> str:
        from deepracer.sim.track_library import with_direction

        return with_direction(track, direction) or track

    def write_inputs(self, model_id: int, reward: str, metadata: dict[str, Any], hyperparameters: dict[str, Any]) -> None:
        folder = self.inputs_dir(model_id)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "reward_function.py").write_text(reward, encoding="utf-8")
        (folder / "model_metadata.json").write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
        (folder / "hyperparameters.json").write_text(json.dumps(hyperparameters, indent=2) + "\n", encoding="utf-8")

    def remove(self, model_id: int) -> None:
        folder = self.model_dir(model_id)
        if folder.resolve().parent == self.root.resolve():  # never anything outside DATA/models
            shutil.rmtree(folder, ignore_errors=True)
