"""LLM calls for the synthesis pipeline: one cached, retrying, fail-closed client.

* :mod:`~synth.llm.extract`: pull a JSON value out of a reply and check it
  against a schema (:func:`extract_json`, :func:`validate_output`).
* :mod:`~synth.llm.cache`: the content-addressed on-disk response cache
  (:class:`ResponseCache`).
* :mod:`~synth.llm.client`: :class:`LLMClient`, the async client the stages
  call (capped retries, bounded concurrency, offline replay).

The ``openai`` package is imported only when a request is actually sent.

See :mod:`synth.llm.client` for a runnable example.
"""

from .cache import ResponseCache
from .client import MAX_BACKOFF, UNKEYED_PARAMS, Completion, LLMClient, LLMError, OfflineMiss
from .extract import ExtractionError, OutputInvalid, check_schema, extract_json, validate_output

__all__ = [
    "MAX_BACKOFF",
    "UNKEYED_PARAMS",
    "Completion",
    "ExtractionError",
    "LLMClient",
    "LLMError",
    "OfflineMiss",
    "OutputInvalid",
    "ResponseCache",
    "check_schema",
    "extract_json",
    "validate_output",
]
