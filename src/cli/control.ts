/**
 * The running mirror's status, for `fam-mirror status` (a unix socket in the state directory, mode
 * 0600 inside the 0700 directory: only its owner can read it) and for Prometheus (`--metrics`, HTTP
 * on a loopback address only). A client connects and reads one JSON document; nothing is accepted
 * from it, so the socket cannot be used to steer the mirror.
 */
import { chmod, readdir, unlink } from 'node:fs/promises';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { MirrorError } from '../errors.js';
import { formatMetrics } from '../core/metrics.js';
import type { ReplicaStatus } from '../types.js';

export interface StatusDocument {
  source: string;
  pid: number;
  startedAt: number;
  replicas: ReplicaStatus[];
}

export const SOCKET_NAME = 'control.sock';

export async function serveStatus(socketPath: string, get: () => StatusDocument): Promise<Server> {
  // A socket file left by a mirror that was killed: nobody answers on it, so it can go.
  if ((await queryStatus(socketPath).catch(() => undefined)) !== undefined) {
    throw new MirrorError('ERR_OPTIONS', `Another fam-mirror already runs for this source (${socketPath} answers). Stop it first.`, { path: socketPath });
  }
  await unlink(socketPath).catch(() => {});
  const server = createServer((sock) => {
    sock.on('error', () => {});
    sock.end(`${JSON.stringify(get())}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => resolve());
  });
  await chmod(socketPath, 0o600);
  server.unref();
  return server;
}

export function queryStatus(socketPath: string, timeoutMs = 3000): Promise<StatusDocument> {
  return new Promise((resolve, reject) => {
    const sock = connect(socketPath);
    let text = '';
    const timer = setTimeout(() => sock.destroy(new Error('no answer')), timeoutMs);
    sock.on('data', (d: Buffer) => (text += d.toString('utf8')));
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(text) as StatusDocument);
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** Every running mirror's status under a state directory (one subdirectory per source). */
export async function queryAll(stateDir: string): Promise<StatusDocument[]> {
  let names: string[];
  try {
    names = await readdir(stateDir);
  } catch {
    return [];
  }
  const docs = await Promise.all(names.map((n) => queryStatus(join(stateDir, n, SOCKET_NAME)).catch(() => undefined)));
  return docs.filter((d): d is StatusDocument => d !== undefined);
}

/** `host:port` on a loopback address only: metrics are for a local scraper or an ssh tunnel. */
export function parseMetricsAddress(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(addr);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (m === null || host === undefined || !(port >= 1 && port <= 65535)) {
    throw new MirrorError('ERR_OPTIONS', `--metrics takes HOST:PORT on a loopback address, e.g. 127.0.0.1:9477, not "${addr}".`);
  }
  if (!/^(127\.\d+\.\d+\.\d+|::1|localhost)$/.test(host)) {
    throw new MirrorError('ERR_OPTIONS', `--metrics ${addr}: only loopback addresses (127.0.0.1, ::1) are served; reach it from elsewhere through an ssh tunnel.`);
  }
  return { host, port };
}

export async function serveMetrics(addr: string, get: () => ReplicaStatus[]): Promise<HttpServer> {
  const { host, port } = parseMetricsAddress(addr);
  const server = createHttpServer((req, res) => {
    if (req.url !== '/metrics' && req.url !== '/') {
      res.writeHead(404).end('see /metrics\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(formatMetrics(get()));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? 'the address is in use (EADDRINUSE)' : (e.code ?? e.message);
      reject(new MirrorError('ERR_METRICS_PORT', `Cannot serve metrics on ${addr}: ${why}. Stop what listens there, or give another --metrics HOST:PORT.`, { cause: e }));
    });
    server.listen(port, host, () => resolve());
  });
  server.unref();
  return server;
}
