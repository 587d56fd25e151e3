"""initial schema

Revision ID: 0001
Revises: 
Create Date: (generated)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('category',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('group_name', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_category')),
    sa.UniqueConstraint('name', name=op.f('uq_category_name'))
    )
    op.create_table('ls_project',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ls_url', sa.String(length=300), nullable=False),
    sa.Column('ls_project_id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('label_config_sha256', sa.String(length=64), nullable=False),
    sa.Column('storage_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ls_project')),
    sa.UniqueConstraint('ls_url', 'ls_project_id', name=op.f('uq_ls_project_ls_url_ls_project_id'))
    )
    op.create_table('model_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('variant', sa.String(length=32), nullable=True),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('config', sa.Text(), nullable=False),
    sa.Column('categories', sa.Text(), nullable=False),
    sa.Column('metrics', sa.Text(), nullable=True),
    sa.Column('data_snapshot', sa.Text(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('is_default', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['parent_id'], ['model_version.id'], name=op.f('fk_model_version_parent_id_model_version')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_version')),
    sa.UniqueConstraint('name', name=op.f('uq_model_version_name'))
    )
    op.create_table('clip',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clip_id', sa.String(length=32), nullable=False),
    sa.Column('ytid', sa.String(length=16), nullable=False),
    sa.Column('start_s', sa.Integer(), nullable=False),
    sa.Column('source_format', sa.String(length=32), nullable=False),
    sa.Column('source_file', sa.String(length=500), nullable=False),
    sa.Column('source_line', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('list_segments', sa.String(length=10), nullable=True),
    sa.Column('split', sa.String(length=8), nullable=True),
    sa.Column('split_source', sa.String(length=16), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=True),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(), nullable=True),
    sa.Column('error_class', sa.String(length=40), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('media_path', sa.String(length=500), nullable=True),
    sa.Column('wav_path', sa.String(length=500), nullable=True),
    sa.Column('duration_s', sa.Float(), nullable=True),
    sa.Column('source_duration_s', sa.Float(), nullable=True),
    sa.Column('is_short', sa.Boolean(), nullable=False),
    sa.Column('media_bytes', sa.BigInteger(), nullable=True),
    sa.Column('wav_bytes', sa.BigInteger(), nullable=True),
    sa.Column('media_sha256', sa.String(length=64), nullable=True),
    sa.Column('wav_sha256', sa.String(length=64), nullable=True),
    sa.Column('fetched_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_clip_category_id_category')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_clip')),
    sa.UniqueConstraint('clip_id', name=op.f('uq_clip_clip_id')),
    sa.UniqueConstraint('ytid', 'start_s', name=op.f('uq_clip_ytid_start_s'))
    )
    with op.batch_alter_table('clip', schema=None) as batch_op:
        batch_op.create_index('ix_clip_split', ['split'], unique=False)
        batch_op.create_index('ix_clip_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)

    op.create_table('curated_label',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clip_id', sa.Integer(), nullable=False),
    sa.Column('segments', sa.String(length=10), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('provenance', sa.String(length=32), nullable=False),
    sa.Column('annotation_ids', sa.Text(), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_curated_label_category_id_category')),
    sa.ForeignKeyConstraint(['clip_id'], ['clip.id'], name=op.f('fk_curated_label_clip_id_clip'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_curated_label')),
    sa.UniqueConstraint('clip_id', name=op.f('uq_curated_label_clip_id'))
    )
    op.create_table('feature_file',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clip_id', sa.Integer(), nullable=False),
    sa.Column('extractor', sa.String(length=64), nullable=False),
    sa.Column('path', sa.String(length=500), nullable=False),
    sa.Column('dtype', sa.String(length=16), nullable=False),
    sa.Column('is_random', sa.Boolean(), nullable=False),
    sa.Column('weights_sha256', sa.String(length=200), nullable=True),
    sa.Column('provenance', sa.Text(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clip_id'], ['clip.id'], name=op.f('fk_feature_file_clip_id_clip'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feature_file')),
    sa.UniqueConstraint('clip_id', 'extractor', name=op.f('uq_feature_file_clip_id_extractor'))
    )
    with op.batch_alter_table('feature_file', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feature_file_clip_id'), ['clip_id'], unique=False)

    op.create_table('list_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clip_id', sa.Integer(), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=False),
    sa.Column('start_s', sa.Integer(), nullable=False),
    sa.Column('end_s', sa.Integer(), nullable=False),
    sa.Column('quality', sa.String(length=40), nullable=True),
    sa.Column('source_line', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_list_event_category_id_category')),
    sa.ForeignKeyConstraint(['clip_id'], ['clip.id'], name=op.f('fk_list_event_clip_id_clip'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_list_event')),
    sa.UniqueConstraint('clip_id', 'category_id', 'start_s', 'end_s', name=op.f('uq_list_event_clip_id_category_id_start_s_end_s'))
    )
    with op.batch_alter_table('list_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_list_event_clip_id'), ['clip_id'], unique=False)

    op.create_table('ls_task',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('clip_id', sa.Integer(), nullable=False),
    sa.Column('ls_task_id', sa.Integer(), nullable=False),
    sa.Column('model_version_id', sa.Integer(), nullable=True),
    sa.Column('pushed_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clip_id'], ['clip.id'], name=op.f('fk_ls_task_clip_id_clip'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_version.id'], name=op.f('fk_ls_task_model_version_id_model_version')),
    sa.ForeignKeyConstraint(['project_id'], ['ls_project.id'], name=op.f('fk_ls_task_project_id_ls_project'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ls_task')),
    sa.UniqueConstraint('project_id', 'clip_id', name=op.f('uq_ls_task_project_id_clip_id')),
    sa.UniqueConstraint('project_id', 'ls_task_id', name=op.f('uq_ls_task_project_id_ls_task_id'))
    )
    with op.batch_alter_table('ls_task', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ls_task_clip_id'), ['clip_id'], unique=False)

    op.create_table('prediction',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clip_id', sa.Integer(), nullable=False),
    sa.Column('model_version_id', sa.Integer(), nullable=False),
    sa.Column('event_probs', sa.Text(), nullable=False),
    sa.Column('category_probs', sa.Text(), nullable=False),
    sa.Column('segments', sa.String(length=10), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_prediction_category_id_category')),
    sa.ForeignKeyConstraint(['clip_id'], ['clip.id'], name=op.f('fk_prediction_clip_id_clip'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_version.id'], name=op.f('fk_prediction_model_version_id_model_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_prediction')),
    sa.UniqueConstraint('clip_id', 'model_version_id', name=op.f('uq_prediction_clip_id_model_version_id'))
    )
    with op.batch_alter_table('prediction', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prediction_clip_id'), ['clip_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_prediction_model_version_id'), ['model_version_id'], unique=False)

    op.create_table('split_assignment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clip_id', sa.Integer(), nullable=False),
    sa.Column('split', sa.String(length=8), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=True),
    sa.Column('ratios', sa.String(length=32), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clip_id'], ['clip.id'], name=op.f('fk_split_assignment_clip_id_clip'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_split_assignment'))
    )
    with op.batch_alter_table('split_assignment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_split_assignment_clip_id'), ['clip_id'], unique=False)

    op.create_table('annotation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('clip_id', sa.Integer(), nullable=False),
    sa.Column('ls_annotation_id', sa.Integer(), nullable=False),
    sa.Column('annotator', sa.String(length=200), nullable=False),
    sa.Column('annotator_ls_id', sa.Integer(), nullable=True),
    sa.Column('round', sa.Integer(), nullable=False),
    sa.Column('segments', sa.String(length=10), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('lead_time_s', sa.Float(), nullable=True),
    sa.Column('was_cancelled', sa.Boolean(), nullable=False),
    sa.Column('ground_truth', sa.Boolean(), nullable=False),
    sa.Column('ls_created_at', sa.DateTime(), nullable=True),
    sa.Column('ls_updated_at', sa.DateTime(), nullable=True),
    sa.Column('deleted_at', sa.DateTime(), nullable=True),
    sa.Column('pulled_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_annotation_category_id_category')),
    sa.ForeignKeyConstraint(['clip_id'], ['clip.id'], name=op.f('fk_annotation_clip_id_clip'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['ls_task.id'], name=op.f('fk_annotation_task_id_ls_task'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotation')),
    sa.UniqueConstraint('task_id', 'ls_annotation_id', name=op.f('uq_annotation_task_id_ls_annotation_id'))
    )
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annotation_clip_id'), ['clip_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_annotation_task_id'), ['task_id'], unique=False)

    op.create_table('qc_draw',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.Integer(), nullable=False),
    sa.Column('clip_id', sa.Integer(), nullable=False),
    sa.Column('selected', sa.Boolean(), nullable=False),
    sa.Column('draw_run', sa.Integer(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('fraction', sa.Float(), nullable=False),
    sa.Column('drawn_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['clip_id'], ['clip.id'], name=op.f('fk_qc_draw_clip_id_clip'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['ls_task.id'], name=op.f('fk_qc_draw_task_id_ls_task'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_qc_draw')),
    sa.UniqueConstraint('task_id', name=op.f('uq_qc_draw_task_id'))
    )
    with op.batch_alter_table('qc_draw', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_qc_draw_clip_id'), ['clip_id'], unique=False)

    op.create_table('adjudication',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('clip_id', sa.Integer(), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('accepted_annotation_id', sa.Integer(), nullable=True),
    sa.Column('decided_by', sa.String(length=200), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['accepted_annotation_id'], ['annotation.id'], name=op.f('fk_adjudication_accepted_annotation_id_annotation')),
    sa.ForeignKeyConstraint(['clip_id'], ['clip.id'], name=op.f('fk_adjudication_clip_id_clip'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_adjudication'))
    )
    with op.batch_alter_table('adjudication', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_adjudication_clip_id'), ['clip_id'], unique=False)

    op.create_table('annotation_revision',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('annotation_id', sa.Integer(), nullable=False),
    sa.Column('change', sa.String(length=16), nullable=False),
    sa.Column('segments', sa.String(length=10), nullable=False),
    sa.Column('category_id', sa.Integer(), nullable=True),
    sa.Column('was_cancelled', sa.Boolean(), nullable=False),
    sa.Column('ls_updated_at', sa.DateTime(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['annotation_id'], ['annotation.id'], name=op.f('fk_annotation_revision_annotation_id_annotation'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['category_id'], ['category.id'], name=op.f('fk_annotation_revision_category_id_category')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_annotation_revision'))
    )
    with op.batch_alter_table('annotation_revision', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_annotation_revision_annotation_id'), ['annotation_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('annotation_revision', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_annotation_revision_annotation_id'))

    op.drop_table('annotation_revision')
    with op.batch_alter_table('adjudication', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_adjudication_clip_id'))

    op.drop_table('adjudication')
    with op.batch_alter_table('qc_draw', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_qc_draw_clip_id'))

    op.drop_table('qc_draw')
    with op.batch_alter_table('annotation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_annotation_task_id'))
        batch_op.drop_index(batch_op.f('ix_annotation_clip_id'))

    op.drop_table('annotation')
    with op.batch_alter_table('split_assignment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_split_assignment_clip_id'))

    op.drop_table('split_assignment')
    with op.batch_alter_table('prediction', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_prediction_model_version_id'))
        batch_op.drop_index(batch_op.f('ix_prediction_clip_id'))

    op.drop_table('prediction')
    with op.batch_alter_table('ls_task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ls_task_clip_id'))

    op.drop_table('ls_task')
    with op.batch_alter_table('list_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_list_event_clip_id'))

    op.drop_table('list_event')
    with op.batch_alter_table('feature_file', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feature_file_clip_id'))

    op.drop_table('feature_file')
    op.drop_table('curated_label')
    with op.batch_alter_table('clip', schema=None) as batch_op:
        batch_op.drop_index('ix_clip_status_next_attempt_at')
        batch_op.drop_index('ix_clip_split')

    op.drop_table('clip')
    op.drop_table('model_version')
    op.drop_table('ls_project')
    op.drop_table('category')
