// `kindling validate | plan | apply | history | rollback`: what each command does, apart from
// parsing its arguments (main.ts).

import { relative } from 'node:path';
import {
  HandlerRegistry,
  KindlingError,
  RegistryYamlError,
  createConsoleLogger,
  escapeInvisible,
  loadRegistryYaml,
  messageOf,
} from 'kindling';
import type { Entry, Logger, Registry, RegistryOp } from 'kindling';
import { AdminClient, isNotRunning } from '../admin/admin-client.js';
import type { ClusterClient } from '../cluster/cluster-client.js';
import { resolveCluster } from '../cluster/cluster-address.js';
import { toWireOps } from '../admin/admin-protocol.js';
import type {
  AdminApplyResult,
  AdminDeadLetters,
  AdminHistory,
  AdminStatus,
  WireChange,
} from '../admin/admin-protocol.js';
import { Application, yamlSourceOf } from '../app/application.js';
import { Progress, describeError, escapeLines, formatCount } from './output.js';
import type { ProgressMode, Style } from './output.js';
import type { Component } from '../kernel/component.js';
import { collectHandlers } from '../kernel/container.js';
import { dryRunEvery } from './dry-run.js';
import { describeRefusal } from '../app/refusal.js';
import { formatProblem, orderProblems, problemOf, relativeInText, shownPath } from '../app/problems.js';
import type { Problem } from '../app/problems.js';
import type { DryRun, DryRunReport } from './dry-run.js';
import { ManifestError, loadBootManifest } from '../app/manifest.js';
import type { BootManifest } from '../app/manifest.js';
import { planRegistry } from './plan.js';
import type { PlannedChange, RegistryPlan } from './plan.js';
import { statePaths } from '../state/state-dir.js';
import { JOURNAL_REPLAY_SOURCE, describeHeld } from '../state/durable-state.js';

/** Where a command writes, and how. */
export interface CommandIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** Colours of stdout. */
  readonly style: Style;
  /** Colours of stderr. */
  readonly errStyle: Style;
  readonly progress: ProgressMode;
  /** The components a manifest can name, for the local boot of validate and plan. */
  readonly builtins: Readonly<Record<string, Component>>;
  /** The logger of a local boot (default: warnings and errors on stderr). */
  readonly logger: Logger | undefined;
  /**
   * Asks the user a yes/no question (a terminal on both ends); undefined when nobody can answer,
   * and then a command that needs a confirmation asks for `--yes` instead.
   */
  readonly confirm: ((question: string) => Promise<boolean>) | undefined;
  /** What to close once the command is done (a cluster client's NATS connection); main closes them. */
  readonly closers?: (() => Promise<void>)[];
}

/** Flags every command that finds an app takes. */
export interface TargetFlags {
  readonly stateDir?: string;
  /** Reach the app's cluster through this NATS server (default: the manifest's `cluster.nats`). */
  readonly nats?: string;
}

/** How a command reaches a running app: its admin socket, or its cluster over NATS. */
type AppClient = AdminClient | ClusterClient;

/** Exit codes: `plan` follows `kubectl diff` (0 no change, 1 changes, 2 error); the others 0 or 2. */
export const ExitCode = { ok: 0, changes: 1, error: 2 } as const;

/** The app a command works on: its manifest, its registry source, and its admin endpoint. */
interface Target {
  readonly arg: string;
  readonly manifest: BootManifest;
  readonly name: string;
  readonly source: string;
  readonly client: AppClient;
}

// ---- validate ------------------------------------------------------------------------------------

/**
 * `kindling validate <app>`: loads the manifest and the registry YAML, then dry-runs every entry
 * through the app's real listeners — through the running app when one answers on the state
 * directory (a second boot would collide with it, on its ports for one), otherwise in a local boot
 * whose components load but do not start. Prints every problem with its position; 0 or 2.
 */
export async function validateCommand(arg: string, flags: TargetFlags, io: CommandIO): Promise<number> {
  const progress = new Progress(io.stderr, io.progress);
  try {
    const target = await resolveTarget(arg, flags, io);
    const { entries, files } = await loadYaml(target, progress);
    const app = await runningApp(target);
    let ops: RegistryOp[];
    let where: string;
    let report: DryRunReport;
    if (app !== undefined) {
      const current = await target.client.entries();
      ops = [
        ...planRegistry({
          desired: entries,
          current: current.entries,
          owners: current.owners,
          source: target.source,
          prune: false,
        }).ops,
      ];
      where = `through the running app (pid ${app.pid}, revision ${current.revision})`;
      progress.phase(`checking ${formatCount(ops.length)} changed entries`);
      report = await dryRunEvery(ops, remoteDryRun(target, current.revision));
    } else {
      progress.phase('loading the components');
      const local = await bootLocally(target, io);
      try {
        ops = entries.map((entry) => ({ op: 'create', entry }));
        where = `in a local boot of ${local.components.join(', ')} (nothing started)`;
        progress.phase(`checking ${formatCount(ops.length)} entries`);
        report = await dryRunEvery(ops, localDryRun(local.registry));
      } finally {
        await local.dispose();
      }
    }
    progress.done(`checked ${formatCount(entries.length)} entries`);
    if (report.problems.length > 0 || report.incomplete) {
      printProblems(io, report, `${escapeInvisible(target.name)}: the registry is not valid`);
      return ExitCode.error;
    }
    io.stdout(
      `${io.style.ok('valid')}: ${formatCount(entries.length)} ${plural(entries.length, 'entry', 'entries')} in ${formatCount(files.length)} ${plural(files.length, 'file')}, checked ${where}\n`,
    );
    return ExitCode.ok;
  } catch (error) {
    progress.clear();
    return fail(io, error, arg);
  }
}

