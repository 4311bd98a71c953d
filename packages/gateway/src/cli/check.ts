/** The answer of `webtier-gateway check`: ready or not, and one line saying why. */
export interface Readiness {
  ready: boolean;
  line: string;
}

/**
 * Asks the gateway's admin /readyz, bounded by `timeoutMs` in total (connect, answer and body):
 * keepalived's vrrp_script must get an answer before its own timeout. A draining gateway answers
 * 503 at once, so the peer takes the service address before this one stops accepting.
 */
export async function probeReady(admin: string, timeoutMs: number): Promise<Readiness> {
  let url: URL;
  try {
    url = new URL('/readyz', admin);
  } catch {
    return { ready: false, line: `not ready: --admin "${admin}" is not a URL (expected e.g. http://127.0.0.1:9901)` };
  }
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), headers: { 'user-agent': 'webtier-gateway-check' } });
    const text = await res.text();
    let status = text.slice(0, 200);
    try {
      status = String((JSON.parse(text) as { status?: unknown }).status ?? status);
    } catch {
      /* not JSON: show the text */
    }
    return res.status === 200 ? { ready: true, line: `ready: ${url.href} answered 200 (${status})` } : { ready: false, line: `not ready: ${url.href} answered ${res.status} (${status})` };
  } catch (err) {
    const e = err as { name?: string; cause?: { code?: string; message?: string }; message?: string };
    const why = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message ?? String(err));
    return { ready: false, line: `not ready: ${url.href}: ${why}` };
  }
}
