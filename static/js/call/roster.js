// Who is in the call, what each hears, who is muted or in the background, and who seems to be speaking.

import { gettext, interpolate } from "../i18n.js";

export class Roster {
  /** @param {HTMLUListElement} list */
  constructor(list) {
    this.list = list;
    this.items = new Map();
  }

  /** Redraws the list from a `state` message's participants. */
  render(participants, { myId, languages }) {
    this.items.clear();
    this.list.replaceChildren(
      ...participants.map((person) => {
        const item = document.createElement("li");
        item.className = "person";
        const name = document.createElement("span");
        name.className = "person-name";
        name.textContent = person.id === myId ? interpolate(gettext("%(name)s (you)"), { name: person.name }) : person.name;
        const hears = document.createElement("span");
        hears.className = "person-hears";
        const language = document.createElement("span");
        language.lang = person.hear;
        language.dir = "auto";
        language.textContent = languages[person.hear] || person.hear;
        // Where the language's name goes in the sentence is the translation's choice.
        const [before, after = ""] = gettext("hears %(language)s").split("%(language)s");
        hears.append(before, language, after);
        const flags = document.createElement("span");
        flags.className = "person-flags";
        item.append(name, hears, flags);
        item.classList.toggle("is-muted", person.muted);
        item.classList.toggle("is-background", Boolean(person.background));
        this.items.set(person.id, { item, flags, muted: person.muted, background: Boolean(person.background) });
        this.setSpeaking(person.id, false);
        return item;
      }),
    );
  }

  /** Marks `id` as speaking or not; muted people, and pages in the background, say so instead. */
  setSpeaking(id, speaking) {
    const entry = this.items.get(id);
    if (!entry) return;
    const label = entry.muted
      ? gettext("muted")
      : entry.background
        ? gettext("in the background")
        : speaking
          ? gettext("speaking")
          : "";
    if (entry.flags.textContent === label) return;
    entry.flags.textContent = label;
    entry.item.classList.toggle("is-speaking", speaking && !entry.muted);
  }

  get ids() {
    return [...this.items.keys()];
  }
}
