"""Sessions that can be revoked and expire, and sign-in/sign-up that neither lock nor leak (DESIGN §7).

A "copied cookie" is the session cookie of one test client set on another: what someone who lifted
it from a browser or a log would hold. Time moves with time-machine; the one rate-limit window
that must pass uses the in-memory limiter storage, whose clock time-machine moves too (Redis keeps
its own).
"""
from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from flask_login.utils import encode_cookie
from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AuditEntry, EmailMessage
from webapp.services.identity import credentials, sessions

from .conftest import TEST_PASSWORD, AuthActions, csrf_token_from
from .factories import make_estate, make_user

HOST = "autopay.test"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
TOKENS = re.compile(r'name="csrf_token"[^>]*value="[^"]+"|"X-CSRFToken": "[^"]+"')
SIGN_UP = {"full_name": "Chidi Eze", "phone": "", "password": "palm-grove-42", "confirm": "palm-grove-42"}
# Room for many failed sign-ins from one test client, so only the per-account limit can refuse.
ROOMY_ADDRESS_LIMIT = {"LOGIN_RATE_LIMIT": "100 per minute"}


def own_context(call):
    """Run requests as a server would, in fresh app contexts: the test's own app context would lend
    every request the same ``g`` (and so the user Flask-Login cached there on the last sign-in)."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def session_cookie(client) -> str | None:
    cookie = client.get_cookie("session", domain=HOST)
    return cookie.value if cookie else None


@pytest.fixture
def copied(app, client):
    """A second browser that gets a copy of ``client``'s session cookie when called."""
    thief = app.test_client()

    def copy():
        thief.set_cookie("session", session_cookie(client), domain=HOST)
        return thief

    return copy


def signed_in(client) -> bool:
    return own_context(lambda: client.get("/auth/password")).status_code == 200


def without_tokens(html: str) -> str:
    return TOKENS.sub("", html)


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


# Revocation

def test_a_copied_session_cookie_stops_working_after_logout(auth, client, copied, resident):
    auth.login("ada@example.com")
    thief = copied()
    assert signed_in(thief)
    auth.logout()
    assert not signed_in(thief)


def test_logout_says_it_signed_out_every_device(auth, client, resident):
    auth.login("ada@example.com")
    page = client.get(auth.logout().headers["Location"]).get_data(as_text=True)
    assert "You have signed out on every device." in page


def test_a_copied_session_cookie_stops_working_after_a_password_change(auth, client, copied, resident):
    auth.login("ada@example.com")
    thief = copied()
    response = auth.post("/auth/password", {"current_password": TEST_PASSWORD, "new_password": "fresh-mango-77",
                                            "confirm": "fresh-mango-77"})
    assert response.status_code == 302
    assert not signed_in(thief)
    assert signed_in(client)  # the browser that changed it carries on


def test_a_copied_session_cookie_stops_working_after_an_admin_signs_the_resident_out(
        app, auth, client, copied, resident, estate_admin):
    auth.login("ada@example.com")
    thief = copied()
    admin = AuthActions(app.test_client())
    own_context(lambda: admin.login("admin@example.com"))
    assert "Sign out everywhere" in own_context(lambda: admin.client.get("/admin/")).get_data(as_text=True)
    response = own_context(lambda: admin.post(f"/admin/residents/{resident.id}/sign-out", page="/admin/"))
    assert response.status_code == 302
    assert not signed_in(thief) and not signed_in(client)
    assert signed_in(admin.client)
    db.session.rollback()  # end this thread's read so it sees what the requests committed
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "user.sign_out_everywhere"))
    assert entry.object_id == resident.id and entry.actor == "admin@example.com"


def test_an_admin_cannot_sign_out_a_resident_of_another_estate(app, auth, client, resident):
    make_user(estate=make_estate(), email="elsewhere@example.com", role="estate_admin")
    auth.login("ada@example.com")
    admin = AuthActions(app.test_client())
    own_context(lambda: admin.login("elsewhere@example.com"))
    response = own_context(lambda: admin.post(f"/admin/residents/{resident.id}/sign-out", page="/admin/"))
    assert response.status_code == 404
    assert signed_in(client)


