/**
 * Headless Chromium from Debian's `chromium` package, driven by playwright-core (which brings no
 * browser of its own). Tests that need it skip locally when it is missing and fail under CI=true;
 * `.ci/run` installs it.
 */
import { existsSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { chromium, type Browser } from "playwright-core";

/** The Chromium binary itself: Debian's /usr/bin/chromium is a shell wrapper around it. */
const CANDIDATES = ["/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser"];

export function findChromium(): string | null {
  for (const candidate of CANDIDATES) if (existsSync(candidate)) return candidate;
  const which = spawnSync("which", ["chromium"], { encoding: "utf8" });
  return which.status === 0 && which.stdout.trim() ? which.stdout.trim() : null;
}

export async function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({
    executablePath,
    headless: true,
    // Root (CI, this machine) cannot use Chromium's sandbox; /dev/shm is small in containers.
    args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
  });
}
