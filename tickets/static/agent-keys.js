// Keyboard shortcuts, the macro picker and the presence heartbeat of the agent's pages.
// Progressive enhancement: every page works without this script (links, forms, ?macro=ID).
(function () {
  "use strict";
  var doc = document;

  var NOT_TYPED = ["checkbox", "radio", "button", "submit", "reset"];
  function typing(target) {
    var tag = target && target.tagName;
    if (tag === "INPUT") { return NOT_TYPED.indexOf(target.type) < 0; }
    return tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  // -- the queue: j/k choose a row, Enter opens it, x ticks it ---------------------------------
  var rows = Array.prototype.slice.call(doc.querySelectorAll("#queue tbody tr")).filter(function (row) {
    return row.querySelector("a[href*='/agent/tickets/']");
  });
  var current = -1;
  function choose(index) {
    if (!rows.length) { return; }
    index = Math.max(0, Math.min(rows.length - 1, index));
    if (current >= 0) { rows[current].classList.remove("kb-current"); rows[current].removeAttribute("aria-current"); }
    current = index;
    rows[current].classList.add("kb-current");
    rows[current].setAttribute("aria-current", "true");
    rows[current].style.outline = "2px solid #1f5fbf";
    rows.forEach(function (row, i) { if (i !== current) { row.style.outline = ""; } });
    rows[current].scrollIntoView({block: "nearest"});
  }

  // -- the ticket page -------------------------------------------------------------------------
  var body = doc.getElementById("body");
  var internal = doc.getElementById("internal");
  var assignee = doc.getElementById("set_assignee");
  var status = doc.getElementById("set_status");
  var help = doc.getElementById("shortcuts");

  doc.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) { return; }
    var key = event.key;
    var handled = true;
    if (key === "?") {
      if (help) { help.open = !help.open; }
    } else if (rows.length && key === "j") {
      choose(current + 1);
    } else if (rows.length && key === "k") {
      choose(current - 1);
    } else if (rows.length && key === "Enter" && current >= 0) {
      window.location.href = rows[current].querySelector("a[href*='/agent/tickets/']").href;
    } else if (rows.length && key === "x" && current >= 0) {
      var box = rows[current].querySelector("input[type=checkbox]");
      if (box) { box.checked = !box.checked; }
    } else if (body && (key === "r" || key === "n")) {
      if (internal) { internal.checked = key === "n"; }
      body.focus();
    } else if (assignee && key === "a") {
      assignee.value = assignee.getAttribute("data-me");
      assignee.focus();
    } else if (status && key === "s") {
      status.focus();
    } else {
      handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  // -- the macro picker: fill the reply box without reloading the page -------------------------
  var picker = doc.getElementById("macro-picker");
  var macroField = doc.getElementById("macro");
  if (picker && body && window.fetch) {
    picker.addEventListener("submit", function (event) {
      var choice = doc.getElementById("macro-choice");
      if (!choice || !choice.value) { return; }
      event.preventDefault();
      var url = picker.getAttribute("data-url").replace(/\/0$/, "/" + encodeURIComponent(choice.value));
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { if (!response.ok) { throw new Error(response.status); } return response.json(); })
        .then(function (macro) {
          var start = body.selectionStart || 0, end = body.selectionEnd || 0, text = body.value;
          body.value = text.slice(0, start) + macro.body + text.slice(end);
          Object.keys(macro.fields).forEach(function (name) {
            var field = doc.getElementById(name);
            if (field) { field.value = macro.fields[name]; }
          });
          if (macroField) { macroField.value = String(macro.id); }
          body.focus();
        })
        .catch(function () { picker.submit(); });  // the page's own way, with a reload
    });
  }

  // -- presence: who else has this ticket open -------------------------------------------------
  var presence = doc.getElementById("presence");
  var tokenField = doc.querySelector("#triage input[name=csrf_token]");
  if (presence && window.fetch) {
    var every = (parseInt(presence.getAttribute("data-every"), 10) || 20) * 1000;
    window.setInterval(function () {
      var headers = {"Accept": "application/json"};
      if (tokenField) { headers["X-CSRFToken"] = tokenField.value; }
      fetch(presence.getAttribute("data-url"), {method: "POST", credentials: "same-origin", headers: headers})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (answer) {
          if (!answer) { return; }
          presence.hidden = !answer.others.length;
          presence.textContent = answer.others.length
            ? presence.getAttribute("data-label") + " " + answer.others.join(", ") : "";
        })
        .catch(function () {});
    }, every);
  }
})();
