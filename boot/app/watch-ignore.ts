// The names `--watch` never looks at: editors' swap, backup, lock and temporary files, and the
// directories that are not the app's own sources. An editor that saves by writing a temporary file
// and renaming it over the real one shows up as a change of the real file; its temporary file is
// noise, and one that lingered (an editor that crashed) must not make the app reload.

/** A rule of {@link WATCH_IGNORED}: a file or directory name it matches, and who leaves such names. */
export interface WatchIgnoreRule {
  readonly name: RegExp;
  readonly why: string;
}

/** Every name the app watcher ignores, with the reason; a directory ignored is not descended into. */
export const WATCH_IGNORED: readonly WatchIgnoreRule[] = [
  { name: /^node_modules$/, why: 'installed packages, not the app' },
  // A dot file that is YAML is still read by the registry (a directory source reads every .yaml).
  { name: /^\.(?!.*\.ya?ml$)/, why: 'dot files and directories: .git, the .kindling state directory, editor settings' },
  { name: /^\.#/, why: "Emacs's lock files (a dangling link named .#file)" },
  { name: /^#.*#$/, why: "Emacs's auto-save files" },
  { name: /~$/, why: 'backup files of Vim, Emacs, gedit, nano' },
  { name: /\.sw[a-px]$/, why: "Vim's swap files (.swp, .swo, ... and .swx)" },
  { name: /^4913$/, why: 'the file Vim writes to check that it may create files in a directory' },
  {
    name: /\.te?mp(?:[-._]?[0-9a-f]+)?$/i,
    why: 'temporary files of atomic writes (file.tmp, file.tmp.1234, file.yaml.tmp-5e1f)',
  },
  { name: /___jb_(?:tmp|old)___$/, why: "JetBrains IDEs' safe-write temporary files" },
  { name: /^sed[0-9A-Za-z]{6}$/, why: 'the temporary file of sed -i' },
];

/** Whether the app watcher ignores a file or directory named `name` (a base name, not a path). */
export function isIgnoredByWatch(name: string): boolean {
  return WATCH_IGNORED.some((rule) => rule.name.test(name));
}
