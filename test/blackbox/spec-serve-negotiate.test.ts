// SPEC §12: "a browser that prefers text/html gets an HTML rendering" of the index, job
// lists and jobs; every other client gets the machine form (JSON for the index, XML for
// the rest). "Prefers" as the Accept header ranks it: a bare */* (curl, pyvo, requests)
// never asks for HTML, a browser's header does, and a header that ranks text/html below
// the machine form, or below */*, gets the machine form.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Sandbox } from '../helpers.js';
import { ServeProcess, createJob, request } from '../serve-helpers.js';

const CHROMIUM = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7';
const FIREFOX = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('content negotiation of the index, job lists and jobs', () => {
  let sb: Sandbox;
  let sp: ServeProcess;
  let job = '';
  before(async () => {
    sb = new Sandbox();
    sp = await ServeProcess.start(sb);
    job = await createJob(sp, 'hello');
  });
  after(async () => {
    await sp?.stop();
    sb?.cleanup();
  });

  const typeOf = async (url: string, accept: string | undefined): Promise<string> => {
    const r = await request(url, accept === undefined ? {} : { headers: { accept } });
    assert.equal(r.status, 200, `${url} with Accept ${accept}`);
    await r.arrayBuffer();
    return r.headers.get('content-type')!.split(';')[0]!;
  };

  test('browsers get HTML; no Accept, */*, text/* get JSON and XML', async () => {
    for (const [accept, index, xml] of [
      [CHROMIUM, 'text/html', 'text/html'],
      [FIREFOX, 'text/html', 'text/html'],
      ['TEXT/HTML', 'text/html', 'text/html'],
      [undefined, 'application/json', 'text/xml'],
      ['*/*', 'application/json', 'text/xml'],
      ['text/*', 'application/json', 'text/xml'],
    ] as const) {
      assert.equal(await typeOf(sp.url('/'), accept), index, `index, Accept ${accept}`);
      assert.equal(await typeOf(sp.url('/hello'), accept), xml, `job list, Accept ${accept}`);
      assert.equal(await typeOf(job, accept), xml, `job, Accept ${accept}`);
    }
  });

  test('text/html ranked below the machine form or below */* gets the machine form', async () => {
    for (const [accept, index, xml] of [
      ['text/html;q=0.5, */*', 'application/json', 'text/xml'],
      ['text/html;q=0', 'application/json', 'text/xml'],
      ['application/xml, text/html;q=0.9', 'text/html', 'text/xml'],
      ['text/xml, text/html;q=0.9', 'text/html', 'text/xml'],
      ['application/json, text/html;q=0.9', 'application/json', 'text/html'],
    ] as const) {
      assert.equal(await typeOf(sp.url('/'), accept), index, `index, Accept ${accept}`);
      assert.equal(await typeOf(sp.url('/hello'), accept), xml, `job list, Accept ${accept}`);
      assert.equal(await typeOf(job, accept), xml, `job, Accept ${accept}`);
    }
  });
});
