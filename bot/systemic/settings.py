"""A team's effective spike-detection settings: HOTLOOP_SYSTEMIC_* with its `systemic:` block on top.

The block's model, its validation and the merge live with the configuration (bot/config/systemic.py),
which the snapshot reads; this module is the name the detection side imports.
"""

from __future__ import annotations

from bot.config.systemic import (
    SystemicConfigError,
    SystemicDoc,
    defaults,
    describe,
    merged,
    parse_systemic,
    systemic_settings,
)

__all__ = [
    "SystemicConfigError", "SystemicDoc", "defaults", "describe", "merged", "parse_systemic",
    "systemic_settings",
]
