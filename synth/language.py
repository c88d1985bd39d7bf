"""The language of a task's text, from the scripts it is written in.

Han characters alone cannot tell Chinese from Japanese: Japanese text also
uses kana, and Korean uses Hangul. So the rule looks for the scripts that only
one of the languages writes, before falling back on Han for Chinese:

* any Hangul syllable or jamo → ``"ko"``;
* else any hiragana or katakana → ``"ja"`` (a Japanese sentence nearly always
  has kana, even when it is mostly kanji);
* else any Han ideograph → ``"zh"``;
* else ``"en"`` (the pipeline's other language).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["detect_language"]

_HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff]")
_KANA = re.compile(r"[\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_language(*texts: Any) -> str:
    """``"ko"``, ``"ja"``, ``"zh"`` or ``"en"`` for the given texts (see the module rule).

    Args:
        *texts: Texts to look at together (non-strings are ignored).

    Returns:
        The language code.

    Example:
        >>> detect_language("weather", "天气"), detect_language("bank", None)
        ('zh', 'en')
        >>> detect_language("東京の天気は？"), detect_language("서울 날씨는?")
        ('ja', 'ko')
    """
    joined = "\n".join(text for text in texts if isinstance(text, str))
    if _HANGUL.search(joined):
        return "ko"
    if _KANA.search(joined):
        return "ja"
    if _HAN.search(joined):
        return "zh"
    return "en"
