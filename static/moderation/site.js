// Times are shown in the viewer's time zone: the server reads it from this cookie.
(function () {
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone) return;
  var current = document.cookie.split("; ").find(function (c) { return c.indexOf("tz=") === 0; });
  if (current !== "tz=" + encodeURIComponent(zone)) {
    document.cookie = "tz=" + encodeURIComponent(zone) + "; path=/; max-age=31536000; samesite=lax";
  }
})();

// Choosing a language switches at once (the form also has a button without JavaScript).
document.addEventListener("DOMContentLoaded", function () {
  var select = document.getElementById("language-select");
  if (select) select.addEventListener("change", function () { select.form.submit(); });
});

// Ctrl+Enter (⌘+Enter) sends the form being typed in, through its main button.
document.addEventListener("keydown", function (event) {
  if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
  var form = event.target.form || (event.target.closest && event.target.closest("form"));
  if (!form) return;
  var main = form.querySelector(".submit-row input.default, .submit-row button.default") ||
    form.querySelector("input[type=submit], button[type=submit]");
  if (!main) return;
  event.preventDefault();
  form.requestSubmit(main);
});
