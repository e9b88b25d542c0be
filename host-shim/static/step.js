// Backup-code step pages: auto-submit the hand-back form, copy / download /
// print a new set, and drop the one-time token from the address bar.
// Served from the shim itself (CSP script-src 'self'); every page works without it.
(function () {
  "use strict";

  // The entry URL carries a single-use session token: keep it out of history.
  if (window.history && window.history.replaceState && /[?&]session_token=/.test(window.location.search)) {
    window.history.replaceState(null, "", window.location.pathname);
  }

  var auto = document.querySelector("form[data-autosubmit]");
  if (auto) {
    auto.submit();
    return;
  }

  var box = document.getElementById("codes");
  if (!box) {
    return;
  }
  var actions = document.querySelector(".js-only");
  if (actions) {
    actions.hidden = false;
  }
  var status = document.getElementById("copy-status");
  var say = function (text) {
    if (status) {
      status.textContent = text;
    }
  };

  // The same numbering everywhere: "N. CODE", as on screen.
  var text = function () {
    var lines = [
      "Backup codes, set " + box.dataset.fingerprint + (box.dataset.subject ? " (" + box.dataset.subject + ")" : ""),
      "Issued " + box.dataset.issued + " UTC. Each code works once.",
      ""
    ];
    box.querySelectorAll("code[data-number]").forEach(function (c) {
      var n = c.dataset.number;
      lines.push((n.length < 2 ? " " : "") + n + ". " + c.textContent.trim());
    });
    return lines.join("\n") + "\n";
  };

  var copy = document.getElementById("copy-codes");
  if (copy) {
    copy.addEventListener("click", function () {
      if (navigator.clipboard && navigator.clipboard.writeText) {
        navigator.clipboard.writeText(text()).then(
          function () { say("Codes copied."); },
          function () { say("Copying is not allowed here: select the codes and copy them by hand."); }
        );
      } else {
        say("Copying is not available: select the codes and copy them by hand.");
      }
    });
  }

  var download = document.getElementById("download-codes");
  if (download) {
    download.addEventListener("click", function () {
      var blob = new Blob([text()], { type: "text/plain;charset=utf-8" });
      var url = URL.createObjectURL(blob);
      var a = document.createElement("a");
      a.href = url;
      a.download = "backup-codes-" + box.dataset.fingerprint + ".txt";
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
      say("Downloaded backup-codes-" + box.dataset.fingerprint + ".txt.");
    });
  }

  var print = document.getElementById("print-codes");
  if (print) {
    print.addEventListener("click", function () { window.print(); });
  }
})();
