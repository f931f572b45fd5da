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
