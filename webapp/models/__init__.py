"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""
from .audit import AuditEntry
from .automation import Automation, AutomationOccurrence, AutomationSettings, OccurrenceStatus
from .bill import Bill, BillCategory, BillStatus, BillType
from .catalogue import UtilityProvider
from .estate import Estate
from .funding import FundingIntent, FundingStatus, SavedCard
from .ledger import Account, AccountKind, EntryKind, JournalEntry, Posting
from .notification import EmailMessage, EmailStatus, Notification, NotificationPreference
from .payment import (
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
from .user import Role, User
from .utility_account import UtilityAccount

__all__ = ["Account", "AccountKind", "AdminAlert", "AuditEntry", "Automation", "AutomationOccurrence",
           "AutomationSettings", "Bill", "BillCategory", "BillStatus", "BillType", "EmailMessage",
           "EmailStatus", "EntryKind", "Estate", "FundingIntent", "FundingStatus", "JournalEntry",
           "Notification", "NotificationPreference", "OccurrenceStatus", "Payment", "PaymentEvent",
           "PaymentKind", "PaymentStatus", "Posting", "ProviderCallLog", "ProviderRefKind", "ProviderReference",
           "ReconciliationMismatch", "ReconciliationRun", "Role", "SavedCard", "User",
           "UtilityAccount", "UtilityProvider"]
