"""The deterministic operation budget of a sandboxed call.

The tick that compiled code calls at every loop iteration, comprehension item
and function entry is the C-level ``__next__`` of a range iterator: about 25 ns,
and *sticky*: once the budget is spent, every later tick raises again, so an
infinite loop wrapped in ``try/except`` still ends (its next iteration ticks
outside the handler). Allocation guards charge the same budget in bulk through
``range_iterator.__setstate__``, which is O(1).
"""

from __future__ import annotations

from .errors import BudgetExceeded, SandboxLimitError

__all__ = ["Meter"]

_SPAN = 1 << 62  # the iterator's range; far beyond any budget


class Meter:
    """Counts the operations of one call at a time.

    Attributes:
        tick: The hook compiled code calls; raises ``StopIteration`` once the
            budget is spent. Bound once per meter, so namespaces that captured it
            stay valid across calls.
        tripped: Why the call was stopped (budget or a size guard), or None. A
            tool may swallow the exception with a bare ``except:``; this flag
            still marks the call as failed.
    """

    __slots__ = (
        "_budget",
        "_iter",
        "alloc_unit",
        "max_int_bits",
        "max_len",
        "tick",
        "tripped",
    )

    def __init__(self, budget: int, alloc_unit: int, max_len: int, max_int_bits: int) -> None:
        self._iter = iter(range(_SPAN))
        self.tick = self._iter.__next__
        self._budget = budget
        self.alloc_unit = alloc_unit
        self.max_len = max_len
        self.max_int_bits = max_int_bits
        self.tripped: str | None = None
        self.start(budget)

    def start(self, budget: int | None = None) -> None:
        """Give the next call a fresh budget."""
        if budget is not None:
            self._budget = budget
        self._iter.__setstate__(_SPAN - self._budget)
        self.tripped = None

    @property
    def remaining(self) -> int:
        return self._iter.__length_hint__()

    @property
    def used(self) -> int:
        return self._budget - self._iter.__length_hint__()

    @property
    def exhausted(self) -> bool:
        return self._iter.__length_hint__() == 0

    def charge(self, nbytes: int) -> None:
        """Pay for an allocation of about ``nbytes`` bytes.

        Raises:
            BudgetExceeded: when the budget cannot cover it (and spends it all,
                so the trip is sticky).
            SandboxLimitError: ``nbytes`` is negative. The bulk charge moves
                the meter's iterator by ``units``: a negative amount would
                give budget back (``random.choices(k=-10**15)`` refilled it for
                good), so it is refused, whatever guard computed it.
        """
        units = nbytes // self.alloc_unit
        if units <= 0:
            if units < 0:
                self.trip("a negative size or cost was charged (refused)")
            return
        left = self._iter.__length_hint__()
        if units >= left:
            self._iter.__setstate__(_SPAN)
            self.tripped = (f"operation budget of {self._budget:,} exceeded "
                            "(allocations are charged by size)")
            raise BudgetExceeded(self.tripped)
        self._iter.__setstate__(_SPAN - left + units)

    def spend(self, ops: int) -> None:
        """Pay ``ops`` operations at once (same rules as :meth:`charge`)."""
        self.charge(ops * self.alloc_unit)

    def check_len(self, n: int, what: str) -> None:
        """Refuse to build a sequence of ``n`` items/characters over the cap.

        A negative ``n`` is refused too: guards charge what they checked, and
        a negative charge would give budget back (see :meth:`charge`).
        """
        if n > self.max_len or n < 0:
            if n < 0:
                self.trip(f"{what} of a negative size is not allowed in the sandbox")
            self.trip(f"{what} of {n:,} items exceeds the sandbox limit of {self.max_len:,}")

    def check_bits(self, bits: int, what: str) -> None:
        """Refuse to build an integer of ``bits`` bits over the cap."""
        if bits > self.max_int_bits:
            self.trip(f"{what} would have about {bits:,} bits; the sandbox limit is "
                      f"{self.max_int_bits:,}")

    def trip(self, message: str) -> None:
        """Record a size-guard trip and raise it into the tool."""
        self.tripped = message
        raise SandboxLimitError(message)
