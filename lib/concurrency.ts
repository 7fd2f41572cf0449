/** Runs the tasks it is given at most `n` at a time, starting waiting ones in the order they came (FIFO). */
export type Limiter = <T>(task: () => Promise<T>) => Promise<T>;

export function limiter(n: number): Limiter {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`a limit must be a positive integer, got ${n}`);
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await task();
    } finally {
      // Hand the slot straight to the next waiting task, or free it.
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}
