// Copy and Share buttons for invite links on the room page (no inline scripts: a CSP will forbid them).

import { gettext, loadCatalog } from "./i18n.js";

await loadCatalog();

function statusFor(button) {
  return button.closest(".invite-share")?.querySelector(".copy-status");
}

async function copyText(text) {
  // The Clipboard API needs a secure context; plain http on a LAN address falls back to execCommand.
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = document.createElement("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  const copied = document.execCommand("copy");
  area.remove();
  if (!copied) throw new Error("copy refused");
}

for (const button of document.querySelectorAll("[data-copy]")) {
  button.addEventListener("click", async () => {
    const status = statusFor(button);
    try {
      await copyText(button.dataset.copy);
      if (status) status.textContent = gettext("Link copied.");
    } catch {
      if (status) status.textContent = gettext("Couldn't copy: select the link and copy it by hand.");
    }
  });
}

if (typeof navigator.share === "function") {
  for (const button of document.querySelectorAll("[data-share]")) {
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.share({ title: button.dataset.shareTitle, url: button.dataset.share });
      } catch (error) {
        // Closing the share sheet rejects with AbortError; that is the person's choice, not a failure.
        if (error.name !== "AbortError") {
          const status = statusFor(button);
          if (status) status.textContent = gettext("Couldn't open sharing: copy the link instead.");
        }
      }
    });
  }
}
