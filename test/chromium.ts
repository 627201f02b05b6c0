/** Debian's Chromium driven by playwright-core (no browser download; see README requirements). */
import * as fs from 'node:fs';
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

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(chromiumPath)) {
    throw new Error(`Chromium not found at ${chromiumPath}: install Debian's "chromium" package (.ci/run does) or set LIFT_CHROMIUM.`);
  }
  return chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
}
