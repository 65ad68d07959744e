import re

import pytest
import time_machine
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import EmailMessage, User
from webapp.models.base import utcnow

from .conftest import TEST_PASSWORD, csrf_token_from
from .factories import make_user

GOOD = {
    "full_name": "Chidi Eze",
    "email": "chidi@example.com",
    "phone": "0803 123 4567",
    "invite_code": "",
    "password": "palm-grove-42",
    "confirm": "palm-grove-42",
}
LINK_RE = re.compile(r"https?://[^/\s]+(/auth/register/confirm/\S+)")


def register(auth, estate, **changes):
    data = {**GOOD, "invite_code": estate.invite_code, **changes}
    return auth.post("/auth/register", data)


def user_count() -> int:
    return db.session.scalar(select(func.count(User.id)))


def mail_to(address: str) -> list[EmailMessage]:
    db.session.expire_all()
    return list(db.session.scalars(select(EmailMessage).where(EmailMessage.to_address == address)
                                   .order_by(EmailMessage.id)))


def confirmation_path(address: str = "chidi@example.com") -> str:
    """The path of the newest confirmation link mailed to ``address``."""
    match = LINK_RE.search(mail_to(address)[-1].body_text)
    assert match, "no confirmation link in the email"
    return match.group(1)


def confirm(auth, path: str, password: str = GOOD["password"]):
    return auth.post(path, {"password": password})


def chidi() -> User:
    db.session.expire_all()
    return db.session.scalar(select(User).where(User.email == "chidi@example.com"))


def test_register_opens_an_inactive_account_and_mails_a_link(auth, estate):
    response = register(auth, estate)
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/register/sent"
    assert "Check your email" in auth.client.get("/auth/register/sent").get_data(as_text=True)
    user = chidi()
    assert user.estate_id == estate.id
    assert user.role == "resident"
    assert user.phone == "+2348031234567"
    assert user.password_hash != GOOD["password"]
    assert not user.is_active
    (message,) = mail_to("chidi@example.com")
    assert message.subject == "Finish signing up to Utility Autopay"
    assert auth.client.get("/").status_code == 302  # not signed in until the link is used


def test_an_unconfirmed_account_cannot_sign_in(auth, estate):
    register(auth, estate)
    response = auth.login("chidi@example.com", GOOD["password"])
    assert response.status_code == 401
    assert "Confirm your email first" in response.get_data(as_text=True)


def test_confirmation_link_with_the_password_activates_and_signs_in(auth, estate):
    register(auth, estate)
    response = confirm(auth, confirmation_path())
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert chidi().is_active
    page = auth.client.get("/")
    assert page.status_code == 200
    assert f"Welcome to {estate.name}, Chidi." in page.get_data(as_text=True)


def test_opening_the_confirmation_link_changes_nothing(auth, estate):
    register(auth, estate)
    page = auth.client.get(confirmation_path())  # mail scanners open links too
    assert page.status_code == 200
    assert "chidi@example.com" in page.get_data(as_text=True)
    assert not chidi().is_active


def test_confirmation_needs_the_password_chosen_at_sign_up(auth, estate):
    register(auth, estate)
    response = confirm(auth, confirmation_path(), password="someone-elses-pass-7")
    assert response.status_code == 422
    assert "not the password you chose" in response.get_data(as_text=True)
    assert not chidi().is_active


def test_a_confirmation_link_works_once(auth, estate):
    register(auth, estate)
    path = confirmation_path()
    assert confirm(auth, path).status_code == 302
    auth.logout()
    again = auth.client.get(path)
    assert again.status_code == 400
    assert "expired or has already been used" in again.get_data(as_text=True)


def test_a_confirmation_link_expires(app, auth, estate):
    register(auth, estate)
    path = confirmation_path()
    later = utcnow().timestamp() + app.config["SIGNUP_CONFIRM_HOURS"] * 3600 + 60
    with time_machine.travel(later, tick=False):
        assert auth.client.get(path).status_code == 400
    assert not chidi().is_active


def test_signing_up_again_voids_the_earlier_link(auth, estate):
    register(auth, estate)
    first = confirmation_path()
    register(auth, estate, password="second-thought-88", confirm="second-thought-88")
    assert auth.client.get(first).status_code == 400
    assert confirm(auth, confirmation_path(), password="second-thought-88").status_code == 302
    assert user_count() == 1


def test_register_invite_code_is_case_insensitive(auth, estate):
    register(auth, estate, invite_code=estate.invite_code.lower())
    assert chidi().estate_id == estate.id


def test_register_with_a_taken_email_in_any_case_changes_nothing_and_mails_the_owner(auth, estate, resident):
    before = user_count()
    response = register(auth, estate, email="ADA@Example.COM")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/register/sent"
    assert user_count() == before
    db.session.refresh(resident)
    assert resident.full_name == "Ada Okafor" and resident.check_password(TEST_PASSWORD)
    (message,) = mail_to("ada@example.com")
    assert message.subject == "Someone tried to sign up with your email"
    assert "/auth/login" in message.body_text and "/auth/register/confirm/" not in message.body_text


def test_register_refuses_malformed_email(auth, estate):
    response = register(auth, estate, email="not-an-email")
    assert response.status_code == 422
    assert "valid email" in response.get_data(as_text=True)
    assert user_count() == 0


