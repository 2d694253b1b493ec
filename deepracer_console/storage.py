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

Every path is under the model's id, never its name: names are unique per owner only (two racers
may both have `my-model`), ids are unique. A download named after the model is made inside its
own id's folder.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
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

    def folder_bytes(self, model_id: int) -> int:
        """Bytes of the model's folder (its files' sizes; links not followed): what its storage quota counts."""
        total = 0
        stack = [self.model_dir(model_id)]
        while stack:
            try:
                entries = list(os.scandir(stack.pop()))
            except OSError:  # gone or unreadable meanwhile
                continue
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(Path(entry.path))
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                except OSError:
                    continue
        return total

    def remove_orphans(self, known_ids: Iterable[int]) -> list[int]:
        """Folders of models the database does not have (a console killed between writing a new
        model's files and committing it, or between deleting a model and its files): removed, so
        that a later model given the same id never finds another model's files."""
        known = {int(i) for i in known_ids}
        removed = []
        for folder in self.root.iterdir() if self.root.is_dir() else []:
            if folder.is_dir() and folder.name.isdigit() and int(folder.name) not in known:
                self.remove(int(folder.name))
                removed.append(int(folder.name))
        return sorted(removed)
