// The playground page: fields that apply only for some options, which fields
// the person has touched, image rows (upload, drop, paste, move, remove), live
// character counts, Ctrl/Cmd+Enter, copy buttons.
// Validation, prices and submitting are htmx; this covers what htmx can't.
(function () {
  "use strict";

  function csrfToken(element) {
    const form = element.form || element.closest("form");
    const input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // -- Fields that apply only for some options ------------------------------
  // They carry the spec's conditions in data-applies-when (catalog/forms.py).
  // While they do not hold, the field is disabled and hidden: a disabled field
  // is not posted, so the live check and the submit see it as the validator
  // does, absent and taking its default. A spare image row (not added yet) is
  // disabled and hidden the same way.
  function meets(form, test) {
    const control = form.elements[test.field];
    let value = "";
    if (control && !control.disabled) {
      value = control.type === "checkbox" ? String(control.checked) : control.value.trim();
    }
    if (value === "") return test.blank;
    if ("present" in test) return test.present;
    return test.values.includes(value);
  }

  function conditionsHold(form, control) {
    if (!control.dataset.appliesWhen) return true;
    return JSON.parse(control.dataset.appliesWhen).every((test) => meets(form, test));
  }

  function applies(form, control) {
    const row = control.closest("[data-image-row]");
    if (row && row.hasAttribute("data-spare")) return false;
    return conditionsHold(form, control);
  }

  function applyConditions(form) {
    // A condition may read a field that has just been disabled itself
    // (voice needs sound, sound needs pro): settle in a few passes.
    for (let pass = 0; pass < 5; pass++) {
      let changed = false;
      form.querySelectorAll("[data-applies-when], [data-image-row] input[type=url]").forEach(function (control) {
        const on = applies(form, control);
        if (control.disabled !== on) return;
        control.disabled = !on;
        const box = control.closest("[data-image-row], .field");
        if (box) box.hidden = !on;
        changed = true;
      });
      if (!changed) break;
    }
    // A field none of whose images applies is hidden with its legend.
    form.querySelectorAll(".field").forEach(function (field) {
      const rows = field.querySelectorAll("[data-image-row]");
      if (rows.length) field.hidden = Array.from(rows).every((row) => row.hidden);
    });
    form.querySelectorAll("[data-images]").forEach(refreshImageTools);
  }

  // -- Touched fields --------------------------------------------------------
  // The live check shows a field's errors only once the person changed it, and
  // every field's once they tried to generate: no "required" on arrival.
  function markTouched(control) {
    const form = control.form;
    const field = control.closest("[data-field]");
    const store = form && form.querySelector("[data-touched]");
    if (!field || !store || store.value === "*") return;
    const names = new Set(store.value ? store.value.split(",") : []);
    names.add(field.dataset.field);
    store.value = Array.from(names).join(",");
  }

  // Capturing, so the form is settled before htmx's live check reads it.
  // `input` covers typing, pasting, autofill, selects and switches alike.
  ["input", "change"].forEach(function (type) {
    document.addEventListener(
      type,
      function (event) {
        const control = event.target;
        if (!control.form || control.type === "file") return;
        markTouched(control);
        applyConditions(control.form);
      },
      true
    );
  });

  document.addEventListener(
    "submit",
    function (event) {
      const store = event.target.querySelector("[data-touched]");
      if (store) store.value = "*";
    },
    true
  );

  // -- Image rows --------------------------------------------------------------
  // One row per image (catalog/forms.py ImageRows). Rows are positions: moving
  // or removing an image moves URLs between rows, so a row keeps its name,
  // label ("Start frame") and conditions. Spare rows wait, hidden, for "Add".
  function urlInput(row) {
    return row.querySelector("input[type=url]");
  }

  function rowsOf(box) {
    return Array.from(box.querySelectorAll("[data-image-row]"));
  }

  function liveRows(box) {
    return rowsOf(box).filter((row) => !urlInput(row).disabled);
  }

  function usedRows(box) {
    return rowsOf(box).filter((row) => !row.hasAttribute("data-spare"));
  }

  function refreshImageTools(box) {
    const live = liveRows(box);
    live.forEach(function (row, index) {
      const up = row.querySelector('[data-image-move="-1"]');
      const down = row.querySelector('[data-image-move="1"]');
      if (up) up.disabled = index === 0;
      if (down) down.disabled = index === live.length - 1;
    });
    const add = box.querySelector("[data-image-add]");
    if (!add) return;
    const next = rowsOf(box).find((row) => row.hasAttribute("data-spare"));
    // At the field's most images there is no spare row left: disabled. A next
    // image that does not apply for these options (an end frame outside pro
    // mode) is not offered at all.
    add.disabled = !next;
    add.hidden = Boolean(next) && !conditionsHold(urlInput(next).form, urlInput(next));
    if (next) add.textContent = next.dataset.addLabel;
  }

  const thumbTimers = new WeakMap();

  function showThumb(row) {
    const thumb = row.querySelector("[data-thumb]");
    const url = urlInput(row).value.trim();
    const current = thumb.querySelector("img");
    if (!/^https?:\/\/\S+$/i.test(url)) {
      thumb.replaceChildren();
      return;
    }
    if (current && current.getAttribute("src") === url) return;
    const image = document.createElement("img");
    image.alt = row.querySelector("label").textContent.trim();
    image.src = url;
    thumb.replaceChildren(image);
  }

  // A URL that is not an image leaves an empty frame rather than a broken icon.
  document.addEventListener(
    "error",
    function (event) {
      if (event.target.matches && event.target.matches("[data-thumb] img")) event.target.remove();
    },
    true
  );

  document.addEventListener("input", function (event) {
    const row = event.target.closest && event.target.closest("[data-image-row]");
    if (!row || event.target.type !== "url") return;
    clearTimeout(thumbTimers.get(row));
    thumbTimers.set(row, setTimeout(() => showThumb(row), 500));
  });

  function setUrl(row, url) {
    urlInput(row).value = url;
    showThumb(row);
  }

  // Tell the page the images changed: touched, conditions, the live check.
  function imagesChanged(box) {
    const input = urlInput(usedRows(box)[0]);
    input.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function addRow(box) {
    const next = rowsOf(box).find((row) => row.hasAttribute("data-spare"));
    if (!next || !conditionsHold(urlInput(next).form, urlInput(next))) return null;
    next.removeAttribute("data-spare");
    applyConditions(urlInput(next).form);
    return next;
  }

  function moveImage(row, step) {
    const box = row.closest("[data-images]");
    const live = liveRows(box);
    const other = live[live.indexOf(row) + step];
    if (!other) return;
    const url = urlInput(row).value;
    setUrl(row, urlInput(other).value);
    setUrl(other, url);
    imagesChanged(box);
    // Keep the focus on the same button, now beside the image that moved.
    const button = other.querySelector('[data-image-move="' + step + '"]');
    (button && !button.disabled ? button : urlInput(other)).focus();
  }

  function removeImage(row) {
    const box = row.closest("[data-images]");
    const live = liveRows(box);
    const used = usedRows(box);
    const index = live.indexOf(row);
    for (let k = index; k < live.length - 1; k++) setUrl(live[k], urlInput(live[k + 1]).value);
    const last = live[live.length - 1];
    setUrl(last, "");
    // The last row goes back to the spares, unless the field needs it (its
    // fewest images) or an image that does not apply now still follows it.
    if (last === used[used.length - 1] && used.length > Number(box.dataset.min || 1)) {
      last.setAttribute("data-spare", "");
    }
    row.querySelector(".upload-status").textContent = "";
    applyConditions(urlInput(row).form);
    imagesChanged(box);
  }

  async function upload(url, file, element) {
    const body = new FormData();
    body.append("file", file);
    const response = await fetch(url, {
      method: "POST",
      body: body,
      headers: { "X-CSRFToken": csrfToken(element) },
      credentials: "same-origin",
    });
    const answer = await response.json().catch(() => ({ error: "Upload failed (" + response.status + ")." }));
    if (!response.ok) throw new Error(answer.error || "Upload failed.");
    return answer;
  }

  async function uploadInto(row, file) {
    const box = row.closest("[data-images]");
    const status = row.querySelector(".upload-status");
    status.textContent = "Uploading " + file.name + "…";
    status.classList.add("busy");
    try {
      const answer = await upload(box.dataset.uploadUrl, file, urlInput(row));
      setUrl(row, answer.url);
      status.textContent = "Uploaded " + answer.name + ".";
      imagesChanged(box);
    } catch (error) {
      status.textContent = error.message;
    } finally {
      status.classList.remove("busy");
    }
  }

  // Files dropped or pasted: the first into the row they landed on (or the
  // first empty one), the others into the next empty rows, added as needed.
  function uploadFiles(box, row, files) {
    // Rows claimed by an upload still under way count as taken.
    const claimed = new Set(row ? [row] : []);
    const empty = function () {
      const free = liveRows(box).find((r) => !claimed.has(r) && !urlInput(r).value.trim());
      return free || addRow(box);
    };
    let target = row || empty();
    for (const file of files) {
      if (!target) {
        const last = liveRows(box).pop();
        last.querySelector(".upload-status").textContent = "No room for " + file.name + ": the field is full.";
        return;
      }
      claimed.add(target);
      uploadInto(target, file);
      target = empty();
    }
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-image-move], [data-image-remove], [data-image-add]");
    if (!button) return;
    const row = button.closest("[data-image-row]");
    if (button.matches("[data-image-move]")) moveImage(row, Number(button.dataset.imageMove));
    else if (button.matches("[data-image-remove]")) removeImage(row);
    else {
      const added = addRow(button.closest("[data-images]"));
      if (added) urlInput(added).focus();
    }
  });

  document.addEventListener("change", function (event) {
    const input = event.target;
    if (!input.matches("[data-image-file]") || !input.files.length) return;
    uploadInto(input.closest("[data-image-row]"), input.files[0]).finally(() => (input.value = ""));
  });

  function dropBox(event) {
    const box = event.target.closest && event.target.closest("[data-images]");
    if (!box || !event.dataTransfer) return null;
    const types = Array.from(event.dataTransfer.types);
    return types.includes("Files") || types.includes("text/uri-list") ? box : null;
  }

  document.addEventListener("dragover", function (event) {
    const box = dropBox(event);
    if (!box) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    box.classList.add("dragging");
  });

  document.addEventListener("dragleave", function (event) {
    const box = event.target.closest && event.target.closest("[data-images]");
    if (box && !box.contains(event.relatedTarget)) box.classList.remove("dragging");
  });

  document.addEventListener("drop", function (event) {
    const box = dropBox(event);
    if (!box) return;
    event.preventDefault();
    box.classList.remove("dragging");
    const row = event.target.closest("[data-image-row]");
    const files = Array.from(event.dataTransfer.files);
    if (files.length) {
      uploadFiles(box, row, files);
      return;
    }
    // An image dragged from another page: its address.
    const url = event.dataTransfer.getData("text/uri-list").split("\n")[0].trim();
    const target = row || liveRows(box).find((r) => !urlInput(r).value.trim()) || addRow(box);
    if (url && target) {
      setUrl(target, url);
      imagesChanged(box);
    }
  });

  document.addEventListener("paste", function (event) {
    const box = event.target.closest && event.target.closest("[data-images]");
    const files = Array.from((event.clipboardData && event.clipboardData.files) || []);
    if (!box || !files.length) return; // text pastes into the URL input as usual
    event.preventDefault();
    uploadFiles(box, event.target.closest("[data-image-row]"), files);
  });

  // -- Video uploads -------------------------------------------------------------
  document.addEventListener("change", async function (event) {
    const input = event.target;
    if (!input.matches("input[type=file][data-target]") || !input.files.length) return;
    const status = input.closest(".upload").querySelector(".upload-status");
    const field = document.getElementById(input.dataset.target);
    status.textContent = "Uploading…";
    status.classList.add("busy");
    try {
      const answer = await upload(input.dataset.uploadUrl, input.files[0], input);
      field.value = answer.url;
      status.textContent = "Uploaded " + answer.name + ".";
      field.dispatchEvent(new Event("input", { bubbles: true }));
      showVideo(field);
    } catch (error) {
      status.textContent = error.message;
    } finally {
      status.classList.remove("busy");
      input.value = "";
    }
  });

  function showVideo(field) {
    const preview = document.querySelector('[data-preview-for="' + field.id + '"]');
    if (!preview) return;
    const url = field.value.trim();
    if (!/^https?:\/\/\S+$/i.test(url)) {
      preview.replaceChildren();
      return;
    }
    const video = document.createElement("video");
    video.muted = true;
    video.playsInline = true;
    video.preload = "metadata";
    video.src = url;
    preview.replaceChildren(video);
  }

  document.addEventListener("change", function (event) {
    if (event.target.id && event.target.type === "url" && !event.target.closest("[data-image-row]")) {
      showVideo(event.target);
    }
  });

  // -- Character counts ------------------------------------------------------------
  document.addEventListener("input", function (event) {
    const field = event.target;
    if (!field.id) return;
    const counter = document.querySelector('[data-count-for="' + field.id + '"] .count');
    if (counter) counter.textContent = field.value.length;
  });

  // -- Ctrl/Cmd+Enter generates --------------------------------------------------------
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    const form = event.target.form || (event.target.closest && event.target.closest("form"));
    if (!form || !form.dataset.submitWith) return;
    event.preventDefault();
    const button = document.getElementById(form.dataset.submitWith);
    if (!button || button.disabled) return;
    form.requestSubmit(button);
  });

  // The hint names the key this keyboard has.
  if (/Mac|iPhone|iPad/.test(navigator.platform)) {
    document.querySelectorAll("[data-shortcut-hint]").forEach((hint) => (hint.textContent = "⌘ + Enter"));
  }

  document.querySelectorAll("form").forEach(applyConditions);
})();
