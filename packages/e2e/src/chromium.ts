import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium, or the one TASKMILL_CHROMIUM names. */
export const CHROMIUM = process.env.TASKMILL_CHROMIUM ?? '/usr/bin/chromium';

/**
 * Launch headless Chromium for the dashboard's browser tests. A missing browser fails the suite,
 * under CI and locally alike: those tests need it.
 */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium, or set TASKMILL_CHROMIUM)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
