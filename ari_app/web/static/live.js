// Live updates of the to-do list: the server tells this page (Server-Sent Events, /events) which case
// changed; the page then asks for its list region again (the server checks and audits that read) and
// puts it in place. No case text travels on the stream.
"use strict";
(function () {
  var rows = document.getElementById("rows");
  var badge = document.getElementById("live");
  if (!rows || !window.EventSource) { return; }
  var busy = false, again = false;
  function refresh() {
    if (busy) { again = true; return; }
    busy = true;
    fetch(window.location.pathname + window.location.search, {
      headers: { "X-Fragment": "rows" }, credentials: "same-origin", cache: "no-store"
    }).then(function (r) {
      if (r.redirected || !r.ok) { window.location.reload(); return null; }
      return r.text();
    }).then(function (html) {
      if (html !== null && html !== undefined) {
        rows.innerHTML = html;
        if (badge) { badge.classList.add("flash"); setTimeout(function () { badge.classList.remove("flash"); }, 1500); }
      }
    }).catch(function () {}).then(function () {
      busy = false;
      if (again) { again = false; refresh(); }
    });
  }
  var source = new EventSource("/events");
  source.addEventListener("open", function () { if (badge) { badge.hidden = false; } });
  source.addEventListener("error", function () { if (badge) { badge.hidden = true; } });
  source.addEventListener("case", refresh);
  source.addEventListener("ended", function () { source.close(); window.location.reload(); });
}());
