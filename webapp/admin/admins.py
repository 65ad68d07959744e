"""The estate's admins and their roles; a manager sets another admin's role here.

The role a change needs is declared once (``Right.ROLES``: managers and the platform admin); the
user id goes through ``scoped`` (another estate's admin, or anyone who is not an estate admin, is a
404); the rules (a valid role, never the estate's last manager) are ``services.admin_roles``.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_login import current_user

from webapp.admin import bp
from webapp.admin.estate_choice import chosen_estate
from webapp.admin.permissions import Right, needs
from webapp.admin.role_forms import AdminRoleForm
from webapp.admin.scope import scoped, visible_estates
from webapp.models import ADMIN_ROLE_LABELS, AdminRole, Role, User
from webapp.services import admin_roles


def _page(estate, refused: User | None = None, refused_form: AdminRoleForm | None = None, status: int = 200):
    admins = admin_roles.estate_admins(estate.id)
    forms = {}
    for admin in admins:
        if refused is not None and admin.id == refused.id:
            forms[admin.id] = refused_form  # as it was sent, with its error
        else:
            forms[admin.id] = AdminRoleForm(formdata=None, admin_role=admin.admin_role)
    return render_template("admin/admins/index.html", estate=estate, estates=visible_estates(), admins=admins,
                           forms=forms, labels={role.value: label for role, label in ADMIN_ROLE_LABELS.items()}), status


@bp.route("/admins/")
@needs(Right.READ)
def admins_index():
    estate = chosen_estate()
    if estate is None:
        return render_template("admin/catalogue/pick_estate.html", estates=visible_estates(),
                               action=url_for("admin.admins_index"), what="see the admins")
    return _page(estate)


@bp.route("/admins/<int:user_id>/role", methods=["POST"])
@needs(Right.ROLES)
def admin_set_role(user_id: int):
    admin = scoped(User, user_id)  # 404 outside the admin's estates
    if admin.role != Role.ESTATE_ADMIN:
        abort(404)
    estate = admin.estate
    form = AdminRoleForm()
    if not form.validate_on_submit():
        return _page(estate, admin, form, 422)
    try:
        admin_roles.set_admin_role(estate.id, admin.id, form.admin_role.data)
    except admin_roles.RoleRefused as exc:
        form.admin_role.errors = [*form.admin_role.errors, str(exc)]
        return _page(estate, admin, form, 422)
    label = ADMIN_ROLE_LABELS[AdminRole(form.admin_role.data)].lower()
    flash(f"{admin.full_name} is now {label}.", "success")
    return redirect(url_for("admin.admins_index", estate=estate.id if current_user.is_platform_admin else None))
