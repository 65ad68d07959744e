"""Catalogue entries say where they came from, so a sync retires only its own

- ``utility_providers.origin``: "catalogue" (a sync of the provider's listing added it) or "admin"
  (an estate admin typed it in). A sync changes and retires only "catalogue" entries; one added by
  hand stays until its admin switches it off. Checked by ``ck_utility_providers_origin_known``.

Existing rows. The column is added with a server default of "catalogue" only to fill them, then
the default is dropped: the model has none, so code that forgets to say where an entry came from
fails at once instead of quietly making it something a sync may retire. Rows with evidence that no
sync added them become "admin":
  * an audit row ``catalogue.create`` names the entry (every admin add has written one), or
  * ``last_synced_at`` is NULL: a sync always sets it on the rows it adds, so such an entry was
    typed in (including any added before the audit log existed).
Everything else was added by a sync and stays "catalogue". Erring this way round is the safe side:
an entry wrongly marked "admin" is merely kept on offer until an admin switches it off, while one
wrongly marked "catalogue" would be switched off by the next sync, with its automations paused.

An entry now marked "admin" that an earlier sync retired was retired by the very bug this fixes.
It loses ``retired_at`` but stays switched off (``is_active`` is false), so its admin can offer
it again from the catalogue page, which refuses retired entries.

Revision ID: 75602a6c3926
Revises: 5c2d8e1f7a90
Create Date: 2026-12-02 15:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '75602a6c3926'
down_revision = '5c2d8e1f7a90'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('utility_providers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('origin', sa.String(length=10), nullable=False, server_default='catalogue'))

    op.execute("UPDATE utility_providers SET origin = 'admin' WHERE last_synced_at IS NULL OR id IN ("
               "SELECT object_id FROM audit_entries WHERE action = 'catalogue.create' "
               "AND object_type = 'utility_provider' AND object_id IS NOT NULL)")
    op.execute("UPDATE utility_providers SET retired_at = NULL WHERE origin = 'admin' AND retired_at IS NOT NULL")

    with op.batch_alter_table('utility_providers', schema=None) as batch_op:
        batch_op.alter_column('origin', existing_type=sa.String(length=10), existing_nullable=False,
                              server_default=None)
        batch_op.create_check_constraint(batch_op.f('ck_utility_providers_origin_known'),
                                         "origin IN ('catalogue', 'admin')")


def downgrade():
    # The retirements cleared above are not put back: those entries stay switched off, which is all
    # a retirement did for residents.
    with op.batch_alter_table('utility_providers', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_utility_providers_origin_known'), type_='check')
        batch_op.drop_column('origin')