// ---- plan ----------------------------------------------------------------------------------------

/** Flags of `kindling plan`. */
export interface PlanFlags extends TargetFlags {
  readonly prune?: boolean;
  readonly json?: boolean;
  /** List every change, however many (by default a long plan is summarised by kind). */
  readonly full?: boolean;
}

/**
 * `kindling plan <app>`: the diff between the registry YAML and the running app (or an empty
 * registry when none runs), dry-run through the listeners. 0 no change, 1 changes, 2 error.
 */
export async function planCommand(arg: string, flags: PlanFlags, io: CommandIO): Promise<number> {
  const progress = new Progress(io.stderr, io.progress);
  let plan: RegistryPlan | undefined;
  try {
    const target = await resolveTarget(arg, flags, io);
    const { entries } = await loadYaml(target, progress);
    const app = await runningApp(target);
    progress.phase(`planning ${formatCount(entries.length)} entries`);
    let report: DryRunReport = { problems: [], followOns: 0, incomplete: false };
    let against: { running: true; pid: number; revision: number } | { running: false };
    if (app !== undefined) {
      const current = await target.client.entries();
      against = { running: true, pid: app.pid, revision: current.revision };
      plan = planRegistry({
        desired: entries,
        current: current.entries,
        owners: current.owners,
        source: target.source,
        prune: flags.prune === true,
      });
      if (plan.ops.length > 0) {
        progress.phase(`dry-running ${formatCount(plan.ops.length)} changes through the app`);
        report = await dryRunEvery(plan.ops, remoteDryRun(target, current.revision));
      }
    } else {
      against = { running: false };
      plan = planRegistry({
        desired: entries,
        current: [],
        owners: {},
        source: target.source,
        prune: flags.prune === true,
      });
      if (plan.ops.length > 0) {
        progress.phase('loading the components');
        const local = await bootLocally(target, io);
        try {
          progress.phase(`dry-running ${formatCount(plan.ops.length)} changes in a local boot`);
          report = await dryRunEvery(plan.ops, localDryRun(local.registry));
        } finally {
          await local.dispose();
        }
      }
    }
    progress.done(`planned ${formatCount(plan.changes.length)} changes`);
    const valid = report.problems.length === 0 && !report.incomplete;
    if (flags.json === true) {
      const problems = orderProblems(report.problems);
      io.stdout(
        `${JSON.stringify({ app: target.name, source: target.source, against, changes: plan.changes, unpruned: plan.unpruned, valid, problems }, undefined, 2)}\n`,
      );
    } else {
      const subject = against.running
        ? `the running app (pid ${against.pid}, revision ${against.revision})`
        : `an empty registry (no app is running at ${target.client.where})`;
      printPlan(io, target, plan, { about: subject, full: flags.full === true });
      if (!valid) printProblems(io, report, 'the dry run was refused');
      else if (plan.changes.length > 0 && against.running) {
        const command = escapeInvisible(
          `kindling apply ${arg}${flags.prune === true ? ' --prune' : ''}${flags.stateDir === undefined ? '' : ` --state-dir ${flags.stateDir}`} --expect-revision ${against.revision}`,
        );
        io.stdout(
          `${io.style.dim(`the dry run through the app's listeners passed; \`${command}\` applies it as one batch`)}\n`,
        );
      } else if (plan.changes.length > 0) {
        io.stdout(
          `${io.style.dim(`the dry run through the app's listeners passed (in a local boot that started nothing); \`kindling run ${escapeInvisible(arg)}\` starts the app with it`)}\n`,
        );
      }
    }
    if (!valid) return ExitCode.error;
    return plan.changes.length > 0 ? ExitCode.changes : ExitCode.ok;
  } catch (error) {
    progress.clear();
    if (flags.json === true) {
      const problems = problemsOf(error, plan?.ops ?? [], arg);
      io.stdout(
        `${JSON.stringify({ valid: false, error: { code: codeOf(error), message: relativeInText(messageOf(error)) }, problems }, undefined, 2)}\n`,
      );
      return ExitCode.error;
    }
    return fail(io, error, arg, plan?.ops);
  }
}

// ---- apply ---------------------------------------------------------------------------------------

/** Flags of `kindling apply`. */
export interface ApplyFlags extends TargetFlags {
  readonly prune?: boolean;
  /** In a cluster: every live node dry-runs the batch before it is appended. */
  readonly allNodes?: boolean;
  readonly expectRevision?: number;
  readonly full?: boolean;
  /** Delete many entries (with --prune) without asking. */
  readonly yes?: boolean;
}

/** How often apply plans again when another change lands between its plan and its apply. */
const APPLY_ATTEMPTS = 3;

