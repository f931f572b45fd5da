// Tongka console: send the CSRF token with every HTMX request (X-CSRF-Token header).
// The token lives in <meta name="csrf-token"> and, because boosted navigation swaps only
// the body, also in the body's [data-csrf-token] holder, which is always current.
document.addEventListener("htmx:configRequest", function (event) {
  var holder = document.querySelector("[data-csrf-token]");
  var meta = document.querySelector('meta[name="csrf-token"]');
  var token = holder ? holder.getAttribute("data-csrf-token") : meta && meta.content;
  if (token) {
    event.detail.headers["X-CSRF-Token"] = token;
  }
});

// A file upload form ([data-upload]) shows how much of the file has been sent.
document.addEventListener("htmx:xhr:progress", function (event) {
  var form = event.target.closest && event.target.closest("form[data-upload]");
  var bar = form && form.querySelector("[data-upload-progress]");
  if (bar && event.detail.lengthComputable && event.detail.total > 0) {
    bar.hidden = false;
    bar.value = Math.round((100 * event.detail.loaded) / event.detail.total);
    bar.textContent = bar.value + "%";
  }
});
