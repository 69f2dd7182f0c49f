// Small progressive enhancements; no inline script anywhere (the Content-Security-Policy forbids it).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

// On a page that shows many forms (the template builder), bring the first refused field into view.
document.addEventListener("DOMContentLoaded", function () {
  var page = document.querySelector("[data-focus-invalid]");
  var field = page && page.querySelector(".is-invalid");
  if (field) {
    field.focus();
  }
});

// Checkbox lists (templates/_macros/choices.html): the filter box hides what does not match, and the line
// under the list names what is chosen.
(function () {
  function chosenLine(list) {
    var names = [];
    list.querySelectorAll("input[type=checkbox]:checked").forEach(function (box) {
      var label = list.querySelector("label[for='" + box.id + "']");
      names.push(label ? label.textContent.trim() : box.value);
    });
    var line = list.querySelector("[data-checkbox-chosen]");
    if (line) {
      line.textContent = names.length ? "Chosen: " + names.join(", ") : "None chosen.";
    }
  }
  document.addEventListener("input", function (event) {
    var box = event.target.closest && event.target.closest("[data-checkbox-filter]");
    if (!box) { return; }
    var list = box.closest("[data-checkbox-list]");
    var query = box.value.trim().toLowerCase();
    var shown = 0;
    list.querySelectorAll("[data-checkbox-item]").forEach(function (item) {
      var match = !query || item.textContent.toLowerCase().indexOf(query) !== -1;
      item.hidden = !match;
      if (match) { shown += 1; }
    });
    var none = list.querySelector("[data-checkbox-none]");
    if (none) { none.hidden = shown > 0; }
  });
  document.addEventListener("change", function (event) {
    var list = event.target.closest && event.target.closest("[data-checkbox-list]");
    if (list && event.target.type === "checkbox") { chosenLine(list); }
  });
})();

// The new-project form: show the role-mapping fields of the roles the chosen template names (its option's
// data-roles), and none for a blank project. Without script every field shows, which is harmless.
(function () {
  function showRoles(select) {
    var mapping = document.querySelector("[data-role-mapping]");
    if (!mapping || !select) { return; }
    var option = select.options[select.selectedIndex];
    var roles = ((option && option.getAttribute("data-roles")) || "").split(" ").filter(Boolean);
    var shown = 0;
    mapping.querySelectorAll("[data-assign-role]").forEach(function (box) {
      var wanted = roles.indexOf(box.getAttribute("data-assign-role")) !== -1;
      box.hidden = !wanted;
      if (wanted) { shown += 1; }
    });
    mapping.hidden = shown === 0;
  }
  document.addEventListener("DOMContentLoaded", function () {
    showRoles(document.getElementById("template_version_id"));
  });
  document.addEventListener("change", function (event) {
    if (event.target.id === "template_version_id") { showRoles(event.target); }
  });
})();