def test_an_ended_session_is_sent_to_sign_in_with_a_reason(auth, client, copied, resident):
    auth.login("ada@example.com")
    thief = copied()
    auth.logout()
    response = own_context(lambda: thief.get("/", follow_redirects=True))
    assert response.request.path == "/auth/login"
    assert sessions.ENDED_MESSAGE in response.get_data(as_text=True)


def test_a_remember_me_cookie_cannot_restore_a_revoked_session(app, client, resident):
    with app.test_request_context():
        forged = encode_cookie(str(resident.id))  # what Flask-Login would have set with remember=True
    client.set_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), forged, domain=HOST)
    assert not signed_in(client)


# Lifetimes

def test_an_idle_session_expires(app, auth, client, resident, clock):
    auth.login("ada@example.com")
    clock.shift(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"], seconds=1))
    assert not signed_in(client)


def test_use_keeps_a_session_from_going_idle(app, auth, client, resident, clock):
    auth.login("ada@example.com")
    step = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 5)
    for _ in range(3):
        clock.shift(step)
        assert signed_in(client)


def test_a_session_in_use_still_ends_at_its_absolute_age(app, auth, client, resident, clock):
    auth.login("ada@example.com")
    max_age = timedelta(hours=app.config["SESSION_MAX_HOURS"])
    step = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 5)
    elapsed = timedelta()
    while elapsed + step < max_age:
        clock.shift(step)
        elapsed += step
        assert signed_in(client), elapsed
    clock.shift(max_age - elapsed + timedelta(seconds=1))
    assert not signed_in(client)


def test_last_seen_is_written_at_most_once_a_minute(auth, client, resident, clock):
    auth.login("ada@example.com")
    def look():
        return own_context(lambda: client.get("/auth/password"))

    look()  # mints this session's CSRF token
    clock.shift(timedelta(seconds=30))
    assert "Set-Cookie" not in look().headers
    clock.shift(timedelta(seconds=31))
    assert "Set-Cookie" in look().headers


# Rotation at sign-in

def test_a_csrf_token_from_before_sign_in_is_rejected_after_it(auth, client, resident):
    before = auth.csrf()
    response = client.post("/auth/login", data={"email": "ada@example.com", "password": TEST_PASSWORD,
                                                "csrf_token": before})
    assert response.status_code == 302
    assert client.post("/auth/logout", data={"csrf_token": before}).status_code == 400
    assert signed_in(client)


def test_the_session_cookie_changes_at_sign_in(app, auth, client, resident):
    auth.csrf()
    anonymous = session_cookie(client)
    auth.login("ada@example.com")
    after = session_cookie(client)
    assert anonymous and after and after != anonymous
    contents = app.session_interface.get_signing_serializer(app).loads(after)
    assert "csrf_token" not in contents  # the old token was dropped, not carried over
    assert contents[sessions.VERSION_KEY] == resident.session_version


# Slowing failed sign-ins, never locking

@pytest.mark.parametrize("config_overrides", [{**ROOMY_ADDRESS_LIMIT, "RATELIMIT_STORAGE_URI": "memory://"}])
def test_failed_sign_ins_slow_the_account_until_the_window_passes(auth, resident, clock):
    for _ in range(5):  # LOGIN_ACCOUNT_RATE_LIMIT: 5 failures per 15 minutes
        assert auth.login("ada@example.com", "wrong-password-1").status_code == 401
    refused = auth.login("ada@example.com", "wrong-password-1")
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60 + 1
    assert auth.login("ada@example.com", TEST_PASSWORD).status_code == 429  # slowed, the right password too
    clock.shift(timedelta(minutes=15, seconds=1))
    assert auth.login("ada@example.com", TEST_PASSWORD).status_code == 302  # ...but never locked


@pytest.mark.parametrize("config_overrides", [ROOMY_ADDRESS_LIMIT])
def test_the_account_limit_answers_alike_for_unknown_and_existing_emails(auth, resident):
    answers = []
    for email in ("ada@example.com", "nobody@example.com"):
        for _ in range(5):
            auth.login(email, "wrong-password-1")
        answers.append(auth.login(email, "wrong-password-1"))
    real, unknown = answers
    assert real.status_code == unknown.status_code == 429
    assert "Retry-After" in real.headers and "Retry-After" in unknown.headers
    assert without_tokens(real.get_data(as_text=True)) == without_tokens(unknown.get_data(as_text=True))


