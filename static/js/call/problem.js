// The call's one problem box: a sentence and the one tap that fixes it. Several problems can be
// true at once (an interruption also silences the microphone); the box shows the one whose fix
// helps most, and the next one when that is fixed.

// Most important first: resuming after an interruption also restarts the microphone.
const PRIORITY = ["interrupted", "microphone"];

export class ProblemBox {
  /** @param {{box: HTMLElement, text: HTMLElement, action: HTMLButtonElement}} elements */
  constructor({ box, text, action }) {
    this.elements = { box, text, action };
    this.problems = new Map();
    action.addEventListener("click", () => this.current()?.fix());
  }

  /** Shows (or updates) problem `kind`: `text` for people, `actionLabel` on the button that runs `fix`. */
  show(kind, text, actionLabel, fix) {
    this.problems.set(kind, { text, actionLabel, fix });
    this.render();
  }

  clear(kind) {
    if (this.problems.delete(kind)) this.render();
  }

  clearAll() {
    this.problems.clear();
    this.render();
  }

  has(kind) {
    return this.problems.has(kind);
  }

  current() {
    const kind = PRIORITY.find((k) => this.problems.has(k));
    return kind ? this.problems.get(kind) : null;
  }

  render() {
    const { box, text, action } = this.elements;
    const problem = this.current();
    box.hidden = !problem;
    text.textContent = problem?.text ?? "";
    action.textContent = problem?.actionLabel ?? "";
  }
}
