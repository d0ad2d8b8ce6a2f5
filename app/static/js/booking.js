// The booking picker: choosing a day loads its free times in place (the links work without this).
(function () {
  const calendar = document.getElementById("booking-calendar");
  const panel = document.getElementById("day-times");
  if (!calendar || !panel || !window.fetch) return;
  let latest = 0;

  async function show(link, remember) {
    const ticket = ++latest;
    panel.setAttribute("aria-busy", "true");
    try {
      const response = await fetch(link.dataset.timesUrl, { credentials: "same-origin" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      const html = await response.text();
      if (ticket !== latest) return;
      panel.innerHTML = html;
      calendar.querySelectorAll("a[aria-current]").forEach(function (day) { day.removeAttribute("aria-current"); });
      link.setAttribute("aria-current", "true");
      document.querySelectorAll(".booking-steps li").forEach(function (step, index) {
        step.classList.toggle("is-done", index < 2);
        if (index === 2) step.setAttribute("aria-current", "step"); else step.removeAttribute("aria-current");
      });
      if (remember) history.pushState({ day: link.href }, "", link.href);
      const heading = panel.querySelector(".booking-day-heading");
      if (heading) heading.focus({ preventScroll: window.innerWidth >= 768 });
    } catch (error) {
      window.location.assign(link.href);  // the page itself shows the same day
    } finally {
      if (ticket === latest) panel.removeAttribute("aria-busy");
    }
  }

  calendar.addEventListener("click", function (event) {
    const link = event.target.closest("a[data-times-url]");
    if (!link || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    show(link, true);
  });

  window.addEventListener("popstate", function () {
    const here = calendar.querySelector('a[data-times-url][href="' + location.pathname + location.search + '"]');
    if (here) show(here, false); else window.location.reload();
  });
})();
