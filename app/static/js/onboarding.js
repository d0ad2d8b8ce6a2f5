// Onboarding forms: show and hide questions by their enableWhen conditions (the server decides
// again on every post), show the crisis resources the moment PHQ-9 item 9 is above zero, and
// autosave the answers to the server (never to the browser) with a fresh CSRF token each time.
(function () {
  "use strict";
  var form = document.getElementById("questionnaire-form") || document.getElementById("questionnaire-preview");
  if (!form) return;

  function values(linkId) {
    var out = [];
    form.querySelectorAll("[name]").forEach(function (input) {
      if (input.name !== linkId || input.closest("[hidden]")) return;
      if ((input.type === "radio" || input.type === "checkbox") && !input.checked) return;
      input.value.split("\n").forEach(function (v) { if (v.trim()) out.push(v.trim()); });
    });
    return out;
  }

  function matches(value, c) {
    if (c.code) return value.split("|").pop() === c.v.split("|").pop();
    return value === c.v;
  }

  function holds(c) {
    var given = values(c.q);
    if (c.op === "exists") return (given.length > 0) === (c.v === "true");
    if (c.op === "=") return given.some(function (v) { return matches(v, c); });
    if (c.op === "!=") return given.length > 0 && given.every(function (v) { return !matches(v, c); });
    return given.some(function (v) {
      var a = isNaN(v) ? v : Number(v), b = isNaN(c.v) ? c.v : Number(c.v);
      return { ">": a > b, "<": a < b, ">=": a >= b, "<=": a <= b }[c.op];
    });
  }

  function refresh() {
    for (var pass = 0; pass < 3; pass++) {  // conditions on conditional questions settle in a few passes
      form.querySelectorAll("[data-enable-when]").forEach(function (item) {
        var conditions = JSON.parse(item.dataset.enableWhen);
        var results = conditions.map(holds);
        var shown = item.dataset.enableBehavior === "any" ? results.some(Boolean) : results.every(Boolean);
        item.hidden = !shown;
      });
    }
    var crisis = document.getElementById("crisis-resources");
    if (crisis && form.dataset.crisisItem) {
      var answer = values(form.dataset.crisisItem);
      if (answer.length && answer[0] !== form.dataset.crisisSafe && crisis.hidden) {
        // Right below the answer just given, where the client is looking; role=alert announces it.
        var item = form.querySelector('[data-link-id="' + form.dataset.crisisItem + '"]');
        if (item) item.after(crisis);
        crisis.hidden = false;
      }
    }
  }

  var status = document.getElementById("autosave-status");
  var timer = null;

  function save() {
    timer = null;
    var body = new FormData(form);
    body.delete("action");
    // Files go with "Save" or "Submit" (the documents pipeline), never with every autosave.
    form.querySelectorAll('input[type="file"]').forEach(function (input) { body.delete(input.name); });
    fetch(form.dataset.autosaveUrl, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": form.elements.csrf_token.value, "Accept": "application/json" }
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (response.ok && type.indexOf("application/json") === 0) return response.json();
      throw response;
    }).then(function (data) {
      form.elements.csrf_token.value = data.csrf_token;
      status.textContent = "Answers saved " + data.saved_at + ".";
    }).catch(function () {
      status.textContent = "Your latest answers could not be saved. If you were signed out, sign in again: " +
        "everything saved before is kept on the server.";
    });
  }

  form.addEventListener("input", function () { refresh(); });
  // The post itself carries every answer: an autosave still waiting would only reach a form that
  // is already submitted (409).
  form.addEventListener("submit", function () { if (timer) clearTimeout(timer); timer = null; });
  form.addEventListener("change", function () {
    refresh();
    if (form.dataset.readOnly || !form.dataset.autosaveUrl) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(save, 800);
  });
  refresh();
})();
