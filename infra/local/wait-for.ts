/** Polls a condition until it holds or the time runs out; the last error explains a timeout. */
export async function waitFor<T>(
  description: string,
  check: () => Promise<T | undefined | false>,
  options?: { timeoutMs?: number; intervalMs?: number; abort?: Promise<unknown> },
): Promise<T> {
  const deadline = Date.now() + (options?.timeoutMs ?? 30_000);
  let lastError: unknown;
  let aborted: unknown;
  void options?.abort?.then((reason) => {
    aborted = reason ?? "aborted";
  });
  for (;;) {
    if (aborted !== undefined) throw new Error(`${description}: gave up (${describe(aborted)})`);
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${description}${lastError ? `: ${describe(lastError)}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options?.intervalMs ?? 100));
  }
}

function describe(value: unknown): string {
  return value instanceof Error ? value.message : typeof value === "string" ? value : JSON.stringify(value);
}
