"""Consumer pages: sign-in by phone + one-time code, the home page (我的卡), and the
operators' Sandbox SMS page (where sign-in codes land outside production)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Response

from tongka.edge.auth import SESSION_COOKIE
from tongka.errors import DomainError, NotFound, PermissionDenied
from tongka.identity import consumer_login
from tongka.identity.models import KycLevel, SandboxSmsMessage
from tongka.identity.principal import PrincipalKind
from tongka.identity.sms import sandbox_messages_query, sms_sender_for
from tongka.policy import Action
from tongka.web.console import (
    Console,
    ConsoleDep,
    FormDep,
    console_router,
    form_text,
)
from tongka.web.consumer_home import consumer_home_sections
from tongka.web.i18n import add_messages
from tongka.web.pages.home import landing_page, safe_next
from tongka.web.pages.listing import Allowed, render_list

router = console_router()

LOGIN_TEMPLATE = "consumer_login.html"
FAILURE_MESSAGES = {
    consumer_login.CODE_INVALID: "consumer.code_invalid",
    consumer_login.CODE_EXPIRED: "consumer.code_expired",
    consumer_login.CODE_LOCKED: "consumer.code_locked",
}


def _login_form(console: Console, status_code: int = 200, **context: Any) -> Response:
    """Step one (phone) or, with ``phone`` in the context, step two (code)."""
    context.setdefault("next", console.request.query_params.get("next", ""))
    is_sandbox = console.settings.environment != "production"
    return console.render(LOGIN_TEMPLATE, status_code=status_code, sandbox=is_sandbox, **context)


@router.get("/consumer/login")
async def login_page(console: ConsoleDep) -> Response:
    if console.principal is not None:
        return console.redirect(landing_page(console.principal))
    return _login_form(console)


@router.post("/consumer/login/code")
async def send_code(console: ConsoleDep, form: FormDep) -> Response:
    """Text a code (same page whether the phone is known or not), then ask for it."""
    phone = form_text(form, "phone")
    next_page = form_text(form, "next")
    try:
        sent = await consumer_login.request_login_code(
            console.session,
            console.keys,
            phone,
            now=console.now,
            sender=sms_sender_for(console.settings),
        )
    except DomainError as exc:  # nothing was written: the request rolls back
        status = 429 if exc.kind == "rate_limited" else 400
        return _login_form(console, status, error=exc.message, entered_phone=phone, next=next_page)
    return _login_form(console, phone=sent.phone, sent=True, next=next_page)


@router.post("/consumer/login")
async def sign_in(console: ConsoleDep, form: FormDep) -> Response:
    phone = form_text(form, "phone")
    next_page = form_text(form, "next")
    result = await consumer_login.verify_login_code(
        console.session, console.keys, phone, form_text(form, "code"), now=console.now
    )
    if not result.succeeded or result.session_token is None:
        # returned, not raised: the wrong attempt is committed with this response
        message = console.t(FAILURE_MESSAGES.get(result.failure or "", "consumer.code_invalid"))
        return _login_form(console, 401, error=message, phone=phone, next=next_page)
    console.cookies[SESSION_COOKIE] = result.session_token
    return console.redirect(safe_next(next_page) or "/console/me")


@router.get("/me")
async def consumer_home(console: Annotated[Console, Allowed(Action.CONSUMER_SELF)]) -> Response:
    """我的卡: the holder's profile and the sections other parts provide (cards...)."""
    if console.signed_in.kind is not PrincipalKind.CONSUMER or console.consumer is None:
        raise PermissionDenied("This page is for card holders; they sign in with their phone.")
    return console.render(
        "consumer_home.html",
        kyc_level_name=KycLevel(console.consumer.kyc_level).name.lower(),
        sections=await consumer_home_sections(console),
    )


@router.get("/sandbox_sms")
async def sandbox_sms(console: Annotated[Console, Allowed(Action.SANDBOX_SMS_READ)]) -> Response:
    """Messages the sandbox SMS sender delivered (newest first); not in production."""
    if console.settings.environment == "production":
        raise NotFound("There is no sandbox SMS in production.")
    return await render_list(
        console, "sandbox_sms.html", "messages", sandbox_messages_query(), SandboxSmsMessage
    )


add_messages(
    "zh-CN",
    {
        "login.consumer_link": "持卡人？用手机验证码登录",
        "nav.my_cards": "我的卡",
        "nav.sandbox_sms": "沙箱短信",
        "consumer.login_title": "持卡人登录",
        "consumer.phone": "手机号",
        "consumer.send_code": "获取验证码",
        "consumer.code": "验证码",
        "consumer.sign_in": "登录",
        "consumer.code_sent": "验证码已发送至",
        "consumer.code_valid": "5 分钟内有效。",
        "consumer.sandbox_hint": "开发环境：短信不会真正发出，"
        "平台管理员可在“沙箱短信”页面查看验证码。",
        "consumer.other_phone": "换一个手机号",
        "consumer.code_invalid": "验证码错误或已失效，请检查或重新获取。",
        "consumer.code_expired": "验证码已过期，请重新获取。",
        "consumer.code_locked": "验证码错误次数过多，请重新获取。",
        "consumer.staff_link": "商户或平台人员登录",
        "consumer.profile": "我的资料",
        "consumer.kyc_level": "实名认证",
        "consumer.member_since": "注册时间",
        "consumer.cards": "卡片",
        "consumer.no_cards": "你还没有卡。",
        "kyc.none": "未认证",
        "kyc.phone": "手机号已验证",
        "kyc.id_card": "身份证已验证",
        "kyc.bank_card": "银行卡已验证",
        "sandbox_sms.title": "沙箱短信",
        "sandbox_sms.note": "非生产环境中短信不会发出，而是保存在这里（最新的在前）。",
        "field.phone": "手机号",
        "field.message": "内容",
    },
)
add_messages(
    "en",
    {
        "login.consumer_link": "Card holder? Sign in with your phone",
        "nav.my_cards": "My cards",
        "nav.sandbox_sms": "Sandbox SMS",
        "consumer.login_title": "Card holder sign-in",
        "consumer.phone": "Mobile number",
        "consumer.send_code": "Send code",
        "consumer.code": "Code",
        "consumer.sign_in": "Sign in",
        "consumer.code_sent": "A code was sent to",
        "consumer.code_valid": "It is valid for 5 minutes.",
        "consumer.sandbox_hint": "Development: no SMS is really sent; a platform operator "
        "finds the code on the Sandbox SMS page.",
        "consumer.other_phone": "Use another number",
        "consumer.code_invalid": "The code is wrong or no longer valid; check it or get a new one.",
        "consumer.code_expired": "The code has expired; get a new one.",
        "consumer.code_locked": "Too many wrong attempts; get a new code.",
        "consumer.staff_link": "Merchant or platform staff login",
        "consumer.profile": "My profile",
        "consumer.kyc_level": "Verification",
        "consumer.member_since": "Member since",
        "consumer.cards": "Cards",
        "consumer.no_cards": "You have no cards yet.",
        "kyc.none": "Not verified",
        "kyc.phone": "Phone verified",
        "kyc.id_card": "ID card verified",
        "kyc.bank_card": "Bank card verified",
        "sandbox_sms.title": "Sandbox SMS",
        "sandbox_sms.note": "Outside production, text messages are not sent but kept here "
        "(newest first).",
        "field.phone": "Mobile number",
        "field.message": "Message",
    },
)
