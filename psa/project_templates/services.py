"""The rules of templates: drafts are edited, published versions are frozen, and every copy
(new draft, duplicate, import) goes through the same export format, so a round trip loses nothing."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.exceptions import Conflict

from psa.core.audit import record_audit, snapshot
from psa.core.db import lock_row, unique_or_field_error, utcnow
from psa.core.errors import ValidationError
from psa.core.money import to_exact
from psa.extensions import db
from psa.project_templates.models import (
    ASSIGNEE_ROLES,
    VISIBILITIES,
    Template,
    TemplateCriterion,
    TemplateMilestone,
    TemplateTask,
    TemplateVersion,
)

EXPORT_FORMAT = "psa-template"
EXPORT_FORMAT_VERSION = 1
MILESTONE_FIELDS = ("name", "offset_days", "is_customer_visible", "requires_signoff", "is_first_value",
                    "fee_share_percent")
TASK_FIELDS = ("name", "offset_days", "duration_days", "estimated_minutes", "assignee_role", "visibility")
CRITERION_FIELDS = ("outcome", "metric", "baseline", "target", "due_offset_days")
#: 10,000 hours: more than any one task of a template should carry.
MAX_ESTIMATED_MINUTES = 600_000


# --- loading -------------------------------------------------------------------------------------


def load_version(version_id: int, fresh: bool = False) -> TemplateVersion | None:
    """A version with its milestones, tasks, predecessors and criteria, in a fixed number of queries;
    `fresh` reloads what the session already holds (after the version was locked)."""
    stmt = (
        sa.select(TemplateVersion)
        .where(TemplateVersion.id == version_id)
        .options(
            selectinload(TemplateVersion.milestones).selectinload(TemplateMilestone.tasks)
            .selectinload(TemplateTask.predecessors),
            selectinload(TemplateVersion.criteria),
        )
    )
    return db.session.scalar(stmt.execution_options(populate_existing=True) if fresh else stmt)


def latest_versions():
    """Each template with its newest version and newest published version, for the list page."""
    versions = db.session.scalars(sa.select(TemplateVersion).order_by(TemplateVersion.number)).all()
    templates = db.session.scalars(sa.select(Template).order_by(sa.func.lower(Template.name))).all()
    latest, published = {}, {}
    for version in versions:
        latest[version.template_id] = version
        if version.state == "published":
            published[version.template_id] = version
    return [(t, latest.get(t.id), published.get(t.id)) for t in templates]


def published_versions():
    """(version id, label) of the newest published version of every template, for the project form."""
    newest = (sa.select(TemplateVersion.template_id, sa.func.max(TemplateVersion.number).label("number"))
              .where(TemplateVersion.state == "published").group_by(TemplateVersion.template_id).subquery())
    rows = db.session.execute(
        sa.select(TemplateVersion.id, Template.name, TemplateVersion.number)
        .join(Template, Template.id == TemplateVersion.template_id)
        .join(newest, sa.and_(newest.c.template_id == TemplateVersion.template_id,
                              newest.c.number == TemplateVersion.number))
        .order_by(Template.name)
    ).all()
    return [(row.id, f"{row.name} (v{row.number})") for row in rows]


def version_roles(version_ids: list[int]) -> dict[int, list[str]]:
    """The assignee roles each version's tasks name, in one query (the project form shows a field per role)."""
    if not version_ids:
        return {}
    rows = db.session.execute(
        sa.select(TemplateMilestone.version_id, TemplateTask.assignee_role).distinct()
        .join(TemplateMilestone, TemplateMilestone.id == TemplateTask.milestone_id)
        .where(TemplateMilestone.version_id.in_(version_ids))).all()
    roles: dict[int, list[str]] = {}
    for version_id, role in rows:
        roles.setdefault(version_id, []).append(role)
    return {version_id: sorted(found) for version_id, found in roles.items()}