/**
 * `kindling apply <app>`: applies the difference between the registry YAML and the running app as
 * one atomic batch (with `--prune`, also deletes the entries this YAML applied before and no
 * longer declares). 0 applied or nothing to do; 2 refused or no app.
 */
export async function applyCommand(arg: string, flags: ApplyFlags, io: CommandIO): Promise<number> {
  const progress = new Progress(io.stderr, io.progress);
  let ops: readonly RegistryOp[] = [];
  try {
    const target = await resolveTarget(arg, flags, io);
    await requireRunning(target);
    const { entries } = await loadYaml(target, progress);
    for (let attempt = 1; ; attempt++) {
      progress.phase(`planning ${formatCount(entries.length)} entries`);
      const current = await target.client.entries();
      if (flags.expectRevision !== undefined && flags.expectRevision !== current.revision) {
        throw new KindlingError(
          'CONFLICT',
          `expected revision ${flags.expectRevision}, but the registry is at ${current.revision}; plan again`,
          {
            details: { expectRevision: flags.expectRevision, revision: current.revision },
          },
        );
      }
      const plan = planRegistry({
        desired: entries,
        current: current.entries,
        owners: current.owners,
        source: target.source,
        prune: flags.prune === true,
      });
      ops = plan.ops;
      if (plan.ops.length === 0) {
        progress.done('nothing to apply');
        io.stdout(`no changes: the running app (revision ${current.revision}) already matches the registry YAML\n`);
        printUnpruned(io, plan);
        return ExitCode.ok;
      }
      const deletes = plan.changes.filter((change) => change.op === 'delete').length;
      progress.clear();
      await confirmDeletes(io, flags, {
        deletes,
        entries: current.entries.length,
        what: 'this apply --prune',
        check: escapeInvisible(`kindling plan ${arg} --prune`),
      });
      progress.size(plan.ops.length);
      progress.phase(`applying ${formatCount(plan.ops.length)} changes`);
      let result: AdminApplyResult;
      try {
        // Fenced by the revision the plan was made against: a change that lands in between is not overwritten blindly.
        result = await target.client.apply({
          ops: toWireOps(plan.ops),
          expectRevision: current.revision,
          source: target.source,
          ...(flags.allNodes === true ? { allNodes: true } : {}),
        });
      } catch (error) {
        const raced =
          KindlingError.is(error) && error.code === 'CONFLICT' && error.details['expectRevision'] !== undefined;
        if (raced && flags.expectRevision === undefined && attempt < APPLY_ATTEMPTS) continue;
        throw error;
      }
      progress.done(`applied ${formatCount(plan.ops.length)} changes`);
      io.stdout(changeList(io.style, plan.changes, flags.full === true));
      io.stdout(`applied revision ${io.style.bold(String(result.revision))}: ${summary(plan.changes, true)}\n`);
      printFaults(io, result);
      printUnpruned(io, plan);
      return ExitCode.ok;
    }
  } catch (error) {
    progress.clear();
    return fail(io, error, arg, ops);
  }
}

// ---- history -------------------------------------------------------------------------------------

/** Flags of `kindling history`. */
export interface HistoryFlags extends TargetFlags {
  readonly json?: boolean;
}

/** `kindling history <app>`: the batches the running app committed since it started. */
export async function historyCommand(arg: string, flags: HistoryFlags, io: CommandIO): Promise<number> {
  try {
    const target = await resolveTarget(arg, flags, io);
    const status = await requireRunning(target);
    const history = await target.client.history();
    if (flags.json === true) {
      io.stdout(`${JSON.stringify(history, undefined, 2)}\n`);
      return ExitCode.ok;
    }
    printHistory(io, status, history);
    return ExitCode.ok;
  } catch (error) {
    return fail(io, error, arg);
  }
}

// ---- compact -------------------------------------------------------------------------------------

/** `kindling compact <app>`: compacts the running app's journal now (a snapshot replaces its batches). */
export async function compactCommand(arg: string, flags: TargetFlags, io: CommandIO): Promise<number> {
  try {
    const target = await resolveTarget(arg, flags, io);
    await requireRunning(target);
    const done = await target.client.compact();
    io.stdout(
      `compacted ${escapeInvisible(done.path)}: ${formatBytes(done.bytesBefore)} → ${formatBytes(done.bytesAfter)}, a snapshot of ${formatCount(done.entries)} ${plural(done.entries, 'entry', 'entries')} at revision ${done.revision}\n`,
    );
    return ExitCode.ok;
  } catch (error) {
    return fail(io, error, arg);
  }
}

// ---- dead letters --------------------------------------------------------------------------------

/** Flags of `kindling dead-letters`. */
export interface DeadLettersFlags extends TargetFlags {
  readonly json?: boolean;
  readonly max?: number;
}

/**
 * `kindling dead-letters <app> [channel]`: how many dead letters each durable channel of the running
 * app holds, and what each of its groups has pending (waiting and in flight; `--json` prints the dead
 * letter counts only, as it did before); with a channel, its dead letters (oldest first) with their error.
 */
