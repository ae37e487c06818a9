// bayesd's web page: every value from the controller is put in the page
// with textContent (never innerHTML), so a Subject of "<script>" is text.
"use strict";
(function () {
  var password = sessionStorage.getItem("bayesd-password") || "";
  var csrf = "";
  var oldest = 0;
  var current = null;
  function $(id) { return document.getElementById(id); }
  function say(t) { $("msg").textContent = t || ""; }
  function api(method, path) {
    var h = {};
    if (password) h["Password"] = password;
    if (method === "POST") h["X-CSRF-Token"] = csrf;
    return fetch(path, { method: method, headers: h, credentials: "omit", cache: "no-store" }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        if (r.status === 403 && !(j.error || "").startsWith("X-CSRF")) { showLogin(); throw new Error(j.error); }
        if (!r.ok) throw new Error(j.error || ("HTTP " + r.status));
        return j;
      });
    });
  }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function when(t) { return new Date(t * 1000).toISOString().replace("T", " ").slice(0, 19); }
  function showLogin() { $("login").hidden = false; $("app").hidden = true; }
  function start() {
    api("GET", "/csrf").then(function (j) {
      csrf = j.token; $("login").hidden = true; $("app").hidden = false;
      loadStat(); loadGraph(); loadHistory(false);
    }).catch(function (e) { say(e.message); });
  }
  function loadStat() {
    api("GET", "/stat").then(function (s) {
      var dl = $("stat"); dl.textContent = "";
      ["learned_spam", "learned_ham", "tokens", "remembered", "users", "db_bytes", "maturity", "uptime", "errors"].forEach(function (k) {
        if (s[k] === undefined) return;
        dl.appendChild(el("dt", k)); dl.appendChild(el("dd", typeof s[k] === "object" ? JSON.stringify(s[k]) : s[k]));
      });
    }).catch(function (e) { say(e.message); });
  }
  function bars(box, series, classes) {
    box.textContent = "";
    var n = series[0].length, max = 1;
    for (var i = 0; i < n; i++) { var t = 0; series.forEach(function (s) { t += s[i]; }); if (t > max) max = t; }
    for (var j = 0; j < n; j++) {
      var b = el("div", null, "bar"), tip = [];
      series.forEach(function (s, k) {
        var seg = el("span", null, classes[k]); seg.style.height = (s[j] * 100 / max) + "px"; b.appendChild(seg);
        if (s[j]) tip.push(classes[k] + " " + s[j]);
      });
      b.title = tip.join(", "); box.appendChild(b);
    }
  }
  function loadGraph() {
    api("GET", "/graph").then(function (g) {
      var acts = ["none", "accept", "flag", "quarantine", "reject"];
      bars($("per-hour"), acts.map(function (a) { return g.day.per_hour[a]; }), acts);
      bars($("histogram"), [g.day.score_histogram], ["score"]);
      $("scan-ms").textContent = "scan time: p50 " + g.day.scan_ms_p50.toFixed(2) + " ms, p99 " +
        g.day.scan_ms_p99.toFixed(2) + " ms (24 h); p50 " + g.week.scan_ms_p50.toFixed(2) + " ms, p99 " +
        g.week.scan_ms_p99.toFixed(2) + " ms (7 days), " + g.week.messages + " messages";
    }).catch(function (e) { say(e.message); });
  }
  function query() {
    var q = new URLSearchParams();
    [["action", "f-action"], ["min", "f-min"], ["max", "f-max"], ["sender", "f-sender"], ["rcpt", "f-rcpt"], ["text", "f-text"]].forEach(function (p) {
      var v = $(p[1]).value.trim(); if (v) q.set(p[0], v);
    });
    return q;
  }
  function loadHistory(more) {
    var q = query();
    if (more && oldest) q.set("before", oldest);
    api("GET", "/history?" + q.toString()).then(function (j) {
      var tb = $("rows").tBodies[0];
      if (!more) tb.textContent = "";
      j.rows.forEach(function (r) {
        var tr = el("tr", null, r.action); tr.dataset.id = r.id;
        [when(r.time), r.qid, r.sender, r.from, r.subject, r.recipients_count + " " + (r.recipients || ""), r.ip,
         r.prob.toFixed(5), r.action, r.scan_ms.toFixed(1)].forEach(function (v, i) {
          tr.appendChild(el("td", v, i === 8 ? "action" : ""));
        });
        var td = el("td"), b = el("button", "Learn as ham", "row-ham"); b.type = "button";
        b.addEventListener("click", function (ev) { ev.stopPropagation(); learn("learn_ham", r.digest); });
        td.appendChild(b); tr.appendChild(td);
        tr.addEventListener("click", function () { detail(r.id); });
        tb.appendChild(tr);
        oldest = r.id;
      });
      $("more").hidden = j.rows.length === 0;
    }).catch(function (e) { say(e.message); });
  }
  function detail(id) {
    api("GET", "/history/" + encodeURIComponent(id)).then(function (r) {
      current = r; $("detail").hidden = false; $("d-id").textContent = "#" + r.id;
      var dl = $("d-fields"); dl.textContent = "";
      ["time", "qid", "message_id", "sender", "from", "subject", "recipients_count", "recipients", "ip", "helo", "size",
       "prob", "action", "user", "scan_ms", "digest"].forEach(function (k) {
        dl.appendChild(el("dt", k)); dl.appendChild(el("dd", k === "time" ? when(r[k]) : r[k]));
      });
      var tb = $("d-features").tBodies[0]; tb.textContent = "";
      r.features.forEach(function (f) {
        var tr = el("tr");
        [f.text || f.hash, f.prob.toFixed(4), f.spam, f.ham].forEach(function (v) { tr.appendChild(el("td", v)); });
        tb.appendChild(tr);
      });
      ["d-spam", "d-ham", "d-forget"].forEach(function (b) { $(b).disabled = !r.learnable; });
      $("detail").scrollIntoView();
    }).catch(function (e) { say(e.message); });
  }
  function learn(what, digest) {
    api("POST", "/" + what + "?digest=" + encodeURIComponent(digest)).then(function (j) {
      say(what + ": " + j.result); loadStat();
    }).catch(function (e) { say(what + " failed: " + e.message); });
  }
  document.addEventListener("DOMContentLoaded", function () {
    $("login-form").addEventListener("submit", function (ev) {
      ev.preventDefault(); password = $("password").value;
      sessionStorage.setItem("bayesd-password", password); say(""); start();
    });
    $("filters").addEventListener("submit", function (ev) { ev.preventDefault(); oldest = 0; loadHistory(false); });
    $("more").addEventListener("click", function () { loadHistory(true); });
    $("d-spam").addEventListener("click", function () { learn("learn_spam", current.digest); });
    $("d-ham").addEventListener("click", function () { learn("learn_ham", current.digest); });
    $("d-forget").addEventListener("click", function () { learn("forget", current.digest); });
    start();
  });
})();