def draft_of(template: Template) -> TemplateVersion | None:
    return db.session.scalar(sa.select(TemplateVersion).where(
        TemplateVersion.template_id == template.id, TemplateVersion.state == "draft")
        .execution_options(populate_existing=True))


def _frozen(version: TemplateVersion) -> Conflict:
    return Conflict(f"Version {version.number} is published and frozen; create a new draft to change it.")


def _lock_draft(version_id: int | None) -> TemplateVersion:
    """The version, its row locked until commit and re-read under the lock; Conflict unless it is a draft.
    Every write to a draft's content starts here, and so does publishing, so a version is frozen by what
    the database says when the write happens, not by a check read earlier in the request."""
    version = lock_row(TemplateVersion, version_id) if version_id is not None else None
    if version is None:
        raise Conflict("This template version no longer exists; nothing was changed.")
    if not version.is_draft:
        raise _frozen(version)
    return version


def _still_there(item):
    """A milestone, task or criterion re-read after its version was locked; Conflict if it was deleted meanwhile."""
    model = type(item)
    fresh = db.session.scalar(sa.select(model).where(model.id == item.id).execution_options(populate_existing=True))
    if fresh is None:
        raise Conflict("That item was deleted meanwhile; reload the page. Nothing was changed.")
    return fresh


#: The template's name is unique: a name taken by a concurrent request is a message at the field.
_NAME_TAKEN = {"uq_templates_name": ("name", "A template with this name already exists.")}


# --- templates and versions ----------------------------------------------------------------------


def _check_name(name: str, template: Template | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "Give the template a name."})
    if len(name) > 120:
        raise ValidationError({"name": "Use at most 120 characters."})
    clash = db.session.scalar(sa.select(Template).where(sa.func.lower(Template.name) == name.lower()))
    if clash is not None and clash is not template:
        raise ValidationError({"name": "A template with this name already exists."})
    return name


#: The largest target time to value, in calendar days (ten years).
MAX_TARGET_TTV_DAYS = 3650


def _check_ttv(target_ttv_days) -> int | None:
    if target_ttv_days is None or target_ttv_days == "":
        return None
    return _int(target_ttv_days, "target_ttv_days", 1,
                f"Enter a number of days from 1 to {MAX_TARGET_TTV_DAYS}, or leave it empty.", high=MAX_TARGET_TTV_DAYS)


def create_template(actor, *, name: str, description: str = "", target_ttv_days: int | None = None) -> TemplateVersion:
    """A new template with an empty draft, version 1."""
    target_ttv_days = _check_ttv(target_ttv_days)
    template = Template(name=_check_name(name), description=(description or "").strip(),
                        target_ttv_days=target_ttv_days)
    version = TemplateVersion(template=template, number=1, state="draft", target_ttv_days=target_ttv_days)
    with unique_or_field_error(_NAME_TAKEN):
        db.session.add_all([template, version])
    record_audit(actor, "template.created", template, after={"name": template.name})
    return version


def update_version_details(actor, version: TemplateVersion, *, name: str, description: str,
                           target_ttv_days: int | None, notes: str) -> TemplateVersion:
    """Save a draft's details: the template's name, description and target time to value (the template's, which
    the TTV report compares with; the version keeps a copy for its export), and the version's notes. A change of
    target is audited."""
    version = _lock_draft(version.id)
    target_ttv_days = _check_ttv(target_ttv_days)
    name = _check_name(name, version.template)
    old_target = version.template.target_ttv_days
    with unique_or_field_error(_NAME_TAKEN):
        version.template.name = name
        version.template.description = (description or "").strip()
        version.template.target_ttv_days = target_ttv_days
        version.target_ttv_days = target_ttv_days
        version.notes = (notes or "").strip()
    if target_ttv_days != old_target:
        record_audit(actor, "template.target_changed", version.template, {"target_ttv_days": old_target},
                     {"target_ttv_days": target_ttv_days})
    return version


