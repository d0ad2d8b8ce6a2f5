// Copy buttons (`data-copy` = the id of the field to copy): shown only where the clipboard works.
(function () {
  if (window.porticoCopy || !navigator.clipboard) return;
  window.porticoCopy = true;
  function ready() {
    document.querySelectorAll("button[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var field = document.getElementById(button.dataset.copy);
        var note = document.getElementById(button.dataset.copy + "-copied");
        navigator.clipboard.writeText(field.value).then(function () {
          if (note) note.textContent = "Copied.";
        }, function () {
          field.select();
          if (note) note.textContent = "Select the link and copy it.";
        });
      });
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
