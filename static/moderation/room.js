// The room page keeps its member list current without a reload: who is in the room now, their
// ban or mute in force, a filter, pages, and the moderator's picks (kept across refreshes).
document.addEventListener("DOMContentLoaded", function () {
  var section = document.querySelector(".room-members");
  if (!section) return;
  var membersUrl = section.dataset.membersUrl, moderateUrl = section.dataset.moderateUrl;
  var userUrl = section.dataset.userUrl, room = section.dataset.room;
  var body = section.querySelector(".member-list tbody");
  var rowTemplate = section.querySelector("template.member-row");
  var search = section.querySelector("#member-search");
  var picked = new Set(), page = 1, pages = 1, timer = null, inFlight = null;
  var EVERY_MS = 3000;

  // A translated sentence from the page, with its placeholders (longest first) filled in.
  function label(name, values) {
    var text = section.querySelector("template." + name).content.textContent.trim();
    Object.keys(values).sort(function (a, b) { return b.length - a.length; }).forEach(function (key) {
      text = text.replace(key, values[key]);
    });
    return text;
  }

  function link(params) {
    return moderateUrl + "?" + new URLSearchParams(params).toString();
  }

  function row(member) {
    var tr = rowTemplate.content.firstElementChild.cloneNode(true);
    var user = member.user_id;
    tr.dataset.user = user;
    var pick = tr.querySelector(".member-pick");
    if (pick) {
      pick.value = user;
      pick.checked = picked.has(user);
    }
    var id = tr.querySelector(".member-id");
    id.textContent = user;
    id.href = userUrl + "?" + new URLSearchParams({user: user}).toString();
    tr.querySelector(".member-since").textContent = member.since;
    var ban = tr.querySelector(".member-ban-state");
    ban.textContent = "";
    if (member.ban) {
      var a = document.createElement("a"), badge = document.createElement("span");
      a.href = member.ban.url;
      badge.className = "ban-status ban-status-" + member.ban.status;
      badge.textContent = member.ban.status_label;
      badge.title = member.ban.scope;
      a.appendChild(badge);
      var left = document.createElement("span");
      left.className = "member-remaining";
      left.textContent = member.ban.remaining;
      ban.append(a, " ", left);
    }
    var mute = tr.querySelector(".member-mute");
    mute.textContent = "";
    if (member.mute) {
      var m = document.createElement("a"), muted = document.createElement("span");
      m.href = member.mute.url;
      muted.className = "ban-status ban-status-" + member.mute.status + " mute-badge";
      muted.textContent = member.mute.label;
      m.appendChild(muted);
      var until = document.createElement("span");
      until.className = "member-mute-remaining";
      until.textContent = member.mute.remaining;
      mute.append(m, " ", until);
    }
    tr.querySelectorAll(".member-act a").forEach(function (action) {
      var params = {room: room, user: user, action: action.dataset.action};
      if (action.dataset.duration) params.duration = action.dataset.duration;
      action.href = link(params);
    });
    return tr;
  }

  function render(data) {
    page = data.page;
    pages = data.pages;
    section.querySelector(".member-total").textContent = data.total;
    body.replaceChildren.apply(body, data.members.map(row));
    section.querySelector(".member-empty").hidden = data.total > 0;
    section.querySelector(".member-pages").hidden = pages < 2;
    section.querySelector(".member-page").textContent = label("member-page-label", {PAGE: page, PAGES: pages});
    section.querySelector(".member-prev").disabled = page <= 1;
    section.querySelector(".member-next").disabled = page >= pages;
    section.querySelector(".member-updated").textContent = label("member-updated-label", {TIME: data.updated});
    var all = section.querySelector(".member-all");
    if (all) all.checked = data.members.length > 0 && data.members.every(function (m) { return picked.has(m.user_id); });
    section.classList.add("live");
  }

  function refresh() {
    clearTimeout(timer);
    if (inFlight) inFlight.abort();
    inFlight = new AbortController();
    var query = new URLSearchParams({q: search.value.trim(), page: page});
    fetch(membersUrl + "?" + query.toString(), {
      headers: {"Accept": "application/json"}, credentials: "same-origin", signal: inFlight.signal,
    })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (data) { render(data); timer = setTimeout(refresh, EVERY_MS); })
      .catch(function (error) {
        if (error.name !== "AbortError") timer = setTimeout(refresh, EVERY_MS * 2);
      });
  }

  function countPicked() {
    var shown = section.querySelector(".member-selected");
    if (shown) shown.textContent = picked.size;
    section.querySelectorAll(".member-bulk button").forEach(function (b) { b.disabled = picked.size === 0; });
  }

  section.querySelector(".member-filter").addEventListener("submit", function (event) {
    event.preventDefault();
    page = 1;
    refresh();
  });
  var typing = null;
  search.addEventListener("input", function () {
    clearTimeout(typing);
    typing = setTimeout(function () { page = 1; refresh(); }, 250);
  });
  section.querySelector(".member-prev").addEventListener("click", function () { page -= 1; refresh(); });
  section.querySelector(".member-next").addEventListener("click", function () { page += 1; refresh(); });
  body.addEventListener("change", function (event) {
    if (!event.target.classList.contains("member-pick")) return;
    if (event.target.checked) picked.add(event.target.value); else picked.delete(event.target.value);
    countPicked();
  });
  var all = section.querySelector(".member-all");
  if (all) all.addEventListener("change", function () {
    body.querySelectorAll(".member-pick").forEach(function (box) {
      box.checked = all.checked;
      if (all.checked) picked.add(box.value); else picked.delete(box.value);
    });
    countPicked();
  });
  // Picks on other pages (or filtered out of view) are sent too: the form gets them all.
  section.querySelector(".member-actions").addEventListener("submit", function (event) {
    var form = event.target;
    form.querySelectorAll("input.member-kept").forEach(function (kept) { kept.remove(); });
    var shown = new Set(Array.from(body.querySelectorAll(".member-pick")).map(function (b) { return b.value; }));
    picked.forEach(function (user) {
      if (shown.has(user)) return;
      var kept = document.createElement("input");
      kept.type = "hidden"; kept.name = "user"; kept.value = user; kept.className = "member-kept";
      form.appendChild(kept);
    });
  });
  body.querySelectorAll(".member-pick:checked").forEach(function (box) { picked.add(box.value); });
  countPicked();
  timer = setTimeout(refresh, 0);
});
