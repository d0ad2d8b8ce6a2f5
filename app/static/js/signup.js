// Checks the portal address while the owner types (the server checks again on submit).
(function () {
  const input = document.getElementById("subdomain");
  const feedback = document.getElementById("subdomain-feedback");
  if (!input || !feedback) return;
  let timer = null;
  let latest = 0;
  function show(ok, message) {
    input.classList.toggle("is-invalid", !ok);
    input.classList.toggle("is-valid", ok);
    input.setAttribute("aria-invalid", ok ? "false" : "true");
    feedback.className = ok ? "valid-feedback d-block" : "invalid-feedback d-block";
    feedback.textContent = message;
  }
  async function check() {
    const value = input.value.trim().toLowerCase();
    if (!value) return;
    const ticket = ++latest;
    try {
      const response = await fetch(input.dataset.checkUrl + "?subdomain=" + encodeURIComponent(value),
                                   { headers: { "Accept": "application/json" } });
      if (ticket !== latest || !response.ok) return;
      const result = await response.json();
      show(result.available, result.message);
    } catch (error) { /* offline: the server checks on submit */ }
  }
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(check, 250);
  });
})();
