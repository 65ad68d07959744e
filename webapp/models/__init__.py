"""SQLAlchemy models, one module per aggregate. Importing this package registers them all."""
from .estate import Estate
from .user import Role, User

__all__ = ["Estate", "Role", "User"]
