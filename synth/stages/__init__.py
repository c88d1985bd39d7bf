"""The synthesis stages, each a pure ``async`` function over one record.

* :func:`~synth.stages.generate.generate`: stage 1, a question and its
  decomposition trace from an input row;
* :func:`~synth.stages.necessity.necessity`: stage 2, ``tool_necessity`` per
  sub-question and the row's ``tool_necessity_legitimacy``;
* :func:`~synth.stages.verify.verify`: stage 3, the four-dimension
  ``verify_result``, and :func:`~synth.stages.verify.keep_rows` to filter a run;
* :func:`~synth.stages.tools.synthesize_tools`: stage 4, one tool per
  tool-needing sub-question, verified by replay in the sandbox (``env_result``);
* :func:`~synth.stages.merge.merge_tools`: stage 5, same-intent tools merged
  into one (``clusters``, ``aggregated_env``, ``merge_flag``).

Each returns a new record with a ``provenance`` entry appended, or raises
:class:`~synth.stages.base.StageFailure` (fail-closed, with the reason).
"""

from .base import StageFailure
from .generate import generate
from .merge import merge_tools
from .necessity import necessity
from .tools import synthesize_tools
from .verify import keep_rows, score_cutoff, verify

__all__ = ["StageFailure", "generate", "keep_rows", "merge_tools", "necessity", "score_cutoff",
           "synthesize_tools", "verify"]
