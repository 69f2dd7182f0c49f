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

  // Only the chosen project's tasks; a task already chosen stays visible so its message makes sense.
  function filterTasks(row, reset) {
    var project = row.querySelector("select.psa-project");
    var task = row.querySelector("select.psa-task");
    if (!project || !task) {
      return;
    }
    var chosen = task.selectedOptions[0];
    task.querySelectorAll("optgroup").forEach(function (group) {
      var visible = group.getAttribute("data-project") === project.value ||
        (!reset && chosen && chosen.parentNode === group);
      group.hidden = !visible;
      group.disabled = !visible;
    });
    if (reset && chosen && chosen.parentNode.tagName === "OPTGROUP" && chosen.parentNode.disabled) {
      task.value = "";
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
    filterTasks(row, false);
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
      filterTasks(row, true);
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
      row.querySelectorAll("label").forEach(function (label) {
        label.textContent = label.textContent.replace(/^(Project|Task), row \d+/, "$1, row " + number)
          .replace(/^.*?, (\w+day \d+ \w+): hours$/, "Row " + number + ", $1: hours")
          .replace(/^Note for .*?, (\w+day \d+ \w+)$/, "Note for row " + number + ", $1");
      });
      row.setAttribute("data-testid", "blank-row");
      model.parentNode.insertBefore(row, model.nextSibling);
      filterTasks(row, true);
      recompute();
      row.querySelector("select.psa-project").focus();
    });
  }
})();
