"""catalogue

Revision ID: 0001
Revises:
Create Date: 2026-11-21 04:38:18.255066
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel.sql.sqltypes
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "catalogue_meta",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("value", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_catalogue_meta")),
    )
    op.create_table(
        "equipment",
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "synonyms",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_equipment")),
    )
    with op.batch_alter_table("equipment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_equipment_name"), ["name"], unique=False)

    op.create_table(
        "exercise",
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("loading_type", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("level", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("laterality", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("needs_equipment", sa.Boolean(), nullable=False),
        sa.Column("achilles_tier", sa.Integer(), nullable=True),
        sa.Column("achilles_body_weights", sa.Float(), nullable=True),
        sa.Column(
            "achilles_sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("search_text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "synonyms",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "steps",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "dose",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "cautions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_exercise")),
    )
    with op.batch_alter_table("exercise", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_exercise_achilles_tier"), ["achilles_tier"], unique=False)
        batch_op.create_index(batch_op.f("ix_exercise_laterality"), ["laterality"], unique=False)
        batch_op.create_index(batch_op.f("ix_exercise_level"), ["level"], unique=False)
        batch_op.create_index(batch_op.f("ix_exercise_loading_type"), ["loading_type"], unique=False)
        batch_op.create_index(batch_op.f("ix_exercise_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_exercise_needs_equipment"), ["needs_equipment"], unique=False)

    op.create_table(
        "injury",
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("parent_slug", sa.String(length=80), nullable=True),
        sa.Column("body_region", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("search_text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "structures",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "synonyms",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "notes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["parent_slug"],
            ["injury.slug"],
            name=op.f("fk_injury_parent_slug_injury"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_injury")),
    )
    with op.batch_alter_table("injury", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_injury_name"), ["name"], unique=False)
        batch_op.create_index(batch_op.f("ix_injury_parent_slug"), ["parent_slug"], unique=False)

    op.create_table(
        "muscle",
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("group_slug", sa.String(length=80), nullable=True),
        sa.Column("body_region", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("key_for_achilles", sa.Boolean(), nullable=False),
        sa.Column("search_text", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "synonyms",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "actions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "weakness_effects",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "tightness_effects",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["group_slug"],
            ["muscle.slug"],
            name=op.f("fk_muscle_group_slug_muscle"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_muscle")),
    )
    with op.batch_alter_table("muscle", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_muscle_body_region"), ["body_region"], unique=False)
        batch_op.create_index(batch_op.f("ix_muscle_group_slug"), ["group_slug"], unique=False)
        batch_op.create_index(batch_op.f("ix_muscle_key_for_achilles"), ["key_for_achilles"], unique=False)
        batch_op.create_index(batch_op.f("ix_muscle_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_muscle_position"), ["position"], unique=False)

    op.create_table(
        "protocol",
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("summary", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("frequency", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("duration_weeks", sa.Integer(), nullable=True),
        sa.Column(
            "pain_rules",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "stages",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "outcomes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "cautions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_protocol")),
    )
    with op.batch_alter_table("protocol", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_protocol_kind"), ["kind"], unique=False)

    op.create_table(
        "running_phase",
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("part_of", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "synonyms",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_running_phase")),
    )
    with op.batch_alter_table("running_phase", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_running_phase_position"), ["position"], unique=False)

    op.create_table(
        "source",
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("citation", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("file", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("evidence_section", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_source")),
    )
    op.create_table(
        "structure",
        sa.Column("slug", sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=120), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("body_region", sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
        sa.Column("description", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("function", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("attaches_to", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column(
            "muscles",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "synonyms",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "facts",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "loads",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_structure")),
    )
    op.create_table(
        "exercise_equipment",
        sa.Column("exercise_slug", sa.String(length=80), nullable=False),
        sa.Column("equipment_slug", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["equipment_slug"],
            ["equipment.slug"],
            name=op.f("fk_exercise_equipment_equipment_slug_equipment"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["exercise_slug"],
            ["exercise.slug"],
            name=op.f("fk_exercise_equipment_exercise_slug_exercise"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("exercise_slug", "equipment_slug", name=op.f("pk_exercise_equipment")),
    )
    op.create_table(
        "exercise_muscle",
        sa.Column("exercise_slug", sa.String(length=80), nullable=False),
        sa.Column("muscle_slug", sa.String(length=80), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["exercise_slug"],
            ["exercise.slug"],
            name=op.f("fk_exercise_muscle_exercise_slug_exercise"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["muscle_slug"],
            ["muscle.slug"],
            name=op.f("fk_exercise_muscle_muscle_slug_muscle"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("exercise_slug", "muscle_slug", name=op.f("pk_exercise_muscle")),
    )
    op.create_table(
        "injury_exercise",
        sa.Column("injury_slug", sa.String(length=80), nullable=False),
        sa.Column("exercise_slug", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["exercise_slug"],
            ["exercise.slug"],
            name=op.f("fk_injury_exercise_exercise_slug_exercise"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["injury_slug"],
            ["injury.slug"],
            name=op.f("fk_injury_exercise_injury_slug_injury"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("injury_slug", "exercise_slug", name=op.f("pk_injury_exercise")),
    )
    op.create_table(
        "injury_muscle",
        sa.Column("injury_slug", sa.String(length=80), nullable=False),
        sa.Column("muscle_slug", sa.String(length=80), nullable=False),
        sa.ForeignKeyConstraint(
            ["injury_slug"],
            ["injury.slug"],
            name=op.f("fk_injury_muscle_injury_slug_injury"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["muscle_slug"],
            ["muscle.slug"],
            name=op.f("fk_injury_muscle_muscle_slug_muscle"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("injury_slug", "muscle_slug", name=op.f("pk_injury_muscle")),
    )
    op.create_table(
        "muscle_phase",
        sa.Column("muscle_slug", sa.String(length=80), nullable=False),
        sa.Column("phase_slug", sa.String(length=80), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.ForeignKeyConstraint(
            ["muscle_slug"],
            ["muscle.slug"],
            name=op.f("fk_muscle_phase_muscle_slug_muscle"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["phase_slug"],
            ["running_phase.slug"],
            name=op.f("fk_muscle_phase_phase_slug_running_phase"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("muscle_slug", "phase_slug", name=op.f("pk_muscle_phase")),
    )
    op.create_table(
        "progression",
        sa.Column("easier_slug", sa.String(length=80), nullable=False),
        sa.Column("harder_slug", sa.String(length=80), nullable=False),
        sa.Column("progress_when", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("regress_when", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column(
            "sources",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["easier_slug"],
            ["exercise.slug"],
            name=op.f("fk_progression_easier_slug_exercise"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["harder_slug"],
            ["exercise.slug"],
            name=op.f("fk_progression_harder_slug_exercise"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("easier_slug", "harder_slug", name=op.f("pk_progression")),
    )


def downgrade() -> None:

    op.drop_table("progression")
    op.drop_table("muscle_phase")
    op.drop_table("injury_muscle")
    op.drop_table("injury_exercise")
    op.drop_table("exercise_muscle")
    op.drop_table("exercise_equipment")
    op.drop_table("structure")
    op.drop_table("source")
    with op.batch_alter_table("running_phase", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_running_phase_position"))

    op.drop_table("running_phase")
    with op.batch_alter_table("protocol", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_protocol_kind"))

    op.drop_table("protocol")
    with op.batch_alter_table("muscle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_muscle_position"))
        batch_op.drop_index(batch_op.f("ix_muscle_kind"))
        batch_op.drop_index(batch_op.f("ix_muscle_key_for_achilles"))
        batch_op.drop_index(batch_op.f("ix_muscle_group_slug"))
        batch_op.drop_index(batch_op.f("ix_muscle_body_region"))

    op.drop_table("muscle")
    with op.batch_alter_table("injury", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_injury_parent_slug"))
        batch_op.drop_index(batch_op.f("ix_injury_name"))

    op.drop_table("injury")
    with op.batch_alter_table("exercise", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_exercise_needs_equipment"))
        batch_op.drop_index(batch_op.f("ix_exercise_name"))
        batch_op.drop_index(batch_op.f("ix_exercise_loading_type"))
        batch_op.drop_index(batch_op.f("ix_exercise_level"))
        batch_op.drop_index(batch_op.f("ix_exercise_laterality"))
        batch_op.drop_index(batch_op.f("ix_exercise_achilles_tier"))

    op.drop_table("exercise")
    with op.batch_alter_table("equipment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_equipment_name"))

    op.drop_table("equipment")
    op.drop_table("catalogue_meta")
