/**
 * ONC §170.315(d)(7) end-user device encryption: no patient data is left in the browser's storage. A nurse
 * and a patient use the web app as they would (panel, patient page, messages; the portal), then everything a
 * browser keeps for the site (localStorage, sessionStorage, IndexedDB, Cache Storage, script-readable
 * cookies) is read back and searched for the patient's name, birth date and a message body. Patient data is
 * only in memory and in `no-store` answers; the session cookie is httpOnly.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Page } from 'playwright-core';
import { skipNote } from '../support/services.ts';
import { aliceAndNurse, PHONE, startBrowserClinic, hasChromium, type BrowserClinic } from '../support/browser.ts';

if (!hasChromium) skipNote('Chromium (browser storage test)');
vi.setConfig({ testTimeout: 120_000, hookTimeout: 180_000 });

/** Everything the page's origin keeps in the browser, as one text. */
async function storedText(page: Page): Promise<string> {
  return page.evaluate(async () => {
    const parts: string[] = [];
    for (const store of [localStorage, sessionStorage]) {
      for (let i = 0; i < store.length; i++) parts.push(`${store.key(i)}=${store.getItem(store.key(i)!)}`);
    }
    parts.push(`cookie=${document.cookie}`);
    for (const info of await indexedDB.databases()) {
      const db = await new Promise<IDBDatabase>((ok, fail) => {
        const open = indexedDB.open(info.name!);
        open.onsuccess = () => ok(open.result);
        open.onerror = () => fail(open.error);
      });
      for (const name of Array.from(db.objectStoreNames)) {
        const rows = await new Promise<unknown[]>((ok, fail) => {
          const get = db.transaction(name).objectStore(name).getAll();
          get.onsuccess = () => ok(get.result);
          get.onerror = () => fail(get.error);
        });
        parts.push(`idb ${info.name}/${name}=${JSON.stringify(rows)}`);
      }
      db.close();
    }
    for (const key of await caches.keys()) {
      for (const request of await (await caches.open(key)).keys()) {
        const response = await (await caches.open(key)).match(request);
        parts.push(`cache ${key} ${request.url}=${response ? await response.text() : ''}`);
      }
    }
    return parts.join('\n');
  });
}

describe.skipIf(!hasChromium)('no patient data left in the browser (ONC (d)(7))', () => {
  let c: BrowserClinic | undefined;
  let patientId: string;
  const secret = `swollen-ankle-${Date.now().toString(36)}`;

  beforeAll(async () => {
    c = await startBrowserClinic();
    ({ patientId } = await aliceAndNurse(c, 'storage.test'));
    const patientToken = await c.tokenOf('alice@storage.test');
    const sent = await c.app.api(patientToken, 'POST', `/api/v1/patients/${patientId}/threads`, { subject: 'My ankle', text: `Please look: ${secret}` });
    expect(sent.status).toBe(201);
  });
  afterAll(() => c?.stop());

  it('keeps no name, birth date or message in any browser storage, for the nurse or for the patient', async () => {
    const nurse = await c!.signIn('nurse@storage.test');
    await nurse.goto(`/#/patients/${encodeURIComponent(patientId)}`);
    await nurse.getByText('Alice Ames').first().waitFor({ timeout: 30_000 });
    await nurse.goto(`/#/patients/${encodeURIComponent(patientId)}/messages`);
    await nurse.getByText('My ankle').first().click();
    await nurse.getByText(secret, { exact: false }).first().waitFor({ timeout: 30_000 });

    const patient = await c!.signIn('alice@storage.test', PHONE);
    await patient.goto('/#/messages');
    await patient.getByText('My ankle').first().click();
    await patient.getByText(secret, { exact: false }).first().waitFor({ timeout: 30_000 });

    for (const [who, page] of [
      ['nurse', nurse],
      ['patient', patient],
    ] as const) {
      // The reader sees what a page stores (a probe in each Web Storage), so an empty answer means empty storage.
      await page.evaluate(() => (localStorage.setItem('probe', 'probe-local'), sessionStorage.setItem('probe', 'probe-session')));
      const text = await storedText(page);
      expect(text).toContain('probe-local');
      expect(text).toContain('probe-session');
      expect(text, `${who}'s browser storage`).not.toContain('Alice Ames');
      expect(text, `${who}'s browser storage`).not.toContain('1941-03-02');
      expect(text, `${who}'s browser storage`).not.toContain(secret);
      // The session is an httpOnly cookie: no script on the page can read it.
      const cookies = await page.context().cookies();
      expect(cookies.length).toBeGreaterThan(0);
      for (const cookie of cookies) expect(cookie.httpOnly, `${who}'s cookie ${cookie.name}`).toBe(true);
    }
  });
});
