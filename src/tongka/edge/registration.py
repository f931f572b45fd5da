"""A merchant's registration form, as both edges take it (the API's ``POST /v1/merchants``
and the console's sign-up page), and its translation into the identity service's terms."""

from __future__ import annotations

from pydantic import Field

from tongka.edge.schemas import RequestModel
from tongka.identity import service as identity

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
PHONE_PATTERN = r"^\+?[0-9 \-]{5,20}$"


class SettlementAccountIn(RequestModel):
    bank_name: str = Field(min_length=1, max_length=200, examples=["中国工商银行上海分行"])
    account_name: str = Field(min_length=1, max_length=200)
    account_number: str = Field(pattern=r"^[0-9 ]{8,40}$", examples=["6222 0212 3456 7890"])


class MerchantRegistrationIn(RequestModel):
    legal_name: str = Field(min_length=2, max_length=200, examples=["上海示例餐饮有限公司"])
    credit_code: str = Field(
        min_length=18,
        max_length=24,
        description="统一社会信用代码 (18 characters, GB 32100-2015 check character).",
        examples=["91350100M000100Y43"],
    )
    contact_name: str = Field(min_length=1, max_length=100)
    contact_phone: str = Field(pattern=PHONE_PATTERN, examples=["13800138000"])
    contact_email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    admin_email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    admin_password: str = Field(min_length=10, max_length=200)
    admin_display_name: str | None = Field(default=None, min_length=1, max_length=100)
    settlement_account: SettlementAccountIn | None = None


def settlement_account_of(account: SettlementAccountIn | None) -> identity.SettlementAccount | None:
    if account is None:
        return None
    return identity.SettlementAccount(
        bank_name=account.bank_name,
        account_name=account.account_name,
        account_number=account.account_number,
    )


def registration_of(body: MerchantRegistrationIn) -> identity.MerchantRegistration:
    return identity.MerchantRegistration(
        legal_name=body.legal_name,
        credit_code=body.credit_code,
        contact_name=body.contact_name,
        contact_phone=body.contact_phone,
        contact_email=body.contact_email,
        admin_email=body.admin_email,
        admin_password=body.admin_password,
        admin_display_name=body.admin_display_name,
        settlement_account=settlement_account_of(body.settlement_account),
    )


class MerchantCorrectionsIn(RequestModel):
    """A rejected applicant's corrected company details (the registration's own rules)."""

    legal_name: str = Field(min_length=2, max_length=200)
    credit_code: str = Field(min_length=18, max_length=24)
    contact_name: str = Field(min_length=1, max_length=100)
    contact_phone: str = Field(pattern=PHONE_PATTERN)
    contact_email: str = Field(max_length=254, pattern=EMAIL_PATTERN)
    settlement_account: SettlementAccountIn | None = None


def corrections_of(body: MerchantCorrectionsIn) -> identity.MerchantCorrections:
    return identity.MerchantCorrections(
        legal_name=body.legal_name,
        credit_code=body.credit_code,
        contact_name=body.contact_name,
        contact_phone=body.contact_phone,
        contact_email=body.contact_email,
        settlement_account=settlement_account_of(body.settlement_account),
    )
