"""Every table model, imported so that ``SQLModel.metadata`` knows them all (Alembic)."""

from app.accounts import models as accounts
from app.catalogue import models as catalogue
from app.core import idempotency, ratelimit
from app.plans import models as plans
from app.training import models as training

__all__ = ["accounts", "catalogue", "idempotency", "plans", "ratelimit", "training"]
