"""The sandbox bank's batch payment desk (批量代付): it takes a whole payment file
(``tongka.payments.batch_file``) and later answers a result file, a line per payment.

Each line is paid through the same payout desk as a single payout
(``PayoutSimulator.submit`` under its 业务参考号): a reference is paid once however many
files carry it, and the planned outcomes apply per line (accept; reject with a reason;
return, 退票, days later; timeout). A file with a planned timeout among its lines is
received (its lines are paid) but the upload's answer times out (504), as a bank's
upload page can; its result file answers all the same. The result file is made when
asked: a line returned since shows 退票 from then on.

In memory only, like the rest of the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Request, Response

from tongka.payments.batch_file import (
    FAILED,
    RETURNED,
    SUCCEEDED,
    BatchFileInvalid,
    PaymentLine,
    ResultLine,
    read_payments,
    write_results,
)
from tongka.payments.sandbox.payouts import PayoutSimulator, SandboxTimeout

NAME_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
MAX_FILE_BYTES = 64 << 20


@dataclass
class BatchDesk:
    simulator: PayoutSimulator
    files: dict[str, list[PaymentLine]] = field(default_factory=dict)

    def receive(self, name: str, content: bytes) -> dict[str, Any]:
        """Take a payment file (once per name: again answers the first); raises
        ``BatchFileInvalid`` for a file it cannot read (nothing paid), ``SandboxTimeout``
        when a line's planned outcome is a timeout (the file was received)."""
        if name in self.files:
            return self._receipt(name)
        lines = list(read_payments(content))  # a bad line refuses the whole file first
        timed_out = False
        for line in lines:
            try:
                self.simulator.submit(
                    key=line.reference,
                    amount_minor=line.amount_minor,
                    currency="CNY",
                    account_name=line.account_name,
                    account_number=line.account_number,
                )
            except SandboxTimeout:
                timed_out = True
        self.files[name] = lines
        if timed_out:
            raise SandboxTimeout(name)
        return self._receipt(name)

    def _receipt(self, name: str) -> dict[str, Any]:
        lines = self.files[name]
        return {
            "name": name,
            "lines": len(lines),
            "total": {"amount": sum(line.amount_minor for line in lines), "currency": "CNY"},
        }

    def result(self, name: str) -> bytes | None:
        lines = self.files.get(name)
        if lines is None:
            return None
        return b"".join(write_results(self._result_line(line) for line in lines))

    def _result_line(self, line: PaymentLine) -> ResultLine:
        answer = self.simulator.query(line.reference) or {}
        status = answer.get("status")
        result = {"accepted": SUCCEEDED, "rejected": FAILED, "returned": RETURNED}[str(status)]
        return ResultLine(
            number=line.number,
            reference=line.reference,
            account_number=line.account_number,
            account_name=line.account_name,
            amount_minor=line.amount_minor,
            result=result,
            reason="" if result == SUCCEEDED else str(answer.get("reason") or ""),
            bank_serial=str(answer.get("reference") or ""),
        )


def router(desk: BatchDesk) -> APIRouter:
    routes = APIRouter()
    name_path = Path(pattern=NAME_PATTERN)

    @routes.post("/bank/batch_payouts/{name}")
    async def receive(request: Request, name: str = name_path) -> dict[str, Any]:
        content = bytearray()
        async for piece in request.stream():
            content += piece
            if len(content) > MAX_FILE_BYTES:
                raise HTTPException(413, "the file is too large")
        try:
            return desk.receive(name, bytes(content))
        except BatchFileInvalid as bad:
            raise HTTPException(400, str(bad)) from None
        except SandboxTimeout:
            raise HTTPException(504, "timed out") from None

    @routes.get("/bank/batch_payouts/{name}/result")
    async def result(name: str = name_path) -> Response:
        content = desk.result(name)
        if content is None:
            raise HTTPException(404, "no such file")
        return Response(content, media_type="text/csv; charset=gb18030")

    return routes
