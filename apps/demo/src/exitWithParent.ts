/**
 * Preloaded (`node --import`) into every app child of the launcher. The launcher gives each child a
 * stdin pipe; when the launcher dies, even by SIGKILL, the pipe closes and the child shuts down
 * (SIGTERM to itself, so the app closes cleanly; exit after 3 s regardless). No orphan survives.
 */
process.stdin.on('end', leave).on('error', leave).resume();
process.stdin.unref?.();

function leave(): void {
  setTimeout(() => process.exit(0), 3000).unref();
  process.kill(process.pid, 'SIGTERM');
}