def test_unknown_and_existing_emails_get_the_same_sign_in_answer_and_work(auth, resident, monkeypatch):
    import webapp.models.user as user_model

    checks = []
    real_check = user_model.check_password_hash
    monkeypatch.setattr(user_model, "check_password_hash", lambda *a: checks.append(a) or real_check(*a))
    wrong = auth.login("ada@example.com", "wrong-password-1")
    assert len(checks) == 1
    unknown = auth.login("nobody@example.com", "wrong-password-1")
    assert len(checks) == 2  # the unknown address costs a hash check too
    assert wrong.status_code == unknown.status_code == 401
    # The form shows back the email typed; apart from that the pages are the same.
    assert (without_tokens(wrong.get_data(as_text=True)).replace("ada@example.com", "EMAIL")
            == without_tokens(unknown.get_data(as_text=True)).replace("nobody@example.com", "EMAIL"))


# Sign-up

def sign_up(auth, estate, email: str):
    return auth.post("/auth/register", {**SIGN_UP, "email": email, "invite_code": estate.invite_code})


def test_sign_up_with_a_taken_email_looks_like_a_new_one_and_mails_the_owner(auth, client, estate, resident,
                                                                                 monkeypatch):
    import webapp.models.user as user_model
    import webapp.services.identity.credentials as accounts_module

    hashes = []
    real = user_model.hash_password
    monkeypatch.setattr(user_model, "hash_password", lambda p: hashes.append(p) or real(p))
    monkeypatch.setattr(accounts_module, "hash_password", lambda p: hashes.append(p) or real(p))
    new = sign_up(auth, estate, "chidi@example.com")
    new_page = client.get(new.headers["Location"]).get_data(as_text=True)
    taken = sign_up(auth, estate, "ada@example.com")
    taken_page = client.get(taken.headers["Location"]).get_data(as_text=True)
    assert new.status_code == taken.status_code == 302
    assert new.headers["Location"] == taken.headers["Location"]
    assert without_tokens(new_page) == without_tokens(taken_page)
    assert len(hashes) == 2  # one password hash each way
    subjects = dict(db.session.execute(select(EmailMessage.to_address, EmailMessage.subject)).all())
    assert subjects == {"chidi@example.com": "Finish signing up to Utility Autopay",
                        "ada@example.com": "Someone tried to sign up with your email"}


def test_sign_up_is_rate_limited_per_client_address_wrong_invite_codes_included(auth, estate):
    for n in range(5):  # REGISTER_RATE_LIMIT: 5 per hour
        wrong = auth.post("/auth/register", {**SIGN_UP, "email": f"guess{n}@example.com", "invite_code": f"NOPE{n}"})
        assert wrong.status_code == 422
    refused = sign_up(auth, estate, "chidi@example.com")
    assert refused.status_code == 429
    assert "Retry-After" in refused.headers
    assert db.session.scalar(select(EmailMessage.id)) is None


# Password policy (factories set hashes directly, so the test password only has to be a password)

def test_a_common_password_is_refused():
    assert credentials.password_problem("Password123", "chidi@example.com", "Chidi Eze").startswith(
        "This password is too common")


def test_a_password_made_of_your_own_name_is_refused():
    assert credentials.password_problem("ChidiEze2024!", "chidi@example.com", "Chidi Eze") == (
        "Don't use your name or email in your password.")


def test_a_password_made_of_your_email_name_is_refused():
    assert credentials.password_problem("okaforada-9", "okaforada@example.com", "Ada") == (
        "Don't use your name or email in your password.")


def test_a_strong_password_is_accepted():
    assert credentials.password_problem("palm-grove-42", "chidi@example.com", "Chidi Eze") is None


def test_the_csrf_token_minted_after_sign_in_works(auth, client, resident):
    auth.login("ada@example.com")
    token = csrf_token_from(client.get("/auth/password").get_data(as_text=True))
    assert client.post("/auth/logout", data={"csrf_token": token}).status_code == 302
