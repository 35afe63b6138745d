"""State store: probe samples and the event log, in SQLite under the stack's state directory."""

from __future__ import annotations

from pathlib import Path

from seawall.store.sqlite import Event, Sample, Store, actor

STORE_FILE = "state.db"


def open_store(state_dir: Path) -> Store:
    """Open (creating and migrating if needed) the store of a stack's state directory."""
    return Store(state_dir / STORE_FILE)


__all__ = ["STORE_FILE", "Event", "Sample", "Store", "actor", "open_store"]
