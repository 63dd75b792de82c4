// A vendor app form shows only the fields the chosen vendor uses.
document.addEventListener("DOMContentLoaded", function () {
  var vendor = document.getElementById("id_vendor");
  if (!vendor) return;
  var uses = {
    volcengine: {region: true, access_key_id: true, label: "AccessKeyId", secret: "SecretAccessKey"},
    zego: {region: false, access_key_id: false, secret: "ServerSecret"},
    tencent: {region: true, access_key_id: true, label: "SecretId", secret: "SecretKey"}
  };
  function row(name) { return document.querySelector(".form-row.field-" + name); }
  function update() {
    var use = uses[vendor.value];
    if (!use) return;
    ["region", "access_key_id"].forEach(function (name) {
      if (row(name)) row(name).hidden = !use[name];
    });
    if (row("zego_native_ban")) row("zego_native_ban").hidden = vendor.value !== "zego";
    var keyLabel = document.querySelector("label[for=id_access_key_id]");
    if (keyLabel && use.label) keyLabel.textContent = use.label + ":";
    var secretLabel = document.querySelector("label[for=id_secret]");
    if (secretLabel) secretLabel.textContent = use.secret + ":";
  }
  vendor.addEventListener("change", update);
  update();
});