def publish_version(actor, version: TemplateVersion) -> TemplateVersion:
    """Freeze a draft. It needs a milestone, fee shares summing to 100 %, and at most one first-value milestone.
    The version is locked first, so its content is judged as it is when it freezes: an edit sent at the
    same time lands either before (and is judged) or after (and is refused)."""
    _lock_draft(version.id)
    version = load_version(version.id, fresh=True)
    errors = publish_problems(version)
    if errors:
        raise ValidationError({"publish": " ".join(errors)})
    values = {"state": "published", "published_at": utcnow(), "published_by_id": getattr(actor, "id", None)}
    changed = db.session.execute(
        sa.update(TemplateVersion).where(TemplateVersion.id == version.id, TemplateVersion.state == "draft")
        .values(**values).execution_options(synchronize_session=False)).rowcount
    if changed != 1:
        raise _frozen(version)
    for name, value in values.items():
        set_committed_value(version, name, value)
    record_audit(actor, "template.published", version.template, after={"version": version.number})
    return version


def publish_problems(version: TemplateVersion) -> list[str]:
    """What stands in the way of publishing a loaded version (shown on the builder before publishing)."""
    problems = []
    if not version.milestones:
        problems.append("Add at least one milestone.")
    total = sum((m.fee_share_percent for m in version.milestones), Decimal("0"))
    if version.milestones and total != Decimal("100"):
        problems.append(f"Fee shares sum to {total:g} %, not 100 %.")
    first_value = [m.name for m in version.milestones if m.is_first_value]
    if len(first_value) > 1:
        problems.append(f"Only one milestone can be the first value; now: {', '.join(first_value)}.")
    return problems


def new_draft(actor, template: Template) -> TemplateVersion:
    """The template's draft: the existing one, or a copy of its newest version numbered one higher. The
    template's row is locked first, so of two requests at once one copies and the other gets its draft."""
    template = lock_row(Template, template.id)
    if template is None:
        raise Conflict("This template no longer exists; nothing was changed.")
    existing = draft_of(template)
    if existing is not None:
        return existing
    newest = db.session.scalar(sa.select(TemplateVersion).where(TemplateVersion.template_id == template.id)
                               .order_by(TemplateVersion.number.desc()).limit(1))
    data = export_version(load_version(newest.id))
    draft = TemplateVersion(template=template, number=newest.number + 1, state="draft")
    db.session.add(draft)
    _fill_version(draft, data)
    record_audit(actor, "template.draft_created", template, after={"version": draft.number})
    return draft


def duplicate_template(actor, template: Template, name: str) -> TemplateVersion:
    """A new template whose draft v1 copies the newest version of this one."""
    newest = db.session.scalar(sa.select(TemplateVersion).where(TemplateVersion.template_id == template.id)
                               .order_by(TemplateVersion.number.desc()).limit(1))
    data = export_version(load_version(newest.id))
    copy = Template(name=_check_name(name), description=template.description, target_ttv_days=template.target_ttv_days)
    draft = TemplateVersion(template=copy, number=1, state="draft")
    with unique_or_field_error(_NAME_TAKEN):
        db.session.add_all([copy, draft])
    _fill_version(draft, data)
    record_audit(actor, "template.duplicated", copy, after={"from": template.name})
    return draft


# --- milestones, tasks, criteria of a draft -------------------------------------------------------


def _int(value, field: str, low: int, message: str, high: int = 10000) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValidationError({field: message}) from None
    if number < low or number > high:
        raise ValidationError({field: message})
    return number


def _text(value) -> str:
    """A form gives strings; imported JSON may give anything (a number reads as text, a list as nothing)."""
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else ""