export async function deadLettersCommand(
  arg: string,
  channel: string | undefined,
  flags: DeadLettersFlags,
  io: CommandIO,
): Promise<number> {
  try {
    const target = await resolveTarget(arg, flags, io);
    await requireRunning(target);
    const answer = await target.client.deadLetters({
      ...(channel === undefined ? {} : { channel }),
      ...(flags.max === undefined ? {} : { max: flags.max }),
    });
    if (flags.json === true) {
      io.stdout(`${JSON.stringify(channel === undefined ? answer.counts : answer.letters, undefined, 2)}\n`);
      return ExitCode.ok;
    }
    if (channel === undefined) {
      listChannels(answer.counts, answer.pending ?? [], io);
      return ExitCode.ok;
    }
    if (answer.letters.length === 0) io.stdout(`no dead letters in channel ${escapeInvisible(channel)}\n`);
    for (const letter of answer.letters) {
      io.stdout(
        `${escapeInvisible(letter.id ?? '(no id)')}  group ${escapeInvisible(letter.group ?? '?')}  ${letter.attempts} ${plural(letter.attempts, 'attempt')}  ${new Date(letter.time).toISOString()}\n  ${io.style.dim(escapeInvisible(letter.error))}\n`,
      );
    }
    return ExitCode.ok;
  } catch (error) {
    return fail(io, error, arg);
  }
}

/**
 * The listing of `kindling dead-letters <app>`: each channel with its dead letters, and under it each
 * consumer group with what it has not acknowledged.
 */
function listChannels(
  counts: AdminDeadLetters['counts'],
  pending: NonNullable<AdminDeadLetters['pending']>,
  io: CommandIO,
): void {
  const names = [...new Set([...Object.keys(counts), ...pending.map((p) => p.channel)])].sort();
  if (names.length === 0) io.stdout('no dead letters\n');
  for (const name of names) {
    const count = counts[name] ?? 0;
    io.stdout(`${escapeInvisible(name)}  ${count === 0 ? 'no' : formatCount(count)} ${plural(count, 'dead letter')}\n`);
    for (const p of pending)
      if (p.channel === name)
        io.stdout(
          `  group ${escapeInvisible(p.group)}  ${formatCount(p.waiting)} waiting, ${formatCount(p.inFlight)} in flight\n`,
        );
  }
}

/** Flags of `kindling redrive`. */
export interface RedriveFlags extends TargetFlags {
  readonly all?: boolean;
  readonly id?: readonly string[];
  /** Only dead letters older than this many ms. */
  readonly olderThan?: number;
  readonly group?: string;
  readonly json?: boolean;
}

/**
 * `kindling redrive <app> <channel>`: sends dead letters of a durable channel of the running app
 * again, each to the group that gave up on it — all of them (`--all`), by message id (`--id`, more
 * than once), by age (`--older-than`) or by group (`--group`).
 */
export async function redriveCommand(
  arg: string,
  channel: string,
  flags: RedriveFlags,
  io: CommandIO,
): Promise<number> {
  try {
    const target = await resolveTarget(arg, flags, io);
    await requireRunning(target);
    const result = await target.client.redrive({
      channel,
      ...(flags.all === true ? { all: true } : {}),
      ...(flags.id === undefined ? {} : { ids: flags.id }),
      ...(flags.olderThan === undefined ? {} : { olderThanMs: flags.olderThan }),
      ...(flags.group === undefined ? {} : { group: flags.group }),
    });
    if (flags.json === true) io.stdout(`${JSON.stringify(result, undefined, 2)}\n`);
    else
      io.stdout(
        `re-drove ${formatCount(result.redriven)} ${plural(result.redriven, 'dead letter')} of channel ${escapeInvisible(channel)}${result.ids.length > 0 ? `: ${result.ids.map((id) => escapeInvisible(id)).join(', ')}` : ''}\n`,
      );
    return ExitCode.ok;
  } catch (error) {
    return fail(io, error, arg);
  }
}

// ---- status --------------------------------------------------------------------------------------

/** Flags of `kindling status`. */
export interface StatusFlags extends TargetFlags {
  readonly json?: boolean;
  /** Ask every desynced node of the cluster to try again first. */
  readonly retry?: boolean;
}

/**
 * `kindling status <app>`: the running app (its pid, revision and entries), or for a cluster every
 * live node with its name, revision and state (`desynced` with the refusing entry and error). 0
 * when the app runs and every node is in sync, 1 when a node is not, 2 when none answers.
 */
