"""Estate bills: issuing, cancelling and paying them (``bills``); overdue marking and reminders over
time (``overdue``); bill plans that issue them again every period (``plans``, ``plan_issue``).
"""
from webapp.services.estate_bills.bills import (  # noqa: F401
    MIN_PARTIAL_KOBO,
    STATUS_LABELS,
    TYPE_LABELS,
    BillError,
    bills_page,
    cancel_bill,
    estate_balance,
    estate_residents,
    estate_statement,
    estate_today,
    issue_bills,
    open_bills,
    pay_from_wallet,
    payable_kobo,
    resident_bills,
)
from webapp.services.estate_bills.overdue import (  # noqa: F401
    mark_overdue,
    send_bill_reminders,
)
from webapp.services.estate_bills.plan_issue import issue_due_plans  # noqa: F401
from webapp.services.estate_bills.plan_reminders import send_plan_reminders  # noqa: F401
from webapp.services.estate_bills.plans import (  # noqa: F401
    FREQUENCY_LABELS,
    PlanDetails,
    bills_issued,
    create_plan,
    plan_recipients,
    plans_of,
    preview,
    set_paused,
    update_plan,
)
from webapp.services.estate_bills.statements import (  # noqa: F401
    email_statement,
    estate_resident,
    resident_statement,
    statement_residents,
)
