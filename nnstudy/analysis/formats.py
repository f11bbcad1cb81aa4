"""How the study writes numbers for people, in tables, the report and the
published README alike: accuracies to four decimals (one test document is
1/700 ≈ 0.0014 of Part B's accuracy), differences and gains with their sign,
times with as many digits as mean something, "–" where there is no number.
"""

from __future__ import annotations

import math

import pandas as pd

MISSING = "–"
DIGITS = 4


def _missing(value) -> bool:
    return value is None or pd.isna(value)


def accuracy(value, sd=None, digits: int = DIGITS) -> str:
    """0.87571 → "0.8757"; with a standard deviation (several seeds) "0.8757 ± 0.0100"."""
    if _missing(value):
        return MISSING
    return f"{value:.{digits}f}" + ("" if _missing(sd) else f" ± {sd:.{digits}f}")


def signed(value, digits: int = DIGITS) -> str:
    """A difference or gain: "+0.0115", "-0.1200"."""
    return MISSING if _missing(value) else f"{value:+.{digits}f}"


def interval(low, high, digits: int = DIGITS) -> str:
    """A 95 % interval: "0.8510–0.9004"; "–" where it is undefined (one seed)."""
    return MISSING if _missing(low) or _missing(high) else f"{low:.{digits}f}–{high:.{digits}f}"


def places(value) -> int:
    """Decimals of a time: three significant digits below 100 s (9.64, 0.856), whole seconds above."""
    if _missing(value) or value == 0 or abs(value) >= 100:
        return 0
    return max(0, 2 - math.floor(math.log10(abs(value))))


def seconds(value, sd=None, sign: bool = False, like=None) -> str:
    """2410.3545 → "2410", 9.6414 → "9.64", with "± sd" to the same places
    (those of `like`, a mean, for a spread written on its own)."""
    if _missing(value):
        return MISSING
    digits = places(value if like is None else like)
    text = f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"
    return text + ("" if _missing(sd) else f" ± {sd:.{digits}f}")


def duration(value) -> str:
    """A length of time for a sentence: 3.2 → "3.2 s", 1234.5 → "20 min 34 s", 7261 → "2 h 1 min"."""
    if _missing(value):
        return MISSING
    value = float(value)
    if value < 60:
        return f"{value:.1f} s"
    minutes, rest = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def share(value) -> str:
    """A share of a whole: 0 → "0 %" (exactly none), 0.0004 → "0.04 %", 0.8731 → "87.3 %"."""
    if _missing(value):
        return MISSING
    percent = 100 * float(value)
    return "0 %" if percent == 0 else f"{percent:.3g} %"


def p_value(p) -> str:
    """A p-value to two significant digits, "<0.001" below that."""
    if _missing(p):
        return MISSING
    return "<0.001" if p < 0.001 else f"{p:.2g}"
