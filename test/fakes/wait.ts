/**
 * Polling shared by the platform fakes' `waitFor`: checks `predicate` every 10 ms until it holds
 * or `timeoutMs` passes, then fails with what the fake saw (`report()`), so a timed-out test says
 * which calls did arrive.
 */
export async function pollUntil(predicate: () => boolean, timeoutMs: number, name: string, report: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (predicate()) return;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`${name}.waitFor timed out after ${timeoutMs}ms${lastError ? ` (predicate threw: ${String(lastError)})` : ''}\n${report()}`);
}
