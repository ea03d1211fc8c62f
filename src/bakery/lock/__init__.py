"""Lockfile model, reading and writing."""

from .io import LOCK_SUFFIX, dumps_lock, lock_path_for, read_lock, write_lock
from .model import LockedEnv, LockedPackage, Lockfile

__all__ = [
    "LOCK_SUFFIX",
    "LockedEnv",
    "LockedPackage",
    "Lockfile",
    "dumps_lock",
    "lock_path_for",
    "read_lock",
    "write_lock",
]
