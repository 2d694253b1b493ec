"""The networks `deepracer train --network` builds, their names in model_metadata.json, and the
constants of the default layout (deepracer.train.trainer.training_layout applies them).

Kept apart from deepracer.train.networks (torch) so that the command line can list them
without importing torch."""


NETWORKS = ("shallow", "small", "deep", "small-v1")
# DeepRacer's names for the metadata's neural_network key (the small ones are this project's)
NETWORK_NAMES = {"shallow": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW", "small": "DEEPRACER_SMALL_CNN_2",
                 "deep": "DEEP_CONVOLUTIONAL_NETWORK_DEEP", "small-v1": "DEEPRACER_SMALL_CNN"}
DEFAULT_NETWORK = "small"
DEFAULT_ENVS_PER_CORE = 2  # deepracer train --envs 0: this many environments per core
# ... and per rollout worker, when they collect (PPO camera models on 2+ cores, trainer.training_layout):
# a worker's policy call costs about the same on 1 to 8 frames (some 1 ms), so 4 spread it
ROLLOUT_ENVS_PER_WORKER = 4
# at most this many by default: PPO's rollout_steps is split over the environments, and 4 x 4 = 16
# environments already cut a 1,024-step rollout into 64-step segments (2 per core did on 8 cores)
MAX_DEFAULT_ROLLOUT_WORKERS = 4

