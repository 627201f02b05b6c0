/** Debian's Chromium driven by playwright-core (no browser download; see README requirements). */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Browser, chromium } from 'playwright-core';

export const chromiumPath = process.env.LIFT_CHROMIUM ?? '/usr/bin/chromium';

/** Headless, offline-quiet flags; playwright gives each launch a fresh temporary profile. */
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * Chromium with a home of its own (it writes crash-report settings under ~/.config/chromium and
 * a dconf cache under ~/.cache even with a temporary profile), removed when the browser closes.
 */
export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(chromiumPath)) {
    throw new Error(`Chromium not found at ${chromiumPath}: install Debian's "chromium" package (.ci/run does) or set LIFT_CHROMIUM.`);
  }
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'lift-chromium-'));
  const env = { ...process.env, HOME: home, XDG_CONFIG_HOME: path.join(home, '.config'), XDG_CACHE_HOME: path.join(home, '.cache') };
  try {
    const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs, env });
    browser.on('disconnected', () => fs.rmSync(home, { recursive: true, force: true }));
    return browser;
  } catch (err) {
    fs.rmSync(home, { recursive: true, force: true });
    throw err;
  }
}
