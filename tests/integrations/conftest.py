"""Fixtures for the training integrations: the toy problems behind a registered id."""

from __future__ import annotations

import gymnasium

TOY_ID = "CodeARCTest/Toy-v0"

if TOY_ID not in gymnasium.registry:
    gymnasium.register(TOY_ID, entry_point="codearc_env.testing:make_toy_env")
