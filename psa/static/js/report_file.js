// A report PDF built by a job (templates/reports/report_file.html): poll the file's JSON status and reload the
// page once its state changes (ready: the Download button; failed: the error and a retry). Without this script the
// page's Refresh link does the same. No inline script anywhere (the Content-Security-Policy forbids it).
(function () {
  var box = document.querySelector("[data-report-file]");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var shown = box.getAttribute("data-state");
  var delay = 1000;

  function poll() {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin", cache: "no-store"})
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (status) {
        if (status.state !== shown) {
          window.location.reload();
          return;
        }
        delay = Math.min(delay * 1.5, 10000);
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        delay = Math.min(delay * 2, 30000);  // a dropped connection or a 404 (expired): slow down, keep the link
        window.setTimeout(poll, delay);
      });
  }

  window.setTimeout(poll, delay);
})();
