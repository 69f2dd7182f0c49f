// The project plan's quick actions: "Done" and "More" buttons on each task row, and one panel (mark done,
// reopen, assign, set blocked with a reason, unblock) opened under the row. Each action is posted with fetch to
// /projects/tasks/<id>/quick; the page comes back, and the summary, timeline, plan and activity are swapped in
// with the task's row kept where it was on the screen. Refused input is said at the field. Without script the
// rows keep their Edit link, which does all of this on its own page.
(function () {
  "use strict";

  var SECTIONS = ["[data-project-summary]", "#timeline", "#plan", "#activity"];

  function plan() { return document.getElementById("plan"); }

  function quickUrl(taskId) {
    return plan().getAttribute("data-quick-url").replace(/\/0\/quick$/, "/" + taskId + "/quick");
  }

  function taskName(row) {
    var header = row.querySelector("th");
    return header ? header.firstChild.textContent.trim() : "the task";
  }

  // The buttons of each row, added by script so that a plan of hundreds of tasks carries none in its HTML.
  function decorate() {
    var root = plan();
    if (!root || !document.getElementById("psa-quick-panel")) { return; }
    root.querySelectorAll("tr[data-testid=task-row]").forEach(function (row) {
      var cell = row.lastElementChild;
      if (!cell || cell.querySelector("[data-quick-more]")) { return; }
      var name = taskName(row);
      if (row.getAttribute("data-status") !== "done") {
        var done = document.createElement("button");
        done.type = "button";
        done.className = "btn btn-outline-success btn-sm psa-quick-btn";
        done.setAttribute("data-quick-action", "done");
        done.setAttribute("aria-label", "Mark " + name + " done");
        done.textContent = "Done";
        cell.insertBefore(done, cell.firstChild);
      }
      var more = document.createElement("button");
      more.type = "button";
      more.className = "btn btn-outline-secondary btn-sm psa-quick-btn";
      more.setAttribute("data-quick-more", "");
      more.setAttribute("aria-expanded", "false");
      more.setAttribute("aria-label", "More actions on " + name);
      more.textContent = "More";
      cell.insertBefore(more, cell.querySelector("a"));
    });
  }

  function closePanel() {
    document.querySelectorAll("tr.psa-quick-row").forEach(function (open) {
      var row = open.previousElementSibling;
      var more = row && row.querySelector("[data-quick-more]");
      if (more) { more.setAttribute("aria-expanded", "false"); }
      open.remove();
    });
  }

  function openPanel(row) {
    closePanel();
    var template = document.getElementById("psa-quick-panel");
    var panel = template.content.firstElementChild.cloneNode(true);
    var form = panel.querySelector("form");
    var status = row.getAttribute("data-status");
    form.setAttribute("action", quickUrl(row.id.replace("task-", "")));
    form.setAttribute("aria-label", "Quick actions on " + taskName(row));
    // the row names its assignee (the page carries no id a row): choose the option of that name
    var assignee = form.querySelector("[name=assignee_id]");
    var shown = row.querySelector("td") ? row.querySelector("td").textContent.trim() : "";
    Array.prototype.forEach.call(assignee.options, function (option) {
      if (option.textContent.trim() === shown) { assignee.value = option.value; }
    });
    // a customer task goes to a contact (its edit page offers them), never to one of our people
    var customer = row.hasAttribute("data-customer");
    form.querySelector("[data-quick-assign]").hidden = customer;
    form.querySelector("[data-quick-customer]").hidden = !customer;
    form.querySelector("[data-quick-done]").hidden = status === "done";
    form.querySelector("[data-quick-reopen]").hidden = status !== "done";
    form.querySelector("[data-quick-unblock]").hidden = status !== "blocked";
    var reason = row.querySelector("[data-testid=blocked-reason]");
    if (reason) { form.querySelector("[name=blocked_reason]").value = reason.textContent.replace(/^Blocked: /, ""); }
    row.after(panel);
    row.querySelector("[data-quick-more]").setAttribute("aria-expanded", "true");
    form.querySelector(customer ? "button:not([hidden])" : "select").focus();
  }

  function showErrors(form, errors) {
    form.querySelectorAll("[data-error]").forEach(function (slot) {
      var message = errors[slot.getAttribute("data-error")] || "";
      slot.textContent = message;
      var field = form.querySelector("[name=" + slot.getAttribute("data-error") + "]");
      if (field) { field.classList.toggle("is-invalid", Boolean(message)); }
    });
    var unplaced = Object.keys(errors).filter(function (name) { return !form.querySelector("[data-error=" + name + "]"); });
    if (unplaced.length) { form.querySelector("[data-error=form]").textContent = errors[unplaced[0]]; }
  }

  // Swap the parts of the page a task change can alter, keeping the task's row at the same height on screen.
  function swapIn(html, taskId) {
    var fresh = new DOMParser().parseFromString(html, "text/html");
    var before = document.getElementById("task-" + taskId);
    var top = before ? before.getBoundingClientRect().top : null;
    SECTIONS.forEach(function (selector) {
      var old = document.querySelector(selector);
      var replacement = fresh.querySelector(selector);
      if (old && replacement) { old.replaceWith(document.adoptNode(replacement)); }
    });
    decorate();
    var after = document.getElementById("task-" + taskId);
    if (after && top !== null) { window.scrollBy({ top: after.getBoundingClientRect().top - top, behavior: "instant" }); }
    var notice = document.querySelector("[data-testid=task-notice]");
    if (notice) { notice.focus({ preventScroll: true }); }
  }

  function post(form, action, taskId) {
    var data = new FormData(form);
    data.set("action", action);
    form.querySelectorAll("button").forEach(function (button) { button.disabled = true; });
    return fetch(form.getAttribute("action"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      if (response.ok) {
        return response.text().then(function (html) { swapIn(html, taskId); });
      }
      var type = response.headers.get("Content-Type") || "";
      return (type.indexOf("json") !== -1 ? response.json() : Promise.resolve({ errors: {} })).then(function (body) {
        form.querySelectorAll("button").forEach(function (button) { button.disabled = false; });
        var errors = body.errors || {};
        if (!Object.keys(errors).length) { errors = { form: "The task was not changed (" + response.status + "). Reload the page and try again." }; }
        showErrors(form, errors);
      });
    }).catch(function () {
      form.querySelectorAll("button").forEach(function (button) { button.disabled = false; });
      showErrors(form, { form: "The server could not be reached; nothing was changed." });
    });
  }

  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("button");
    if (!target || !plan() || !plan().contains(target)) { return; }
    var row = target.closest("tr[data-testid=task-row]");
    if (target.hasAttribute("data-quick-more")) {
      if (target.getAttribute("aria-expanded") === "true") { closePanel(); } else { openPanel(row); }
    } else if (target.getAttribute("data-quick-action") === "done") {
      openPanel(row);
      var form = row.nextElementSibling.querySelector("form");
      post(form, "done", row.id.replace("task-", ""));
    } else if (target.hasAttribute("data-quick-close")) {
      closePanel();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-quick-form")) { return; }
    event.preventDefault();
    var submitter = event.submitter;
    var action = submitter && submitter.name === "action" ? submitter.value : "assign";
    var row = form.closest("tr").previousElementSibling;
    post(form, action, row.id.replace("task-", ""));
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && document.querySelector("tr.psa-quick-row")) { closePanel(); }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", decorate);
  } else {
    decorate();
  }
})();
