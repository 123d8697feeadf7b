"""Shannon entropy of a candidate secret, the gate that separates random tokens from words.

A rule's ``entropy`` threshold drops a match whose value is too regular to be a generated secret
(``changeme``, ``xxxxxxxx``, ``${TOKEN}``). gitleaks drops a finding when entropy <= threshold, so
user rule files behave the same here.
"""

from __future__ import annotations

import math
from collections import Counter


def shannon_entropy(value: str) -> float:
    """Bits per character of ``value`` (0.0 for the empty string)."""
    n = len(value)
    if n == 0:
        return 0.0
    total = 0.0
    for count in Counter(value).values():
        p = count / n
        total -= p * math.log2(p)
    return total
