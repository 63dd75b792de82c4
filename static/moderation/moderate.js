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

// The room field suggests the chosen app's rooms, busiest first, by id or label.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector(".moderate-form");
  var room = form && form.querySelector("#id_room");
  var list = document.getElementById("room-suggestions");
  if (!room || !list) return;
  var app = form.querySelector("#id_app"), url = form.dataset.roomSearchUrl, typing = null;
  function suggest() {
    var query = new URLSearchParams({app: app.value, q: room.value.trim()});
    fetch(url + "?" + query.toString(), {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : {rooms: []}; })
      .then(function (data) {
        list.replaceChildren.apply(list, data.rooms.map(function (r) {
          var option = document.createElement("option");
          option.value = r.room_id;
          option.label = [r.label, r.members + " " + list.dataset.inRoom, r.bans + " " + list.dataset.bans]
            .filter(Boolean).join(" · ");
          return option;
        }));
      })
      .catch(function () {});
  }
  room.addEventListener("input", function () { clearTimeout(typing); typing = setTimeout(suggest, 200); });
  room.addEventListener("focus", suggest);
  app.addEventListener("change", suggest);
});

// The cursor starts in the first field still to fill in: the users, once app and room are known.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector(".moderate-form");
  if (!form || form.querySelector(".errorlist")) return;
  var fields = ["#id_room", "#id_user_ids", "#id_canned_reason"].map(function (s) { return form.querySelector(s); });
  var first = fields.find(function (field) {
    return field && !field.closest(".form-row").hidden && !field.value;
  });
  (first || form.querySelector("#id_reason")).focus();
});