@pytest.mark.parametrize(("password", "message"), [
    ("short1", "at least 10 characters"),
    ("Password123", "too common"),
    ("1234567890", "too common"),
    ("abcdefghijk", "too easy to guess"),
    ("ChidiEze2024!", "Don&#39;t use your name or email"),
    ("chidi@example.com", "Don&#39;t use your name or email"),
])
def test_register_refuses_weak_password(auth, estate, password, message):
    response = register(auth, estate, password=password, confirm=password)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert user_count() == 0
    assert mail_to("chidi@example.com") == []


def test_register_refuses_wrong_invite_code(auth, estate):
    response = register(auth, estate, invite_code="NOPE1234")
    assert response.status_code == 422
    assert "invite code does not match" in response.get_data(as_text=True)
    assert user_count() == 0


def test_register_refuses_bad_phone(auth, estate):
    response = register(auth, estate, phone="12345")
    assert response.status_code == 422
    assert "Nigerian phone number" in response.get_data(as_text=True)
    assert user_count() == 0


def test_register_refuses_mismatched_confirmation(auth, estate):
    response = register(auth, estate, confirm="something-else-1")
    assert "Passwords do not match" in response.get_data(as_text=True)
    assert user_count() == 0


def test_post_without_csrf_token_is_rejected(client, estate):
    response = client.post("/auth/register", data={**GOOD, "invite_code": estate.invite_code})
    assert response.status_code == 400
    assert user_count() == 0


def test_login_and_logout(auth, client, resident):
    response = auth.login("ada@example.com")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert auth.logout().status_code == 302
    assert client.get("/").status_code == 302


def test_login_email_is_case_insensitive(auth, resident):
    assert auth.login("  ADA@example.com ").status_code == 302


def test_wrong_password_and_unknown_email_get_the_same_generic_message(auth, resident):
    wrong = auth.login("ada@example.com", "wrong-password-1")
    unknown = auth.login("nobody@example.com", "wrong-password-1")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Email or password is incorrect." in response.get_data(as_text=True)


@pytest.mark.parametrize(("method", "status"), [("get", 405), ("post", 400)],
                         ids=["get_logout", "logout_without_csrf_token"])
def test_a_logout_that_is_not_a_post_with_a_csrf_token_does_nothing(auth, client, resident, method, status):
    auth.login("ada@example.com")
    assert client.open("/auth/logout", method=method.upper()).status_code == status
    assert client.get("/").status_code == 200


def test_wrong_passwords_below_the_account_limit_leave_the_right_one_working(app, auth, resident):
    for _ in range(4):  # LOGIN_ACCOUNT_RATE_LIMIT is 5 failures per 15 minutes
        assert auth.login("ada@example.com", "wrong-password-1").status_code == 401
    assert auth.login("ada@example.com", TEST_PASSWORD).status_code == 302


def test_successful_sign_ins_do_not_count_against_the_account(app, auth, resident):
    for _ in range(6):
        assert auth.login("ada@example.com").status_code == 302
        auth.logout()


def test_login_is_rate_limited_per_client_address(app, auth, resident):
    # A different email each time, so only the per-address limit (10 per minute) can refuse.
    statuses = [auth.login(f"nobody{n}@example.com", "wrong-password-1").status_code for n in range(11)]
    assert statuses[:10] == [401] * 10
    assert statuses[-1] == 429


def test_safe_next_redirect(auth, resident):
    assert auth.client.get("/auth/password").status_code == 302
    token = auth.csrf()
    ok = auth.client.post("/auth/login?next=/auth/password",
                          data={"email": "ada@example.com", "password": TEST_PASSWORD, "csrf_token": token})
    assert ok.headers["Location"] == "/auth/password"


def test_unsafe_next_redirects_are_ignored(auth, resident):
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        token = auth.csrf()
        response = auth.client.post(f"/auth/login?next={target}",
                                    data={"email": "ada@example.com", "password": TEST_PASSWORD, "csrf_token": token})
        assert response.headers["Location"] == "/", target
        auth.logout()


def test_change_password(auth, client, resident):
    auth.login("ada@example.com")
    bad = auth.post("/auth/password", {"current_password": "nope-nope-1", "new_password": "new-password-9",
                                       "confirm": "new-password-9"})
    assert bad.status_code == 422
    assert "current password is not correct" in bad.get_data(as_text=True)
    ok = auth.post("/auth/password", {"current_password": TEST_PASSWORD, "new_password": "new-password-9",
                                      "confirm": "new-password-9"})
    assert ok.status_code == 302
    assert client.get("/").status_code == 200  # this browser stays signed in
    auth.logout()
    assert auth.login("ada@example.com", "new-password-9").status_code == 302


def test_inactive_user_cannot_sign_in(auth, estate):
    make_user(estate=estate, email="gone@example.com", is_active_flag=False)
    assert auth.login("gone@example.com").status_code == 401


def test_csrf_token_is_in_hx_headers_on_body(auth, client, resident):
    auth.login("ada@example.com")
    html = client.get("/").get_data(as_text=True)
    assert 'hx-headers=\'{"X-CSRFToken": "' in html
    assert csrf_token_from(html)


def test_change_password_refuses_a_common_one(auth, resident):
    auth.login("ada@example.com")
    response = auth.post("/auth/password", {"current_password": TEST_PASSWORD, "new_password": "Password123",
                                            "confirm": "Password123"})
    assert response.status_code == 422
    assert "too common" in response.get_data(as_text=True)
    db.session.refresh(resident)
    assert resident.check_password(TEST_PASSWORD)
