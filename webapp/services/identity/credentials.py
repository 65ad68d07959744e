"""Sign-up confirmed by email, sign-in without lock-out, and passwords worth having (DESIGN §7).

Nothing here tells a stranger whether an email address has an account: sign-in gives one answer
for a wrong password and an unknown address, and sign-up gives one answer (and sends one email)
for a new address and a taken one.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from flask import current_app, url_for
from itsdangerous import BadData, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import generate_password_hash
from zxcvbn import zxcvbn

from webapp.extensions import db
from webapp.infra.bulk_writes import insert_once
from webapp.models import EmailMessage, Estate, Role, User
from webapp.models.base import utcnow
from webapp.models.user import hash_password
from webapp.services import notify
from webapp.services.identity import sessions
from webapp.services.notify.channels import absolute_url, email_written

MIN_PASSWORD_LENGTH = 10
# zxcvbn's 0-4 scale; 3 is "safely unguessable" (about 10^8 guesses or more).
MIN_PASSWORD_SCORE = 3
# zxcvbn refuses longer input; a strong password is strong in its first 72 characters too.
_ZXCVBN_MAX_LENGTH = 72

GENERIC_LOGIN_ERROR = "Email or password is incorrect."
CONFIRM_FIRST = "Confirm your email first: open the link we sent you when you signed up."
INVITE_CODE_ERROR = "That invite code does not match any estate. Check it with your estate office."
LINK_ERROR = "This link has expired or has already been used. Sign up again, or sign in if you already have."


class AccountError(ValueError):
    """A sign-up or sign-in request that cannot be honoured, with a message fit for the page."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def normalise_email(raw: str) -> str:
    """Validate an address and return it lower-cased (unique case-insensitively)."""
    try:
        result = validate_email((raw or "").strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise AccountError("Enter a valid email address, like name@example.com.", "email") from exc
    return result.normalized.lower()


def normalise_phone(raw: str) -> str:
    """Return a Nigerian phone number in E.164 (+234...) form."""
    try:
        number = phonenumbers.parse((raw or "").strip(), "NG")
    except phonenumbers.NumberParseException as exc:
        raise AccountError("Enter a Nigerian phone number, like 0803 123 4567.", "phone") from exc
    if not phonenumbers.is_valid_number(number) or number.country_code != 234:
        raise AccountError("Enter a Nigerian phone number, like 0803 123 4567.", "phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def password_problem(password: str, email: str = "", full_name: str = "") -> str | None:
    """Why a password is too weak, or None when it is acceptable.

    zxcvbn estimates how many guesses it would take, knowing the common-password lists and the
    person's own email and name (so "Password123" and "ChidiEze2024!" are both refused).
    """
    password = password or ""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    local_part = email.split("@")[0]
    own_words = [w for w in (email, local_part, *full_name.split()) if len(w) >= 3]
    result = zxcvbn(password[:_ZXCVBN_MAX_LENGTH], user_inputs=own_words)
    if any(match.get("dictionary_name") == "user_inputs" for match in result["sequence"]):
        return "Don't use your name or email in your password."
    if result["score"] >= MIN_PASSWORD_SCORE:
        return None
    if "common" in (result["feedback"]["warning"] or "").lower():
        return "This password is too common. Try three or four unrelated words instead."
    return "This password is too easy to guess. Add another word or two; unusual words are best."


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


def is_pending(user: User) -> bool:
    """Signed up but never confirmed the email: inactive and never signed in."""
    return not user.is_active_flag and user.last_login_at is None


@dataclass
class Registration:
    email: str
    full_name: str
    phone: str
    password: str
    invite_code: str


def register_resident(form: Registration) -> None:
    """Start a sign-up; the caller shows "check your email" whatever happened.

    First everything the form can be wrong about, none of which depends on whether the address is
    known. Then a new (or never confirmed) address gets an inactive account and a link that
    activates it; an address that has an account gets a note for its owner instead. Each way costs
    one password hash and queues one email, so neither the page nor its timing tells them apart.
    """
    email = normalise_email(form.email)
    full_name = " ".join((form.full_name or "").split())
    if len(full_name) < 2:
        raise AccountError("Enter your full name.", "full_name")
    phone = normalise_phone(form.phone) if form.phone else None
    problem = password_problem(form.password, email, full_name)
    if problem:
        raise AccountError(problem, "password")
    code = (form.invite_code or "").strip().upper()
    estate = db.session.scalar(select(Estate).where(Estate.invite_code == code)) if code else None
    if estate is None:
        raise AccountError(INVITE_CODE_ERROR, "invite_code")

    user = find_user_by_email(email)
    if user is not None and not is_pending(user):
        hash_password(form.password)  # the work the other branch does
        _queue_email(user, "Someone tried to sign up with your email", _taken_email_body(user))
    else:
        # A never-confirmed sign-up is replaced: only the mailbox's owner can finish either one,
        # and they must know the password given last (see ``confirm_signup``).
        if user is None:
            user = User(email=email, role=Role.RESIDENT.value, is_active_flag=False)
            db.session.add(user)
        user.full_name, user.phone, user.estate = full_name, phone, estate
        user.set_password(form.password)
        try:
            db.session.flush()
        except IntegrityError:
            db.session.rollback()  # the same address signing up twice at once: the other one mails
            return
        _queue_email(user, "Finish signing up to Utility Autopay", _confirm_email_body(user))
    db.session.commit()
    notify.enqueue_pending_emails()


def pending_signup(token: str) -> User | None:
    """The unconfirmed account a confirmation link is for; None if the link is bad, old or used."""
    try:
        data = _signup_serializer().loads(token, max_age=current_app.config["SIGNUP_CONFIRM_HOURS"] * 3600)
    except BadData:
        return None
    user_id = data.get("user") if isinstance(data, dict) else None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not is_pending(user):
        return None
    # A later sign-up for the same address replaced the password; links sent before it are void.
    if not hmac.compare_digest(str(data.get("pw", "")), _password_fingerprint(user)):
        return None
    return user


def confirm_signup(token: str, password: str) -> User:
    """Activate the account behind a confirmation link for whoever knows its password."""
    user = pending_signup(token)
    if user is None:
        raise AccountError(LINK_ERROR)
    stored = user.password_hash
    db.session.rollback()  # no transaction (on SQLite: the write lock) held across the slow hash check
    if not User(password_hash=stored).check_password(password or ""):
        raise AccountError("That is not the password you chose when you signed up.", "password")
    user.is_active_flag = True
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def authenticate(email: str, password: str) -> User:
    """Return the user for these credentials or raise ``AccountError`` with a generic message.

    Never locks an account (a lock would let anyone keep its owner out): failed attempts are slowed
    per account and per client address by the sign-in route's rate limits instead.
    """
    user = find_user_by_email(email or "")
    # Same work for an unknown email as a real check, so timing does not reveal which emails exist.
    stored = user.password_hash if user is not None else _DUMMY_HASH
    # The slow hash check runs with no transaction open: on SQLite a sign-in POST's transaction
    # holds the database's write lock, and every other writer would wait out the hash with it.
    db.session.rollback()
    if not User(password_hash=stored).check_password(password or "") or user is None:
        raise AccountError(GENERIC_LOGIN_ERROR)
    if is_pending(user):
        raise AccountError(CONFIRM_FIRST)  # only said to someone who knows the password
    if not user.is_active:
        raise AccountError(GENERIC_LOGIN_ERROR)
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def change_password(user: User, current: str, new: str) -> None:
    """Set a new password and end every session of ``user`` (the caller signs this one in again)."""
    if not user.check_password(current or ""):
        raise AccountError("Your current password is not correct.", "current_password")
    problem = password_problem(new or "", user.email, user.full_name)
    if problem:
        raise AccountError(problem, "new_password")
    user.set_password(new)
    sessions.revoke_all(user)
    db.session.commit()


def _signup_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="autopay.signup-confirm")


def _password_fingerprint(user: User) -> str:
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:20]


