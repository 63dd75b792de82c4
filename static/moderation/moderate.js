// The kick/ban form shows only what the chosen scope and duration need.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector(".moderate-form");
  if (!form) return;
  function checked(name) {
    var input = form.querySelector("input[name=" + name + "]:checked");
    return input ? input.value : "";
  }
  function row(name) { return form.querySelector(".field-" + name); }
  function update() {
    var scope = checked("scope"), duration = checked("duration");
    row("room").hidden = scope === "user_everywhere";
    row("user_ids").hidden = scope === "whole_room";
    row("custom_duration").hidden = duration !== "custom";
    var kickOnly = form.querySelector("input[name=duration][value=kick]");
    if (kickOnly) kickOnly.disabled = scope !== "user_in_room";
  }
  form.addEventListener("change", update);
  update();
});
