// 陪练: the call page. Caller lines arrive as server-sent events; replies go out with fetch.
// Everything shown is set with textContent, never innerHTML. The store is the truth: on any
// doubt (conflict, lost connection) the page reloads or reconnects and renders what is stored.
(function () {
  "use strict";
  var root = document.getElementById("call");
  if (!root) return;
  var d = root.dataset;
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var chat = document.getElementById("chat");
  var clock = document.getElementById("clock");
  var status = document.getElementById("status");
  var form = document.getElementById("reply-form");
  var text = document.getElementById("reply-text");
  var hints = document.getElementById("hints");
  var mood = document.getElementById("mood");
  var turns = parseInt(d.turns, 10) || 0;
  var busy = false;
  var clockStart = null;
  var source = null;
  var retries = 0;

  function scroll() { chat.scrollTop = chat.scrollHeight; }
  function say(msg) { status.textContent = msg || ""; }

  function bubble(role, content) {
    var line = document.createElement("div");
    line.className = "line " + role;
    var b = document.createElement("div");
    b.className = "bubble";
    b.textContent = content;
    var meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = role === "caller" ? d.callerWord : "我";
    line.appendChild(b);
    line.appendChild(meta);
    chat.appendChild(line);
    scroll();
    return line;
  }

  function tick() {
    if (clockStart === null) return;
    var s = (Date.now() - clockStart) / 1000;
    clock.textContent = s.toFixed(0);
    clock.classList.toggle("warn", s > 3 && s <= 5);  // the standard: answer within 3 s, then 5 s
    clock.classList.toggle("late", s > 5);
  }
  function startClock(offsetSeconds) { clockStart = Date.now() - (offsetSeconds || 0) * 1000; tick(); }
  function stopClock() { clockStart = null; }
  setInterval(tick, 250);

  function addHints(findings) {
    if (!hints) return;
    findings.forEach(function (f) {
      if (f.verdict === "ok") return;
      var item = document.createElement("div");
      item.className = "hint-item " + (f.severity || "");
      var msg = document.createElement("div");
      msg.textContent = f.message || f.rule;
      item.appendChild(msg);
      if (f.suggestion) {
        var std = document.createElement("div");
        std.className = "std";
        std.textContent = "标准话术：" + f.suggestion;
        item.appendChild(std);
      }
      hints.insertBefore(item, hints.firstChild);
    });
  }

  function setControls(enabled) {
    busy = !enabled;
    ["send", "hold", "hangup"].forEach(function (id) { document.getElementById(id).disabled = !enabled; });
  }

  function finish(url) { say("通话结束，正在生成报告…"); window.location.assign(url || d.reportUrl); }

  function listen() {
    if (source) return;
    var speaking = null;
    say(d.callerWord + "正在" + (d.callerWord === "客户" ? "输入" : "说话") + "…");
    source = new EventSource(d.streamUrl);
    source.addEventListener("piece", function (e) {
      var piece = JSON.parse(e.data).text;
      if (!speaking) { speaking = bubble("caller", ""); speaking.classList.add("speaking"); }
      speaking.firstChild.textContent += piece;
      scroll();
    });
    source.addEventListener("turn", function (e) {
      var t = JSON.parse(e.data);
      if (t.role === "caller") {
        if (!speaking) speaking = bubble("caller", "");
        speaking.firstChild.textContent = t.text;
        speaking.classList.remove("speaking");
        speaking = null;
        startClock(0);
      }
      if (mood && t.mood !== undefined && t.mood !== null) mood.textContent = t.mood;
      turns = t.idx + 1;
      retries = 0;
    });
    source.addEventListener("idle", function () { close(); say(""); text.focus(); });
    source.addEventListener("end", function (e) { close(); finish(JSON.parse(e.data).report_url); });
    source.addEventListener("busy", function () { close(); setTimeout(listen, 1000); });
    source.addEventListener("failure", function (e) { close(); say(JSON.parse(e.data).message); });
    source.onerror = function () {
      // lost connection: the store still has every finished turn; reload to render them
      close();
      retries += 1;
      say("连接中断，正在重新连接…");
      setTimeout(function () { window.location.reload(); }, Math.min(5000, 1000 * retries));
    };
  }

  function close() { if (source) { source.close(); source = null; } }

  function act(url, payload) {
    if (busy) return;
    setControls(false);
    payload = payload || {};
    payload.expect = turns;
    fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf},
      body: JSON.stringify(payload)
    }).then(function (r) {
      return r.json().then(function (body) { return {ok: r.ok, code: r.status, body: body}; });
    }).then(function (res) {
      setControls(true);
      if (!res.ok) {
        say(res.body.error || "出错了，请重试。");
        if (res.code === 409) setTimeout(function () { window.location.reload(); }, 1500);
        return;
      }
      var b = res.body;
      if (b.turn) bubble("agent", b.turn.text);
      turns = b.turns;
      stopClock();
      addHints(b.findings || []);
      if (mood && b.mood !== null && b.mood !== undefined) mood.textContent = b.mood;
      if (b.ended) return finish(b.report_url);
      say("");
      if (b.awaiting_caller) listen();
    }).catch(function () {
      setControls(true);
      say("网络异常，回复可能没有送达；正在刷新页面核对…");
      setTimeout(function () { window.location.reload(); }, 1500);
    });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var value = text.value.trim();
    if (!value) return;
    text.value = "";
    act(d.replyUrl, {text: value});
  });
  text.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });
  document.getElementById("hold").addEventListener("click", function () { act(d.holdUrl); });
  document.getElementById("hangup").addEventListener("click", function () {
    if (window.confirm("确定要挂机吗？挂机后通话结束。")) act(d.hangupUrl);
  });

  if (d.waiting !== "") startClock(parseFloat(d.waiting));
  if (d.awaitingCaller === "true") listen();
  scroll();
})();
