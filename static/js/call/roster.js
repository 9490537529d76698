// Who is in the call, what each hears, who is muted or in the background, and who seems to be speaking.

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
        name.textContent = person.id === myId ? `${person.name} (you)` : person.name;
        const hears = document.createElement("span");
        hears.className = "person-hears";
        hears.append("hears ");
        const language = document.createElement("span");
        language.lang = person.hear;
        language.textContent = languages[person.hear] || person.hear;
        hears.append(language);
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
    const label = entry.muted ? "muted" : entry.background ? "in the background" : speaking ? "speaking" : "";
    if (entry.flags.textContent === label) return;
    entry.flags.textContent = label;
    entry.item.classList.toggle("is-speaking", speaking && !entry.muted);
  }

  get ids() {
    return [...this.items.keys()];
  }
}
