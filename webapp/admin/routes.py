from flask import render_template
from sqlalchemy import select

from webapp.admin import bp
from webapp.admin.permissions import Right, needs
from webapp.admin.scope import visible_estates
from webapp.extensions import db
from webapp.models import Role, User


@bp.route("/")
@needs(Right.READ)
def index():
    estates = visible_estates()
    estate_ids = [e.id for e in estates]
    residents = db.session.scalars(
        select(User)
        .where(User.estate_id.in_(estate_ids), User.role == Role.RESIDENT.value)
        .order_by(User.full_name)
    ).all()
    return render_template("admin/index.html", estates=estates, residents=residents)
