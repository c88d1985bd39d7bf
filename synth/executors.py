"""Executors: where the synthesis runner processes the records of a stage.

* :class:`LocalExecutor` (the default): every record as an asyncio task in
  this process, sharing one :class:`~synth.llm.LLMClient` and one sandbox,
  at most ``limit`` in flight.
* :class:`RayExecutor`: every record as a Ray task. A task rebuilds what it
  needs from picklable settings (:class:`ClientSettings`, a process
  :class:`~astra_gym.sandbox.Sandbox` for tools and merge, made in the task
  and closed there), runs the *same* stage coroutine with :func:`asyncio.run`
  and returns the outcome. The runner writes outcomes exactly as it does for
  local ones, so both executors give byte-identical views.

``ray`` is an optional extra (``pip install "astra-gym[ray]"``), imported only
when a :class:`RayExecutor` first runs a stage.
"""

from __future__ import annotations

import asyncio
import os
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

__all__ = ["ClientSettings", "Executor", "LocalExecutor", "Outcome", "RayExecutor",
           "RecordRunner", "StageSpec", "make_executor", "run_record"]

Outcome = tuple[str, Any]
"""What one record gave: ``("ok", row)``, ``("failure", StageFailure.as_dict())`` or
``("miss", None)`` (the offline cache had no reply)."""

SANDBOX_STAGES = ("tools", "merge")
"""The stages whose records need a sandbox."""


@dataclass(frozen=True)
class StageSpec:
    """The picklable description of one stage's work.

    Attributes:
        name: The stage (``generate``, ``necessity``, ``verify``, ``tools``, ``merge``).
        min_hops: The least trace depth asked of generate.
        max_hops: The most trace depth asked of generate.
        mode: The generate mode (``None``/``"auto"``: from each row's keys).
        options: Extra keyword arguments of the stage function, as
            ``((name, value), ...)`` (``temperature``, ``max_tokens``); none: its defaults.
    """

    name: str
    min_hops: int = 1
    max_hops: int = 5
    mode: str | None = None
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class ClientSettings:
    """The picklable settings an :class:`~synth.llm.LLMClient` is rebuilt from.

    Attributes:
        model: The model name.
        base_url: The endpoint, or ``None`` for the OpenAI API.
        api_key: The API key (already resolved from the environment).
        cache_dir: The response cache folder, or ``None``.
        offline: Whether only the cache answers.
        concurrency: Most requests in flight at once, per rebuilt client.
        timeout: Seconds per request.
        max_retries: Retries per call.
        backoff: The retry backoff base, in seconds.
    """

    model: str
    base_url: str | None = None
    api_key: str | None = None
    cache_dir: str | None = None
    offline: bool = False
    concurrency: int = 8
    timeout: float = 60.0
    max_retries: int = 3
    backoff: float = 0.5

    @classmethod
    def from_client(cls, client: Any) -> ClientSettings:
        """The settings of an existing client.

        Args:
            client: An :class:`~synth.llm.LLMClient` built without an injected SDK client.

        Returns:
            The settings.

        Raises:
            ValueError: The client wraps an injected SDK client, which cannot travel.
        """
        if getattr(client, "_injected", None) is not None:
            raise ValueError("an LLMClient with an injected client= cannot be rebuilt in "
                             "another process; use LocalExecutor")
        cache = getattr(client, "cache", None)
        cache_dir = getattr(cache, "directory", None)
        return cls(model=client.model, base_url=client.base_url,
                   api_key=getattr(client, "_api_key", None),
                   cache_dir=os.path.abspath(cache_dir) if cache_dir is not None else None,
                   offline=client.offline, concurrency=client.concurrency,
                   timeout=client.timeout, max_retries=client.max_retries,
                   backoff=client.backoff)

    def build(self) -> Any:
        """A new :class:`~synth.llm.LLMClient` with these settings."""
        from synth.llm import LLMClient

        return LLMClient(**asdict(self))


