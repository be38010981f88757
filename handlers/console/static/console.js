// wxclub console: the little the pages do in the browser. Everything works
// without it; it only saves a reload.
(function () {
  "use strict";

  // Ask before a button that cannot be undone (data-confirm="...").
  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("[data-confirm]");
    if (b && !window.confirm(b.getAttribute("data-confirm"))) e.preventDefault();
  });

  // The phone preview: template messages arrive a few seconds after the
  // change they announce, so the chat refreshes itself while it is open.
  var chat = document.getElementById("chat");
  if (!chat) return;
  var bottom = function () { chat.scrollTop = chat.scrollHeight; };
  bottom();
  var src = chat.getAttribute("data-src");
  if (!src) return;
  var last = null; // the server's last answer (the DOM's own serialisation differs)
  setInterval(function () {
    fetch(src, { credentials: "same-origin" }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html !== null && html !== last) {
        last = html;
        chat.innerHTML = html;
        bottom();
      }
    }).catch(function () {});
  }, 2500);
})();
