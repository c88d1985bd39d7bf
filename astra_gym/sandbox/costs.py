"""What C-level arithmetic on big numbers costs, in budget operations.

One budget operation is about what one tick stands for: a loop iteration of
plain Python, roughly 50 ns on the 2-core reference machine. Integer
arithmetic in CPython works on 30-bit digits; schoolbook multiplication and
division cost about one nanosecond per pair of digits, so an operation on two
100,000-bit integers is worth tens of thousands of ticks. A tool that loops
over such an operation would run for hours on the budget of a few seconds
unless each operation is charged by size. These functions turn operand sizes
into operation counts; they are deliberately simple upper-bound-ish models,
calibrated against measurements in ``benchmarks/bench_abuse.py``.
"""

from __future__ import annotations

__all__ = ["BIG_BITS", "divide_ops", "gcd_ops", "linear_ops", "modpow_ops", "multiply_ops",
           "root_ops"]

#: Below this many bits an integer operation is cheap enough to leave uncharged.
BIG_BITS = 4096
_DIGIT = 30  # CPython's digit size in bits
_PAIRS_PER_OP = 48  # digit pairs of schoolbook work per budget operation


def _digits(bits: int) -> int:
    return bits // _DIGIT + 1


def linear_ops(bits: int) -> int:
    """Addition, subtraction, shifts, bitwise operations: one pass over the digits."""
    return bits // 2048


def multiply_ops(a_bits: int, b_bits: int) -> int:
    """``a * b`` (Karatsuba is cheaper than this for big balanced operands; schoolbook
    is the bound for unbalanced ones)."""
    return _digits(a_bits) * _digits(b_bits) // (_PAIRS_PER_OP * 4)


def divide_ops(a_bits: int, b_bits: int) -> int:
    """``a // b``, ``a % b``, ``divmod``: schoolbook, quotient digits x divisor digits."""
    if a_bits < b_bits:
        return 0
    return (_digits(a_bits) - _digits(b_bits) + 1) * _digits(b_bits) // _PAIRS_PER_OP


def gcd_ops(a_bits: int, b_bits: int) -> int:
    """``gcd(a, b)`` (Lehmer): quadratic in the larger operand."""
    n = _digits(max(a_bits, b_bits))
    return n * n // _PAIRS_PER_OP


def root_ops(bits: int) -> int:
    """``isqrt(n)``: Newton's iteration, a few divisions of half the size."""
    return 4 * divide_ops(bits, bits // 2)


def modpow_ops(exponent_bits: int, modulus_bits: int) -> int:
    """``pow(a, e, m)``: about 1.5 modular multiplications per exponent bit."""
    per_step = multiply_ops(modulus_bits, modulus_bits) + divide_ops(2 * modulus_bits,
                                                                     modulus_bits)
    return (3 * exponent_bits // 2 + 1) * max(per_step, 1)