async def run_record(spec: StageSpec, record: dict[str, Any], client: Any,
                     sandbox: Any = None) -> Outcome:
    """Run one stage over one record and classify the result.

    Args:
        spec: The stage.
        record: The input record.
        client: The :class:`~synth.llm.LLMClient`.
        sandbox: The sandbox (tools and merge only).

    Returns:
        The outcome; an unexpected exception becomes a failure, so that a bug
        does not stop the other records.
    """
    from synth.llm import OfflineMiss
    from synth.stages import (
        StageFailure,
        generate,
        merge_tools,
        necessity,
        synthesize_tools,
        verify,
    )

    options = dict(spec.options)
    try:
        if spec.name == "generate":
            row = await generate(record, client, min_hops=spec.min_hops,
                                 max_hops=spec.max_hops, mode=spec.mode, **options)
        elif spec.name == "tools":
            row = await synthesize_tools(record, client, sandbox, **options)
        elif spec.name == "merge":
            row = await merge_tools(record, client, sandbox, **options)
        elif spec.name == "necessity":
            row = await necessity(record, client, **options)
        elif spec.name == "verify":
            row = await verify(record, client, **options)
        else:
            raise ValueError(f"no stage function for {spec.name!r}")
    except OfflineMiss:
        return ("miss", None)
    except StageFailure as failure:
        return ("failure", failure.as_dict())
    except Exception as exc:
        return ("failure", StageFailure(
            spec.name, f"unexpected error: {type(exc).__name__}: {exc}").as_dict())
    return ("ok", row)


Done = Callable[[int, Outcome], None]


class Executor(ABC):
    """Runs a stage's records; subclasses decide where.

    An executor is used by one :func:`~synth.runner.run_pipeline` call at a
    time; :meth:`close` releases what it started.

    Attributes:
        records_per_request: Records the runner lets in flight per request
            slot of the client (``concurrency``). 1 where each record brings
            its own client (so its own requests); more where records share
            the driver's client, whose semaphore alone caps the requests: the
            extra records keep every request slot busy while finished ones
            write their cache entries and journal lines.
    """

    records_per_request: int = 1

    @abstractmethod
    async def map(self, spec: StageSpec, records: Sequence[dict[str, Any]], *, client: Any,
                  sandbox: Callable[[], Any], limit: int, done: Done) -> None:
        """Run ``spec`` over every record, calling ``done(index, outcome)`` as each finishes.

        Args:
            spec: The stage.
            records: The records to run.
            client: The driver's :class:`~synth.llm.LLMClient`.
            sandbox: Returns the driver's shared sandbox (made on first call).
            limit: Most records in flight at once.
            done: Called in this process, on the event loop, once per record.
        """

    def close(self) -> None:  # noqa: B027 - optional hook, a no-op for most executors
        """Release what the executor started (nothing by default)."""


RecordRunner = Callable[[StageSpec, dict[str, Any], Any, Any], Awaitable[Outcome]]
"""Runs one record of a stage: ``await run_one(spec, record, client, sandbox)``."""


class LocalExecutor(Executor):
    """Every record as an asyncio task in this process (the default).

    Its records share the driver's client, so the runner runs twice as many
    records as the client has request slots (:attr:`Executor.records_per_request`).

    Attributes:
        run_one: The coroutine that runs one record (:func:`run_record`; the SFT
            executors set theirs).
        sandbox_stages: The stages whose records get the driver's sandbox.
    """

    records_per_request = 2
    run_one: ClassVar[RecordRunner] = staticmethod(run_record)
    sandbox_stages: ClassVar[tuple[str, ...]] = SANDBOX_STAGES

    async def map(self, spec: StageSpec, records: Sequence[dict[str, Any]], *, client: Any,
                  sandbox: Callable[[], Any], limit: int, done: Done) -> None:
        """See :meth:`Executor.map`."""
        semaphore = asyncio.Semaphore(max(1, limit))
        box = sandbox() if spec.name in self.sandbox_stages else None
        run_one = self.run_one

        async def one(index: int, record: dict[str, Any]) -> None:
            async with semaphore:
                outcome = await run_one(spec, record, client, box)
            done(index, outcome)

        await asyncio.gather(*(one(index, record) for index, record in enumerate(records)))


