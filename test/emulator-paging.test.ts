import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startEmulator, type TwilioEmulator } from "../emulator/index.ts";
import { manualClock } from "./support/clock.ts";
import { allPages, type ListPage, twilioCall } from "./support/twilio-rest.ts";

/** Participant lists: Twilio's filters, and paging by PageToken with absolute URLs on the emulator's origin. */

const START = Date.UTC(2026, 10, 21, 10, 0, 0, 0);
const clock = manualClock(START);
let emulator: TwilioEmulator;
beforeAll(async () => {
  emulator = await startEmulator({ now: () => clock.now() });
});
afterAll(async () => {
  await emulator.stop();
});
beforeEach(() => clock.set(START));

let rooms = 0;
/** A room with these identities joined one second apart, from START. */
async function roomWith(identities: readonly string[]) {
  rooms += 1;
  const room = await emulator.createRoom({ uniqueName: `paging-${rooms}` });
  const joined = [];
  for (const identity of identities) {
    joined.push(await emulator.join(room.sid, identity));
    clock.advance(1000);
  }
  return { room, joined };
}

const identities = (pages: readonly ListPage[]) =>
  pages.flatMap((page) => page.participants.map((p) => p.identity as string));
const list = (roomSid: string, query = "") => allPages(emulator, `/v1/Rooms/${roomSid}/Participants${query}`);

describe("filters", () => {
  it("lists connected participants of a room in progress by default, disconnected ones of a completed room", async () => {
    const { room } = await roomWith(["a", "b", "c"]);
    await emulator.leave(room.sid, "b");
    expect(identities(await list(room.sid))).toEqual(["a", "c"]);
    expect(identities(await list(room.sid, "?Status=disconnected"))).toEqual(["b"]);
    await emulator.completeRoom(room.sid);
    expect(identities(await list(room.sid))).toEqual(["a", "b", "c"]);
    expect(identities(await list(room.sid, "?Status=connected"))).toEqual([]);
  });

  it("filters by Identity, exactly", async () => {
    const { room } = await roomWith(["sam", "samantha", "Sam"]);
    expect(identities(await list(room.sid, "?Identity=sam"))).toEqual(["sam"]);
  });

  it("filters by creation time: on or after DateCreatedAfter, strictly before DateCreatedBefore", async () => {
    const { room } = await roomWith(["t0", "t1", "t2", "t3"]); // 10:00:00, :01, :02, :03
    expect(identities(await list(room.sid, "?DateCreatedAfter=2026-11-21T10:00:01Z"))).toEqual(["t1", "t2", "t3"]);
    expect(identities(await list(room.sid, "?DateCreatedBefore=2026-11-21T10:00:02Z"))).toEqual(["t0", "t1"]);
    const window = "?DateCreatedAfter=2026-11-21T10:00:01Z&DateCreatedBefore=2026-11-21T10:00:03Z";
    expect(identities(await list(room.sid, window))).toEqual(["t1", "t2"]);
    expect(identities(await list(room.sid, "?DateCreatedAfter=2026-11-22"))).toEqual([]);
    expect(identities(await list(room.sid, "?DateCreatedAfter=2026-11-21T11:00:01%2B01:00"))).toEqual([
      "t1",
      "t2",
      "t3",
    ]);
  });

  it.each([
    ["Status=gone", 20001],
    ["DateCreatedAfter=yesterday", 20001],
    ["DateCreatedBefore=2026-13-45T99:00:00Z", 20001],
  ])("refuses %s with a 400 naming the parameter", async (query, code) => {
    const { room } = await roomWith([]);
    const answer = await twilioCall(emulator, "GET", `/v1/Rooms/${room.sid}/Participants?${query}`);
    expect([answer.status, answer.body]).toMatchObject([
      400,
      { code, message: expect.stringContaining(query.split("=")[0] ?? "") },
    ]);
  });
});

