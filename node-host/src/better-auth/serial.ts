/**
 * One engine call at a time per user in this process. The component keeps a
 * user's failure count inside the credential, and a credential is written back
 * with compare-and-swap: two attempts of one user evaluated side by side would
 * both start from the same count and only one write would land. Queued here,
 * each attempt sees the previous one's credential. (Across processes the
 * compare-and-swap still decides, and a lost write is counted again with
 * `interrupted`, without an evaluation.)
 */
export class PerUser {
  #tails = new Map<string, Promise<void>>();

  /** Run `task` after every earlier task of `userId` has settled. */
  async run<T>(userId: string, task: () => Promise<T>): Promise<T> {
    const before = this.#tails.get(userId) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => { release = resolve; });
    const tail = before.then(() => mine);
    this.#tails.set(userId, tail);
    await before;
    try {
      return await task();
    } finally {
      release();
      if (this.#tails.get(userId) === tail) this.#tails.delete(userId);
    }
  }
}
