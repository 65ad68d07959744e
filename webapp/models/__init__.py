"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""
from .bill import Bill, BillCategory, BillStatus, BillType
from .catalogue import UtilityProvider
from .estate import Estate
from .funding import FundingIntent, FundingStatus, SavedCard
from .ledger import Account, AccountKind, EntryKind, JournalEntry, Posting
from .payment import AdminAlert, Payment, PaymentEvent, PaymentKind, PaymentStatus, ProviderCallLog
from .user import Role, User
from .utility_account import UtilityAccount

__all__ = ["Account", "AccountKind", "AdminAlert", "Bill", "BillCategory", "BillStatus", "BillType", "EntryKind",
           "Estate", "FundingIntent", "FundingStatus", "JournalEntry", "Payment", "PaymentEvent", "PaymentKind",
           "PaymentStatus", "Posting",
           "ProviderCallLog", "Role", "SavedCard", "User", "UtilityAccount", "UtilityProvider"]
