// ESM express app of a user of the packed @webtier/session-store: `set <value>` or `get <cookie>`.
// Prints one JSON line; a fresh process per step, so the session must come from memcached.
import express from 'express';
import session from 'express-session';
import { ReplicatedMemcachedStore } from '@webtier/session-store';
import { run } from './steps.mjs';

const store = new ReplicatedMemcachedStore({ servers: process.env.MEMCACHED.split(',') });
const app = express();
app.use(session({ store, secret: 'pack-test-secret', resave: false, saveUninitialized: false }));
app.get('/set', (req, res) => {
  req.session.value = req.query.v;
  res.send('ok');
});
app.get('/get', (req, res) => res.json({ value: req.session.value ?? null }));
const server = app.listen(0, '127.0.0.1', () => run(`http://127.0.0.1:${server.address().port}`, () => new Promise((r) => server.close(r)), store));
