"""Env packs: the on-disk format of compiled tasks.

A pack is a directory with ``manifest.json`` and ``tasks.jsonl`` (validated
against ``astra_gym/schemas/``), which is also a pip-installable package that
registers itself in the ``astra_gym.packs`` entry-point group.
See ``docs/packs.md``.
"""

from .discovery import EMBEDDED_PACKS, demo_pack_path, embedded_pack_path, installed_packs
from .model import Backend, BackendClass, GoldCall, SubTask, Task, TaskSource, Tool, UserTurn
from .packaging import ENTRY_POINT_GROUP, distribution_name, package_name, write_packaging
from .schemas import FORMAT_VERSION, PackFormatError, validate_manifest, validate_task
from .store import MANIFEST_FILE, PACK_NAME_PATTERN, TASKS_FILE, Pack, dump_task_line, write_pack

__all__ = [
    "EMBEDDED_PACKS",
    "ENTRY_POINT_GROUP",
    "FORMAT_VERSION",
    "MANIFEST_FILE",
    "PACK_NAME_PATTERN",
    "TASKS_FILE",
    "Backend",
    "BackendClass",
    "GoldCall",
    "Pack",
    "PackFormatError",
    "SubTask",
    "Task",
    "TaskSource",
    "Tool",
    "UserTurn",
    "demo_pack_path",
    "distribution_name",
    "dump_task_line",
    "embedded_pack_path",
    "installed_packs",
    "package_name",
    "validate_manifest",
    "validate_task",
    "write_pack",
    "write_packaging",
]
