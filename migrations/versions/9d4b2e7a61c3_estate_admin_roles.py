"""Admin roles within an estate, and the role an audit entry's actor acted under

- ``users.admin_role``: an estate admin's role in their estate (manager, finance or viewer); NULL
  for residents and platform admins (CHECK ``admin_role_matches_role``).
- ``audit_entries.actor_role``: the role the signed-in actor acted under (an estate admin's admin
  role, ``platform_admin`` or ``resident``); NULL for the system's own actions.

Existing rows: every estate admin becomes a manager (they could do everything until now); past
audit entries keep no role (what their actors acted under was never recorded).

Revision ID: 9d4b2e7a61c3
Revises: b329e0007400
Create Date: 2026-12-03 12:55:00.000000

"""
import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision = '9d4b2e7a61c3'
down_revision = 'b329e0007400'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('admin_role', sa.String(length=10), nullable=True))
    op.execute("UPDATE users SET admin_role = 'manager' WHERE role = 'estate_admin'")
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_check_constraint(
            batch_op.f('ck_users_admin_role_matches_role'),
            "(role = 'estate_admin' AND admin_role IN ('manager', 'finance', 'viewer'))"
            " OR (role <> 'estate_admin' AND admin_role IS NULL)")
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_role', sa.String(length=20), nullable=True))


def downgrade():
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_column('actor_role')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_users_admin_role_matches_role'), type_='check')
        batch_op.drop_column('admin_role')
