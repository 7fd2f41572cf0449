/**
 * A SHA-1 or SHA-256 whose state can be handed from one invocation to the next.
 *
 * A digest of a whole file is inherently sequential, and a 1 TB artifact takes longer to hash than one Lambda
 * invocation may run (15 minutes). hash-wasm's hashers can `save()` their internal state (about 100 bytes) and
 * `load()` it in another process, so a chain of invocations each hashes a stretch and passes the state on in the
 * state machine's payload. Node's own crypto cannot export its state.
 *
 * The saved state embeds a hash of hash-wasm's WebAssembly build: a state saved by one version cannot be loaded by
 * another. hash-wasm is pinned to an exact version in package.json for that reason, and the state carries the
 * algorithm and a format tag so a mismatch is an error, never a wrong digest.
 */
import { createSHA1, createSHA256, type IHasher } from 'hash-wasm';

export type ResumableAlgorithm = 'sha1' | 'sha256';

/** What one link of the chain hands to the next. */
export interface HashProgress {
  readonly algorithm: ResumableAlgorithm;
  /** Bytes hashed so far. */
  readonly position: number;
  /** hash-wasm's saved state, base64; absent before the first byte. */
  readonly state?: string;
}

const FORMAT = 'hw4';

export class ResumableHash {
  private constructor(
    readonly algorithm: ResumableAlgorithm,
    private readonly hasher: IHasher,
    private hashed: number,
  ) {}

  /** Starts at `progress` (or at byte 0). */
  static async resume(progress: HashProgress): Promise<ResumableHash> {
    const hasher = progress.algorithm === 'sha1' ? await createSHA1() : await createSHA256();
    hasher.init();
    if (progress.state !== undefined) {
      const [format, algorithm, state] = progress.state.split(':');
      if (format !== FORMAT || algorithm !== progress.algorithm || state === undefined) {
        throw new Error(`hash state is not a ${FORMAT} ${progress.algorithm} state`);
      }
      hasher.load(Buffer.from(state, 'base64'));
    } else if (progress.position !== 0) {
      throw new Error('a hash past byte 0 needs its state');
    }
    return new ResumableHash(progress.algorithm, hasher, progress.position);
  }

  get position(): number {
    return this.hashed;
  }

  update(data: Uint8Array): void {
    this.hasher.update(data);
    this.hashed += data.length;
  }

  /** The state to hand on. */
  save(): HashProgress {
    const state = Buffer.from(this.hasher.save()).toString('base64');
    return { algorithm: this.algorithm, position: this.hashed, state: `${FORMAT}:${this.algorithm}:${state}` };
  }

  /** The digest of everything hashed (ends this hasher). */
  digest(): string {
    return this.hasher.digest('hex');
  }
}
