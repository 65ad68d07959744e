
from sqlalchemy import func, select

from webapp.extensions import db
from webapp.models import User

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


def register(auth, estate, **changes):
    data = {**GOOD, "invite_code": estate.invite_code, **changes}
    return auth.post("/auth/register", data)


def user_count() -> int:
    return db.session.scalar(select(func.count(User.id)))


def test_register_joins_estate_and_normalises_phone(auth, estate):
    response = register(auth, estate)
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.email == "chidi@example.com"))
    assert user.estate_id == estate.id
    assert user.role == "resident"
    assert user.phone == "+2348031234567"
    assert user.password_hash != GOOD["password"]


def test_register_invite_code_is_case_insensitive(auth, estate):
    assert register(auth, estate, invite_code=estate.invite_code.lower()).status_code == 302


def test_register_refuses_duplicate_email_in_any_case(auth, estate, resident):
    before = user_count()
    response = register(auth, estate, email="ADA@Example.COM")
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)
    assert user_count() == before


def test_register_refuses_malformed_email(auth, estate):
    response = register(auth, estate, email="not-an-email")
    assert response.status_code == 422
    assert "valid email" in response.get_data(as_text=True)
    assert user_count() == 0


def test_register_refuses_weak_password(auth, estate):
    response = register(auth, estate, password="short1", confirm="short1")
    assert response.status_code == 422
    assert "at least 10 characters" in response.get_data(as_text=True)
    response = register(auth, estate, password="onlyletterslong", confirm="onlyletterslong")
    assert "Mix letters" in response.get_data(as_text=True)
    assert user_count() == 0


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


def test_get_logout_does_nothing(auth, client, resident):
    auth.login("ada@example.com")
    assert client.get("/auth/logout").status_code == 405
    assert client.get("/").status_code == 200


def test_logout_without_csrf_token_does_nothing(auth, client, resident):
    auth.login("ada@example.com")
    assert client.post("/auth/logout").status_code == 400
    assert client.get("/").status_code == 200


def test_wrong_passwords_never_lock_the_owner_out(app, auth, resident):
    for _ in range(5):
        assert auth.login("ada@example.com", "wrong-password-1").status_code == 401
    assert auth.login("ada@example.com", TEST_PASSWORD).status_code == 302


def test_login_is_rate_limited(app, auth, resident):
    statuses = [auth.login("nobody@example.com", "wrong-password-1").status_code for _ in range(11)]
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
