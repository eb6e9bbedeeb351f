/**
 * Command line: `sipmasq [run] [--config FILE] [--flag value ...]`, `sipmasq status [--json]`,
 * `sipmasq reload`, `sipmasq check-config`, `--help`, `--version`. Flags override the file; the file
 * overrides the embedded defaults.
 */
import { readFileSync } from 'node:fs';
import { SipmasqError } from '../common/errors.ts';
import { OPTIONS } from './config.ts';

export type Command = 'run' | 'status' | 'reload' | 'check-config' | 'help' | 'version';

export interface CliArgs {
  readonly command: Command;
  readonly configPath: string | null;
  /** Flag values by config key (strings; validateConfig converts). */
  readonly overrides: Record<string, unknown>;
  readonly json: boolean;
}

const COMMANDS: readonly Command[] = ['run', 'status', 'reload', 'check-config'];

export function parseCli(argv: readonly string[]): CliArgs {
  let command: Command = 'run';
  let configPath: string | null = null;
  let json = false;
  const overrides: Record<string, unknown> = {};
  const byFlag = new Map(OPTIONS.filter((o) => o.flag).map((o) => [o.flag!, o.key]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const [flag, inline] =
      arg.startsWith('--') && arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
    const value = () => {
      if (inline !== undefined) return inline;
      const v = argv[++i];
      if (v === undefined)
        throw new SipmasqError('SMQ_ERR_CONFIG_INVALID', `flag ${flag} needs a value`, { option: flag });
      return v;
    };
    if (i === 0 && (COMMANDS as readonly string[]).includes(arg)) command = arg as Command;
    else if (flag === '-h' || flag === '--help') command = 'help';
    else if (flag === '-V' || flag === '--version') command = 'version';
    else if (flag === '-c' || flag === '--config') configPath = value();
    else if (flag === '--json') json = true;
    else if (flag === '--modes') overrides.modes = value();
    else if (byFlag.has(flag)) overrides[byFlag.get(flag)!] = value();
    else
      throw new SipmasqError('SMQ_ERR_CONFIG_INVALID', `unknown argument '${arg}' (see --help)`, {
        option: arg,
      });
  }
  return { command, configPath, overrides, json };
}

/** The raw configuration object: file (if any) with flags on top. */
export function readRawConfig(args: CliArgs): Record<string, unknown> {
  let fromFile: Record<string, unknown> = {};
  if (args.configPath) {
    let text: string;
    try {
      text = readFileSync(args.configPath, 'utf8');
    } catch (err) {
      throw new SipmasqError('SMQ_ERR_CONFIG_READ', `${args.configPath}: ${(err as Error).message}`, {
        path: args.configPath,
      });
    }
    try {
      fromFile = JSON.parse(text) as Record<string, unknown>;
    } catch (err) {
      throw new SipmasqError(
        'SMQ_ERR_CONFIG_READ',
        `${args.configPath} is not valid JSON: ${(err as Error).message}`,
        { path: args.configPath },
      );
    }
    if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile))
      throw new SipmasqError('SMQ_ERR_CONFIG_READ', `${args.configPath} must hold a JSON object`);
  }
  return { ...fromFile, ...args.overrides };
}

export function helpText(version: string): string {
  const opts = OPTIONS.map((o) => {
    const def = Array.isArray(o.def)
      ? (o.def as unknown[]).join(',') || '(auto)'
      : o.def === null
        ? '(auto)'
        : String(o.def);
    const name = o.flag ? `${o.flag} <v>` : `(file) ${o.key}`;
    return `  ${name.padEnd(28)} ${o.doc} [${o.key}, default ${def}]`;
  });
  return [
    `sipmasq ${version}: SIP masquerading outbound proxy with an RTP relay`,
    '',
    'usage: sipmasq [run] [--config FILE] [options]   run the daemon',
    '       sipmasq status [--json] [--control-socket PATH | --config FILE]',
    '       sipmasq reload [--control-socket PATH | --config FILE]',
    '       sipmasq check-config [--config FILE] [options]',
    '',
    'The config file is JSON with the keys below; flags override it.',
    '  --modes <list>               outbound,transparent [modes]',
    ...opts,
    '  -h, --help / -V, --version',
  ].join('\n');
}
