import { mkdirSync, readFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createAdminClient } from "../cli/client.ts";
import { CONSOLE_HEADER, type ConsoleServer, startConsole } from "../cli/console/server.ts";
import { auditEntryIds } from "../core/audit/audit.ts";
import { CHROMIUM_MISSING, chromiumPath } from "./support/chromium.ts";
import { ADMIN_TOKEN, type PipelineHarness, startPipelineHarness } from "./support/pipeline.ts";

/**
 * The operators' console in a real browser (Debian's Chromium driven by playwright-core) against the local pipeline
 * and the emulator: what an operator does, with the keyboard and the mouse, and what the server refuses.
 * Screenshots go to docs/console/ when CONSOLE_SCREENSHOTS=1 (the README shows them).
 */

const SHOTS =
  process.env.CONSOLE_SCREENSHOTS === "1" ? new URL("../docs/console/", import.meta.url).pathname : undefined;

let h: PipelineHarness;
let console_: ConsoleServer;
let browser: Browser;
let page: Page;
let errors: string[];
/** Chromium reports every 4xx answer in the console; a test that expects one names it here. */
let expectedStatuses: number[];

beforeAll(async () => {
  const executablePath = chromiumPath();
  if (executablePath === undefined) throw new Error(CHROMIUM_MISSING);
  h = await startPipelineHarness();
  const api = createAdminClient({
    baseUrl: new URL(h.pipeline.url),
    auth: { kind: "bearer", token: ADMIN_TOKEN },
    fetch: (url, init) => fetch(url, init),
  });
  console_ = await startConsole({ api });
  browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
  if (SHOTS !== undefined) mkdirSync(SHOTS, { recursive: true });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await console_?.stop();
  await h?.stop();
});
beforeEach(async () => {
  page = await browser.newPage({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  errors = [];
  expectedStatuses = [];
  page.on("console", (message) => {
    const status = /responded with a status of (\d+)/.exec(message.text())?.[1];
    if (message.type() === "error" && !expectedStatuses.includes(Number(status))) errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(error.message));
});
afterEach(async () => {
  await page.close();
  // No page may log an error (a failed request the page expects, e.g. a 400, is not logged by fetch).
  expect(errors).toEqual([]);
});

const shot = async (name: string) => {
  if (SHOTS !== undefined) await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
};

describe("the console's server", () => {
  it("serves the page with a strict CSP, binds to loopback, and refuses API calls from other pages", async () => {
    const home = await fetch(console_.url);
    expect(home.status).toBe(200);
    expect(home.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(new URL(console_.url).hostname).toBe("127.0.0.1");
    const api = `${console_.url}api/rules`;
    // No console header (a form post or an <img> from another site): refused, nothing forwarded.
    expect((await fetch(api)).status).toBe(403);
    expect((await fetch(api, { method: "POST", body: "{}", headers: { "content-type": "text/plain" } })).status).toBe(
      403,
    );
    // Another origin, even with the header (a preflight would have failed; a non-browser client can lie, and is refused too).
    expect((await fetch(api, { headers: { [CONSOLE_HEADER]: "1", origin: "https://evil.example" } })).status).toBe(403);
    // DNS rebinding: another name for this address (fetch cannot set Host; node:http can).
    const rebound = await new Promise<number>((resolve, reject) => {
      const target = new URL(api);
      request(
        {
          host: "127.0.0.1",
          port: target.port,
          path: target.pathname,
          headers: { host: "evil.example", [CONSOLE_HEADER]: "1" },
        },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      )
        .on("error", reject)
        .end();
    });
    expect(rebound).toBe(421);
    const ok = await fetch(api, { headers: { [CONSOLE_HEADER]: "1" } });
    expect(ok.status).toBe(200);
    // The credential stays on the server: nothing the page receives carries it.
    expect(await ok.text()).not.toContain(ADMIN_TOKEN);
    expect(readFileSync(new URL("../cli/console/static/app.js", import.meta.url), "utf8")).not.toMatch(
      /authorization/i,
    );
  });
});

describe("an operator in the browser", () => {
  it("adds a ban in the console; the identity joins and is kicked; the kick is on the audit page", async () => {
    await page.goto(`${console_.url}#/rules`);
    await page.getByRole("heading", { name: "Rules" }).waitFor();
    const ban = page.locator("#add-ban");
    await ban.getByLabel("Identity").fill("console-mallory");
    await ban.getByLabel("Reason").fill("harassment");
    await ban.getByRole("button", { name: "Add ban" }).click();
    await page.locator("#status").getByText(/added/).waitFor();
    await expect.poll(() => page.locator("tr", { hasText: "console-mallory" }).count()).toBe(1);
    await shot("rules");

    const roomSid = await h.room("console-room-1");
    const mallory = await h.emulator.join(roomSid, "console-mallory");
    await h.settle();
    expect(h.emulator.participant(roomSid, mallory.sid)?.status).toBe("disconnected");

    await page.getByRole("link", { name: "Audit" }).click();
    await page.getByRole("heading", { name: "Audit trail" }).waitFor();
    const row = page.locator(`tr[data-entry="${auditEntryIds.kick(mallory.sid)}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain("disconnected");
    await shot("audit");
    await row.getByRole("link", { name: "details" }).click();
    await page.getByRole("heading", { name: /Audit entry/ }).waitFor();
    expect(await page.locator("pre").first().textContent()).toContain("console-mallory");
    await shot("audit-entry");
  });

  it("shows the API's field errors next to the fields, and changes nothing", async () => {
    expectedStatuses = [400];
    await page.goto(`${console_.url}#/rules`);
    const ban = page.locator("#add-ban");
    await ban.getByLabel("Identity").fill("console-eve");
    await ban.getByLabel("Reason").fill("spam");
    await ban.getByLabel(/Expires/).fill("next week");
    await ban.getByRole("button", { name: "Add ban" }).click();
    const error = ban.locator("#add-ban-expiresAt-error");
    await error.waitFor();
    expect(await error.textContent()).toContain("ISO 8601");
    expect(await ban.getByLabel(/Expires/).getAttribute("aria-invalid")).toBe("true");
    expect(await page.locator("tr", { hasText: "console-eve" }).count()).toBe(0);
  });

  it("disables, dry-runs and deletes a rule; a rule changed meanwhile is explained and offered for reload", async () => {
    expectedStatuses = [409];
    const id = await h.addRule({ kind: "ban", identity: "console-toggled", reason: "x" });
    await page.goto(`${console_.url}#/rules`);
    const row = () => page.locator(`tr[data-rule="${id}"]`);
    await row().waitFor();
    await row().getByRole("button", { name: "Disable" }).click();
    await page.locator("#status").getByText(`${id} is now disabled, enforce`).waitFor();
    await row().getByRole("button", { name: "Dry-run" }).click();
    await page.locator("#status").getByText(`${id} is now disabled, dry-run`).waitFor();
    expect(await h.rules.get(id)).toMatchObject({ enabled: false, mode: "dry-run", version: 3 });

    // Someone else changes it after the page loaded it: the click changes nothing and says why.
    const current = await h.rules.get(id);
    await h.rules.replace(
      { ...(current as NonNullable<typeof current>), version: 4, description: "changed elsewhere" },
      3,
    );
    await row().getByRole("button", { name: "Enable" }).click();
    const stale = page.getByRole("alert").filter({ hasText: "was changed by someone else" });
    await stale.waitFor();
    expect(await h.rules.get(id)).toMatchObject({ enabled: false, version: 4 });
    await stale.getByRole("button", { name: "Reload the rules" }).click();
    await row().getByRole("button", { name: "Enable" }).waitFor();

    page.once("dialog", (dialog) => void dialog.accept());
    await row().getByRole("button", { name: "Delete" }).click();
    await page.locator("#status").getByText(`${id} deleted`).waitFor();
    expect(await h.rules.get(id)).toBeUndefined();
  });

  it("kicks a participant from the rooms page, with a reason", async () => {
    const roomSid = await h.room("console-room-2");
    const trudy = await h.emulator.join(roomSid, "console-trudy");
    await h.settle();
    await page.goto(`${console_.url}#/rooms`);
    await page.getByRole("link", { name: "console-room-2" }).click();
    const row = page.locator('tr[data-participant="console-trudy"]');
    await row.waitFor();
    await shot("room");
    // Without a reason the browser asks for one; then the kick goes through.
    await row.getByLabel(/Reason to remove/).fill("posted a spam link");
    await row.getByRole("button", { name: "Kick" }).click();
    await page
      .locator("#status")
      .getByText(/console-trudy kicked/)
      .waitFor();
    expect(h.emulator.participant(roomSid, trudy.sid)?.status).toBe("disconnected");
    expect(await h.audit.get(auditEntryIds.kick(trudy.sid))).toMatchObject({
      trigger: { type: "admin", actor: "local-admin", reason: "posted a spam link" },
    });
  });

  it("downloads the audit export, which parses", async () => {
    await page.goto(`${console_.url}#/audit`);
    await page.getByRole("heading", { name: "Audit trail" }).waitFor();
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("button", { name: "Export CSV" }).click(),
    ]);
    expect(download.suggestedFilename()).toBe("room-warden-audit.csv");
    const path = await download.path();
    const lines = readFileSync(path, "utf8").trimEnd().split("\r\n");
    expect(lines[0]).toMatch(/^id,createdAt,action,outcome,/);
    expect(lines.length).toBeGreaterThan(1);
  });

  it("reads well on a phone, and every page loads with no console error", async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    for (const [hash, heading] of [
      ["#/rules", "Rules"],
      ["#/audit", "Audit trail"],
      ["#/rooms", "Rooms in progress"],
      ["#/webhooks", "Webhook endpoints"],
      ["#/check", "May this identity join this room?"],
    ] as const) {
      await page.goto(`${console_.url}${hash}`);
      await page.getByRole("heading", { name: heading }).waitFor();
      const width = await page.evaluate("document.documentElement.scrollWidth");
      expect(width, hash).toBeLessThanOrEqual(390 + 1);
      await shot(`${hash.slice(2)}-phone`);
    }
  });
});
