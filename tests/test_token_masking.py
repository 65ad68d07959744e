"""Electricity tokens are money: whole only for the resident who bought them, masked for admins."""
from __future__ import annotations

from tests.factories_payments import make_payment
from webapp.services import audit
from webapp.services.payments import admin_actions

TOKEN = "26362054764333554021"
GROUPED = "2636 2054 7643 3355 4021"


def test_an_admin_sees_only_the_last_four_digits_of_a_token(auth, estate_admin, resident, meter):
    paid = make_payment(resident, meter, token=TOKEN)
    auth.login(estate_admin.email)
    html = auth.client.get(f"/admin/payments/{paid.id}").get_data(as_text=True)
    assert "•••• 4021" in html
    assert GROUPED not in html and TOKEN not in html


def test_the_resident_who_paid_still_sees_the_whole_token(logged_in, resident, meter):
    paid = make_payment(resident, meter, token=TOKEN)
    html = logged_in.get(f"/payments/{paid.id}").get_data(as_text=True)
    assert GROUPED in html and f'data-copy="{TOKEN}"' in html


def test_admin_actions_audit_the_token_masked(resident, meter):
    paid = make_payment(resident, meter, token=TOKEN)
    snapshot = audit.snapshot(paid, admin_actions.FIELDS)
    assert snapshot["masked_token"] == "•••• 4021"
    assert TOKEN not in str(snapshot)
