/** Names of the events the boot loader emits, Moleculer style (`$`-prefixed, internal). */
export const BootEventName = {
  /** A component's `load` finished. */
  componentLoaded: '$boot.component_loaded',
  /** A component's `start` finished. */
  componentStarted: '$boot.component_started',
  /** A component's `stop` finished. */
  componentStopped: '$boot.component_stopped',
  /** A component's `load`, `start` or `stop` failed or timed out. */
  componentFailed: '$boot.component_failed',
  /** Every component loaded. */
  loaded: '$boot.loaded',
  /** Every component started: the application is up. */
  started: '$boot.started',
  /** Shutdown began. */
  stopping: '$boot.stopping',
  /** Shutdown finished (possibly with stop failures, listed in the event). */
  stopped: '$boot.stopped',
} as const;

/** One of the names in {@link BootEventName}. */
export type BootEventName = (typeof BootEventName)[keyof typeof BootEventName];

/** An event of the boot loader. */
export interface BootEvent {
  readonly name: BootEventName;
  /** The component concerned, for `$boot.component_*` events. */
  readonly component?: string;
  /** The lifecycle step, for `$boot.component_failed`. */
  readonly phase?: 'load' | 'start' | 'stop';
  /** How long the step took, in milliseconds. */
  readonly durationMs?: number;
  /** The failure, for `$boot.component_failed`. */
  readonly error?: unknown;
  /** Why shutdown began (`'signal:SIGINT'`, `'shutdown'`, `'load failed'`...). */
  readonly reason?: string;
  /** Names of the components that failed to stop, for `$boot.stopped`. */
  readonly failures?: readonly string[];
}
