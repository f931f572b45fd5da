"""Imports every domain's models so ``metadata`` knows all tables (Alembic, create_all)."""

from __future__ import annotations

import importlib
import pkgutil

from sqlalchemy import MetaData

import tongka
from tongka.db.base import metadata


def import_all_models() -> MetaData:
    """Import ``tongka.<part>.models`` for every domain part that has one."""
    for module in pkgutil.iter_modules(tongka.__path__):
        if module.ispkg:
            try:
                importlib.import_module(f"tongka.{module.name}.models")
            except ModuleNotFoundError as exc:
                if exc.name != f"tongka.{module.name}.models":
                    raise
    return metadata
