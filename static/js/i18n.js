// The page's language for scripts: Django's JSON catalog (djangojs domain) for the language the
// page is in, fetched from this site (the CSP allows no other, and no eval: no plural formulas
// here, so scripts avoid plurals). Modules await loadCatalog() once before showing any text.

let catalog = {};

export async function loadCatalog() {
  const url = document.documentElement.dataset.jsCatalog;
  if (!url) return;
  try {
    const response = await fetch(url, { credentials: "same-origin" });
    if (response.ok) catalog = (await response.json()).catalog || {};
  } catch {
    // Untranslated text beats no call at all: the source strings stay.
  }
}

export function gettext(text) {
  const translated = catalog[text];
  return typeof translated === "string" && translated ? translated : text;
}

// Marks a string for the catalog where it is declared; translate it with gettext() where it is shown.
export function gettext_noop(text) {
  return text;
}

// "Trying again in %(delay)s" with {delay: "3 s"}: named placeholders, as in Django's own catalog.
export function interpolate(text, values) {
  return text.replace(/%\((\w+)\)s/g, (match, name) => (name in values ? String(values[name]) : match));
}
