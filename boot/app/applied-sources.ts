import { getEntrySource } from 'kindling';
import type { Entry, Registry, RegistryOp } from 'kindling';
import { deepEqual } from '../../src/common/deep-freeze.js';

/**
 * What a read of the registry sources changes against what they applied last: the ops, one
 * `+id` / `~id` / `-id` per op, and what to remember once the ops are in.
 */
export interface SourceChanges {
  readonly ops: RegistryOp[];
  readonly changes: string[];
  /** Whether the sources as just read declare `id`. */
  declares(id: string): boolean;
}

/** A {@link SourceChanges} with what {@link AppliedSources.accept} takes in. */
interface PendingChanges extends SourceChanges {
  /** The read compared, the files whose entries are new (or were looked at again), and the files gone. */
  readonly read: ReadonlyMap<string, readonly Entry[]>;
  readonly files: readonly (readonly [string, readonly Entry[]])[];
  readonly gone: readonly string[];
  /** The entries of those files now, and the ids they declared before. */
  readonly next: ReadonlyMap<string, Entry>;
  readonly before: ReadonlySet<string>;
}

/**
 * The registry sources as an app last applied them: each file's entries, and every entry by id.
 * A read of the sources is compared file by file: a file whose entries are the very array applied
 * last time (the YAML cache gives that array back while the text is the same) is passed over, so a
 * reload after one file of many changed costs that file.
 */
export class AppliedSources {
  /** Each file's entries, in file order. */
  private files = new Map<string, readonly Entry[]>();
  private readonly entries = new Map<string, Entry>();

  /** Whether the sources declared `id` when last applied. */
  has(id: string): boolean {
    return this.entries.has(id);
  }

  /**
   * The ops that bring `registry` to what `read` (each file's entries, in file order) declares,
   * for what changed since the last {@link accept}. Entries of `touched` (they use a file that
   * changed) are updated even when their YAML did not change. What changed is stated against what
   * the registry holds now: `kindling apply` or the journal may have made (or undone) some of it.
   */
  compare(
    read: ReadonlyMap<string, readonly Entry[]>,
    touched: ReadonlySet<string>,
    registry: Pick<Registry, 'get' | 'has'>,
  ): SourceChanges {
    const touchedFiles = new Set<string>();
    for (const id of touched) {
      const file = this.fileOf(id);
      if (file !== undefined) touchedFiles.add(file);
    }
    const files: (readonly [string, readonly Entry[]])[] = [];
    for (const [file, list] of read)
      if (this.files.get(file) !== list || touchedFiles.has(file)) files.push([file, list]);
    const gone = [...this.files.keys()].filter((file) => !read.has(file));
    const next = new Map<string, Entry>();
    for (const [, list] of files) for (const entry of list) next.set(entry.id, entry);
    // The ids those files declared before, in the order of the files (they are sorted).
    const before = new Set<string>();
    const looked = new Set<string>([...files.map(([file]) => file), ...gone]);
    for (const [file, list] of this.files) if (looked.has(file)) for (const entry of list) before.add(entry.id);

    const ops: RegistryOp[] = [];
    const changes: string[] = [];
    for (const [, list] of files) {
      for (const entry of list) {
        const applied = this.entries.get(entry.id);
        if (applied !== undefined && (applied === entry || sameEntry(applied, entry)) && !touched.has(entry.id))
          continue;
        const current = registry.get(entry.id);
        if (current === undefined) {
          ops.push({ op: 'create', entry });
          changes.push(`+${entry.id}`);
        } else if (!sameEntry(current, entry) || touched.has(entry.id)) {
          ops.push({ op: 'update', entry });
          changes.push(`~${entry.id}`);
        }
      }
    }
    for (const id of before) {
      if (!next.has(id) && registry.has(id)) {
        ops.push({ op: 'delete', entry: { id } });
        changes.push(`-${id}`);
      }
    }
    const pending: PendingChanges = {
      ops,
      changes,
      read,
      files,
      gone,
      next,
      before,
      declares: (id) => next.has(id) || (this.entries.has(id) && !before.has(id)),
    };
    return pending;
  }

  /** Remembers what `changes` (from {@link compare}) read as applied. */
  accept(changes: SourceChanges): void {
    const { read, files, gone, next, before } = changes as PendingChanges;
    // A file added or gone: the files are taken in their new order (deletes are listed in it).
    if (gone.length > 0 || files.some(([file]) => !this.files.has(file))) this.files = new Map(read);
    else for (const [file, list] of files) this.files.set(file, list);
    for (const id of before) if (!next.has(id)) this.entries.delete(id);
    for (const [id, entry] of next) this.entries.set(id, entry);
  }

  private fileOf(id: string): string | undefined {
    const entry = this.entries.get(id);
    return entry === undefined ? undefined : getEntrySource(entry)?.file;
  }
}

function sameEntry(a: Entry, b: Entry): boolean {
  return a.kind === b.kind && deepEqual(a.meta, b.meta) && deepEqual(a.data, b.data);
}