def _clean_milestone(fields: dict) -> dict:
    name = _text(fields.get("name")).strip()
    if not name or len(name) > 200:
        raise ValidationError({"name": "Give the milestone a name of at most 200 characters."})
    share = fields.get("fee_share_percent", 0) or 0
    # a JSON import carries 33.33 as a float: its shortest text is what was written
    share = to_exact(str(share) if isinstance(share, float) else share, "fee_share_percent", high=Decimal(100),
                     range_message="Enter a percentage from 0 to 100.")
    return {
        "name": name,
        "offset_days": _int(fields.get("offset_days", 0), "offset_days", 0, "Enter 0 or more working days."),
        "is_customer_visible": bool(fields.get("is_customer_visible", True)),
        "requires_signoff": bool(fields.get("requires_signoff", False)),
        "is_first_value": bool(fields.get("is_first_value", False)),
        "fee_share_percent": share,
    }


def clean_task_fields(fields: dict) -> dict:
    """A task's fields checked and normalised; shared by template tasks and tasks added to a project."""
    name = _text(fields.get("name")).strip()
    if not name or len(name) > 200:
        raise ValidationError({"name": "Give the task a name of at most 200 characters."})
    role = fields.get("assignee_role", "consultant")
    if role not in ASSIGNEE_ROLES:
        raise ValidationError({"assignee_role": f"Choose one of {', '.join(ASSIGNEE_ROLES)}."})
    visibility = fields.get("visibility", "internal")
    if visibility not in VISIBILITIES:
        raise ValidationError({"visibility": "Choose internal or shared."})
    return {
        "name": name,
        "offset_days": _int(fields.get("offset_days", 0), "offset_days", 0, "Enter 0 or more working days."),
        "duration_days": _int(fields.get("duration_days", 1), "duration_days", 1, "Enter 1 or more working days."),
        "estimated_minutes": _int(fields.get("estimated_minutes", 0), "estimated_minutes", 0,
                                  "Enter 0 or more minutes of estimated effort.", high=MAX_ESTIMATED_MINUTES),
        "assignee_role": role,
        "visibility": visibility,
    }


def _clean_criterion(fields: dict) -> dict:
    outcome = _text(fields.get("outcome")).strip()
    if not outcome or len(outcome) > 200:
        raise ValidationError({"outcome": "Describe the outcome in at most 200 characters."})
    due = fields.get("due_offset_days")
    return {
        "outcome": outcome,
        "metric": _text(fields.get("metric")).strip()[:200],
        "baseline": _text(fields.get("baseline")).strip()[:120],
        "target": _text(fields.get("target")).strip()[:120],
        "due_offset_days": None if due in (None, "") else _int(due, "due_offset_days", 0, "Enter 0 or more days."),
    }


def _next_position(model, parent_column, parent_id) -> int:
    return (db.session.scalar(sa.select(sa.func.max(model.position)).where(parent_column == parent_id)) or 0) + 1


def _check_first_value(version_id: int, milestone: TemplateMilestone | None, wants: bool) -> None:
    if not wants:
        return
    other = db.session.scalar(sa.select(TemplateMilestone.name).where(
        TemplateMilestone.version_id == version_id, TemplateMilestone.is_first_value.is_(True),
        TemplateMilestone.id != (milestone.id if milestone else -1)))
    if other is not None:
        raise ValidationError({"is_first_value": f"“{other}” is already the first-value milestone."})


def add_milestone(actor, version: TemplateVersion, **fields) -> TemplateMilestone:
    version = _lock_draft(version.id)
    clean = _clean_milestone(fields)
    _check_first_value(version.id, None, clean["is_first_value"])
    milestone = TemplateMilestone(version_id=version.id, position=_next_position(
        TemplateMilestone, TemplateMilestone.version_id, version.id), **clean)
    db.session.add(milestone)
    db.session.flush()
    return milestone


def update_milestone(actor, milestone: TemplateMilestone, **fields) -> TemplateMilestone:
    version = _lock_draft(milestone.version_id)
    milestone = _still_there(milestone)
    clean = _clean_milestone(fields)
    _check_first_value(version.id, milestone, clean["is_first_value"])
    for name, value in clean.items():
        setattr(milestone, name, value)
    db.session.flush()
    return milestone


