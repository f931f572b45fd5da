"""No code posts to the ledger around the card money gate (ARCHITECTURE rule 13).

Outside ``tongka/ledger/`` only ``cards/money_gate.py`` may call a ledger posting function.
A module that posts only between non-card accounts (settlement payouts, channel fees) must
be listed in ``NON_CARD_POSTERS`` with the reason; card money never goes there.
"""

from __future__ import annotations

import ast
from pathlib import Path

import tongka

POSTING_FUNCTIONS = {"post_transfers", "post_batch", "post_pending", "void_pending"}
SOURCE = Path(tongka.__file__).parent
GATE = "cards/money_gate.py"
# module -> why it never touches a card account
NON_CARD_POSTERS: dict[str, str] = {
    "settlement/runs.py": "rolling reserve: merchant payable <-> the merchant's reserve held",
    "settlement/payouts.py": "payouts: merchant payable -> reserve bank, and back on a failure",
    "payments/statements.py": "channel receivable -> reserve bank and channel fee expense",
    "payments/reserve.py": "fee income: reserve bank -> operating bank (三分离)",
    "sales/promotion_budget.py": "promotion budgets: merchant payable <-> promotion budget",
    "reconciliation/resolutions.py": "approved adjustments: suspense <-> receivable/reserve bank",
    "settlement/split_postings.py": "splits: acceptor payable <-> split transit <-> issuer payable",
    "sales/return_payouts.py": "card returns paid out: card-returns payable -> reserve bank",
}


def _posting_sites(path: Path) -> list[str]:
    """``name:line`` of every call or import of a ledger posting function in ``path``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    sites = []
    for node in ast.walk(tree):
        name = None
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tongka.ledger"):
            name = next((a.name for a in node.names if a.name in POSTING_FUNCTIONS), None)
        if name in POSTING_FUNCTIONS:
            sites.append(f"{name}:{node.lineno}")
    return sites


def _posters() -> dict[str, list[str]]:
    found = {}
    for path in sorted(SOURCE.rglob("*.py")):
        module = path.relative_to(SOURCE).as_posix()
        if module.startswith("ledger/"):
            continue
        sites = _posting_sites(path)
        if sites:
            found[module] = sites
    return found


def test_only_the_gate_posts_ledger_transfers_outside_the_ledger() -> None:
    posters = _posters()
    assert GATE in posters  # the scan sees the gate's own calls
    ungated = {m: s for m, s in posters.items() if m != GATE and m not in NON_CARD_POSTERS}
    assert ungated == {}, f"ledger postings outside the card money gate: {ungated}"


def test_the_scan_finds_calls_and_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from tongka.ledger import post_batch\n"
        "async def f(s):\n"
        "    await ledger.post_transfers(s, [], now=None)\n"
        "    await post_batch(s, [], now=None)\n"
    )
    assert _posting_sites(sample) == ["post_batch:1", "post_transfers:3", "post_batch:4"]
