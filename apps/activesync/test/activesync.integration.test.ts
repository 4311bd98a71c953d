import type { FastifyInstance } from 'fastify';
import { MemcachedCluster } from '@webtier/testkit';
import { ReplicatedMemcachedStore } from '@webtier/session-store';
import { Mailbox } from '@webtier/demo-mail';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActiveSyncErrorCodes, createActiveSyncApp, decodeBase64Query, encodeBase64Query, parseActiveSyncQuery } from '../src/index.js';

const ALICE = `Basic ${Buffer.from('alice:wonderland').toString('base64')}`;

describe('ActiveSync query forms (pure)', () => {
  it('reads the plain form, case-insensitively', () => {
    expect(parseActiveSyncQuery('cmd=Ping&User=alice&DeviceId=abc123&DeviceType=iPhone&CollectionId=inbox')).toEqual({
      form: 'plain', cmd: 'Ping', user: 'alice', deviceId: 'abc123', deviceType: 'iPhone', params: { CollectionId: 'inbox' },
    });
  });
  it('round-trips the base64 form and decodes a hand-made one', () => {
    const q = encodeBase64Query({ cmd: 'Sync', deviceId: 'DEV42', deviceType: 'WP8', user: 'alice', policyKey: 7 });
    expect(parseActiveSyncQuery(q)).toMatchObject({ form: 'base64', cmd: 'Sync', deviceId: 'DEV42', deviceType: 'WP8', user: 'alice', policyKey: 7, protocolVersion: '14.1', locale: 0x409 });
    // MS-ASHTTP example layout: version 121, Ping (18), locale 0x0409, 4-byte binary device id, no policy key, "PocketPC".
    const bytes = Buffer.from([121, 18, 0x09, 0x04, 4, 0xde, 0xad, 0xbe, 0xef, 0, 8, ...Buffer.from('PocketPC')]);
    expect(decodeBase64Query(encodeURIComponent(bytes.toString('base64')))).toMatchObject({ cmd: 'Ping', deviceId: 'deadbeef', deviceType: 'PocketPC', protocolVersion: '12.1' });
  });
  it('names what is wrong in a bad query', () => {
    expect(() => parseActiveSyncQuery('Cmd=Sync')).toThrow(expect.objectContaining({ code: ActiveSyncErrorCodes.BAD_QUERY, message: 'query: DeviceId is missing' }));
    expect(() => parseActiveSyncQuery(Buffer.from([141, 99, 9, 4, 0, 0, 0]).toString('base64'))).toThrow(/unknown command code 99/);
    expect(() => parseActiveSyncQuery(Buffer.from([141, 0, 9, 4, 30, 1]).toString('base64'))).toThrow(/DeviceId runs past the end/);
  });
});