def delete_milestone(actor, milestone: TemplateMilestone) -> None:
    _lock_draft(milestone.version_id)
    db.session.delete(_still_there(milestone))
    db.session.flush()


def add_task(actor, milestone: TemplateMilestone, **fields) -> TemplateTask:
    _lock_draft(milestone.version_id)
    milestone = _still_there(milestone)
    task = TemplateTask(milestone_id=milestone.id, position=_next_position(
        TemplateTask, TemplateTask.milestone_id, milestone.id), **clean_task_fields(fields))
    db.session.add(task)
    db.session.flush()
    return task


def task_version_id(task: TemplateTask) -> int:
    return db.session.scalar(sa.select(TemplateMilestone.version_id).where(TemplateMilestone.id == task.milestone_id))


def update_task(actor, task: TemplateTask, **fields) -> TemplateTask:
    _lock_draft(task_version_id(task))
    task = _still_there(task)
    for name, value in clean_task_fields(fields).items():
        setattr(task, name, value)
    db.session.flush()
    return task


def save_task(actor, task: TemplateTask, predecessor_ids: list[int], **fields) -> TemplateTask:
    """The builder's one task form: the task's fields and its predecessors, in the caller's transaction
    (refused as a whole when either is refused)."""
    update_task(actor, task, **fields)
    return set_predecessors(actor, task, predecessor_ids)


def add_task_with_predecessors(actor, milestone: TemplateMilestone, predecessor_ids: list[int],
                               **fields) -> TemplateTask:
    """A new task with its predecessors chosen in the same form."""
    task = add_task(actor, milestone, **fields)
    return set_predecessors(actor, task, predecessor_ids) if predecessor_ids else task


def delete_task(actor, task: TemplateTask) -> None:
    _lock_draft(task_version_id(task))
    db.session.delete(_still_there(task))
    db.session.flush()


def set_predecessors(actor, task: TemplateTask, predecessor_ids: list[int]) -> TemplateTask:
    """Replace a task's predecessors: tasks of the same version, without making a cycle."""
    version_id = task_version_id(task)
    _lock_draft(version_id)
    task = _still_there(task)
    rows = db.session.execute(
        sa.select(TemplateTask.id, TemplateTask.name, TemplateMilestone.version_id)
        .join(TemplateMilestone, TemplateMilestone.id == TemplateTask.milestone_id)
        .where(TemplateMilestone.version_id == version_id)
    ).all()
    names = {row.id: row.name for row in rows}
    wanted = set(predecessor_ids)
    foreign = wanted - set(names)
    if foreign:
        raise ValidationError({"predecessors": "A predecessor must be a task of this template version."})
    if task.id in wanted:
        raise ValidationError({"predecessors": f"“{task.name}” cannot be its own predecessor."})
    from psa.project_templates.models import template_task_dependencies as deps

    graph: dict[int, set[int]] = {}
    for task_id, predecessor_id in db.session.execute(
        sa.select(deps.c.task_id, deps.c.predecessor_id).where(deps.c.task_id.in_(list(names)))
    ):
        graph.setdefault(task_id, set()).add(predecessor_id)
    graph[task.id] = wanted
    cycle = find_cycle(graph, task.id)
    if cycle:
        path = " → ".join(f"“{names[i]}”" for i in cycle)
        raise ValidationError({"predecessors": f"That would make a cycle: {path}."})
    db.session.execute(sa.delete(deps).where(deps.c.task_id == task.id))
    if wanted:
        db.session.execute(sa.insert(deps), [{"task_id": task.id, "predecessor_id": i} for i in sorted(wanted)])
    db.session.expire(task, ["predecessors"])
    return task


