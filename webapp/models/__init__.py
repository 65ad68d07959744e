"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""
from webapp.models.audit import AuditEntry
from webapp.models.automation import Automation, AutomationOccurrence, AutomationSettings, OccurrenceStatus
from webapp.models.bill import Bill, BillCategory, BillStatus, BillType
from webapp.models.bill_plan import BillPlan, PlanFrequency
from webapp.models.catalogue import UtilityProvider
from webapp.models.estate import Estate
from webapp.models.funding import FundingIntent, FundingStatus, SavedCard, VirtualAccount
from webapp.models.household import HouseholdMember, MemberRole, MembershipStatus
from webapp.models.ledger import Account, AccountKind, EntryKind, JournalEntry, Posting
from webapp.models.notification import EmailMessage, EmailStatus, Notification, NotificationPreference
from webapp.models.payment import (
           AdminAlert,
           Payment,
           PaymentEvent,
           PaymentKind,
           PaymentStatus,
           ProviderCallLog,
           ProviderReference,
           ProviderRefKind,
           ReconciliationMismatch,
           ReconciliationRun,
)
from webapp.models.payout import (
    PAYOUT_GATEWAYS,
    Payout,
    PayoutAccount,
    PayoutEvent,
    PayoutStatus,
)
from webapp.models.sms import SmsMessage, SmsStatus
from webapp.models.user import ADMIN_ROLE_LABELS, AdminRole, Role, User
from webapp.models.utility_account import UtilityAccount

__all__ = ["ADMIN_ROLE_LABELS", "Account", "AccountKind", "AdminAlert", "AdminRole", "AuditEntry", "Automation",
           "AutomationOccurrence", "AutomationSettings", "Bill", "BillCategory", "BillPlan", "BillStatus", "BillType",
           "EmailMessage", "EmailStatus", "EntryKind", "Estate", "FundingIntent", "FundingStatus", "HouseholdMember",
           "JournalEntry", "MemberRole", "MembershipStatus", "Notification", "NotificationPreference",
           "OccurrenceStatus", "Payment", "PaymentEvent", "PaymentKind",
           "PaymentStatus", "PAYOUT_GATEWAYS", "Payout", "PayoutAccount", "PayoutEvent", "PayoutStatus",
           "PlanFrequency", "Posting", "ProviderCallLog", "ProviderRefKind", "ProviderReference",
           "ReconciliationMismatch", "ReconciliationRun", "Role", "SavedCard", "SmsMessage", "SmsStatus", "User",
           "UtilityAccount", "UtilityProvider", "VirtualAccount"]
