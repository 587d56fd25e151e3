"""vocabulary checks: clip status, QC decision, annotation change, label source

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02

The first revision after release. Adds one CHECK constraint per closed-vocabulary column (the
StrEnums of ``avel_annotate.domain.vocab``). Before adding them it looks for stored values
outside the vocabulary and refuses, naming table, column, values and row counts, so an upgrade
never fails half-way on a constraint (and changes nothing). The vocabularies are spelled out here,
not imported, so later edits of the enums cannot change what this revision did. Downgrade drops
the constraints; no data is touched either way.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from avel_annotate.errors import StoreError

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CHECKS = (
    ("clip", "status", "status_vocabulary",
     ("pending", "in_progress", "fetched", "failed_retryable", "failed_permanent", "skipped")),
    ("adjudication", "decision", "decision_vocabulary", ("accept", "third_pass")),
    ("annotation_revision", "change", "change_vocabulary", ("created", "updated", "deleted")),
    ("curated_label", "provenance", "provenance_vocabulary",
     ("first_pass", "agreement", "adjudication", "list")),
)  # fmt: skip


def _condition(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _refuse_values_outside_the_vocabularies() -> None:
    conn = op.get_bind()
    problems = []
    for table, column, _name, values in CHECKS:
        t = sa.table(table, sa.column(column))
        col = t.c[column]
        rows = conn.execute(
            sa.select(col, sa.func.count())
            .where(sa.or_(col.is_(None), col.not_in(values)))
            .group_by(col)
        ).all()
        problems += [f"{table}.{column} = {v!r} in {n} row(s)" for v, n in rows]
    if problems:
        raise StoreError(
            "cannot add the vocabulary checks of revision 0002: " + "; ".join(problems),
            "fix or delete those rows (nothing was changed), then run `avel db upgrade` again",
        )


def upgrade() -> None:
    _refuse_values_outside_the_vocabularies()
    for table, column, name, values in CHECKS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_check_constraint(name, _condition(column, values))


def downgrade() -> None:
    for table, _column, name, _values in CHECKS:
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_{name}"), type_="check")
