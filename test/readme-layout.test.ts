// The README's Layout section is a picture of the tree: every folder it names exists, and every
// folder of the source rooms (and every top-level folder that is tracked) is in the picture.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/** The `text` block under `### Layout`. */
function layoutBlock(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('### Layout'));
  const match = /```text\n([\s\S]*?)```/.exec(section);
  if (match?.[1] === undefined) throw new Error('README.md has no ```text block under ### Layout');
  return match[1];
}

/**
 * The folders the picture names, as paths: a line's indentation (two spaces a level) nests it under
 * the folder above; a line may name several siblings (`entry/  pattern/`) and `a/b/` names a path
 * (and so `a`).
 */
function foldersInPicture(block: string): Set<string> {
  const folders = new Set<string>();
  const parents: string[] = [];
  for (const line of block.split('\n')) {
    const indent = /^ */.exec(line)?.[0].length ?? 0;
    if (indent % 2 !== 0 || indent > 2 * parents.length) continue; // a description's continuation line
    const names: string[] = [];
    for (const word of line.trim().split(/\s+/)) {
      if (!/^\.?[\w-]+(?:\/[\w-]+)*\/$/.test(word)) break;
      names.push(word.slice(0, -1));
    }
    if (names.length === 0) continue;
    parents.length = indent / 2;
    for (const name of names) {
      // `transport/nats/` names `transport` too.
      const parts = name.split('/');
      for (let n = 1; n <= parts.length; n++) folders.add([...parents, ...parts.slice(0, n)].join('/'));
    }
    parents.push(names[names.length - 1] as string);
  }
  return folders;
}

/** Every folder that holds a tracked file. */
function trackedFolders(): Set<string> {
  const files = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' }).split('\0').filter(Boolean);
  const folders = new Set<string>();
  for (const file of files) {
    for (let dir = dirname(file); dir !== '.'; dir = dirname(dir)) folders.add(dir);
  }
  return folders;
}

describe("the README's layout section", () => {
  const pictured = foldersInPicture(layoutBlock());
  const tracked = trackedFolders();

  it('names only folders that exist', () => {
    expect([...pictured].filter((folder) => !tracked.has(folder))).toEqual([]);
  });

  it('names every folder of src/, boot/ and components/, and every top-level folder', () => {
    const wanted = [...tracked].filter((folder) => {
      const depth = folder.split('/').length;
      if (depth === 1) return true;
      // Inside the source rooms, two levels deep (src/events/faces/wippy counts as faces/wippy).
      if (!/^(src|boot|components)\//.test(folder)) return false;
      return depth <= 3 || folder.startsWith('src/events/faces/');
    });
    const covered = (folder: string): boolean =>
      pictured.has(folder) ||
      (folder.startsWith('src/events/faces') && [...pictured].some((p) => p.startsWith(`${folder}/`)));
    expect(wanted.filter((folder) => !covered(folder))).toEqual([]);
  });

  it('reads a nested picture as paths', () => {
    const folders = foldersInPicture('a/    x\n  b/  c/   y\n    d/   z\n  e/f/   w\n          more words/\ng/\n');
    expect([...folders]).toEqual(['a', 'a/b', 'a/c', 'a/c/d', 'a/e', 'a/e/f', 'g']);
  });
});
