// Preloaded (`node --import`) into every child a benchmark starts. The parent gives each child a
// stdin pipe; when the parent dies, even by SIGKILL, the pipe closes and the child exits: a killed
// benchmark leaves no webmail node, proxy or upstream behind.
process.stdin.on('end', leave).on('error', leave).resume();
process.stdin.unref?.();

function leave() {
  setTimeout(() => process.exit(0), 2000).unref();
  process.kill(process.pid, 'SIGTERM');
}