def find_cycle(graph: dict[int, set[int]], start: int) -> list[int] | None:
    """A path start → … → start through the predecessor graph, or None."""
    stack = [(start, [start])]
    seen = set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def move(actor, item, direction: int) -> None:
    """Swap a milestone, task or criterion with its neighbour (direction −1 up, +1 down)."""
    if isinstance(item, TemplateMilestone):
        parent, version_id = TemplateMilestone.version_id, item.version_id
    elif isinstance(item, TemplateTask):
        parent, version_id = TemplateTask.milestone_id, task_version_id(item)
    else:
        parent, version_id = TemplateCriterion.version_id, item.version_id
    _lock_draft(version_id)
    item = _still_there(item)
    model = type(item)
    siblings = db.session.scalars(sa.select(model).where(parent == getattr(item, parent.key))
                                  .order_by(model.position).execution_options(populate_existing=True)).all()
    index = siblings.index(item)
    other = index + direction
    if 0 <= other < len(siblings):
        siblings[index], siblings[other] = siblings[other], siblings[index]
        for position, sibling in enumerate(siblings, start=1):
            sibling.position = position
        db.session.flush()


def add_criterion(actor, version: TemplateVersion, **fields) -> TemplateCriterion:
    version = _lock_draft(version.id)
    criterion = TemplateCriterion(version_id=version.id, position=_next_position(
        TemplateCriterion, TemplateCriterion.version_id, version.id), **_clean_criterion(fields))
    db.session.add(criterion)
    db.session.flush()
    return criterion


def delete_criterion(actor, criterion: TemplateCriterion) -> None:
    _lock_draft(criterion.version_id)
    db.session.delete(_still_there(criterion))
    db.session.flush()


# --- export and import ---------------------------------------------------------------------------


def export_version(version: TemplateVersion) -> dict:
    """The whole content of a loaded version as plain JSON-ready data."""
    keys = {}
    for m in version.milestones:
        for t in m.tasks:
            keys[t.id] = f"t{len(keys) + 1}"
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "template": {"name": version.template.name, "description": version.template.description},
        "version": {"number": version.number, "target_ttv_days": version.target_ttv_days, "notes": version.notes},
        "milestones": [
            {**snapshot(m, MILESTONE_FIELDS),
             "tasks": [{"key": keys[t.id], **snapshot(t, TASK_FIELDS),
                        "predecessors": sorted((keys[p.id] for p in t.predecessors), key=lambda k: int(k[1:]))}
                       for t in m.tasks]}
            for m in version.milestones
        ],
        "criteria": [snapshot(c, CRITERION_FIELDS) for c in version.criteria],
    }


