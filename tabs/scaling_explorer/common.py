"""What the Scaling Laws Explorer's tabs share: the law chooser and the bundled sweep's results."""

from __future__ import annotations

import functools

from shared import scaling, ui
from training.sweep import SweepResults, lab_law, read_results

LAW_CHOICES = ["chinchilla", "besiroglu", "kaplan", "our lab fit"]
LAB = "our lab fit"
LAB_NOTE = "our lab fit: Approach 3 on this project's sweep (Results in the Our lab tab)"
NO_LAB = "no lab sweep results: build them with `python -m training sweep --preset cpu`"
BUILD_SWEEP = "python -m training sweep --preset cpu"

num = ui.checked_number  # a finite number in [lo, hi], or a one-line error


@functools.lru_cache(maxsize=1)
def sweep() -> SweepResults | None:
    """The bundled sweep's results, read and hash-checked once per process (None when missing);
    shared by the handlers, which only read it (5.5 MB: a slider must not re-read it per move)."""
    return read_results()


@functools.lru_cache(maxsize=1)
def sweep_law() -> scaling.ChinchillaLaw | None:
    """The lab fit as a law (None without sweep results)."""
    return lab_law(sweep())


def law(name: str) -> scaling.ChinchillaLaw | scaling.KaplanLaw:
    """A published law by key, or the lab fit; a one-line error for an unknown one."""
    if name == LAB:
        found = sweep_law()
        if found is None:
            raise ui.user_error(NO_LAB)
        return found
    try:
        return scaling.get_law(name)
    except ValueError as e:
        raise ui.user_error(e) from None


def sci(x: float) -> str:
    return f"{x:.3g}"


def si(x: float) -> str:
    """A count in words' units: 3.22e10 -> "32.2B", 1.4e12 -> "1.4T" (sci below a thousand)."""
    for div, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if x >= div:
            return f"{x / div:.3g}{suffix}"
    return sci(x)


def source(law) -> str:
    return ui.source_note(law.citation, law.url)
