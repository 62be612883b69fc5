import { twilioErrors } from "./twilio-errors.ts";

/**
 * Twilio's list paging: `PageSize` (1-1000, default 50), `Page` (an index the client keeps), `PageToken` (where the
 * page starts), and a `meta` block whose absolute URLs the client follows verbatim.
 *
 * Tokens are keyset cursors in Twilio's style: `PA<sid>` is the page after that item, `PB<sid>` the page before it.
 * A position is looked up among all items, filtered or not, so a token stays valid when its item stops matching the
 * filter between two pages (a participant who disconnects while a client pages through `Status=connected`).
 */

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;

export interface PageRequest {
  readonly pageSize: number;
  readonly page: number;
  readonly token?: string;
}

export interface Page<T> {
  readonly items: T[];
  readonly nextToken?: string;
  readonly previousToken?: string;
}

export function parsePageRequest(query: URLSearchParams): PageRequest {
  const pageSize = query.get("PageSize");
  const page = query.get("Page");
  const token = query.get("PageToken");
  return {
    pageSize: pageSize === null ? DEFAULT_PAGE_SIZE : parsePageSize(pageSize),
    page: page === null ? 0 : naturalNumber(page, "Page"),
    ...(token === null ? {} : { token }),
  };
}

function parsePageSize(value: string): number {
  const size = naturalNumber(value, "PageSize");
  if (size > MAX_PAGE_SIZE) throw twilioErrors.pageSizeTooLarge();
  if (size < 1) throw twilioErrors.invalidParameter("PageSize", `an integer from 1 to ${MAX_PAGE_SIZE}`);
  return size;
}

function naturalNumber(value: string, name: string): number {
  if (!/^\d{1,9}$/.test(value)) throw twilioErrors.invalidParameter(name, "a non-negative integer");
  return Number.parseInt(value, 10);
}

/**
 * The page `request` asks for among the items of `ordered` that `matches`. Without a token, `Page` alone counts
 * pages from the start.
 */
export function selectPage<T>(
  ordered: readonly T[],
  matches: (item: T) => boolean,
  sidOf: (item: T) => string,
  request: PageRequest,
): Page<T> {
  const size = request.pageSize;
  const after = (item: T | undefined) => (item === undefined ? {} : { nextToken: `PA${sidOf(item)}` });
  const before = (item: T | undefined) => (item === undefined ? {} : { previousToken: `PB${sidOf(item)}` });

  if (request.token === undefined) {
    const matching = ordered.filter(matches);
    const start = request.page * size;
    const items = matching.slice(start, start + size);
    return {
      items,
      ...(matching.length > start + size ? after(items.at(-1)) : {}),
      ...(start > 0 ? before(items[0]) : {}),
    };
  }

  const direction = request.token.slice(0, 2);
  const position = ordered.findIndex((item) => sidOf(item) === request.token?.slice(2));
  if ((direction !== "PA" && direction !== "PB") || position < 0) throw twilioErrors.invalidPageToken();

  if (direction === "PA") {
    const candidates = ordered.slice(position + 1).filter(matches);
    const items = candidates.slice(0, size);
    return {
      items,
      ...(candidates.length > size ? after(items.at(-1)) : {}),
      ...(ordered.slice(0, position + 1).some(matches) ? before(items[0]) : {}),
    };
  }
  const candidates = ordered.slice(0, position).filter(matches);
  const items = candidates.slice(-size);
  return {
    items,
    ...(ordered.slice(position).some(matches) ? after(items.at(-1)) : {}),
    ...(candidates.length > size ? before(items[0]) : {}),
  };
}

export interface PageLinks {
  /** e.g. http://127.0.0.1:4010 */
  readonly origin: string;
  /** The list's canonical path, e.g. /v1/Rooms/RM…/Participants */
  readonly path: string;
  /** The filters the request gave, in Twilio's parameter order; repeated on every page URL. */
  readonly filters: readonly [string, string][];
  /** The list's JSON key, e.g. `participants`. */
  readonly key: string;
}

/** The `meta` block of a list page. */
export function pageMeta(links: PageLinks, request: PageRequest, page: Page<unknown>) {
  const pageUrl = (index: number, token: string | undefined) => {
    const params = new URLSearchParams([
      ...links.filters,
      ["PageSize", String(request.pageSize)],
      ["Page", `${index}`],
    ]);
    if (token !== undefined) params.set("PageToken", token);
    return `${links.origin}${links.path}?${params}`;
  };
  return {
    page: request.page,
    page_size: request.pageSize,
    first_page_url: pageUrl(0, undefined),
    previous_page_url:
      page.previousToken === undefined ? null : pageUrl(Math.max(request.page - 1, 0), page.previousToken),
    url: pageUrl(request.page, request.token),
    next_page_url: page.nextToken === undefined ? null : pageUrl(request.page + 1, page.nextToken),
    key: links.key,
  };
}
