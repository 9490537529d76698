// Browsers that cannot make calls, found before the Join button is offered: in-app browsers of
// social apps, old browsers without WebRTC, and pages not opened over HTTPS.

import { gettext, gettext_noop } from "../i18n.js";

// In-app browsers identify themselves in the user agent; most lack getUserMedia or WebRTC, and
// those that have them lose the microphone when the app goes to the background.
const IN_APP_BROWSER = /FBAN|FBAV|FB_IAB|Instagram|LinkedInApp|MicroMessenger|Snapchat|TikTok|musical_ly|Pinterest|\bLine\//i;

export const INSECURE_CONTEXT = gettext_noop(
  "This page can't use your microphone because it was not opened over HTTPS: open the site with an https:// address (docs/iphone.md explains how for a phone on your network).",
);

/**
 * Why this browser can't make the call, in one sentence, and whether opening the page in
 * another browser would help; null when it can.
 * @returns {{text: string, otherBrowserHelps: boolean} | null} `text` in English: show gettext(text)
 */
export function callProblem() {
  if (IN_APP_BROWSER.test(navigator.userAgent)) {
    return {
      text: gettext_noop("This app's built-in browser can't make calls: open this page in Safari (or your usual browser)."),
      otherBrowserHelps: true,
    };
  }
  // Checked before the rest: a plain-http page has no getUserMedia in any browser.
  if (!window.isSecureContext) return { text: INSECURE_CONTEXT, otherBrowserHelps: false };
  if (!navigator.mediaDevices?.getUserMedia || !window.RTCPeerConnection) {
    return {
      text: gettext_noop(
        "This browser can't make calls (it lacks the microphone or WebRTC support they need): open this page in Safari or an up-to-date Chrome, Firefox or Edge.",
      ),
      otherBrowserHelps: true,
    };
  }
  return null;
}

/** Whether the microphone check can run here (it needs less than a call). */
export function microphoneCheckPossible() {
  return window.isSecureContext && Boolean(navigator.mediaDevices?.getUserMedia);
}

/**
 * "Open in Safari": a page can't open another browser, so the button copies this page's link
 * and shows it, ready to paste into Safari's address bar.
 * @param {{button: HTMLButtonElement, box: HTMLElement, field: HTMLInputElement, note: HTMLElement}} elements
 */
export function offerOtherBrowser({ button, box, field, note }) {
  button.hidden = false;
  button.addEventListener("click", async () => {
    field.value = location.href;
    box.hidden = false;
    field.select();
    let copied = false;
    try {
      await navigator.clipboard.writeText(location.href);
      copied = true;
    } catch {
      // No clipboard API (plain http, old browsers) or refused: the selected link is there to copy.
      copied = document.execCommand?.("copy") ?? false;
    }
    note.textContent = copied
      ? gettext("Link copied: open Safari and paste it into the address bar.")
      : gettext("Copy this link, then open Safari and paste it into the address bar.");
  });
}
