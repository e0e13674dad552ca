// The Train page (templates/recognizer/train.html): an "Add a class" button for more drop boxes.
// A model's page (train_model.html): while it trains, poll its status JSON, update the stage, epoch and
// feature count, and redraw the chart as each epoch comes; reload once training has ended, to show the
// result. Without this script the form still posts (a zip, or the two boxes served) and the model's page
// refreshes itself through its <meta http-equiv="refresh">.
(function () {
  "use strict";

  const add = document.getElementById("add-class");
  const boxes = document.getElementById("class-boxes");
  if (add && boxes) {
    add.classList.remove("d-none");
    add.addEventListener("click", () => {
      const number = boxes.querySelectorAll(".class-box").length + 1;
      const box = boxes.querySelector(".class-box").cloneNode(true);
      for (const label of box.querySelectorAll("label")) {
        label.textContent = label.textContent.replace(/Class \d+/, `Class ${number}`);
        label.htmlFor = label.htmlFor.replace(/\d+$/, String(number));
      }
      for (const input of box.querySelectorAll("input")) {
        input.id = input.id.replace(/\d+$/, String(number));
        input.name = input.name.replace(/\d+$/, String(number));
        input.value = "";
      }
      add.before(box);
      box.querySelector("input").focus();
    });
  }

  const progress = document.getElementById("train-progress");
  if (!progress || progress.dataset.state !== "training") return;
  const state = document.getElementById("train-state");
  const stage = document.getElementById("train-stage");
  const epoch = document.getElementById("train-epoch");
  const features = document.getElementById("train-features");
  const chart = document.getElementById("train-chart");
  let shownEpoch = Number(epoch.textContent);

  async function poll() {
    try {
      const response = await fetch(progress.dataset.statusUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      const status = await response.json();
      state.textContent = status.state;
      stage.textContent = status.stage;
      epoch.textContent = status.epoch;
      features.textContent = `${status.features_done} / ${status.photos}`;
      if (status.epoch !== shownEpoch) {
        shownEpoch = status.epoch;
        chart.src = `${progress.dataset.chartUrl}?epochs=${status.epoch}`;
        chart.alt = `Training progress chart over ${status.epoch} epochs: training loss now ${status.loss.toFixed(3)}, validation accuracy now ${Math.round(status.val_accuracy * 100)}%`;
      }
      if (status.state !== "training") window.location.reload();
    } catch (error) {
      // a missed poll is retried by the next one
    }
  }
  window.setInterval(poll, 1000);
})();