export async function statusCommand(arg: string, flags: StatusFlags, io: CommandIO): Promise<number> {
  try {
    const target = await resolveTarget(arg, flags, io);
    const { client } = target;
    if (client instanceof AdminClient) {
      if (flags.retry === true)
        throw new KindlingError('INVALID', `${target.name} is not a cluster: --retry is for the nodes of a cluster`);
      const status = await requireRunning(target);
      if (flags.json === true) io.stdout(`${JSON.stringify(status, undefined, 2)}\n`);
      else
        io.stdout(
          `${escapeInvisible(status.name)} is ${status.phase} (pid ${status.pid}, revision ${status.revision}, ${formatCount(status.entries)} ${plural(status.entries, 'entry', 'entries')}, since ${status.startedAt})\n`,
        );
      return ExitCode.ok;
    }
    const answers = flags.retry === true ? await client.retry() : await client.nodes();
    if (answers.length === 0)
      throw new KindlingError('UNAVAILABLE', `${client.where}: no node answered (is any running?)`, {
        details: { notRunning: true },
      });
    if (flags.json === true) {
      io.stdout(`${JSON.stringify({ cluster: client.address.cluster, nodes: answers }, undefined, 2)}\n`);
    } else {
      const head = Math.max(...answers.map((answer) => answer.result?.clusterRevision ?? 0));
      io.stdout(
        `${io.style.bold(`cluster ${escapeInvisible(client.address.cluster)}`)} on ${escapeInvisible(client.address.nats)}: ${answers.length} ${plural(answers.length, 'node')}, log at revision ${head}\n`,
      );
      const rows = answers.map((answer) => {
        const status = answer.result;
        if (status === undefined) return [answer.node, 'error', '', answer.error.message];
        const problem = status.problem;
        const why =
          problem === undefined
            ? ''
            : `could not apply revision ${problem.revision}${problem.entryId === undefined ? '' : ` (entry ${problem.entryId})`}: ${problem.error}`;
        return [status.node, status.state, String(status.revision), why];
      });
      const cells = rows.map((row) => row.map((cell) => escapeInvisible(cell)));
      const widths = [0, 1, 2].map((column) =>
        Math.max(['node', 'state', 'revision'][column]?.length ?? 0, ...cells.map((row) => (row[column] ?? '').length)),
      );
      const line = (row: readonly string[]): string =>
        `  ${row
          .slice(0, 3)
          .map((cell, column) => cell.padEnd(widths[column] ?? 0))
          .join('  ')}${row[3] === undefined || row[3] === '' ? '' : `  ${row[3]}`}`.trimEnd();
      io.stdout(`${io.style.dim(line(['node', 'state', 'revision']))}\n`);
      for (const row of cells) {
        const shown = line(row);
        io.stdout(`${row[1] === 'in-sync' ? shown : io.style.error(shown)}\n`);
      }
      if (cells.some((row) => row[1] === 'desynced'))
        io.stdout(
          `${io.style.dim(`a desynced node serves its last good revision; fix the cause on that machine, then \`kindling status ${escapeInvisible(arg)} --retry\` (it also retries on the next batch)`)}\n`,
        );
    }
    return answers.every((answer) => answer.result?.state === 'in-sync') ? ExitCode.ok : ExitCode.changes;
  } catch (error) {
    return fail(io, error, arg);
  }
}

// ---- rollback ------------------------------------------------------------------------------------

/** Flags of `kindling rollback`. */
export interface RollbackFlags extends TargetFlags {
  readonly dryRun?: boolean;
  readonly expectRevision?: number;
  readonly full?: boolean;
  /** Delete many entries without asking. */
  readonly yes?: boolean;
}

/**
 * `kindling rollback <app> <revision>`: returns the running app's registry to the state it had at
 * `revision`, as one new batch (history stays linear).
 */
export async function rollbackCommand(
  arg: string,
  revision: number,
  flags: RollbackFlags,
  io: CommandIO,
): Promise<number> {
  try {
    const target = await resolveTarget(arg, flags, io);
    const status = await requireRunning(target);
    const fence = flags.expectRevision === undefined ? {} : { expectRevision: flags.expectRevision };
    let result = await target.client.rollback({ revision, dryRun: true, ...fence });
    if (flags.dryRun !== true) {
      const deletes = result.changes.filter((change) => change.op === 'delete').length;
      await confirmDeletes(io, flags, {
        deletes,
        entries: status.entries,
        what: `the rollback to revision ${revision}`,
        check: escapeInvisible(`kindling rollback ${arg} ${revision} --dry-run`),
      });
      // Fenced by the revision that was checked and confirmed: a change that lands in between is not undone blindly.
      result = await target.client.rollback({ revision, dryRun: false, expectRevision: result.revision });
    }
    io.stdout(changeList(io.style, result.changes, flags.full === true));
    if (result.changes.length === 0)
      io.stdout(`no changes: the registry is already as it was at revision ${revision}\n`);
    else if (result.dryRun)
      io.stdout(
        `the rollback to revision ${revision} would be revision ${result.revision + 1}: ${summary(result.changes)} (dry run, nothing changed)\n`,
      );
    else
      io.stdout(
        `rolled back to revision ${revision} as revision ${io.style.bold(String(result.revision))}: ${summary(result.changes, true)}\n`,
      );
    printFaults(io, result);
    return ExitCode.ok;
  } catch (error) {
    return fail(io, error, arg);
  }
}

// ---- shared --------------------------------------------------------------------------------------

async function resolveTarget(arg: string, flags: TargetFlags, io: Pick<CommandIO, 'closers'>): Promise<Target> {
  const manifest = await loadBootManifest(arg);
  const cluster = resolveCluster(manifest, flags.nats);
  let client: AppClient;
  if (cluster === undefined) client = new AdminClient(statePaths(manifest.dir, flags.stateDir));
  else {
    // Only a cluster's commands load the NATS client.
    const { ClusterClient } = await import('../cluster/cluster-client.js');
    const clusterClient = new ClusterClient(cluster);
    io.closers?.push(() => clusterClient.close());
    client = clusterClient;
  }
  return {
    arg,
    manifest,
    name: manifest.name ?? (relative(process.cwd(), manifest.dir) || '.'),
    source: yamlSourceOf(manifest),
    client,
  };
}

async function loadYaml(
  target: Target,
  progress: Progress,
): Promise<{ entries: readonly Entry[]; files: readonly string[] }> {
  progress.phase(
    `loading the registry YAML (${target.manifest.registry.length} ${plural(target.manifest.registry.length, 'source')})`,
  );
  const loaded = await loadRegistryYaml(target.manifest.registry, {
    ...target.manifest.yamlLimits,
    root: target.manifest.boundary,
  });
  progress.size(loaded.entries.length);
  progress.phase(
    `loaded ${formatCount(loaded.entries.length)} ${plural(loaded.entries.length, 'entry', 'entries')} from ${formatCount(loaded.files.length)} ${plural(loaded.files.length, 'file')}`,
  );
  return loaded;
}

/** The running app's status, or undefined when none runs at the state directory. */
async function runningApp(target: Target): Promise<AdminStatus | undefined> {
  const probe = await target.client.probe();
  if (probe.state !== 'live') return undefined;
  if (probe.status.phase !== 'ready') {
    throw new KindlingError(
      'UNAVAILABLE',
      `${target.name} (pid ${probe.status.pid}) is ${probe.status.phase}; try again once it is running`,
      { retryable: true },
    );
  }
  return probe.status;
}

async function requireRunning(target: Target): Promise<AdminStatus> {
  const app = await runningApp(target);
  if (app === undefined) {
    throw new KindlingError('UNAVAILABLE', `no running app at ${target.client.where}`, {
      details: { notRunning: true, stateDir: target.client.where },
    });
  }
  return app;
}

function remoteDryRun(target: Target, revision: number): DryRun {
  return (batch) =>
    target.client.apply({ ops: toWireOps(batch), dryRun: true, expectRevision: revision, source: target.source });
}

function localDryRun(registry: Registry): DryRun {
  return (batch) => registry.apply(batch, { dryRun: true });
}

/**
 * Boots the app's components without starting them: their listeners are registered (those bound in
 * the container too), nothing listens or serves.
 */
async function bootLocally(
  target: Target,
  io: CommandIO,
): Promise<{ registry: Registry; components: readonly string[]; dispose: () => Promise<void> }> {
  const app = await Application.load(target.arg, {
    builtins: io.builtins,
    logger: io.logger ?? createConsoleLogger('warn', target.name),
  });
  try {
    await app.boot.load();
    const container = app.boot.context.container;
    // The registry component collects container-declared listeners when it starts; nothing starts here.
    if (container.isBound(HandlerRegistry)) collectHandlers(container, container.get(HandlerRegistry));
    return {
      registry: app.registry,
      components: app.boot.componentNames,
      dispose: async () => void (await app.shutdown('checked')),
    };
  } catch (error) {
    await app.shutdown('check failed');
    throw error;
  }
}

/** Prints the plan of `target` against `about` (what was planned: a file, a directory); `full` lists every change. */
function printPlan(
  io: CommandIO,
  target: Target,
  plan: RegistryPlan,
  { about, full }: { readonly about: string; readonly full: boolean },
): void {
  const { style } = io;
  const subject = escapeInvisible(about);
  const name = escapeInvisible(target.name);
  if (plan.changes.length === 0) {
    io.stdout(`no changes: ${subject} matches the registry YAML of ${name}\n`);
    printUnpruned(io, plan);
    return;
  }
  io.stdout(`${style.bold(`plan for ${name}`)} against ${subject}:\n`);
  io.stdout(changeList(style, plan.changes, full));
  io.stdout(`${summary(plan.changes)}\n`);
  printUnpruned(io, plan);
}

/** Longer lists of changes are summarised by operation and kind, unless `--full` is given. */
export const LISTED_CHANGES = 50;

/** Deleting more entries than this (or every entry) asks for a confirmation, or `--yes`. */
export const CONFIRMED_DELETES = 5;

/** The changes one per line, or for a long list one line per operation and kind, largest first. */
function changeList(style: Style, changes: readonly (PlannedChange | WireChange)[], full: boolean): string {
  if (full || changes.length <= LISTED_CHANGES) return changeLines(style, changes);
  const groups = new Map<string, { op: string; kind: string; count: number }>();
  for (const change of changes) {
    const key = `${change.op}\0${change.kind}`;
    const group = groups.get(key) ?? { op: change.op, kind: change.kind, count: 0 };
    group.count++;
    groups.set(key, group);
  }
  const order = ['create', 'update', 'delete'];
  const rows = [...groups.values()].sort(
    (a, b) => order.indexOf(a.op) - order.indexOf(b.op) || b.count - a.count || (a.kind < b.kind ? -1 : 1),
  );
  const width = Math.max(...rows.map((row) => formatCount(row.count).length));
  const lines = rows.map((row) => {
    const paint = row.op === 'create' ? style.create : row.op === 'update' ? style.update : style.remove;
    const sign = row.op === 'create' ? '+' : row.op === 'update' ? '~' : '-';
    return `  ${paint(`${sign} ${formatCount(row.count).padStart(width)}`)}  ${escapeInvisible(row.kind)}\n`;
  });
  return `${lines.join('')}${style.dim(`  (${formatCount(changes.length)} changes, counted by kind; --full lists each one)`)}\n`;
}

/**
 * Asks before a command deletes more than a handful of entries, or every entry; without anyone to
 * ask (not a terminal), refuses unless `--yes` was given. Throws when not confirmed.
 */
async function confirmDeletes(
  io: CommandIO,
  flags: { readonly yes?: boolean },
  plan: { deletes: number; entries: number; what: string; check: string },
): Promise<void> {
  const { deletes, entries, what, check } = plan;
  const everything = deletes > 0 && deletes >= entries;
  if (flags.yes === true || (deletes <= CONFIRMED_DELETES && !everything)) return;
  const count = everything
    ? `every entry of the running app (${formatCount(deletes)})`
    : `${formatCount(deletes)} entries of the running app`;
  if (io.confirm === undefined) {
    throw new KindlingError(
      'ABORTED',
      `${what} would delete ${count}; nothing changed. See the changes with \`${check}\`, then run it again with --yes`,
      {
        details: { deletes },
      },
    );
  }
  if (!(await io.confirm(`${what} deletes ${count}. Go on?`))) {
    throw new KindlingError('ABORTED', `${what} was not confirmed; nothing changed`, { details: { deletes } });
  }
}

