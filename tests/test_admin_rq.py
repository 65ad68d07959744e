"""The RQ dashboard under /admin/rq: platform admins only (everyone else 404, signed-out visitors
to sign in), its POST actions protected by Flask-WTF's CSRF check through the header its own
script sends, and no state change over GET. Also: a resident gets 404 on every admin route.
"""
from __future__ import annotations

import re

import pytest
from rq import Queue
from rq.job import Job

from tests import factories
from webapp.infra.redis_client import redis_connection


@pytest.fixture
def platform_admin(app):
    return factories.make_user(email="root@example.com", role="platform_admin")


@pytest.fixture
def job(app):
    return Queue("default", connection=redis_connection()).enqueue("builtins.len", [1, 2, 3])


def csrf_cookie(client) -> str | None:
    """What the dashboard's script reads from document.cookie on /admin/rq pages."""
    cookie = client.get_cookie("_csrf_token", domain=client.application.config["SERVER_NAME"], path="/admin/rq")
    return cookie.value if cookie else None


def test_a_platform_admin_sees_queues_workers_and_jobs(client, auth, platform_admin, job):
    auth.login(platform_admin.email)
    page = client.get("/admin/rq/")
    assert page.status_code == 200 and "RQ" in page.get_data(as_text=True)
    queues = client.get("/admin/rq/0/data/queues.json").get_json()["queues"]
    assert [(q["name"], q["count"]) for q in queues] == [("default", 1)]
    jobs = client.get("/admin/rq/0/data/jobs/default/queued/8/asc/1.json").get_json()["jobs"]
    assert [j["id"] for j in jobs] == [job.id]
    assert client.get("/admin/rq/0/data/workers.json").status_code == 200
    assert client.get(f"/admin/rq/0/data/job/{job.id}.json").get_json()["status"] == "queued"


def test_the_rq_link_is_in_the_nav_for_platform_admins_only(client, auth, platform_admin, estate_admin):
    auth.login(platform_admin.email)
    assert 'href="/admin/rq/">RQ<' in client.get("/admin/payments/").get_data(as_text=True)
    auth.logout()
    auth.login(estate_admin.email)
    assert 'href="/admin/rq/"' not in client.get("/admin/payments/").get_data(as_text=True)


@pytest.mark.parametrize("role", ["estate_admin", "resident"])
def test_anyone_but_a_platform_admin_gets_404(client, auth, estate, role, job):
    user = factories.make_user(estate=estate, email=f"{role}@example.com", role=role)
    auth.login(user.email)
    token = auth.csrf("/auth/password")
    for path in ["/admin/rq/", "/admin/rq/0/view/workers", "/admin/rq/0/data/queues.json",
                 f"/admin/rq/0/data/job/{job.id}.json"]:
        assert client.get(path).status_code == 404, path
    response = client.post(f"/admin/rq/job/{job.id}/delete", headers={"X-CSRFToken": token})
    assert response.status_code == 404
    assert csrf_cookie(client) is None
    assert Job.exists(job.id, connection=redis_connection())


def test_a_signed_out_visitor_is_sent_to_sign_in(client):
    response = client.get("/admin/rq/0/view/jobs")
    assert response.status_code == 302 and "/auth/login" in response.location


def test_dashboard_pages_hand_their_script_the_csrf_token_in_a_strict_cookie(client, auth, platform_admin):
    auth.login(platform_admin.email)
    response = client.get("/admin/rq/")
    header = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("_csrf_token="))
    assert "Path=/admin/rq" in header and "SameSite=Strict" in header and "HttpOnly" not in header
    assert 'getCookie("_csrf_token")' in response.get_data(as_text=True)  # the dashboard's own script


def test_a_post_without_the_csrf_header_is_refused_and_with_it_goes_through(client, auth, platform_admin, job):
    auth.login(platform_admin.email)
    client.get("/admin/rq/")
    assert client.post(f"/admin/rq/job/{job.id}/delete").status_code == 400
    forged = client.post(f"/admin/rq/job/{job.id}/delete", headers={"X-CSRFToken": "forged"})
    assert forged.status_code == 400
    assert Job.exists(job.id, connection=redis_connection())
    response = client.post(f"/admin/rq/job/{job.id}/delete", headers={"X-CSRFToken": csrf_cookie(client)})
    assert response.get_json() == {"status": "OK"}
    assert not Job.exists(job.id, connection=redis_connection())


def test_requeue_all_is_refused_over_get(client, auth, platform_admin):
    auth.login(platform_admin.email)
    assert client.get("/admin/rq/requeue/default").status_code == 405
    client.get("/admin/rq/")
    response = client.post("/admin/rq/requeue/default", headers={"X-CSRFToken": csrf_cookie(client)})
    assert response.get_json() == {"status": "OK", "count": 0}


def test_a_resident_gets_404_on_every_admin_route(app, client, auth, resident):
    """Every rule under /admin (ours and the dashboard's), GET and POST, with dummy ids."""
    auth.login(resident.email)
    token = auth.csrf("/auth/password")
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/admin") or rule.endpoint.endswith(".static"):
            continue
        path = re.sub(r"<(?:int:)?[^>]+>", "1", rule.rule)
        for method in sorted(rule.methods & {"GET", "POST"}):
            response = client.open(path, method=method, data={"csrf_token": token}, headers={"X-CSRFToken": token})
            assert response.status_code == 404, (method, path, response.status_code)
            checked += 1
    assert checked > 30
