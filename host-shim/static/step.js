// Backup-code step pages: auto-submit the hand-back form, copy / download /
// print a new set. Served from the shim itself (CSP script-src 'self'); every
// page works without it. Every sentence comes from the page (data-* attributes
// written by the server in the reader's language): nothing is composed here.
(function () {
  "use strict";

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
    var lines = [box.dataset.txtHead, box.dataset.txtIssued, ""];
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
          function () { say(box.dataset.msgCopied); },
          function () { say(box.dataset.msgCopyDenied); }
        );
      } else {
        say(box.dataset.msgCopyUnavailable);
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
      a.download = box.dataset.filename;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 1000);
      say(box.dataset.msgDownloaded);
    });
  }

  var print = document.getElementById("print-codes");
  if (print) {
    print.addEventListener("click", function () { window.print(); });
  }
})();