function changeLines(style: Style, changes: readonly (PlannedChange | WireChange)[]): string {
  const shown = changes.map((change) => ({
    change,
    id: escapeInvisible(change.id),
    kind: escapeInvisible(change.kind),
  }));
  const width = Math.max(0, ...shown.map((row) => row.id.length));
  const kindWidth = Math.max(0, ...shown.map((row) => row.kind.length));
  return shown.map((row) => `${changeLine(style, { ...row, id: row.id.padEnd(width) }, kindWidth)}\n`).join('');
}

/** One line of a change; `id` and `kind` come escaped (and `id` padded). */
function changeLine(
  style: Style,
  { change, id, kind }: { readonly change: PlannedChange | WireChange; readonly id: string; readonly kind: string },
  kindWidth: number,
): string {
  const paint = change.op === 'create' ? style.create : change.op === 'update' ? style.update : style.remove;
  const sign = change.op === 'create' ? '+' : change.op === 'update' ? '~' : '-';
  const paths = 'paths' in change && change.paths !== undefined ? change.paths : [];
  const at = 'at' in change && change.at !== undefined && change.op === 'create' ? change.at : undefined;
  const listed = escapeInvisible(
    paths.slice(0, 5).join(', ') + (paths.length > 5 ? `, … (${paths.length - 5} more)` : ''),
  );
  const detail =
    listed !== '' ? `  ${listed}` : at !== undefined ? `  ${style.dim(escapeInvisible(relativePosition(at)))}` : '';
  return `  ${paint(`${sign} ${id}`)}  ${style.dim(detail === '' ? kind : kind.padEnd(kindWidth))}${detail}`;
}

