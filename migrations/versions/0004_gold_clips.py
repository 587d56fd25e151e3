"""gold clips: gold_label, gold_task, gold_answer; curated_label.provenance may be "gold"

A gold clip's labels are known (an expert pass, or an agreed/adjudicated curated label); copies
of it are mixed into first-pass pushes and their annotations are kept apart from ordinary ones
(``gold_answer``), so they never make curated labels, re-check draws or agreement pairs.
The provenance check of 0002 is widened by ``gold`` (a gold clip's curated label is its gold
label). Vocabularies are spelled out here, not imported. Downgrade refuses while gold labels
exist (it would lose them) and otherwise drops the tables and restores the 0002 check.

Revision ID: 0004
Revises: 0003
Create Date: (written by hand)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from avel_annotate.errors import StoreError

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OLD_PROVENANCES = ("first_pass", "agreement", "adjudication", "list")
NEW_PROVENANCES = (*OLD_PROVENANCES, "gold")
GOLD_SOURCES = ("expert", "curated")


def _condition(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _provenance_check(values: tuple[str, ...]) -> None:
    with op.batch_alter_table("curated_label") as batch_op:
        batch_op.drop_constraint(op.f("ck_curated_label_provenance_vocabulary"), type_="check")
        batch_op.create_check_constraint("provenance_vocabulary", _condition("provenance", values))


def upgrade() -> None:
    op.create_table(
        "gold_label",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clip_id", sa.Integer(), nullable=False),
        sa.Column("segments", sa.String(length=10), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("source_ref", sa.String(length=600), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            _condition("source", GOLD_SOURCES), name=op.f("ck_gold_label_source_vocabulary")
        ),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_gold_label_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["clip_id"],
            ["clip.id"],
            name=op.f("fk_gold_label_clip_id_clip"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gold_label")),
        sa.UniqueConstraint("clip_id", name=op.f("uq_gold_label_clip_id")),
    )
    op.create_table(
        "gold_task",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("clip_id", sa.Integer(), nullable=False),
        sa.Column("ls_task_id", sa.Integer(), nullable=True),
        sa.Column("model_version_id", sa.Integer(), nullable=True),
        sa.Column("pushed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["clip_id"], ["clip.id"], name=op.f("fk_gold_task_clip_id_clip"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["model_version_id"],
            ["model_version.id"],
            name=op.f("fk_gold_task_model_version_id_model_version"),
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["ls_project.id"],
            name=op.f("fk_gold_task_project_id_ls_project"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gold_task")),
        sa.UniqueConstraint(
            "project_id", "ls_task_id", name=op.f("uq_gold_task_project_id_ls_task_id")
        ),
    )
    op.create_index(op.f("ix_gold_task_clip_id"), "gold_task", ["clip_id"], unique=False)
    op.create_table(
        "gold_answer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gold_task_id", sa.Integer(), nullable=False),
        sa.Column("ls_annotation_id", sa.Integer(), nullable=False),
        sa.Column("annotator", sa.String(length=200), nullable=False),
        sa.Column("annotator_ls_id", sa.Integer(), nullable=True),
        sa.Column("segments", sa.String(length=10), nullable=False),
        sa.Column("category_id", sa.Integer(), nullable=True),
        sa.Column("was_cancelled", sa.Boolean(), nullable=False),
        sa.Column("lead_time_s", sa.Float(), nullable=True),
        sa.Column("ls_created_at", sa.DateTime(), nullable=True),
        sa.Column("ls_updated_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.Column("pulled_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["category_id"], ["category.id"], name=op.f("fk_gold_answer_category_id_category")
        ),
        sa.ForeignKeyConstraint(
            ["gold_task_id"],
            ["gold_task.id"],
            name=op.f("fk_gold_answer_gold_task_id_gold_task"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gold_answer")),
        sa.UniqueConstraint(
            "gold_task_id",
            "ls_annotation_id",
            name=op.f("uq_gold_answer_gold_task_id_ls_annotation_id"),
        ),
    )
    op.create_index(
        op.f("ix_gold_answer_gold_task_id"), "gold_answer", ["gold_task_id"], unique=False
    )
    _provenance_check(NEW_PROVENANCES)


def downgrade() -> None:
    conn = op.get_bind()
    gold = conn.scalar(sa.text("SELECT count(*) FROM gold_label")) or 0
    curated = conn.scalar(
        sa.text("SELECT count(*) FROM curated_label WHERE provenance = 'gold'")
    ) or 0
    if gold or curated:
        raise StoreError(
            f"cannot downgrade below 0004: {gold} gold label(s) and {curated} curated label(s) "
            "from gold would be lost",
            "remove them first with `avel annotate gold remove CLIP...`, then downgrade again",
        )
    _provenance_check(OLD_PROVENANCES)
    op.drop_index(op.f("ix_gold_answer_gold_task_id"), table_name="gold_answer")
    op.drop_table("gold_answer")
    op.drop_index(op.f("ix_gold_task_clip_id"), table_name="gold_task")
    op.drop_table("gold_task")
    op.drop_table("gold_label")
