// The page of a bulk invitation run (templates/providers/bulk_run.html), while the run is not done: every
// few seconds, ask the same page for its progress as JSON (?format=json) and show it; once the run is
// done, reload the page, which then lists the rows. Without JavaScript the Refresh button does the same.
(() => {
  const section = document.querySelector("[data-bulk-progress]");
  if (!section) return;
  const url = section.dataset.progressUrl;
  const interval = Number(section.dataset.pollInterval) || 2000;
  const bar = section.querySelector("progress");
  const badge = section.querySelector("[data-status-badge]");

  const show = (progress) => {
    for (const element of section.querySelectorAll("[data-field]")) {
      const value = progress[element.dataset.field];
      if (value !== undefined) element.textContent = value;
    }
    if (bar) {
      bar.max = progress.total;
      bar.value = progress.processed;
    }
    if (badge) {
      badge.className = `badge badge--${progress.status}`;
      badge.textContent = progress.status_label;
    }
  };

  const poll = async () => {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" });
    } catch {
      window.setTimeout(poll, interval); // the network failed for a moment: try again
      return;
    }
    // Anything but the JSON answer (signed out, access changed): stop; the Refresh button remains.
    if (!response.ok || !(response.headers.get("Content-Type") || "").includes("application/json")) return;
    const progress = await response.json();
    if (progress.done) {
      window.location.reload();
      return;
    }
    show(progress);
    window.setTimeout(poll, interval);
  };

  window.setTimeout(poll, interval);
})();
