from flask import Blueprint, abort, current_app, g, jsonify, request

from . import db
from .auth import login_required

bp = Blueprint("notes", __name__, url_prefix="/notes")


def _payload():
    data = request.get_json(force=True)
    title = (data.get("title") or "").strip()
    body = data.get("body") or ""
    if not title or len(body) > current_app.config["MAX_NOTE_LENGTH"]:
        abort(400)
    return title, body


@bp.get("")
@login_required
def list_notes():
    rows = db.notes_for(g.user["id"])
    return jsonify([dict(r) for r in rows])


@bp.post("")
@login_required
def create_note():
    title, body = _payload()
    note_id = db.insert_note(g.user["id"], title, body)
    return jsonify(id=note_id), 201


@bp.get("/<int:note_id>")
@login_required
def get_note(note_id):
    note = db.get_note(note_id)
    if note is None or note["owner_id"] != g.user["id"]:
        abort(404)
    return jsonify(dict(note))


@bp.put("/<int:note_id>")
@login_required
def update_note(note_id):
    note = db.get_note(note_id)
    if note is None or note["owner_id"] != g.user["id"]:
        abort(404)
    title, body = _payload()
    db.update_note(note_id, title, body)
    return jsonify(id=note_id)


@bp.delete("/<int:note_id>")
@login_required
def delete_note(note_id):
    note = db.get_note(note_id)
    if note is None:
        abort(404)
    db.delete_note(note_id)
    return "", 204
