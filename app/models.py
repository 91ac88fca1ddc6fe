"""Every table model, imported so that ``SQLModel.metadata`` knows them all (Alembic)."""

from app.accounts import models as accounts
from app.catalogue import models as catalogue
from app.core import events, idempotency, ratelimit
from app.feeds import models as feeds
from app.plans import models as plans
from app.training import models as training
from app.webhooks import models as webhooks

__all__ = ["accounts", "catalogue", "events", "feeds", "idempotency", "plans", "ratelimit", "training", "webhooks"]
