#!/usr/bin/env node
// The webtier-ring command. npm links a bin only if its file exists at install time, and dist/ is
// built after install: so the bin is this small committed file, which loads the build.
import('../dist/esm/cli.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/esm/cli.js')) {
    process.stderr.write('webtier-ring: @webtier/hash-ring is not built (dist/esm/cli.js is missing): run `npm run build`\n');
    process.exit(2);
  }
  throw err;
});
