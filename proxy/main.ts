/**
 * Entry point: argv -> load config -> wire objects -> listen; SIGTERM/SIGINT stop cleanly, SIGHUP
 * reloads. `status` and `reload` talk to the running daemon over its control socket.
 */
import { systemClock } from '../common/clock.ts';
import { errorText, isSipmasqError } from '../common/errors.ts';
import { Logger } from '../common/logger.ts';
import { nodeSocketFactory } from '../common/socket-factory.ts';
import { helpText, parseCli, readRawConfig } from './cli.ts';
import { type Config, validateConfig } from './config.ts';
import { Daemon } from './daemon.ts';
import { detectAddresses } from './net-detect.ts';
import { controlRequest } from './status/control-server.ts';
import { formatStatus, type StatusReport } from './status/status-report.ts';

declare const SIPMASQ_VERSION: string;
const VERSION = typeof SIPMASQ_VERSION === 'string' ? SIPMASQ_VERSION : '0.0.0-dev';

async function main(argv: string[]): Promise<number> {
  const args = parseCli(argv);
  if (args.command === 'help') {
    process.stdout.write(`${helpText(VERSION)}\n`);
    return 0;
  }
  if (args.command === 'version') {
    process.stdout.write(`sipmasq ${VERSION}\n`);
    return 0;
  }
  const load = (): Config => validateConfig(readRawConfig(args));
  const config = load();
  if (args.command === 'check-config') {
    const addrs = detectAddresses(config);
    process.stdout.write(`${JSON.stringify({ config, addresses: addrs }, null, 2)}\n`);
    return 0;
  }
  if (args.command === 'status' || args.command === 'reload') {
    const result = await controlRequest(config.controlSocket, args.command);
    if (args.command === 'status' && !args.json)
      process.stdout.write(`${formatStatus(result as StatusReport)}\n`);
    else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return 0;
  }

  const logger = Logger.root(config.logLevel);
  const daemon = new Daemon(config, {
    version: VERSION,
    clock: systemClock,
    sockets: nodeSocketFactory,
    logger,
    detect: (c) => detectAddresses(c),
    loadConfig: load,
  });
  const stop = (signal: string) => {
    logger.info('signal received', { signal });
    daemon.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error('error while stopping', { error: errorText(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    daemon.reload().catch(() => {
      // reload() has logged why; the running configuration stays.
    });
  });
  process.on('uncaughtException', (err) => {
    logger.error('uncaught exception (bug): continuing', {
      error: errorText(err),
      stack: err.stack?.split('\n')[1]?.trim(),
    });
  });
  process.on('unhandledRejection', (err) => {
    logger.error('unhandled rejection (bug): continuing', { error: errorText(err) });
  });
  await daemon.start();
  return -1; // keep running
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err: unknown) => {
    const option =
      isSipmasqError(err) && typeof err.details.option === 'string' ? ` (option ${err.details.option})` : '';
    process.stderr.write(`sipmasq: ${errorText(err)}${option}\n`);
    process.exit(
      isSipmasqError(err, 'SMQ_ERR_CONFIG_INVALID') || isSipmasqError(err, 'SMQ_ERR_CONFIG_READ') ? 2 : 1,
    );
  },
);
