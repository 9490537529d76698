// Entry point of the room page's live call (loaded as a module: no inline scripts under the CSP).

import { loadCatalog } from "../i18n.js";
import { Call } from "./call.js";

const root = document.getElementById("call");
if (root) {
  await loadCatalog();
  new Call(root).start();
}
