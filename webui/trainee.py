"""The trainee's pages: home, calls (streamed caller lines), reports, progress."""

from __future__ import annotations

from flask import Blueprint, render_template

from .auth import role_required

bp = Blueprint("trainee", __name__)


@bp.route("/practice")
@role_required("trainee")
def home():
    return render_template("trainee/home.html")


@bp.route("/progress")
@role_required("trainee")
def progress():
    return render_template("trainee/home.html")