def import_template(actor, data) -> TemplateVersion:
    """A new draft from exported data: a new template, or a new version of the template of that name."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise ValidationError({"file": "This is not a PSA template export (its \"format\" is not psa-template)."})
    if data.get("format_version") != EXPORT_FORMAT_VERSION:
        raise ValidationError({"file": f"Unsupported format_version {data.get('format_version')!r}."})
    info = data.get("template") or {}
    name = _text(info.get("name")).strip() if isinstance(info, dict) else ""
    template = db.session.scalar(sa.select(Template).where(sa.func.lower(Template.name) == name.lower())) if name else None
    if template is None:
        try:
            name = _check_name(name)
        except ValidationError as exc:
            raise ValidationError({"file": f"The file has a problem: template name: {exc.errors['name']}"}) from exc
        template = Template(name=name, description=_text(info.get("description")))
        number = 1
    else:
        template = lock_row(Template, template.id)  # one new version of a template at a time (see new_draft)
        if draft_of(template) is not None:
            raise ValidationError({"file": f"“{template.name}” already has a draft; publish or discard it first."})
        number = db.session.scalar(sa.select(sa.func.max(TemplateVersion.number))
                                   .where(TemplateVersion.template_id == template.id)) + 1
    with unique_or_field_error({"uq_templates_name": ("file", f"A template named “{name}” was created meanwhile; "
                                                              "import the file again to add it as a new version.")}):
        draft = TemplateVersion(template=template, number=number, state="draft")
        db.session.add_all([template, draft])
    try:
        _fill_version(draft, data)
    except ValidationError as exc:
        detail = "; ".join(exc.errors.values())
        raise ValidationError({"file": f"The file has a problem: {detail}"}) from exc
    template.target_ttv_days = draft.target_ttv_days  # the file's target becomes the template's, as a saved draft's does
    record_audit(actor, "template.imported", template, after={"version": draft.number})
    return draft


def _fill_version(version: TemplateVersion, data: dict) -> None:
    """Create the milestones, tasks, predecessors and criteria described by exported data."""
    info = data.get("version") or {}
    ttv = info.get("target_ttv_days") if isinstance(info, dict) else None
    version.target_ttv_days = None if ttv in (None, "") else _int(ttv, "target_ttv_days", 1, "target_ttv_days must be 1 or more")
    version.notes = str(info.get("notes") or "") if isinstance(info, dict) else ""
    db.session.flush()
    milestones = data.get("milestones")
    if not isinstance(milestones, list):
        raise ValidationError({"milestones": "milestones must be a list"})
    by_key: dict[str, TemplateTask] = {}
    wanted: list[tuple[TemplateTask, list]] = []
    for m_position, m_data in enumerate(milestones, start=1):
        if not isinstance(m_data, dict):
            raise ValidationError({"milestones": f"milestone {m_position} is not an object"})
        milestone = TemplateMilestone(version_id=version.id, position=m_position, **_clean_milestone(m_data))
        db.session.add(milestone)
        db.session.flush()
        tasks = m_data.get("tasks") or []
        if not isinstance(tasks, list):
            raise ValidationError({"tasks": f"the tasks of “{milestone.name}” must be a list"})
        for t_position, t_data in enumerate(tasks, start=1):
            if not isinstance(t_data, dict):
                raise ValidationError({"tasks": f"task {t_position} of “{milestone.name}” is not an object"})
            task = TemplateTask(milestone_id=milestone.id, position=t_position, **clean_task_fields(t_data))
            db.session.add(task)
            key = str(t_data.get("key") or f"m{m_position}t{t_position}")
            if key in by_key:
                raise ValidationError({"tasks": f"task key {key!r} is used twice"})
            by_key[key] = task
            keys = t_data.get("predecessors") or []
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                raise ValidationError({"predecessors": f"the predecessors of “{task.name}” must be a list of task keys"})
            wanted.append((task, keys))
    db.session.flush()
    graph = {}
    for task, keys in wanted:
        unknown = [k for k in keys if k not in by_key]
        if unknown:
            raise ValidationError({"predecessors": f"“{task.name}” names unknown predecessors {unknown}"})
        graph[task.id] = {by_key[k].id for k in keys}
    for task, _ in wanted:
        cycle = find_cycle(graph, task.id)
        if cycle:
            names = {t.id: t.name for t in by_key.values()}
            raise ValidationError({"predecessors": "cycle " + " → ".join(names[i] for i in cycle)})
    rows = [{"task_id": task_id, "predecessor_id": p} for task_id, preds in graph.items() for p in sorted(preds)]
    if rows:
        from psa.project_templates.models import template_task_dependencies

        db.session.execute(sa.insert(template_task_dependencies), rows)
    if sum(1 for m in milestones if isinstance(m, dict) and m.get("is_first_value")) > 1:
        raise ValidationError({"is_first_value": "more than one first-value milestone"})
    criteria = data.get("criteria") or []
    if not isinstance(criteria, list):
        raise ValidationError({"criteria": "criteria must be a list"})
    for c_position, c_data in enumerate(criteria, start=1):
        if not isinstance(c_data, dict):
            raise ValidationError({"criteria": f"criterion {c_position} is not an object"})
        db.session.add(TemplateCriterion(version_id=version.id, position=c_position, **_clean_criterion(c_data)))
    db.session.flush()