def _queue_email(user: User, subject: str, body: str) -> None:
    """Write one outbox row in this transaction; ``enqueue_pending_emails`` sends it after commit."""
    insert_once(EmailMessage, {
        "user_id": user.id, "to_address": user.email, "subject": subject, "body_text": body,
        "dedup_key": f"signup:{user.id}:{secrets.token_hex(8)}",
    }, then=email_written)


def _confirm_email_body(user: User) -> str:
    token = _signup_serializer().dumps({"user": user.id, "pw": _password_fingerprint(user)})
    link = absolute_url(url_for("auth.confirm_signup", token=token))
    hours = current_app.config["SIGNUP_CONFIRM_HOURS"]
    return (f"Hello {user.full_name.split()[0]},\n\n"
            f"Someone, hopefully you, asked to open a Utility Autopay account for {user.email} in "
            f"{user.estate.name}. To finish, open this link within {hours} hours and enter the password "
            f"you chose:\n\n{link}\n\n"
            "If it was not you, ignore this email: without the link the account is never opened.\n\n"
            "Utility Autopay\n")


def _taken_email_body(user: User) -> str:
    return (f"Hello {user.full_name.split()[0]},\n\n"
            f"Someone tried to open a new Utility Autopay account with {user.email}, which already has one.\n\n"
            f"If it was you, sign in here instead: {absolute_url(url_for('auth.login'))}\n"
            "If you have forgotten your password, your estate office can help you get back in.\n\n"
            "If it was not you, you need not do anything: your account has not changed.\n\n"
            "Utility Autopay\n")


def _dummy_hash() -> str:
    return generate_password_hash("not-a-real-password-0")  # scrypt, as real accounts have


_DUMMY_HASH = _dummy_hash()
