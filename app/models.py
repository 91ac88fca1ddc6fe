"""Every table model, imported so that ``SQLModel.metadata`` knows them all (Alembic)."""

from app.accounts import models as accounts
from app.catalogue import models as catalogue
from app.core import ratelimit

__all__ = ["accounts", "catalogue", "ratelimit"]
