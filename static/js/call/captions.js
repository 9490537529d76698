// Live captions: one line per stretch of speech, the translation above the speaker's own words.

// A pause this long ends a caption line: the next fragment from that speaker starts a new one.
const NEW_LINE_AFTER_MS = 2000;
// Older lines are dropped so that a long call does not grow the page without end.
const MAX_LINES = 50;
// Within this many pixels of the bottom, new text keeps the newest line in view; further up,
// the person is reading back and the list stays where they put it.
const STICKY_PX = 48;

export class Captions {
  /** @param {HTMLOListElement} list the scrolling list the lines go in */
  constructor(list) {
    this.list = list;
    this.open = new Map();
    this.lastFragmentAt = new Map();
  }

  /** Appends one fragment (docs/signalling.md `captions`); `spokenLanguage` labels the original. */
  add({ speaker, name, language, kind, text }, spokenLanguage) {
    const now = performance.now();
    let line = this.open.get(speaker);
    if (!line || now - this.lastFragmentAt.get(speaker) > NEW_LINE_AFTER_MS) {
      line = this.newLine(name);
      this.open.set(speaker, line);
    }
    this.lastFragmentAt.set(speaker, now);
    const target = kind === "original" ? line.original : line.translation;
    const lang = kind === "original" ? spokenLanguage : language;
    if (lang) target.lang = lang;
    const stick = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < STICKY_PX;
    // Fragments carry their own spacing: append exactly what arrived.
    target.append(text);
    if (stick) this.list.scrollTop = this.list.scrollHeight;
  }

  /** Whether a fragment from `speaker` arrived within the last `ms`. */
  heardWithin(speaker, ms) {
    const at = this.lastFragmentAt.get(speaker);
    return at !== undefined && performance.now() - at < ms;
  }

  newLine(name) {
    const item = document.createElement("li");
    item.className = "caption";
    const who = document.createElement("p");
    who.className = "caption-name";
    who.textContent = name;
    const translation = document.createElement("p");
    translation.className = "caption-translation";
    const original = document.createElement("p");
    original.className = "caption-original";
    item.append(who, translation, original);
    this.list.append(item);
    while (this.list.children.length > MAX_LINES) this.list.firstElementChild.remove();
    return { translation, original };
  }
}
