"""The plan engine: pure functions from a profile and the catalogue to a plan, and from
a week's logs to an adaptation decision. No database, no HTTP."""

from app.plans.engine.context import PlanError
from app.plans.engine.generate import generate
from app.plans.engine.model import PlanDraft, PlanKind, PlanOptions, PlanProfile

__all__ = ["PlanDraft", "PlanError", "PlanKind", "PlanOptions", "PlanProfile", "generate"]