describe('ActiveSync on two nodes with device state in real replicated memcached', () => {
  let cluster: MemcachedCluster;
  const stores: ReplicatedMemcachedStore[] = [];
  const apps: FastifyInstance[] = [];
  const base: string[] = [];

  beforeAll(async () => {
    cluster = await MemcachedCluster.start(4);
    for (const node of ['activesync-1', 'activesync-2']) {
      const store = new ReplicatedMemcachedStore({ servers: cluster.servers, opTimeoutMs: 300 });
      stores.push(store);
      const app = createActiveSyncApp({ store, node, minHeartbeatSeconds: 1, pingPollMs: 100 });
      apps.push(app);
      base.push(await app.listen({ port: 0, host: '127.0.0.1' }));
    }
  });
  afterAll(async () => {
    await Promise.allSettled(apps.map((a) => a.close()));
    await Promise.allSettled(stores.map((s) => s.close()));
    await cluster?.stop();
  });

  const eas = (node: number, query: string, body?: unknown, auth = ALICE) =>
    fetch(`${base[node]}/Microsoft-Server-ActiveSync?${query}`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json', 'ms-asprotocolversion': '14.1' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  it('OPTIONS advertises versions and commands; both need Basic auth', async () => {
    const anon = await fetch(`${base[0]}/Microsoft-Server-ActiveSync`, { method: 'OPTIONS' });
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBe('Basic realm="ActiveSync"');
    const res = await fetch(`${base[0]}/microsoft-server-activesync`, { method: 'OPTIONS', headers: { authorization: ALICE } });
    expect(res.status).toBe(200);
    expect(res.headers.get('ms-asprotocolversions')).toContain('14.1');
    expect(res.headers.get('ms-asprotocolcommands')).toBe('FolderSync,Sync,Ping');
    expect((await eas(0, 'Cmd=FolderSync&User=alice&DeviceId=d1&DeviceType=t', {}, `Basic ${Buffer.from('alice:wrong').toString('base64')}`)).status).toBe(401);
    expect((await eas(0, 'Cmd=FolderSync&User=bob&DeviceId=d1&DeviceType=t', {})).status).toBe(403);
    expect((await eas(0, 'Cmd=Search&User=alice&DeviceId=d1&DeviceType=t', {})).status).toBe(501);
  });

  it('FolderSync then Sync, with sync keys kept in the store across nodes and a memcached node loss', async () => {
    const q = 'Cmd=FolderSync&User=alice&DeviceId=phone1&DeviceType=iPhone';
    const fs1 = (await (await eas(0, q, { SyncKey: '0' })).json()) as { Status: number; SyncKey: string; Changes: { Count: number } };
    expect(fs1).toMatchObject({ Status: 1, SyncKey: '1', Changes: { Count: 3 } });
    // The other node knows the device's key (state in memcached), and refuses a stale one.
    expect(await (await eas(1, q, { SyncKey: '1' })).json()).toEqual({ Status: 1, SyncKey: '1', Changes: { Count: 0 } });
    expect(await (await eas(1, q, { SyncKey: '7' })).json()).toEqual({ Status: 9 });
    const sq = encodeBase64Query({ cmd: 'Sync', deviceId: 'phone1', deviceType: 'iPhone' }); // base64 form, same device
    const prime = (await (await eas(1, sq, { Collections: [{ CollectionId: 'inbox', SyncKey: '0' }] })).json()) as { Collections: Array<{ SyncKey: string }> };
    expect(prime.Collections[0]).toMatchObject({ Status: 1, SyncKey: '1' });
    await cluster.node(0).kill(); // one node of four down: every key keeps a live copy
    const full = (await (await eas(0, sq, { Collections: [{ CollectionId: 'inbox', SyncKey: '1' }] })).json()) as { Collections: Array<{ SyncKey: string; Commands: { Add: Array<{ ServerId: string }> } }> };
    expect(full.Collections[0]!.SyncKey).toBe('2');
    expect(full.Collections[0]!.Commands.Add.map((a) => a.ServerId)).toContain('inbox:1006');
    const again = (await (await eas(1, sq, { Collections: [{ CollectionId: 'inbox', SyncKey: '2' }] })).json()) as { Collections: Array<{ SyncKey: string; Commands: { Add: unknown[] } }> };
    expect(again.Collections[0]).toMatchObject({ SyncKey: '3', Commands: { Add: [] } });
    await cluster.node(0).restart();
  });

  it('Ping ends with Status 1 when the heartbeat interval passes without mail, and refuses a bad interval', async () => {
    const q = 'Cmd=Ping&User=alice&DeviceId=phone2&DeviceType=iPhone';
    expect(await (await eas(0, q, { HeartbeatInterval: 0 })).json()).toEqual({ Status: 5, HeartbeatInterval: 1 });
    expect(await (await eas(0, q, { HeartbeatInterval: 99999 })).json()).toEqual({ Status: 5, HeartbeatInterval: 3540 });
    const started = Date.now();
    const res = await eas(1, q, { HeartbeatInterval: 1, Folders: [{ Id: 'inbox', Class: 'Email' }] });
    expect(await res.json()).toEqual({ Status: 1 });
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(950);
    expect(took).toBeLessThan(1000 + 3000);
  });

  it('a held Ping wakes up with Status 2 when a message is delivered through another node', async () => {
    const q = encodeBase64Query({ cmd: 'Ping', deviceId: 'phone3', deviceType: 'Android' });
    const started = Date.now();
    const pending = eas(0, q, { HeartbeatInterval: 30, Folders: [{ Id: 'inbox', Class: 'Email' }] });
    await new Promise((r) => setTimeout(r, 500));
    await new Mailbox(stores[1]!).deliver('alice', { from: 'bob@example.org', to: 'alice@example.org', subject: 'wake up', date: new Date().toISOString(), body: 'ping!' });
    const res = await pending;
    expect(await res.json()).toEqual({ Status: 2, Folders: ['inbox'] });
    expect(Date.now() - started).toBeLessThan(10_000); // the 30 s heartbeat did not have to run out
  });

  it('answers autodiscover with the ActiveSync URL as the client reached it', async () => {
    const res = await fetch(`${base[0]}/autodiscover/autodiscover.xml`, {
      method: 'POST',
      headers: { 'content-type': 'text/xml', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'mail.example.org' },
      body: '<Autodiscover><Request><EMailAddress>alice@example.org</EMailAddress></Request></Autodiscover>',
    });
    const xml = await res.text();
    expect(res.headers.get('content-type')).toMatch(/text\/xml/);
    expect(xml).toContain('<Url>https://mail.example.org/Microsoft-Server-ActiveSync</Url>');
    expect(xml).toContain('<EMailAddress>alice@example.org</EMailAddress>');
  });

  it('refuses WBXML and bad JSON with a clear message', async () => {
    const wbxml = await fetch(`${base[0]}/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=d&DeviceType=t`, { method: 'POST', headers: { authorization: ALICE, 'content-type': 'application/vnd.ms-sync.wbxml' }, body: Buffer.from([3, 1, 106, 0]) });
    expect(wbxml.status).toBe(415);
    expect(((await wbxml.json()) as { error: string }).error).toMatch(/WBXML is not supported/);
    const badJson = await fetch(`${base[0]}/Microsoft-Server-ActiveSync?Cmd=Sync&User=alice&DeviceId=d&DeviceType=t`, { method: 'POST', headers: { authorization: ALICE, 'content-type': 'application/json' }, body: '{nope' });
    expect(badJson.status).toBe(400);
  });
});
