// Small behaviours the pages share: copy buttons, auto-submitting selects, input file uploads.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const target = document.querySelector(button.dataset.copy);
  const text = target ? (target.value || target.textContent) : "";
  try {
    await navigator.clipboard.writeText(text.trim());
  } catch (_) {
    const range = document.createRange();
    range.selectNodeContents(target);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    document.execCommand("copy");
  }
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = "Copy"; }, 1500);
});

document.addEventListener("change", async (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select) { select.form.submit(); return; }
  const input = event.target.closest("input[type=file][data-upload-url]");
  if (!input || !input.files.length) return;
  const status = document.getElementById(input.dataset.status);
  const hidden = document.getElementById(input.dataset.target);
  const form = new FormData();
  form.append("file", input.files[0]);
  status.textContent = "Uploading…";
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const response = await fetch(input.dataset.uploadUrl, {method: "POST", body: form, headers: {"X-CSRFToken": token}});
  const body = await response.json();
  if (response.ok) {
    hidden.value = body.download_url;
    status.textContent = "Uploaded.";
  } else {
    hidden.value = "";
    status.textContent = body.message || "Upload failed.";
  }
});
