from webapp import create_app

from .factories import make_estate, make_user
from .page_access import assert_sends_to_sign_in


def test_anonymous_user_is_sent_to_login(client):
    assert_sends_to_sign_in(client, "/", "/admin/", "/auth/password")


def test_resident_opening_admin_page_gets_404(auth, client, resident):
    auth.login("ada@example.com")
    response = client.get("/admin/")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_estate_admin_sees_only_their_estate(auth, client, estate, estate_admin, resident):
    other = make_estate(name="Other Estate")
    make_user(estate=other, email="stranger@example.com", full_name="Stranger Danger")
    auth.login("admin@example.com")
    html = client.get("/admin/").get_data(as_text=True)
    assert "Ada Okafor" in html
    assert "Stranger Danger" not in html
    assert "Other Estate" not in html


def test_platform_admin_sees_every_estate(auth, client, estate, resident):
    make_estate(name="Other Estate")
    make_user(email="root@example.com", role="platform_admin", estate=None)
    auth.login("root@example.com")
    html = client.get("/admin/").get_data(as_text=True)
    assert estate.name in html and "Other Estate" in html


def test_unknown_page_is_a_styled_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_healthz_reports_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok"
    assert response.json["checks"] == {"database": {"ok": True}, "redis": {"ok": True}}


def test_healthz_with_redis_down_is_503_and_names_redis(base_config):
    from webapp.infra.local_services import free_port

    app = create_app({**base_config, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
                      "RATELIMIT_STORAGE_URI": "memory://"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.json
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["error"]


def test_security_headers_and_vary(client):
    response = client.get("/auth/login")
    assert "HX-Request" in response.headers["Vary"]
    assert response.headers["X-Frame-Options"] == "DENY"
