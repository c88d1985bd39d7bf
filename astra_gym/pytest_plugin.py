"""A pytest plugin: ``pytest --astra-pack PACK_DIR`` runs the validation checks as tests.

Installed with astra-gym (entry point ``pytest11``), so pack authors get one
parametrised test per task × check in their own CI, with the check's message
as the failure text::

    pytest --astra-pack generated_envs/mypack
    pytest --astra-pack astra/demo-v0 --astra-checks gold,leakage -k weather

Without ``--astra-pack`` the plugin adds nothing (and imports nothing heavy).
With it and no test paths on the command line, the run is the pack's checks only:
the project's own tests (``testpaths``, or the current directory) are not
collected, so a pack check in CI does not also run, or import, every test of
the repository it sits in. Name paths to run them too
(``pytest --astra-pack mypack tests/``).
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest

__all__ = ["AstraCheckItem", "AstraCheckWarning"]


class AstraCheckWarning(UserWarning):
    """A warning-severity finding of a validation check (the test still passes)."""


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("astra-gym", "astra-gym env validation")
    group.addoption("--astra-pack", action="append", default=[], metavar="PACK_DIR|ENV_ID",
                    help="validate this pack directory or env id (repeatable)")
    group.addoption("--astra-checks", default=None, metavar="NAMES",
                    help="comma-separated checks to run (default: all)")
    group.addoption("--astra-max-examples", type=int, default=25, metavar="N",
                    help="generated calls per tool and property in the fuzz check, drawn "
                         "five per hypothesis example (default 25)")
    group.addoption("--astra-seed", type=int, default=0, metavar="S",
                    help="seed of the checks (default 0)")


class AstraCheckItem(pytest.Item):
    """One validation check on one task."""

    def __init__(self, *, target: str, env_id: str, task_id: str, check: str,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target
        self.env_id = env_id
        self.task_id = task_id
        self.check = check
        self.add_marker(pytest.mark.astra)

    def runtest(self) -> None:
        from astra_gym.validation import CHECKS, CheckOptions, TaskContext

        config = self.config
        options = CheckOptions(seed=config.getoption("--astra-seed"),
                               max_examples=config.getoption("--astra-max-examples"))
        digest = None
        if self.check == "determinism":
            digest = _digests(config, self.env_id, options.seed).get(self.task_id)
        from astra_gym.validation import CheckFailed, CheckWarning, NotApplicable
        from astra_gym.validation.policy import POLICY

        try:
            CHECKS[self.check](TaskContext(self.env_id, self.task_id, options, digest))
        except NotApplicable as exc:
            pytest.skip(f"not applicable: {exc}")
        except CheckWarning as exc:
            warnings.warn(f"{self.check} on {self.task_id}: {exc}", AstraCheckWarning,
                          stacklevel=1)
        except CheckFailed as exc:
            if POLICY[self.check].severity == "error":
                raise
            warnings.warn(f"{self.check} on {self.task_id}: {exc}", AstraCheckWarning,
                          stacklevel=1)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str:
        from astra_gym.validation import CheckFailed

        if isinstance(excinfo.value, CheckFailed):
            return f"{self.check} failed on task {self.task_id!r} of {self.target}:\n" \
                   f"{excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"astra {self.check}[{self.task_id}]"


def _digests(config: pytest.Config, env_id: str, seed: int) -> dict[str, str]:
    """Cross-process episode digests, computed once per env for the whole session."""
    from astra_gym.pack import Pack
    from astra_gym.validation.runner import _digest_in_other_process, resolve_target

    cache = config.stash.setdefault(_DIGESTS, {})
    if env_id not in cache:
        _, pack = resolve_target(env_id)
        cache[env_id] = _digest_in_other_process(env_id, pack, Pack(pack).task_ids, seed)
    return cache[env_id]


_DIGESTS = pytest.StashKey[dict]()


def pytest_ignore_collect(collection_path: Any, config: pytest.Config) -> bool | None:
    """With ``--astra-pack`` and no test paths given, collect no test files at all."""
    if config.getoption("--astra-pack") and config.args_source != pytest.Config.ArgsSource.ARGS:
        return True
    return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "astra: a validation check of an astra-gym pack")
    if config.getoption("--astra-pack"):  # as `astra-gym validate`: no .hypothesis/ in cwd
        from astra_gym.validation.runner import keep_hypothesis_out_of_cwd

        keep_hypothesis_out_of_cwd()


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselection, so they apply to our items
def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    targets = config.getoption("--astra-pack")
    if not targets:
        return
    from astra_gym.pack import Pack
    from astra_gym.validation import CHECKS
    from astra_gym.validation.runner import resolve_target

    names = config.getoption("--astra-checks")
    checks = list(CHECKS) if not names else [n.strip() for n in names.split(",") if n.strip()]
    unknown = [name for name in checks if name not in CHECKS]
    if unknown:
        raise pytest.UsageError(f"--astra-checks: unknown check(s) {', '.join(unknown)}; "
                                f"choose from {', '.join(CHECKS)}")
    new_items = []
    for target in targets:
        try:
            env_id, pack = resolve_target(target)
        except (ValueError, FileNotFoundError) as exc:
            raise pytest.UsageError(f"--astra-pack {target}: {exc}") from None
        for task_id in Pack(pack).task_ids:
            for check in checks:
                new_items.append(AstraCheckItem.from_parent(
                    session, name=f"astra[{env_id}][{task_id}][{check}]", target=target,
                    env_id=env_id, task_id=task_id, check=check))
    items.extend(new_items)
