// sleuth UI script: live incident list, investigation state and chat.
// It is served as a file so that the Content-Security-Policy can forbid
// inline script. Everything received is inserted as text (textContent),
// except the list's rows, which are HTML rendered and escaped by the server.
"use strict";

(function () {
  var refresh = parseInt(document.body.getAttribute("data-refresh"), 10) || 5000;
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // Incidents list: refetch the rows and swap them when they changed.
  var rows = document.getElementById("incident-rows");
  if (rows && rows.getAttribute("data-src")) {
    var src = rows.getAttribute("data-src");
    var status = document.getElementById("live-status");
    var last = null;
    var tick = function () {
      fetch(src, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.text();
        })
        .then(function (html) {
          if (last !== null && html !== last) {
            rows.innerHTML = html; // server-rendered by html/template
          }
          last = html;
          if (status) status.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
        })
        .catch(function (e) {
          if (status) status.textContent = "Live updates paused: " + e.message + ".";
        })
        .finally(function () { setTimeout(tick, refresh); });
    };
    tick();
  }

  // Investigation page: reload once a running investigation finishes.
  var inv = document.getElementById("inv-state");
  if (inv) {
    var state = inv.getAttribute("data-state");
    if (state === "queued" || state === "running") {
      var poll = function () {
        fetch(inv.getAttribute("data-src"), { credentials: "same-origin" })
          .then(function (r) { return r.ok ? r.json() : null; })
          .then(function (j) {
            if (j && j.state !== state) { window.location.reload(); return; }
            setTimeout(poll, refresh);
          })
          .catch(function () { setTimeout(poll, refresh); });
      };
      setTimeout(poll, refresh);
    }
  }

  // Chat over POST /api/chat (HolmesGPT's ChatRequest / ChatResponse).
  var form = document.getElementById("chat-form");
  if (form) {
    var log = document.getElementById("chat-log");
    var ask = document.getElementById("chat-ask");
    var send = document.getElementById("chat-send");
    var chatStatus = document.getElementById("chat-status");
    var ctxEl = document.getElementById("chat-context");
    var history = [];

    var addMessage = function (role, text, calls) {
      var li = el("li", "msg role-" + role);
      li.appendChild(el("div", "who", role === "user" ? "you" : role));
      if (text) li.appendChild(el("pre", "content", text));
      (calls || []).forEach(function (c) {
        var d = el("div", "toolcall");
        var status = (c.result && c.result.status) || "";
        d.appendChild(el("span", "badge st-" + status.replace(/[^a-z_]/g, ""), status || "tool"));
        d.appendChild(document.createTextNode(" "));
        d.appendChild(el("code", "", c.description || c.tool_name || ""));
        li.appendChild(d);
      });
      log.appendChild(li);
      li.scrollIntoView({ block: "nearest" });
    };

    document.getElementById("chat-reset").addEventListener("click", function () {
      history = [];
      log.textContent = "";
      chatStatus.textContent = "New conversation.";
    });

    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var q = ask.value.trim();
      if (!q) return;
      var body = q;
      if (history.length === 0 && ctxEl) body = ctxEl.textContent + "\n\nQuestion: " + q;
      addMessage("user", q);
      ask.value = "";
      send.disabled = true;
      chatStatus.textContent = "Thinking…";
      fetch("/api/chat", {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ ask: body, conversation_history: history })
      })
        .then(function (r) {
          return r.text().then(function (t) {
            var j = null;
            try { j = JSON.parse(t); } catch (e) { /* not JSON */ }
            if (!r.ok) {
              var msg = (j && (j.detail || j.error || j.msg)) || t || ("HTTP " + r.status);
              if (typeof msg !== "string") msg = JSON.stringify(msg);
              if (r.status === 401) msg += " (log in again)";
              throw new Error(msg);
            }
            return j || {};
          });
        })
        .then(function (j) {
          if (Array.isArray(j.conversation_history)) history = j.conversation_history;
          addMessage("assistant", j.analysis || "(no answer)", j.tool_calls);
          chatStatus.textContent = "";
        })
        .catch(function (e) {
          addMessage("error", "The question failed: " + e.message);
          chatStatus.textContent = "";
        })
        .finally(function () { send.disabled = false; ask.focus(); });
    });
  }
})();