describe("paging", () => {
  it("pages with PageSize, and next_page_url is absolute, on the emulator, and carries a PageToken", async () => {
    const { room, joined } = await roomWith(["p1", "p2", "p3", "p4", "p5", "p6", "p7"]);
    const pages = await list(room.sid, "?Status=connected&PageSize=3");
    expect(pages.map((page) => page.participants.length)).toEqual([3, 3, 1]);
    expect(identities(pages)).toEqual(["p1", "p2", "p3", "p4", "p5", "p6", "p7"]);
    const base = `${emulator.url}/v1/Rooms/${room.sid}/Participants?Status=connected&PageSize=3`;
    expect(pages[0]?.meta).toEqual({
      page: 0,
      page_size: 3,
      first_page_url: `${base}&Page=0`,
      previous_page_url: null,
      url: `${base}&Page=0`,
      next_page_url: `${base}&Page=1&PageToken=PA${joined[2]?.sid}`,
      key: "participants",
    });
    expect(pages[1]?.meta).toMatchObject({
      page: 1,
      url: `${base}&Page=1&PageToken=PA${joined[2]?.sid}`,
      previous_page_url: `${base}&Page=0&PageToken=PB${joined[3]?.sid}`,
      next_page_url: `${base}&Page=2&PageToken=PA${joined[5]?.sid}`,
    });
    expect(pages[2]?.meta).toMatchObject({ page: 2, next_page_url: null });
  });

  it("previous_page_url leads back to the same participants", async () => {
    const { room } = await roomWith(["b1", "b2", "b3", "b4", "b5"]);
    const [first, second] = await list(room.sid, "?PageSize=2");
    const back = await twilioCall(emulator, "GET", String(second?.meta.previous_page_url));
    expect((back.body as ListPage).participants).toEqual(first?.participants);
    expect((back.body as ListPage).meta.page).toBe(0);
  });

  it("skips and repeats no one who stayed connected, while others leave and join between pages", async () => {
    const { room } = await roomWith(["s1", "s2", "s3", "s4", "s5", "s6"]);
    const first = await twilioCall(emulator, "GET", `/v1/Rooms/${room.sid}/Participants?PageSize=2`);
    const firstPage = first.body as ListPage;
    await emulator.leave(room.sid, "s2"); // the page's last item, which the next token points after
    await emulator.leave(room.sid, "s3");
    await emulator.join(room.sid, "s7");
    const rest = await allPages(emulator, String(firstPage.meta.next_page_url));
    expect([...identities([firstPage]), ...identities(rest)]).toEqual(["s1", "s2", "s4", "s5", "s6", "s7"]);
  });

  it("without a PageToken, Page alone counts pages from the start", async () => {
    const { room } = await roomWith(["c1", "c2", "c3", "c4", "c5"]);
    const answer = await twilioCall(emulator, "GET", `/v1/Rooms/${room.sid}/Participants?PageSize=2&Page=1`);
    expect(identities([answer.body as ListPage])).toEqual(["c3", "c4"]);
    expect((answer.body as ListPage).meta.page).toBe(1);
  });

  it("defaults to 50 per page and allows up to 1000", async () => {
    const { room } = await roomWith(["d1"]);
    const byDefault = await twilioCall(emulator, "GET", `/v1/Rooms/${room.sid}/Participants`);
    expect((byDefault.body as ListPage).meta.page_size).toBe(50);
    const most = await twilioCall(emulator, "GET", `/v1/Rooms/${room.sid}/Participants?PageSize=1000`);
    expect(most.status).toBe(200);
  });

  it.each([
    ["PageSize=1001", 20007],
    ["PageSize=0", 20001],
    ["PageSize=ten", 20001],
    ["Page=-1", 20001],
    ["PageToken=garbage", 21481],
    [`PageToken=PAPA${"0".repeat(32)}`, 21481],
  ])("refuses %s (%i)", async (query, code) => {
    const { room } = await roomWith([]);
    for (const path of [`/v1/Rooms/${room.sid}/Participants`, `/v1/Video/Rooms/${room.sid}/Participants`]) {
      const answer = await twilioCall(emulator, "GET", `${path}?${query}`);
      expect([answer.status, answer.body], path).toMatchObject([400, { code }]);
    }
  });
});

describe("Insights participant summaries", () => {
  it("list everyone who was in the room, page by page, whatever their status", async () => {
    const { room, joined } = await roomWith(["x", "y", "z", "x"]);
    await emulator.leave(room.sid, "y");
    const pages = await allPages(emulator, `/v1/Video/Rooms/${room.sid}/Participants?PageSize=3`);
    expect(pages.map((page) => page.participants.length)).toEqual([3, 1]);
    const summaries = pages.flatMap((page) => page.participants);
    expect(summaries.map((s) => [s.participant_identity, s.status, s.end_reason, s.error_code])).toEqual([
      ["x", "completed", "duplicate_identity", 53205],
      ["y", "completed", "client_sent_bye", null],
      ["z", "in_progress", null, null],
      ["x", "in_progress", null, null],
    ]);
    expect(summaries[0]).toMatchObject({ participant_sid: joined[0]?.sid, room_sid: room.sid, duration_sec: 3 });
    expect(pages[0]?.meta.next_page_url).toBe(
      `${emulator.url}/v1/Video/Rooms/${room.sid}/Participants?PageSize=3&Page=1&PageToken=PA${joined[2]?.sid}`,
    );
  });

  it("address rooms by SID only", async () => {
    const { room } = await roomWith(["n"]);
    const byName = await twilioCall(emulator, "GET", `/v1/Video/Rooms/${room.uniqueName}/Participants`);
    expect([byName.status, byName.body]).toMatchObject([404, { code: 20404 }]);
  });
});
