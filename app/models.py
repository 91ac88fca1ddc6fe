"""Every table model, imported so that ``SQLModel.metadata`` knows them all (Alembic)."""

from app.catalogue import models as catalogue

__all__ = ["catalogue"]
