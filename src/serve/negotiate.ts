// Content negotiation (SPEC §12): job lists, jobs and the index are XML (or JSON) for
// programs and HTML for browsers. A request prefers HTML when its Accept header ranks
// text/html above every other type the resource offers (as browsers send it: text/html
// first, */* last at a lower q). The HTML renderings are registered in html-pages.ts; a
// resource without one answers with its machine form. `FORMAT=` in the query overrides the
// header (an extension: a browser's link to the XML).

import type { IncomingMessage } from 'node:http';

function parseAccept(header: string): Map<string, number> {
  const ranks = new Map<string, number>();
  for (const part of header.split(',')) {
    const [type, ...params] = part.trim().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = q ? Number(q.slice(2)) : 1;
    ranks.set((type ?? '').trim().toLowerCase(), Number.isFinite(value) ? value : 0);
  }
  return ranks;
}

/**
 * Whether the client names text/html and ranks it strictly above `machineType` (text/xml,
 * application/json) as named exactly (text/xml also as application/xml), by its major type
 * (text/*) or by * / *; a bare * / * does not ask for HTML (curl, pyvo and requests send it),
 * and `text/html;q=0.5, * / *` prefers the machine form, as it says.
 */
export function prefersHtml(req: IncomingMessage, machineType: string): boolean {
  // FORMAT=xml (or json) in the query: the machine form even for a browser (the HTML pages
  // link to it so); FORMAT=html: the page for any client.
  const format = /[?&]format=([a-z]*)/i.exec(req.url ?? '')?.[1];
  if (format) return format.toLowerCase() === 'html';
  const header = req.headers.accept;
  if (!header) return false;
  const ranks = parseAccept(header);
  const html = ranks.get('text/html') ?? 0;
  const names = machineType === 'text/xml' ? [machineType, 'application/xml'] : [machineType];
  const exact = names.map((n) => ranks.get(n)).filter((q) => q !== undefined);
  // The most specific range that names the type decides its rank (RFC 9110 §12.5.1).
  const machine = exact.length ? Math.max(...exact) : ranks.get(`${machineType.split('/')[0]}/*`) ?? ranks.get('*/*') ?? 0;
  return html > 0 && html > machine;
}
