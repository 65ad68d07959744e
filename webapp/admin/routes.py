from flask import render_template
from flask_login import current_user
from sqlalchemy import select

from ..extensions import db
from ..models import Estate, Role, User
from . import bp


def visible_estates():
    """Estate admins see their own estate; platform admins see every estate."""
    query = select(Estate).order_by(Estate.name)
    if not current_user.is_platform_admin:
        query = query.where(Estate.id == current_user.estate_id)
    return db.session.scalars(query).all()


@bp.route("/")
def index():
    estates = visible_estates()
    estate_ids = [e.id for e in estates]
    residents = db.session.scalars(
        select(User)
        .where(User.estate_id.in_(estate_ids), User.role == Role.RESIDENT.value)
        .order_by(User.full_name)
    ).all()
    return render_template("admin/index.html", estates=estates, residents=residents)
