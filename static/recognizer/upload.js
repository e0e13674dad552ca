// Progressive enhancement of the image forms (templates/recognizer/_upload_form.html and compare.html).
// Without this file each form is a plain multipart POST. With it a photo can also be dropped, pasted or
// taken with the camera, is previewed, and the button is disabled with a progress bar while working. The
// upload form also sends the photo to the JSON API and shows the server-rendered result of its permalink
// (?fragment=1) on this page, and its model dropdown follows each model's state from GET /api/v1/models.
(function () {
  "use strict";

  const form = document.querySelector("form.image-form");
  if (!form) {
    return;
  }
  const input = form.querySelector('input[type="file"][name="image"]');
  const modelSelect = form.querySelector('select[name="model"]');
  const submitButton = document.getElementById("upload-submit");
  const dropZone = document.getElementById("drop-zone");
  const preview = document.getElementById("upload-preview");
  const previewImage = document.getElementById("preview-image");
  const previewCaption = document.getElementById("preview-caption");
  const progress = document.getElementById("upload-progress");
  const progressText = document.getElementById("upload-progress-text");
  const result = document.getElementById("live-result");
  const classifyUrl = form.dataset.classifyUrl;
  const modelsUrl = form.dataset.modelsUrl;
  const busyText = form.dataset.busyText || "Working…";
  const POLL_LOADING_MS = 2000;

  // ---- choosing a file: picker, drop, paste, camera -------------------------------------------

  function formatBytes(bytes) {
    if (bytes < 1024) {
      return bytes + " bytes";
    }
    if (bytes < 1024 * 1024) {
      return (bytes / 1024).toFixed(1) + " KB";
    }
    return (bytes / 1024 / 1024).toFixed(1) + " MB";
  }

  function showPreview(file) {
    previewCaption.textContent = file.name + " · " + formatBytes(file.size);
    preview.hidden = false;
    if (!file.type.startsWith("image/")) {
      previewImage.hidden = true;
      previewImage.removeAttribute("src");
      previewImage.alt = "";
      return;
    }
    // A data: URL rather than a blob: URL, so the page needs no extra Content-Security-Policy source.
    const reader = new FileReader();
    reader.addEventListener("load", function () {
      previewImage.src = reader.result;
      previewImage.alt = "Preview of the chosen image, " + file.name;
      previewImage.hidden = false;
    });
    reader.readAsDataURL(file);
  }

  function useFile(file) {
    const transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
    clearError();
    showPreview(file);
  }

  input.addEventListener("change", function () {
    clearError();
    if (input.files.length > 0) {
      showPreview(input.files[0]);
    } else {
      preview.hidden = true;
    }
  });

  dropZone.addEventListener("dragover", function (event) {
    event.preventDefault();
    dropZone.classList.add("drop-zone-active");
  });
  dropZone.addEventListener("dragleave", function () {
    dropZone.classList.remove("drop-zone-active");
  });
  dropZone.addEventListener("drop", function (event) {
    event.preventDefault();
    dropZone.classList.remove("drop-zone-active");
    const files = event.dataTransfer ? event.dataTransfer.files : [];
    if (files.length > 0) {
      useFile(files[0]);
    }
  });

  document.addEventListener("paste", function (event) {
    const files = event.clipboardData ? Array.from(event.clipboardData.files) : [];
    const image = files.find(function (file) {
      return file.type.startsWith("image/");
    });
    if (image) {
      event.preventDefault();
      const name = image.name && image.name !== "image.png" ? image.name : "pasted-image." + image.type.split("/")[1];
      useFile(new File([image], name, { type: image.type }));
    }
  });

  const cameraButton = document.getElementById("camera-button");
  const cameraDialog = document.getElementById("camera-dialog");
  const cameraVideo = document.getElementById("camera-video");
  let cameraStream = null;

  function stopCamera() {
    if (cameraStream) {
      cameraStream.getTracks().forEach(function (track) {
        track.stop();
      });
      cameraStream = null;
    }
    if (cameraDialog.open) {
      cameraDialog.close();
    }
  }

  async function startCamera() {
    try {
      cameraStream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (error) {
      showError("The camera could not be used (" + error.name + "). Choose a photo instead.");
      input.click();
      return;
    }
    cameraVideo.srcObject = cameraStream;
    cameraDialog.showModal();
  }

  function capturePhoto() {
    const canvas = document.createElement("canvas");
    canvas.width = cameraVideo.videoWidth;
    canvas.height = cameraVideo.videoHeight;
    canvas.getContext("2d").drawImage(cameraVideo, 0, 0);
    canvas.toBlob(
      function (blob) {
        stopCamera();
        if (blob) {
          useFile(new File([blob], "camera-photo.jpg", { type: "image/jpeg" }));
        }
        cameraButton.focus();
      },
      "image/jpeg",
      0.92
    );
  }

  const hasCamera = Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && cameraDialog.showModal);
  if (hasCamera) {
    cameraButton.hidden = false;
    cameraButton.addEventListener("click", startCamera);
    document.getElementById("camera-capture").addEventListener("click", capturePhoto);
    document.getElementById("camera-cancel").addEventListener("click", stopCamera);
    cameraDialog.addEventListener("cancel", stopCamera);
  }
  document.getElementById("drop-hint").hidden = false;
  dropZone.classList.add("drop-zone-enhanced");

  // ---- model states ----------------------------------------------------------------------------

  // The server's own short wording (`summary`, as forms.option_label uses it); the full reason is on About.
  function optionLabel(model) {
    return usable(model) ? model.label : model.label + " (" + model.summary + ")";
  }

  function usable(model) {
    return model.state === "ready" || model.state === "pending";
  }

  function showModelStates(models) {
    models.forEach(function (model) {
      const option = modelSelect.querySelector('option[value="' + CSS.escape(model.name) + '"]');
      if (option) {
        option.textContent = optionLabel(model);
        option.disabled = !usable(model);
      }
      const badge = document.querySelector('[data-model-state="' + CSS.escape(model.name) + '"]');
      if (badge) {
        badge.textContent = model.state === "pending" ? "loads on first use" : model.state;
        badge.className = "badge state-" + model.state;
      }
      const summary = document.querySelector('[data-model-summary="' + CSS.escape(model.name) + '"]');
      if (summary) {
        summary.textContent = model.state === "failed" ? model.summary : "";
      }
    });
    const selected = modelSelect.options[modelSelect.selectedIndex];
    if (!selected || selected.disabled) {
      const firstUsable = Array.from(modelSelect.options).find(function (option) {
        return !option.disabled;
      });
      if (firstUsable) {
        firstUsable.selected = true;
      }
    }
  }

  let pollTimer = null;

  async function refreshModelStates() {
    if (!modelsUrl || !modelSelect) {
      return;
    }
    let models;
    try {
      const response = await fetch(modelsUrl, { headers: { Accept: "application/json" } });
      if (!response.ok) {
        return;
      }
      models = (await response.json()).models;
    } catch (error) {
      return; // the server-rendered states stay; the next classification asks again
    }
    showModelStates(models);
    clearTimeout(pollTimer);
    if (
      models.some(function (model) {
        return model.state === "loading";
      })
    ) {
      pollTimer = setTimeout(refreshModelStates, POLL_LOADING_MS);
    }
  }

  refreshModelStates();

  // ---- sending and showing the result ----------------------------------------------------------

  function errorBox() {
    let box = document.getElementById("upload-error");
    if (!box) {
      box = document.createElement("div");
      box.id = "upload-error";
      box.className = "alert alert-danger";
      box.setAttribute("role", "alert");
      form.insertBefore(box, dropZone);
    }
    return box;
  }

  function showError(message) {
    const box = errorBox();
    box.textContent = message;
    box.hidden = false;
  }

  function clearError() {
    const box = document.getElementById("upload-error");
    if (box) {
      box.hidden = true;
      box.textContent = "";
    }
  }

  function setBusy(busy, message) {
    submitButton.disabled = busy;
    form.setAttribute("aria-busy", busy ? "true" : "false");
    progress.hidden = !busy;
    progressText.textContent = message || "";
  }

  // The result is the server's own rendering (templates/recognizer/_result.html: chart, table, explanation),
  // fetched from the permalink as a fragment: one rendering of a result, with or without this script.
  function fragmentUrl(href) {
    const url = new URL(href, location.href);
    url.searchParams.set("fragment", "1");
    url.hash = "";
    return url.href;
  }

  async function showFragment(href) {
    const response = await fetch(fragmentUrl(href), { headers: { Accept: "text/html" } });
    if (!response.ok) {
      showError("The result could not be shown (" + response.status + " " + response.statusText + "). Try again.");
      return;
    }
    // Our own server-rendered template, parsed inertly and moved in (no script in it would run).
    const parsed = new DOMParser().parseFromString(await response.text(), "text/html");
    result.replaceChildren(...parsed.body.childNodes);
    result.hidden = false;
    result.focus();
  }

  if (result) {
    // A class row's link shows that class's heatmap here; without this script it opens the permalink.
    result.addEventListener("click", function (event) {
      const link = event.target.closest("a.explain-class");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) {
        return;
      }
      event.preventDefault();
      setBusy(true, "Drawing the heatmap…");
      showFragment(link.href)
        .catch(function (error) {
          showError("The heatmap could not be fetched (" + error.message + "). Try again.");
        })
        .finally(function () {
          setBusy(false);
        });
    });
  }

  async function readError(response) {
    try {
      const data = await response.json();
      if (data && data.error) {
        return data.error;
      }
    } catch (error) {
      // not JSON: fall through to the status line
    }
    return "The server answered " + response.status + " " + response.statusText + ". Try again.";
  }

  async function classify() {
    const body = new FormData(form);
    setBusy(true, busyText);
    try {
      const response = await fetch(classifyUrl, { method: "POST", body: body, headers: { Accept: "application/json" } });
      if (!response.ok) {
        showError(await readError(response));
        return;
      }
      clearError();
      await showFragment((await response.json()).permalink);
    } catch (error) {
      showError("The request could not be sent (" + error.message + "). Check the connection and try again.");
    } finally {
      setBusy(false);
      refreshModelStates();
    }
  }

  form.addEventListener("submit", function (event) {
    if (!classifyUrl || !result) {
      setBusy(true, busyText); // the plain POST goes on; the answer replaces this page
      return;
    }
    event.preventDefault();
    if (submitButton.disabled) {
      return;
    }
    if (input.files.length === 0) {
      showError("Choose an image first: pick a file, drop one here, paste one or take a photo.");
      input.focus();
      return;
    }
    classify();
  });

  // The page can come back from the back/forward cache with the button still disabled.
  window.addEventListener("pageshow", function () {
    setBusy(false);
  });
})();