function summary(changes: readonly { readonly op: string }[], done = false): string {
  const count = (op: string): number => changes.filter((change) => change.op === op).length;
  const words = done ? ['created', 'updated', 'deleted'] : ['to create', 'to update', 'to delete'];
  return ['create', 'update', 'delete'].map((op, i) => `${count(op)} ${words[i] as string}`).join(', ');
}

function printUnpruned(io: CommandIO, plan: RegistryPlan): void {
  if (plan.unpruned.length === 0) return;
  const ids =
    escapeInvisible(plan.unpruned.slice(0, 5).join(', ')) +
    (plan.unpruned.length > 5 ? `, … (${plan.unpruned.length - 5} more)` : '');
  io.stdout(
    io.style.dim(
      `${plan.unpruned.length} ${plural(plan.unpruned.length, 'entry', 'entries')} this YAML applied before ${plan.unpruned.length === 1 ? 'is' : 'are'} no longer declared and kept (${ids}); --prune deletes ${plan.unpruned.length === 1 ? 'it' : 'them'}`,
    ) + '\n',
  );
}

function printFaults(io: CommandIO, result: AdminApplyResult): void {
  for (const fault of result.faults) {
    const on = fault.entryId === undefined ? '' : ` on ${escapeInvisible(fault.entryId)}`;
    io.stderr(
      `${io.errStyle.warn('warning')}: committed, but ${fault.phase === 'commit' ? 'the commit of' : 'observer'} ${escapeInvisible(fault.name)} failed${on}: ${indent(fault.message)}\n`,
    );
  }
}

