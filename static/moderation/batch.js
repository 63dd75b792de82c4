// The new bans' page follows them from pending to their final state without a reload.
document.addEventListener("DOMContentLoaded", function () {
  var progress = document.querySelector(".batch-progress");
  if (!progress) return;
  var url = progress.dataset.statusUrl, delay = 500;
  function count(counts) {
    Object.keys(counts).forEach(function (key) {
      var shown = document.querySelector(".batch-count-" + key + " .n");
      if (shown) shown.textContent = counts[key];
      var badge = document.querySelector(".batch-counts .batch-count-" + key);
      if (badge) badge.hidden = counts[key] === 0;
    });
    progress.classList.toggle("has-failed", counts.failed > 0);
  }
  function render(bans) {
    var pending = 0;
    bans.forEach(function (ban) {
      var row = document.querySelector('tr[data-ban="' + ban.id + '"]');
      if (!row) return;
      var badge = row.querySelector(".ban-status");
      badge.className = "ban-status ban-status-" + ban.status;
      badge.textContent = ban.status_label;
      row.querySelector(".remaining").textContent = ban.remaining;
      row.querySelector(".vendor-message .retrying").textContent = ban.retrying;
      row.querySelector(".vendor-message .answer").textContent = ban.vendor_message;
      var retry = row.querySelector(".retry form");
      if (retry) retry.hidden = ban.status !== "failed";
      if (!ban.final) pending += 1;
    });
    progress.querySelector(".batch-count-pending").textContent = pending;
    progress.classList.toggle("done", pending === 0);
    return pending;
  }
  function poll() {
    fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(function (data) {
        var pending = render(data.bans);
        count(data.counts);
        // Keep polling while anything is pending; slowly afterwards, for time left.
        delay = pending ? 500 : 15000;
        setTimeout(poll, delay);
      })
      .catch(function () { setTimeout(poll, Math.min(delay * 2, 15000)); });
  }
  poll();
});
