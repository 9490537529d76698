// Exponential backoff for automatic retries: 0.5 s, 1 s, 2 s ... capped at 10 s.

const FIRST_MS = 500;
const CAP_MS = 10_000;

export class Backoff {
  constructor() {
    this.attempt = 0;
  }

  /** The delay before the next attempt, in ms. */
  next() {
    const delay = Math.min(CAP_MS, FIRST_MS * 2 ** this.attempt);
    this.attempt += 1;
    // Up to 20% jitter, so that everyone a server dropped at once does not come back at once.
    return Math.round(delay * (0.8 + Math.random() * 0.2));
  }

  reset() {
    this.attempt = 0;
  }
}
