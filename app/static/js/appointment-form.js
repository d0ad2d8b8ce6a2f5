// "New appointment": when the service changes and the chosen clinician does not offer it, choose
// the first clinician who does (the server does the same when it shows the form again).
(function () {
  const service = document.getElementById("service_id");
  const clinician = document.getElementById("clinician_id");
  const data = document.getElementById("service-clinicians");
  if (!service || !clinician || !data) return;
  const offeredBy = JSON.parse(data.textContent);
  service.addEventListener("change", function () {
    const ids = (offeredBy[service.value] || []).map(String);
    if (ids.length && !ids.includes(clinician.value)) clinician.value = ids[0];
  });
})();
