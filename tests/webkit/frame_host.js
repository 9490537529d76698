// Runs in the host page (WebDriver's execute_script): frames `url` at phone size and hooks every
// document the frame loads (a form's submission loads a new one) before its scripts run: module
// scripts wait for the network, and the host looks for a new document every few milliseconds.
const [url, width, height] = arguments;
window.__errors = [];
document.body.replaceChildren();
document.body.style.margin = "0";
const frame = document.createElement("iframe");
frame.id = "phone";
frame.style.cssText = `width:${width}px;height:${height}px;border:0;display:block`;
const record = (win, text) => window.__errors.push(`${win.location.pathname}: ${text}`);
const hook = () => {
  const win = frame.contentWindow;
  if (!win) return;
  // The first document after about:blank may keep its window: hook windows and documents apart.
  if (win.document.__hooked === undefined) {
    win.document.__hooked = true;
    win.document.addEventListener("securitypolicyviolation", (event) =>
      record(win, `CSP blocked ${event.blockedURI} (${event.violatedDirective})`),
    );
  }
  if (win.__hooked) return;
  win.__hooked = true;
  win.addEventListener(
    "error",
    (event) => record(win, event.message || `failed to load ${event.target?.src || event.target?.href}`),
    true,
  );
  win.addEventListener("unhandledrejection", (event) => record(win, `unhandled rejection: ${event.reason}`));
  const consoleError = win.console.error.bind(win.console);
  win.console.error = (...args) => {
    record(win, `console.error: ${args.join(" ")}`);
    consoleError(...args);
  };
};
setInterval(hook, 2);
frame.src = url;
document.body.append(frame);
