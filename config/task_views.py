"""Task pages: "My tasks" with its tabs and its CSV export, a task's page, and the done, reopen and delete buttons.

Thin: parse the form, call one config.todo service or selector, render. A refusal by a rule shows on its form
field (422, 409 for a task already done); a refusal by role is the 403 page.
"""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from config import about, spreadsheet, todo
from config.errors import DomainError
from config.models import Task
from config.pages import error_status, form_error, staff_required
from config.pagination import KeysetOrder, keyset_page_for
from config.task_forms import DoneForm, TaskForm

TAB_LABELS = {
    "overdue": gettext_lazy("Overdue"),
    "today": gettext_lazy("Today"),
    "upcoming": gettext_lazy("Upcoming"),
    "queue": gettext_lazy("Department queue"),
    "team": gettext_lazy("My team's"),
    "done": gettext_lazy("Done"),
}


def _get_task(pk: int) -> Task:
    try:
        return todo.task_detail(pk=pk)
    except Task.DoesNotExist:
        raise Http404(_("No such task.")) from None


def _dress(user, tasks, now) -> list[Task]:
    """What each row draws: the record it is about (one query per kind of record) and whether the person may act."""
    rows = about.attach(tasks)
    for task in rows:
        task.can_act = todo.may_act(user, task)
        task.overdue = task.is_overdue(now)
    return rows


def _next_url(request, default: str) -> str:
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return default


@staff_required
def task_list(request):
    """My tasks: overdue, due today, upcoming, my department's queue (managers: the team's too), done; and a form
    to add one."""
    user, now = request.user, timezone.now()
    form = TaskForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            data = form.cleaned_data
            try:
                todo.create_task(
                    by=user,
                    title=data["title"],
                    notes=data["notes"],
                    due_at=data["due_at"],
                    now=now,
                    **form.placement(user),
                )
            except DomainError as exc:
                form_error(form, exc)
                status = error_status(request, exc)
            else:
                messages.success(request, _("Task added."))
                return redirect("tasks:task-list")
    counts = todo.tab_counts(user, now=now)
    tabs = todo.visible_tabs(user)
    current = _current_tab(request, user, now, counts=counts)
    queryset, order = todo.my_tasks(user, tab=current, now=now)
    page, paging = keyset_page_for(request, queryset, order=order)
    page.rows = _dress(user, page.rows, now)
    context = {
        "tabs": [{"key": tab, "label": TAB_LABELS[tab], "count": counts.get(tab)} for tab in tabs],
        "current": current,
        "page": page,
        **paging,
        "form": form,
        "now": now,
        "done_form": DoneForm(),
        "export_url": f"{reverse('tasks:task-export')}?{urlencode({'tab': current})}",
    }
    return render(request, "tasks/task_list.html", context, status=status)


def _current_tab(request, user, now, *, counts: dict | None = None) -> str:
    """The tab `?tab=` asks for when the person has it, else the first of overdue, today and upcoming with something
    in it (today when all are empty): the page and its export show the same tab."""
    current = request.GET.get("tab", "")
    if current in todo.visible_tabs(user):
        return current
    counts = counts if counts is not None else todo.tab_counts(user, now=now)
    return next((tab for tab in ("overdue", "today", "upcoming") if counts.get(tab)), "today")


@staff_required
@require_GET
def task_export(request):
    """The tab of "My tasks" the page shows, as CSV: all its tasks (not one page) in the page's order, streamed,
    each with the label of the record it is about."""
    user, now = request.user, timezone.now()
    tab = _current_tab(request, user, now)
    queryset, order = todo.my_tasks(user, tab=tab, now=now)
    rows = queryset.order_by(*KeysetOrder(queryset, order).order_by())
    return spreadsheet.streaming_response(
        header=todo.EXPORT_HEADER, rows=todo.export_rows(rows, now=now), filename=f"tasks-{tab}.csv"
    )


def _detail_context(request, task: Task, **forms) -> dict:
    now = timezone.now()
    can_act = todo.may_act(request.user, task)
    initial = {
        "title": task.title,
        "notes": task.notes,
        "due_at": timezone.localtime(task.due_at) if task.due_at else None,
        "assignee": task.assignee_id,
        "department": task.department if task.assignee_id is None else "",
    }
    open_ = task.done_at is None
    return {
        "task": task,
        "now": now,
        "can_act": can_act,
        "done_form": (forms.get("done_form") or DoneForm()) if can_act and open_ else None,
        "edit_form": (forms.get("edit_form") or _edit_form(task, initial=initial)) if can_act and open_ else None,
        "can_reopen": can_act and not open_,
        "can_delete": can_act and task.kind not in todo.ONCE_PER_RECORD_KINDS,
    }


def _edit_form(task: Task, **kwargs) -> TaskForm:
    form = TaskForm(**kwargs)
    # A follow-up an event opened has no title of its own (its kind shows): it may keep none.
    form.fields["title"].required = task.kind in todo.CREATABLE_KINDS
    return form


@staff_required
def task_detail(request, pk: int):
    """A task's page; a POST saves its edit form."""
    task = _get_task(pk)
    if request.method != "POST":
        return render(request, "tasks/task_detail.html", _detail_context(request, task))
    todo.require_act(request.user, task)
    form = _edit_form(task, data=request.POST)
    if form.is_valid():
        data = form.cleaned_data
        fields = {"title": data["title"], "notes": data["notes"], "due_at": data["due_at"]}
        fields.update(form.placement(request.user))
        try:
            todo.update_task(task=task, by=request.user, **fields)
        except DomainError as exc:
            form_error(form, exc)
            status = error_status(request, exc)
        else:
            messages.success(request, _("Task saved."))
            return redirect("tasks:task-detail", pk=pk)
    else:
        status = 422
    context = _detail_context(request, _get_task(pk), edit_form=form)
    return render(request, "tasks/task_detail.html", context, status=status)


@staff_required
@require_POST
def task_done(request, pk: int):
    """Mark a task done with what was done. htmx (a list's row): answers the row again; else back to `next`."""
    task = _get_task(pk)
    form = DoneForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            task = todo.complete_task(task=task, by=request.user, outcome=form.cleaned_data["outcome"])
            status = 200
        except DomainError as exc:
            form_error(form, exc)
            status = error_status(request, exc)
    if request.htmx:
        now = timezone.now()
        row = _dress(request.user, [todo.tasks().get(pk=pk)], now)[0]
        context = {"task": row, "now": now, "done_form": form if status != 200 else DoneForm()}
        response = render(request, "tasks/_task_row.html", context, status=status)
    elif status != 200:
        context = _detail_context(request, _get_task(pk), done_form=form)
        response = render(request, "tasks/task_detail.html", context, status=status)
    else:
        messages.success(request, _("Done: %(title)s") % {"title": task.display_title})
        response = redirect(_next_url(request, todo.task_url(task)))
    patch_vary_headers(response, ["HX-Request"])
    return response


@staff_required
@require_POST
def task_reopen(request, pk: int):
    task = _get_task(pk)
    try:
        todo.reopen_task(task=task, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Task reopened."))
    return redirect("tasks:task-detail", pk=pk)


@staff_required
@require_POST
def task_delete(request, pk: int):
    task = _get_task(pk)
    try:
        todo.delete_task(task=task, by=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("tasks:task-detail", pk=pk)
    messages.success(request, _("Task deleted."))
    return redirect("tasks:task-list")
