/** Time and timers, injected so that logic with timeouts is testable without waiting. */
export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  setInterval(fn: () => void, ms: number): Timer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref?.();
    return { cancel: () => clearTimeout(t) };
  },
  setInterval(fn, ms) {
    const t = setInterval(fn, ms);
    t.unref?.();
    return { cancel: () => clearInterval(t) };
  },
};

interface Scheduled {
  at: number;
  fn: () => void;
  every: number | null;
  cancelled: boolean;
}

/** A clock for tests: time moves only when advance() is called. */
export class ManualClock implements Clock {
  private current: number;
  private readonly queue: Scheduled[] = [];

  constructor(start = 1_700_000_000_000) {
    this.current = start;
  }

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): Timer {
    return this.schedule(fn, ms, null);
  }

  setInterval(fn: () => void, ms: number): Timer {
    return this.schedule(fn, ms, Math.max(1, ms));
  }

  /** Move time forward, running every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      const due = this.queue.filter((s) => !s.cancelled && s.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.current = Math.max(this.current, due.at);
      if (due.every === null) due.cancelled = true;
      else due.at += due.every;
      due.fn();
    }
    this.current = end;
    for (let i = this.queue.length - 1; i >= 0; i--) if (this.queue[i]?.cancelled) this.queue.splice(i, 1);
  }

  private schedule(fn: () => void, ms: number, every: number | null): Timer {
    const entry: Scheduled = { at: this.current + Math.max(0, ms), fn, every, cancelled: false };
    this.queue.push(entry);
    return {
      cancel: () => {
        entry.cancelled = true;
      },
    };
  }
}
