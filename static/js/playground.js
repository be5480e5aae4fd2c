// The playground page: fields that apply only for some options, live character
// counts, uploads with a preview, copy buttons.
// Validation, prices and submitting are htmx; this covers what htmx can't.
(function () {
  "use strict";

  function csrfToken(element) {
    const form = element.closest("form");
    const input = form && form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  // Fields that apply only for some options carry the spec's conditions in
  // data-applies-when (catalog/forms.py). While they do not hold, the field is
  // disabled and hidden: a disabled field is not posted, so the live check and
  // the submit see it as the validator does, absent and taking its default.
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

  function applyConditions(form) {
    // A condition may read a field that has just been disabled itself
    // (voice needs sound, sound needs pro): settle in a few passes.
    for (let pass = 0; pass < 5; pass++) {
      let changed = false;
      form.querySelectorAll("[data-applies-when]").forEach(function (control) {
        const applies = JSON.parse(control.dataset.appliesWhen).every((test) => meets(form, test));
        if (control.disabled !== applies) return;
        control.disabled = !applies;
        const box = control.closest(".item, .field");
        if (box) box.hidden = !applies;
        changed = true;
      });
      if (!changed) break;
    }
    // A field none of whose images applies is hidden with its legend.
    form.querySelectorAll(".field").forEach(function (field) {
      const items = field.querySelectorAll(".item");
      if (items.length) field.hidden = Array.from(items).every((item) => item.hidden);
    });
  }

  document.querySelectorAll("form").forEach(applyConditions);
  // Capturing, so fields are settled before htmx's live check reads the form.
  document.addEventListener(
    "change",
    function (event) {
      if (event.target.form) applyConditions(event.target.form);
    },
    true
  );

  // Live character count against the field's limit.
  document.addEventListener("input", function (event) {
    const field = event.target;
    if (!field.id) return;
    const counter = document.querySelector('[data-count-for="' + field.id + '"] .count');
    if (counter) counter.textContent = field.value.length;
  });

  function showPreview(fieldId) {
    const field = document.getElementById(fieldId);
    const preview = document.querySelector('[data-preview-for="' + fieldId + '"]');
    if (!field || !preview) return;
    const urls = field.value.split("\n").map((line) => line.trim()).filter((line) => /^https?:\/\//i.test(line));
    preview.replaceChildren(
      ...urls.map(function (url) {
        const media = document.createElement(preview.dataset.kind === "video" ? "video" : "img");
        media.src = url;
        if (media.tagName === "VIDEO") {
          media.muted = true;
          media.playsInline = true;
          media.preload = "metadata";
        } else {
          media.alt = "Preview of " + (field.labels[0] ? field.labels[0].textContent.trim() : "the image");
        }
        media.addEventListener("error", () => media.remove());
        return media;
      })
    );
  }

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (!target.id) return;
    if (document.querySelector('[data-preview-for="' + target.id + '"]')) showPreview(target.id);
  });

  // Uploads: the server sniffs the file and answers the URL to put in the field.
  document.addEventListener("change", async function (event) {
    const input = event.target;
    if (!input.matches("input[type=file][data-upload-url]") || !input.files.length) return;
    const status = input.closest(".upload").querySelector(".upload-status");
    const field = document.getElementById(input.dataset.target);
    const body = new FormData();
    body.append("file", input.files[0]);
    status.textContent = "Uploading…";
    status.classList.add("busy");
    try {
      const response = await fetch(input.dataset.uploadUrl, {
        method: "POST",
        body: body,
        headers: { "X-CSRFToken": csrfToken(input) },
        credentials: "same-origin",
      });
      const answer = await response.json().catch(() => ({ error: "Upload failed (" + response.status + ")." }));
      if (!response.ok) throw new Error(answer.error || "Upload failed.");
      if (input.hasAttribute("data-append") && field.value.trim()) {
        field.value = field.value.trim() + "\n" + answer.url;
      } else {
        field.value = answer.url;
      }
      status.textContent = "Uploaded " + answer.name + ".";
      // Let the live check and the preview see the new value.
      field.dispatchEvent(new Event("change", { bubbles: true }));
    } catch (error) {
      status.textContent = error.message;
    } finally {
      status.classList.remove("busy");
      input.value = "";
    }
  });

  // Copy buttons: the text of the element named by data-copy.
  document.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const source = document.getElementById(button.dataset.copy);
    if (!source) return;
    try {
      await navigator.clipboard.writeText(source.textContent);
    } catch (error) {
      // No clipboard API (plain http off localhost): select the text instead.
      window.getSelection().selectAllChildren(source);
      document.execCommand("copy");
    }
    button.textContent = "Copied";
    setTimeout(() => (button.textContent = "Copy"), 1500);
  });
})();
