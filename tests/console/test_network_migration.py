"""Migration 0007: models stored with the first small network keep building it (small-v1)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import select

from deepracer_console import defaults as d
from deepracer_console import validation as v
from deepracer_console.db import Model, open_database


def test_models_of_the_first_small_network_become_small_v1(database_at) -> None:
    url, engine = database_at("0006")
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as c:
        for mid, network in ((1, "small"), (2, "shallow")):
            c.execute(sa.text(
                "INSERT INTO models (id, owner_key, name, description, track, direction, race_type, algorithm, "
                "network, action_space_type, action_space, hyperparameters, reward_function, max_minutes, source, "
                "status, trained_seconds, storage_bytes, created_at) VALUES (:i, 0, :n, '', 'oval', "
                "'counterclockwise', 'time_trial', 'ppo', :net, 'discrete', '[]', '{}', '', 10, 'created', 'ready', "
                "0, 0, :t)"), {"i": mid, "n": f"m{mid}", "net": network, "t": now})
    engine.dispose()
    sessions = open_database(url)  # upgrades to head
    with sessions() as db:
        assert {m.name: m.network for m in db.scalars(select(Model)).all()} == {"m1": "small-v1", "m2": "shallow"}
    # the clone of such a model asks for its network by the name its metadata carries
    assert v.check_network("DEEPRACER_SMALL_CNN") == "small-v1"
    assert v.check_network(None) == d.DEFAULT_NETWORK == "small"
    assert d.NETWORKS["small"]["neural_network"] == "DEEPRACER_SMALL_CNN_2"