def _remote_record(run_one: RecordRunner, sandbox_stages: tuple[str, ...], spec: StageSpec,
                   settings: ClientSettings, record: dict[str, Any]) -> Outcome:
    """The body of one Ray task: rebuild the client (and sandbox), run the record.

    ``run_one`` is a module-level coroutine function, which Ray pickles by reference.
    """

    async def main() -> Outcome:
        client = settings.build()
        sandbox = None
        try:
            if spec.name in sandbox_stages:
                from astra_gym.sandbox import Sandbox

                sandbox = Sandbox(isolation="process")
            async with client:
                return await run_one(spec, record, client, sandbox)
        finally:
            if sandbox is not None:
                sandbox.close()

    return asyncio.run(main())


class RayExecutor(Executor):
    """Every record as a Ray task (one CPU each), running the same stage functions.

    Args:
        address: The Ray cluster to join (``ray.init(address=...)``); ``None``
            starts a local one, unless Ray is already initialized in this
            process, in which case that one is used.
        num_cpus: CPUs of a local cluster this executor starts (``None``: all).

    Raises:
        ImportError: On first use, when ray is not installed.
    """

    run_one: ClassVar[RecordRunner] = staticmethod(run_record)
    sandbox_stages: ClassVar[tuple[str, ...]] = SANDBOX_STAGES
    #: The error text when ray is not installed.
    missing_ray: ClassVar[str] = 'RayExecutor needs ray: pip install "astra-gym[ray]"'

    def __init__(self, address: str | None = None, num_cpus: int | None = None) -> None:
        self.address = address
        self.num_cpus = num_cpus
        self._started = False
        self._task: Any = None

    def ray(self) -> Any:
        """The ``ray`` module, initialized (started here when needed).

        Returns:
            The module.

        Raises:
            ImportError: ray is not installed.
        """
        try:
            import ray
        except ImportError as exc:
            raise ImportError(self.missing_ray) from exc
        if not ray.is_initialized():
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            kwargs: dict[str, Any] = {"include_dashboard": False}
            if self.address is not None:
                kwargs["address"] = self.address
            elif self.num_cpus is not None:
                kwargs["num_cpus"] = self.num_cpus
            ray.init(**kwargs)
            self._started = True
        if self._task is None:
            self._task = ray.remote(num_cpus=1)(_remote_record)
        return ray

    async def map(self, spec: StageSpec, records: Sequence[dict[str, Any]], *, client: Any,
                  sandbox: Callable[[], Any], limit: int, done: Done) -> None:
        """See :meth:`Executor.map`; ``sandbox`` is not used (each task makes its own)."""
        if not records:
            return
        settings = ClientSettings.from_client(client)
        ray = self.ray()
        settings_ref = ray.put(settings)
        semaphore = asyncio.Semaphore(max(1, limit))
        run_one, stages = self.run_one, tuple(self.sandbox_stages)

        async def one(index: int, record: dict[str, Any]) -> None:
            async with semaphore:
                ref = self._task.remote(run_one, stages, spec, settings_ref, record)
                outcome = await asyncio.wrap_future(ref.future())
            done(index, outcome)

        await asyncio.gather(*(one(index, record) for index, record in enumerate(records)))

    def close(self) -> None:
        """Shut Ray down if this executor started it."""
        if self._started:
            import ray

            ray.shutdown()
            self._started = False
        self._task = None


def make_executor(kind: str = "local", *, address: str | None = None,
                  num_cpus: int | None = None, local: type[LocalExecutor] = LocalExecutor,
                  ray: type[RayExecutor] = RayExecutor) -> Executor:
    """An executor by name.

    Args:
        kind: ``"local"`` or ``"ray"``.
        address: The Ray cluster address (``ray`` only).
        num_cpus: CPUs of a local Ray cluster (``ray`` only).
        local: The class of ``"local"`` (the SFT runs pass their own).
        ray: The class of ``"ray"``.

    Returns:
        The executor.

    Raises:
        ValueError: An unknown kind, or a Ray setting with ``local``.

    Example:
        >>> type(make_executor("local")).__name__
        'LocalExecutor'
    """
    if kind == "local":
        if address is not None:
            raise ValueError("--ray-address needs --executor ray")
        return local()
    if kind == "ray":
        return ray(address=address, num_cpus=num_cpus)
    raise ValueError(f"unknown executor {kind!r} (local or ray)")
