import { accessSync, constants } from "node:fs";

/**
 * The Chromium the console's browser tests drive (playwright-core brings no browser): CHROMIUM_PATH, or Debian's
 * package; undefined when there is none.
 */
export function chromiumPath(): string | undefined {
  const candidates = [
    process.env.CHROMIUM_PATH,
    "/usr/bin/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
  ].filter((path): path is string => path !== undefined && path !== "");
  return candidates.find((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export const CHROMIUM_MISSING =
  "The console's browser tests need Chromium, and none was found (CHROMIUM_PATH, /usr/bin/chromium).\n" +
  "Install it: sudo apt-get update && sudo apt-get install -y chromium (Debian/Ubuntu), or set CHROMIUM_PATH.";
