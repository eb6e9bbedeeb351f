/** A small typed event emitter: listeners are called synchronously, a throwing listener is isolated. */
export type Listener<T> = (payload: T) => void;

export class TypedEvents<M extends object> {
  private readonly listeners = new Map<keyof M, Set<Listener<never>>>();

  on<K extends keyof M>(event: K, fn: Listener<M[K]>): () => void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(fn as Listener<never>);
    return () => set.delete(fn as Listener<never>);
  }

  emit<K extends keyof M>(event: K, payload: M[K], onError?: (err: unknown) => void): void {
    for (const fn of this.listeners.get(event) ?? []) {
      try {
        (fn as Listener<M[K]>)(payload);
      } catch (err) {
        onError?.(err);
      }
    }
  }

  clear(): void {
    this.listeners.clear();
  }
}
