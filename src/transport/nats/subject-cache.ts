import { nameToSubject } from './subjects.js';

/** The subject cache is bounded: beyond this many distinct names it starts over. */
const SUBJECT_CACHE_LIMIT = 16_384;

/**
 * The subjects of event names under one prefix (`<prefix>.emit.<name>`, `<prefix>.bcast.<name>`),
 * each computed once: names repeat, and escaping one costs more than a lookup. Bounded: beyond
 * {@link SUBJECT_CACHE_LIMIT} names it starts over.
 */
export class SubjectCache {
  /** `<prefix>.emit.` and `<prefix>.bcast.`: what precedes an event name in a subject. */
  readonly emitBase: string;
  readonly bcastBase: string;
  private emitSubjects: Record<string, string | undefined> = Object.create(null) as Record<string, string | undefined>;
  private bcastSubjects: Record<string, string | undefined> = Object.create(null) as Record<string, string | undefined>;
  private count = 0;

  constructor(private readonly prefix: string) {
    this.emitBase = `${prefix}.emit.`;
    this.bcastBase = `${prefix}.bcast.`;
  }

  /** Names whose subjects are cached now. */
  get size(): number {
    return this.count;
  }

  /** The subject of `name` for `emit` (else for `broadcast`). */
  subject(emit: boolean, name: string): string {
    const subjects = emit ? this.emitSubjects : this.bcastSubjects;
    let subject = subjects[name];
    if (subject === undefined) {
      subject = nameToSubject(emit ? `${this.prefix}.emit` : `${this.prefix}.bcast`, name);
      this.remember();
      (emit ? this.emitSubjects : this.bcastSubjects)[name] = subject;
    }
    return subject;
  }

  /** Whether the name is the subject's tail as it is (unescaped): the receiver reads it from there. */
  carriesName(subject: string, emit: boolean, name: string): boolean {
    return subject.length === (emit ? this.emitBase.length : this.bcastBase.length) + name.length;
  }

  private remember(): void {
    if (++this.count < SUBJECT_CACHE_LIMIT) return;
    this.count = 0;
    this.emitSubjects = Object.create(null) as Record<string, string | undefined>;
    this.bcastSubjects = Object.create(null) as Record<string, string | undefined>;
  }
}
