// Backup-code pages: copy, download and print a newly shown set.
// Served by the identity provider itself (CSP script-src 'self'); without
// JavaScript the codes are still on the page and the buttons stay hidden.
(function () {
  "use strict";
  var box = document.getElementById("codes");
  var actions = document.getElementById("code-actions");
  if (!box || !actions) {
    return;
  }
  actions.hidden = false;
  var status = document.getElementById("copy-status");
  function say(text) {
    if (status) {
      status.textContent = text;
    }
  }
  // "N. CODE" lines: the numbering shown on screen.
  function asText() {
    var lines = [
      "Backup codes, set " + box.dataset.fingerprint + " (" + box.dataset.account + ")",
      "Each code works once.",
      ""
    ];
    box.querySelectorAll("code[data-number]").forEach(function (c) {
      var n = c.dataset.number;
      lines.push((n.length < 2 ? " " : "") + n + ". " + c.textContent.trim());
    });
    return lines.join("\n") + "\n";
  }
  document.getElementById("copy-codes").addEventListener("click", function () {
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(asText()).then(
        function () { say("Codes copied."); },
        function () { say("Copying is not allowed here: select the codes and copy them by hand."); }
      );
    } else {
      say("Copying is not available: select the codes and copy them by hand.");
    }
  });
  document.getElementById("download-codes").addEventListener("click", function () {
    var name = "backup-codes-" + box.dataset.fingerprint + ".txt";
    var url = URL.createObjectURL(new Blob([asText()], { type: "text/plain;charset=utf-8" }));
    var a = document.createElement("a");
    a.href = url;
    a.download = name;
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
    say("Downloaded " + name + ".");
  });
  document.getElementById("print-codes").addEventListener("click", function () {
    window.print();
  });
})();
