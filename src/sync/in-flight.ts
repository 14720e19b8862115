/**
 * Shares a promise while it is under way: every replica's lane asks the same question of the
 * source at about the same moment (sync/probe.ts, sync/fast-source.ts), and one answer serves them
 * all. Never one that has settled, so no answer is older than the asker.
 */
export class InFlight<T> {
  readonly #underWay = new Map<string, Promise<T>>();

  /** The promise under way for `key`, or `start()`'s, forgotten once it settles. */
  get(key: string, start: () => Promise<T>): Promise<T> {
    const known = this.#underWay.get(key);
    if (known !== undefined) return known;
    const mine = start();
    this.#underWay.set(key, mine);
    void mine
      .finally(() => {
        if (this.#underWay.get(key) === mine) this.#underWay.delete(key);
      })
      .catch(() => undefined);
    return mine;
  }
}
