from flask import render_template
from sqlalchemy import select

from ..extensions import db
from ..models import Role, User
from . import bp
from .scope import visible_estates


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
