"""OpenMP's wait policy for training on a few cores, set before torch loads.

torch's CPU kernels run on libgomp, which reads OMP_WAIT_POLICY once, when torch is imported.
Its default lets a thread spin after each parallel region; the trainer alternates a one-thread
rollout (the simulators and one small forward pass per step) with a multi-thread update, and
the spinning threads take the core the rollout runs on. PASSIVE puts them to sleep at once
(docs/training.md, Throughput, has the figures). A value the user exported is kept.
"""

from __future__ import annotations

import os
import sys

TRAINING_OMP_WAIT_POLICY = "PASSIVE"


def prefer_passive_wait() -> bool:
    """Set OMP_WAIT_POLICY for this process and its workers unless the user did. False when it is
    too late (torch already loaded) or the user's value stands."""
    if "torch" in sys.modules or "OMP_WAIT_POLICY" in os.environ:
        return False
    os.environ["OMP_WAIT_POLICY"] = TRAINING_OMP_WAIT_POLICY
    return True
