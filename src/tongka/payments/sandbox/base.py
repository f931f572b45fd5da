"""What every channel the sandbox plays shares: its keys, the state, how a confirmed payment
becomes notifications (with the faults a test asked for)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import APIRouter

from tongka.payments.channel import ChannelName
from tongka.payments.keys import ChannelKeys
from tongka.payments.sandbox.state import GatewayPayment, GatewayState

FAULTS = (
    "duplicate",
    "out_of_order",
    "delayed",
    "wrong_amount",
    "other_order",
    "forged_signature",
    "silent",
)


@dataclass(frozen=True)
class Faults:
    duplicate: bool = False  # the same notification twice
    out_of_order: bool = False  # a stale "not paid yet" message arrives after the success
    wrong_amount: bool = False  # one fen more than the payment
    other_payment_id: str | None = None  # for another order
    forged_signature: bool = False  # signed with a key that is not the channel's
    silent: bool = False  # pay without notifying (the payment is found by polling)
    delay_seconds: float = 0.0

    @classmethod
    def of(
        cls,
        names: list[str],
        *,
        payment_id: str,
        other_payment_id: str | None = None,
        delay_seconds: float = 0.0,
    ) -> Faults:
        unknown = set(names) - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults: {sorted(unknown)}")
        return cls(
            duplicate="duplicate" in names,
            out_of_order="out_of_order" in names,
            wrong_amount="wrong_amount" in names,
            other_payment_id=(other_payment_id or f"{payment_id}X")
            if "other_order" in names
            else None,
            forged_signature="forged_signature" in names,
            silent="silent" in names,
            delay_seconds=delay_seconds or (2.0 if "delayed" in names else 0.0),
        )


Message = tuple[dict[str, str], bytes]


class ChannelSandbox:
    channel: ChannelName

    def __init__(self, state: GatewayState, keys: ChannelKeys, public_url: str) -> None:
        self.state = state
        self.keys = keys
        self.public_url = public_url.rstrip("/")

    @cached_property
    def forger_key(self) -> rsa.RSAPrivateKey:
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def payer_url(self, payment_id: str) -> str:
        return f"{self.public_url}/pay/{self.channel.value}/{payment_id}"

    def router(self) -> APIRouter:
        raise NotImplementedError

    def message(
        self,
        payment: GatewayPayment,
        *,
        amount_minor: int,
        payment_id: str,
        paid: bool,
        forged: bool,
    ) -> Message:
        raise NotImplementedError

    def notifications(self, payment: GatewayPayment, faults: Faults) -> list[Message]:
        amount = payment.amount_minor + (1 if faults.wrong_amount else 0)
        payment_id = faults.other_payment_id or payment.payment_id

        def one(paid: bool) -> Message:
            return self.message(
                payment,
                amount_minor=amount,
                payment_id=payment_id,
                paid=paid,
                forged=faults.forged_signature,
            )

        messages = [one(True)]
        if faults.duplicate:
            messages.append(one(True))
        if faults.out_of_order:
            messages.append(one(False))
        return messages

    def statement(self, day: object) -> bytes:
        raise NotImplementedError
