"""Split rules (分账): divide one movement among parties (issuer, acceptor, platform...).

Pure functions over integers. A rule lists each party's ``Share``: a fixed amount (taken
first, in the order listed), and/or a percent of what is left after the fixed amounts.
The exact (fractional) parts are rounded down, and what rounding left over is allocated by
a named rule (``Remainder``):

- ``LARGEST_REMAINDER``: one fen at a time to the largest fractional parts (ties: the party
  listed first). The percents must add up to exactly 100 %.
- ``TO_PARTY``: all of it to ``remainder_party`` (whose share may be empty: it takes what
  the others do not). The percents may add up to less than 100 %.

A share may be capped (``cap_percent`` of the whole, rounded down so the cap holds exactly,
and/or ``cap`` in minor units), as channels cap a split (e.g. 30 %). What a cap cuts goes to
``excess_party`` (default: the remainder party), which must itself be uncapped.

Invariants (``tests/unit/test_settlement_splits.py``, Hypothesis): the parts always sum to
the amount, none is negative, no capped part is above its cap.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from tongka.settlement.errors import SplitInvalid

ONE = Decimal(1)


class Remainder(enum.StrEnum):
    LARGEST_REMAINDER = "largest_remainder"
    TO_PARTY = "to_party"


@dataclass(frozen=True)
class Share:
    party: str
    percent: Decimal = Decimal(0)
    fixed: int = 0
    cap_percent: Decimal | None = None
    cap: int | None = None

    @property
    def is_capped(self) -> bool:
        return self.cap_percent is not None or self.cap is not None


@dataclass(frozen=True)
class SplitRule:
    shares: tuple[Share, ...]
    remainder: Remainder = Remainder.LARGEST_REMAINDER
    remainder_party: str | None = None
    excess_party: str | None = None


def _invalid(problem: str) -> SplitInvalid:
    return SplitInvalid(
        f"This split rule cannot divide the amount: {problem}.", details={"problem": problem}
    )


def check_rule(rule: SplitRule) -> None:
    """Refuse a rule no amount could be divided by (the checks that need no amount)."""
    parties = [share.party for share in rule.shares]
    if not parties:
        raise _invalid("no parties")
    if len(set(parties)) != len(parties):
        raise _invalid("a party is listed twice")
    for share in rule.shares:
        if share.percent < 0 or share.fixed < 0 or (share.cap is not None and share.cap < 0):
            raise _invalid(f"{share.party}'s share is negative")
        if share.cap_percent is not None and not 0 <= share.cap_percent <= ONE:
            raise _invalid(f"{share.party}'s cap is not between 0 and 100 %")
    total = sum((share.percent for share in rule.shares), Decimal(0))
    if rule.remainder is Remainder.LARGEST_REMAINDER and total != ONE:
        raise _invalid("the percents do not add up to 100 %")
    if total > ONE:
        raise _invalid("the percents add up to more than 100 %")
    if rule.remainder is Remainder.TO_PARTY and rule.remainder_party not in parties:
        raise _invalid("the remainder party is not among the parties")
    if any(share.is_capped for share in rule.shares):
        excess = _excess_party(rule)
        if excess not in parties:
            raise _invalid("a share is capped but no party takes what the cap cuts")
        if next(s for s in rule.shares if s.party == excess).is_capped:
            raise _invalid("the party that takes what caps cut is capped itself")


def _excess_party(rule: SplitRule) -> str | None:
    return rule.excess_party or rule.remainder_party


def _cap_of(share: Share, amount: int) -> int | None:
    caps = []
    if share.cap_percent is not None:
        caps.append(int((Decimal(amount) * share.cap_percent).to_integral_value(ROUND_FLOOR)))
    if share.cap is not None:
        caps.append(share.cap)
    return min(caps) if caps else None


def split(amount: int, rule: SplitRule) -> dict[str, int]:
    """Each party's part of ``amount`` (minor units, ``amount >= 0``), in the rule's order."""
    if type(amount) is not int or amount < 0:
        raise _invalid("the amount is not a whole, non-negative number of minor units")
    check_rule(rule)
    fixed_total = sum(share.fixed for share in rule.shares)
    if fixed_total > amount:
        raise _invalid("the fixed parts are more than the amount")
    rest = amount - fixed_total
    exact = [Decimal(rest) * share.percent for share in rule.shares]
    floors = [int(value.to_integral_value(ROUND_FLOOR)) for value in exact]
    parts = {
        share.party: share.fixed + floor for share, floor in zip(rule.shares, floors, strict=True)
    }
    left = amount - sum(parts.values())
    if rule.remainder is Remainder.LARGEST_REMAINDER:
        order = sorted(
            range(len(rule.shares)), key=lambda index: (-(exact[index] - floors[index]), index)
        )
        for index in order[:left]:  # percents add up to 100 %: left < number of parties
            parts[rule.shares[index].party] += 1
    else:
        assert rule.remainder_party is not None
        parts[rule.remainder_party] += left
    return _apply_caps(amount, rule, parts)


def _apply_caps(amount: int, rule: SplitRule, parts: dict[str, int]) -> dict[str, int]:
    excess_party = _excess_party(rule)
    for share in rule.shares:
        cap = _cap_of(share, amount)
        if cap is not None and parts[share.party] > cap:
            assert excess_party is not None
            parts[excess_party] += parts[share.party] - cap
            parts[share.party] = cap
    return parts
