// Trainer persona editor: jump to an error line, and the preview call (nothing is stored).
(function () {
  "use strict";
  var csrf = document.querySelector('meta[name="csrf-token"]').content;
  var yaml = document.getElementById("yaml");

  function goToLine(n) {
    if (!yaml || !n) return;
    var lines = yaml.value.split("\n"), start = 0;
    for (var i = 0; i < n - 1 && i < lines.length; i++) start += lines[i].length + 1;
    var end = start + (lines[n - 1] || "").length;
    yaml.focus();
    yaml.setSelectionRange(start, end);
    var lineHeight = yaml.scrollHeight / Math.max(lines.length, 1);
    yaml.scrollTop = Math.max(0, (n - 5) * lineHeight);
  }
  var err = document.getElementById("persona-error");
  if (err && err.dataset.line) {
    err.addEventListener("click", function () { goToLine(parseInt(err.dataset.line, 10)); });
  }

  var startBtn = document.getElementById("preview-start");
  if (!startBtn) return;
  var panel = document.getElementById("preview"), log = document.getElementById("preview-log");
  var form = document.getElementById("preview-reply"), input = document.getElementById("preview-text");
  var status = document.getElementById("preview-status"), moodEl = document.getElementById("preview-mood");
  var token = null;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;  // textContent: persona text is never parsed as HTML
    return e;
  }
  function say(role, text) {
    var line = el("div", "line " + role);
    line.appendChild(el("div", "bubble", text));
    log.appendChild(line);
    log.scrollTop = log.scrollHeight;
  }
  function showFindings(list) {
    var names = {ok: "做到", violation: "违规", missing: "缺失"};
    (list || []).forEach(function (f) {
      var box = el("div", "finding " + f.verdict + " " + (f.severity || ""));
      box.appendChild(el("strong", null, (f.title || f.rule) + "（" + (names[f.verdict] || f.verdict) + "）"));
      box.appendChild(el("div", null, f.verdict === "ok" ? "做到了这一步。" : (f.message || "")));
      if (f.suggestion && f.verdict !== "ok") box.appendChild(el("div", "std", "标准话术：" + f.suggestion));
      log.appendChild(box);
    });
  }
  function post(url, data) {
    var body = data instanceof FormData ? data : new FormData();
    if (body !== data) Object.keys(data).forEach(function (k) { body.append(k, data[k]); });
    return fetch(url, {method: "POST", body: body, credentials: "same-origin",
                       headers: {"X-CSRF-Token": csrf, "Accept": "application/json"}})
      .then(function (r) { return r.json(); });
  }
  function handle(res) {
    if (!res.ok) {
      var e = res.error || {};
      status.textContent = (e.line ? "第 " + e.line + " 行：" : "") + (e.message || res.error || "出错了");
      if (e.line) goToLine(e.line);
      return;
    }
    token = res.token;
    showFindings(res.findings);
    if (res.caller) say("caller", res.caller);
    moodEl.textContent = "情绪 " + res.mood + "/10";
    if (res.ended) {
      var r = res.report || {};
      status.textContent = "通话结束（" + res.end_reason + "）" + (r.score != null ? "，得分 " + r.score : "");
      input.disabled = true;
    } else {
      status.textContent = "";
      input.disabled = false;
      input.focus();
    }
  }
  startBtn.addEventListener("click", function () {
    panel.hidden = false;
    log.textContent = "";
    status.textContent = "正在接通…";
    // the whole editor form: YAML, form fields and what they were, so unsaved changes play too
    post(startBtn.dataset.url, new FormData(document.getElementById("persona-form"))).then(handle)
      .catch(function () { status.textContent = "网络错误，请重试"; });
  });
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = input.value.trim();
    if (!text || !token) return;
    say("agent", text);
    input.value = "";
    input.disabled = true;
    post(startBtn.dataset.replyUrl, {token: token, text: text}).then(handle)
      .catch(function () { status.textContent = "网络错误，请重试"; input.disabled = false; });
  });
  input.addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey) { ev.preventDefault(); form.requestSubmit(); }
  });
})();
