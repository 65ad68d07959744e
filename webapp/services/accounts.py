"""Sign-up, sign-in with lockout, and password changes."""
from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select

from ..extensions import db
from ..models import Estate, Role, User
from ..models.base import utcnow

MIN_PASSWORD_LENGTH = 10


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


def password_problem(password: str, email: str = "") -> str | None:
    """Why a password is too weak, or None when it is acceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Use at least {MIN_PASSWORD_LENGTH} characters."
    if password.isdigit() or password.isalpha():
        return "Mix letters with numbers or symbols."
    if email and password.lower() == email.split("@")[0].lower():
        return "Do not use your email name as your password."
    return None


def find_user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email.strip().lower()))


@dataclass
class Registration:
    email: str
    full_name: str
    phone: str
    password: str
    invite_code: str


def register_resident(form: Registration) -> User:
    """Create a resident in the estate whose invite code they gave."""
    email = normalise_email(form.email)
    if find_user_by_email(email):
        raise AccountError("An account with this email already exists. Sign in instead.", "email")
    problem = password_problem(form.password, email)
    if problem:
        raise AccountError(problem, "password")
    code = (form.invite_code or "").strip().upper()
    estate = db.session.scalar(select(Estate).where(Estate.invite_code == code)) if code else None
    if estate is None:
        raise AccountError("That invite code does not match any estate. Check it with your estate office.",
                           "invite_code")
    full_name = " ".join((form.full_name or "").split())
    if len(full_name) < 2:
        raise AccountError("Enter your full name.", "full_name")
    user = User(
        email=email,
        full_name=full_name,
        phone=normalise_phone(form.phone) if form.phone else None,
        role=Role.RESIDENT.value,
        estate=estate,
    )
    user.set_password(form.password)
    db.session.add(user)
    db.session.commit()
    return user


GENERIC_LOGIN_ERROR = "Email or password is incorrect."


def authenticate(email: str, password: str) -> User:
    """Return the user for these credentials or raise ``AccountError`` with a generic message.

    Never locks an account (a lock would let anyone keep its owner out): failed attempts are slowed
    per account and per client address by the sign-in route's rate limits instead.
    """
    user = find_user_by_email(email or "")
    if user is None:
        # Same work as a real check so timing does not reveal which emails exist.
        User(password_hash=_DUMMY_HASH).check_password(password or "")
        raise AccountError(GENERIC_LOGIN_ERROR)
    if not user.check_password(password or "") or not user.is_active:
        raise AccountError(GENERIC_LOGIN_ERROR)
    user.last_login_at = utcnow()
    db.session.commit()
    return user


def change_password(user: User, current: str, new: str) -> None:
    if not user.check_password(current or ""):
        raise AccountError("Your current password is not correct.", "current_password")
    problem = password_problem(new or "", user.email)
    if problem:
        raise AccountError(problem, "new_password")
    user.set_password(new)
    db.session.commit()


def _dummy_hash() -> str:
    from werkzeug.security import generate_password_hash

    return generate_password_hash("not-a-real-password-0")


_DUMMY_HASH = _dummy_hash()
