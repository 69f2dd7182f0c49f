// The weekly timesheet grid, enhanced: live totals, only the chosen project's tasks, the billable
// default of the project, a question before submitting unsaved changes, more rows on demand, and note
// boxes (textareas, so a note keeps its line breaks) that grow with their text.
// The page works without it: the server computes the totals and checks every rule on save.
(function () {
  "use strict";

  var form = document.querySelector("form[data-grid]");
  var table = form && form.querySelector("table.psa-grid");
  if (!table) {
    return;
  }
  var submitForm = document.querySelector("form[data-submit-week]");

  // The same durations as psa/timesheets/durations.py: 1:30, 1.5, 1,5, 90m, 1h30m, 2h. null if unreadable.
  function parseDuration(text) {
    var raw = (text || "").trim().toLowerCase();
    var match;
    var minutes;
    if (!raw) {
      return 0;
    }
    if ((match = /^(\d{1,2}):([0-5]\d)$/.exec(raw))) {
      minutes = Number(match[1]) * 60 + Number(match[2]);
    } else if (/^\d+(?:[.,]\d+)?$/.test(raw)) {
      minutes = Number(raw.replace(",", ".")) * 60;
    } else if ((match = /^(?:(\d+(?:[.,]\d+)?)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?$/.exec(raw)) && (match[1] || match[2])) {
      minutes = (match[1] ? Number(match[1].replace(",", ".")) * 60 : 0) + Number(match[2] || 0);
    } else {
      return null;
    }
    return Math.round(minutes);
  }

  function hm(minutes) {
    var rest = minutes % 60;
    return Math.floor(minutes / 60) + ":" + (rest < 10 ? "0" : "") + rest;
  }

  function isBillable(row) {
    var box = row.querySelector("input.psa-billable");
    if (box) {
      return box.checked;
    }
    return row.getAttribute("data-billable") === "1";
  }

  function recompute() {
    var days = {};
    var sections = { project: 0, off: 0, billable: 0 };
    table.querySelectorAll("tbody[data-section] tr").forEach(function (row) {
      var total = 0;
      var section = row.parentNode.getAttribute("data-section");
      row.querySelectorAll("td[data-day]").forEach(function (cell) {
        var source = cell.querySelector("[data-minutes-source]");
        var minutes = source ? parseDuration(source.value) || 0 : 0;
        var day = cell.getAttribute("data-day");
        days[day] = (days[day] || 0) + minutes;
        total += minutes;
      });
      var totalCell = row.querySelector("[data-row-total]");
      if (totalCell) {
        totalCell.textContent = hm(total);
        sections[section] += total;
        if (section === "project" && isBillable(row)) {
          sections.billable += total;
        }
      }
    });
    table.querySelectorAll("[data-day-total]").forEach(function (cell) {
      cell.textContent = hm(days[cell.getAttribute("data-day-total")] || 0);
    });
    document.querySelectorAll("[data-week-total]").forEach(function (cell) {
      cell.textContent = hm(sections.project + sections.off);
    });
    Object.keys(sections).forEach(function (name) {
      var target = document.querySelector('[data-total="' + name + '"]');
      if (target) {
        target.textContent = hm(sections[name]);
      }
    });
  }

  // The projects, and each project's tasks, are in the page once: in <template data-projects> and one
  // <template data-project-tasks="<project id>"> per project. A row's selects come with their empty choice
  // and the row's saved project and task only, and get the rest from there. The saved (or re-shown) choice
  // stays chosen, even one not in the template, so its message makes sense; `reset` (a new project for
  // the row) starts its task at "— No task —".
  var projectTemplate = document.querySelector("template[data-projects]");
  var taskTemplates = {};
  document.querySelectorAll("template[data-project-tasks]").forEach(function (template) {
    taskTemplates[template.getAttribute("data-project-tasks")] = template;
  });

  function fillSelect(select, template, reset) {
    var blank = select.querySelector('option[value=""]');
    var kept = reset ? null : select.selectedOptions[0];
    if (kept === blank) {
      kept = null;
    }
    var options = [blank];
    var placed = false;
    if (template) {
      Array.prototype.forEach.call(template.content.children, function (option) {
        if (kept && option.value === kept.value) {
          options.push(kept);  // the server's own option, with its selected attribute
          placed = true;
        } else {
          options.push(option.cloneNode(true));
        }
      });
    }
    if (kept && !placed) {
      options.splice(1, 0, kept);
    }
    select.textContent = "";
    options.forEach(function (option) {
      select.appendChild(option);
    });
    select.value = kept ? kept.value : "";
  }

  function fillProjects(row) {
    var project = row.querySelector("select.psa-project");
    if (project) {
      fillSelect(project, projectTemplate, false);
    }
  }

  function fillTasks(row, reset) {
    var project = row.querySelector("select.psa-project");
    var task = row.querySelector("select.psa-task");
    if (project && task) {
      fillSelect(task, taskTemplates[project.value], reset);
    }
  }

  // A project chosen for a line sets its billable default: unticked for a non-billable project.
  function applyBillable(row) {
    var project = row.querySelector("select.psa-project");
    var box = row.querySelector("input.psa-billable");
    var option = project && project.selectedOptions[0];
    if (box && option && option.hasAttribute("data-billable")) {
      box.checked = option.getAttribute("data-billable") === "1";
    }
  }

  function markDirty() {
    if (submitForm) {
      submitForm.setAttribute("data-confirm",
        "The grid has changes that are not saved. Submit the week as it was last saved? (Cancel, then Save, to include them.)");
    }
  }

  function projectRows() {
    return table.querySelectorAll('tbody[data-section="project"] tr');
  }

  // A note box as tall as its text (CSS caps it); a box inside a closed <details> has no height yet,
  // so it is sized again when its details open.
  function grow(box) {
    if (!box.offsetParent) {
      return;
    }
    box.style.height = "auto";
    box.style.height = box.scrollHeight + (box.offsetHeight - box.clientHeight) + "px";
  }

  projectRows().forEach(function (row) {
    fillProjects(row);
    fillTasks(row, false);
  });
  table.querySelectorAll("textarea[data-autogrow]").forEach(grow);
  table.addEventListener("toggle", function (event) {
    if (event.target.open) {
      event.target.querySelectorAll("textarea[data-autogrow]").forEach(grow);
    }
  }, true);

  form.addEventListener("change", function (event) {
    var row = event.target.closest("tr");
    if (row && event.target.matches("select.psa-project")) {
      fillTasks(row, true);
      applyBillable(row);
    }
    recompute();
    markDirty();
  });
  form.addEventListener("input", function (event) {
    if (event.target.matches("[data-minutes-source]")) {
      recompute();
    }
    if (event.target.matches("textarea[data-autogrow]")) {
      grow(event.target);
    }
    markDirty();
  });

  // "Add a row": a copy of the last editable project row, emptied, under the next free index.
  var addButton = form.querySelector("[data-add-row]");
  if (addButton) {
    addButton.hidden = false;
    addButton.addEventListener("click", function () {
      var rows = Array.prototype.filter.call(projectRows(), function (row) {
        return row.querySelector("select.psa-project");
      });
      var model = rows[rows.length - 1];
      if (!model) {
        return;
      }
      var index = Number(table.getAttribute("data-next-index"));
      table.setAttribute("data-next-index", String(index + 1));
      var number = projectRows().length + 1;
      var row = model.cloneNode(true);
      row.querySelectorAll("[name], [id], [for], [aria-describedby]").forEach(function (element) {
        ["name", "id", "for", "aria-describedby"].forEach(function (attribute) {
          var value = element.getAttribute(attribute);
          if (value) {
            element.setAttribute(attribute, value.replace(/^rows-\d+-/, "rows-" + index + "-"));
          }
        });
      });
      row.querySelectorAll(".invalid-feedback").forEach(function (element) {
        element.remove();
      });
      row.querySelectorAll(".is-invalid").forEach(function (element) {
        element.classList.remove("is-invalid");
        element.removeAttribute("aria-invalid");
        element.removeAttribute("aria-describedby");
      });
      row.querySelectorAll("input[type=text], input:not([type]), textarea").forEach(function (input) {
        input.value = "";
        input.style.height = "";
      });
      row.querySelectorAll("select").forEach(function (select) {
        select.value = "";
      });
      row.querySelectorAll("input.psa-billable").forEach(function (box) {
        box.checked = true;
      });
      row.querySelectorAll("details").forEach(function (details) {
        details.open = false;
      });
      row.querySelectorAll(".psa-has-note").forEach(function (summary) {
        summary.classList.remove("psa-has-note");
        summary.lastChild.textContent = summary.lastChild.textContent.replace(" \u2713", "");
      });
      row.querySelectorAll("[aria-label]").forEach(function (input) {
        input.setAttribute("aria-label", input.getAttribute("aria-label")
          .replace(/^.*?, (\w+day \d{4}-\d{2}-\d{2}): hours$/, "Row " + number + ", $1: hours"));
      });
      row.querySelectorAll("label").forEach(function (label) {
        label.textContent = label.textContent.replace(/^(Project|Task), row \d+/, "$1, row " + number)
          .replace(/^.*?, (\w+day \d{4}-\d{2}-\d{2}): hours$/, "Row " + number + ", $1: hours")
          .replace(/^Note for .*?, (\w+day \d{4}-\d{2}-\d{2})$/, "Note for row " + number + ", $1");
      });
      row.setAttribute("data-testid", "blank-row");
      model.parentNode.insertBefore(row, model.nextSibling);
      fillTasks(row, true);
      recompute();
      row.querySelector("select.psa-project").focus();
    });
  }
})();
