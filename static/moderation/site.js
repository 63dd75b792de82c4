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
