// CommonJS express app of a user of the packed @webtier/session-store (require(), not import).
const express = require('express');
const session = require('express-session');
const { ReplicatedMemcachedStore } = require('@webtier/session-store');

const store = new ReplicatedMemcachedStore({ servers: process.env.MEMCACHED.split(',') });
const app = express();
app.use(session({ store, secret: 'pack-test-secret', resave: false, saveUninitialized: false }));
app.get('/set', (req, res) => {
  req.session.value = req.query.v;
  res.send('ok');
});
app.get('/get', (req, res) => res.json({ value: req.session.value ?? null }));
const server = app.listen(0, '127.0.0.1', () =>
  import('./steps.mjs').then(({ run }) => run(`http://127.0.0.1:${server.address().port}`, () => new Promise((r) => server.close(r)), store)),
);
