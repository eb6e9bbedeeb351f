/**
 * Serialises asynchronous operations per key (here: per media session), so that a retransmitted offer
 * racing the first one gets the same ports and a release waits for an allocation in flight.
 */
export class OpQueue {
  private readonly tails = new Map<string, Promise<void>>();

  /** Run `fn` after every earlier operation on `key`; its result or error is passed through. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const op = async (): Promise<T> => {
      try {
        return await fn();
      } finally {
        // Done before the caller resumes, so that the key is seen as idle again at once.
        if (this.tails.get(key) === tail) this.tails.delete(key);
      }
    };
    const next = prev.then(op);
    const tail: Promise<void> = next.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    return next;
  }

  /** True while an operation on `key` is queued or running. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }

  /** Resolves when every operation queued so far has settled. */
  async drain(): Promise<void> {
    await Promise.all([...this.tails.values()]);
  }
}
