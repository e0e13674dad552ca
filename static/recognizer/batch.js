// The job page (templates/recognizer/batch_job.html): while the job runs, poll its status JSON and update
// the progress bar; reload the page once it is finished, to show the gallery. Without this script the
// page's <meta http-equiv="refresh"> does the same, less often.
(function () {
  "use strict";
  const box = document.getElementById("job-progress");
  if (!box) return;
  const finished = ["done", "failed", "cancelled"];
  if (finished.includes(box.dataset.state)) return;
  const bar = document.getElementById("job-bar");
  const count = document.getElementById("job-count");
  const rate = document.getElementById("job-rate");
  const left = document.getElementById("job-left");
  const state = document.getElementById("job-state");

  async function poll() {
    try {
      const response = await fetch(box.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const status = await response.json();
      const done = status.done + status.failed;
      bar.value = done;
      bar.textContent = `${done} / ${status.total}`;
      count.textContent = `${done} / ${status.total}`;
      rate.textContent = status.images_per_s;
      state.textContent = status.state;
      if (status.images_per_s > 0) {
        left.textContent = `about ${Math.round((status.total - done) / status.images_per_s)} s left`;
      }
      if (finished.includes(status.state)) window.location.reload();
    } catch (error) {
      // a missed poll is retried by the next one
    }
  }
  window.setInterval(poll, 1000);
})();
