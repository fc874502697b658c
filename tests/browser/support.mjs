// What the browser tests share: the `wijkpuls` binary ($WIJKPULS_BIN, default
// target/debug/wijkpuls from the repository root) started on fresh SQLite databases, admin
// tokens, and Debian's headless Chromium; everything started is stopped after the file's tests.

import { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repo = path.resolve(here, '..', '..');
export const BIN = process.env.WIJKPULS_BIN
  ? path.resolve(process.env.WIJKPULS_BIN)
  : path.join(repo, 'target', 'debug', 'wijkpuls');
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const OUTPUT = path.join(repo, 'tests', 'output');
export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const cleanups = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

export function freshDatabase() {
  const dir = mkdtempSync(path.join(tmpdir(), 'wijkpuls-browser-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return `sqlite://${dir}/x.db`;
}

/** Starts `wijkpuls serve`; resolves once it logs `listening on http://ADDR`. */
export function startServer(databaseUrl, { listen = '127.0.0.1:0', demo = false, args: extra = [] } = {}) {
  assert.ok(existsSync(BIN), `no wijkpuls binary at ${BIN}: build it (cargo build) or set WIJKPULS_BIN`);
  const args = ['serve', '--listen', listen, '--database-url', databaseUrl];
  if (demo) args.push('--demo');
  args.push(...extra);
  const child = spawn(BIN, args, {
    env: { ...process.env, RUST_LOG: 'info,sqlx=warn', NO_COLOR: '1' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const server = {
    child,
    log: () => log,
    stop: () => stopServer(server),
  };
  cleanups.push(() => stopServer(server));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within 120 s:\n${log}`)), 120_000);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      log += chunk;
      const match = /listening on http:\/\/(\S+)/.exec(log.replace(/\x1b\[[0-9;]*m/g, ''));
      if (match && !server.addr) {
        clearTimeout(timer);
        server.addr = match[1];
        server.port = Number(match[1].split(':').pop());
        server.base = `http://${match[1]}`;
        resolve(server);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (!server.addr) reject(new Error(`the server exited (${code}) before listening:\n${log}`));
    });
  });
}

export async function stopServer(server) {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill('SIGTERM');
  const timer = setTimeout(() => server.child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export function adminToken(databaseUrl) {
  return new Promise((resolve, reject) => {
    execFile(BIN, ['token', '--role', 'admin', '--database-url', databaseUrl], (error, stdout, stderr) => {
      if (error) reject(new Error(`wijkpuls token failed: ${stderr}`));
      else resolve(stdout.trim());
    });
  });
}

export async function openBrowser() {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  cleanups.push(() => browser.close());
  return browser;
}
