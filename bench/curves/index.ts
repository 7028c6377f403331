// Growth curves of paths beyond the registry, boot planning and the bus core: each area's paths in
// its own file, run by bench/cases/curves.ts after the others.
import type { Path } from '../curve-kit.js';
import { CHANNEL_PATHS } from './channels.js';
import { CONFIG_PATHS } from './config.js';
import { EVENTS_PATHS } from './events.js';
import { REGISTRY_PATHS } from './registry.js';

export const EXTRA_PATHS: readonly Path[] = [...EVENTS_PATHS, ...CHANNEL_PATHS, ...REGISTRY_PATHS, ...CONFIG_PATHS];
