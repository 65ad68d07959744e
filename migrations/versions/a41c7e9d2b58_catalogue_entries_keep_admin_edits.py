"""Catalogue entries remember which display fields an admin edited, so a sync keeps them

- ``utility_providers.admin_set_fields``: a JSON list naming those of "name", "biller_name" and
  "label_name" an estate admin edited on an entry that came from a provider's catalogue. A sync
  still updates everything else the provider describes (type, amounts, fee, ...) but no longer
  overwrites these.

Existing rows. The column is added with a server default of an empty list only to fill them, then
the default is dropped (the model's default is Python-side). A catalogue entry gets a field when an
audit row ``catalogue.update`` of that entry has the field in its ``after`` with exactly the value
the entry holds now: the admin's edit still stands. An edit a later sync already overwrote holds a
different value, so it is not restored; its admin can make it again. Entries added by hand stay
empty: a sync never writes them at all.

Revision ID: a41c7e9d2b58
Revises: 75602a6c3926
Create Date: 2026-12-02 23:30:00.000000

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a41c7e9d2b58'
down_revision = '75602a6c3926'
branch_labels = None
depends_on = None

_KEPT = ("name", "biller_name", "label_name")


def upgrade():
    with op.batch_alter_table('utility_providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('admin_set_fields', sa.JSON(), nullable=False, server_default='[]'))

    entries = sa.table('utility_providers', sa.column('id', sa.Integer), sa.column('origin', sa.String),
                       sa.column('admin_set_fields', sa.JSON), *(sa.column(name, sa.String) for name in _KEPT))
    audits = sa.table('audit_entries', sa.column('action', sa.String), sa.column('object_type', sa.String),
                      sa.column('object_id', sa.Integer), sa.column('after', sa.JSON))
    conn = op.get_bind()
    edits: dict[int, list[dict]] = {}
    for object_id, after in conn.execute(
        sa.select(audits.c.object_id, audits.c.after).where(
            audits.c.action == 'catalogue.update', audits.c.object_type == 'utility_provider',
            audits.c.object_id.is_not(None))
    ):
        if isinstance(after, dict):
            edits.setdefault(object_id, []).append(after)
    if edits:
        rows = conn.execute(sa.select(entries.c.id, *(entries.c[name] for name in _KEPT)).where(
            entries.c.origin == 'catalogue', entries.c.id.in_(list(edits)))).all()
        for row in rows:
            kept = [name for name in _KEPT
                    if any(name in after and after[name] == getattr(row, name) for after in edits[row.id])]
            if kept:
                conn.execute(entries.update().where(entries.c.id == row.id).values(admin_set_fields=kept))

    with op.batch_alter_table('utility_providers', schema=None) as batch_op:
        batch_op.alter_column('admin_set_fields', existing_type=sa.JSON(), existing_nullable=False,
                              server_default=None)


def downgrade():
    with op.batch_alter_table('utility_providers', schema=None) as batch_op:
        batch_op.drop_column('admin_set_fields')
