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
