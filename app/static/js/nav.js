// The site menu. Without this script the menu is simply shown open (see `.no-js` in portico.css);
// with it, the "Menu" button folds it up on small screens, and the "Practice" group (a <details>,
// which opens and closes by itself) closes again on Escape, a click elsewhere or when the focus leaves it.
document.documentElement.classList.replace("no-js", "js");

document.addEventListener("DOMContentLoaded", function () {
  const toggle = document.querySelector(".site-menu-toggle");
  const menu = document.getElementById("site-menu");
  const groups = document.querySelectorAll("details.nav-dropdown");

  function setOpen(open) {
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
    menu.classList.toggle("show", open);
  }

  if (toggle && menu) {
    toggle.addEventListener("click", function () {
      setOpen(toggle.getAttribute("aria-expanded") !== "true");
    });
  }

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    groups.forEach(function (group) {
      if (group.open) {
        group.open = false;
        group.querySelector("summary").focus();
      }
    });
    if (toggle && toggle.getAttribute("aria-expanded") === "true" && menu.contains(document.activeElement)) {
      setOpen(false);
      toggle.focus();
    }
  });

  groups.forEach(function (group) {
    group.addEventListener("focusout", function (event) {
      if (group.open && event.relatedTarget && !group.contains(event.relatedTarget)) group.open = false;
    });
  });

  document.addEventListener("click", function (event) {
    groups.forEach(function (group) {
      if (group.open && !group.contains(event.target)) group.open = false;
    });
  });
});
