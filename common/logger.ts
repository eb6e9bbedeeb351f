/**
 * One namespaced logger per module, writing `level name: message [key:value ...]` lines to stderr
 * (procd hands stderr to logd on OpenWrt). A line about a call carries its Call-ID as a field.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, string | number | boolean | null | undefined>;

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LogSink {
  write(line: string): void;
}

export const stderrSink: LogSink = { write: (line) => process.stderr.write(`${line}\n`) };

/** A sink that keeps lines in memory, for tests. */
export class MemorySink implements LogSink {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && Object.hasOwn(ORDER, value);
}

function formatValue(v: string | number | boolean | null): string {
  const s = String(v);
  return /[\s\]]/.test(s) ? JSON.stringify(s) : s;
}

export class Logger {
  constructor(
    readonly name: string,
    private readonly state: { level: LogLevel; sink: LogSink },
  ) {}

  static root(level: LogLevel = 'info', sink: LogSink = stderrSink): Logger {
    return new Logger('sipmasq', { level, sink });
  }

  child(name: string): Logger {
    return new Logger(`${this.name}:${name}`, this.state);
  }

  setLevel(level: LogLevel): void {
    this.state.level = level;
  }

  enabled(level: LogLevel): boolean {
    return ORDER[level] >= ORDER[this.state.level];
  }

  debug(message: string, fields?: LogFields): void {
    this.log('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.log('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.log('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.log('error', message, fields);
  }

  private log(level: LogLevel, message: string, fields?: LogFields): void {
    if (!this.enabled(level)) return;
    let line = `${level} ${this.name}: ${message}`;
    if (fields) {
      const parts: string[] = [];
      for (const [k, v] of Object.entries(fields)) if (v !== undefined) parts.push(`${k}:${formatValue(v)}`);
      if (parts.length) line += ` [${parts.join(' ')}]`;
    }
    this.state.sink.write(line);
  }
}
