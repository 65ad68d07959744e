"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""
from .catalogue import UtilityProvider
from .estate import Estate
from .ledger import Account, AccountKind, EntryKind, JournalEntry, Posting
from .user import Role, User

__all__ = ["Account", "AccountKind", "EntryKind", "Estate", "JournalEntry", "Posting", "Role", "User",
           "UtilityProvider"]
