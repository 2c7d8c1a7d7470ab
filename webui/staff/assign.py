"""Giving a persona to trainees or a group: checks the assignment form, then stores it."""

from __future__ import annotations

from datetime import date

from flask import flash


def create(store, form, user_id: int) -> str | None:
    """Create the assignments from the form; a Chinese sentence when something is wrong."""
    persona = store.get_persona(form.get("persona_id") or "")
    if persona is None:
        return "请选择一个角色。"
    mode = form.get("mode")
    if mode not in ("practice", "exam"):
        return "请选择练习或考试。"
    pass_mark = None
    if (form.get("pass_mark") or "").strip():
        try:
            pass_mark = float(form["pass_mark"])
        except ValueError:
            pass_mark = -1
        if not 0 <= pass_mark <= 100:
            return "及格分应在 0 到 100 之间。"
    due = (form.get("due") or "").strip() or None
    if due:
        try:
            date.fromisoformat(due)
        except ValueError:
            return "截止日期格式应为 YYYY-MM-DD。"
    known = {str(u["id"]) for u in store.list_users("trainee", active_only=True)}
    trainee_ids = [t for t in form.getlist("trainee_ids") if t in known]
    group = form.get("group_name") or None
    if group and group not in store.groups():
        return "没有这个学员组。"
    if not trainee_ids and not group:
        return "请至少选择一位学员或一个学员组。"
    with store.transaction():
        for target in trainee_ids + ([None] if group else []):
            store.add_assignment(persona["persona_id"], persona["version"], mode=mode,
                                 pass_mark=pass_mark, trainee_id=int(target) if target else None,
                                 group_name=None if target else group, due=due,
                                 created_by=user_id)
    flash(f"已布置“{persona['title']}”（v{persona['version']}）给 {len(trainee_ids) + (1 if group else 0)} 个对象。")
    return None