function printHistory(io: CommandIO, status: AdminStatus, history: AdminHistory): void {
  const { style } = io;
  io.stdout(
    `${style.bold(`history of ${escapeInvisible(status.name)}`)} (pid ${status.pid}, revision ${history.revision}; this run's batches, oldest first)\n`,
  );
  // Every cell is escaped before the widths are measured: a value can neither forge a row nor misalign one.
  const rows = history.records.map((record) =>
    [
      String(record.revision),
      record.time.replace(/\.\d+Z$/, 'Z'),
      displaySource(record.source, history),
      changeSummary(record.changes),
    ].map((cell) => escapeInvisible(cell)),
  );
  const header = ['rev', 'time', 'source', 'changes'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) =>
        i === 0 ? cell.padStart(widths[0] as number) : i === cells.length - 1 ? cell : cell.padEnd(widths[i] as number),
      )
      .join('  ');
  io.stdout(`  ${style.dim(line(header))}\n`);
  for (const row of rows) io.stdout(`  ${line(row)}\n`);
  if (history.records.length === 0) io.stdout('  (no batches yet)\n');
  if (history.journal.tornTail)
    io.stdout(
      style.dim(
        `  a torn last record of ${escapeInvisible(history.journal.path)} was dropped at start (a crash while it was written)\n`,
      ),
    );
}

function displaySource(source: string | undefined, history: AdminHistory): string {
  if (source === undefined) return '-';
  if (source.startsWith('yaml:')) return `yaml:${relativePosition(source.slice(5)) || '.'}`;
  if (source === JOURNAL_REPLAY_SOURCE) return `journal replay (${describeHeld(history.journal)})`;
  return source;
}

function changeSummary(changes: readonly WireChange[]): string {
  const sign = (op: string): string => (op === 'create' ? '+' : op === 'update' ? '~' : '-');
  if (changes.length <= 3) return changes.map((change) => `${sign(change.op)}${change.id}`).join(' ');
  return ['create', 'update', 'delete']
    .map((op) => [op, changes.filter((change) => change.op === op).length] as const)
    .filter(([, n]) => n > 0)
    .map(([op, n]) => `${sign(op)}${n}`)
    .join(' ');
}

function printProblems(io: CommandIO, report: DryRunReport, title: string): void {
  const { errStyle } = io;
  const problems = orderProblems(report.problems);
  const count = problems.length;
  io.stderr(`${errStyle.error('error')}: ${title} (${count} ${plural(count, 'problem')}):\n`);
  for (const problem of problems) io.stderr(`  ${indent(formatProblem(problem))}\n`);
  if (report.followOns > 0)
    io.stderr(
      errStyle.dim(
        `  (${report.followOns} more ${plural(report.followOns, 'entry', 'entries')} refused only because of the problems above)\n`,
      ),
    );
  if (report.incomplete) io.stderr(errStyle.dim('  (stopped after too many refusals; fix these and check again)\n'));
}

/** Prints a command's failure with every position it carries, in file order; returns the exit code 2. */
function fail(io: CommandIO, error: unknown, arg: string, ops: readonly RegistryOp[] = []): number {
  const lines = problemsOf(error, ops, arg).map(formatProblem);
  const { errStyle } = io;
  if (lines.length === 1) io.stderr(`${errStyle.error('error')}: ${indent(lines[0] as string)}\n`);
  else {
    io.stderr(`${errStyle.error('error')}: ${headline(error, lines.length)}:\n`);
    for (const line of lines) io.stderr(`  ${indent(line)}\n`);
  }
  return ExitCode.error;
}

/** Every problem an error carries, once each, in file order. */
export function problemsOf(error: unknown, ops: readonly RegistryOp[], arg: string): Problem[] {
  try {
    return orderProblems(describeFailure(error, ops, arg));
  } catch {
    // Describing the error threw (a hostile value in it): its message alone, which cannot throw.
    return [problemOf(describeError(error), codeOf(error))];
  }
}

function describeFailure(error: unknown, ops: readonly RegistryOp[], arg: string): Problem[] {
  if (isNotRunning(error)) {
    const dir = (error as KindlingError).details['stateDir'];
    const message = `no running app at ${escapeInvisible(shownPath(String(dir)))}; start it with \`kindling run ${escapeInvisible(arg)}\` (or give the --state-dir it runs with)`;
    return [problemOf(message, 'UNAVAILABLE')];
  }
  if (error instanceof ManifestError || error instanceof RegistryYamlError) {
    return error.problems.map((p) => problemOf(p.message, error.code, p));
  }
  return describeRefusal(error, ops).problems;
}

function headline(error: unknown, count: number): string {
  if (error instanceof ManifestError) return `the boot manifest has ${count} problems`;
  if (error instanceof RegistryYamlError) return `invalid registry YAML (${count} problems)`;
  return `refused with ${count} problems`;
}

function codeOf(error: unknown): string {
  return KindlingError.is(error) ? error.code : 'INTERNAL';
}

/** A message for the terminal: escaped, its own lines kept and indented under the first. */
function indent(text: string): string {
  return escapeLines(text).replace(/\n/g, '\n  ');
}

function relativePosition(at: string): string {
  const rel = relative(process.cwd(), at);
  return rel.startsWith('..') ? at : rel;
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  const [size, unit] =
    n < 1024 ** 2 ? [n / 1024, 'KiB'] : n < 1024 ** 3 ? [n / 1024 ** 2, 'MiB'] : [n / 1024 ** 3, 'GiB'];
  return `${size.toFixed(1)} ${unit}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return n === 1 ? one : many;
}
